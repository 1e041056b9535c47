"""Shared test helpers: running a launcher script and reading TensorBoard scalars back."""

import os
import pathlib
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_launcher(script, args, cwd, timeout=600):
    """Runs `bash scripts/<script> ARGS` in `cwd` with this interpreter; returns the result."""
    env = {**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_rejected(script, args, cwd):
    """The launcher exits 2 with an error message and creates nothing in `cwd`."""
    result = run_launcher(script, args, cwd, timeout=120)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "error" in result.stderr.lower()
    assert list(cwd.iterdir()) == []


def read_scalars(run_dir):
    """{tag: [values]} of the TF2 scalar summaries (stored as tensors) in `run_dir`."""
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    values = {
        tag: [make_ndarray(event.tensor_proto) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }
    return {tag: [float(v) for v in vs] for tag, vs in values.items() if vs[0].shape == ()}
