"""Sweep specs: YAML files that name a launcher and a grid of its arguments.

    launcher: dmc                      # dmc | bringbackshapes (scripts/<launcher>.sh)
    args:                              # the launcher's positional arguments (SEED excepted;
                                       #   names in vsg/launch.py)
      task: [walker_walk, cheetah_run] # a list is a grid axis
      model: [DreamerV2, VSG]
      suffix: paper
      gate_prior: 0.4
      dim: 1024
    flags: {steps: 1000000}            # --key value config overrides; a list is an axis too
    seeds: [1, 2, 3]
    resources: {cpus: 1, gpus: 0.5, memory: 16}   # per run; memory in GiB
    max_concurrent: 0                  # runs at once; 0 = as many as the resources allow
    max_retries: 2                     # retries of a run whose process died

Every combination of the axes, times every seed, is one run. Before anything starts, each run
is checked by its launcher's checks (`vsg.launch`) and by the trainer's own config and task
validation, and its run directory and frame budget are resolved.
"""

import dataclasses
import itertools
import os
import pathlib

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

import envs
from vsg.config import ConfigError, load_config, load_presets
from vsg.launch import LAUNCHERS
from vsg.rundir import run_directory
from vsg.train import validate

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC_KEYS = ("launcher", "args", "flags", "seeds", "resources", "max_concurrent", "max_retries")
RESOURCE_KEYS = ("cpus", "gpus", "memory")


class SpecError(ValueError):
    """A bad spec or grid cell; the message names it."""


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one run reserves: CPUs and GPUs (may be fractional), memory in GiB (0: none)."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory: float = 0.0


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the grid: its launcher command, where it runs and where it writes."""

    name: str  # the grid values that set it apart, e.g. "model=VSG seed=1"
    command: tuple[str, ...]  # ("bash", "/abs/scripts/dmc.sh", arg, ...)
    cwd: str  # working directory of the command (run directories are relative to it)
    run_dir: str  # absolute
    steps: int  # the run's frame budget


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    runs: list[Run]
    resources: Resources
    max_concurrent: int
    max_retries: int


def read_yaml(path: pathlib.Path) -> dict:
    try:
        spec = YAML(typ="safe", pure=True).load(path.read_text())
    except (OSError, YAMLError) as error:
        raise SpecError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: expected a mapping of {', '.join(SPEC_KEYS)}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {unknown} (known: {', '.join(SPEC_KEYS)})")
    return spec


def number(value, key: str, kind=float, minimum=0, above=False):
    """`value` as `kind` (int or float), at least `minimum` (above it if `above`)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or kind(value) != value:
        wanted = "an integer" if kind is int else "a number"
        raise SpecError(f"{key}: expected {wanted}, got {value!r}")
    if value < minimum or (above and value == minimum):
        raise SpecError(f"{key}: must be {'>' if above else '>='} {minimum}, got {value}")
    return kind(value)


def text(value) -> str:
    """A YAML scalar as a command-line word (True/False as the launchers spell them)."""
    if isinstance(value, dict | list) or value is None:
        raise SpecError(f"expected a scalar, got {value!r}")
    return str(value)


def axes_of(section: dict, where: str) -> list[tuple[str, list]]:
    """[(name, [values])] of a mapping; a scalar is a one-value axis."""
    if not isinstance(section, dict):
        raise SpecError(f"{where}: expected a mapping, got {section!r}")
    axes = []
    for name, value in section.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            raise SpecError(f"{where}.{name}: empty list")
        try:
            axes.append((str(name), [text(v) for v in values]))
        except SpecError as error:
            raise SpecError(f"{where}.{name}: {error}") from None
    return axes


