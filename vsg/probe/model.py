"""Model side of the probe: load a run, get episodes, filter them with the posterior and
differentiate the prior transition (the cell of Jain et al. 2022 for VSG/SVSG) at every
recorded step, with the recorded stochastic inputs held constant.

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
Dynamics with a closed form (``LatentDynamics.transition_jacobian``: RSSM) give the Jacobians
directly; the others are differentiated by reverse-mode autodiff (``vsg.probe.jacobian``).
The agent is rebuilt in float32 whatever the training precision: variables are stored in
float32, only the compute dtype differs, so the checkpoint restores unchanged.
Runs are read by ``vsg.probe.runs``.
"""

import concurrent.futures
import dataclasses
import time

import numpy as np
import tensorflow as tf

from envs.parallel import LocalEnvs
from vsg.agent import stack_observations
from vsg.driver import Driver
from vsg.probe import ground_truth, metrics
from vsg.probe.jacobian import multi_input_jacobian
from vsg.probe.runs import ProbeError
from vsg.replay import load_episodes
from vsg.world_model import preprocess_image

# Jacobian entries per TF call (batched over steps; bounds memory, and keeps the closed form's
# temporaries under glibc's 32 MB mmap threshold, past which every call page-faults them in)
# and per metrics update (a few steps per call: fewer per-call overheads, small temporaries).
JACOBIAN_CHUNK_ENTRIES = 2**22
METRICS_CHUNK_ENTRIES = 2**21


class StateRecorder:
    """``env`` (of ``envs.make``) whose observations also hold ``sim_state``, the full
    simulator state (``ground_truth.STATE_SIG``: warm start included), and ``ctrl``, the
    control that reached it (zero after a reset), when ``physics`` (its dm_control Physics) is
    given; an episode ends (``is_last``) after ``max_steps`` decisions when that is > 0."""

    def __init__(self, env, physics=None, max_steps=0):
        self.env, self.physics, self.max_steps = env, physics, max_steps
        self.action_size = env.action_size
        self._decisions = 0

    def reset(self):
        self._decisions = 0
        return self._record(self.env.reset(), reset=True)

    def step(self, action):
        self._decisions += 1
        obs = self._record(self.env.step(action), reset=False)
        if self.max_steps and self._decisions >= self.max_steps:
            obs["is_last"] = True
        return obs

    def close(self):
        self.env.close()

    def _record(self, obs, reset):
        obs = dict(obs)
        if self.physics is not None:
            data = self.physics.data
            obs["sim_state"] = ground_truth.get_state(self.physics, self.physics)
            obs["ctrl"] = np.zeros_like(data.ctrl) if reset else data.ctrl.copy()
        return obs


EPISODE_KEYS = ("image", "reward", "is_first", "is_last", "action", "sim_state", "ctrl")


