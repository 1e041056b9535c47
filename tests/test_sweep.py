"""vsg.sweep on real Ray with real tiny runs: a local sweep, a two-node cluster that loses a
run's process and then its node, and bad specs rejected before anything starts."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from vsg.rundir import read_done, read_metrics

TINY = {
    "launcher": "dmc",
    "args": {
        "task": ["cartpole_balance", "pendulum_swingup"],
        "model": ["DreamerV2", "VSG"],
        "suffix": "t",
        "gate_prior": 0.4,
        "dim": 16,
    },
    "flags": {"configs": "tiny", "steps": 200},
    "seeds": [0, 1],
    "resources": {"cpus": 1},
    "max_concurrent": 2,
    "max_retries": 1,
}


def write_spec(folder, spec, name="grid"):
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def sweep_env():
    return {
        **os.environ,
        "PYTHON": sys.executable,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def run_sweep(spec_path, cwd, *extra, timeout=1800):
    return subprocess.run(
        [sys.executable, "-m", "vsg.sweep", str(spec_path), *extra],
        cwd=cwd,
        env=sweep_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_dirs(cwd):
    return sorted((cwd / "logs" / "dmc").glob("*/*/seed*"))


@pytest.mark.slow
def test_a_local_sweep_completes_and_a_rerun_does_nothing(tmp_path):
    spec = write_spec(tmp_path, TINY)
    result = run_sweep(spec, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 8
    for run_dir in dirs:
        assert read_done(run_dir) == {"step": 200, "steps": 200}, run_dir
        assert read_metrics(run_dir)[-1]["step"] == 200
    config = tmp_path / "logs/dmc/dmc_pendulum_swingup/VSG_prior0.4_t/seed1/config.yaml"
    assert "dyn_cell: sgru" in config.read_text() and "dyn_deter: 16" in config.read_text()
    status = json.loads((tmp_path / "logs/sweeps/grid/status.json").read_text())
    assert status["counts"] == {"done": 8} and status["frames"] == 8 * 200
    log = tmp_path / "logs/sweeps/grid/runs/task=cartpole_balance_model=VSG_seed=0.log"
    assert "done in" in log.read_text()
    # The same command again: every run is complete, so nothing starts (not even Ray).
    before = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")}
    again = run_sweep(spec, tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")} == before


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)


def attempts(tmp_path):
    path = tmp_path / "logs/sweeps/one/runs/seed=0.json"
    return json.loads(path.read_text()) if path.exists() else []


@pytest.mark.slow
def test_a_run_survives_a_killed_process_and_a_lost_node(tmp_path, monkeypatch):
    """Two worker nodes of one CPU each; the run's process is SIGKILLed, then its node is
    removed: each time Ray retries the task and the launcher resumes from the checkpoint."""
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # as the sweep's own local instance
    from ray.cluster_utils import Cluster  # Ray reads RAY_AUTH_MODE when imported

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    spec = {**TINY, "args": {**TINY["args"], "task": "cartpole_balance", "model": "DreamerV2"}}
    spec.update(seeds=[0], max_retries=3, flags={"configs": "tiny", "steps": 1400})
    sweep = subprocess.Popen(
        [sys.executable, "-m", "vsg.sweep", str(write_spec(tmp_path, spec, "one"))]
        + ["--address", cluster.address],
        cwd=tmp_path,
        env=sweep_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run_dir = tmp_path / "logs/dmc/dmc_cartpole_balance/DreamerV2_t/seed0"
    try:

        def checkpointed_beyond(step):
            records = read_metrics(run_dir)
            return (
                records
                and max(r["step"] for r in records) >= step
                and (run_dir / "checkpoint").exists()
            )

        wait_for(lambda: checkpointed_beyond(400), 900, "the first checkpoint")
        os.kill(attempts(tmp_path)[0]["pid"], signal.SIGKILL)
        wait_for(lambda: len(attempts(tmp_path)) == 2, 300, "a second attempt")
        wait_for(lambda: checkpointed_beyond(800), 900, "progress after the retry")
        episodes = sorted(path.name for path in (run_dir / "train_eps").glob("*.npz"))
        second = attempts(tmp_path)[1]
        node = next(n for n in nodes if n.node_id == second["node"])
        cluster.remove_node(node)  # its worker and the run's process die with it
        output, _ = sweep.communicate(timeout=1200)
    finally:
        if sweep.poll() is None:
            sweep.kill()
        cluster.shutdown()
    assert sweep.returncode == 0, output[-4000:]
    tries = attempts(tmp_path)
    assert len(tries) == 3 and tries[0]["exit"] == -signal.SIGKILL and "exit" not in tries[1]
    assert tries[2]["node"] != second["node"] and tries[2]["exit"] == 0
    assert read_done(run_dir) == {"step": 1400, "steps": 1400}
    log = (tmp_path / "logs/sweeps/one/runs/seed=0.log").read_text()
    assert log.count("resumed from checkpoint at env frame") == 2
    # Training records and evaluations (logged at their policy's frame once they end) are each
    # in order across the resumes (the first update and the end of pretraining share a frame).
    records = read_metrics(run_dir)
    for evaluation in (False, True):
        steps = [r["step"] for r in records if ("eval/return" in r) == evaluation]
        assert steps == sorted(steps), steps
    assert max(r["step"] for r in records) == 1400
    after = {path.name for path in (run_dir / "train_eps").glob("*.npz")}
    assert set(episodes) <= after  # no stored episode lost


BAD_SPECS = {
    "unknown key": ({**TINY, "max_retry": 2}, "unknown key(s) ['max_retry']"),
    "unknown launcher": ({**TINY, "launcher": "atari"}, "launcher: expected one of"),
    "missing argument": (
        {**TINY, "args": {k: v for k, v in TINY["args"].items() if k != "dim"}},
        "missing ['dim']",
    ),
    "negative retries": ({**TINY, "max_retries": -1}, "max_retries: must be >= 0"),
    "zero cpus": ({**TINY, "resources": {"cpus": 0}}, "resources.cpus: must be > 0"),
    "bad model in one cell": (
        {**TINY, "args": {**TINY["args"], "model": ["DreamerV2", "Dreamer4"]}},
        "unknown MODEL 'Dreamer4'",
    ),
    "bad flag value": ({**TINY, "flags": {"steps": [200, "many"]}}, "--steps: expected an"),
    "unknown task": ({**TINY, "args": {**TINY["args"], "task": "walker_fly"}}, "walker_fly"),
    "seed as a flag": ({**TINY, "flags": {"seed": 3}}, "flags.seed: give the seeds as"),
    "shared run directory": (
        {**TINY, "flags": {"configs": "tiny", "steps": [200, 300]}},
        "share",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_a_bad_spec_exits_2_naming_it_and_starts_nothing(tmp_path, case):
    spec, message = BAD_SPECS[case]
    path = write_spec(tmp_path, spec)
    result = run_sweep(path, tmp_path, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error:") and message in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("name, runs", [("cpu_demo", 4), ("bbs_paper", 240), ("dmc_paper", 240)])
def test_dry_run_lists_every_run_and_creates_nothing(tmp_path, name, runs):
    result = run_sweep(ROOT / "configs" / "sweeps" / f"{name}.yaml", tmp_path, "--dry_run")
    assert result.returncode == 0, result.stderr
    assert f"{runs} runs ({runs} to run)" in result.stdout
    assert result.stdout.count("[to run]") == runs
    assert list(tmp_path.iterdir()) == []
    if name == "cpu_demo":
        assert "scripts/dmc.sh walker_stand VSG cpu 0.4 100 2 --configs cpu --steps 30000" in (
            result.stdout
        )
