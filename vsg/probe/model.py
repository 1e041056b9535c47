"""Model side of the probe: load a run, get episodes, filter them with the posterior and
differentiate the prior transition at every recorded step (reference notes, 3.1-3.2).

Which Jacobian (rows = outputs, columns = inputs; A = action size):

- RSSM / VSG: output h_t [D]; inputs [h_{t-1} (D) | z_{t-1} flattened (F) | a_{t-1} (A)].
- SVSG: output E[s_t] [F] (prior mean, or class probabilities, mixed by the gate); inputs
  [s_{t-1} (F) | a_{t-1} (A)].
- Any variant: output its ``state_key`` entry, inputs its ``transition_inputs`` entries and
  the action, as ``LatentDynamics`` declares them.

Variants (never through a straight-through sample): ``soft`` for the soft GRU (its gate is its
probability) and for dynamics without gates; for VSG/SVSG ``realised`` (the recorded binary
gate enters as a constant, so a closed row is exactly e_i on the state block and 0 elsewhere)
and ``expected`` (the gate replaced by its probability and differentiated: diag(p) dc +
diag(1 - p) + diag(c - h) dp).
The agent is rebuilt in float32 whatever the training precision: variables are stored in
float32, only the compute dtype differs, so the checkpoint restores unchanged.
"""

import concurrent.futures
import dataclasses
import pathlib
import time

import numpy as np
import tensorflow as tf
from ruamel.yaml import YAML

from vsg.agent import Agent, as_batch
from vsg.checkpoint import Checkpointer
from vsg.config import Config
from vsg.probe import ground_truth, metrics
from vsg.probe.jacobian import multi_input_jacobian
from vsg.replay import load_episodes
from vsg.world_model import preprocess_image

# Jacobian entries per TF call (batched over steps; bounds memory) and per metrics update
# (the metrics work in float64 with one boolean mask per tau: small slices stay in cache).
JACOBIAN_CHUNK_ENTRIES = 2**22
METRICS_CHUNK_ENTRIES = 2**19


class ProbeError(Exception):
    """Bad input (no checkpoint, no episodes, ...): the CLI prints it on one line, exit 2."""


class EpisodeAccumulator(metrics.SparsityAccumulator):
    """A SparsityAccumulator over several episodes: unions and maps span all of them, while
    the temporal change restarts (NaN) at the first step of each episode."""

    def start_episode(self):
        self._prev = None


def load_config(run_dir):
    """The resolved config a run saved as ``config.yaml``."""
    yaml = YAML(typ="safe", pure=True)
    return Config(yaml.load((pathlib.Path(run_dir) / "config.yaml").read_text()))


def load_agent(run_dir, config, action_size):
    """(float32 agent restored from the run's checkpoint, checkpoint step in env frames)."""
    agent = Agent(Config({**config, "precision": "32"}), action_size)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpointer = Checkpointer(pathlib.Path(run_dir) / "checkpoint", agent=agent, step=step)
    try:
        restored = checkpointer.restore()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProbeError(f"cannot restore the checkpoint of {run_dir}: {first}") from None
    if not restored:
        raise ProbeError(f"no checkpoint in {run_dir}")
    return agent, int(step.numpy())


def _physics_state(physics):
    data = physics.data
    return {"qpos": data.qpos.copy(), "qvel": data.qvel.copy(), "act": data.act.copy()}


def collect_episodes(agent, env, n, max_steps=0):
    """Runs n episodes of ``env`` with the policy mode (no exploration noise).

    Returns a list of episodes, dicts of arrays [L + 1, ...] aligned as in ``vsg.replay``
    (image, action, reward, is_first, is_last). DMC episodes also hold the simulator state at
    each observation (qpos, qvel, act) and ``ctrl``, the control applied to reach it (row 0 is
    zero), for the ground truth. max_steps > 0 stops an episode after that many decisions.
    """
    physics = getattr(env, "physics", None)
    episodes = []
    for _ in range(n):
        obs = env.reset()
        state = agent.initial_policy_state(1)
        rows = [(obs, np.zeros(env.action_size, np.float32))]
        sim = [] if physics is None else [_physics_state(physics)]
        ctrl = [] if physics is None else [np.zeros_like(physics.data.ctrl)]
        while not obs["is_last"] and not (max_steps and len(rows) > max_steps):
            action, state = agent.policy(as_batch(obs), state, tf.constant(False))
            obs = env.step(action.numpy()[0])
            rows.append((obs, action.numpy()[0]))
            if physics is not None:
                sim.append(_physics_state(physics))
                ctrl.append(physics.data.ctrl.copy())
        episodes.append(_stack_episode(rows, sim, ctrl))
    return episodes