def collect_episodes(agent, env, n, max_steps=0, physics=None):
    """Runs n episodes of ``env`` (an env of ``envs.make`` in this process) with the policy
    mode (no exploration noise), through the episode driver of training (``vsg.driver``).

    Returns a list of episodes, dicts of arrays [L + 1, ...] aligned as in ``vsg.replay``
    (image, action, reward, is_first, is_last). With ``physics`` (DMC) they also hold
    ``sim_state`` and ``ctrl`` (``StateRecorder``) for the ground truth (``vsg.probe.truth``).
    max_steps > 0 stops an episode after that many decisions.
    """
    driver = Driver(LocalEnvs([StateRecorder(env, physics, max_steps)]))
    episodes = []
    driver.on_episode.append(
        lambda _, episode: episodes.append({k: v for k, v in episode.items() if k in EPISODE_KEYS})
    )
    explore = tf.constant(False)

    def policy(observations, state):
        if state is None:
            state = agent.initial_policy_state(len(observations))
        action, state = agent.policy(stack_observations(observations), state, explore)
        return action.numpy(), state

    while len(episodes) < n:
        driver.send(policy)
        driver.receive()
    return episodes


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
    Jacobians of ``LatentDynamics.transition`` for each variant.

    The Jacobians come from the dynamics' closed form (``transition_jacobian``) when they have
    one and ``closed_form`` is set, else from reverse-mode autodiff of ``transition``.
    """

    def __init__(self, agent, closed_form=True):
        self.agent = agent
        self.closed_form = closed_form
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
        # The Jacobian's output as the probe's tables name it: the state entry at step t.
        self.output_name = f"{dyn.state_key}_t"
        sizes.append(("a", agent.action_size))
        bounds = np.cumsum([0] + [size for _, size in sizes])
        self.blocks = {
            name: (int(bounds[i]), int(bounds[i + 1])) for i, (name, _) in enumerate(sizes)
        }
        self.n_in = int(bounds[-1])
        # Stable function objects, so that the compiled Jacobians are cached and reused.
        self._fns = {"realised": self._step_fn(True), "expected": self._step_fn(False)}
        self._fns["soft"] = self._fns["expected"]
        # {with gate: compiled closed form, or None when the dynamics have none}, traced lazily.
        self._closed = {}
        self._observe = self._observe_fn()

    def _observe_fn(self):
        wm = self.agent.wm
        spec = [
            tf.TensorSpec([None, None, None, None, 3], tf.uint8),
            tf.TensorSpec([None, None, self.agent.action_size], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ]

        @tf.function(input_signature=spec, autograph=False)
        def observe(image, action, is_first):
            post, _ = wm.dynamics.observe(wm.encoder(preprocess_image(image)), action, is_first)
            return post

        return observe

    def _inputs(self, parts, with_gate):
        """(prev state dict, action, gate or None) of ``transition`` from the flat parts
        [N, d_k] (inputs, action[, gate expanded to the state size])."""
        keys = list(self.dyn.transition_inputs.values())
        inputs = zip(keys, parts[: len(keys)], strict=True)
        prev = {key: tf.reshape(part, [-1, *self.shapes[key]]) for key, part in inputs}
        gate = None
        if with_gate:
            # The transition expects the cell's own gate width (groups for discrete SVSG).
            gate = parts[len(keys) + 1][:, :: self.n_state // self.dyn.gate_size]
        return prev, parts[len(keys)], gate

    def _step_fn(self, with_gate):
        """fn(*parts[, gate]) -> next state [N, n_state] in float32."""
        dyn = self.dyn

        def step(*parts):
            prev, action, gate = self._inputs(parts, with_gate)
            gate = None if gate is None else tf.stop_gradient(gate)
            out = dyn.transition(prev, action, gate)
            return tf.cast(tf.reshape(out[dyn.state_key], [-1, self.n_state]), tf.float32)

        return step

    def _closed_fn(self, with_gate, subsample):
        """The dynamics' ``transition_jacobian`` compiled as fn(*parts[, gate][, rows]) ->
        [N, R, n_in] (N and R free, so chunks and row sets never retrace; all rows without
        ``subsample``), or None when the dynamics have no closed form (known once traced)."""
        key = (with_gate, subsample)
        if key not in self._closed:
            widths = [hi - lo for lo, hi in self.blocks.values()]
            widths += [self.n_state] if with_gate else []
            spec = [tf.TensorSpec([None, w], tf.float32) for w in widths]
            spec += [tf.TensorSpec([None], tf.int32)] if subsample else []

            @tf.function(input_signature=spec, autograph=False)
            def closed(*args):
                parts, rows = (args[:-1], args[-1]) if subsample else (args, None)
                prev, action, gate = self._inputs(parts, with_gate)
                return self.dyn.transition_jacobian(prev, action, gate, rows)

            has_form = closed.get_concrete_function().structured_outputs is not None
            self._closed[key] = closed if has_form else None
        return self._closed[key]

    @property
    def uses_closed_form(self):
        """The Jacobians come from the dynamics' ``transition_jacobian`` (traced to know)."""
        return self.closed_form and self._closed_fn(False, False) is not None

    def steps_per_call(self, n_rows):
        """Steps per Jacobian call for ``n_rows`` rows: about JACOBIAN_CHUNK_ENTRIES entries,
        rounded down to a power of two for the closed form (see ``_padded``)."""
        step = chunk_steps(n_rows, self.n_in, JACOBIAN_CHUNK_ENTRIES)
        return 1 << (step.bit_length() - 1) if self.uses_closed_form else step

    def warm_up(self, rows=None):
        """Compiles the Jacobians of every call size up to ``steps_per_call`` (closed form:
        the powers of two), so that no timing or first episode includes XLA compilation."""
        n_rows = self.n_state if rows is None else len(rows)
        sizes = [1 << i for i in range(self.steps_per_call(n_rows).bit_length())]
        for n in sizes if self.uses_closed_form else [1]:
            parts = [np.zeros((n, hi - lo), np.float32) for lo, hi in self.blocks.values()]
            gate = np.zeros((n, self.n_state), np.float32) if self.gated else None
            trans = Transitions(parts, gate, gate, np.zeros(n, np.float32))
            for variant in self.variants:
                self.jacobian(trans, variant, rows)

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
        """Jacobian [n, n_rows or n_state, n_in] of ``variant`` at ``trans`` steps ``steps``
        (float32): closed form if the dynamics have one (and ``closed_form``), else autodiff."""
        parts = [part[steps] for part in trans.parts]
        if variant == "realised":
            parts.append(trans.gate[steps])
        if self.uses_closed_form:
            n = len(parts[0])
            args = [tf.constant(part, tf.float32) for part in _padded(parts)]
            args += [] if rows is None else [tf.constant(np.asarray(rows), tf.int32)]
            return self._closed_fn(variant == "realised", rows is not None)(*args).numpy()[:n]
        J, _ = multi_input_jacobian(self._fns[variant], parts, rows)
        return J[:, :, : self.n_in]

    def gates(self, trans, variant):
        """What the open-gate fraction averages: [L, n_state] binary or soft gates (None
        without gates)."""
        return trans.gate if variant == "realised" else trans.gate_prob