def cells(spec: dict) -> list[tuple[str, list[str], list[str]]]:
    """[(name, positional args with SEED, --key value flags)] for every run of the grid."""
    if spec.get("launcher") not in LAUNCHERS:
        launcher = spec.get("launcher")
        raise SpecError(f"launcher: expected one of {list(LAUNCHERS)}, got {launcher!r}")
    names = [argument.name for argument in LAUNCHERS[spec["launcher"]].arguments[:-1]]
    args = axes_of(spec.get("args", {}), "args")
    given = [name for name, _ in args]
    if sorted(given) != sorted(names):
        missing, unknown = set(names) - set(given), set(given) - set(names)
        raise SpecError(
            f"args: missing {sorted(missing)}, unknown {sorted(unknown)} "
            f"(the {spec['launcher']} launcher takes {', '.join(names)}, then the seed)"
        )
    args.sort(key=lambda axis: names.index(axis[0]))
    flags = [(f"--{name}", values) for name, values in axes_of(spec.get("flags", {}), "flags")]
    if "--seed" in dict(flags):
        raise SpecError("flags.seed: give the seeds as `seeds`")
    seeds = spec.get("seeds")
    if not isinstance(seeds, list) or not seeds or len(set(map(str, seeds))) != len(seeds):
        raise SpecError(f"seeds: expected a list of distinct integers, got {seeds!r}")
    for seed in seeds:
        number(seed, "seeds", int)
    axes = args + flags + [("seed", [str(seed) for seed in seeds])]  # flags keep their "--"
    varying = {name for name, values in axes if len(values) > 1} | {"seed"}
    result = []
    for values in itertools.product(*(values for _, values in axes)):
        chosen = dict(zip((name for name, _ in axes), values, strict=True))
        name = " ".join(f"{k.lstrip('-')}={v}" for k, v in chosen.items() if k in varying)
        positional = [chosen[n] for n in names] + [chosen["seed"]]
        words = []
        for flag, _ in flags:  # `--configs` takes several preset names: "cpu tiny"
            words += [flag, *(chosen[flag].split() if flag == "--configs" else [chosen[flag]])]
        result.append((name, positional, words))
    return result


def resolve(spec: dict, cwd: pathlib.Path) -> list[Run]:
    """Validates every cell with its launcher and the trainer's checks; returns the runs."""
    grid = cells(spec)  # checks the launcher's name first
    name = spec["launcher"]
    launcher = LAUNCHERS[name]
    script = ROOT / launcher.script
    runs, errors, presets = [], [], load_presets()
    for cell, positional, flags in grid:
        try:
            _, argv = launcher.trainer_args(name, positional + flags)
            config = load_config(argv, presets)
            validate(config)
            envs.validate_task(config.task)
        except (ConfigError, ValueError) as error:  # LaunchError is a ValueError
            errors.append(f"run '{cell}': {error}")
            continue
        command = ("bash", str(script), *positional, *flags)
        run_dir = str((cwd / run_directory(config)).resolve())
        runs.append(Run(cell, command, str(cwd), run_dir, int(config.steps)))
    if errors:
        more = f" (and {len(errors) - 1} more bad runs)" if len(errors) > 1 else ""
        raise SpecError(errors[0] + more)
    seen = {}
    for run in runs:
        if run.run_dir in seen:
            raise SpecError(f"runs '{seen[run.run_dir]}' and '{run.name}' share {run.run_dir}")
        seen[run.run_dir] = run.name
    return runs


def load_sweep(path: str | os.PathLike, cwd: str | os.PathLike) -> Sweep:
    """The validated sweep of spec file `path`, with runs relative to `cwd`; SpecError if bad."""
    path = pathlib.Path(path)
    spec = read_yaml(path)
    resources = spec.get("resources", {})
    if not isinstance(resources, dict) or set(resources) - set(RESOURCE_KEYS):
        raise SpecError(f"resources: expected a mapping of {', '.join(RESOURCE_KEYS)}")
    resources = Resources(
        cpus=number(resources.get("cpus", 1.0), "resources.cpus", above=True),
        gpus=number(resources.get("gpus", 0.0), "resources.gpus"),
        memory=number(resources.get("memory", 0.0), "resources.memory"),
    )
    max_concurrent = number(spec.get("max_concurrent", 0), "max_concurrent", int)
    max_retries = number(spec.get("max_retries", 2), "max_retries", int)
    runs = resolve(spec, pathlib.Path(cwd).resolve())
    return Sweep(path.stem, runs, resources, max_concurrent, max_retries)
