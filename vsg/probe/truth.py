"""Ground truth along recorded episodes: MuJoCo's transition Jacobians, metrics and events.

An episode for the ground truth holds ``sim_state`` [L + 1, mj_stateSize(STATE_SIG)] (the
full simulator state at each observation, warm start included) and ``ctrl`` [L + 1, nu] (the
control applied to reach each observation; row 0 is zero). Transition t = 1..L goes from
state t - 1 under ctrl t, for as many ``mj_step`` calls as the simulator time advanced.

``time_scale`` "decision" differentiates that whole decision (what a world model learns as one
transition); "step" differentiates only its first mj_step (the simulator's own step). Events
(``ground_truth.decision_events``) follow the same time scale, since they mark changes of
the constraints the Jacobian depends on: those acting at any substep of the decision, or at
its first substep only. Metrics use diag="subtract" (A - I) with std-standardised columns
[dq, qvel, act, ctrl].

``collect_random`` records such episodes for a dm_control task under uniform random actions,
without rendering, for the ground-truth study of ``python -m vsg.probe truth``.
"""

import dataclasses
import pathlib
import time

import mujoco
import numpy as np

from vsg.probe import ground_truth, metrics
from vsg.probe.events import EVENT_KINDS

TIME_SCALES = ("decision", "step")


@dataclasses.dataclass
class TruthResult:
    """acc: the filled SparsityAccumulator; steps: per-step arrays [sum L] ("contacts",
    "contact_event", "constraint_event", "any_event", "constraint_active"); blocks: column
    ranges {"dq", "qvel", "act", "ctrl"}; names: (row names, column names); meta: how the
    Jacobians were taken (JSON-ready)."""

    acc: object
    steps: dict
    blocks: dict
    names: tuple
    meta: dict


def has_states(episodes):
    return bool(episodes) and "sim_state" in episodes[0]


def steps_per_transition(model, episode):
    """[L] mj_steps between consecutive observations, from the recorded simulator time."""
    m = ground_truth.raw_model(model)
    t = ground_truth.state_part(m, episode["sim_state"], mujoco.mjtState.mjSTATE_TIME)[:, 0]
    return np.rint(np.diff(t) / m.opt.timestep).astype(int)


def event_steps(model, episodes, time_scale="decision"):
    """Per-step constraint events [sum L] of the episodes at a time scale (module docstring):
    ("contacts", "contact_event", "constraint_event", "any_event", "constraint_active"), plus
    the max |difference| between the replayed and the recorded states (0 when the replay
    reproduces the env exactly)."""
    m = ground_truth.raw_model(model)
    parts, replay_error = [], 0.0
    for ep in episodes:
        k = steps_per_transition(m, ep)
        span = k if time_scale == "decision" else 1
        events = ground_truth.decision_events(m, ep["sim_state"][:-1], ep["ctrl"][1:], k, span)
        recorded = ep["sim_state"][1:]
        replay_error = max(replay_error, _replay_error(m, events.pop("next_state"), recorded))
        parts.append(events)
    steps = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    steps["any_event"] = steps["contact_event"] | steps["constraint_event"]
    return steps, replay_error


def probe_truth(model, episodes, config=None, time_scale="decision", eps=1e-6):
    """Ground-truth Jacobians, metrics and events of the transitions of ``episodes``.

    model: MjModel or the env's dm_control Physics. Returns a TruthResult.
    """
    if time_scale not in TIME_SCALES:
        raise ValueError(f"time_scale must be one of {TIME_SCALES}, got {time_scale!r}")
    m = ground_truth.raw_model(model)
    cfg = dataclasses.replace(config or metrics.ProbeConfig(), diag="subtract")
    nx, nu = 2 * m.nv + m.na, m.nu
    scale = _scales(m, episodes)
    acc = metrics.SparsityAccumulator(nx, nx + nu, cfg, scale, scale[:nx], np.arange(nx))
    steps, replay_error = event_steps(m, episodes, time_scale)
    counts = np.concatenate([steps_per_transition(m, ep) for ep in episodes])
    for ep in episodes:
        k = steps_per_transition(m, ep)
        span = k if time_scale == "decision" else 1  # mj_steps the Jacobian spans
        jac = ground_truth.transition_jacobians(m, ep["sim_state"][:-1], ep["ctrl"][1:], span, eps)
        acc.start_episode()
        acc.update(np.concatenate([jac["A"], jac["B"]], axis=2))
    bounds = np.cumsum([0, m.nv, m.nv, m.na, nu])
    blocks = {
        k: (int(bounds[i]), int(bounds[i + 1])) for i, k in enumerate(("dq", "qvel", "act", "ctrl"))
    }
    meta = {
        "time_scale": time_scale,
        "dt": float(m.opt.timestep),
        "steps_per_decision": sorted({int(c) for c in counts}),
        "steps_per_jacobian": sorted({int(c) for c in counts}) if time_scale == "decision" else [1],
        "fd_eps": eps,
        "fd": "centred differences of mj_step sequences (mujoco.rollout), control held, "
        "full state incl. warm start restored",
        "convention": "A - I (update Jacobian); rows x = [dq (tangent), qvel, act], "
        "columns [x, ctrl]",
        "event_scale": f"constraint set changes at the {time_scale} scale",
        "replay_max_abs_error": replay_error,
    }
    return TruthResult(acc, steps, blocks, ground_truth.dim_names(m), meta)


