"""Environments with a dict observation API: DeepMind Control and BringBackShapes.

``make(task, seed, config)`` returns an env with ``action_size``, ``reset() -> obs``,
``step(action in [-1, 1]) -> obs`` and ``close()``. ``obs`` holds ``image`` (uint8, H x W x 3),
``reward`` (float32, summed over the action repeat), ``is_first``, ``is_last`` and
``is_terminal``. Suite modules are imported lazily so that importing ``envs`` stays cheap and
never pulls in TensorFlow, nor (outside ``make``) dm_control and its OpenGL libraries. Training
builds envs only in worker processes (``envs.workers``, ``envs.parallel``).
"""

from collections.abc import Mapping
from typing import Any

DMC_PREFIX = "dmc_"
BBS_PREFIX = "bringbackshapes_"
BBS_TASKS = ("bringbackshapes_sparse", "bringbackshapes_dense")


def run_label(task: str, config: Mapping[str, Any]) -> str:
    """The folder name that groups runs of one task variant under the log directory.

    BringBackShapes variants differ by options, not by task name, so their label adds the
    distractor count and arena scale (`bringbackshapes_sparse_distract2_size1.2`), the names
    the published learning curves use.
    """
    if task.startswith(BBS_PREFIX):
        return f"{task}_distract{config['max_distractors']}_size{config['arena_scale']}"
    return task


def validate_task(task: str) -> None:
    """Raise ValueError (one line, naming ``task``) if ``task`` is not a known task.

    Builds no env and imports neither dm_control nor TensorFlow. DMC names are read from the
    installed suite's source (``envs.dmc_names``); a name not found there is rejected only once
    the suite itself, imported in a spawned process, does not know it either. BringBackShapes
    tasks are ``bringbackshapes_sparse`` and ``bringbackshapes_dense``.
    """
    if task.startswith(DMC_PREFIX):
        from envs import dmc_names

        name = task[len(DMC_PREFIX) :]
        known = dmc_names.suite_task_names()
        if name not in known and name not in dmc_names.imported_suite_names():
            raise ValueError(
                f"Unknown DMC task {task!r}: expected dmc_<domain>_<task> from dm_control.suite."
            )
    elif task in BBS_TASKS:
        return
    elif task.startswith(BBS_PREFIX):
        raise ValueError(f"Unknown task {task!r}: expected one of {', '.join(BBS_TASKS)}.")
    else:
        raise ValueError(
            f"Unknown task {task!r}: expected dmc_<domain>_<task> or bringbackshapes_<type>."
        )


def episode_decisions(task: str, config: Mapping[str, Any]) -> int | None:
    """The most decisions an episode of ``task`` can last under ``config``'s ``time_limit``
    (env frames), or None when only the suite ends episodes (``time_limit`` 0).

    DMC stops after ``time_limit // action_repeat`` decisions (at least one); BringBackShapes
    after the decision that reaches ``time_limit`` physics steps.
    """
    limit, repeat = int(config["time_limit"]), int(config["action_repeat"])
    if limit <= 0:
        return None
    if task.startswith(BBS_PREFIX):
        return -(-limit // repeat)
    return max(1, limit // repeat)


def check_options(task: str, config: Mapping[str, Any]) -> None:
    """Raise ValueError (one line, naming the option) if ``task``'s env rejects ``config``.

    BringBackShapes checks its options (shape count, view size, arena scale, ...) by building
    one game, which takes milliseconds and writes nothing. DMC reads few options, checked with
    the rest of the config by ``vsg.train``.
    """
    if task.startswith(BBS_PREFIX):
        from envs.bbs import make_bbs

        make_bbs(task, 0, config).close()


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
