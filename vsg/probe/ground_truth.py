"""Ground-truth transition Jacobians of MuJoCo physics, over one mj_step or one agent decision.

Convention. The state is x = [dq (nv, tangent-space positions), qvel (nv), act (na)] and the
input u = ctrl (nu), the layout of ``mujoco.mjd_transitionFD``: dx' = A dx + B du with A
[nx, nx], B [nx, nu], nx = 2 nv + na. The metrics analyse A - I (the update Jacobian), since
A is the identity plus O(dt) terms.

Time scale. A learned world model makes one transition per agent decision, which spans
K = action_repeat x control substeps ``mj_step`` calls with the control held (walker: 2 x 10
= 20 at the paper's action repeat of 2, hopper 2 x 4 = 8, cheetah 2 x 1 = 2). The decision
Jacobian is the Jacobian of that composed map, taken by centred differences of the whole
decision (``mujoco.rollout`` runs the 2 (nx + nu) perturbed copies in C); K = 1 gives the
per-step Jacobian. Near contact boundaries differences are eps-dependent (the map is not
smooth there), so eps is recorded with the results.

Full state. ``mj_step`` reads more than [qpos, qvel, act]: the constraint solver starts from
``qacc_warmstart``, and ctrl, applied forces, mocap poses and equality activations enter
too. ``mjSTATE_INTEGRATION`` holds all of them; states are recorded with it and restored
exactly, so the differences are those of the step the simulator really took (a zeroed or
stale warm start changes constraint forces, e.g. on a joint limit). ``mjd_transitionFD``
likewise restores the warm start for each of its perturbed steps.

Events. Replaying each decision unperturbed, every substep's active constraints are read
after its ``mj_step`` (they acted during it): contacting geom pairs, and other constraint
rows (joint and tendon limits, friction loss, equality) the solver did not find satisfied.
A decision's sets are the unions over its substeps; a contact (constraint) event is a
change of that set from the previous decision: an onset or an offset.
"""

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

# Everything mj_step reads: physics state, warm start and the user inputs.
STATE_SIG = int(mujoco.mjtState.mjSTATE_INTEGRATION)
_PHYSICS = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
_USER = int(mujoco.mjtState.mjSTATE_USER)
_CONTACT_TYPES = {
    int(mujoco.mjtConstraint.mjCNSTR_CONTACT_FRICTIONLESS),
    int(mujoco.mjtConstraint.mjCNSTR_CONTACT_PYRAMIDAL),
    int(mujoco.mjtConstraint.mjCNSTR_CONTACT_ELLIPTIC),
}
_SATISFIED = int(mujoco.mjtConstraintState.mjCNSTRSTATE_SATISFIED)
# Decisions per mujoco.rollout call (each runs 2 (nx + nu) + 1 copies): bounds memory.
ROLLOUT_CHUNK = 64


def raw_model(model_or_physics):
    """The ``mujoco.MjModel`` behind a raw model or a dm_control Physics."""
    if isinstance(model_or_physics, mujoco.MjModel):
        return model_or_physics
    return model_or_physics.model.ptr


def raw_data(data_or_physics):
    """The ``mujoco.MjData`` behind raw data or a dm_control Physics."""
    if isinstance(data_or_physics, mujoco.MjData):
        return data_or_physics
    return data_or_physics.data.ptr


def get_state(model, data, sig=STATE_SIG):
    """Current state vector [mj_stateSize(sig)] of (model, data); accepts dm_control Physics
    for both arguments. Record this at every decision of an episode to probe it later."""
    model, data = raw_model(model), raw_data(data)
    state = np.empty(mujoco.mj_stateSize(model, sig))
    mujoco.mj_getState(model, data, state, sig)
    return state


def state_part(model, states, part, sig=STATE_SIG):
    """Component ``part`` (an mjtState bit, e.g. mjSTATE_QPOS) of state vectors [..., size]."""
    m = raw_model(model)
    part = int(part)
    if not sig & part:
        raise ValueError(f"state signature {sig} does not hold component {part}")
    start = sum(mujoco.mj_stateSize(m, bit) for bit in _bits(sig) if bit < part)
    return np.asarray(states)[..., start : start + mujoco.mj_stateSize(m, part)]


def _bits(sig):
    return [1 << k for k in range(int(sig).bit_length()) if sig & (1 << k)]


def state_slices(model):
    """Blocks of the FD state x: {"dq": slice, "qvel": slice, "act": slice}."""
    m = raw_model(model)
    return {
        "dq": slice(0, m.nv),
        "qvel": slice(m.nv, 2 * m.nv),
        "act": slice(2 * m.nv, 2 * m.nv + m.na),
    }


def dim_names(model):
    """Names of the Jacobian's rows (x) and columns ([x, u]): "q:<dof>", "v:<dof>",
    "a:<actuator>" (activations) and "u:<actuator>" (controls)."""
    m = raw_model(model)
    dofs = [
        mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) or f"dof{i}"
        for i, j in enumerate(m.dof_jntid)
    ]
    acts = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, i) or f"act{i}" for i in range(m.nu)]
    act_states = [acts[i] for i in range(m.nu) if m.actuator_actadr[i] >= 0]
    x = [f"q:{n}" for n in dofs] + [f"v:{n}" for n in dofs] + [f"a:{n}" for n in act_states]
    return x, x + [f"u:{n}" for n in acts]


