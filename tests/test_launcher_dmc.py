"""End to end: scripts/dmc.sh trains, logs to TensorBoard, resumes, and rejects bad input."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "scripts" / "dmc.sh"


def launch(args, cwd, timeout=600):
    env = {**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        ["bash", str(LAUNCHER), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def scalar_tags(run_dir):
    """{tag: [values]} of the TF2 scalar summaries (stored as tensors) in run_dir."""
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    values = {
        tag: [make_ndarray(e.tensor_proto) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }
    return {tag: [float(v) for v in vs] for tag, vs in values.items() if vs[0].shape == ()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("dmc")
    args = ["cartpole_balance", "DreamerV2", "test", "0.4", "16", "0", "--configs", "tiny"]
    result = launch([*args, "--steps", "300"], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = cwd / "logs/dmc/dmc_cartpole_balance/DreamerV2_test/seed0"
    return cwd, args, run_dir, result


def test_training_writes_tensorboard_metrics_and_episodes(first_run):
    _, _, run_dir, result = first_run
    assert "MUJOCO_GL=" in result.stdout  # The chosen GL back-end is announced.
    tags = scalar_tags(run_dir)
    for tag in ["model/loss", "model/image_loss", "model/kl", "actor/loss", "value/loss"]:
        assert tag in tags and all(abs(v) < 1e9 for v in tags[tag]), tag
    assert "train/return" in tags and "eval/return" in tags
    assert (run_dir / "videos" / "train_openl.gif").exists()
    assert (run_dir / "videos" / "eval_policy.gif").exists()
    assert len(list((run_dir / "train_eps").glob("*-100.npz"))) >= 1
    config = (run_dir / "config.yaml").read_text()
    assert "dyn_deter: 16" in config and "dyn_discrete: 32" in config


def test_rerun_resumes_at_the_saved_step(first_run):
    cwd, args, run_dir, _ = first_run
    result = launch([*args, "--steps", "400"], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from checkpoint at step 300" in result.stdout
    assert "pretraining" not in result.stdout  # The update counter was restored too.
    steps = [json.loads(line)["step"] for line in open(run_dir / "metrics.jsonl")]
    assert steps == sorted(steps) and steps[-1] == 400 and 300 in steps


BAD_ARGS = {
    "no arguments": [],
    "five arguments": ["walker_walk", "DreamerV2", "x", "0.4", "200"],
    "unknown model": ["walker_walk", "Dreamer", "x", "0.4", "200", "1"],
    "non-numeric prior": ["walker_walk", "VSG", "x", "high", "200", "1"],
    "prior above one": ["walker_walk", "VSG", "x", "1.5", "200", "1"],
    "non-numeric dim": ["walker_walk", "VSG", "x", "0.4", "big", "1"],
    "zero dim": ["walker_walk", "VSG", "x", "0.4", "0", "1"],
    "negative seed": ["walker_walk", "VSG", "x", "0.4", "200", "-1"],
    "non-numeric seed": ["walker_walk", "VSG", "x", "0.4", "200", "one"],
    "unknown task": ["walker_fly", "DreamerV2", "x", "0.4", "200", "1"],
    "unknown config key": ["walker_walk", "DreamerV2", "x", "0.4", "200", "1", "--stepz", "5"],
    "mistyped value": ["walker_walk", "DreamerV2", "x", "0.4", "200", "1", "--steps", "many"],
    "unknown preset": ["walker_walk", "DreamerV2", "x", "0.4", "200", "1", "--configs", "huge"],
}


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_input_exits_2_and_creates_nothing(case, tmp_path):
    result = launch(BAD_ARGS[case], tmp_path, timeout=120)
    assert result.returncode == 2, (case, result.stdout, result.stderr)
    assert "error" in result.stderr.lower()
    assert list(tmp_path.iterdir()) == []
