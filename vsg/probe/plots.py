"""PNG figures of the sparsity probe (matplotlib, Agg back end: no display needed).

Every function takes arrays/dicts produced by ``vsg.probe.metrics`` and an output path, writes
one PNG and returns the path.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the back end must be chosen first)
import numpy as np  # noqa: E402


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _mark_events(ax, events, color, label):
    """Vertical lines at the steps where ``events`` [T] is non-zero (e.g. reward or contact)."""
    steps = np.flatnonzero(np.asarray(events) != 0)
    for i, t in enumerate(steps):
        ax.axvline(t, color=color, alpha=0.25, lw=0.8, label=label if i == 0 else None)


def plot_episode(steps, path, reward=None, contacts=None, title=""):
    """Per-step curves: density, Hamming change, relative change and (if present) open-gate
    fraction. steps: dict of arrays [T] from ``per_step``; reward [T] and contacts [T]
    (e.g. MuJoCo ncon) are drawn as event markers on every panel."""
    panels = [
        ("density", "local density"),
        ("hamming", "Hamming change c_t"),
        ("rel_change", "relative change δ_t"),
    ]
    if "open_gate_frac" in steps:
        panels.append(("open_gate_frac", "open-gate fraction"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.0 * len(panels)), sharex=True)
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.plot(np.asarray(steps[key]), lw=1.0)
        ax.set_ylabel(label)
        if contacts is not None:
            _mark_events(ax, np.asarray(contacts) > 0, "tab:red", "contact")
        if reward is not None:
            _mark_events(ax, reward, "tab:green", "reward")
    if reward is not None or contacts is not None:
        axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(title)
    axes[-1].set_xlabel("step")
    return _save(fig, path)


def plot_heatmaps(maps, path, col_blocks=None, title=""):
    """Mean |J~| (log colour scale) and headline edge frequency side by side.

    maps: dict from ``SparsityAccumulator.maps``; col_blocks: optional list of
    (name, start, stop) column ranges (e.g. h, z, a) drawn as separators."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    mean_abs = np.asarray(maps["mean_abs"], float)
    positive = mean_abs[mean_abs > 0]
    floor = positive.min() if positive.size else 1e-12
    im = axes[0].imshow(np.log10(np.maximum(mean_abs, floor)), aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=axes[0], label="log10 mean |J~|")
    im = axes[1].imshow(maps["edge_freq"], aspect="auto", cmap="magma", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[1], label="edge frequency")
    for ax, name in zip(axes, ("mean |J~|", "edge frequency"), strict=True):
        ax.set_xlabel("input")
        ax.set_ylabel("output")
        ax.set_title(f"{title} {name}".strip())
        for block, start, stop in col_blocks or ():
            ax.axvline(start - 0.5, color="w", lw=0.8)
            ax.text((start + stop) / 2, -1, block, ha="center", va="bottom", fontsize=8)
    return _save(fig, path)


def plot_density_vs_tau(summaries, path, title=""):
    """Density vs tau, local mean (solid) and union (dashed), one colour per model.

    summaries: {model name: summary dict from ``summarize``}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, summary) in enumerate(summaries.items()):
        sweep = summary["sweep"]
        taus = [row["tau"] for row in sweep]
        color = f"C{i}"
        ax.plot(taus, [row["density_local_mean"] for row in sweep], "-o", color=color, label=name)
        ax.plot(taus, [row["density_union"] for row in sweep], "--", color=color)
    ax.set_xscale("log")
    ax.set_xlabel("threshold τ")
    ax.set_ylabel("density (solid: local mean, dashed: union)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_histograms(maps, steps, path, title=""):
    """Histograms of log10 |J~| entries (exact zeros noted), local density, Hamming change and
    effective number of parents. maps from ``maps()``, steps from ``per_step()``."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
    edges = np.asarray(maps["hist_log10_edges"])
    axes[0].stairs(maps["hist_counts"], edges, fill=True)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("log10 |J~|")
    axes[0].set_title(f"{title} entries ({maps['n_exact_zero']} exact zeros)".strip())
    for ax, key in zip(axes[1:], ("density", "hamming", "k_mass_mean"), strict=True):
        values = np.asarray(steps[key], float)
        ax.hist(values[np.isfinite(values)], bins=30)
        ax.set_xlabel(key)
    return _save(fig, path)
