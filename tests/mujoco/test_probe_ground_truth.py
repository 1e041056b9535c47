"""MuJoCo ground truth: finite-difference transition Jacobians over one mj_step and over one
agent decision, the solver's warm start, constraint events and the random-action study.
dm_control runs in this process, hence tests/mujoco (no TensorFlow here)."""

import copy
import json
import subprocess
import sys

import mujoco
import numpy as np
import pytest

import envs.dmc  # noqa: F401  (selects the headless GL back end before dm_control loads)
from vsg.probe import ground_truth as gt
from vsg.probe import metrics, truth
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


def _suite_rollout(domain, task, steps, repeat=1, policy=None, seed=0):
    """(physics, full states before each decision [T, n], controls [T, nu], MjData copies);
    policy: decision index -> control (None: uniform random)."""
    from dm_control import suite

    env = suite.load(domain, task, task_kwargs={"random": seed})
    env.reset()
    physics = env.physics
    rng = np.random.default_rng(seed)
    nu = physics.model.nu
    states, controls, datas = [], [], []
    for _ in range(steps):
        states.append(gt.get_state(physics, physics))
        datas.append(copy.copy(physics.data.ptr))
        controls.append(rng.uniform(-1, 1, nu) if policy is None else policy(len(controls)))
        for _ in range(repeat):
            env.step(controls[-1])
    return physics, np.array(states), np.array(controls), datas


@pytest.fixture(scope="module")
def cartpole():
    """dm_control's cartpole after 15 random-action steps: (physics, states, controls)."""
    physics, states, controls, _ = _suite_rollout("cartpole", "swingup", 15)
    return physics, states, controls


def test_cartpole_cart_position_column_is_unit_vector(cartpole):
    physics, states, controls = cartpole
    before = gt.get_state(physics, physics)
    out = gt.transition_jacobians(physics, states, controls)
    assert out["A"].shape == (15, 4, 4) and out["B"].shape == (15, 4, 1)
    np.testing.assert_array_equal(gt.decision_events(physics, states, controls)["contacts"], 0)
    # Translation invariance: nothing depends on where the cart is.
    np.testing.assert_allclose(out["A"][:, :, 0], np.broadcast_to(np.eye(4)[0], (15, 4)), atol=1e-9)
    # ... whereas the pole angle drives both velocities, and the force moves the cart.
    assert (np.abs(out["A"][:, 2:, 1]) > 1e-4).all()
    assert (np.abs(out["B"][:, 2, 0]) > 1e-3).all()
    np.testing.assert_array_equal(gt.get_state(physics, physics), before)  # env untouched


def test_one_step_matches_mjd_transition_fd_and_rk4_differs(cartpole):
    physics, states, controls = cartpole
    model = copy.deepcopy(gt.raw_model(physics))
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4  # mjd_transitionFD refuses it
    rk4 = gt.transition_jacobians(model, states[:3], controls[:3])
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    ours = gt.transition_jacobians(model, states[:3], controls[:3])
    data = mujoco.MjData(model)
    for t in range(3):
        mujoco.mj_setState(model, data, states[t], gt.STATE_SIG)
        data.ctrl[:] = controls[t]
        A, B = np.zeros((4, 4)), np.zeros((4, 1))
        mujoco.mjd_transitionFD(model, data, 1e-6, True, A, B, None, None)
        np.testing.assert_allclose(ours["A"][t], A, atol=1e-9)
        np.testing.assert_allclose(ours["B"][t], B, atol=1e-9)
    # RK4 and Euler linearisations are close but not the same map.
    assert 0 < np.abs(rk4["A"] - ours["A"]).max() < 1e-2


@pytest.fixture(scope="module")
def walker():
    """Walker under random actions held for 2 control steps (20 mj_steps per decision)."""
    return _suite_rollout("walker", "walk", 12, repeat=2)


