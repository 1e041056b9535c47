"""The launchers: `python -m vsg.launch dmc|bringbackshapes ARGS... [--key value ...]`.

`scripts/dmc.sh` and `scripts/bringbackshapes.sh` are this command. It checks the positional
arguments (a bad one exits 2 with a one-line error, before anything else), prints the run's
task, model, id and seed, and trains with `vsg.train`, passing

    --configs defaults <launcher preset> <model presets> <positional arguments as flags> ARGS

so the precedence is, lowest first: defaults < the launcher's presets < your `--configs`
presets < the positional arguments < your `--key value` flags (the later flag wins). Model
names, their presets and run ids come from `vsg.models.MODELS`. Imports no TensorFlow (env
workers import the main module when they start).
"""

import dataclasses
import re
import sys
from collections.abc import Callable

from vsg import models


class LaunchError(ValueError):
    """A bad positional argument; the message names it."""


@dataclasses.dataclass(frozen=True)
class Argument:
    """A positional argument: its spec name (sweeps), its name in the usage line, the pattern
    its text must match in full and the rule the error states."""

    name: str
    label: str
    pattern: str
    rule: str

    def check(self, text):
        if not re.fullmatch(self.pattern, text):
            raise LaunchError(f"{self.label} {self.rule}, got '{text}'")
        return text


PRIOR = r"0?\.[0-9]*[1-9][0-9]*"  # in (0, 1), written as the reference scripts do
COUNT = r"[0-9]+"
POSITIVE = r"[1-9][0-9]*"
BOOLEAN = r"True|False"
MODEL = Argument("model", "MODEL", r"\S+", "must be a model name")  # then looked up in the table
SUFFIX = Argument("suffix", "SUFFIX", r"[A-Za-z0-9._-]+", "may use letters, digits, . _ -")
GATE_PRIOR = Argument("gate_prior", "GATE_PRIOR", PRIOR, "must be a number in (0, 1)")
SEED = Argument("seed", "SEED", COUNT, "must be a non-negative integer")


@dataclasses.dataclass(frozen=True)
class Launcher:
    """One launcher: its script, positional arguments (SEED last), an example and how the
    checked arguments become the summary line and the trainer's flags."""

    script: str
    arguments: tuple[Argument, ...]
    example: str
    flags: Callable[[dict, models.Model], tuple[str, list[str]]]

    def usage(self):
        labels = " ".join(argument.label for argument in self.arguments)
        return f"usage: bash {self.script} {labels} [--key value ...]"

    def trainer_args(self, name, argv):
        """(summary line, `vsg.train` arguments) for launcher `name`; LaunchError if bad."""
        if len(argv) < len(self.arguments):
            raise LaunchError(f"expected {len(self.arguments)} arguments, got {len(argv)}")
        given = argv[: len(self.arguments)]
        values = {a.name: a.check(text) for a, text in zip(self.arguments, given, strict=True)}
        try:
            model = models.MODELS[models.find(values["model"])]
        except ValueError as error:
            raise LaunchError(str(error)) from None
        summary, flags = self.flags(values, model)
        presets = ["defaults", name, *model.presets[name]]
        rest = argv[len(self.arguments) :]
        return summary, ["--configs", *presets, *flags, *rest]


def _model_flags(launcher, values, model):
    """--id, --seed and (models with a gate prior) --dyn_gate_prior."""
    run_id = model.run_id(launcher, values["suffix"], values["gate_prior"])
    flags = ["--id", run_id, "--seed", values["seed"]]
    gates = ["--dyn_gate_prior", values["gate_prior"]] if model.gate_prior else []
    return run_id, flags, gates


def dmc_flags(values, model):
    run_id, flags, gates = _model_flags("dmc", values, model)
    task = f"dmc_{values['task']}"
    summary = f"task {task}, model {values['model']}, id {run_id}, seed {values['seed']}"
    return summary, ["--task", task, *flags, *model.dim_flags(values["dim"]), *gates]


BBS_OPTIONS = {  # spec name -> config key
    "time_limit": "time_limit",
    "distractors": "max_distractors",
    "objects": "max_objects",
    "variable_objects": "variable_num_objects",
    "variable_distractors": "variable_num_distractors",
    "variable_goal": "variable_goal_position",
    "view": "agent_view_size",
    "scale": "arena_scale",
}


def bbs_flags(values, model):
    run_id, flags, gates = _model_flags("bringbackshapes", values, model)
    task = f"bringbackshapes_{values['env_type']}"
    label = f"{task}_distract{values['distractors']}_size{values['scale']}"
    options = [word for name, key in BBS_OPTIONS.items() for word in (f"--{key}", values[name])]
    summary = f"task {label}, model {values['model']}, id {run_id}, seed {values['seed']}"
    return summary, ["--task", task, *flags, *options, *gates]


LAUNCHERS = {
    "dmc": Launcher(
        "scripts/dmc.sh",
        (
            Argument("task", "TASK", r"[a-z_]+", "must look like walker_walk"),
            MODEL,
            SUFFIX,
            GATE_PRIOR,
            Argument("dim", "DIM", POSITIVE, "must be a positive integer"),
            SEED,
        ),
        "walker_walk VSG baseline 0.4 1024 1",
        dmc_flags,
    ),
    "bringbackshapes": Launcher(
        "scripts/bringbackshapes.sh",
        (
            MODEL,
            SUFFIX,
            Argument("env_type", "ENV_TYPE", r"sparse|dense", "must be sparse or dense"),
            Argument("time_limit", "TL", COUNT, "must be a non-negative integer"),
            Argument("distractors", "DISTR", COUNT, "must be a non-negative integer"),
            Argument("objects", "OBJS", POSITIVE, "must be a positive integer"),
            Argument("variable_objects", "VAR_OBJS", BOOLEAN, "must be True or False"),
            Argument("variable_distractors", "VAR_DISTR", BOOLEAN, "must be True or False"),
            Argument("variable_goal", "VAR_GOAL", BOOLEAN, "must be True or False"),
            Argument("view", "VIEW", POSITIVE, "must be a positive integer"),
            Argument(
                "scale",
                "SCALE",
                r"(?=.*[1-9])([0-9]+\.?[0-9]*|\.[0-9]+)",
                "must be a positive number",
            ),
            GATE_PRIOR,
            SEED,
        ),
        "VSG baseline sparse 3000 0 5 False False False 125 1.0 0.4 1",
        bbs_flags,
    ),
}


def fail(message, launcher=None):
    """Usage (for a wrong argument count), a one-line error and exit status 2."""
    if launcher is not None:
        print(launcher.usage(), file=sys.stderr)
        print(f"  MODEL: {' | '.join(models.MODELS)}; e.g. {launcher.example}", file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in LAUNCHERS:
        fail(f"expected a launcher ({' | '.join(LAUNCHERS)}) first, got {argv[:1]}")
    name, args = argv[0], argv[1:]
    launcher = LAUNCHERS[name]
    try:
        summary, train_args = launcher.trainer_args(name, args)
    except LaunchError as error:
        fail(error, launcher if len(args) < len(launcher.arguments) else None)
    print(summary, flush=True)
    from vsg import train

    train.main(train_args)


if __name__ == "__main__":
    main()
