"""End to end: scripts/dmc.sh trains, logs to TensorBoard, resumes, and rejects bad input."""

import fcntl
import json

import pytest
from conftest import assert_rejected, read_scalars, resolve, run_launcher

from vsg.rundir import read_config, read_done, read_history

pytestmark = pytest.mark.slow  # launcher subprocesses; the fast checks are in test_train.py


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
    assert "replay: up to 150 steps in RAM" in result.stdout  # 300 frames, repeat 2
    assert "fast_render=auto -> on" in result.stdout  # llvmpipe: the decision is announced
    assert not (run_dir / "run.lock").exists()  # removed on a clean exit
    # The console: one plain line per phase state (stdout is a pipe), in env frames, and none
    # of TensorFlow's start-up messages.
    assert "\r" not in result.stdout
    assert "prefill done: 200 env frames (100 decisions)" in result.stdout
    assert "pretrain 1/1 updates (100%)" in result.stdout
    assert "train 300/300 frames (100%)" in result.stdout
    assert "cuInit" not in result.stderr and "absl" not in result.stderr, result.stderr
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
    (history,) = read_history(run_dir)
    assert history["start"] == 0 and history["changes"] == {}
    assert history["command"].startswith("python -m vsg.train --configs defaults dmc dreamerv2")


def test_rerun_resumes_at_the_saved_step(first_run):
    cwd, args, run_dir, _ = first_run
    result = launch([*args, "--steps", "400"], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from checkpoint at env frame 300" in result.stdout
    assert "pretrain" not in result.stdout  # The update counter was restored too.
    records = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    steps = [record["step"] for record in records if "eval/return" not in record]
    assert steps == sorted(steps) and steps[-1] == 400 and 300 in steps
    evaluations = [record["step"] for record in records if "eval/return" in record]
    assert evaluations == [200, 400]  # at the frame of the evaluated policy
    assert read_config(run_dir)["steps"] == 300  # the config the run was created with
    assert read_history(run_dir)[-1]["changes"] == {"probe_every": [2, 0], "steps": [300, 400]}
    assert read_history(run_dir)[-1]["start"] == 300


def test_a_resume_that_changes_the_model_exits_2_naming_the_keys_untouched(first_run):
    cwd, args, run_dir, _ = first_run
    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
    result = launch([*args, "--steps", "500", "--dyn_stoch", "8", "--batch_length", "6"], cwd)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "dyn_stoch 4 -> 8" in line and "batch_length 8 -> 6" in line
    assert "steps" not in line.replace("_steps", "")
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


def test_a_second_process_on_a_busy_run_directory_exits_2_untouched(first_run):
    cwd, args, run_dir, _ = first_run
    with open(run_dir / "run.lock", "a") as held:  # as a running trainer holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
        result = launch([*args, "--steps", "500"], cwd)
    assert result.returncode == 2
    assert "in use by another training process" in result.stderr
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


def test_same_seed_gives_the_same_numbers(first_run, tmp_path):
    _, _, run_dir, _ = first_run
    train_300_steps(tmp_path)
    twin = records_up_to(tmp_path / RUN, 300)
    assert len(twin) >= 3 and "model/loss" in twin[-2] and "eval/return" in twin[-1]
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
    "bad fast_render": ["walker_walk", "DreamerV2", "x", "0.4", "200", "1", "--fast_render", "x"],
}


BAD_ARGS.update(
    {
        "zero prior": ["walker_walk", "VSG", "x", "0", "200", "1"],
        "zero prior as 0.0": ["walker_walk", "VSG", "x", "0.0", "200", "1"],
        "prior one": ["walker_walk", "VSG", "x", "1", "200", "1"],
        "zero prior override": ["walker_walk", "VSG", "x", "0.4", "200", "1"]
        + ["--dyn_gate_prior", "0"],
        "read-only logdir": ["walker_walk", "VSG", "x", "0.4", "200", "1"]
        + ["--logdir", "/sys/vsg-logs"],
        "logdir inside a file": ["walker_walk", "VSG", "x", "0.4", "200", "1"]
        + ["--logdir", "/dev/null/logs"],
        "no prefill": ["walker_walk", "VSG", "x", "0.4", "200", "1", "--prefill", "0"],
        "no envs": ["walker_walk", "VSG", "x", "0.4", "200", "1", "--envs", "0"],
        "episodes shorter than a batch": ["walker_walk", "VSG", "x", "0.4", "200", "1"]
        + ["--time_limit", "40", "--batch_length", "50"],
    }
)


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_input_exits_2_and_creates_nothing(case, tmp_path):
    assert_rejected("dmc.sh", BAD_ARGS[case], tmp_path)


@pytest.mark.parametrize(
    "backend, fragment", [("glfw", "glfw needs a display"), ("vulkan", "'vulkan' cannot render")]
)
def test_a_gl_backend_that_cannot_render_headless_exits_2_naming_it(backend, fragment, tmp_path):
    args = ["cartpole_balance", "DreamerV2", "x", "0.4", "16", "0", "--configs", "tiny"]
    environ = {"MUJOCO_GL": backend, "DISPLAY": None, "WAYLAND_DISPLAY": None}
    assert fragment in assert_rejected("dmc.sh", args, tmp_path, env=environ)


def test_precedence_defaults_launcher_presets_yours_positional_flags(tmp_path):
    """defaults < the launcher's presets < your --configs < positional arguments < your flags."""
    args = ["cartpole_balance", "VSG", "x", "0.3", "32", "5"]
    _, launcher_only = resolve("dmc.sh", args, tmp_path)
    assert launcher_only["steps"] == 500005 and launcher_only["logdir"] == "logs/dmc"
    assert launcher_only["reward_scale"] == 2.0  # the dmc preset over the defaults
    _, with_tiny = resolve("dmc.sh", [*args, "--configs", "tiny"], tmp_path)
    assert with_tiny["steps"] == 400 and with_tiny["prefill"] == 100  # your preset wins...
    assert with_tiny["dyn_deter"] == 32 and with_tiny["dyn_gate_prior"] == 0.3  # ...not over DIM
    assert with_tiny["seed"] == 5 and with_tiny["task"] == "dmc_cartpole_balance"
    flags = ["--configs", "tiny", "--steps", "1000", "--dyn_deter", "8", "--seed", "9"]
    run_dir, with_flags = resolve("dmc.sh", [*args, *flags], tmp_path)
    assert with_flags["steps"] == 1000 and with_flags["dyn_deter"] == 8  # your flags win
    assert with_flags["dyn_hidden"] == 32 and with_flags["seed"] == 9
    assert run_dir == "logs/dmc/dmc_cartpole_balance/VSG_prior0.3_x/seed9"
    assert list(tmp_path.iterdir()) == []


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