def test_decision_jacobian_is_the_product_of_step_jacobians(walker):
    physics, states, controls, _ = walker
    m = gt.raw_model(physics)
    K, nx = 20, 2 * m.nv
    decision = gt.transition_jacobians(physics, states, controls, n_steps=K)
    data = mujoco.MjData(m)
    for t in range(len(states)):
        mujoco.mj_setState(m, data, states[t], gt.STATE_SIG)
        data.ctrl[:] = controls[t]
        A_chain, B_chain = np.eye(nx), np.zeros((nx, m.nu))
        for _ in range(K):  # d x_K = A_K ... A_1 d x_0 + sum_k A_K ... A_{k+1} B_k du
            A, B = np.zeros((nx, nx)), np.zeros((nx, m.nu))
            mujoco.mjd_transitionFD(m, data, 1e-6, True, A, B, None, None)
            A_chain, B_chain = A @ A_chain, A @ B_chain + B
            mujoco.mj_step(m, data)
        scale = np.abs(decision["A"][t]).max()
        np.testing.assert_allclose(decision["A"][t], A_chain, atol=1e-4 * scale)
        np.testing.assert_allclose(decision["B"][t], B_chain, atol=1e-4 * scale)
    # Twenty steps are not one: the decision couples far more than a single step does.
    step = gt.transition_jacobians(physics, states, controls, n_steps=1)
    assert np.abs(decision["A"] - step["A"]).max() > 1.0


def test_replayed_decisions_reproduce_the_env_and_find_contact_events(walker):
    physics, states, controls, _ = walker
    events = gt.decision_events(physics, states, controls, 20)
    # The env stepped the same physics: the replay lands exactly on the next recorded state.
    np.testing.assert_array_equal(events["next_state"][:-1], states[1:])
    assert events["contacts"].max() > 0 and not events["contact_event"][0]
    assert events["contact_event"].any() and not events["contact_event"].all()


def test_warm_start_is_restored_at_the_rail_limit():
    """Pushed into its rail limit, the cart's constraint force depends on the solver's warm
    start; the probe must reproduce the real warm-started step (an independent finite
    difference of copies of the env's own MjData), and a zeroed warm start must not."""
    push = _suite_rollout("cartpole", "balance", 90, policy=lambda t: [0.8])
    physics, states, controls, datas = push
    m, t = gt.raw_model(physics), 84  # on the limit here (found once, deterministic)
    events = gt.decision_events(physics, states[t : t + 1], controls[t : t + 1])
    assert events["constraint_active"][0] and states[t][1] > 1.8  # slider range is +-1.8
    ours = gt.transition_jacobians(physics, states[t : t + 1], controls[t : t + 1])
    ours = np.concatenate([ours["A"][0], ours["B"][0]], axis=1)
    eps, columns = 1e-6, []
    for c in range(2 * m.nv + m.nu):
        ends = []
        for sign in (1.0, -1.0):
            data = copy.copy(datas[t])
            data.ctrl[:] = controls[t]
            field = data.qpos if c < m.nv else data.qvel if c < 2 * m.nv else data.ctrl
            field[c % m.nv if c < 2 * m.nv else c - 2 * m.nv] += sign * eps
            mujoco.mj_step(m, data)
            ends.append(np.concatenate([data.qpos, data.qvel]))
        columns.append((ends[0] - ends[1]) / (2 * eps))
    independent = np.array(columns).T
    np.testing.assert_allclose(ours, independent, atol=1e-9)
    cold = states[t : t + 1].copy()
    gt.state_part(m, cold, mujoco.mjtState.mjSTATE_WARMSTART)[...] = 0.0
    zeroed = gt.transition_jacobians(physics, cold, controls[t : t + 1])
    assert np.abs(zeroed["A"][0] - ours[:, : 2 * m.nv]).max() > 1e-4