def transition_jacobians(model, states, controls=None, n_steps=1, eps=1e-6):
    """Finite-difference Jacobians of one decision of ``n_steps`` mj_steps at T states.

    model: MjModel or dm_control Physics. states [T, mj_stateSize(STATE_SIG)] from
    ``get_state`` (warm start and user inputs included). controls [T, nu]: held over the
    decision (None: the ctrl stored in each state). n_steps: int or [T] ints. Centred
    differences of step eps, one-sided for a control at its clamped range limit.
    Returns {"A": [T, nx, nx], "B": [T, nx, nu]}.
    """
    m = raw_model(model)
    states = np.asarray(states, np.float64)
    n = len(states)
    steps = np.broadcast_to(np.asarray(n_steps, int), (n,))
    if (steps < 1).any():
        raise ValueError("n_steps must be at least 1")
    nx = 2 * m.nv + m.na
    A, B = np.zeros((n, nx, nx)), np.zeros((n, nx, m.nu))
    d = mujoco.MjData(m)
    for k in np.unique(steps):
        same = np.flatnonzero(steps == k)
        for idx in np.array_split(same, -(-len(same) // ROLLOUT_CHUNK)):
            A[idx], B[idx] = _decision_fd(
                m, d, states[idx], _controls(m, states[idx], controls, idx), k, eps
            )
    return {"A": A, "B": B}


def _controls(m, states, controls, idx):
    if controls is None:
        return state_part(m, states, mujoco.mjtState.mjSTATE_CTRL).copy()
    return np.asarray(controls, np.float64).reshape(-1, m.nu)[idx]


def _decision_fd(m, d, states, controls, n_steps, eps):
    """(A [T, nx, nx], B [T, nx, nu]) of decisions of n_steps mj_steps from T full states."""
    nv, na, nu = m.nv, m.na, m.nu
    nx = 2 * nv + na
    cols = nx + nu
    phys, user, warm = [], [], []
    for state, ctrl in zip(states, controls, strict=True):
        mujoco.mj_setState(m, d, state, STATE_SIG)
        d.ctrl[:] = ctrl
        phys.append(get_state(m, d, _PHYSICS))
        user.append(get_state(m, d, _USER))
        warm.append(d.qacc_warmstart.copy())
    phys, user, warm = np.array(phys), np.array(user), np.array(warm)
    # Rollout r = t * (2 cols + 1) + j: j = 2c, 2c + 1 perturb column c by +eps, -eps; j = 2 cols
    # is the unperturbed decision.
    per = 2 * cols + 1
    p0 = np.repeat(phys, per, axis=0)
    u0 = np.repeat(user, per, axis=0)
    # Views into p0 and u0: perturbing them perturbs the rollouts' start states.
    qpos = state_part(m, p0, mujoco.mjtState.mjSTATE_QPOS, _PHYSICS)
    qvel = state_part(m, p0, mujoco.mjtState.mjSTATE_QVEL, _PHYSICS)
    act = state_part(m, p0, mujoco.mjtState.mjSTATE_ACT, _PHYSICS)
    ctrl = state_part(m, u0, mujoco.mjtState.mjSTATE_CTRL, _USER)
    # Step taken on each side of each column: eps, or 0 where a clamped control cannot move.
    plus, minus = np.full((len(states), cols), eps), np.full((len(states), cols), eps)
    lo, hi = m.actuator_ctrlrange.T
    limited = m.actuator_ctrllimited.astype(bool) & ~bool(
        m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CLAMPCTRL
    )
    for t in range(len(states)):
        base = t * per
        for c in range(cols):
            for sign, r in ((1.0, base + 2 * c), (-1.0, base + 2 * c + 1)):
                delta = sign * eps
                if c < nv:
                    tangent = np.zeros(nv)
                    tangent[c] = delta
                    mujoco.mj_integratePos(m, qpos[r], tangent, 1.0)
                elif c < 2 * nv:
                    qvel[r, c - nv] += delta
                elif c < nx:
                    act[r, c - 2 * nv] += delta
                else:
                    j = c - nx
                    value = ctrl[r, j] + delta
                    if limited[j] and not lo[j] <= value <= hi[j]:
                        (plus if sign > 0 else minus)[t, c] = 0.0
                        continue
                    ctrl[r, j] = value
    steps = plus + minus
    out, _ = mj_rollout.rollout(
        m,
        d,
        p0,
        np.repeat(u0[:, None], n_steps, axis=1),
        control_spec=_USER,
        initial_warmstart=np.repeat(warm, per, axis=0),
    )
    final = out[:, -1]
    A, B = np.zeros((len(states), nx, nx)), np.zeros((len(states), nx, nu))
    for t in range(len(states)):
        base = t * per
        ref = final[base + 2 * cols]
        for c in range(cols):
            up = final[base + 2 * c] if plus[t, c] else ref
            down = final[base + 2 * c + 1] if minus[t, c] else ref
            # A control range narrower than eps leaves no difference to take: column 0.
            col = _state_diff(m, down, up) / steps[t, c] if steps[t, c] else 0.0
            if c < nx:
                A[t, :, c] = col
            else:
                B[t, :, c - nx] = col
    return A, B


def _state_diff(m, a, b):
    """b - a of two FULLPHYSICS states in the FD state layout [dq, qvel, act]."""
    dq = np.zeros(m.nv)
    qa = state_part(m, a, mujoco.mjtState.mjSTATE_QPOS, _PHYSICS)
    qb = state_part(m, b, mujoco.mjtState.mjSTATE_QPOS, _PHYSICS)
    mujoco.mj_differentiatePos(m, dq, 1.0, qa, qb)
    rest = [mujoco.mjtState.mjSTATE_QVEL, mujoco.mjtState.mjSTATE_ACT]
    parts = [state_part(m, b, p, _PHYSICS) - state_part(m, a, p, _PHYSICS) for p in rest]
    return np.concatenate([dq, *parts])


def decision_events(model, states, controls=None, n_steps=1, n_watch=None):
    """Constraint events along T consecutive decisions (one episode) from their start states
    [T, STATE_SIG size], replayed without perturbation.

    A decision's active sets are the unions over its first ``n_watch`` substeps (default: all)
    of the contacting geom pairs and of the non-contact constraint rows that acted
    (``_active_sets``): the constraints its Jacobian depends on (n_watch = 1 for the one-step
    Jacobian). Decision t has a contact (constraint) event when its set differs
    from decision t - 1's: an onset or an offset (none at the episode's first decision).
    Returns {"contacts": [T] contacts at the first substep, "contact_event" [T] bool,
    "constraint_event" [T] bool, "constraint_active" [T] bool (a non-contact constraint
    acted), "next_state" [T, STATE_SIG size] after the decision}.
    """
    m = raw_model(model)
    d = mujoco.MjData(m)
    states = np.asarray(states, np.float64)
    n = len(states)
    steps = np.broadcast_to(np.asarray(n_steps, int), (n,))
    watch = steps if n_watch is None else np.broadcast_to(np.asarray(n_watch, int), (n,))
    out = {
        "contacts": np.zeros(n, int),
        "contact_event": np.zeros(n, bool),
        "constraint_event": np.zeros(n, bool),
        "constraint_active": np.zeros(n, bool),
        "next_state": np.zeros_like(states),
    }
    prev = None
    for t in range(n):
        mujoco.mj_setState(m, d, states[t], STATE_SIG)
        if controls is not None:
            d.ctrl[:] = controls[t]
        contacts, rows = set(), set()
        for k in range(steps[t]):
            mujoco.mj_step(m, d)
            if k == 0:
                out["contacts"][t] = d.ncon
            if k < watch[t]:
                step_contacts, step_rows = _active_sets(m, d)
                contacts |= step_contacts
                rows |= step_rows
        out["constraint_active"][t] = bool(rows)
        if prev is not None:
            out["contact_event"][t] = contacts != prev[0]
            out["constraint_event"][t] = rows != prev[1]
        prev = (contacts, rows)
        out["next_state"][t] = get_state(m, d)
    return out


def _active_sets(m, d):
    """(contacting geom pairs, non-contact constraint rows that acted) of the mj_step just
    taken, whose constraint arrays describe the state it started from. A row acted when the
    solver did not find it satisfied; (type, object id) identifies it."""
    contacts = (
        frozenset(
            (int(c.geom1), int(c.geom2)) if c.geom1 <= c.geom2 else (int(c.geom2), int(c.geom1))
            for c in d.contact[: d.ncon]
        )
        if d.ncon
        else frozenset()
    )
    n = d.nefc
    types, ids, solver = d.efc_type[:n], d.efc_id[:n], d.efc_state[:n]
    keep = ~np.isin(types, list(_CONTACT_TYPES)) & (solver != _SATISFIED)
    rows = frozenset(
        zip(types[keep].tolist(), ids[keep].tolist(), solver[keep].tolist(), strict=True)
    )
    return contacts, rows


def rollout(model, controls, init_state=None, sig=STATE_SIG):
    """Step the physics under controls [T, nu] from init_state (None: the model's default,
    after mj_forward). Returns the states [T, mj_stateSize(sig)] *before* each step (with the
    step's ctrl stored), i.e. the points at which ``transition_jacobians`` linearises the
    step taken."""
    m = raw_model(model)
    d = mujoco.MjData(m)
    if init_state is not None:
        mujoco.mj_setState(m, d, np.asarray(init_state, np.float64), sig)
    mujoco.mj_forward(m, d)
    controls = np.asarray(controls, np.float64)
    states = np.zeros((len(controls), mujoco.mj_stateSize(m, sig)))
    for t, u in enumerate(controls):
        d.ctrl[:] = u
        mujoco.mj_getState(m, d, states[t], sig)
        mujoco.mj_step(m, d)
    return states
