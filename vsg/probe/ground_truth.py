"""Ground-truth transition Jacobians of MuJoCo physics by finite differences.

``mujoco.mjd_transitionFD`` linearises one ``mj_step``: ``dx' = A dx + B du`` with the state
x = [dq (nv, tangent-space positions), qvel (nv), act (na)], so A is [nx, nx] with
nx = 2 nv + na and B is [nx, nu]. Works on raw ``mujoco.MjModel`` objects and on dm_control
``Physics`` objects (their ``model.ptr``); a private ``MjData`` is used, so the caller's
simulation is never disturbed.

dm_control's cartpole uses RK4, which mjd_transitionFD rejects; for RK4 models the same centered
differences are taken here around ``mj_step`` (same state convention, checked against
mjd_transitionFD on an Euler model in the tests).

For the metrics use ``diag="subtract"`` (A - I: the update Jacobian) and look at rows/columns
with ``state_slices``. Near contact boundaries finite differences are eps-dependent; compare
eps = 1e-6 with 1e-5 when validating (reference notes, test T6).
"""

import mujoco
import numpy as np

# Everything the next step depends on, except controls and applied forces.
DEFAULT_SIG = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)


def raw_model(model_or_physics):
    """The ``mujoco.MjModel`` behind a raw model or a dm_control Physics."""
    inner = getattr(model_or_physics, "model", None)
    if inner is not None and hasattr(inner, "ptr"):
        return inner.ptr
    return model_or_physics


def raw_data(data_or_physics):
    """The ``mujoco.MjData`` behind raw data or a dm_control Physics."""
    inner = getattr(data_or_physics, "data", None)
    if inner is not None and hasattr(inner, "ptr"):
        return inner.ptr
    return data_or_physics


def get_state(model, data, sig=DEFAULT_SIG):
    """Current state vector [mj_stateSize(sig)] of (model, data); accepts dm_control Physics
    for both arguments. Record this at every step of an episode to probe it later."""
    model, data = raw_model(model), raw_data(data)
    state = np.empty(mujoco.mj_stateSize(model, sig))
    mujoco.mj_getState(model, data, state, sig)
    return state


def state_slices(model):
    """Blocks of the FD state x: {"dq": slice, "qvel": slice, "act": slice}."""
    m = raw_model(model)
    return {
        "dq": slice(0, m.nv),
        "qvel": slice(m.nv, 2 * m.nv),
        "act": slice(2 * m.nv, 2 * m.nv + m.na),
    }


def _set_state(model, data, state, t, sig):
    if isinstance(state, dict):
        data.qpos[:] = state["qpos"][t]
        data.qvel[:] = state["qvel"][t]
        if model.na:
            data.act[:] = state["act"][t]
    else:
        mujoco.mj_setState(model, data, np.asarray(state[t], np.float64), sig)


def transition_jacobians(model, states, controls=None, eps=1e-6, centered=True, sig=DEFAULT_SIG):
    """Finite-difference transition Jacobians at T recorded states.

    model: MjModel or dm_control Physics. states: array [T, mj_stateSize(sig)] from
    ``get_state``/``rollout``, or a dict with "qpos" [T, nq], "qvel" [T, nv] and, if na > 0,
    "act" [T, na]. controls: [T, nu] (None: zeros). Returns {"A": [T, nx, nx],
    "B": [T, nx, nu], "ncon": [T] int (contacts at each state, after mj_forward)}.
    """
    m = raw_model(model)
    d = mujoco.MjData(m)
    n = len(states["qpos"]) if isinstance(states, dict) else len(states)
    controls = np.zeros((n, m.nu)) if controls is None else np.asarray(controls, np.float64)
    nx = 2 * m.nv + m.na
    A = np.zeros((n, nx, nx))
    B = np.zeros((n, nx, m.nu))
    ncon = np.zeros(n, int)
    for t in range(n):
        _set_state(m, d, states, t, sig)
        d.ctrl[:] = controls[t]
        mujoco.mj_forward(m, d)
        ncon[t] = d.ncon
        if m.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4:
            _step_fd(m, d, eps, A[t], B[t])
        else:
            mujoco.mjd_transitionFD(m, d, eps, centered, A[t], B[t], None, None)
    return {"A": A, "B": B, "ncon": ncon}


def _step_fd(m, d, eps, A, B):
    """Centered differences of one mj_step in mjd_transitionFD's state convention, for the
    integrators it rejects (RK4, used by dm_control's cartpole). Fills A [nx, nx], B [nx, nu]."""
    sig = int(mujoco.mjtState.mjSTATE_INTEGRATION)  # includes ctrl and solver warm start
    base = np.empty(mujoco.mj_stateSize(m, sig))
    mujoco.mj_getState(m, d, base, sig)
    mujoco.mj_step(m, d)
    qpos_ref = d.qpos.copy()

    def next_x(perturb):
        mujoco.mj_setState(m, d, base, sig)
        perturb()
        mujoco.mj_step(m, d)
        dq = np.zeros(m.nv)
        mujoco.mj_differentiatePos(m, dq, 1.0, qpos_ref, d.qpos)
        return np.concatenate([dq, d.qvel, d.act])

    def column(k, sign):
        delta = sign * eps
        if k < m.nv:
            tangent = np.zeros(m.nv)
            tangent[k] = delta
            return next_x(lambda: mujoco.mj_integratePos(m, d.qpos, tangent, 1.0))
        if k < 2 * m.nv:
            return next_x(lambda: d.qvel.__setitem__(k - m.nv, d.qvel[k - m.nv] + delta))
        if k < 2 * m.nv + m.na:
            j = k - 2 * m.nv
            return next_x(lambda: d.act.__setitem__(j, d.act[j] + delta))
        j = k - 2 * m.nv - m.na
        return next_x(lambda: d.ctrl.__setitem__(j, d.ctrl[j] + delta))

    nx = 2 * m.nv + m.na
    for k in range(nx + m.nu):
        col = (column(k, 1.0) - column(k, -1.0)) / (2.0 * eps)
        if k < nx:
            A[:, k] = col
        else:
            B[:, k - nx] = col
    mujoco.mj_setState(m, d, base, sig)
    mujoco.mj_forward(m, d)


def rollout(model, controls, init_state=None, sig=DEFAULT_SIG):
    """Step the physics under controls [T, nu] from init_state (None: the model's keyframe-free
    default, after mj_forward). Returns the states [T, mj_stateSize(sig)] *before* each step,
    i.e. the points at which ``transition_jacobians`` linearises the step taken."""
    m = raw_model(model)
    d = mujoco.MjData(m)
    if init_state is not None:
        mujoco.mj_setState(m, d, np.asarray(init_state, np.float64), sig)
    mujoco.mj_forward(m, d)
    controls = np.asarray(controls, np.float64)
    states = np.zeros((len(controls), mujoco.mj_stateSize(m, sig)))
    for t, u in enumerate(controls):
        mujoco.mj_getState(m, d, states[t], sig)
        d.ctrl[:] = u
        mujoco.mj_step(m, d)
    return states
