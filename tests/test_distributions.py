"""Tests for vsg.distributions: straight-through samplers, closed-form KLs, the action dist."""

import numpy as np
import pytest
import tensorflow as tf

from vsg.distributions import (
    ActionDist,
    DiscreteLatent,
    GaussianLatent,
    bernoulli_kl,
    sample_gate,
)


def rng(seed=0):
    return tf.random.Generator.from_seed(seed)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_discrete_sample_is_one_hot_with_softmax_gradient():
    """Forward: one-hot per variable; backward: the softmax Jacobian-vector product."""
    latent = DiscreteLatent(stoch=8, classes=5)
    logits = tf.Variable(np.random.default_rng(0).normal(size=(4, 8, 5)).astype(np.float32))
    weight = np.random.default_rng(1).normal(size=(4, 8, 5)).astype(np.float32)
    with tf.GradientTape() as tape:
        sample = latent.sample({"logits": logits}, rng())
        objective = tf.reduce_sum(weight * sample)
    grad = tape.gradient(objective, logits).numpy()
    sample = sample.numpy()
    assert set(np.unique(sample)) == {0.0, 1.0}
    np.testing.assert_array_equal(sample.sum(-1), np.ones((4, 8)))
    p = softmax(logits.numpy())
    expected = p * (weight - (p * weight).sum(-1, keepdims=True))
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_discrete_sample_frequencies_follow_softmax():
    """Gumbel-max samples pick class k with probability softmax(logits)_k."""
    latent = DiscreteLatent(stoch=1, classes=3)
    logits = np.array([1.0, 0.0, -1.0], np.float32)
    batch = np.broadcast_to(logits, (20000, 1, 3))
    sample = latent.sample({"logits": tf.constant(batch)}, rng()).numpy()
    np.testing.assert_allclose(sample.mean((0, 1)), softmax(logits), atol=0.015)


def test_gaussian_sample_is_reparameterised():
    """sample = mean + std * noise, so d sample / d mean = 1 and d sample / d std = noise."""
    latent = GaussianLatent(stoch=4, min_std=0.1)
    mean = tf.Variable([[0.5, -1.0, 2.0, 0.0]])
    std = tf.Variable([[0.3, 1.0, 2.0, 0.5]])
    with tf.GradientTape(persistent=True) as tape:
        sample = latent.sample({"mean": mean, "std": std}, rng())
    d_mean = tape.jacobian(sample, mean).numpy().reshape(4, 4)
    np.testing.assert_allclose(d_mean, np.eye(4), atol=1e-6)
    noise = (sample - mean) / std
    d_std = tape.gradient(sample, std).numpy()
    np.testing.assert_allclose(d_std, noise.numpy(), rtol=1e-5)


def test_gaussian_std_parameterisation():
    """std = 2 sigmoid(raw / 2) + min_std (DreamerV2's 'sigmoid2')."""
    raw = np.array([[0.3, -0.2, -4.0, 3.0]], np.float32)
    stats = GaussianLatent(stoch=2, min_std=0.1).stats(tf.constant(raw))
    np.testing.assert_allclose(stats["mean"].numpy(), raw[:, :2])
    expected = 2.0 / (1.0 + np.exp(-raw[:, 2:] / 2.0)) + 0.1
    np.testing.assert_allclose(stats["std"].numpy(), expected, rtol=1e-6)


def test_gate_sample_is_hard_with_straight_through_gradient():
    """sample_gate returns exact 0/1 and d gate / d prob = 1 elementwise."""
    prob = tf.Variable(np.linspace(0.05, 0.95, 12, dtype=np.float32).reshape(3, 4))
    with tf.GradientTape() as tape:
        gate = sample_gate(prob, rng())
    assert set(np.unique(gate.numpy())) <= {0.0, 1.0}
    np.testing.assert_array_equal(tape.gradient(gate, prob).numpy(), np.ones((3, 4)))


def test_gate_frequency_matches_probability():
    """Over many draws each gate opens with frequency prob."""
    prob = np.array([0.0, 0.1, 0.4, 0.75, 1.0], np.float32)
    gates = sample_gate(tf.constant(np.tile(prob, (20000, 1))), rng()).numpy()
    np.testing.assert_allclose(gates.mean(0), prob, atol=0.012)
    assert gates[:, 0].max() == 0.0 and gates[:, -1].min() == 1.0


