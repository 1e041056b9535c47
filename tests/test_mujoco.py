"""Runs the tests of tests/mujoco, which load MuJoCo's GL libraries in the test process, in a
pytest process of their own per module (see tests/conftest.py)."""

import subprocess
import sys

import pytest
from conftest import MUJOCO_TESTS, ROOT

MODULES = sorted(path.name for path in MUJOCO_TESTS.glob("test_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_mujoco_module_passes_in_its_own_process(module):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"]
    result = subprocess.run(
        [*command, str(MUJOCO_TESTS / module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
