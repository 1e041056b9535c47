"""Latent dynamics variants behind one contract (`base.LatentDynamics`), and their registries.

`model_type` picks the state-space structure and `dyn_cell` the recurrent cell of the variants
that have one: RSSM + soft GRU = DreamerV1/V2, RSSM + 'sgru' = VSG, SVSG + 'sgru' = SVSG.

The registries map config names to "module:Class" strings, imported when a model is built, so
that checking a config's names (`vsg.train.validate`) does not import TensorFlow. A new
variant is one `LatentDynamics` subclass, one `DYNAMICS` entry (the string, or the class
itself) and one preset that sets `model_type` to it (see tests/test_new_variant.py).
"""

import importlib

DYNAMICS = {
    "rssm": "vsg.dynamics.rssm:RSSM",
    "srssm": "vsg.dynamics.svsg:SVSG",
}

# dyn_cell -> (cell class, layer norm on the gate pre-activations)
CELLS = {
    "gru": ("vsg.dynamics.cells:GRUCell", False),
    "gru_layer_norm": ("vsg.dynamics.cells:GRUCell", True),
    "sgru": ("vsg.dynamics.cells:StochasticGRUCell", False),
    "sgru_layernorm": ("vsg.dynamics.cells:StochasticGRUCell", True),
}


def load(target):
    """The object a registry entry names: a "module:attribute" string is imported; anything
    else (a class registered directly) is returned as it is."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def dynamics_class(model_type):
    """The `LatentDynamics` subclass registered as `model_type`; ValueError naming it if none."""
    if model_type not in DYNAMICS:
        raise ValueError(f"unknown model_type '{model_type}' (known: {', '.join(DYNAMICS)})")
    return load(DYNAMICS[model_type])


def make_dynamics(config, action_size, embed_size, rng, dtype=None):
    """Builds the dynamics named by `model_type`, with latents chosen by `dyn_discrete`.

    Raises `vsg.config.ConfigError` for options the variant cannot honour (e.g. a gate loss
    for a variant without gates); see `LatentDynamics.check_config`.
    """
    import tensorflow as tf

    from vsg.distributions import make_latent

    cls = dynamics_class(config.model_type)
    cls.check_config(config)
    return cls(config, make_latent(config), action_size, embed_size, rng, dtype or tf.float32)
