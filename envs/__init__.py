"""Environments with a dict observation API: DeepMind Control and BringBackShapes.

``make(task, seed, config)`` returns an env with ``action_size``, ``reset() -> obs``,
``step(action in [-1, 1]) -> obs`` and ``close()``. ``obs`` holds ``image`` (uint8, H x W x 3),
``reward`` (float32, summed over the action repeat), ``is_first``, ``is_last`` and
``is_terminal``. Suite modules are imported lazily so that importing ``envs`` stays cheap and
never pulls in TensorFlow.
"""

from collections.abc import Mapping
from typing import Any

DMC_PREFIX = "dmc_"
BBS_PREFIX = "bringbackshapes_"


def validate_task(task: str) -> None:
    """Raise ValueError (one line, naming ``task``) if ``task`` is not a known task.

    Builds no env. DMC names are checked against ``dm_control.suite`` (which imports MuJoCo);
    BringBackShapes names only need a non-empty type after the suite name.
    """
    if task.startswith(DMC_PREFIX):
        from envs.dmc import resolve

        resolve(task)
    elif task.startswith(BBS_PREFIX) and len(task) > len(BBS_PREFIX):
        return
    else:
        raise ValueError(
            f"Unknown task {task!r}: expected dmc_<domain>_<task> or bringbackshapes_<type>."
        )


def make(task: str, seed: int, config: Mapping[str, Any]) -> Any:
    """Build the env for ``task`` seeded with ``seed``; ValueError for unknown tasks.

    DMC reads ``action_repeat``, ``time_limit`` (env frames, 0 = none), ``size``,
    ``fast_render`` and ``camera`` from ``config`` and ignores other keys.
    """
    validate_task(task)
    if task.startswith(BBS_PREFIX):
        from envs.bbs import make_bbs

        return make_bbs(task, seed, config)
    from envs.dmc import make_dmc

    return make_dmc(task, seed, config)
