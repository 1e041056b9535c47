"""Latent dynamics variants behind one interface (see `base.LatentDynamics`).

`model_type` picks the state-space structure and `dyn_cell` its recurrent cell:
RSSM + soft GRU = DreamerV1/V2, RSSM + 'sgru' = VSG, SVSG + 'sgru' = SVSG. A new variant is
one new class registered here plus one preset in configs/configs.yaml.
"""

import tensorflow as tf

from vsg.distributions import make_latent
from vsg.dynamics.base import LatentDynamics
from vsg.dynamics.rssm import RSSM
from vsg.dynamics.svsg import SVSG

DYNAMICS = {"rssm": RSSM, "srssm": SVSG}

__all__ = ["DYNAMICS", "LatentDynamics", "RSSM", "SVSG", "make_dynamics"]


def make_dynamics(config, action_size, embed_size, rng, dtype=tf.float32):
    """Builds the dynamics named by `model_type`, with latents chosen by `dyn_discrete`."""
    if config.model_type not in DYNAMICS:
        known = ", ".join(DYNAMICS)
        raise ValueError(f"unknown model_type '{config.model_type}' (known: {known})")
    latent = make_latent(config)
    return DYNAMICS[config.model_type](config, latent, action_size, embed_size, rng, dtype)
