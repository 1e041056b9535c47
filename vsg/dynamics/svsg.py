"""SVSG: no deterministic path; a gated update of the stochastic state itself.

The stochastic variant of VSG (Jain et al., "Learning Robust Dynamics through Variational
Sparse Gating", NeurIPS 2022):

Prior step:      x = ELU(Dense([s_{t-1}, a_t]))
                 c_t, p_t = cell.candidate(x, s_{t-1});  g_t ~ Bernoulli(p_t) (straight-through)
                 prior stats = Dense(ELU(Dense(c_t)));  z~ ~ prior
                 s_t = g_t * z~ + (1 - g_t) * s_{t-1}
Posterior step:  same c_t and g_t; stats = Dense(ELU(Dense([c_t, embed_t]))); z~ ~ post;
                 s_t = g_t * z~ + (1 - g_t) * s_{t-1}
Features: s_t (flattened). With discrete latents the gate covers whole categorical variables
([B, S]) and mixes one-hot samples; the paper's scripts use Gaussian latents.
"""

import tensorflow as tf

from vsg import nn
from vsg.dynamics.base import LatentDynamics
from vsg.dynamics.cells import make_cell


class SVSG(LatentDynamics):
    """State: stoch [B, S(, K)], cand [B, S*K], stats, gate / gate_prob [B, S].

    No closed-form `transition_jacobian` (the base's None): the probe differentiates
    `transition` by autodiff. Its output passes the candidate through the prior head (two
    dense layers), so a closed form would cost dense [F, F] products per step anyway."""

    transition_inputs = {"s": "stoch"}
    state_key = "stoch"
    has_gates = True
    gate_covers_latents = True

    def __init__(self, config, latent, action_size, embed_size, rng, dtype=tf.float32):
        super().__init__(latent, rng, dtype, name="svsg")
        hidden, flat = config.dyn_hidden, latent.flat_size
        self.cell = make_cell(config.dyn_cell, hidden, flat, gate_size=latent.stoch, dtype=dtype)
        self.gate_size = latent.stoch
        self.stochastic_gate = self.cell.stochastic_gate
        self.feature_size = self.state_size = flat
        self.img_in = nn.Dense(flat + action_size, hidden, tf.nn.elu, dtype, "img_in")
        self.img_out = nn.Dense(flat, hidden, tf.nn.elu, dtype, "img_out")
        self.img_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "img_stats")
        self.obs_out = nn.Dense(flat + embed_size, hidden, tf.nn.elu, dtype, "obs_out")
        self.obs_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "obs_stats")

    def initial(self, batch_size):
        stats, stoch = self.latent.initial(batch_size, self.compute_dtype)
        if self.latent.flat_size != self.latent.stoch:
            # A discrete state starts uniform over classes, as in the reference.
            stoch = tf.fill(tf.shape(stoch), tf.cast(1.0 / stoch.shape[-1], stoch.dtype))
        gate = tf.zeros([batch_size, self.gate_size], self.compute_dtype)
        cand = tf.zeros([batch_size, self.latent.flat_size], self.compute_dtype)
        return {"stoch": stoch, "cand": cand, "gate": gate, "gate_prob": gate, **stats}

    def _gated(self, stats, prev_flat, gate, sample):
        new = self.latent.sample(stats, self.rng) if sample else self.latent.mode(stats)
        shape = tf.shape(new)
        mixed = self.cell.mix(self.latent.flatten(new), prev_flat, gate)
        return tf.reshape(mixed, shape)

    def _gate_and_candidate(self, prev, action):
        prev_flat = self.latent.flatten(prev["stoch"])
        x = tf.concat([prev_flat, tf.cast(action, self.compute_dtype)], -1)
        cand, prob = self.cell.candidate(self.img_in(x), prev_flat)
        return prev_flat, cand, prob

    def img_step(self, prev, action, sample=True):
        prev_flat, cand, prob = self._gate_and_candidate(prev, action)
        gate = self.cell.gate(prob, self.rng)
        stats = self.latent.stats(self.img_stats(self.img_out(cand)))
        stoch = self._gated(stats, prev_flat, gate, sample)
        return {"stoch": stoch, "cand": cand, "gate": gate, "gate_prob": prob, **stats}

    def obs_step(self, prev, action, embed, is_first, sample=True):
        prev, action = self.reset(prev, action, is_first)
        prior = self.img_step(prev, action, sample)
        x = tf.concat([prior["cand"], tf.cast(embed, self.compute_dtype)], -1)
        stats = self.latent.stats(self.obs_stats(self.obs_out(x)))
        prev_flat = self.latent.flatten(prev["stoch"])
        stoch = self._gated(stats, prev_flat, prior["gate"], sample)
        post = {**prior, "stoch": stoch, **stats}
        return post, prior

    def features(self, state):
        return self.latent.flatten(state["stoch"])

    def transition(self, prev, action, gate=None):
        # The expected next state mixes the prior mean (or class probabilities) by the gate.
        prev_flat, cand, prob = self._gate_and_candidate(prev, action)
        stats = self.latent.stats(self.img_stats(self.img_out(cand)))
        if "mean" in stats:
            new = stats["mean"]
        else:
            new = self.latent.flatten(tf.nn.softmax(stats["logits"], -1))
        stoch = self.cell.mix(new, prev_flat, prob if gate is None else gate)
        return {"stoch": stoch, **stats}
