"""Recurrent cells with an update gate: the soft GRU of DreamerV2 and the binary VSG gate.

Both cells compute, from input x and previous state h ([B, D] each side),

    [r, c, u] = Dense_3D([x, h])   (optionally LayerNorm over the 3D pre-activations)
    c = tanh(sigmoid(r) * c);  p = sigmoid(u - 1)

and differ only in the update gate g: the GRU uses g = p, VSG samples g ~ Bernoulli(p) with a
straight-through gradient, so closed dimensions copy h bit-exactly. `gate_size` may be smaller
than the state size (SVSG with discrete latents gates whole categorical variables): the gate
is then repeated over groups of D / gate_size consecutive dimensions.
"""

import tensorflow as tf

from vsg import nn
from vsg.distributions import sample_gate
from vsg.dynamics import CELLS, load


class GRUCell(tf.Module):
    """DreamerV2's GRU: reset gate on the candidate pre-activation, update bias -1."""

    stochastic_gate = False

    def __init__(self, in_size, size, layer_norm, gate_size=None, dtype=tf.float32, name=None):
        super().__init__(name=name)
        self.size = size
        self.gate_size = gate_size or size
        out = 2 * size + self.gate_size
        self.linear = nn.Dense(in_size + size, out, None, dtype, name="linear")
        self.norm = nn.LayerNorm(out, name="norm") if layer_norm else None

    def candidate(self, x, h):
        """Returns the candidate c [B, D] and the gate probability p [B, gate_size]."""
        parts = self.linear(tf.concat([x, h], -1))
        if self.norm is not None:
            parts = self.norm(parts)
        reset, cand, update = tf.split(parts, [self.size, self.size, self.gate_size], -1)
        cand = tf.tanh(tf.sigmoid(reset) * cand)
        return cand, tf.sigmoid(update - 1.0)

    def gate(self, prob, rng):
        """The update gate used for mixing: the probability itself for the soft GRU."""
        del rng
        return prob

    def expand(self, gate):
        """Repeats a [B, gate_size] gate to [B, size]."""
        if self.gate_size == self.size:
            return gate
        return tf.repeat(gate, self.size // self.gate_size, axis=-1)

    def mix(self, new, old, gate):
        """g * new + (1 - g) * old with the gate expanded to the state size."""
        gate = self.expand(gate)
        return gate * new + (1.0 - gate) * old

    def __call__(self, x, h, rng):
        """One step: returns (h' [B, D], gate [B, gate_size], prob [B, gate_size])."""
        cand, prob = self.candidate(x, h)
        gate = self.gate(prob, rng)
        return self.mix(cand, h, gate), gate, prob


class StochasticGRUCell(GRUCell):
    """VSG: the update gate is a hard Bernoulli sample with straight-through gradients."""

    stochastic_gate = True

    def gate(self, prob, rng):
        return sample_gate(prob, rng)


def make_cell(name, in_size, size, gate_size=None, dtype=tf.float32):
    """Builds the cell named by the `dyn_cell` config key (`vsg.dynamics.CELLS`)."""
    if name not in CELLS:
        raise ValueError(f"unknown dyn_cell '{name}' (known: {', '.join(CELLS)})")
    target, layer_norm = CELLS[name]
    return load(target)(in_size, size, layer_norm, gate_size, dtype, name="cell")
