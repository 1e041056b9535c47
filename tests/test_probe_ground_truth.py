"""MuJoCo finite-difference transition Jacobians (reference notes, section 4, test T6)."""

import copy

import mujoco
import numpy as np
import pytest

import vsg  # noqa: F401  (first, as everywhere: keeps MuJoCo rendering safe next to TF)
from vsg.probe import ground_truth as gt
from vsg.probe import metrics
from vsg.probe.metrics import ProbeConfig

BALL_XML = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <geom type="plane" size="2 2 0.1"/>
    <body pos="0 0 0.5">
      <freejoint/>
      <geom type="sphere" size="0.1" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def cartpole():
    """dm_control's cartpole after 15 random-action steps: (physics, states, controls)."""
    from dm_control import suite

    env = suite.load("cartpole", "swingup", task_kwargs={"random": 0})
    env.reset()
    physics = env.physics
    rng = np.random.default_rng(0)
    states, controls = [], []
    for _ in range(15):
        states.append(gt.get_state(physics, physics))
        controls.append(rng.uniform(-1, 1, 1))
        env.step(controls[-1])
    return physics, np.array(states), np.array(controls)


def test_cartpole_cart_position_column_is_unit_vector(cartpole):
    physics, states, controls = cartpole
    before = gt.get_state(physics, physics)
    out = gt.transition_jacobians(physics, states, controls)
    assert out["A"].shape == (15, 4, 4) and out["B"].shape == (15, 4, 1)
    np.testing.assert_array_equal(out["ncon"], 0)
    # Translation invariance: nothing depends on where the cart is.
    np.testing.assert_allclose(out["A"][:, :, 0], np.broadcast_to(np.eye(4)[0], (15, 4)), atol=1e-9)
    # ... whereas the pole angle drives both velocities, and the force moves the cart.
    assert (np.abs(out["A"][:, 2:, 1]) > 1e-4).all()
    assert (np.abs(out["B"][:, 2, 0]) > 1e-3).all()
    np.testing.assert_array_equal(gt.get_state(physics, physics), before)  # env untouched


def test_rk4_fallback_matches_mjd_transition_fd(cartpole):
    physics, states, controls = cartpole
    model = copy.deepcopy(gt.raw_model(physics))
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    ours = gt.transition_jacobians(model, states[:3], controls[:3])
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    euler = gt.transition_jacobians(model, states[:3], controls[:3])
    data = mujoco.MjData(model)
    for t in range(3):
        mujoco.mj_setState(model, data, states[t], gt.DEFAULT_SIG)
        data.ctrl[:] = controls[t]
        mujoco.mj_forward(model, data)
        A, B = np.zeros((4, 4)), np.zeros((4, 1))
        gt._step_fd(model, data, 1e-6, A, B)  # the RK4 path, applied to the Euler model
        np.testing.assert_allclose(A, euler["A"][t], atol=1e-9)
        np.testing.assert_allclose(B, euler["B"][t], atol=1e-9)
    # RK4 and Euler linearisations are close but not the same map.
    assert 0 < np.abs(ours["A"] - euler["A"]).max() < 1e-2


@pytest.fixture(scope="module")
def ball():
    model = mujoco.MjModel.from_xml_string(BALL_XML)
    states = gt.rollout(model, np.zeros((90, 0)))
    return model, states, gt.transition_jacobians(model, states)


def test_ball_structure_changes_at_contact(ball):
    model, _, out = ball
    A, ncon = out["A"], out["ncon"]
    assert A.shape == (90, 12, 12) and out["B"].shape == (90, 12, 0)
    onset = int(np.argmax(ncon > 0))
    assert 40 < onset < 80 and (ncon[onset:] > 0).all()
    update = np.abs(A - np.eye(12)) > 1e-6
    # In flight only the 6 position <- velocity couplings; d vz'/d z is zero until contact.
    assert (update[:onset].sum(axis=(1, 2)) == 6).all()
    assert (update[:onset, :6, 6:] == np.eye(6, dtype=bool)).all()
    vz, z = model.nv + 2, 2
    assert np.abs(A[:onset, vz, z]).max() < 1e-6 and abs(A[onset, vz, z]) > 1.0
    assert update[onset].sum() > 6

    cfg = ProbeConfig(diag="subtract")
    steps = metrics.per_step(A, cfg)
    assert (steps["hamming"][1:onset] == 0).all() and steps["hamming"][onset] > 0
    np.testing.assert_allclose(steps["density"][:onset], 6 / 144)
    assert (steps["density"][onset:] > 6 / 144).all()
    summary = metrics.summarize(A, cfg)
    assert summary["gap"] > 0 and summary["density_union"] > summary["density_local_mean"]


def test_ball_flight_jacobian_is_eps_independent_and_state_formats_agree(ball):
    model, states, out = ball
    flight = slice(0, 30)
    coarse = gt.transition_jacobians(model, states[flight], eps=1e-5)
    np.testing.assert_allclose(coarse["A"], out["A"][flight], atol=1e-6)
    data = mujoco.MjData(model)
    qpos, qvel = [], []
    for state in states[flight]:
        mujoco.mj_setState(model, data, state, gt.DEFAULT_SIG)
        qpos.append(data.qpos.copy())
        qvel.append(data.qvel.copy())
    as_dict = gt.transition_jacobians(model, {"qpos": np.array(qpos), "qvel": np.array(qvel)})
    np.testing.assert_allclose(as_dict["A"], out["A"][flight], atol=1e-9)
    assert gt.state_slices(model) == {"dq": slice(0, 6), "qvel": slice(6, 12), "act": slice(12, 12)}
