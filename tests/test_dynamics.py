"""Tests that RSSM, VSG and SVSG steps equal their equations (module docstrings of
vsg/dynamics/rssm.py, svsg.py and cells.py).

Each model gets random weights (biases and LayerNorm parameters included); a NumPy float64
reference written from those equations, using the module's weight values, is compared with one
`img_step` / `obs_step`. Stochastic gates are checked against the uniform draw that the model's
generator makes from the same state, and the mixing uses the gate the step actually sampled.
"""

import numpy as np
import pytest
import tensorflow as tf

from vsg.config import load_config
from vsg.dynamics import make_dynamics

B, A, E, S, K = 3, 2, 8, 4, 3
VARIANTS = {
    "rssm": ["dreamerv2", "--dyn_discrete", str(K)],
    "vsg": ["vsg", "--dyn_discrete", str(K)],
    "svsg": ["svsg"],
    "svsg_discrete": ["svsg", "--dyn_discrete", str(K)],
}


def build(variant, seed=0):
    """A model of `variant` with every variable set to random values."""
    preset, *flags = VARIANTS[variant]
    config = load_config(["--configs", "dmc", preset, "tiny", "--dyn_stoch", str(S), *flags])
    model = make_dynamics(config, A, E, tf.random.Generator.from_seed(seed))
    gen = np.random.default_rng(seed)
    for var in model.trainable_variables:
        var.assign(gen.normal(scale=0.5, size=var.shape).astype(np.float32))
    return model


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def dense(layer, x):
    return x @ layer.kernel.numpy().astype(np.float64) + layer.bias.numpy()


def layer_norm(norm, x):
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    return x * norm.scale.numpy() + norm.offset.numpy()


def one_hot(x):
    return np.eye(x.shape[-1])[x.argmax(-1)]


def stats(model, raw):
    """Latent statistics and mode from the raw Dense output."""
    if model.latent.flat_size != model.latent.stoch:
        logits = raw.reshape(raw.shape[0], S, K)
        return {"logits": logits}, one_hot(logits)
    mean, std = np.split(raw, 2, -1)
    return {"mean": mean, "std": 2 * sigmoid(std / 2) + 0.1}, mean


def candidate(model, x, h):
    """[r, c, u] = Dense([x, h]) (+ LayerNorm); c = tanh(sigmoid(r) c); p = sigmoid(u - 1)."""
    cell = model.cell
    parts = dense(cell.linear, np.concatenate([x, h], -1))
    if cell.norm is not None:
        parts = layer_norm(cell.norm, parts)
    size = cell.size
    reset, cand, update = parts[:, :size], parts[:, size : 2 * size], parts[:, 2 * size :]
    return np.tanh(sigmoid(reset) * cand), sigmoid(update - 1)


def random_prev(model, seed=1):
    gen = np.random.default_rng(seed)
    prev = {key: value.numpy() for key, value in model.initial(B).items()}
    if model.latent.flat_size != model.latent.stoch:
        prev["stoch"] = np.eye(K, dtype=np.float32)[gen.integers(0, K, (B, S))]
    else:
        prev["stoch"] = gen.normal(size=(B, S)).astype(np.float32)
    if "deter" in prev:
        prev["deter"] = gen.uniform(-1, 1, prev["deter"].shape).astype(np.float32)
    return {key: tf.constant(value) for key, value in prev.items()}


def inputs(seed=2):
    gen = np.random.default_rng(seed)
    action = gen.uniform(-1, 1, (B, A)).astype(np.float32)
    embed = gen.normal(size=(B, E)).astype(np.float32)
    return action, embed


