"""scripts/bringbackshapes.sh: every env argument reaches the config, a tiny run trains,
and bad input exits 2 before anything is created."""

import json

import pytest
from conftest import assert_rejected, read_scalars, run_launcher

BASIC = ["sparse", "3000", "0", "5", "False", "False", "False", "125", "1.0", "0.4", "1"]


def launch(args, cwd, timeout=600):
    return run_launcher("bringbackshapes.sh", args, cwd, timeout)


def dry_run(args, cwd):
    result = launch([*args, "--dry_run"], cwd)
    assert result.returncode == 0, result.stderr
    run_line, config_line = result.stdout.strip().splitlines()[-2:]
    return run_line.removeprefix("run directory: "), json.loads(config_line)


def test_every_positional_argument_is_forwarded(tmp_path):
    args = ["VSG", "x", "dense", "2000", "4", "3", "True", "True", "True", "100", "1.6", "0.2", "7"]
    run_dir, config = dry_run(args, tmp_path)
    assert run_dir == "logs/bbs/bringbackshapes_dense_distract4_size1.6/VSG_prior0.2_x/seed7"
    expected = {
        "task": "bringbackshapes_dense",
        "time_limit": 2000,
        "max_distractors": 4,
        "max_objects": 3,
        "variable_num_objects": True,
        "variable_num_distractors": True,
        "variable_goal_position": True,
        "agent_view_size": 100,
        "arena_scale": 1.6,
        "dyn_gate_prior": 0.2,
        "dyn_gate_scale": 0.1,
        "dyn_cell": "sgru",
        "seed": 7,
        "steps": 2503001,
    }
    assert {key: config[key] for key in expected} == expected
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "model, run_id, expected",
    [
        ("DreamerV1", "DreamerV1_b", {"dyn_discrete": 0, "kl_free": 1.0}),
        ("DreamerV2", "DreamerV2_b", {"dyn_discrete": 32, "kl_free": 0.0}),
        ("VSG", "VSG_prior0.4_b", {"dyn_cell": "sgru", "dyn_discrete": 32, "kl_free": 0.0}),
        (
            "SVSG",
            "SVSG_dim1024_prior0.4_b",
            {"model_type": "srssm", "dyn_stoch": 1024, "dyn_kl_mask": True, "kl_free": 1.0},
        ),
    ],
)
def test_models_map_to_the_reference_presets(model, run_id, expected, tmp_path):
    run_dir, config = dry_run([model, "b", *BASIC], tmp_path)
    assert run_dir == f"logs/bbs/bringbackshapes_sparse_distract0_size1.0/{run_id}/seed1"
    assert {key: config[key] for key in expected} == expected
    assert config["dyn_deter"] == 1024 and config["batch_size"] == 16


def test_tiny_training_run_on_bbs(tmp_path):
    args = ["DreamerV2", "t", "sparse", "400", "1", "3", "False", "False", "False", "125", "1.2"]
    result = launch(
        [*args, "0.4", "0", "--configs", "tiny", "--steps", "800", "--prefill", "400"], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "logs/bbs/bringbackshapes_sparse_distract1_size1.2/DreamerV2_t/seed0"
    tags = read_scalars(run_dir)
    assert {"model/loss", "model/discount_loss", "train/return", "eval/return"} <= set(tags)
    assert len(list((run_dir / "train_eps").glob("*-100.npz"))) == 2


BAD = {
    "twelve arguments": ["VSG", "x", *BASIC[:-1]],
    "unknown model": ["PlaNet", "x", *BASIC],
    "unknown env type": ["VSG", "x", "medium", *BASIC[1:]],
    "negative time limit": ["VSG", "x", "sparse", "-5", *BASIC[2:]],
    "fractional distractors": ["VSG", "x", "sparse", "3000", "1.5", *BASIC[3:]],
    "boolean lower case": ["VSG", "x", "sparse", "3000", "0", "5", "false", *BASIC[5:]],
    "zero scale": ["VSG", "x", *BASIC[:8], "0", "0.4", "1"],
    "negative scale": ["VSG", "x", *BASIC[:8], "-1.2", "0.4", "1"],
    "non-numeric prior": ["VSG", "x", *BASIC[:9], "p", "1"],
    "non-numeric seed": ["VSG", "x", *BASIC[:10], "s"],
    "unknown override": ["VSG", "x", *BASIC, "--arena", "2"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_and_creates_nothing(case, tmp_path):
    assert_rejected("bringbackshapes.sh", BAD[case], tmp_path)