def test_rail_limit_onset_and_offset_are_the_only_constraint_events():
    """The cart pushed into its rail limit for 80 decisions, then pulled back: the limit is
    active over one run of decisions, and the events are its onset and its offset only."""
    physics, states, controls, _ = _suite_rollout(
        "cartpole", "balance", 130, policy=lambda t: [0.8] if t < 80 else [-1.0]
    )
    events = gt.decision_events(physics, states, controls)
    active = np.flatnonzero(events["constraint_active"])
    assert 50 < active[0] < 80 < active[-1] < 129
    np.testing.assert_array_equal(active, np.arange(active[0], active[-1] + 1))
    np.testing.assert_array_equal(
        np.flatnonzero(events["constraint_event"]), [active[0], active[-1] + 1]
    )
    assert not events["contact_event"].any() and not events["contacts"].any()


def test_control_at_its_range_limit_takes_a_one_sided_difference():
    physics, states, _, _ = _suite_rollout("cartpole", "balance", 3)
    inside = gt.transition_jacobians(physics, states, np.full((3, 1), 1.0 - 1e-3))
    at_limit = gt.transition_jacobians(physics, states, np.full((3, 1), 1.0))
    np.testing.assert_allclose(at_limit["B"], inside["B"], rtol=1e-3)


@pytest.fixture(scope="module")
def ball():
    model = mujoco.MjModel.from_xml_string(BALL_XML)
    states = gt.rollout(model, np.zeros((90, 0)))
    return model, states, gt.transition_jacobians(model, states)


def test_ball_structure_changes_at_contact(ball):
    model, states, out = ball
    A = out["A"]
    events = gt.decision_events(model, states)
    ncon = events["contacts"]
    assert A.shape == (90, 12, 12) and out["B"].shape == (90, 12, 0)
    onset = int(np.argmax(ncon > 0))
    assert 40 < onset < 80 and (ncon[onset:] > 0).all()
    # The contact onset is an event, and nothing else happens in flight or while resting.
    np.testing.assert_array_equal(np.flatnonzero(events["contact_event"]), [onset])
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


def test_ball_flight_jacobian_is_eps_independent(ball):
    model, states, out = ball
    flight = slice(0, 30)
    coarse = gt.transition_jacobians(model, states[flight], eps=1e-5)
    np.testing.assert_allclose(coarse["A"], out["A"][flight], atol=1e-6)
    assert gt.state_slices(model) == {"dq": slice(0, 6), "qvel": slice(6, 12), "act": slice(12, 12)}
    rows, cols = gt.dim_names(model)
    assert len(rows) == 12 and len(cols) == 12 and rows[0].startswith("q:")


def test_probe_truth_records_the_time_scale(walker):
    physics, states, controls, _ = walker
    m = gt.raw_model(physics)
    ctrl = np.concatenate([np.zeros((1, m.nu)), controls[:-1]])
    episode = {"sim_state": states, "ctrl": ctrl}
    assert (truth.steps_per_transition(m, episode) == 20).all()
    result = truth.probe_truth(physics, [episode], ProbeConfig(), "decision")
    assert result.meta["steps_per_jacobian"] == [20] and result.meta["dt"] == m.opt.timestep
    assert result.meta["fd_eps"] == 1e-6 and result.meta["replay_max_abs_error"] == 0.0
    assert result.acc.steps == len(states) - 1
    assert set(result.steps) >= {"contacts", "contact_event", "constraint_event", "any_event"}
    assert truth.probe_truth(physics, [episode], None, "step").meta["steps_per_jacobian"] == [1]


def test_truth_study_cli(tmp_path):
    out = tmp_path / "truth"
    cmd = [sys.executable, "-m", "vsg.probe", "truth", "--tasks", "cartpole_balance"]
    cmd += ["--episodes", "1", "--max_steps", "12", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "cartpole_balance" / "summary.json").read_text())
    assert set(summary["models"]) == {"decision", "step"}
    assert summary["models"]["decision"]["steps_per_jacobian"] == [2]
    assert (out / "truth.png").is_file() and (out / "events.md").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "vsg.probe", "truth", "--tasks", "nope_task", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
