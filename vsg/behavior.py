"""Actor-critic trained in imagination with dynamics back-propagation, as in DreamerV2.

Hafner et al., "Mastering Atari with Discrete World Models", ICLR 2021; VSG keeps it unchanged.
"""

import tensorflow as tf

from vsg import nn
from vsg.distributions import ActionDist, normal_nll
from vsg.optim import Adam


def lambda_return(reward, value, discount, bootstrap, lambda_):
    """TD(lambda) targets over time-major inputs [H, N]; bootstrap [N].

    R_k = r_k + gamma_k * ((1 - lambda) * V_{k+1} + lambda * R_{k+1}),  R_H = bootstrap,
    where V_{k+1} for the last step is the bootstrap value. Returns [H, N].
    """
    next_value = tf.concat([value[1:], bootstrap[None]], 0)
    inputs = reward + discount * next_value * (1.0 - lambda_)
    returns = []
    last = bootstrap
    for k in reversed(range(reward.shape[0])):
        last = inputs[k] + discount[k] * lambda_ * last
        returns.append(last)
    return tf.stack(returns[::-1], 0)


def make_actor(config, feature_size, action_size, dtype=tf.float32):
    """The actor network: features [N, F] -> action distribution inputs [N, 2 A]."""
    return nn.MLP(feature_size, 2 * action_size, config.actor_layers, config.units, dtype, "actor")


class ActorCritic(tf.Module):
    """Truncated-normal actor, Normal(mean, 1) critic and a hard-copied slow critic."""

    def __init__(self, config, feature_size, action_size, rng, dtype=tf.float32):
        super().__init__(name="behavior")
        self.config = config
        self.rng = rng
        units = config.units
        self.actor = make_actor(config, feature_size, action_size, dtype)
        self.critic = nn.MLP(feature_size, 1, config.value_layers, units, dtype, "critic")
        self.slow_critic = nn.MLP(feature_size, 1, config.value_layers, units, dtype, "slow")
        for slow, fast in zip(self.slow_critic.variables, self.critic.variables, strict=True):
            slow.assign(fast)
        scaling = dtype == tf.float16
        c = config
        self.actor_opt = Adam(
            "actor",
            self.actor.variables,
            c.actor_lr,
            c.opt_eps,
            c.actor_grad_clip,
            c.weight_decay,
            scaling,
        )
        self.critic_opt = Adam(
            "value",
            self.critic.variables,
            c.value_lr,
            c.opt_eps,
            c.value_grad_clip,
            c.weight_decay,
            scaling,
        )
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")

    def policy(self, features):
        """The action distribution for features [N, F]."""
        return ActionDist(self.actor(features), self.config.actor_min_std)

    def train(self, world_model, start):
        """One actor and one critic step from posterior start states [B, T, ...]."""
        c = self.config
        if c.pred_discount:  # the last step has no discount target to learn from
            start = {key: value[:, :-1] for key, value in start.items()}
        start = {key: tf.reshape(v, [-1] + v.shape[2:].as_list()) for key, v in start.items()}
        self._update_slow_critic()
        with tf.GradientTape() as actor_tape:
            feat, reward, discount, entropy = self._imagine(world_model, start)
            value = tf.cast(self.slow_critic(feat)[..., 0], tf.float32)
            target = lambda_return(
                reward[:-1], value[:-1], discount[:-1], value[-1], c.discount_lambda
            )
            weight = tf.stop_gradient(
                tf.math.cumprod(tf.concat([tf.ones_like(discount[:1]), discount[:-2]], 0), 0)
            )
            actor_loss = -tf.reduce_mean(weight * (target + c.actor_entropy * entropy))
            scaled = self.actor_opt.scale(actor_loss)
        metrics = self.actor_opt.apply(actor_tape, scaled)
        with tf.GradientTape() as critic_tape:
            pred = self.critic(tf.stop_gradient(feat[:-1]))[..., 0]
            nll = normal_nll(tf.stop_gradient(target), pred, 0)
            value_loss = tf.reduce_mean(weight * nll)
            scaled = self.critic_opt.scale(value_loss)
        metrics.update(self.critic_opt.apply(critic_tape, scaled))
        self.updates.assign_add(1)
        metrics.update(
            {
                "actor/loss": actor_loss,
                "actor/entropy": tf.reduce_mean(entropy),
                "value/loss": value_loss,
                "value/mean": tf.reduce_mean(value),
                "imag/reward_mean": tf.reduce_mean(reward),
                "imag/reward_std": tf.math.reduce_std(reward),
                "imag/return_mean": tf.reduce_mean(target),
            }
        )
        return metrics

    def _imagine(self, world_model, start):
        """Imagined rollout from start states [N, ...], time-major.

        Returns features [H, N, F], rewards [H, N], discounts [H, N] and the policy entropy
        in the states where actions were chosen, s_0 .. s_{H-2}, [H - 1, N].
        """
        dynamics = world_model.dynamics
        entropies = []

        def act(features):
            dist = self.policy(features)
            entropies.append(dist.entropy())
            return dist.sample(self.rng)

        states, _ = dynamics.imagine(act, start, self.config.imag_horizon)
        feat = tf.transpose(tf.cast(dynamics.features(states), tf.float32), [1, 0, 2])
        reward = tf.cast(world_model.reward(feat)[..., 0], tf.float32)
        if world_model.discount is not None:
            discount = tf.sigmoid(tf.cast(world_model.discount(feat)[..., 0], tf.float32))
        else:
            discount = self.config.discount * tf.ones_like(reward)
        return feat, reward, discount, tf.stack(entropies, 0)

    def _update_slow_critic(self):
        # Hard copy (fraction 1) every `slow_target_update` updates, starting at update 0.
        c = self.config
        due = tf.equal(self.updates % c.slow_target_update, 0)
        mix = tf.where(due, tf.constant(c.slow_target_fraction, tf.float32), 0.0)
        for slow, fast in zip(self.slow_critic.variables, self.critic.variables, strict=True):
            slow.assign(mix * fast + (1.0 - mix) * slow)
