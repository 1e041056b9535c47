"""Tests for the world-model and behaviour losses against closed forms."""

import numpy as np
import pytest
import tensorflow as tf

from vsg.behavior import lambda_return
from vsg.config import load_config
from vsg.dynamics import make_dynamics

B, T, S = 2, 3, 4
ALPHA, SCALE = 0.8, 1.5


def dynamics(discrete=0):
    config = load_config(
        ["--configs", "dmc", "dreamerv2", "tiny", "--dyn_stoch", str(S)]
        + ["--dyn_discrete", str(discrete)]
    )
    return make_dynamics(config, 2, 8, tf.random.Generator.from_seed(0))


def gaussian_stats(seed):
    gen = np.random.default_rng(seed)
    mean = gen.normal(size=(B, T, S)).astype(np.float32)
    std = gen.uniform(0.3, 1.5, (B, T, S)).astype(np.float32)
    return mean, std


def gaussian_kl(m1, s1, m2, s2):
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def gaussian_case():
    """Variables for post/prior stats and the NumPy per-dim KL and its partial derivatives."""
    m1, s1 = gaussian_stats(0)
    m2, s2 = gaussian_stats(1)
    kl = gaussian_kl(m1, s1, m2, s2)
    grads = {
        "post_mean": (m1 - m2) / s2**2,
        "post_std": -1 / s1 + s1 / s2**2,
        "prior_mean": -(m1 - m2) / s2**2,
        "prior_std": 1 / s2 - (s1**2 + (m1 - m2) ** 2) / s2**3,
    }
    variables = {
        "post_mean": tf.Variable(m1),
        "post_std": tf.Variable(s1),
        "prior_mean": tf.Variable(m2),
        "prior_std": tf.Variable(s2),
    }
    return variables, kl, grads


def states(variables, gate=None):
    post = {"mean": variables["post_mean"], "std": variables["post_std"]}
    prior = {"mean": variables["prior_mean"], "std": variables["prior_std"]}
    if gate is not None:
        post["gate"] = prior["gate"] = gate
    return post, prior


@pytest.mark.parametrize("above_free", [True, False])
def test_kl_loss_balance_and_free_nats(above_free):
    """Loss = scale ((1-a) max(KL_lhs, F) + a max(KL_rhs, F)); the prior's gradient is the KL
    gradient times a, the posterior's times 1-a, and both vanish below the free nats."""
    model = dynamics()
    variables, kl, grads = gaussian_case()
    kl_mean = kl.sum(-1).mean()
    free = kl_mean - 1.0 if above_free else kl_mean + 1.0
    with tf.GradientTape() as tape:
        loss, per_step = model.kl_loss(*states(variables), ALPHA, free, SCALE)
    np.testing.assert_allclose(per_step.numpy(), kl.sum(-1), rtol=1e-5)
    expected = SCALE * max(kl_mean, free)
    assert loss.numpy() == pytest.approx(expected, rel=1e-5)
    actual = tape.gradient(loss, variables)
    for name, grad in grads.items():
        weight = ALPHA if name.startswith("prior") else 1.0 - ALPHA
        want = SCALE * weight * grad / (B * T) if above_free else np.zeros_like(grad)
        got = np.zeros_like(grad) if actual[name] is None else actual[name].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7, err_msg=name)


def test_kl_loss_free_nats_apply_to_each_side_separately():
    """With lhs above F and rhs below it, only the posterior side gets gradient."""
    model = dynamics()
    variables, kl, grads = gaussian_case()
    kl_mean = kl.sum(-1).mean()
    post, prior = states(variables)
    with tf.GradientTape() as tape:
        lhs, rhs = model.kl_terms(post, prior, False)
        loss = (1 - ALPHA) * tf.maximum(tf.reduce_mean(lhs), kl_mean - 1.0)
        loss += ALPHA * tf.maximum(tf.reduce_mean(rhs), kl_mean + 1.0)
    actual = tape.gradient(loss, variables)
    np.testing.assert_allclose(lhs.numpy(), rhs.numpy())
    for name, grad in grads.items():
        want = (1 - ALPHA) * grad / (B * T) if name.startswith("post") else 0 * grad
        got = 0 * grad if actual[name] is None else actual[name].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7, err_msg=name)


