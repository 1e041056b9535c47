"""Probe outputs: summary.json, per-step arrays, PNG figures, TensorBoard, run comparison.

One probe's results are a dict ``{"meta": {...}, "models": {name: ModelResult}, "steps":
{"episode", "t", "reward", and for DMC "contacts", "contact_event", "constraint_event",
"any_event", "constraint_active": [N]}}`` where every model (``soft``, ``realised``,
``expected``, ``ground_truth``) was evaluated on the same N transitions. Files written to
the output directory (``RUN_DIR/probe`` by default):

    summary.json             meta + per model: every metric of ``metrics.summary`` (sweep =
                             per tau), the Jacobian convention, per-block union density /
                             edge frequency / mean |J~|, event statistics (``vsg.probe.events``)
    steps.npz                "<model>/<per-step key>" [N] ("*_tau" [N, n_tau]; a model's own
                             events too) + the shared step keys
    maps.npz                 "<model>/mean_abs", "<model>/edge_freq" [n_out, n_in], "<model>/rows"
    figures/*.png            episode curves, heatmaps, histograms, density vs tau, events
    events.out.tfevents.*    scalars "probe/<model>/<key>" and the figures as images
"""

import dataclasses
import json
import math
import pathlib

import numpy as np

from vsg.probe import plots
from vsg.probe.events import EVENT_KINDS, event_stats
from vsg.probe.stats import jsonable, nanmean

MAX_EPISODE_FIGURES = 3
# Per-step signals whose alignment with events is reported.
EVENT_SIGNALS = ("hamming_frac", "density", "rel_change_edges")


@dataclasses.dataclass
class ModelResult:
    """One model's probe: the filled accumulator, its column blocks {name: (start, stop)},
    the output rows probed (None: all), extra per-step arrays [N], dimension names (rows,
    columns) if known, the Jacobian it differentiates (e.g. "prior h_t") and what its gate
    array holds ("binary", "probability", "soft" or None); meta is copied into its summary;
    steps holds per-step arrays [N] of its own that replace the shared ones (the ground truth
    at the one-step scale has its own events)."""

    acc: object
    blocks: dict
    rows: np.ndarray | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    names: tuple | None = None
    jacobian: str = ""
    gate_kind: str | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    steps: dict = dataclasses.field(default_factory=dict)

    def steps_with(self, shared):
        """The results' shared step arrays, with this model's own (e.g. its events) on top."""
        return {**shared, **self.steps}


def convention(cfg, jacobian=""):
    """(what was thresholded, e.g. "prior h_t (soft gate): J (diagonal kept)"; the threshold,
    e.g. "row-relative τ = 0.01"), for tables and figure titles."""
    diag = {"keep": "J (diagonal kept)", "exclude": "J (diagonal excluded)", "subtract": "J - I"}
    rule = "row-relative" if cfg.rule == "row" else "absolute"
    what = f"{jacobian}: " if jacobian else ""
    return f"{what}{diag[cfg.diag]}", f"{rule} τ = {cfg.headline_tau:g}"


def _block_stats(acc, blocks):
    """Per input block: union density, mean edge frequency and mean |J~| (headline tau)."""
    maps = acc.maps()
    union = acc.union_mask()
    live = acc.valid_count > 0
    out = {}
    for name, (start, stop) in blocks.items():
        if stop <= start:
            continue
        considered = acc.considered[live, start:stop]
        total = considered.sum()
        out[name] = {
            "density_union": float(union[live, start:stop].sum() / total) if total else None,
            "edge_freq_mean": nanmean(maps["edge_freq"][live, start:stop]),
            "mean_abs": nanmean(maps["mean_abs"][:, start:stop]),
        }
    return out


def event_summary(per_step, steps, tau_grid, n_shuffles=200):
    """Per event kind present in ``steps``: event rate, the full statistics of each
    EVENT_SIGNALS signal, and per tau the lag-0 summary of the change c_t."""
    out = {}
    episode = np.asarray(steps["episode"])
    for kind in EVENT_KINDS:
        events = steps.get(f"{kind}_event")
        if events is None:
            continue
        events = np.asarray(events, bool)
        entry = {"rate": float(events.mean()), "n_events": int(events.sum())}
        for signal in EVENT_SIGNALS:
            entry[signal] = event_stats(per_step[signal], events, episode, n_shuffles=n_shuffles)
        per_tau = []
        for k, tau in enumerate(tau_grid):
            s = event_stats(per_step["hamming_frac_tau"][:, k], events, episode, n_shuffles=100)
            lag0 = len(s["lags"]) // 2
            per_tau.append(
                {
                    "tau": tau,
                    "eta0": s["eta"][lag0],
                    "shuffled0": s["shuffled_mean"][lag0],
                    "eta0_over_shuffled": s["eta0_over_shuffled"],
                    "event_over_other": s["event_over_other"],
                    "top1_share": s["top1_share"],
                    "top5_share": s["top5_share"],
                    "chance_share": s["chance_share"],
                    "corr": s["corr"],
                }
            )
        entry["hamming_frac_per_tau"] = per_tau
        out[kind] = entry
    if "constraint_active" in steps:
        out["constraint_active_frac"] = float(np.mean(steps["constraint_active"]))
    return jsonable(out)


