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

    def jacobian(self, x, h, gate=None, rows=None, x_scale=None):
        """Closed-form Jacobians of h' = mix(candidate(x, h), h, g), for the probe.

        x [B, Hx], h [B, D]; gate [B, gate_size]: held constant (the recorded gate), or None
        for g = p, differentiated (the soft GRU; VSG's expected Jacobian); rows: int32 [R]
        output indices (None: all D); x_scale [B, Hx] (optional) multiplies the columns of
        dh'/dx: the chain rule through an elementwise activation that made x, fused here to
        save a pass over the result. Returns (dh'/dx [B, R, Hx], dh'/dh [B, R, D]) in float32
        (whatever the compute dtype). Output i depends on the pre-activations N = [r, c, u]
        only through r_i, c_i and u_k (k = its gate), so its row is
            dh'_i = a_i dN_{r_i} + b_i dN_{c_i} + e_i dN_{u_k} + (1 - g_i) dh_i
        (`_row_coefficients`), where a row dN_j is column j of the kernel, corrected by
        LayerNorm's two rank-one terms (`_normalise`). That costs O(R (Hx + D)) per example;
        reverse-mode autodiff takes one pass through the kernel per row, O(R (Hx + D) n).
        """
        x, h = tf.cast(x, tf.float32), tf.cast(h, tf.float32)
        kernel = tf.cast(self.linear.kernel, tf.float32)  # [Hx + D, n], n = 2D + gate_size
        pre = tf.matmul(tf.concat([x, h], -1), kernel) + tf.cast(self.linear.bias, tf.float32)
        parts, scale, centred = self._normalise(pre)
        sel = tf.range(self.size) if rows is None else tf.convert_to_tensor(rows, tf.int32)
        coef, keep = self._row_coefficients(parts, h, gate, sel)  # [B, 2 or 3, R], [B, R]
        # The entries of N that row i reads, in coef's order: r_i, c_i, u_k.
        groups = self.size // self.gate_size
        index = tf.stack([sel, self.size + sel, 2 * self.size + sel // groups])[: coef.shape[1]]
        low_rank = None
        if scale is not None:
            coef *= tf.gather(scale, index, axis=1)
            # Every row gets LayerNorm's rank-one terms -(1/n) 1 (1^T W^T) - (1/n) y (y^T W^T)
            # (y = centred) with the weights sum_k coef_k and sum_k coef_k y_k; both vectors
            # come from one pass over the kernel.
            along = tf.reduce_sum(coef * tf.gather(centred, index, axis=1), 1)
            # (The kernel on the left: as matmul's transposed right operand it was copied.)
            stacked = tf.concat([tf.ones_like(centred[:1]), centred], 0)  # [1 + B, n]
            vectors = tf.transpose(tf.matmul(kernel, stacked, transpose_b=True))
            vectors /= pre.shape[-1]  # [1 + B, Hx + D]
            low_rank = (tf.reduce_sum(coef, 1), along, vectors[0], vectors[1:])
        weights = self._kernel_rows(kernel, index, rows is None and groups == 1)
        return _combine(coef, weights, low_rank, (keep, sel), x_scale, x.shape[-1])

    def _kernel_rows(self, kernel, index, full):
        """[>= terms, R, Hx + D]: weights[k, i] = kernel[:, index[k, i]], the rows dP_j of the
        selected outputs. The kernel is transposed once per call (the probe batches steps per
        call), after picking its columns when rows are subsampled; with `full` (all rows, one
        gate per dimension) the transposed kernel is read as [3, D, C], with no gather."""
        if full:
            return tf.reshape(_transpose(kernel), [3, self.size, -1])
        picked = tf.gather(kernel, tf.reshape(index, [-1]), axis=1)  # [C, terms R]
        return tf.reshape(tf.transpose(picked), [index.shape[0], -1, kernel.shape[0]])

    def _normalise(self, pre):
        """(N [B, n], scale [B, n], centred [B, n]): the pre-activations after the optional
        LayerNorm and the pieces of its Jacobian dN/dP = diag(scale) (I - 11^T/n - y y^T/n),
        scale = gamma / sigma and y = centred = (P - mean) / sigma (sigma with epsilon, as in
        the forward pass); scale and centred are None without LayerNorm (dN/dP = I)."""
        if self.norm is None:
            return pre, None, None
        mean, var = tf.nn.moments(pre, [-1], keepdims=True)
        inv = tf.math.rsqrt(var + self.norm.epsilon)
        centred = (pre - mean) * inv
        return centred * self.norm.scale + self.norm.offset, self.norm.scale * inv, centred

    def _row_coefficients(self, parts, h, gate, rows):
        """dh'_i / d[r_i, c_i, u_k] for the selected rows, [B, 3, R] (u_k only when the gate
        is differentiated: [B, 2, R] for a constant gate), and 1 - g_i [B, R].

        h' = g c' + (1 - g) h with c' = tanh(sigmoid(r) c), p = sigmoid(u - 1):
        dc'/dr = (1 - c'^2) sigmoid'(r) c, dc'/dc = (1 - c'^2) sigmoid(r), and for g = p the
        extra (c' - h) p (1 - p) on u_k."""
        reset, cand, update = tf.split(parts, [self.size, self.size, self.gate_size], -1)
        sig = tf.sigmoid(reset)
        new = tf.tanh(sig * cand)
        prob = tf.sigmoid(update - 1.0)
        g = self.expand(prob if gate is None else tf.cast(gate, tf.float32))
        dnew = g * (1.0 - tf.square(new))
        coef = [dnew * sig * (1.0 - sig) * cand, dnew * sig]
        if gate is None:
            coef.append((new - h) * self.expand(prob * (1.0 - prob)))
        coef = tf.stack([tf.gather(c, rows, axis=1) for c in coef], 1)
        return coef, tf.gather(1.0 - g, rows, axis=1)


class StochasticGRUCell(GRUCell):
    """VSG: the update gate is a hard Bernoulli sample with straight-through gradients."""

    stochastic_gate = True

    def gate(self, prob, rng):
        return sample_gate(prob, rng)


@tf.function(jit_compile=True)
def _transpose(matrix):
    """matrix^T, through XLA: half the CPU time of TensorFlow's transpose kernel here."""
    return tf.transpose(matrix)


@tf.function(jit_compile=True)
def _combine(coef, weights, low_rank, carry, x_scale, n_x):
    """Assembles the cell's Jacobian rows (see `GRUCell.jacobian`): returns dh'/dx [B, R, n_x]
    and dh'/dh [B, R, C - n_x] from

        sum_k coef[:, k, :, None] * weights[k]  - total x mean_row - along x proj
        (low_rank = (total, along [B, R], mean_row [C], proj [B, C]), or None),

    the x columns times x_scale [B, n_x] (or None), plus carry[0] [B, R] in column carry[1] [R]
    of each row of dh'/dh. Compiled with XLA, which fuses all of it into one pass over the
    output: as separate TensorFlow ops (a temporary [B, R, C] per product, sum and slice) it
    cost ~5x more CPU time."""
    jac = coef[:, 0, :, None] * weights[0]
    for k in range(1, coef.shape[1]):
        jac += coef[:, k, :, None] * weights[k]
    if low_rank is not None:
        total, along, mean_row, proj = low_rank
        jac -= total[..., None] * mean_row + along[..., None] * proj[:, None]
    jac_x, jac_h = jac[..., :n_x], jac[..., n_x:]
    if x_scale is not None:
        jac_x *= x_scale[:, None]
    keep, cols = carry
    return jac_x, jac_h + keep[..., None] * tf.one_hot(cols, tf.shape(jac_h)[-1])


def make_cell(name, in_size, size, gate_size=None, dtype=tf.float32):
    """Builds the cell named by the `dyn_cell` config key (`vsg.dynamics.CELLS`)."""
    if name not in CELLS:
        raise ValueError(f"unknown dyn_cell '{name}' (known: {', '.join(CELLS)})")
    target, layer_norm = CELLS[name]
    return load(target)(in_size, size, layer_norm, gate_size, dtype, name="cell")
