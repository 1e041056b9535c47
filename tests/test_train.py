"""The entry point's checks: bad input, dry runs and resume checks exit before TensorFlow,
dm_control's suite or any env worker is loaded (in a fresh interpreter, to see what it
imported). An unknown DMC task name is confirmed by the suite in a spawned process."""

import json
import os
import subprocess
import sys

import pytest

from vsg.config import load_config, save_config

# Runs vsg.train's main() and prints which heavy modules it imported, whatever the exit.
PROBE = """
import json, sys
import vsg.train
try:
    vsg.train.main(sys.argv[1:])
finally:
    heavy = ("tensorflow", "dm_control.suite", "mujoco", "envs.workers")
    print(json.dumps([m for m in heavy if m in sys.modules]))
"""
TINY = ["--configs", "defaults", "dmc", "dreamerv2", "tiny", "--task", "dmc_cartpole_balance"]


def train(args, cwd):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env={"PYTHONPATH": os.environ["PYTHONPATH"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    return result, imported


BAD = {
    "unknown task": (["--task", "dmc_walker_fly"], "walker_fly"),
    "unknown key": (["--stepz", "4"], "stepz"),
    "no prefill": (["--prefill", "0"], "prefill"),
    "bad jit_compile": (["--jit_compile", "maybe"], "jit_compile must be auto, true or false"),
    "episodes shorter than a batch": (["--time_limit", "10"], "batch_length 8"),
    "bbs without a time limit": (
        ["--task", "bringbackshapes_sparse", "--time_limit", "0"],
        "time_limit 0",
    ),
    "bbs episodes shorter than a batch": (
        ["--task", "bringbackshapes_sparse", "--time_limit", "20", "--action_repeat", "4"],
        "gives 6 (5 decisions",
    ),
    "bbs view larger than the arena": (
        ["--task", "bringbackshapes_sparse", "--agent_view_size", "400"],
        "view side 800",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_naming_it_before_tensorflow_or_any_env(case, tmp_path):
    args, fragment = BAD[case]
    result, imported = train([*TINY, *args], tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and fragment in line, line
    assert imported == [] and list(tmp_path.iterdir()) == []


def test_a_dry_run_prints_the_run_and_creates_nothing(tmp_path):
    result, imported = train([*TINY, "--dry_run"], tmp_path)
    assert result.returncode == 0, result.stderr
    run_line, config_line = result.stdout.strip().splitlines()[:2]
    assert run_line == "run directory: logs/dmc/dmc_cartpole_balance/default/seed0"
    assert json.loads(config_line)["batch_length"] == 8
    assert imported == [] and list(tmp_path.iterdir()) == []


def test_a_changed_model_key_exits_2_before_anything_starts(tmp_path):
    run_dir = tmp_path / "logs/dmc/dmc_cartpole_balance/default/seed0"
    run_dir.mkdir(parents=True)
    save_config(
        load_config(TINY[:-2] + ["--task", "dmc_cartpole_balance"]), run_dir / "config.yaml"
    )
    before = (run_dir / "config.yaml").read_bytes()
    result, imported = train([*TINY, "--steps", "900", "--units", "8"], tmp_path)
    assert result.returncode == 2
    assert "units 16 -> 8" in result.stderr and "steps" not in result.stderr.replace("_steps", "")
    assert imported == [] and [p.name for p in run_dir.iterdir()] == ["config.yaml"]
    assert (run_dir / "config.yaml").read_bytes() == before
    result, _ = train([*TINY, "--steps", "900", "--dry_run"], tmp_path)  # steps may change
    assert result.returncode == 0, result.stderr
