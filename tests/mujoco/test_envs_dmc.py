"""DeepMind Control adapter: real dm_control physics rendering real pixels (no mocks)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import envs
from envs import dmc, gl  # envs.dmc selects the GL back-end before dm_control is imported

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"action_repeat": 2, "time_limit": 0, "size": [64, 64], "camera": -1}


def _make(task="dmc_walker_walk", seed=0, **overrides):
    return envs.make(task, seed, {**CONFIG, **overrides})


def _actions(action_size, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, action_size).astype(np.float32) for _ in range(count)]


def _run_python(code, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def walker():
    env = _make(seed=0)
    yield env
    env.close()


def _check_obs(obs, is_first):
    assert obs["image"].dtype == np.uint8
    assert obs["image"].shape == (64, 64, 3)
    assert isinstance(obs["reward"], np.float32)
    assert obs["is_first"] is is_first
    assert obs["is_last"] is False
    assert obs["is_terminal"] is False
    # Real pixels: a rendered walker on a checker floor has many colours, not a flat frame.
    assert obs["image"].std() > 10
    assert len(np.unique(obs["image"].reshape(-1, 3), axis=0)) > 50


def test_reset_and_step_observations(walker):
    assert walker.action_size == 6
    assert walker.physics is not None
    obs = walker.reset()
    _check_obs(obs, is_first=True)
    assert obs["reward"] == 0
    for action in _actions(walker.action_size, 3):
        after = walker.step(action)
        _check_obs(after, is_first=False)
    assert not np.array_equal(obs["image"], after["image"])


def test_reward_is_summed_over_the_action_repeat():
    env = _make(seed=1, action_repeat=3)
    raw = dmc.suite.load("walker", "walk", task_kwargs={"random": 1})
    env.reset()
    raw.reset()
    action = np.full(env.action_size, 0.3, np.float32)  # the walker's bounds are [-1, 1]
    rewards = [raw.step(action).reward for _ in range(3)]
    obs = env.step(action)
    assert min(rewards) > 0
    assert obs["reward"] == pytest.approx(sum(rewards), rel=1e-5)
    env.close()


def test_time_limit_ends_episode_with_is_last_only():
    env = _make(time_limit=10)  # 10 frames at action repeat 2 = 5 decisions
    env.reset()
    flags = [env.step(a) for a in _actions(env.action_size, 5)]
    assert [o["is_last"] for o in flags] == [False] * 4 + [True]
    assert not any(o["is_terminal"] for o in flags)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(env.action_size, np.float32))
    assert env.reset()["is_first"] is True
    assert env.step(np.zeros(env.action_size, np.float32))["is_last"] is False
    env.close()


def _rollout_images(seed):
    env = _make(seed=seed)
    images = [env.reset()["image"]]
    images += [env.step(a)["image"] for a in _actions(env.action_size, 3)]
    env.close()
    return np.stack(images)


def test_same_seed_same_pixels_different_seed_different_pixels():
    first, again, other = _rollout_images(3), _rollout_images(3), _rollout_images(4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], other[0])


def test_quadruped_actions_and_camera():
    env = _make("dmc_quadruped_walk")
    low, high = env.physics.model.actuator_ctrlrange.T
    assert not np.allclose(low, -1) or not np.allclose(high, 1)  # bounds that are not [-1, 1]
    env.reset()
    for action, expected in [(-1.0, low), (1.0, high), (0.0, (low + high) / 2)]:
        env.step(np.full(env.action_size, action, np.float32))
        np.testing.assert_allclose(env.physics.data.ctrl, expected, atol=1e-6)
    # camera -1 means camera 2 for quadruped: re-render the same state with each camera.
    image = env.step(np.zeros(env.action_size, np.float32))["image"]
    np.testing.assert_array_equal(image, env.physics.render(64, 64, camera_id=2))
    assert not np.array_equal(image, env.physics.render(64, 64, camera_id=0))
    env.close()


def test_fast_render_looks_like_default_render():
    fast, slow = _make(seed=5), _make(seed=5, fast_render=False)
    assert fast.physics.model.vis.quality.shadowsize == 512
    assert slow.physics.model.vis.quality.shadowsize != 512
    fast_image = fast.reset()["image"].astype(np.float32)
    slow_image = slow.reset()["image"].astype(np.float32)
    assert np.abs(fast_image - slow_image).mean() < 3.0  # in 0..255 units; measured ~1
    fast.close()
    slow.close()


@pytest.mark.parametrize(
    "task", ["dmc_walker_fly", "dmc_", "dmc_ball_in_cup", "atari_pong", "bringbackshapes_"]
)
def test_unknown_task_raises_value_error_naming_it(task):
    for call in (lambda: envs.validate_task(task), lambda: envs.make(task, 0, CONFIG)):
        with pytest.raises(ValueError) as info:
            call()
        assert repr(task) in str(info.value)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "task",
    [
        "dmc_ball_in_cup_catch",
        "dmc_point_mass_easy",
        "dmc_cartpole_two_poles",
        "dmc_quadruped_walk",
        "bringbackshapes_sparse",
    ],
)
def test_validate_task_accepts_known_tasks(task):
    envs.validate_task(task)


def test_gl_backend_choice():
    assert gl.choose_backend({"MUJOCO_GL": "osmesa"}) == ("osmesa", True)
    assert gl.choose_backend({}) == (gl.available_backend(), False)


def test_gl_error_names_packages_when_nothing_loads(monkeypatch):
    monkeypatch.setattr(gl, "_EGL_LIBS", (("libdoes-not-exist.so.1",),))
    monkeypatch.setattr(gl, "_osmesa_groups", lambda: (("libdoes-not-exist.so.2",),))
    with pytest.raises(gl.BackendError, match="apt-get install -y libosmesa6"):
        gl.choose_backend({})


@pytest.mark.parametrize(
    "environ, fragment",
    [
        ({"MUJOCO_GL": "glfw"}, "glfw needs a display"),
        ({"MUJOCO_GL": "glfw", "DISPLAY": ""}, "glfw needs a display"),
        ({"MUJOCO_GL": "disabled"}, "'disabled' cannot render"),
        ({"MUJOCO_GL": "vulkan"}, "'vulkan' cannot render"),
    ],
)
def test_user_backend_that_cannot_render_headless_is_an_error_naming_it(environ, fragment):
    with pytest.raises(gl.BackendError, match=fragment) as info:
        gl.choose_backend(environ)
    assert "\n" not in str(info.value)


def test_user_glfw_with_a_display_is_kept():
    assert gl.choose_backend({"MUJOCO_GL": "glfw", "DISPLAY": ":0"}) == ("glfw", True)


def test_user_set_backend_is_kept_and_envs_imports_no_tensorflow():
    backend = gl.available_backend()
    environ = {**os.environ, "MUJOCO_GL": backend}
    result = _run_python(
        """
        import os, sys
        import envs
        from envs import gl
        envs.validate_task("dmc_walker_walk")
        gl.setup()  # what importing envs.dmc does, in an env worker
        print("backend", os.environ["MUJOCO_GL"])
        print("heavy", "tensorflow" in sys.modules, "vsg" in sys.modules)
        """,
        env=environ,
    )
    assert result.returncode == 0, result.stderr
    assert f"MUJOCO_GL={backend} (set by user)" in result.stdout
    assert f"backend {backend}" in result.stdout
    assert "heavy False False" in result.stdout


def test_tensorflow_training_and_rendering_in_one_process_after_vsg_probe():
    # The one path that renders next to TensorFlow is the probe's, and `vsg.probe` arranges it.
    # Without importing it first, this process segfaults (exit 139) at the first render.
    result = _run_python(
        """
        import vsg.probe
        import tensorflow as tf
        import numpy as np
        import envs

        layer = tf.keras.layers.Dense(1)
        optimizer = tf.keras.optimizers.Adam(0.1)
        x = tf.random.stateless_normal([32, 3], seed=[1, 2])
        y = tf.reduce_sum(x, 1, keepdims=True)

        @tf.function
        def train_step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((layer(x) - y) ** 2)
            grads = tape.gradient(loss, layer.trainable_variables)
            optimizer.apply_gradients(zip(grads, layer.trainable_variables))
            return loss

        first = float(train_step())
        env = envs.make("dmc_cartpole_balance", 0, {"action_repeat": 2})
        env.reset()
        image = env.step(np.zeros(1, np.float32))["image"]
        last = [float(train_step()) for _ in range(20)][-1]
        env.close()
        print("result", first, last, float(image.std()))
        """,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(s for s in result.stdout.splitlines() if s.startswith("result"))
    first, last, image_std = (float(v) for v in line.split()[1:])
    assert np.isfinite(first) and last < first
    assert image_std > 10


def test_random_policy_baseline_sums_per_frame_rewards():
    from envs.bench import random_returns

    returns = random_returns("dmc_walker_stand", 2, action_repeat=10)
    # 1000 frames of rewards in [0, 1]; a random walker falls, so it scores well below 1000.
    assert returns.shape == (2,) and np.all((returns > 0) & (returns < 500))
    assert returns[0] != returns[1]  # each episode has its own seed
