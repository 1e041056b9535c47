"""pyproject.toml: the explicit package list covers every package of the repository, and each
console script names a function that exists (`pip install -e .` in scripts/install.sh)."""

import importlib
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
