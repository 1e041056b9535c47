"""RSSM: deterministic recurrent path plus stochastic latent (DreamerV1/V2; VSG with 'sgru').

Prior step (DreamerV2):      x = ELU(Dense([flat(z_{t-1}), a_t]))
                             h_t = cell(x, h_{t-1})          (soft GRU, or VSG's binary gate)
                             prior = Dense(ELU(Dense(h_t)))
Posterior step:              post = Dense(ELU(Dense([h_t, embed_t])))   (same h_t and gate)
Features: [flat(z_t), h_t].
"""

import tensorflow as tf

from vsg import nn
from vsg.dynamics.base import LatentDynamics
from vsg.dynamics.cells import make_cell


class RSSM(LatentDynamics):
    """State: deter [B, D], stoch [B, S(, K)], stats, gate / gate_prob [B, D]."""

    transition_inputs = {"h": "deter", "z": "stoch"}
    state_key = "deter"
    has_gates = True

    def __init__(self, config, latent, action_size, embed_size, rng, dtype=tf.float32):
        super().__init__(latent, rng, dtype, name="rssm")
        hidden, deter = config.dyn_hidden, config.dyn_deter
        self.cell = make_cell(config.dyn_cell, hidden, deter, dtype=dtype)
        self.deter_size = self.state_size = self.gate_size = deter
        self.stochastic_gate = self.cell.stochastic_gate
        self.feature_size = latent.flat_size + deter
        self.img_in = nn.Dense(latent.flat_size + action_size, hidden, tf.nn.elu, dtype, "img_in")
        self.img_out = nn.Dense(deter, hidden, tf.nn.elu, dtype, "img_out")
        self.img_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "img_stats")
        self.obs_out = nn.Dense(deter + embed_size, hidden, tf.nn.elu, dtype, "obs_out")
        self.obs_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "obs_stats")

    def initial(self, batch_size):
        stats, stoch = self.latent.initial(batch_size, self.compute_dtype)
        zeros = tf.zeros([batch_size, self.deter_size], self.compute_dtype)
        return {"deter": zeros, "stoch": stoch, "gate": zeros, "gate_prob": zeros, **stats}

    def _prior_from(self, deter, sample):
        stats = self.latent.stats(self.img_stats(self.img_out(deter)))
        stoch = self.latent.sample(stats, self.rng) if sample else self.latent.mode(stats)
        return stats, stoch

    def img_step(self, prev, action, sample=True):
        x = tf.concat([self.latent.flatten(prev["stoch"]), tf.cast(action, self.compute_dtype)], -1)
        deter, gate, prob = self.cell(self.img_in(x), prev["deter"], self.rng)
        stats, stoch = self._prior_from(deter, sample)
        return {"deter": deter, "stoch": stoch, "gate": gate, "gate_prob": prob, **stats}

    def obs_step(self, prev, action, embed, is_first, sample=True):
        prev, action = self.reset(prev, action, is_first)
        prior = self.img_step(prev, action, sample)
        x = tf.concat([prior["deter"], tf.cast(embed, self.compute_dtype)], -1)
        stats = self.latent.stats(self.obs_stats(self.obs_out(x)))
        stoch = self.latent.sample(stats, self.rng) if sample else self.latent.mode(stats)
        post = {**prior, "stoch": stoch, **stats}
        return post, prior

    def features(self, state):
        return tf.concat([self.latent.flatten(state["stoch"]), state["deter"]], -1)

    def transition(self, prev, action, gate=None):
        x = tf.concat([self.latent.flatten(prev["stoch"]), tf.cast(action, self.compute_dtype)], -1)
        cand, prob = self.cell.candidate(self.img_in(x), prev["deter"])
        deter = self.cell.mix(cand, prev["deter"], prob if gate is None else gate)
        stats = self.latent.stats(self.img_stats(self.img_out(deter)))
        return {"deter": deter, **stats}

    def transition_jacobian(self, prev, action, gate=None, rows=None):
        """Closed form of d deter_t / d[deter_{t-1} | flat stoch_{t-1} | action]:
        [B, R, D + F + A] in float32 (see `LatentDynamics.transition_jacobian`).

        With x = ELU(u), u = [flat z, a] W_in + b_in: J = [dh'/dh, (dh'/dx) diag(ELU'(u))
        W_in^T], the cell's part in closed form (`GRUCell.jacobian`); the product with W_in^T
        ([B R, Hx] x [Hx, F + A], one matmul) is the only dense cost.
        """
        flat = [self.latent.flatten(prev["stoch"]), action]
        flat = tf.concat([tf.cast(v, tf.float32) for v in flat], -1)  # [B, F + A]
        kernel = tf.cast(self.img_in.kernel, tf.float32)  # [F + A, Hx]
        pre = tf.matmul(flat, kernel) + tf.cast(self.img_in.bias, tf.float32)
        x = tf.nn.elu(pre)
        # ELU'(u) = 1 for u > 0, else exp(u) = ELU(u) + 1 (what TensorFlow's gradient uses).
        slope = tf.where(pre > 0, 1.0, x + 1.0)
        jac_u, jac_h = self.cell.jacobian(x, prev["deter"], gate, rows, x_scale=slope)
        shape = tf.shape(jac_u)  # dh'/du: [B, R, Hx]
        jac_in = tf.matmul(tf.reshape(jac_u, [-1, shape[2]]), kernel, transpose_b=True)
        return tf.concat([jac_h, tf.reshape(jac_in, [shape[0], shape[1], -1])], -1)
