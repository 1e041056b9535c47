"""A fourth dynamics variant added as a user would: one class, one registration, one preset.

The variant is PlaNet's purely stochastic state-space model (Hafner et al., 2019, "Learning
Latent Dynamics for Planning from Pixels", the SSM of its Section 3): no recurrent cell, no
update gate, a Gaussian state only. Written against the `LatentDynamics` contract alone, it
trains through the normal entry point (`vsg.train.main`), is probed by the Jacobian probe and
timed by the benchmark, with no other edit to the code base.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from vsg import nn
from vsg.dynamics import DYNAMICS
from vsg.dynamics.base import LatentDynamics


class SSM(LatentDynamics):
    """prior   p(s_t | s_{t-1}, a_{t-1}) = N(stats(h_t)),  h_t = ELU(Dense([s_{t-1}, a_{t-1}]))
    posterior q(s_t | s_{t-1}, a_{t-1}, o_t) = N(stats(ELU(Dense([h_t, embed_t]))))
    features s_t. State: stoch [B, S], mean / std [B, S]."""

    transition_inputs = {"s": "stoch"}
    state_key = "stoch"

    def __init__(self, config, latent, action_size, embed_size, rng, dtype=tf.float32):
        super().__init__(latent, rng, dtype, name="ssm")
        hidden, size = config.dyn_hidden, latent.flat_size
        self.feature_size = self.state_size = size
        self.prior_in = nn.Dense(size + action_size, hidden, tf.nn.elu, dtype, "prior_in")
        self.prior_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "prior_stats")
        self.post_in = nn.Dense(hidden + embed_size, hidden, tf.nn.elu, dtype, "post_in")
        self.post_stats = nn.Dense(hidden, latent.stats_size, None, dtype, "post_stats")

    def initial(self, batch_size):
        stats, stoch = self.latent.initial(batch_size, self.compute_dtype)
        return {"stoch": stoch, **stats}

    def _hidden(self, prev, action):
        return self.prior_in(tf.concat([prev["stoch"], tf.cast(action, self.compute_dtype)], -1))

    def _state(self, stats, sample):
        stoch = self.latent.sample(stats, self.rng) if sample else self.latent.mode(stats)
        return {"stoch": stoch, **stats}

    def img_step(self, prev, action, sample=True):
        return self._state(self.latent.stats(self.prior_stats(self._hidden(prev, action))), sample)

    def obs_step(self, prev, action, embed, is_first, sample=True):
        prev, action = self.reset(prev, action, is_first)
        hidden = self._hidden(prev, action)
        prior = self._state(self.latent.stats(self.prior_stats(hidden)), sample)
        x = tf.concat([hidden, tf.cast(embed, self.compute_dtype)], -1)
        post = self._state(self.latent.stats(self.post_stats(self.post_in(x))), sample)
        return post, prior

    def features(self, state):
        return state["stoch"]

    def transition(self, prev, action, gate=None):
        stats = self.latent.stats(self.prior_stats(self._hidden(prev, action)))
        return {"stoch": stats["mean"], **stats}


PRESET = "model_type: ssm\ndyn_discrete: 0\n"


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """The registration and the preset (a YAML file passed to --configs)."""
    path = tmp_path_factory.mktemp("preset") / "planet_ssm.yaml"
    path.write_text(PRESET)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(DYNAMICS, "ssm", SSM)
        yield str(path)


def tiny_config(preset):
    from vsg.config import load_config

    return load_config(["--configs", "defaults", "dmc", preset, "tiny", "--precision", "32"])


def test_the_variant_is_timed_by_the_benchmark(preset, capsys):
    from vsg.bench import run_case

    run_case("planet ssm", tiny_config(preset), repeats=1, warmup=0, profile=False)
    out = capsys.readouterr().out
    assert "planet ssm update (world model + imagination + actor + critic):" in out
    assert "planet ssm policy step, batch 1:" in out


def test_the_probe_differentiates_the_declared_transition(preset):
    from vsg.agent import Agent
    from vsg.probe.cheap import _synthetic_episode
    from vsg.probe.model import ModelProbe, probe_model

    tf.random.set_seed(0)
    agent = Agent(tiny_config(preset), action_size=3)
    probe = ModelProbe(agent)
    assert probe.variants == ("soft",) and list(probe.blocks) == ["s", "a"]
    trans = probe.transitions(_synthetic_episode(6, 3))
    assert trans.gate is None and probe.gates(trans, "soft") is None
    J = probe.jacobian(trans, "soft")
    # The same derivative taken directly from the class's transition.
    s, a = (tf.constant(part) for part in trans.parts)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([s, a])
        mean = agent.wm.dynamics.transition({"stoch": s}, a)["stoch"]
    direct = np.concatenate([tape.batch_jacobian(mean, s), tape.batch_jacobian(mean, a)], -1)
    np.testing.assert_allclose(J, direct, rtol=1e-5, atol=1e-6)
    accs, extra, _ = probe_model(probe, [trans])
    assert extra == {} and accs["soft"].summary()["density_local_mean"] > 0


@pytest.mark.slow
def test_the_variant_trains_through_the_entry_point_and_is_probed(preset, tmp_path):
    from vsg import train
    from vsg.probe.__main__ import main as probe
    from vsg.rundir import read_done, read_metrics

    args = ["--configs", "defaults", "dmc", preset, "tiny", "--task", "dmc_cartpole_balance"]
    train.main([*args, "--steps", "300", "--logdir", str(tmp_path / "logs")])
    run_dir = tmp_path / "logs/dmc_cartpole_balance/default/seed0"
    assert read_done(run_dir) == {"step": 300, "steps": 300}
    records = read_metrics(run_dir)
    losses = [r["model/loss"] for r in records if "model/loss" in r]
    assert losses and np.isfinite(losses).all()
    assert not any(key.startswith("gate/") for r in records for key in r)  # it has no gate

    argv = [str(run_dir), "--from_dir", str(run_dir / "eval_eps"), "--episodes", "1"]
    probe([*argv, "--rows", "3", "--no_ground_truth", "--no_tensorboard"])
    summary = json.loads((run_dir / "probe" / "summary.json").read_text())
    assert summary["meta"]["family"] == "ssm" and summary["meta"]["variants"] == ["soft"]
    assert summary["meta"]["blocks"] == {"s": [0, 4], "a": [4, 5]}
    assert summary["models"]["soft"]["density_local_mean"] > 0
