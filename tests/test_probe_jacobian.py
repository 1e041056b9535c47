"""The closed-form transition Jacobians (`LatentDynamics.transition_jacobian`, `GRUCell.jacobian`)
equal reverse-mode autodiff of `transition` to float32 round-off, and the probe uses them.

Every variable gets a random value (biases and LayerNorm scale and offset moved away from their
initial 0 and 1), so that a dropped or wrong term shows: each case is also checked to be far
from the Jacobian without the term it exercises.
"""

import numpy as np
import pytest
import tensorflow as tf

from vsg.agent import Agent
from vsg.config import load_config
from vsg.dynamics import make_dynamics
from vsg.dynamics.cells import GRUCell, StochasticGRUCell
from vsg.probe.model import ModelProbe, Transitions

B, A, E, S, K, D = 5, 2, 8, 4, 3, 16
PRESETS = {  # the DMC launcher's presets; tiny sizes
    "dreamerv2": ["dreamerv2", "--dyn_discrete", str(K)],  # discrete latents, LayerNorm
    "dreamerv1": ["dreamerv1"],  # Gaussian latents, LayerNorm
    "vsg": ["vsg", "--dyn_discrete", str(K)],  # binary gate, no LayerNorm
    "vsg_layernorm": ["vsg", "--dyn_discrete", str(K), "--dyn_cell", "sgru_layernorm"],
}


def randomise(module, seed):
    """Every variable of `module` set to random values: kernels and biases N(0, 0.5^2),
    LayerNorm scales 1 + N(0, 0.5^2)."""
    gen = np.random.default_rng(seed)
    for var in module.trainable_variables:
        value = gen.normal(scale=0.5, size=var.shape)
        var.assign((value + ("scale" in var.name)).astype(np.float32))


def build(name, seed=0):
    preset, *flags = PRESETS[name]
    args = ["--configs", "dmc", preset, "tiny", "--dyn_stoch", str(S), "--dyn_deter", str(D)]
    model = make_dynamics(load_config([*args, *flags]), A, E, tf.random.Generator.from_seed(seed))
    randomise(model, seed)
    return model


def random_point(model, seed=1):
    """prev state (deter, stoch: any real values, the Jacobian is taken anywhere), action."""
    gen = np.random.default_rng(seed)
    prev = {key: value.numpy() for key, value in model.initial(B).items()}
    prev["deter"] = gen.uniform(-1, 1, prev["deter"].shape)
    prev["stoch"] = gen.normal(size=prev["stoch"].shape)
    prev = {key: tf.constant(value, tf.float32) for key, value in prev.items()}
    return prev, tf.constant(gen.uniform(-1, 1, (B, A)), tf.float32)


def autodiff(model, prev, action, gate):
    """Reverse-mode batch Jacobian of transition's deter w.r.t. [deter | flat stoch | action]."""
    flat = model.latent.flatten(prev["stoch"])
    x = tf.concat([prev["deter"], flat, action], -1)
    sizes = [D, flat.shape[-1], A]
    with tf.GradientTape() as tape:
        tape.watch(x)
        h, z, a = tf.split(x, sizes, -1)
        state = {**prev, "deter": h, "stoch": tf.reshape(z, tf.shape(prev["stoch"]))}
        out = model.transition(state, a, gate)["deter"]
    return tape.batch_jacobian(out, x).numpy()


def assert_close(closed, reference):
    """Equal to float32 round-off, relative to the Jacobian's scale."""
    scale = np.abs(reference).max()
    np.testing.assert_allclose(closed, reference, rtol=1e-4, atol=1e-5 * scale)


def far(a, b):
    """a and b differ by much more than `assert_close` tolerates."""
    return np.abs(a - b).max() > 100 * 1e-5 * np.abs(b).max()


def binary_gate(seed=3, shape=(B, D)):
    return tf.constant(np.random.default_rng(seed).integers(0, 2, shape), tf.float32)


