"""End to end: scripts/dmc.sh trains, logs to TensorBoard, resumes, and rejects bad input."""

import fcntl
import json

import pytest
from conftest import assert_rejected, read_scalars, run_launcher

from vsg.rundir import read_done


def launch(args, cwd, timeout=600):
    return run_launcher("dmc.sh", args, cwd, timeout)


ARGS = ["cartpole_balance", "DreamerV2", "test", "0.4", "16", "0", "--configs", "tiny"]
RUN = "logs/dmc/dmc_cartpole_balance/DreamerV2_test/seed0"


def train_300_steps(cwd):
    result = launch([*ARGS, "--steps", "300", "--probe_every", "2"], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def records_up_to(run_dir, step):
    """metrics.jsonl records up to `step`, without wall-clock timings."""
    records = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    timing = ("perf/", "fps", "probe/seconds")
    return [
        {k: v for k, v in record.items() if not k.startswith(timing)}
        for record in records
        if record["step"] <= step
    ]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("dmc")
    result = train_300_steps(cwd)
    return cwd, ARGS, cwd / RUN, result


def test_training_writes_tensorboard_metrics_and_episodes(first_run):
    _, _, run_dir, result = first_run
    assert "MUJOCO_GL=" in result.stdout  # The chosen GL back-end is announced.
    tags = read_scalars(run_dir)
    for tag in ["model/loss", "model/image_loss", "model/kl", "actor/loss", "value/loss"]:
        assert tag in tags and all(abs(v) < 1e9 for v in tags[tag]), tag
    assert "train/return" in tags and "eval/return" in tags
    assert any(tag.startswith("probe/") for tag in tags)  # --probe_every logs a cheap probe
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


def test_a_second_process_on_a_busy_run_directory_exits_2_untouched(first_run):
    cwd, args, run_dir, _ = first_run
    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
    with open(run_dir / "run.lock", "a") as held:  # as a running trainer holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = launch([*args, "--steps", "500"], cwd)
    assert result.returncode == 2
    assert "in use by another training process" in result.stderr
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


def test_same_seed_gives_the_same_numbers(first_run, tmp_path):
    _, _, run_dir, _ = first_run
    train_300_steps(tmp_path)
    twin = records_up_to(tmp_path / RUN, 300)
    assert len(twin) >= 3 and "model/loss" in twin[-1]
    assert twin == records_up_to(run_dir, 300)


def test_a_finished_run_is_marked_done_and_not_run_again(first_run):
    cwd, args, run_dir, _ = first_run
    assert read_done(run_dir)["step"] >= 300  # done.json, written when the budget was reached
    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
    result = launch([*args, "--steps", "300"], cwd)
    assert result.returncode == 0 and "nothing to do" in result.stdout, result.stderr
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


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
    assert_rejected("dmc.sh", BAD_ARGS[case], tmp_path)


# model -> (run id, config values the launcher must produce for DIM 64, prior 0.3)
MODELS = {
    "DreamerV1": ("DreamerV1_b", {"dyn_discrete": 0, "dyn_cell": "gru_layer_norm"}),
    "DreamerV2": ("DreamerV2_b", {"dyn_discrete": 32, "dyn_cell": "gru_layer_norm"}),
    "VSG": (
        "VSG_prior0.3_b",
        {"dyn_cell": "sgru", "dyn_discrete": 32, "dyn_gate_scale": 0.1, "dyn_gate_prior": 0.3},
    ),
    "SVSG": (
        "SVSG_prior0.3_b",
        {
            "model_type": "srssm",
            "dyn_cell": "sgru",
            "dyn_discrete": 0,
            "dyn_stoch": 64,
            "dyn_kl_mask": True,
            "dyn_gate_scale": 0.1,
            "dyn_gate_prior": 0.3,
        },
    ),
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_launcher_maps_each_model_to_its_config_and_run_id(model, tmp_path):
    result = launch(["walker_walk", model, "b", "0.3", "64", "2", "--dry_run"], tmp_path)
    assert result.returncode == 0, result.stderr
    run_line, config_line = result.stdout.strip().splitlines()[-2:]
    run_id, expected = MODELS[model]
    assert run_line == f"run directory: logs/dmc/dmc_walker_walk/{run_id}/seed2"
    config = json.loads(config_line)
    assert config["dyn_hidden"] == 64 and config["steps"] == 500005 and config["seed"] == 2
    if model != "SVSG":
        assert config["dyn_deter"] == 64 and config["model_type"] == "rssm"
    assert {key: config[key] for key in expected} == expected
    assert list(tmp_path.iterdir()) == []
