"""Latent distributions, straight-through samplers and closed-form KL divergences.

Statistics are dicts of tensors so they can live inside the dynamics state and pass through
`tf.scan`. KL terms are returned per latent variable ([..., S]) and computed in float32, so
callers decide how to mask and sum them. All sampling draws from a `tf.random.Generator`
that the agent owns and checkpoints.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

_EPS = 1e-6


def straight_through(hard, soft):
    """Forward value `hard`, gradient of `soft`."""
    # Parenthesised so the forward value is exactly `hard`: (soft - sg(soft)) is exactly 0,
    # whereas hard + soft - soft can round (1 + p - p != 1 in float32).
    return hard + (soft - tf.stop_gradient(soft))


class DiscreteLatent:
    """S categorical variables with K classes; one-hot samples with straight-through gradients.

    Stats: {'logits': [..., S, K]}. Samples: [..., S, K].
    """

    def __init__(self, stoch, classes):
        self.stoch, self.classes = stoch, classes
        self.stats_size = stoch * classes
        self.flat_size = stoch * classes

    def stats(self, raw):
        shape = tf.concat([tf.shape(raw)[:-1], [self.stoch, self.classes]], 0)
        return {"logits": tf.reshape(raw, shape)}

    def initial(self, batch_size, dtype):
        zeros = tf.zeros([batch_size, self.stoch, self.classes], dtype)
        return {"logits": zeros}, zeros

    def sample(self, stats, rng):
        logits = stats["logits"]
        uniform = rng.uniform(tf.shape(logits), _EPS, 1.0 - _EPS, dtype=tf.float32)
        gumbel = tf.cast(-tf.math.log(-tf.math.log(uniform)), logits.dtype)
        hard = tf.one_hot(tf.argmax(logits + gumbel, -1), self.classes, dtype=logits.dtype)
        return straight_through(hard, tf.nn.softmax(logits, -1))

    def mode(self, stats):
        logits = stats["logits"]
        return tf.one_hot(tf.argmax(logits, -1), self.classes, dtype=logits.dtype)

    def flatten(self, sample):
        shape = tf.concat([tf.shape(sample)[:-2], [self.flat_size]], 0)
        return tf.reshape(sample, shape)

    def kl(self, lhs, rhs):
        """KL(lhs || rhs) per variable, [..., S], float32."""
        log_p = tf.nn.log_softmax(tf.cast(lhs["logits"], tf.float32), -1)
        log_q = tf.nn.log_softmax(tf.cast(rhs["logits"], tf.float32), -1)
        return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), -1)

    def entropy(self, stats):
        log_p = tf.nn.log_softmax(tf.cast(stats["logits"], tf.float32), -1)
        return -tf.reduce_sum(tf.exp(log_p) * log_p, -1)


class GaussianLatent:
    """S independent Normal variables; std = 2 sigmoid(raw / 2) + min_std (DreamerV2).

    Stats: {'mean': [..., S], 'std': [..., S]}. Samples: [..., S] (reparameterised).
    """

    def __init__(self, stoch, min_std):
        self.stoch, self.min_std = stoch, min_std
        self.stats_size = 2 * stoch
        self.flat_size = stoch

    def stats(self, raw):
        mean, std = tf.split(raw, 2, -1)
        std = 2.0 * tf.sigmoid(std / 2.0) + self.min_std
        return {"mean": mean, "std": std}

    def initial(self, batch_size, dtype):
        zeros = tf.zeros([batch_size, self.stoch], dtype)
        return {"mean": zeros, "std": tf.ones_like(zeros)}, zeros

    def sample(self, stats, rng):
        noise = rng.normal(tf.shape(stats["mean"]), dtype=tf.float32)
        return stats["mean"] + stats["std"] * tf.cast(noise, stats["mean"].dtype)

    def mode(self, stats):
        return stats["mean"]

    def flatten(self, sample):
        return sample

    def kl(self, lhs, rhs):
        """KL(lhs || rhs) per dimension, [..., S], float32."""
        m1, s1 = tf.cast(lhs["mean"], tf.float32), tf.cast(lhs["std"], tf.float32)
        m2, s2 = tf.cast(rhs["mean"], tf.float32), tf.cast(rhs["std"], tf.float32)
        return tf.math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2.0 * s2**2) - 0.5

    def entropy(self, stats):
        std = tf.cast(stats["std"], tf.float32)
        return 0.5 * math.log(2.0 * math.pi * math.e) + tf.math.log(std)


def make_latent(config):
    """The latent family chosen by `dyn_discrete` (0 = Gaussian)."""
    if config.dyn_discrete:
        return DiscreteLatent(config.dyn_stoch, config.dyn_discrete)
    return GaussianLatent(config.dyn_stoch, config.dyn_min_std)


def sample_gate(prob, rng):
    """Hard Bernoulli(prob) sample in {0, 1}; gradient flows to `prob` (straight-through)."""
    uniform = rng.uniform(tf.shape(prob), dtype=tf.float32)
    hard = tf.cast(uniform < tf.cast(prob, tf.float32), prob.dtype)
    return straight_through(hard, prob)


def bernoulli_kl(prob, prior):
    """KL(Bernoulli(prob) || Bernoulli(prior)) elementwise, float32."""
    p = tf.clip_by_value(tf.cast(prob, tf.float32), _EPS, 1.0 - _EPS)
    return p * tf.math.log(p / prior) + (1.0 - p) * tf.math.log((1.0 - p) / (1.0 - prior))


def normal_nll(target, mean, event_dims):
    """-log N(target; mean, 1) summed over the last `event_dims` axes, float32."""
    diff = tf.cast(target, tf.float32) - tf.cast(mean, tf.float32)
    nll = 0.5 * tf.square(diff) + 0.5 * math.log(2.0 * math.pi)
    return tf.reduce_sum(nll, list(range(-event_dims, 0))) if event_dims else nll


def bernoulli_nll(target, logits):
    """-log Bernoulli(target; sigmoid(logits)) for soft targets in [0, 1], float32."""
    logits = tf.cast(logits, tf.float32)
    return tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(target, tf.float32), logits)


class ActionDist:
    """Truncated Normal on [-1, 1] with mean tanh(m) and std 2 sigmoid(s / 2) + min_std.

    Samples are clipped to +-(1 - 1e-6) with a straight-through gradient (DreamerV2).
    """

    def __init__(self, raw, min_std):
        raw = tf.cast(raw, tf.float32)
        mean, std = tf.split(raw, 2, -1)
        self.mean = tf.tanh(mean)
        self.std = 2.0 * tf.sigmoid(std / 2.0) + min_std
        self.dist = tfp.distributions.TruncatedNormal(self.mean, self.std, -1.0, 1.0)

    def sample(self, rng):
        seed = tf.cast(rng.make_seeds(1)[:, 0], tf.int32)
        sample = self.dist.sample(seed=seed)
        # Forward: the clipped value; gradient: the raw sample's only. `tf.clip_by_value`
        # itself passes gradients inside the bounds, so it sits under the stop-gradient
        # (`straight_through(clip, sample)` would count the sample's gradient twice).
        clipped = tf.clip_by_value(sample, -1.0 + _EPS, 1.0 - _EPS)
        return sample + tf.stop_gradient(clipped - sample)

    def mode(self):
        return self.mean

    def entropy(self):
        return tf.reduce_sum(self.dist.entropy(), -1)