def _padded(parts):
    """parts [n, d_k] padded with zero steps to the next power of two: the closed form's XLA
    kernels compile once per shape, so calls take the sizes 1, 2, 4, ... only (steps are
    independent, so the padding changes nothing; it costs less than one call per episode)."""
    n = len(parts[0])
    size = 1 << (n - 1).bit_length()
    if size == n:
        return parts
    return [np.concatenate([p, np.zeros((size - n, *p.shape[1:]), p.dtype)]) for p in parts]


def input_scales(trans_list):
    """Per-column std of the differentiated inputs over all steps: [n_in]."""
    columns = [np.concatenate(parts, axis=1) for parts in (t.parts for t in trans_list)]
    return np.concatenate(columns, axis=0).std(axis=0)


def chunk_steps(n_rows, n_in, budget):
    """Steps per chunk so that a chunk holds about ``budget`` Jacobian entries."""
    return max(1, int(budget // max(n_rows * n_in, 1)))


def _feed(acc, J, gates, step):
    """acc.update in slices of ``step`` steps, so that the metrics' temporaries stay in
    cache."""
    for start in range(0, len(J), step):
        part = slice(start, start + step)
        acc.update(J[part], None if gates is None else gates[part])


def probe_model(probe, trans_list, config=None, rows=None):
    """Streams every variant's Jacobians of all episodes through one accumulator each.

    rows: sorted output indices to differentiate (None: all). Returns ({variant:
    SparsityAccumulator}, extra per-step arrays [sum L] (``rel_diff_expected``: relative
    Frobenius distance of the expected to the realised Jacobian, gated models only),
    {"jacobian", "metrics": wall s, "jacobian_cpu", "metrics_cpu": process CPU s}). Jacobians
    and metrics run one after the other, chunk by
    chunk, so each time is its own (the variants' metrics run in parallel threads: NumPy
    releases the GIL in its loops).
    """
    scale = input_scales(trans_list)
    sel = np.arange(probe.n_state) if rows is None else np.asarray(rows)
    accs = {
        v: metrics.SparsityAccumulator(len(sel), probe.n_in, config, scale, scale[sel], sel)
        for v in probe.variants
    }
    step = probe.steps_per_call(len(sel))
    sub = chunk_steps(len(sel), probe.n_in, METRICS_CHUNK_ENTRIES)
    # Wall and process CPU seconds (all threads): on a shared machine CPU time is the steadier.
    seconds = {"jacobian": 0.0, "metrics": 0.0, "jacobian_cpu": 0.0, "metrics_cpu": 0.0}
    diffs = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(accs)) as pool:
        for trans in trans_list:
            for acc in accs.values():
                acc.start_episode()
            for start in range(0, trans.length, step):
                steps = slice(start, min(start + step, trans.length))
                t0, c0 = time.perf_counter(), time.process_time()
                jacs = {v: probe.jacobian(trans, v, rows, steps) for v in probe.variants}
                t1, c1 = time.perf_counter(), time.process_time()
                gates = {v: _rows(probe.gates(trans, v), steps, sel) for v in accs}
                jobs = [pool.submit(_feed, accs[v], J, gates[v], sub) for v, J in jacs.items()]
                if probe.gated:
                    diffs.append(_rel_diff(jacs["expected"], jacs["realised"]))
                for job in jobs:
                    job.result()
                seconds["jacobian"] += t1 - t0
                seconds["metrics"] += time.perf_counter() - t1
                seconds["jacobian_cpu"] += c1 - c0
                seconds["metrics_cpu"] += time.process_time() - c1
    extra = {"rel_diff_expected": np.concatenate(diffs)} if diffs else {}
    return accs, extra, seconds


def _rows(gates, steps, sel):
    """gates[steps][:, sel], or None for dynamics without gates."""
    return None if gates is None else gates[steps][:, sel]


def _rel_diff(a, b):
    """Per-step ||a - b||_F / ||b||_F of two Jacobian stacks [n, rows, cols]."""
    num = np.sqrt(((a - b) ** 2).sum(axis=(1, 2)))
    return num / np.maximum(np.sqrt((b**2).sum(axis=(1, 2))), 1e-30)