def _replay_error(m, replayed, recorded):
    """Max |difference| of qpos/qvel/act between replayed and recorded next states."""
    parts = [
        mujoco.mjtState.mjSTATE_QPOS,
        mujoco.mjtState.mjSTATE_QVEL,
        mujoco.mjtState.mjSTATE_ACT,
    ]
    diffs = [
        np.abs(ground_truth.state_part(m, replayed, p) - ground_truth.state_part(m, recorded, p))
        for p in parts
    ]
    return float(max(d.max(initial=0.0) for d in diffs))


def _scales(m, episodes):
    """Std of [dq, qvel, act, ctrl] over the episodes' states; positions only when qpos has
    the tangent layout (no quaternions), otherwise 1."""
    states = np.concatenate([ep["sim_state"] for ep in episodes])
    ctrl = np.concatenate([ep["ctrl"] for ep in episodes])
    qpos = ground_truth.state_part(m, states, mujoco.mjtState.mjSTATE_QPOS)
    qvel = ground_truth.state_part(m, states, mujoco.mjtState.mjSTATE_QVEL)
    act = ground_truth.state_part(m, states, mujoco.mjtState.mjSTATE_ACT)
    dq = qpos.std(axis=0) if m.nq == m.nv else np.ones(m.nv)
    return np.concatenate([dq, qvel.std(axis=0), act.std(axis=0), ctrl.std(axis=0)])


def collect_random(task, seed, n_episodes, action_repeat, max_steps=0):
    """(physics, episodes) of a dm_control task ("walker_walk") under uniform random actions
    in the action bounds, each held for ``action_repeat`` control steps, without rendering.
    Episodes hold "sim_state", "ctrl" and "reward" [L + 1] as described above."""
    from dm_control import suite

    from envs.dmc import resolve

    domain, name = resolve(f"dmc_{task}")
    env = suite.load(domain, name, task_kwargs={"random": seed})
    rng = np.random.default_rng(seed)
    spec = env.action_spec()
    physics = env.physics
    episodes = []
    for _ in range(n_episodes):
        step = env.reset()
        states, ctrls, rewards = (
            [ground_truth.get_state(physics, physics)],
            [np.zeros(spec.shape)],
            [0.0],
        )
        while not step.last() and not (max_steps and len(states) > max_steps):
            action = rng.uniform(spec.minimum, spec.maximum)
            reward = 0.0
            for _ in range(action_repeat):
                step = env.step(action)
                reward += step.reward or 0.0
                if step.last():
                    break
            states.append(ground_truth.get_state(physics, physics))
            ctrls.append(physics.data.ctrl.copy())
            rewards.append(reward)
        episodes.append(
            {"sim_state": np.array(states), "ctrl": np.array(ctrls), "reward": np.array(rewards)}
        )
    return physics, episodes


def run_study(tasks, config, args):
    """``python -m vsg.probe truth``: for each task, random-action episodes probed at both
    time scales; writes <out>/<task>/ (as a run's probe directory), compare.md (the table of
    ``vsg.probe.compare``), events.md and truth.png. Returns {task: summary}."""
    from vsg.probe import compare, plots, report

    out = pathlib.Path(args.out)
    summaries = {}
    for task in tasks:
        start = time.perf_counter()
        physics, episodes = collect_random(
            task, args.seed, args.episodes, args.action_repeat, args.max_steps
        )
        models, meta = {}, {"task": task, "policy": "uniform random"}
        for scale in TIME_SCALES:
            result = probe_truth(physics, episodes, config, scale, args.fd_eps)
            models[scale] = report.ModelResult(
                result.acc,
                result.blocks,
                names=result.names,
                jacobian=f"MuJoCo {scale} map",
                meta=result.meta,
                steps=result.steps,
            )
        lengths = [len(ep["reward"]) - 1 for ep in episodes]
        steps = {
            "episode": np.concatenate([np.full(n, k) for k, n in enumerate(lengths)]),
            "t": np.concatenate([np.arange(1, n + 1) for n in lengths]),
            "reward": np.concatenate([ep["reward"][1:] for ep in episodes]),
        }
        meta.update(
            label=task,
            action_repeat=args.action_repeat,
            seed=args.seed,
            episode_lengths=lengths,
            seconds=time.perf_counter() - start,
        )
        results = {"meta": meta, "models": models, "steps": steps}
        summaries[task] = report.write_probe(out / task, results, 0, tensorboard=False)
        print(f"{task}: {sum(lengths)} decisions in {meta['seconds']:.0f} s", flush=True)
    table = compare.compare(summaries, out)
    (out / "events.md").write_text(event_table(summaries) + "\n")
    plots.plot_truth_study(summaries, out / "truth.png")
    print(table)
    print(event_table(summaries))
    print(f"wrote {out}", flush=True)
    return summaries


def event_table(summaries):
    """Markdown table: per task, time scale and event kind, how c_t lines up with events."""
    header = (
        "| task | Jacobian | events | rate | c_t event/other | same at τmin "
        "| c_t@event/shuffled | top1% near | top5% near | chance | corr |"
    )
    lines = [header, "|" + "---|" * 11]
    for task, summary in summaries.items():
        for scale, s in summary["models"].items():
            for kind in EVENT_KINDS:
                e = s["events"].get(kind)
                if not e:
                    continue
                head = e["hamming_frac"]
                per_tau = sorted(e["hamming_frac_per_tau"], key=lambda r: r["tau"])
                cells = [
                    e["rate"],
                    head["event_over_other"],
                    per_tau[0]["event_over_other"],
                    head["eta0_over_shuffled"],
                    head["top1_share"],
                    head["top5_share"],
                    head["chance_share"],
                    head["corr"],
                ]
                text = ["-" if v is None else f"{v:.2f}" for v in cells]
                lines.append(f"| {task} | J-I ({scale}) | {kind} | " + " | ".join(text) + " |")
    return "\n".join(lines)
