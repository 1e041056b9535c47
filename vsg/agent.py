"""The agent: world model + actor-critic, compiled policy and training steps; and the frozen
copy of its policy that evaluation acts with."""

import functools

import numpy as np
import tensorflow as tf

from vsg.behavior import ActorCritic, make_actor
from vsg.distributions import ActionDist
from vsg.dynamics import make_dynamics
from vsg.networks import ConvEncoder
from vsg.world_model import WorldModel, preprocess_image

PRECISIONS = {"32": tf.float32, "16": tf.float16, "bf16": tf.bfloat16}


def stack_observations(observations):
    """N env observations -> policy inputs (image [N, H, W, 3], is_first [N])."""
    return {
        "image": np.stack([obs["image"] for obs in observations]),
        "is_first": np.array([obs["is_first"] for obs in observations]),
    }


@functools.cache
def cpu_has_bfloat16():
    """Whether the CPU computes in bfloat16 natively (AVX-512 BF16 or AMX-BF16), from the Linux
    CPU flags; False where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return not {"avx512_bf16", "amx_bf16"}.isdisjoint(flags)


def compute_dtype(precision):
    """`auto` -> float16 on a GPU (with loss scaling), bfloat16 on a CPU with bfloat16
    arithmetic (an update at DreamerV2's sizes took 0.56x the float32 time on such a CPU),
    float32 on other CPUs (where float16 and bfloat16 are emulated, 8-10x slower)."""
    if precision == "auto":
        if tf.config.list_physical_devices("GPU"):
            return tf.float16
        return tf.bfloat16 if cpu_has_bfloat16() else tf.float32
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto, 32, 16 or bf16, got '{precision}'")
    return PRECISIONS[precision]


def use_jit(setting):
    """The `jit_compile` setting as a bool: `auto` compiles with XLA on a GPU only; on CPU
    XLA made an update of these conv-heavy networks ~1.8x slower and doubled its memory."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    if setting not in ("true", "false"):
        raise ValueError(f"jit_compile must be auto, true or false, got '{setting}'")
    return setting == "true"


def act(encoder, dynamics, action_dist, rng, obs, state, explore):
    """One acting step: encode obs, update the posterior state, pick an action.

    obs: dict of [N, ...] (image, is_first); state: (latent state, previous action [N, A]);
    `action_dist(features [N, F])` is the actor's distribution; `explore` samples it with `rng`,
    otherwise its mode is taken. Returns (action [N, A], new state).
    """
    latent, prev_action = state
    embed = encoder(preprocess_image(obs["image"]))
    latent, _ = dynamics.obs_step(latent, prev_action, embed, obs["is_first"])
    dist = action_dist(dynamics.features(latent))
    action = tf.cond(explore, lambda: dist.sample(rng), dist.mode)
    return action, (latent, action)


class Agent(tf.Module):
    """Acts with the posterior state and the actor; learns from replayed sequences.

    `policy` and `train` are `tf.function`s (`train` compiled with XLA if `jit_compile` says
    so). They are traced without AutoGraph: no tensor decides Python control flow here
    (sequences run in `tf.scan`, imagination is a fixed Python loop), and AutoGraph's rewrite
    of every called function's source cost about a fifth of the first update call. Every
    sample comes from `self.rng`, by default a `tf.random.Generator` seeded from the run seed
    and saved in checkpoints (anything with its `uniform`, `normal` and `make_seeds` may stand
    in: XLA draws other random numbers than TensorFlow's kernels, so comparing a compiled
    update with a plain one needs the same draws in both).
    """

    def __init__(self, config, action_size, rng=None):
        super().__init__(name="agent")
        self.config = config
        self.action_size = action_size
        self.dtype = compute_dtype(config.precision)
        self.rng = rng if rng is not None else tf.random.Generator.from_seed(config.seed)
        self.wm = WorldModel(config, action_size, self.rng, self.dtype)
        feat = self.wm.dynamics.feature_size
        self.behavior = ActorCritic(config, feat, action_size, self.rng, self.dtype)
        self.train = tf.function(
            self._train, jit_compile=use_jit(config.jit_compile), autograph=False
        )

    def initial_policy_state(self, batch_size):
        """(latent state, previous action) before the first observation."""
        latent = self.wm.dynamics.initial(batch_size)
        return latent, tf.zeros([batch_size, self.action_size], tf.float32)

    @tf.function(autograph=False)
    def policy(self, obs, state, explore):
        """obs: dict of [N, ...] (image, is_first). Returns (action [N, A], new state)."""
        wm = self.wm
        return act(wm.encoder, wm.dynamics, self.behavior.policy, self.rng, obs, state, explore)

    def _train(self, data):
        """One world-model step then one actor-critic step on data [B, T, ...]."""
        post, metrics = self.wm.train(data)
        with tf.name_scope("behavior"):  # for the profiler (`vsg.profiling`)
            metrics.update(self.behavior.train(self.wm, post))
        return metrics

    @tf.function(autograph=False)
    def report(self, data):
        """Open-loop prediction video and the gate pattern for a few sequences."""
        return self.wm.open_loop_video(data)


class FrozenPolicy(tf.Module):
    """A copy of an agent's acting networks (encoder, dynamics, actor) with its own generator.

    `copy_from(agent, seed)` takes the agent's current weights and reseeds the generator, so
    an evaluation acts with the policy of one moment while the agent goes on learning, and
    draws nothing from the agent's generator. Acts with the policy mode.
    """

    def __init__(self, config, action_size):
        super().__init__(name="frozen_policy")
        dtype = compute_dtype(config.precision)
        self.config = config
        self.action_size = action_size
        self.rng = tf.random.Generator.from_seed(0)
        self.encoder = ConvEncoder(config.cnn_depth, dtype)
        embed = self.encoder.embed_size
        self.dynamics = make_dynamics(config, action_size, embed, self.rng, dtype)
        self.actor = make_actor(config, self.dynamics.feature_size, action_size, dtype)

    def copy_from(self, agent, seed):
        """Copies the agent's encoder, dynamics and actor weights; reseeds the generator."""
        pairs = [
            (self.encoder, agent.wm.encoder),
            (self.dynamics, agent.wm.dynamics),
            (self.actor, agent.behavior.actor),
        ]
        for mine, theirs in pairs:
            for target, source in zip(mine.variables, theirs.variables, strict=True):
                target.assign(source)
        self.rng.reset_from_seed(seed)

    def initial_state(self, batch_size):
        """(latent state, previous action) before the first observation."""
        latent = self.dynamics.initial(batch_size)
        return latent, tf.zeros([batch_size, self.action_size], tf.float32)

    def _action_dist(self, features):
        return ActionDist(self.actor(features), self.config.actor_min_std)

    @tf.function(autograph=False)
    def __call__(self, obs, state):
        """obs: dict of [N, ...] (image, is_first). Returns (mode action [N, A], new state)."""
        explore = tf.constant(False)
        return act(self.encoder, self.dynamics, self._action_dist, self.rng, obs, state, explore)
