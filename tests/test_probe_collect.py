"""The probe collects episodes with training's episode driver, on an env in its own process
(BringBackShapes here: pymunk, no OpenGL), and renders MuJoCo next to TensorFlow only when
`vsg.probe` was imported first."""

import subprocess
import sys

import numpy as np
import tensorflow as tf

import envs
from vsg.agent import Agent
from vsg.config import load_config
from vsg.probe.model import EPISODE_KEYS, collect_episodes

TASK = "bringbackshapes_sparse"


def test_collect_episodes_runs_the_policy_through_the_driver_and_cuts_at_max_steps():
    config = load_config(["--configs", "bringbackshapes", "tiny", "--task", TASK])
    env = envs.make(TASK, 3, config)
    tf.random.set_seed(0)
    agent = Agent(config, env.action_size)
    try:
        episodes = collect_episodes(agent, env, n=2, max_steps=5)
    finally:
        env.close()
    assert len(episodes) == 2
    for episode in episodes:
        assert set(episode) == set(EPISODE_KEYS) - {"sim_state", "ctrl"}  # no MuJoCo physics
        assert episode["image"].shape == (6, 64, 64, 3) and episode["image"].dtype == np.uint8
        assert episode["action"].shape == (6, env.action_size)
        np.testing.assert_array_equal(episode["action"][0], 0.0)  # the reset's zero action
        assert np.abs(episode["action"][1:]).max() > 0.0
        assert episode["is_first"].tolist() == [True] + [False] * 5
        assert episode["is_last"].tolist() == [False] * 5 + [True]
    assert not np.array_equal(episodes[0]["image"], episodes[1]["image"])


def _render_safe_after(imports):
    code = f"{imports}; from vsg.probe import render_safe; print(render_safe())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.split()[-1]


def test_rendering_is_safe_only_when_vsg_probe_is_imported_before_tensorflow():
    assert _render_safe_after("import vsg.probe, tensorflow") == "True"
    assert _render_safe_after("import tensorflow, vsg.probe") == "False"
    assert _render_safe_after("import vsg.train, vsg.models, envs") == "True"  # no TensorFlow
