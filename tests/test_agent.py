"""End-to-end agent tests at the tiny preset: training steps, policy, precision, checkpoints."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from vsg.agent import Agent
from vsg.checkpoint import Checkpointer
from vsg.config import load_config

A = 2
PRESETS = ["dreamerv1", "dreamerv2", "vsg", "svsg"]


def make_agent(preset, *flags):
    tf.random.set_seed(0)
    config = load_config(["--configs", "dmc", preset, "tiny", "--dyn_stoch", "4", *flags])
    return Agent(config, A)


def batch(config, seed=0):
    """Random uint8 images and actions, batch_size x batch_length, episodes starting at t=0."""
    gen = np.random.default_rng(seed)
    shape = (config.batch_size, config.batch_length)
    is_first = np.zeros(shape, bool)
    is_first[:, 0] = True
    return {
        "image": tf.constant(gen.integers(0, 256, (*shape, 64, 64, 3), dtype=np.uint8)),
        "action": tf.constant(gen.uniform(-1, 1, (*shape, A)).astype(np.float32)),
        "reward": tf.constant(gen.normal(size=shape).astype(np.float32)),
        "is_first": tf.constant(is_first),
        "is_terminal": tf.constant(np.zeros(shape, bool)),
    }


@functools.cache
def trained(preset):
    """An agent after 3 float32 updates, with the metrics of each update."""
    agent = make_agent(preset, "--precision", "32")
    before = [v.numpy() for v in agent.trainable_variables]
    history = [
        {k: float(v) for k, v in agent.train(batch(agent.config, seed)).items()}
        for seed in range(3)
    ]
    return agent, before, history


def assert_finite(metrics):
    bad = {key: value for key, value in metrics.items() if not np.isfinite(value)}
    assert not bad, bad


@pytest.mark.parametrize("preset", PRESETS)
def test_three_float32_updates_have_finite_losses(preset):
    """Each variant trains 3 steps with finite metrics, changes its weights and logs gates."""
    agent, before, history = trained(preset)
    assert agent.dtype == tf.float32
    for metrics in history:
        assert_finite(metrics)
        assert 0.0 <= metrics["gate/open_frac_mean"] <= 1.0
        for key in ("model/image_loss", "model/kl_loss", "actor/loss", "value/loss"):
            assert key in metrics
        assert ("gate/loss" in metrics) == (preset in ("vsg", "svsg"))
    after = [v.numpy() for v in agent.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert int(agent.wm.opt.step.numpy()) == 3
    assert int(agent.behavior.actor_opt.step.numpy()) == 3


@pytest.mark.parametrize("preset", PRESETS)
def test_policy_actions_and_gates(preset):
    """The policy returns [N, A] actions in [-1, 1] (sampled and mode); stochastic gates in the
    state are exactly 0 or 1, soft GRU gates lie in (0, 1)."""
    agent, _, _ = trained(preset)
    n = 3
    gen = np.random.default_rng(9)
    state = agent.initial_policy_state(n)
    for t, explore in enumerate([True, True, False]):
        obs = {
            "image": tf.constant(gen.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)),
            "is_first": tf.constant([t == 0] * n),
        }
        action, state = agent.policy(obs, state, tf.constant(explore))
        assert action.shape == (n, A) and action.dtype == tf.float32
        assert np.all(np.abs(action.numpy()) <= 1.0)
        np.testing.assert_array_equal(state[1].numpy(), action.numpy())
        gate = state[0]["gate"].numpy()
        if agent.wm.dynamics.stochastic_gate:
            assert set(np.unique(gate)) <= {0.0, 1.0}
        else:
            assert np.all((gate > 0) & (gate < 1))


def test_mixed_float16_updates_run():
    """`--precision 16` computes in float16 with float32 variables; VSG updates give finite
    losses; an overflowing gradient skips the step and halves the loss scale until a step
    with a finite gradient is applied."""
    agent = make_agent("vsg", "--precision", "16")
    assert agent.dtype == tf.float16
    assert all(v.dtype == tf.float32 for v in agent.trainable_variables)
    opt, scale = agent.wm.opt, agent.wm.opt.loss_scale.numpy()
    for seed in range(8):
        steps = opt.step.numpy()
        metrics = {k: float(v) for k, v in agent.train(batch(agent.config, seed)).items()}
        assert_finite({k: v for k, v in metrics.items() if not k.endswith("grad_norm")})
        assert 0.0 <= metrics["gate/open_frac_mean"] <= 1.0
        if np.isfinite(metrics["model/grad_norm"]):
            assert opt.step.numpy() == steps + 1 and metrics["model/loss_scale"] == scale
            break
        assert opt.step.numpy() == steps and metrics["model/loss_scale"] == scale / 2
        scale = metrics["model/loss_scale"]
    else:
        pytest.fail("no float16 model update had a finite gradient")


def test_bfloat16_update_matches_float32_to_bfloat16_precision():
    """`--precision bf16` (what `auto` picks on a CPU with bfloat16 arithmetic) computes in
    bfloat16 with float32 variables; from the same weights, batch and random draws its first
    update's losses equal float32's to bfloat16's ~3 significant digits."""
    losses = {}
    for precision, dtype in (("32", tf.float32), ("bf16", tf.bfloat16)):
        agent = make_agent("vsg", "--precision", precision)
        assert agent.dtype == dtype
        assert all(v.dtype == tf.float32 for v in agent.trainable_variables)
        metrics = {k: float(v) for k, v in agent.train(batch(agent.config)).items()}
        assert_finite(metrics)
        losses[precision] = {k: v for k, v in metrics.items() if k.endswith("loss")}
    for key, value in losses["32"].items():
        assert losses["bf16"][key] == pytest.approx(value, rel=0.02, abs=1e-3), key