@pytest.mark.parametrize("name", list(PRESETS))
def test_rssm_closed_form_equals_autodiff(name):
    model = build(name)
    assert (model.cell.norm is not None) == (name != "vsg")
    prev, action = random_point(model)
    gates = [None] + ([binary_gate()] if model.stochastic_gate else [])
    for gate in gates:
        closed = model.transition_jacobian(prev, action, gate).numpy()
        assert closed.shape == (B, D, D + model.latent.flat_size + A) and closed.dtype == np.float32
        assert_close(closed, autodiff(model, prev, action, gate))
    # With g = p differentiated, (c' - h) dp matters: holding p constant instead gives a
    # clearly different matrix (and that one is right too).
    x = model.img_in(tf.concat([model.latent.flatten(prev["stoch"]), action], -1))
    _, prob = model.cell.candidate(x, prev["deter"])
    held = model.transition_jacobian(prev, action, prob).numpy()
    assert_close(held, autodiff(model, prev, action, prob))
    assert far(model.transition_jacobian(prev, action).numpy(), held)


@pytest.mark.parametrize("name", ["dreamerv2", "vsg"])
def test_rssm_closed_form_rows(name):
    model = build(name, seed=4)
    prev, action = random_point(model, seed=5)
    rows = np.array([0, 3, 7, 15])
    for gate in (None, binary_gate(seed=6)):
        full = model.transition_jacobian(prev, action, gate).numpy()
        some = model.transition_jacobian(prev, action, gate, tf.constant(rows, tf.int32))
        np.testing.assert_allclose(some.numpy(), full[:, rows], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", [GRUCell, StochasticGRUCell])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_cell_with_grouped_gate(cls, layer_norm):
    # gate_size < size (SVSG's discrete gate covers whole categorical variables): each gate
    # entry drives a group of 4 consecutive dimensions.
    hx, size, groups = 6, 12, 3
    cell = cls(hx, size, layer_norm, gate_size=groups)
    randomise(cell, seed=7)
    gen = np.random.default_rng(8)
    x = tf.constant(gen.normal(size=(B, hx)), tf.float32)
    h = tf.constant(gen.uniform(-1, 1, (B, size)), tf.float32)
    rows = tf.constant([1, 4, 5, 11], tf.int32)
    for gate in (None, binary_gate(seed=9, shape=(B, groups))):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, h])
            cand, prob = cell.candidate(x, h)
            out = cell.mix(cand, h, prob if gate is None else gate)
        ref_x, ref_h = tape.batch_jacobian(out, x).numpy(), tape.batch_jacobian(out, h).numpy()
        jac_x, jac_h = cell.jacobian(x, h, gate)
        assert_close(jac_x.numpy(), ref_x)
        assert_close(jac_h.numpy(), ref_h)
        some_x, some_h = cell.jacobian(x, h, gate, rows)
        assert_close(some_x.numpy(), ref_x[:, rows.numpy()])
        assert_close(some_h.numpy(), ref_h[:, rows.numpy()])


def probe_for(preset):
    args = ["--configs", "dmc", preset, "tiny", "--dyn_stoch", str(S), "--dyn_discrete", str(K)]
    args += ["--dyn_deter", str(D), "--precision", "32"]
    tf.random.set_seed(0)
    agent = Agent(load_config(args), A)
    randomise(agent.wm.dynamics, seed=10)
    return ModelProbe(agent), ModelProbe(agent, closed_form=False)


@pytest.mark.parametrize("preset", ["dreamerv2", "vsg"])
def test_probe_uses_the_closed_form_and_agrees_with_autodiff(preset):
    closed, auto = probe_for(preset)
    assert closed.uses_closed_form and not auto.uses_closed_form and auto.n_in == D + S * K + A
    gen = np.random.default_rng(11)
    n = 7
    parts = [gen.uniform(-1, 1, (n, D)), gen.normal(size=(n, S * K)), gen.uniform(-1, 1, (n, A))]
    gate = gen.integers(0, 2, (n, D)).astype(np.float32)
    trans = Transitions([p.astype(np.float32) for p in parts], gate, gate, np.zeros(n))
    for variant in closed.variants:
        for rows in (None, np.array([2, 9, 10])):
            J = closed.jacobian(trans, variant, rows, slice(1, 6))
            assert J.shape == (5, D if rows is None else 3, auto.n_in)
            assert_close(J, auto.jacobian(trans, variant, rows, slice(1, 6)))
