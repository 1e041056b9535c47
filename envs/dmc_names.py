"""dm_control's suite task names, read from the suite's source without importing it.

Importing ``dm_control.suite`` takes seconds (it imports SciPy) and loads MuJoCo's OpenGL
libraries, which must never enter a process that runs TensorFlow; checking a task name needs
neither. The suite lists its domains as ``from dm_control.suite import <domain>`` lines in its
``__init__.py`` and registers each task with the decorator ``@SUITE.add(...)`` on a function of
the domain's module, so both can be read with ``ast``. ``envs.validate_task`` asks the suite
itself (in a short spawned process) before it rejects a name missing here, and a test keeps
these names equal to ``dm_control.suite.ALL_TASKS``.
"""

import ast
import functools
import importlib.util
import multiprocessing
import os
import pathlib

SUITE_PACKAGE = "dm_control.suite"


def _is_task_decorator(node: ast.expr) -> bool:
    """True for ``@SUITE.add(...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "SUITE"
    )


def _parse(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@functools.cache
def suite_task_names() -> frozenset[str]:
    """``{"<domain>_<task>", ...}`` as registered in the installed dm_control suite."""
    spec = importlib.util.find_spec(SUITE_PACKAGE)  # imports only dm_control/__init__.py
    if spec is None or spec.origin is None:
        return frozenset()
    folder = pathlib.Path(spec.origin).parent
    domains = [
        alias.name
        for node in _parse(folder / "__init__.py").body
        if isinstance(node, ast.ImportFrom) and node.module == SUITE_PACKAGE
        for alias in node.names
    ]
    names = set()
    for domain in domains:
        path = folder / f"{domain}.py"
        if not path.exists():
            continue
        for node in _parse(path).body:
            if isinstance(node, ast.FunctionDef) and any(
                _is_task_decorator(decorator) for decorator in node.decorator_list
            ):
                names.add(f"{domain}_{node.name}")
    return frozenset(names)


def _suite_names() -> list[str]:
    from dm_control import suite

    return [f"{domain}_{task}" for domain, task in suite.ALL_TASKS]


def _spawned_suite_names() -> list[str]:
    # Runs in a spawned process: names only, so no GL back-end is loaded.
    os.environ["MUJOCO_GL"] = "disable"
    return _suite_names()


def imported_suite_names() -> frozenset[str]:
    """The task names of ``dm_control.suite.ALL_TASKS``, from an import in a spawned process
    (1-3 s), so this process loads neither dm_control nor its GL libraries. An env worker
    (a daemonic process, which may not start children) imports the suite itself: it is about
    to build an env from it anyway."""
    if multiprocessing.current_process().daemon:
        return frozenset(_suite_names())
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return frozenset(pool.apply(_spawned_suite_names))