def test_discrete_kl_loss_matches_closed_form():
    """Categorical KL summed over variables and averaged over B, T, with balance gradients."""
    model = dynamics(discrete=5)
    gen = np.random.default_rng(5)
    post_logits = tf.Variable(gen.normal(size=(B, T, S, 5)).astype(np.float32))
    prior_logits = tf.Variable(gen.normal(size=(B, T, S, 5)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        loss, per_step = model.kl_loss(
            {"logits": post_logits}, {"logits": prior_logits}, ALPHA, 0.0, SCALE
        )
        log_p = tf.nn.log_softmax(post_logits)
        log_q = tf.nn.log_softmax(prior_logits)
        plain = tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), [-2, -1]))
    p = np.exp(log_p.numpy())
    kl = (p * (log_p.numpy() - log_q.numpy())).sum(-1).sum(-1)
    np.testing.assert_allclose(per_step.numpy(), kl, rtol=1e-5)
    assert loss.numpy() == pytest.approx(SCALE * kl.mean(), rel=1e-5)
    for var, weight in [(post_logits, 1 - ALPHA), (prior_logits, ALPHA)]:
        np.testing.assert_allclose(
            tape.gradient(loss, var).numpy(),
            SCALE * weight * tape.gradient(plain, var).numpy(),
            rtol=1e-4,
            atol=1e-7,
        )


def test_masked_kl_sums_gate_times_kl():
    """mask_by_gate: per-step KL = sum_dims gate * KL; the gate receives gradient scale * KL."""
    model = dynamics()
    variables, kl, _ = gaussian_case()
    gate_values = (np.random.default_rng(6).uniform(size=(B, T, S)) < 0.5).astype(np.float32)
    gate = tf.Variable(gate_values)
    with tf.GradientTape() as tape:
        loss, per_step = model.kl_loss(*states(variables, gate), ALPHA, 0.0, SCALE, True)
    masked = (gate_values * kl).sum(-1)
    np.testing.assert_allclose(per_step.numpy(), masked, rtol=1e-5, atol=1e-7)
    assert loss.numpy() == pytest.approx(SCALE * masked.mean(), rel=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, gate).numpy(), SCALE * kl / (B * T), rtol=1e-4)


@pytest.mark.parametrize("above_free", [True, False])
def test_gate_loss(above_free):
    """gate_loss = scale * max(mean_{B,T} sum_dims KL(Bern(p) || Bern(pi)), free)."""
    model = dynamics()
    prior, scale = 0.4, 0.1
    prob = np.random.default_rng(7).uniform(0.05, 0.95, (B, T, 16)).astype(np.float32)
    kl = (prob * np.log(prob / prior) + (1 - prob) * np.log((1 - prob) / (1 - prior))).sum(-1)
    free = kl.mean() - 0.5 if above_free else kl.mean() + 0.5
    loss, kl_value = model.gate_loss({"gate_prob": tf.constant(prob)}, prior, free, scale)
    assert kl_value.numpy() == pytest.approx(kl.mean(), rel=1e-5)
    assert loss.numpy() == pytest.approx(scale * max(kl.mean(), free), rel=1e-5)


@pytest.mark.parametrize(
    "lambda_, expected",
    [
        (0.5, [21.88, 26.4, 31.0]),
        (0.0, [19.0, 26.0, 31.0]),
        (1.0, [25.12, 26.8, 31.0]),
    ],
)
def test_lambda_return_hand_computed(lambda_, expected):
    """R_k = r_k + g_k ((1-l) V_{k+1} + l R_{k+1}), R_3 = bootstrap, worked out by hand.

    r = (1, 2, 3), V = (10, 20, 30), g = (0.9, 0.8, 0.7), bootstrap 40; V_0 is never used.
    """
    reward = tf.constant([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    value = tf.constant([[10.0, -99.0], [20.0, 20.0], [30.0, 30.0]])
    discount = tf.constant([[0.9, 0.9], [0.8, 0.8], [0.7, 0.7]])
    returns = lambda_return(reward, value, discount, tf.constant([40.0, 40.0]), lambda_)
    assert returns.shape == (3, 2)
    np.testing.assert_allclose(returns.numpy(), np.tile(np.array(expected)[:, None], 2), rtol=1e-6)
