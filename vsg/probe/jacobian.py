"""Batched Jacobians of TensorFlow step functions (float32 by default).

``fn`` maps a batch of independent points [N, D_in] to [N, D_out]; example b's output must
depend on example b's input only (true for RSSM/VSG/SVSG steps; false with batch-coupled ops
such as batch norm in training mode). The N points are typically the T steps of an episode,
whose recorded inputs are fixed.

Cost (reverse mode): one vector-Jacobian product per selected *output* row, independent of
D_in, so concatenate all inputs into one source rather than differentiating per input, and
subsample rows when D_out is large. Forward mode costs one Jacobian-vector product per
*input* column and wins when D_in < D_out. Run ``python -m vsg.probe.jacobian`` for timings of
a 1024-wide GRU-like step on this machine.
"""

import functools
import time

import numpy as np
import tensorflow as tf


@functools.lru_cache(maxsize=32)
def _compiled(fn, mode, d_in, subsample, dtype):
    """One tf.function per (fn, mode, input width, row selection or not, dtype); the signature
    leaves N and the number of rows free, so chunks of any size and new row sets never retrace."""
    rows_spec = tf.TensorSpec([None], tf.int32) if subsample else None
    signature = [tf.TensorSpec([None, d_in], dtype)] + ([rows_spec] if subsample else [])

    def select(y, rows):
        return tf.gather(y, rows[0], axis=1) if rows else y

    if mode == "reverse":

        @tf.function(input_signature=signature, autograph=False)
        def jac(x, *rows):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = select(fn(x), rows)
            # pfor-vectorised (the default); the while-loop fallback runs row by row.
            return tape.batch_jacobian(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    elif mode == "forward":

        @tf.function(input_signature=signature, autograph=False)
        def jac(x, *rows):
            def jvp(tangent):
                tangents = tf.broadcast_to(tangent, tf.shape(x))
                with tf.autodiff.ForwardAccumulator(x, tangents) as acc:
                    y = select(fn(x), rows)
                return acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO)

            cols = tf.vectorized_map(jvp, tf.eye(d_in, dtype=dtype))
            return tf.transpose(cols, [1, 2, 0])  # [D_in, N, rows] -> [N, rows, D_in]

    else:
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    return jac


def batched_jacobian(fn, x, rows=None, mode="reverse", batch_size=None, dtype=tf.float32):
    """Jacobian of fn: [N, D_in] -> [N, D_out] at all N points.

    x [N, D_in]; rows: optional int array [n_rows] of output indices to differentiate (row
    subsampling: cost scales with n_rows in reverse mode). batch_size splits N into chunks to
    bound memory (None: one call). Returns np.ndarray [N, n_rows or D_out, D_in] of ``dtype``.
    """
    x = tf.cast(tf.convert_to_tensor(x), dtype)
    extra = () if rows is None else (tf.constant(np.asarray(rows), tf.int32),)
    jac = _compiled(fn, mode, int(x.shape[1]), rows is not None, dtype)
    n = int(x.shape[0])
    step = n if batch_size is None else int(batch_size)
    parts = [jac(x[i : i + step], *extra).numpy() for i in range(0, n, step)]
    return np.concatenate(parts, axis=0)


@functools.lru_cache(maxsize=32)
def _split_inputs(fn, sizes):
    """fn(*parts) -> fn(x) on the concatenation; cached so the compiled Jacobian is reused."""

    def joined(x):
        return fn(*tf.split(x, list(sizes), axis=1))

    return joined


def multi_input_jacobian(fn, inputs, rows=None, mode="reverse", batch_size=None, dtype=tf.float32):
    """Joint Jacobian of fn(*inputs) w.r.t. all inputs in one pass.

    fn(*parts) -> [N, D_out] with parts[k] of shape [N, D_k]; inputs: sequence of arrays
    [N, D_k] (e.g. [h_prev, z_prev, a_prev]). Returns (J [N, n_rows, sum D_k], slices) where
    ``J[:, :, slices[k]]`` is the block of input k. Reverse mode costs one backward pass per
    output row however many inputs there are, so one concatenated source does the work of one
    call per input at the cost of one.
    """
    inputs = [tf.cast(tf.convert_to_tensor(v), dtype) for v in inputs]
    sizes = tuple(int(v.shape[1]) for v in inputs)
    bounds = np.cumsum((0,) + sizes)
    slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    x = tf.concat(inputs, axis=1)
    return batched_jacobian(_split_inputs(fn, sizes), x, rows, mode, batch_size, dtype), slices


def gru_like_step(dim, stoch, act, seed=0):
    """A DreamerV2-style prior step h' = f(h, z, a) with random float32 weights, for timing.

    Returns fn(h [N, dim], z [N, stoch], a [N, act]) -> h' [N, dim]: input layer on [z, a],
    layer-normed fused GRU gates, candidate tanh(r * c), update sigmoid(u - 1).
    """
    rng = np.random.default_rng(seed)
    w_in = tf.constant(rng.normal(0, (stoch + act) ** -0.5, (stoch + act, dim)), tf.float32)
    w_gru = tf.constant(rng.normal(0, (2 * dim) ** -0.5, (2 * dim, 3 * dim)), tf.float32)

    def step(h, z, a):
        x = tf.nn.elu(tf.concat([z, a], 1) @ w_in)
        parts = tf.concat([x, h], 1) @ w_gru
        mean, var = tf.nn.moments(parts, axes=[1], keepdims=True)
        parts = (parts - mean) * tf.math.rsqrt(var + 1e-3)
        reset, cand, update = tf.split(parts, 3, axis=1)
        cand = tf.tanh(tf.sigmoid(reset) * cand)
        update = tf.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * h

    return step


def bench(dim=1024, stoch=1024, act=6, n=8, n_rows=64, repeats=2, modes=("reverse", "forward")):
    """Print and return milliseconds per step (batch element) of the joint Jacobian
    d h'/d[h, z, a] of ``gru_like_step``: full rows per mode, and ``n_rows`` random rows."""
    step = gru_like_step(dim, stoch, act)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(n, d)).astype(np.float32) for d in (dim, stoch, act)]
    rows = np.sort(rng.choice(dim, n_rows, replace=False))
    cases = {f"full_{m}": (None, m) for m in modes}
    cases[f"rows{n_rows}_reverse"] = (rows, "reverse")
    timings = {}
    for name, (sel, mode) in cases.items():
        multi_input_jacobian(step, inputs, sel, mode)  # trace and warm up
        start = time.perf_counter()
        for _ in range(repeats):
            multi_input_jacobian(step, inputs, sel, mode)
        timings[name] = 1e3 * (time.perf_counter() - start) / (repeats * n)
        print(f"D={dim} S={stoch} A={act} N={n} {name}: {timings[name]:.1f} ms/step", flush=True)
    return timings


if __name__ == "__main__":
    bench()