def test_categorical_kl_matches_closed_form():
    """KL(p || q) = sum_k p_k (log p_k - log q_k) per variable."""
    gen = np.random.default_rng(2)
    lhs, rhs = gen.normal(size=(2, 3, 4)), gen.normal(size=(2, 3, 4))
    latent = DiscreteLatent(stoch=3, classes=4)
    kl = latent.kl({"logits": tf.constant(lhs)}, {"logits": tf.constant(rhs)}).numpy()
    p, q = softmax(lhs), softmax(rhs)
    expected = (p * (np.log(p) - np.log(q))).sum(-1)
    assert kl.shape == (2, 3) and kl.dtype == np.float32
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    np.testing.assert_allclose(latent.kl({"logits": lhs}, {"logits": lhs}).numpy(), 0, atol=1e-6)


def test_gaussian_kl_matches_closed_form():
    """KL(N(m1, s1) || N(m2, s2)) = log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2."""
    gen = np.random.default_rng(3)
    m1, m2 = gen.normal(size=(2, 5)), gen.normal(size=(2, 5))
    s1, s2 = gen.uniform(0.2, 2.0, (2, 5)), gen.uniform(0.2, 2.0, (2, 5))
    latent = GaussianLatent(stoch=5, min_std=0.1)
    kl = latent.kl({"mean": m1, "std": s1}, {"mean": m2, "std": s2}).numpy()
    expected = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prior", [0.4, 0.1])
def test_bernoulli_kl_matches_closed_form(prior):
    """KL(Bern(p) || Bern(pi)) = p log(p/pi) + (1-p) log((1-p)/(1-pi)); zero at p = pi."""
    p = np.array([0.01, 0.2, prior, 0.7, 0.99])
    kl = bernoulli_kl(tf.constant(p, tf.float32), prior).numpy()
    expected = p * np.log(p / prior) + (1 - p) * np.log((1 - p) / (1 - prior))
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-6)
    assert kl[2] == pytest.approx(0.0, abs=1e-6)


def test_action_dist_samples_in_open_interval_and_mode_is_tanh_mean():
    """Samples lie strictly inside (-1, 1) with shape [N, A]; the mode is tanh(raw mean)."""
    raw = np.random.default_rng(4).normal(scale=3.0, size=(500, 6)).astype(np.float32)
    dist = ActionDist(tf.constant(raw), min_std=0.1)
    sample = dist.sample(rng()).numpy()
    assert sample.shape == (500, 3)
    assert np.all(np.abs(sample) < 1.0)
    np.testing.assert_allclose(dist.mode().numpy(), np.tanh(raw[:, :3]), rtol=1e-6)
    np.testing.assert_allclose(
        dist.std.numpy(), 2.0 / (1.0 + np.exp(-raw[:, 3:] / 2.0)) + 0.1, rtol=1e-6
    )
    assert np.all(np.isfinite(dist.entropy().numpy()))


def test_action_sample_gradient_is_the_raw_samples_not_doubled():
    """The clip is straight-through: d action / d params equals d raw sample / d params."""
    raw = tf.Variable(np.random.default_rng(5).normal(size=(64, 6)).astype(np.float32))
    dist_rng, raw_rng = rng(), rng()
    with tf.GradientTape(persistent=True) as tape:
        dist = ActionDist(raw, min_std=0.1)
        action = dist.sample(dist_rng)
        seed = tf.cast(raw_rng.make_seeds(1)[:, 0], tf.int32)
        sample = dist.dist.sample(seed=seed)  # the same draw, unclipped
    np.testing.assert_allclose(action.numpy(), np.clip(sample.numpy(), -1 + 1e-6, 1 - 1e-6))
    grad_action = tape.gradient(action, raw).numpy()
    grad_sample = tape.gradient(sample, raw).numpy()
    assert np.abs(grad_sample).max() > 0
    np.testing.assert_allclose(grad_action, grad_sample, rtol=1e-6, atol=1e-7)
