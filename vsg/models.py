"""The model names of the launchers, in one table: what each name runs and how its runs are named.

`MODELS[name]` gives, for each launcher (`dmc`, `bringbackshapes`), the presets merged after
the launcher's own and the run-id format, plus the `vsg.dynamics.DYNAMICS` entry those presets
select. The launchers (`vsg.launch`), sweeps, the probe, the benchmarks and the results tables
read model names only from here. Imports no TensorFlow.

A new launcher model is one entry here, on top of its dynamics variant (see
`vsg/dynamics/__init__.py`) and its preset in configs/configs.yaml.
"""

import dataclasses

from vsg.config import load_presets, merge_presets

LAUNCHERS = ("dmc", "bringbackshapes")


@dataclasses.dataclass(frozen=True)
class Model:
    """What a launcher's MODEL argument stands for.

    dynamics: the `model_type` its presets select (a `vsg.dynamics.DYNAMICS` entry).
    presets: {launcher: presets merged after the launcher's own preset}.
    run_ids: {launcher: run-id format}, with the fields {suffix} and {gate_prior} (as typed).
    gate_prior: the launcher's GATE_PRIOR sets `dyn_gate_prior` (models with a gate prior).
    dim_keys: the config keys the DMC launcher's DIM sets.
    """

    dynamics: str
    presets: dict[str, tuple[str, ...]]
    run_ids: dict[str, str]
    gate_prior: bool = True
    dim_keys: tuple[str, ...] = ("dyn_deter", "dyn_hidden")

    def run_id(self, launcher, suffix, gate_prior):
        """The run id of this model under `launcher`, e.g. `VSG_prior0.4_baseline`."""
        return self.run_ids[launcher].format(suffix=suffix, gate_prior=gate_prior)

    def dim_flags(self, dim):
        """The `--key value` flags the DMC launcher's DIM sets, e.g. --dyn_deter 200 ..."""
        return [word for key in self.dim_keys for word in (f"--{key}", str(dim))]


def _same_id(run_id):
    return dict.fromkeys(LAUNCHERS, run_id)


MODELS = {
    "DreamerV1": Model(
        "rssm",
        {"dmc": ("dreamerv1",), "bringbackshapes": ("bringbackshapes_gaussian",)},
        _same_id("DreamerV1_{suffix}"),
        gate_prior=False,
    ),
    "DreamerV2": Model(
        "rssm",
        {"dmc": ("dreamerv2",), "bringbackshapes": ()},
        _same_id("DreamerV2_{suffix}"),
        gate_prior=False,
    ),
    "VSG": Model(
        "rssm",
        {"dmc": ("vsg",), "bringbackshapes": ("vsg",)},
        _same_id("VSG_prior{gate_prior}_{suffix}"),
    ),
    "SVSG": Model(
        "srssm",
        {"dmc": ("svsg",), "bringbackshapes": ("bringbackshapes_svsg",)},
        {
            "dmc": "SVSG_prior{gate_prior}_{suffix}",
            "bringbackshapes": "SVSG_dim1024_prior{gate_prior}_{suffix}",
        },
        dim_keys=("dyn_deter", "dyn_hidden", "dyn_stoch"),
    ),
}


def find(name, ignore_case=False):
    """The table's spelling of model `name` (e.g. "vsg" -> "VSG" with `ignore_case`);
    ValueError listing the known names if there is none."""
    for known in MODELS:
        if name == known or (ignore_case and name.lower() == known.lower()):
            return known
    raise ValueError(f"unknown MODEL '{name}' (known: {', '.join(MODELS)})")


def dmc_args(name, dim):
    """`vsg.config.load_config` arguments for model `name` (any case) as the DMC launcher sets
    it up with DIM `dim` (its presets and sizes; no task, id or seed); for benchmarks."""
    model = MODELS[find(name, ignore_case=True)]
    return ["--configs", "dmc", *model.presets["dmc"], *model.dim_flags(dim)]


def structure(config):
    """What tells the models apart: dynamics, cell, and discrete or Gaussian latents."""
    return config["model_type"], config["dyn_cell"], config["dyn_discrete"] > 0


def model_name(config, presets=None):
    """The table's name of the model a resolved config trains (its `structure` equals that of
    the model's presets under some launcher), or its `model_type` if none does."""
    presets = presets if presets is not None else load_presets()
    for name, model in MODELS.items():
        for launcher, names in model.presets.items():
            if structure(merge_presets([launcher, *names], presets)) == structure(config):
                return name
    return config["model_type"]
