"""Probe outputs: summary.json, per-step arrays, PNG figures, TensorBoard, run comparison.

One probe's results are a dict ``{"meta": {...}, "models": {name: ModelResult}, "steps":
{"episode", "t", "reward", "contacts"?: [N]}}`` where every model (``soft``, ``realised``,
``expected``, ``ground_truth``) was evaluated on the same N transitions. Files written to
the output directory (``RUN_DIR/probe`` by default):

    summary.json             meta + per model: every metric of ``metrics.summary`` (sweep =
                             per tau), per-block union density / edge frequency / mean |J~|,
                             event correlations
    steps.npz                "<model>/<per-step key>" [N] (density_tau [N, n_tau]) + index keys
    maps.npz                 "<model>/mean_abs", "<model>/edge_freq" [n_out, n_in], "<model>/rows"
    figures/*.png            episode curves, heatmaps, histograms, density vs tau
    events.out.tfevents.*    scalars "probe/<model>/<key>" and the figures as images
"""

import dataclasses
import json
import math
import pathlib

import numpy as np

from vsg.probe import plots

MAX_EPISODE_FIGURES = 3
# Columns of the comparison table: (summary key, header).
COMPARE_COLUMNS = (
    ("density_local_mean", "local"),
    ("density_local_std", "local sd"),
    ("density_union", "union"),
    ("density_union_freq", "union q"),
    ("gap", "gap"),
    ("hamming_median", "c_t med"),
    ("hamming_q95", "c_t q95"),
    ("frac_steps_no_change", "no change"),
    ("k_mass_mean", "k_0.9"),
    ("identity_row_frac_mean", "e_i rows"),
    ("open_gate_frac_mean", "open gates"),
)


@dataclasses.dataclass
class ModelResult:
    """One model's probe: the filled accumulator, its column blocks {name: (start, stop)},
    the output rows probed (None: all) and extra per-step arrays [N]."""

    acc: object
    blocks: dict
    rows: np.ndarray | None = None
    extra: dict = dataclasses.field(default_factory=dict)


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
        out[name] = {
            "density_union": _ratio(union[live, start:stop].sum(), considered.sum()),
            "edge_freq_mean": _nanmean(maps["edge_freq"][live, start:stop]),
            "mean_abs": _nanmean(maps["mean_abs"][:, start:stop]),
        }
    return out


def _ratio(num, den):
    return float(num) / float(den) if den else None


def _nanmean(x):
    x = np.asarray(x, float)
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else None


def _corr(x, y):
    """Pearson correlation of the finite pairs (point-biserial for a binary y); None if
    either side is constant."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return None
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def model_summary(result, steps):
    """JSON summary of one ModelResult: metrics, blocks, events and extra-array means."""
    summary = result.acc.summary()
    summary["blocks"] = _block_stats(result.acc, result.blocks)
    per_step = result.acc.per_step()
    events = {"hamming_vs_abs_reward": _corr(per_step["hamming"], np.abs(steps["reward"]))}
    if "contacts" in steps:
        contact = np.asarray(steps["contacts"]) > 0
        events["hamming_vs_contact"] = _corr(per_step["hamming"], contact)
        events["density_vs_contact"] = _corr(per_step["density"], contact)
    summary["events"] = events
    summary["rows_probed"] = None if result.rows is None else len(result.rows)
    for key, values in result.extra.items():
        summary[f"{key}_mean"] = _nanmean(values)
    return summary


def build_summary(results):
    """The whole summary.json content as a dict."""
    models = {
        name: model_summary(result, results["steps"]) for name, result in results["models"].items()
    }
    return {"meta": results["meta"], "models": models}


def write_arrays(out_dir, results):
    """steps.npz and maps.npz (see module docstring)."""
    steps = {key: np.asarray(value) for key, value in results["steps"].items()}
    maps = {}
    for name, result in results["models"].items():
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
    steps = results["steps"]
    episode = np.asarray(steps["episode"])
    contacts = steps.get("contacts")
    paths = {}
    for name, result in results["models"].items():
        per_step = result.acc.per_step()
        for k in np.unique(episode)[:MAX_EPISODE_FIGURES]:
            sel = episode == k
            ep_steps = {key: value[sel] for key, value in per_step.items()}
            ep_contacts = None if contacts is None else np.asarray(contacts)[sel]
            paths[f"{name}/episode{k}"] = plots.plot_episode(
                ep_steps,
                fig_dir / f"episode{k}_{name}.png",
                reward=np.asarray(steps["reward"])[sel],
                contacts=ep_contacts,
                title=f"{name}, episode {k}",
            )
        blocks = [(b, s, e) for b, (s, e) in result.blocks.items() if e > s]
        maps = result.acc.maps()
        paths[f"{name}/heatmaps"] = plots.plot_heatmaps(
            maps, fig_dir / f"heatmaps_{name}.png", blocks, title=name
        )
        paths[f"{name}/histograms"] = plots.plot_histograms(
            maps, per_step, fig_dir / f"histograms_{name}.png", title=name
        )
    paths["density_vs_tau"] = plots.plot_density_vs_tau(
        summary["models"], fig_dir / "density_vs_tau.png", title="density vs τ"
    )
    return paths


def _scalars(summary):
    """Flat {tag: float} of a summary: top-level numbers, per-tau sweep, blocks, events."""
    out = {}
    for name, s in summary["models"].items():
        for key, value in s.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"probe/{name}/{key}"] = value
        for row in s["sweep"]:
            for key, value in row.items():
                if key != "tau":
                    out[f"probe/{name}/tau_{row['tau']:g}/{key}"] = value
        for block, stats in s["blocks"].items():
            for key, value in stats.items():
                out[f"probe/{name}/block_{block}/{key}"] = value
        for key, value in s["events"].items():
            out[f"probe/{name}/events/{key}"] = value
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


def format_table(rows):
    """Markdown table of comparison rows (dicts with 'run', 'model' and COMPARE_COLUMNS)."""
    header = ["run", "model"] + [title for _, title in COMPARE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["run"], row["model"]]
        for key, _ in COMPARE_COLUMNS:
            value = row.get(key)
            cells.append("-" if value is None else f"{value:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(summaries, out_dir):
    """One table and one set of figures for several probes.

    summaries: {run label: summary.json dict}. Writes compare.json, compare.md and
    figures (density vs tau, bar chart) to out_dir; returns the markdown table.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for label, summary in summaries.items():
        for model, s in summary["models"].items():
            rows.append({"run": label, "model": model, **{k: s.get(k) for k, _ in COMPARE_COLUMNS}})
            curves[f"{label} {model}"] = s
    table = format_table(rows)
    (out_dir / "compare.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    (out_dir / "compare.md").write_text(table + "\n")
    plots.plot_density_vs_tau(curves, out_dir / "density_vs_tau.png", title="density vs τ")
    plot_bars(rows, out_dir / "densities.png")
    return table


def plot_bars(rows, path):
    """Grouped bars of local mean, union and frequency-thresholded union density per
    (run, model) at the headline tau."""
    plt = plots.plt
    keys = [("density_local_mean", "local mean"), ("density_union", "union")]
    keys.append(("density_union_freq", "union (freq)"))
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 4))
    for i, (key, label) in enumerate(keys):
        values = [np.nan if r.get(key) is None else r[key] for r in rows]
        ax.bar(x + (i - 1) * 0.27, values, 0.27, label=label)
    ax.set_xticks(x, [f"{r['run']}\n{r['model']}" for r in rows], fontsize=7, rotation=30)
    ax.set_ylabel("density at headline τ")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
