"""The agent: world model + actor-critic, compiled policy and training steps."""

import numpy as np
import tensorflow as tf

from vsg.behavior import ActorCritic
from vsg.world_model import WorldModel, preprocess_image

PRECISIONS = {"32": tf.float32, "16": tf.float16, "bf16": tf.bfloat16}


def as_batch(obs):
    """One env observation -> policy inputs (image, is_first) with a batch axis of 1."""
    return {"image": obs["image"][None], "is_first": np.array([obs["is_first"]])}


def compute_dtype(precision):
    """`auto` -> float32 on CPU (float16 is ~10x slower there), float16 on a GPU."""
    if precision == "auto":
        return tf.float16 if tf.config.list_physical_devices("GPU") else tf.float32
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto, 32, 16 or bf16, got '{precision}'")
    return PRECISIONS[precision]


class Agent(tf.Module):
    """Acts with the posterior state and the actor; learns from replayed sequences.

    `policy` and `train` are `tf.function`s; every sample comes from `self.rng`, a
    `tf.random.Generator` seeded from the run seed and saved in checkpoints.
    """

    def __init__(self, config, action_size):
        super().__init__(name="agent")
        self.config = config
        self.action_size = action_size
        self.dtype = compute_dtype(config.precision)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.wm = WorldModel(config, action_size, self.rng, self.dtype)
        feat = self.wm.dynamics.feature_size
        self.behavior = ActorCritic(config, feat, action_size, self.rng, self.dtype)

    def initial_policy_state(self, batch_size):
        """(latent state, previous action) before the first observation."""
        latent = self.wm.dynamics.initial(batch_size)
        return latent, tf.zeros([batch_size, self.action_size], tf.float32)

    @tf.function
    def policy(self, obs, state, explore):
        """obs: dict of [N, ...] (image, is_first). Returns (action [N, A], new state)."""
        latent, prev_action = state
        embed = self.wm.encoder(preprocess_image(obs["image"]))
        latent, _ = self.wm.dynamics.obs_step(latent, prev_action, embed, obs["is_first"])
        dist = self.behavior.policy(self.wm.dynamics.features(latent))
        action = tf.cond(explore, lambda: dist.sample(self.rng), dist.mode)
        return action, (latent, action)

    @tf.function
    def train(self, data):
        """One world-model step then one actor-critic step on data [B, T, ...]."""
        post, metrics = self.wm.train(data)
        metrics.update(self.behavior.train(self.wm, post))
        return metrics

    @tf.function
    def report(self, data):
        """Open-loop prediction video and the gate pattern for a few sequences."""
        return self.wm.open_loop_video(data)
