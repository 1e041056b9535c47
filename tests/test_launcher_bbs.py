"""scripts/bringbackshapes.sh: every env argument reaches the config, a tiny run trains,
and bad input exits 2 before anything is created."""

import pytest
from conftest import assert_rejected, read_scalars, resolve, run_launcher

pytestmark = pytest.mark.slow  # launcher subprocesses

BASIC = ["sparse", "3000", "0", "5", "False", "False", "False", "125", "1.0", "0.4", "1"]


def launch(args, cwd, timeout=600):
    return run_launcher("bringbackshapes.sh", args, cwd, timeout)


def dry_run(args, cwd):
    return resolve("bringbackshapes.sh", args, cwd)


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
    "zero objects": ["VSG", "x", *BASIC[:3], "0", *BASIC[4:]],
    "zero objects override": ["VSG", "x", *BASIC, "--max_objects", "0"],
    "zero view": ["VSG", "x", *BASIC[:7], "0", *BASIC[8:]],
    "zero view override": ["VSG", "x", *BASIC, "--agent_view_size", "0"],
    "view larger than the arena": ["VSG", "x", *BASIC[:7], "400", *BASIC[8:]],
    "zero prior": ["VSG", "x", *BASIC[:9], "0", "1"],
    "logdir inside a file": ["VSG", "x", *BASIC, "--logdir", "/dev/null/logs"],
    "episodes shorter than a batch": ["VSG", "x", "sparse", "20", *BASIC[2:], "--configs", "tiny"],
    "no time limit": ["VSG", "x", "sparse", "0", *BASIC[2:]],
}


def test_precedence_your_preset_beats_the_launchers_but_not_the_positional_arguments(tmp_path):
    _, config = dry_run(["VSG", "x", *BASIC, "--configs", "tiny"], tmp_path)
    assert config["steps"] == 400 and config["batch_size"] == 2  # tiny over bringbackshapes
    assert config["time_limit"] == 3000 and config["max_objects"] == 5  # TL, OBJS over tiny
    _, config = dry_run(["VSG", "x", *BASIC, "--configs", "tiny", "--time_limit", "80"], tmp_path)
    assert config["time_limit"] == 80 and config["logdir"] == "logs/bbs"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_and_creates_nothing(case, tmp_path):
    assert_rejected("bringbackshapes.sh", BAD[case], tmp_path)