def test_checkpoint_round_trip(tmp_path):
    """save, perturb a weight, an Adam slot and the generator, restore: all values come back."""
    agent, _, _ = trained("vsg")
    checkpointer = Checkpointer(tmp_path / "checkpoint", agent=agent)
    assert not checkpointer.restore()
    checkpointer.save()
    kernel, slot = agent.wm.encoder.convs[0].kernel, agent.wm.opt.m[0]
    saved = [kernel.numpy(), slot.numpy(), agent.rng.state.numpy(), agent.wm.opt.step.numpy()]
    assert np.any(saved[1] != 0)
    kernel.assign_add(tf.ones_like(kernel))
    slot.assign(tf.zeros_like(slot))
    agent.rng.uniform([5])
    agent.wm.opt.step.assign(0)
    assert checkpointer.restore()
    restored = [kernel.numpy(), slot.numpy(), agent.rng.state.numpy(), agent.wm.opt.step.numpy()]
    for want, got in zip(saved, restored, strict=True):
        np.testing.assert_array_equal(got, want)


class HashNoise(tf.Module):
    """Stands in for the agent's `tf.random.Generator` with draws that XLA and TensorFlow's
    kernels compute alike (their Philox streams differ): a multiplicative hash of the element
    index and of the call site, counted at tracing."""

    def __init__(self):
        super().__init__(name="hash_noise")
        self.calls = 0

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=tf.float32):
        self.calls += 1
        index = tf.range(tf.reduce_prod(shape), dtype=tf.int64) + 1_000_003 * self.calls
        bits = (index * 2_654_435_761 + 12_345) % 2**32
        unit = (tf.cast(bits, tf.float64) + 0.5) / 2**32
        return tf.reshape(tf.cast(minval + (maxval - minval) * unit, dtype), shape)

    def normal(self, shape, dtype=tf.float32):
        return tf.cast(tf.math.ndtri(self.uniform(shape, dtype=tf.float64)), dtype)

    def make_seeds(self, count=1):
        self.calls += 1
        return tf.constant([[self.calls] * count, [7] * count], tf.int64)


@pytest.mark.slow
def test_xla_compiled_update_gives_the_same_losses():
    """`jit_compile: true` (auto's choice on a GPU) computes the update the non-compiled step
    computes, from the same weights, data and random draws: the world model's losses and
    metrics agree within float32 round-off. The actor's truncated-normal samples come from
    TensorFlow Probability's seeded sampler, which XLA implements with another algorithm, so
    the imagined trajectories differ and the actor-critic's figures agree only roughly."""
    metrics = {}
    for jit in ("false", "true"):
        tf.random.set_seed(0)
        flags = ["--precision", "32", "--jit_compile", jit]
        config = load_config(["--configs", "dmc", "vsg", "tiny", "--dyn_stoch", "4", *flags])
        agent = Agent(config, A, rng=HashNoise())
        metrics[jit] = [
            {k: float(v) for k, v in agent.train(batch(config, seed)).items()} for seed in range(2)
        ]
    for plain, compiled in zip(metrics["false"], metrics["true"], strict=True):
        assert plain.keys() == compiled.keys()
        for key, value in plain.items():
            exact = key.startswith(("model/", "gate/"))
            rtol, atol = (1e-4, 1e-6) if exact else (0.15, 0.01)
            np.testing.assert_allclose(compiled[key], value, rtol=rtol, atol=atol, err_msg=key)


def test_learner_fetches_the_metrics_of_all_updates_at_once(tmp_path):
    """The learner keeps each update's metrics on the device and hands over all of them at
    `metrics()`: the same values as converting every update's metrics right away."""
    from vsg.learner import AgentLearner

    config = load_config(["--configs", "dmc", "dreamerv2", "tiny", "--dyn_stoch", "4"])
    tf.random.set_seed(config.seed)
    agent = Agent(config, A)
    expected = [{k: float(v) for k, v in agent.train(batch(config, s)).items()} for s in range(3)]
    learner = AgentLearner(config, A, tmp_path)
    assert learner.restore() is None and learner.updates == 0
    for seed in range(3):
        learner.train(batch(config, seed))
    assert learner.updates == 3 == int(learner.agent.behavior.updates.numpy())
    fetched = learner.metrics()
    assert fetched == {key: [step[key] for step in expected] for key in expected[0]}
    assert learner.metrics() == {}