def _stack_episode(rows, sim, ctrl):
    keys = ("image", "reward", "is_first", "is_last")
    episode = {key: np.stack([obs[key] for obs, _ in rows]) for key in keys}
    episode["action"] = np.stack([action for _, action in rows]).astype(np.float32)
    if sim:
        for key in ("qpos", "qvel", "act"):
            episode[key] = np.stack([s[key] for s in sim])
        episode["ctrl"] = np.stack(ctrl)
    return episode


def read_episodes(directory, n):
    """The newest n stored episodes of ``directory`` (``.npz`` files of ``vsg.replay``)."""
    episodes = list(load_episodes(directory).values())
    if not episodes:
        raise ProbeError(f"no episodes in {directory}")
    return episodes[-n:]


@dataclasses.dataclass
class Transitions:
    """The L transitions of one episode, t = 1..L (o_{t-1} -> o_t under a_{t-1}).

    parts: differentiated inputs, each [L, d_k] (see module docstring); gate: recorded gate
    expanded to the state size [L, n_state] (rounded: the straight-through forward value is
    binary up to one ulp); gate_prob: [L, n_state]; both None for dynamics without gates;
    reward: [L].
    """

    parts: list
    gate: np.ndarray | None
    gate_prob: np.ndarray | None
    reward: np.ndarray

    @property
    def length(self):
        return len(self.reward)