def model_summary(result, steps):
    """JSON summary of one ModelResult: metrics, convention, blocks, events, extras."""
    summary = result.acc.summary()
    summary["jacobian"], summary["threshold"] = convention(result.acc.cfg, result.jacobian)
    summary["gate_kind"] = result.gate_kind
    summary["blocks"] = _block_stats(result.acc, result.blocks)
    steps = result.steps_with(steps)
    summary["events"] = event_summary(result.acc.per_step(), steps, result.acc.cfg.tau_grid)
    summary["rows_probed"] = None if result.rows is None else len(result.rows)
    summary.update(result.meta)
    for key, values in result.extra.items():
        summary[f"{key}_mean"] = nanmean(values)
    return jsonable(summary)


def build_summary(results):
    """The whole summary.json content as a dict."""
    models = {
        name: model_summary(result, results["steps"]) for name, result in results["models"].items()
    }
    return {"meta": jsonable(results["meta"]), "models": models}


def write_arrays(out_dir, results):
    """steps.npz and maps.npz (see module docstring)."""
    steps = {key: np.asarray(value) for key, value in results["steps"].items()}
    maps = {}
    for name, result in results["models"].items():
        for key, value in result.steps.items():
            steps[f"{name}/{key}"] = np.asarray(value)
        for key, value in result.acc.per_step().items():
            steps[f"{name}/{key}"] = value
        for key, value in result.extra.items():
            steps[f"{name}/{key}"] = np.asarray(value)
        m = result.acc.maps()
        maps[f"{name}/mean_abs"] = m["mean_abs"].astype(np.float32)
        maps[f"{name}/edge_freq"] = m["edge_freq"].astype(np.float32)
        maps[f"{name}/rows"] = np.arange(result.acc.n_out) if result.rows is None else result.rows
    np.savez_compressed(out_dir / "steps.npz", **steps)
    np.savez_compressed(out_dir / "maps.npz", **maps)


def write_figures(fig_dir, results, summary):
    """All PNG figures of one probe; returns {name: path}."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    episode = np.asarray(results["steps"]["episode"])
    paths = {}
    for name, result in results["models"].items():
        steps = result.steps_with(results["steps"])
        model = summary["models"][name]
        note = f"{model['jacobian']}, {model['threshold']}"
        per_step = result.acc.per_step()
        for k in np.unique(episode)[:MAX_EPISODE_FIGURES]:
            sel = episode == k
            paths[f"{name}/episode{k}"] = plots.plot_episode(
                {key: value[sel] for key, value in per_step.items()},
                {key: np.asarray(value)[sel] for key, value in steps.items()},
                fig_dir / f"episode{k}_{name}.png",
                title=f"{name}, episode {k}\n{note}",
                gate_kind=result.gate_kind,
                tau_grid=result.acc.cfg.tau_grid,
            )
        paths[f"{name}/heatmaps"] = plots.plot_heatmaps(
            result.acc.maps(),
            fig_dir / f"heatmaps_{name}.png",
            blocks=result.blocks,
            names=result.names,
            rows=result.rows,
            title=f"{name}\n{note}",
        )
        paths[f"{name}/histograms"] = plots.plot_histograms(
            result.acc.maps(), per_step, fig_dir / f"histograms_{name}.png", title=f"{name}: {note}"
        )
    paths["density_vs_tau"] = plots.plot_density_vs_tau(
        summary["models"], fig_dir / "density_vs_tau.png"
    )
    if any(summary["models"][name]["events"] for name in summary["models"]):
        paths["events"] = plots.plot_event_averages(summary["models"], fig_dir / "events.png")
    return paths


def _scalars(summary):
    """Flat {tag: float} of a summary's numbers: "probe/<model>/<key>[/<key>...]", the sweep
    as "probe/<model>/tau_<tau>/<key>" (per-tau lists elsewhere likewise); other lists are
    skipped."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(prefix if key == "sweep" else f"{prefix}/{key}", inner)
        elif isinstance(value, list) and value and isinstance(value[0], dict) and "tau" in value[0]:
            for row in value:
                walk(f"{prefix}/tau_{row['tau']:g}", {k: v for k, v in row.items() if k != "tau"})
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[prefix] = value

    for name, s in summary["models"].items():
        walk(f"probe/{name}", {k: v for k, v in s.items() if k != "config"})
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}


def write_tensorboard(out_dir, summary, figures, step):
    """Scalars and figures under ``probe/`` in an event file of out_dir."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(out_dir))
    with writer.as_default(step=int(step)):
        for tag, value in _scalars(summary).items():
            tf.summary.scalar(tag, value)
        for name, path in figures.items():
            image = tf.io.decode_png(tf.io.read_file(str(path)), channels=3)
            tf.summary.image(f"probe/{name}", image[None])
    writer.close()


def write_probe(out_dir, results, step, tensorboard=True):
    """Writes every output of one probe to out_dir; returns the summary dict."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(results)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_arrays(out_dir, results)
    figures = write_figures(out_dir / "figures", results, summary)
    if tensorboard:
        write_tensorboard(out_dir, summary, figures, step)
    return summary
