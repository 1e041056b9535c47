"""pyproject.toml: the explicit package list covers every package of the repository, and each
console script names a function that exists (`pip install -e .` in scripts/install.sh); the
bash scripts find the interpreter through scripts/python.sh."""

import importlib
import subprocess
import tomllib

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_listed():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("vsg", "envs", "bringbackshapes")
        for init in (ROOT / top).rglob("__init__.py")
    }
    python_dirs = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("vsg", "envs", "bringbackshapes")
        for path in (ROOT / top).rglob("*.py")
    }
    assert python_dirs <= found  # no folder of modules without an __init__.py
    assert set(PROJECT["tool"]["setuptools"]["packages"]) == found


def test_console_scripts_name_functions():
    scripts = PROJECT["project"]["scripts"]
    assert {"vsg-train", "vsg-probe", "vsg-sweep"} <= set(scripts)
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_scripts_find_the_interpreter_in_one_place_and_set_no_pythonpath():
    scripts = sorted((ROOT / "scripts").glob("*.sh"))
    for script in scripts:
        text = script.read_text()
        assert "PYTHONPATH" not in text, script.name
        if script.name not in ("install.sh", "python.sh"):
            assert 'source "$(dirname "${BASH_SOURCE[0]}")/python.sh"' in text, script.name


def test_gpu_check_rejects_a_bad_duration_before_any_work():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "ten"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: MINUTES must be a positive integer, got 'ten'"
    assert result.stdout == ""
