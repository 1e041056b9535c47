"""The run-directory API: saved config, resume checks, history, checkpoint frame, seeds."""

import json

import pytest

from vsg.config import Config, load_config
from vsg.rundir import (
    SCHEDULE_KEYS,
    RunDirError,
    check_resume,
    checkpoint_step,
    config_changes,
    eval_env_seed,
    eval_policy_seed,
    probe_env_seed,
    read_config,
    read_curve,
    read_history,
    run_directory,
    start_invocation,
    train_env_seeds,
)


def tiny(*args):
    return load_config(["--configs", "dmc", "dreamerv2", "tiny", *args])


def test_a_new_run_saves_its_config_and_history_and_a_resume_keeps_the_original(tmp_path):
    start_invocation(tmp_path, tiny(), "python -m vsg.train first", 0)
    assert read_config(tmp_path) == tiny()
    start_invocation(tmp_path, tiny("--steps", "900", "--log_every", "50"), "second", 400)
    assert read_config(tmp_path).steps == 400  # the original config.yaml is kept
    first, second = read_history(tmp_path)
    assert first["command"] == "python -m vsg.train first" and first["changes"] == {}
    assert second["start"] == 400 and second["command"] == "second"
    assert second["changes"] == {"log_every": [100, 50], "steps": [400, 900]}


@pytest.mark.parametrize(
    "args, keys",
    [
        (["--dyn_deter", "8"], ["dyn_deter"]),
        (["--batch_length", "6", "--cnn_depth", "8"], ["batch_length", "cnn_depth"]),
        (["--fast_render", "false", "--steps", "800"], ["fast_render"]),
        (["--max_objects", "3"], ["max_objects"]),  # an env option of the same run label
    ],
)
def test_a_resume_that_changes_the_model_data_or_env_names_the_keys(tmp_path, args, keys):
    start_invocation(tmp_path, tiny(), "first", 0)
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(RunDirError) as info:
        check_resume(tmp_path, tiny(*args))
    message = str(info.value)
    assert all(key in message for key in keys) and "\n" not in message
    assert "steps" not in message.replace("_steps", "")  # schedule keys are not blocked
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_schedule_keys_may_change_and_every_other_key_is_checked():
    defaults = load_config([])
    assert SCHEDULE_KEYS < set(defaults)
    assert {"steps", "eval_every", "train_every", "envs"} <= SCHEDULE_KEYS
    assert not {"dyn_deter", "batch_size", "action_repeat", "time_limit", "seed"} & SCHEDULE_KEYS
    assert config_changes(defaults, Config({**defaults, "size": (64, 64)})) == {}
    older = {key: value for key, value in defaults.items() if key != "envs"}  # before the key
    assert config_changes(older, defaults) == {}
    assert config_changes(older, Config({**defaults, "envs": 2})) == {"envs": (1, 2)}


def test_seeds_keep_one_env_runs_as_they_were_and_never_collide():
    config = tiny("--seed", "5", "--envs", "4")
    seeds = train_env_seeds(config, start=300)
    assert seeds[0] == 305 and len(set(seeds)) == 4
    assert train_env_seeds(tiny("--seed", "5"), 300) == [305]
    assert eval_env_seed(config, 300) == 5 + 10**6 + 300
    assert probe_env_seed(config, 2) == 5 + 2 * 10**6 + 2
    assert eval_policy_seed(config, 200) != eval_policy_seed(config, 400)
    assert eval_policy_seed(config, 200) == eval_policy_seed(tiny("--seed", "5"), 200)


def test_checkpoint_step_reads_meta_json_without_tensorflow(tmp_path):
    assert checkpoint_step(tmp_path) is None
    (tmp_path / "checkpoint.old").mkdir()  # a save cut short between its renames
    (tmp_path / "checkpoint.old" / "meta.json").write_text(json.dumps({"step": 700}))
    assert checkpoint_step(tmp_path) == 700
    (tmp_path / "checkpoint").mkdir()  # written before meta.json existed
    assert checkpoint_step(tmp_path) == -1


def test_run_directory_and_curves(tmp_path):
    config = tiny("--logdir", str(tmp_path), "--id", "x", "--seed", "2")
    assert run_directory(config) == tmp_path / "dmc_walker_walk" / "x" / "seed2"
    records = [{"step": 200, "eval/return": 2.0}, {"step": 100, "eval/return": 1.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    steps, values = read_curve(tmp_path, "eval/return")  # sorted by step
    assert steps.tolist() == [100, 200] and values.tolist() == [1.0, 2.0]
