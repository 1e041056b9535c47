"""Fast probes: ``cheap_probe`` for training-time logging and ``bench`` for timings.

``cheap_probe(agent, batch)`` filters a few sequences of a training batch with the posterior
and probes a short window of consecutive steps on a random subset of output rows, so that it
costs a fraction of one update. Filtering runs in the model's compute dtype (the run's
precision); the Jacobian is float32 in closed form (RSSM), else in the compute dtype (with
float16 training, thresholds below ~1e-3 are then under round-off, with bfloat16 below ~1e-2).
Returns ``probe/...`` scalars. The full probe (``python -m vsg.probe``) is the reference; this
is a trend monitor.
"""

import functools
import os
import time

import numpy as np

from vsg.probe import model
from vsg.probe.metrics import ProbeConfig

CHEAP_KEYS = (
    ("density_local_mean", "density_local"),
    ("density_union", "density_union"),
    ("gap", "gap"),
    ("hamming_frac_mean", "hamming_frac"),
    ("k_mass_frac_mean", "k_mass_frac"),
    ("identity_row_frac_mean", "identity_rows"),
    ("zero_row_frac_mean", "zero_rows"),
    ("open_gate_frac_mean", "open_gate_frac"),
)


@functools.lru_cache(maxsize=4)
def _probe_for(agent):
    """One ModelProbe per agent, so its compiled functions are traced once."""
    return model.ModelProbe(agent)


def cheap_probe(agent, batch, sequences=2, window=8, n_rows=32, seed=0):
    """Sparsity metrics of the prior transition on a training batch.

    batch: dict of [B, T, ...] with image, action, is_first. Probes ``window`` consecutive
    transitions at the end of each of the first ``sequences`` sequences, on ``n_rows`` random
    output rows (all if the state is smaller), standardised by the input std over the filtered
    sequences. Returns {"probe/<variant>/<metric>": float} plus "probe/seconds" and, for
    VSG/SVSG, "probe/rel_diff_expected".
    """
    start = time.perf_counter()
    probe = _probe_for(agent)
    data = {key: np.asarray(batch[key])[:sequences] for key in ("image", "action", "is_first")}
    post = probe.filter_batch(data)
    trans = [
        _window(
            probe,
            {k: v[b] for k, v in post.items()},
            data["action"][b],
            data["is_first"][b],
            window,
        )
        for b in range(len(data["action"]))
    ]
    trans = [t for t in trans if t is not None]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(probe.n_state, min(n_rows, probe.n_state), replace=False))
    accs, extra, _ = model.probe_model(probe, trans, ProbeConfig(), rows)
    out = {}
    for variant, acc in accs.items():
        summary = acc.summary()
        for key, name in CHEAP_KEYS:
            if summary.get(key) is not None:
                out[f"probe/{variant}/{name}"] = float(summary[key])
    for key, values in extra.items():
        out[f"probe/{key}"] = float(np.nanmean(values))
    out["probe/seconds"] = time.perf_counter() - start
    return out


def _window(probe, post, action, is_first, window):
    """Transitions of the last ``window`` steps of one filtered sequence, none of which
    crosses an episode start (None if no transition is left)."""
    length = len(action)
    first = max(0, length - window - 1)
    starts = np.flatnonzero(np.asarray(is_first)[1:]) + 1
    if starts.size:
        first = max(first, int(starts[-1]))
    if first >= length - 1:
        return None
    episode = {"action": action[first:], "reward": np.zeros(length - first, np.float32)}
    return probe.transitions(episode, {k: v[first:] for k, v in post.items()})


def _synthetic_episode(steps, action_size, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (steps + 1, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (steps + 1, action_size)).astype(np.float32),
        "reward": np.zeros(steps + 1, np.float32),
        "is_first": np.arange(steps + 1) == 0,
    }


def bench(preset, dims, steps, n_rows, action_size=6):
    """Prints and returns the seconds to probe one episode of an untrained model ``preset``
    (a name of ``vsg.models``, any case) set up as the DMC launcher does with DIM D (deter =
    hidden = D; SVSG: stoch = D too), with all rows and with ``n_rows`` random rows: posterior
    filtering, Jacobians and metrics, each timed on its own (they run one after the other; wall
    time and the process's CPU time), with the machine's load average, since a shared machine
    inflates wall times. Metrics use the default tau grid. Compilation (tracing, and XLA for
    the closed-form Jacobians: once per call size and process) comes before the timing."""
    from vsg.agent import Agent
    from vsg.config import load_config
    from vsg.models import dmc_args

    results = []
    for dim, n in zip(dims, steps, strict=True):
        args = [*dmc_args(preset, dim), "--precision", "32"]
        probe = model.ModelProbe(Agent(load_config(args), action_size))
        episode = _synthetic_episode(n, action_size)
        warm = probe.transitions({k: v[:5] for k, v in episode.items()})
        for rows in (None, np.arange(min(n_rows, probe.n_state))):
            probe.warm_up(rows)  # traces and compiles the Jacobians of every call size
            model.probe_model(probe, [warm], rows=rows)  # and the metrics' first calls
            start = time.perf_counter()
            trans = probe.transitions(episode)
            filtered = time.perf_counter() - start
            _, _, seconds = model.probe_model(probe, [trans], rows=rows)
            total = filtered + seconds["jacobian"] + seconds["metrics"]
            label = "all" if rows is None else len(rows)
            result = {"dim": dim, "n_in": probe.n_in, "rows": label, "steps": n, "s": total}
            result.update(filter_s=filtered, **{f"{k}_s": v for k, v in seconds.items()})
            results.append(result)
            ms = {k: 1e3 * v / n for k, v in seconds.items()}
            print(
                f"{preset} D={dim} n_in={probe.n_in} rows={label} variants={len(probe.variants)}: "
                f"{n} steps in {total:.1f} s = filter {filtered:.1f} + Jacobians "
                f"{seconds['jacobian']:.1f} + metrics {seconds['metrics']:.1f} s; per step "
                f"Jacobian {ms['jacobian']:.1f} ms (CPU {ms['jacobian_cpu']:.1f}), metrics "
                f"{ms['metrics']:.1f} ms (CPU {ms['metrics_cpu']:.1f}); "
                f"{total * 1000 / n:.1f} s per 1000 steps; load average {os.getloadavg()[0]:.1f} "
                f"on {os.cpu_count()} CPUs",
                flush=True,
            )
    return results
