"""Shared test helpers: running a launcher script and reading TensorBoard scalars back."""

import json
import os
import pathlib
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

ROOT = pathlib.Path(__file__).resolve().parent.parent


def launcher_env(extra=None):
    """The environment launchers run in: this interpreter, plus `extra` variables."""
    return {**os.environ, "PYTHON": sys.executable, **(extra or {})}


def run_launcher(script, args, cwd, timeout=600, env=None):
    """Runs `bash scripts/<script> ARGS` in `cwd` with this interpreter; returns the result.

    `env` adds (or, with None values, removes) environment variables.
    """
    env = {k: v for k, v in launcher_env(env).items() if v is not None}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_rejected(script, args, cwd, env=None):
    """The launcher exits 2 with a one-line error last on stderr and creates nothing in `cwd`."""
    result = run_launcher(script, args, cwd, timeout=120, env=env)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert list(cwd.iterdir()) == []
    return result.stderr


def resolve(script, args, cwd):
    """(run directory, resolved config) that `bash scripts/<script> ARGS --dry_run` prints."""
    result = run_launcher(script, [*args, "--dry_run"], cwd)
    assert result.returncode == 0, result.stderr
    run_line, config_line = result.stdout.strip().splitlines()[-2:]
    return run_line.removeprefix("run directory: "), json.loads(config_line)


def read_scalars(run_dir):
    """{tag: [values]} of the TF2 scalar summaries (stored as tensors) in `run_dir`."""
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    values = {
        tag: [make_ndarray(event.tensor_proto) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }
    return {tag: [float(v) for v in vs] for tag, vs in values.items() if vs[0].shape == ()}