def reference(model, prev, action, embed, gate):
    """NumPy prior and posterior (mode latents) for `gate`; None = the soft GRU's p."""
    prev = {key: np.asarray(value, np.float64) for key, value in prev.items()}
    flat_prev = prev["stoch"].reshape(B, -1)
    x = elu(dense(model.img_in, np.concatenate([flat_prev, action], -1)))
    if "deter" in prev:  # RSSM / VSG
        cand, prob = candidate(model, x, prev["deter"])
        g = prob if gate is None else gate
        deter = g * cand + (1 - g) * prev["deter"]
        prior_stats, prior_z = stats(
            model, dense(model.img_stats, elu(dense(model.img_out, deter)))
        )
        post_in = np.concatenate([deter, embed], -1)
        post_stats, post_z = stats(
            model, dense(model.obs_stats, elu(dense(model.obs_out, post_in)))
        )
        prior = {"deter": deter, "stoch": prior_z, **prior_stats}
        post = {"deter": deter, "stoch": post_z, **post_stats}
    else:  # SVSG
        cand, prob = candidate(model, x, flat_prev)
        g = np.repeat(prob if gate is None else gate, cand.shape[-1] // S, -1)
        prior_stats, prior_z = stats(model, dense(model.img_stats, elu(dense(model.img_out, cand))))
        post_in = np.concatenate([cand, embed], -1)
        post_stats, post_z = stats(
            model, dense(model.obs_stats, elu(dense(model.obs_out, post_in)))
        )

        def mix(z):
            return (g * z.reshape(B, -1) + (1 - g) * flat_prev).reshape(z.shape)

        prior = {"stoch": mix(prior_z), "cand": cand, **prior_stats}
        post = {"stoch": mix(post_z), "cand": cand, **post_stats}
    prior["gate_prob"] = post["gate_prob"] = prob
    return post, prior


def step(model, prev, action, embed):
    """obs_step with mode latents; returns (post, prior, the uniform draw of the gate)."""
    state = model.rng.state.numpy()
    uniform = model.rng.uniform([B, model.gate_size], dtype=tf.float32).numpy()
    model.rng.reset(state)
    post, prior = model.obs_step(prev, action, embed, tf.zeros([B], bool), sample=False)
    return (
        {k: v.numpy() for k, v in post.items()},
        {k: v.numpy() for k, v in prior.items()},
        uniform,
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_matches_spec_equations(variant):
    """Prior and posterior states equal the NumPy reference; gates are Bernoulli(p) draws."""
    model = build(variant)
    prev = random_prev(model)
    action, embed = inputs()
    post, prior, uniform = step(model, prev, action, embed)
    stochastic = model.cell.stochastic_gate
    if stochastic:
        np.testing.assert_array_equal(prior["gate"], uniform < prior["gate_prob"])
        assert 0 < prior["gate"].mean() < 1
    want_post, want_prior = reference(
        model, prev, action, embed, prior["gate"] if stochastic else None
    )
    for got, want in [(prior, want_prior), (post, want_post)]:
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, rtol=2e-4, atol=2e-5, err_msg=key)
    if not stochastic:
        np.testing.assert_array_equal(prior["gate"], prior["gate_prob"])


def tf_candidate(model, prev, action):
    """The VSG cell's candidate c_t [B, D] as TensorFlow computes it."""
    x = model.img_in(tf.concat([model.latent.flatten(prev["stoch"]), action], -1))
    return model.cell.candidate(x, prev["deter"])[0].numpy()


@pytest.mark.parametrize("variant", ["vsg", "svsg", "svsg_discrete"])
def test_closed_gate_copies_and_open_gate_overwrites_exactly(variant):
    """Gates are exactly 0/1; where g = 0 the state keeps its previous value bit-exactly, where
    g = 1 it holds the new value (VSG: candidate c_t; SVSG: the latent's mode) bit-exactly."""
    model = build(variant)
    prev = random_prev(model)
    action, embed = inputs()
    post, prior, _ = step(model, prev, action, embed)
    assert set(np.unique(prior["gate"])) == {0.0, 1.0}
    if "deter" in prev:
        cases = [(prior["deter"], prev["deter"].numpy(), tf_candidate(model, prev, action))]
    else:
        mode = [s["mean"] if "mean" in s else one_hot(s["logits"]) for s in (prior, post)]
        old = prev["stoch"].numpy()
        cases = [(s["stoch"], old, m) for s, m in zip((prior, post), mode, strict=True)]
    for state, old, new in cases:
        state, old, new = (x.reshape(B, -1) for x in (state, old, new))
        gate = np.repeat(prior["gate"], state.shape[-1] // model.gate_size, -1)
        np.testing.assert_array_equal(state[gate == 0], old[gate == 0])
        np.testing.assert_array_equal(state[gate == 1], new[gate == 1])


@pytest.mark.parametrize("variant", ["vsg", "svsg"])
def test_straight_through_gate_gradient(variant):
    """d h_t / d p = (new - h_{t-1}) in the backward pass, checked through the update bias:
    d sum(w h_t) / d b_u = sum_B w (new - h_{t-1}) p (1 - p)."""
    model = build(variant)
    prev = random_prev(model)
    action, _ = inputs()
    weight = np.random.default_rng(3).normal(size=(B, model.cell.size)).astype(np.float32)
    bias = model.cell.linear.bias
    with tf.GradientTape() as tape:
        state = model.img_step(prev, action, sample=False)
        key = "deter" if "deter" in state else "stoch"
        objective = tf.reduce_sum(weight * state[key])
    grad = tape.gradient(objective, bias).numpy()[2 * model.cell.size :]
    prob = state["gate_prob"].numpy()
    new = tf_candidate(model, prev, action) if key == "deter" else state["mean"].numpy()
    want = (weight * (new - prev[key].numpy()) * prob * (1 - prob)).sum(0)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("variant", ["vsg", "svsg"])
def test_posterior_reuses_prior_gate_and_path(variant):
    """The posterior keeps the prior's gate, gate_prob and deter (VSG) / cand (SVSG), and the
    gate does not depend on the current observation."""
    model = build(variant)
    prev = random_prev(model)
    action, embed = inputs()
    state = model.rng.state.numpy()
    post, prior, _ = step(model, prev, action, embed)
    model.rng.reset(state)
    other, _, _ = step(model, prev, action, embed + 5.0)
    shared = ["gate", "gate_prob", "deter" if "deter" in prior else "cand"]
    for key in shared:
        np.testing.assert_array_equal(post[key], prior[key], err_msg=key)
        np.testing.assert_array_equal(other[key], prior[key], err_msg=key)
    assert not np.allclose(other["stoch"], post["stoch"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_observe_shapes_and_reset(variant):
    """observe returns [B, T, ...]; a step with is_first starts from the initial state with a
    zero action, whatever came before."""
    model = build(variant)
    T = 5
    gen = np.random.default_rng(4)
    action = gen.uniform(-1, 1, (B, T, A)).astype(np.float32)
    embed = gen.normal(size=(B, T, E)).astype(np.float32)
    is_first = np.zeros((B, T), bool)
    is_first[:, 0] = True
    is_first[0, 3] = True
    post, prior = model.observe(*(tf.constant(x) for x in (embed, action, is_first)))
    single = model.initial(B)
    for states in (post, prior):
        assert states.keys() == single.keys()
        for key, value in states.items():
            assert value.shape == (B, T, *single[key].shape[1:]), key
    # A quantity that does not depend on sampling: VSG's deter does (through the gate).
    key = "cand" if "cand" in single else "gate_prob" if model.cell.stochastic_gate else "deter"
    fresh = model.img_step(model.initial(1), tf.zeros([1, A]), sample=False)
    for t in (0, 3):
        np.testing.assert_allclose(post[key][0, t], fresh[key][0], rtol=1e-6, atol=1e-7)
    assert not np.allclose(post[key][1, 3], fresh[key][0])


@pytest.mark.parametrize("variant", ["vsg", "svsg"])
def test_transition_with_recorded_gate_reproduces_step(variant):
    """transition(prev, action, recorded gate) gives the recorded state and prior stats exactly;
    with gate=None it mixes with the probability."""
    model = build(variant)
    prev = random_prev(model)
    action, _ = inputs()
    state = model.img_step(prev, action, sample=False)
    out = model.transition(prev, action, state["gate"])
    for key in out:
        np.testing.assert_array_equal(out[key].numpy(), state[key].numpy(), err_msg=key)
    soft = model.transition(prev, action)
    _, want = reference(model, prev, action, np.zeros((B, E), np.float32), None)
    key = "deter" if "deter" in state else "stoch"
    np.testing.assert_allclose(soft[key].numpy(), want[key], rtol=2e-4, atol=2e-5)