class ModelProbe:
    """The probe's view of one agent's latent dynamics: posterior filtering and the batched
    Jacobians of ``LatentDynamics.transition`` for each variant."""

    def __init__(self, agent):
        self.agent = agent
        self.dyn = dyn = agent.wm.dynamics
        self.gated = bool(dyn.stochastic_gate)
        self.variants = ("realised", "expected") if self.gated else ("soft",)
        self.n_state = dyn.state_size
        initial = dyn.initial(1)
        # {state key: shape of one example}: the flat inputs are reshaped to it.
        self.shapes = {
            key: initial[key].shape[1:].as_list() for key in dyn.transition_inputs.values()
        }
        sizes = [
            (symbol, int(np.prod(self.shapes[key])))
            for symbol, key in dyn.transition_inputs.items()
        ]
        sizes.append(("a", agent.action_size))
        bounds = np.cumsum([0] + [size for _, size in sizes])
        self.blocks = {
            name: (int(bounds[i]), int(bounds[i + 1])) for i, (name, _) in enumerate(sizes)
        }
        self.n_in = int(bounds[-1])
        # Stable function objects, so that the compiled Jacobians are cached and reused.
        self._fns = {"realised": self._step_fn(True), "expected": self._step_fn(False)}
        self._fns["soft"] = self._fns["expected"]
        self._observe = self._observe_fn()

    def _observe_fn(self):
        wm = self.agent.wm
        spec = [
            tf.TensorSpec([None, None, None, None, 3], tf.uint8),
            tf.TensorSpec([None, None, self.agent.action_size], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ]

        @tf.function(input_signature=spec)
        def observe(image, action, is_first):
            post, _ = wm.dynamics.observe(wm.encoder(preprocess_image(image)), action, is_first)
            return post

        return observe

    def _step_fn(self, with_gate):
        """fn(*parts[, gate]) -> next state [N, n_state] in float32."""
        dyn, shapes = self.dyn, self.shapes
        keys = list(dyn.transition_inputs.values())

        def step(*parts):
            gate = tf.stop_gradient(parts[-1]) if with_gate else None
            inputs = zip(keys, parts[: len(keys)], strict=True)
            prev = {key: tf.reshape(part, [-1, *shapes[key]]) for key, part in inputs}
            if gate is not None:
                # The transition expects the cell's own gate width (groups for discrete SVSG).
                gate = gate[:, :: self.n_state // dyn.gate_size]
            out = dyn.transition(prev, parts[len(keys)], gate)
            return tf.cast(tf.reshape(out[dyn.state_key], [-1, self.n_state]), tf.float32)

        return step

    def filter_batch(self, data):
        """Posterior states of sequences data [B, T, ...] (image, action, is_first): dict of np
        arrays [B, T, ...]."""
        post = self._observe(
            tf.constant(data["image"]),
            tf.constant(data["action"], tf.float32),
            tf.constant(np.asarray(data["is_first"], bool)),
        )
        return {key: np.asarray(value, np.float32) for key, value in post.items()}

    def filter(self, episode):
        """Posterior states of an episode: dict of np arrays [L + 1, ...]."""
        data = {key: np.asarray(episode[key])[None] for key in ("image", "action", "is_first")}
        return {key: value[0] for key, value in self.filter_batch(data).items()}

    def transitions(self, episode, post=None):
        """``Transitions`` of an episode (filters it first unless ``post`` is given)."""
        post = self.filter(episode) if post is None else post
        length = len(episode["reward"]) - 1
        if length < 1:
            raise ProbeError("an episode needs at least one transition")
        keys = self.dyn.transition_inputs.values()
        parts = [post[key].reshape(length + 1, -1)[:-1] for key in keys]
        parts.append(np.asarray(episode["action"][1:], np.float32))
        reward = np.asarray(episode["reward"][1:], np.float32)
        gates = self.dyn.gates(post)
        if gates is None:
            return Transitions(parts, None, None, reward)
        gate, prob = (np.repeat(g[1:], self.n_state // g.shape[-1], axis=-1) for g in gates)
        return Transitions(parts, np.rint(gate) if self.gated else gate, prob, reward)

    def jacobian(self, trans, variant, rows=None, steps=slice(None)):
        """Jacobian [n, n_rows or n_state, n_in] of ``variant`` at ``trans`` steps ``steps``."""
        parts = [part[steps] for part in trans.parts]
        if variant == "realised":
            parts.append(trans.gate[steps])
        J, _ = multi_input_jacobian(self._fns[variant], parts, rows)
        return J[:, :, : self.n_in]

    def gates(self, trans, variant):
        """What the open-gate fraction averages: [L, n_state] binary or soft gates (None
        without gates)."""
        return trans.gate if variant == "realised" else trans.gate_prob


def input_scales(trans_list):
    """Per-column std of the differentiated inputs over all steps: [n_in]."""
    columns = [np.concatenate(parts, axis=1) for parts in (t.parts for t in trans_list)]
    return np.concatenate(columns, axis=0).std(axis=0)


def chunk_steps(n_rows, n_in, budget):
    """Steps per chunk so that a chunk holds about ``budget`` Jacobian entries."""
    return max(1, int(budget // max(n_rows * n_in, 1)))


def _feed(acc, J, gates, step):
    """acc.update in slices of ``step`` steps: the metrics' float64 temporaries then stay
    in cache (8 steps per call ran ~2x faster than 350 at 200 x 238)."""
    for start in range(0, len(J), step):
        part = slice(start, start + step)
        acc.update(J[part], None if gates is None else gates[part])


def probe_model(probe, trans_list, config=None, rows=None):
    """Streams every variant's Jacobians of all episodes through one accumulator each.

    rows: sorted output indices to differentiate (None: all). Returns ({variant:
    EpisodeAccumulator}, extra per-step arrays [sum L] (``rel_diff_expected``: relative
    Frobenius distance of the expected to the realised Jacobian, gated models only),
    seconds spent waiting for Jacobians and in the metrics).
    """
    scale = input_scales(trans_list)
    sel = np.arange(probe.n_state) if rows is None else np.asarray(rows)
    accs = {
        v: EpisodeAccumulator(len(sel), probe.n_in, config, scale, scale[sel], sel)
        for v in probe.variants
    }
    step = chunk_steps(len(sel), probe.n_in, JACOBIAN_CHUNK_ENTRIES)
    sub = chunk_steps(len(sel), probe.n_in, METRICS_CHUNK_ENTRIES)
    chunks = [
        (k, slice(s, min(s + step, t.length)))
        for k, t in enumerate(trans_list)
        for s in range(0, t.length, step)
    ]

    def jacobians(chunk):
        trans = trans_list[chunk[0]]
        return {v: probe.jacobian(trans, v, rows, chunk[1]) for v in probe.variants}

    seconds = {"jacobian_wait": 0.0, "metrics": 0.0}
    diffs = []
    # One thread computes the next chunk's Jacobians (TF) while the others reduce the current
    # chunk, one per variant (NumPy releases the GIL in its heavy loops).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1 + len(accs)) as pool:
        pending = pool.submit(jacobians, chunks[0])
        for index, (k, steps) in enumerate(chunks):
            t0 = time.perf_counter()
            jacs = pending.result()
            if index + 1 < len(chunks):
                pending = pool.submit(jacobians, chunks[index + 1])
            t1 = time.perf_counter()
            if steps.start == 0:
                for acc in accs.values():
                    acc.start_episode()
            gates = {v: _rows(probe.gates(trans_list[k], v), steps, sel) for v in accs}
            updates = [pool.submit(_feed, accs[v], J, gates[v], sub) for v, J in jacs.items()]
            if probe.gated:
                diffs.append(_rel_diff(jacs["expected"], jacs["realised"]))
            for update in updates:
                update.result()
            seconds["jacobian_wait"] += t1 - t0
            seconds["metrics"] += time.perf_counter() - t1
    extra = {"rel_diff_expected": np.concatenate(diffs)} if diffs else {}
    return accs, extra, seconds


def _rows(gates, steps, sel):
    """gates[steps][:, sel], or None for dynamics without gates."""
    return None if gates is None else gates[steps][:, sel]


def _rel_diff(a, b):
    """Per-step ||a - b||_F / ||b||_F of two Jacobian stacks [n, rows, cols]."""
    num = np.sqrt(((a - b) ** 2).sum(axis=(1, 2)))
    return num / np.maximum(np.sqrt((b**2).sum(axis=(1, 2))), 1e-30)


def probe_ground_truth(physics, episodes, probe_config=None):
    """MuJoCo's own one-step transition Jacobians [A | B] at the state before each decision of
    the episodes (needs the ``qpos``/``ctrl`` keys that ``collect_episodes`` records).

    physics: the env's dm_control Physics (or an MjModel). One ``mj_step`` is linearised per
    decision (the simulator's own causal graph; a decision spans action_repeat control steps).
    Metrics use diag="subtract" (A - I, the update Jacobian) with std-standardised columns.
    Returns (EpisodeAccumulator, per-step contact counts [sum L], blocks {"dq", "qvel", "act",
    "ctrl": (start, stop)}) or None without simulator states.
    """
    if physics is None or not episodes or "qpos" not in episodes[0]:
        return None
    model = ground_truth.raw_model(physics)
    cfg = dataclasses.replace(probe_config or metrics.ProbeConfig(), diag="subtract")
    nx, nu = 2 * model.nv + model.na, model.nu
    scale = _gt_scales(model, episodes)
    acc = EpisodeAccumulator(nx, nx + nu, cfg, scale, scale[:nx], np.arange(nx))
    contacts = []
    for ep in episodes:
        states = {key: ep[key][:-1] for key in ("qpos", "qvel", "act")}
        out = ground_truth.transition_jacobians(model, states, ep["ctrl"][1:])
        acc.start_episode()
        acc.update(np.concatenate([out["A"], out["B"]], axis=2))
        contacts.append(out["ncon"])
    bounds = np.cumsum([0, model.nv, model.nv, model.na, nu])
    names = ("dq", "qvel", "act", "ctrl")
    blocks = {k: (int(bounds[i]), int(bounds[i + 1])) for i, k in enumerate(names)}
    return acc, np.concatenate(contacts), blocks


def _gt_scales(model, episodes):
    """Std of [dq, qvel, act, ctrl] over the episodes; positions only when qpos has the
    tangent layout (no quaternions), otherwise 1."""
    cat = {k: np.concatenate([ep[k] for ep in episodes]) for k in ("qpos", "qvel", "act", "ctrl")}
    dq = cat["qpos"].std(axis=0) if model.nq == model.nv else np.ones(model.nv)
    return np.concatenate([dq, cat["qvel"].std(axis=0), cat["act"].std(axis=0), cat["ctrl"].std(0)])
