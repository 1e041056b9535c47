"""The model table (vsg/models.py) and the launchers' argument logic (vsg/launch.py) that reads
it: every name resolves to presets that select its dynamics, runs are named by the table, and
the probe and the results find a run's model name again. No TensorFlow, no subprocess."""

import pytest

from vsg import models
from vsg.config import load_config, load_presets
from vsg.dynamics import DYNAMICS
from vsg.launch import LAUNCHERS, LaunchError

ARGS = {
    "dmc": ["walker_walk", "{model}", "b", "0.3", "64", "2"],
    "bringbackshapes": ["{model}", "b", "sparse", "3000", "0", "5", "False", "False", "False"]
    + ["125", "1.0", "0.3", "2"],
}
CASES = [(name, launcher) for name in models.MODELS for launcher in models.LAUNCHERS]


def launch(launcher, name, *extra):
    """(summary line, resolved config) of a launcher command for model `name`."""
    argv = [word.format(model=name) for word in ARGS[launcher]] + list(extra)
    summary, train_args = LAUNCHERS[launcher].trainer_args(launcher, argv)
    return summary, load_config(train_args)


@pytest.mark.parametrize("name, launcher", CASES)
def test_every_model_selects_its_registered_dynamics_and_is_found_again(name, launcher):
    model = models.MODELS[name]
    summary, config = launch(launcher, name)
    assert model.dynamics in DYNAMICS and config.model_type == model.dynamics
    assert config.id == model.run_id(launcher, "b", "0.3") and f"id {config.id}," in summary
    assert (config.dyn_gate_prior == 0.3) == model.gate_prior
    assert models.model_name(config) == name
    _, tiny = launch(launcher, name, "--configs", "tiny", "--dyn_stoch", "8")
    assert models.model_name(tiny) == name  # sizes do not change what the model is


def test_a_config_of_no_model_is_named_by_its_dynamics():
    config = load_config(["--configs", "dmc", "vsg", "--dyn_cell", "gru", "--dyn_discrete", "0"])
    assert models.model_name(config, load_presets()) == "rssm"


def test_dim_sets_the_keys_the_table_names():
    _, svsg = launch("dmc", "SVSG")
    _, vsg = launch("dmc", "VSG")
    assert (svsg.dyn_deter, svsg.dyn_hidden, svsg.dyn_stoch) == (64, 64, 64)
    assert (vsg.dyn_deter, vsg.dyn_hidden, vsg.dyn_stoch) == (64, 64, 32)
    sizes = ["--dyn_deter", "7", "--dyn_hidden", "7", "--dyn_stoch", "7"]
    assert models.dmc_args("svsg", 7) == ["--configs", "dmc", "svsg", *sizes]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["walker_walk", "VSG", "b", "0.3", "64"], "expected 6 arguments, got 5"),
        (["walker_walk", "Dreamer", "b", "0.3", "64", "1"], "unknown MODEL 'Dreamer' (known: "),
        (["walker_walk", "vsg", "b", "0.3", "64", "1"], "unknown MODEL 'vsg'"),
        (["walker_walk", "VSG", "b", "1.0", "64", "1"], "GATE_PRIOR must be a number in (0, 1)"),
        (["Walker", "VSG", "b", "0.3", "64", "1"], "TASK must look like walker_walk"),
    ],
)
def test_bad_positional_arguments_are_named(argv, message):
    with pytest.raises(LaunchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LAUNCHERS["dmc"].trainer_args("dmc", argv)


def test_a_model_added_to_the_table_is_launchable(monkeypatch):
    """One entry makes a name launchable, run-named and found again; no other list to edit."""
    mine = models.Model("srssm", {"dmc": ("svsg", "tiny")}, {"dmc": "Mine_{suffix}"})
    monkeypatch.setitem(models.MODELS, "Mine", mine)
    summary, config = launch("dmc", "Mine")
    assert config.id == "Mine_b" and config.batch_size == 2 and config.dyn_gate_prior == 0.3
    assert summary == "task dmc_walker_walk, model Mine, id Mine_b, seed 2"
    assert models.find("mine", ignore_case=True) == "Mine"
