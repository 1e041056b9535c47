"""Shared test helpers (running a launcher script, reading TensorBoard scalars back), the
checkout every subprocess imports, and the rule that keeps the pytest process safe for
TensorFlow.

MuJoCo's OpenGL libraries and TensorFlow 2.21 crash in one process, in any order. So the tests
that render or load dm_control in the test process live in tests/mujoco/, which the suite runs
one module per pytest process (tests/test_mujoco.py; by hand: `pytest -n 0 tests/mujoco/X.py`);
every other test renders through env worker processes. A test that leaves a GL library loaded
in this process fails its teardown, naming it, instead of crashing a later test.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

from vsg.quiet import use_onednn

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Subprocesses (launchers, sweeps and their Ray workers, fresh interpreters) import the code of
# this checkout, whatever the virtualenv has installed (`pip install -e` of another checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
# The oneDNN CPU kernels that training turns on (`vsg.quiet.use_onednn`), for TensorFlow in this
# process too, so that the tests run the kernels users run.
use_onednn()
MUJOCO_TESTS = pathlib.Path(__file__).resolve().parent / "mujoco"
collect_ignore = ["mujoco"]  # unless named explicitly: `pytest -n 0 tests/mujoco/<module>`
GL_LIBRARIES = ("libEGL", "libGLX", "libGL.so", "libOpenGL", "libOSMesa", "libGLdispatch")
# The longest test files (minutes each on 2 cores), longest first. `--dist loadfile` hands files
# to the workers in collection order, so these start at once and the two workers finish
# together instead of one running the README's commands alone at the end.
LONGEST_FILES = ("test_readme.py", "test_sweep.py", "test_mujoco.py", "test_interrupts.py")


def _in_mujoco_tests(item):
    return MUJOCO_TESTS in pathlib.Path(item.path).resolve().parents


def _schedule_rank(item):
    name = pathlib.Path(item.path).name
    return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)


def pytest_collection_modifyitems(config, items):
    """tests/mujoco run alone: next to TensorFlow tests, their GL libraries crash the process.
    The longest files are collected first (`LONGEST_FILES`); the rest keep their order."""
    mujoco = sum(map(_in_mujoco_tests, items))
    if 0 < mujoco < len(items):
        raise pytest.UsageError(
            "tests/mujoco load MuJoCo's GL libraries into the test process and must run in a "
            "pytest process of their own, one module each (pytest -n 0 tests/mujoco/X.py); the "
            "suite does so itself"
        )
    items.sort(key=_schedule_rank)  # stable: the order within a file is kept


def loaded_gl_libraries():
    """The OpenGL libraries mapped into this process (from /proc/self/maps; [] elsewhere)."""
    try:
        maps = pathlib.Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "/" in line}
    return sorted(path for path in paths if any(name in path for name in GL_LIBRARIES))


def pytest_runtest_teardown(item):
    if not _in_mujoco_tests(item):
        libraries = loaded_gl_libraries()
        assert not libraries, (
            f"{item.nodeid} loaded {libraries} into the test process, where TensorFlow runs "
            "too: render through an env worker, or move the test to tests/mujoco"
        )


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
