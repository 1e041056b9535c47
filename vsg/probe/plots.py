"""PNG figures of the sparsity probe (matplotlib, Agg back end: no display needed).

Every function takes arrays/dicts produced by ``vsg.probe.metrics`` / ``report`` and an output
path, writes one PNG and returns the path. Titles carry the threshold, the edge rule and the
diagonal convention; events get their own track; legends sit outside the data. Each PNG holds
its visible texts in its "Description" metadata.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the back end must be chosen first)
import numpy as np  # noqa: E402

DPI = 150
GATE_LABELS = {
    "binary": "open-gate fraction\n(binary gate)",
    "probability": "mean gate\nprobability",
    "soft": "mean soft update\ngate (GRU)",
}
EVENT_TRACKS = (
    ("contact_event", "contact", "tab:red"),
    ("constraint_event", "limit etc.", "tab:purple"),
)


def figure_texts(fig):
    """Every visible text of a figure (titles, axis and tick labels, legends), one per line."""
    texts = fig.findobj(lambda artist: isinstance(artist, matplotlib.text.Text))
    return "\n".join(t.get_text() for t in texts if t.get_visible() and t.get_text().strip())


def _save(fig, path):
    """Writes the PNG with its texts as the PNG "Description", so that what a figure states
    (threshold, rule, convention) can be read and searched without viewing it."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Description": figure_texts(fig)})
    plt.close(fig)
    return path


def _outside_legend(ax, **kwargs):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, **kwargs)


def _tau_picks(tau_grid):
    """Smallest, headline-ish middle and largest tau indices to draw."""
    n = len(tau_grid)
    return sorted({0, n // 2, n - 1})


def plot_episode(per_step, steps, path, title="", gate_kind=None, tau_grid=()):
    """Per-step curves of one episode with the events on their own track.

    per_step: arrays [T] (``*_tau`` [T, n_tau]) of one model; steps: the episode's slice of the
    results' step arrays (reward and, for DMC, contacts and event flags)."""
    has_gate = "open_gate_frac" in per_step and gate_kind
    n_panels = 4 + bool(has_gate)
    fig, axes = plt.subplots(n_panels, 1, figsize=(7.5, 1.45 * n_panels + 0.6), sharex=True)
    x = np.arange(1, len(per_step["density"]) + 1)
    axes[0].plot(x, per_step["density"], lw=1.0)
    axes[0].set_ylabel("local density\n(headline τ)")
    for k in _tau_picks(tau_grid):
        axes[1].plot(x, per_step["hamming_frac_tau"][:, k], lw=0.9, label=f"τ = {tau_grid[k]:g}")
    axes[1].set_ylabel("changed edges c_t\n/ entries")
    _outside_legend(axes[1])
    axes[2].semilogy(x, per_step["rel_change"], lw=0.9, label="all entries")
    axes[2].semilogy(x, per_step["rel_change_edges"], lw=0.9, label="headline edges")
    axes[2].set_ylabel("relative change\n‖ΔJ~‖/‖J~‖")
    _outside_legend(axes[2])
    if has_gate:
        axes[3].plot(x, per_step["open_gate_frac"], lw=1.0)
        axes[3].set_ylabel(GATE_LABELS[gate_kind])
    _event_track(axes[-1], x, steps)
    axes[0].set_title(title, fontsize=9)
    axes[-1].set_xlabel("transition t (agent decision)")
    return _save(fig, path)


def _event_track(ax, x, steps):
    """Raster of the event flags (one row each) and |reward| scaled to a row of its own."""
    labels = []
    for row, (key, label, color) in enumerate(EVENT_TRACKS):
        if key in steps:
            at = x[np.asarray(steps[key], bool)]
            ax.vlines(at, row + 0.1, row + 0.9, color=color, lw=0.8)
            labels.append((row + 0.5, label))
    reward = np.abs(np.asarray(steps["reward"], float))
    top = reward.max() if reward.size and reward.max() > 0 else 1.0
    row = len(EVENT_TRACKS)
    ax.fill_between(x, row + 0.05, row + 0.05 + 0.9 * reward / top, color="tab:green", lw=0)
    labels.append((row + 0.5, f"|reward| (max {top:.2g})"))
    ax.set_yticks([y for y, _ in labels], [label for _, label in labels], fontsize=7)
    ax.set_ylim(0, row + 1)
    ax.set_ylabel("events")


def _column_blocks(ax, blocks):
    """Separators between column blocks and their names on a secondary axis at the top."""
    spans = [(name, a, b) for name, (a, b) in blocks.items() if b > a]
    for _, start, _ in spans[1:]:
        ax.axvline(start - 0.5, color="w", lw=0.8)
    top = ax.secondary_xaxis("top")
    top.set_xticks([(a + b - 1) / 2 for _, a, b in spans], [name for name, _, _ in spans])
    top.tick_params(length=0, labelsize=8)


def plot_heatmaps(maps, path, blocks=None, names=None, rows=None, title=""):
    """Mean |J~| (log colour scale) and headline edge frequency side by side.

    blocks: {name: (start, stop)} column blocks (e.g. h, z, a); names: (row names, column
    names) for small Jacobians (the ground truth); rows: the output indices probed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    mean_abs = np.asarray(maps["mean_abs"], float)
    positive = mean_abs[mean_abs > 0]
    floor = positive.min() if positive.size else 1e-12
    im = axes[0].imshow(
        np.log10(np.maximum(mean_abs, floor)),
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
    )
    fig.colorbar(im, ax=axes[0], label="log10 mean |J~|")
    im = axes[1].imshow(
        maps["edge_freq"], aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest"
    )
    fig.colorbar(im, ax=axes[1], label="edge frequency (share of steps)")
    n_out, n_in = mean_abs.shape
    for ax, name in zip(axes, ("mean |J~|", "edge frequency, headline τ"), strict=True):
        ax.set_title(name, fontsize=9)
        if names is not None:
            ax.set_yticks(range(n_out), names[0], fontsize=5)
            ax.set_xticks(range(n_in), names[1], fontsize=5, rotation=90)
        else:
            ticks = np.linspace(0, n_out - 1, min(n_out, 6)).astype(int)
            labels = ticks if rows is None else np.asarray(rows)[ticks]
            ax.set_yticks(ticks, [str(v) for v in labels], fontsize=7)
            ax.set_ylabel("output row (state index)")
            ax.set_xlabel("input column (index)")
            _column_blocks(ax, blocks or {})
    fig.suptitle(title, fontsize=9, y=1.06)
    return _save(fig, path)


def _sorted_sweep(summary):
    """(sweep rows sorted by tau, their taus) of a model summary."""
    sweep = sorted(summary["sweep"], key=lambda row: row["tau"])
    return sweep, [row["tau"] for row in sweep]


def _draw_densities(ax, summary, color, local_label, union_label=None):
    """Local mean (solid, markers) and union (dashed) density of a summary vs tau."""
    sweep, taus = _sorted_sweep(summary)
    local = [row["density_local_mean"] for row in sweep]
    ax.plot(taus, local, "-o", ms=3, color=color, label=local_label)
    union = [row["density_union"] for row in sweep]
    ax.plot(taus, union, "--", color=color, label=union_label)


def plot_density_vs_tau(summaries, path, title="Density vs threshold τ"):
    """Local mean (solid, markers) and union (dashed) density vs the sorted tau grid, one colour
    per model; the legend names each model's convention. summaries: {label: summary}."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, (name, summary) in enumerate(summaries.items()):
        label = f"{name}: {summary.get('jacobian', '')}".rstrip(": ")
        _draw_densities(ax, summary, f"C{i}", label)
    ax.set_xscale("log")
    ax.set_xlabel("threshold τ")
    ax.set_ylabel("density (solid: local mean,\ndashed: union over steps)")
    ax.set_ylim(0, 1.02)
    names = {"row": "row-relative", "abs": "absolute"}
    rules = sorted({names[s["config"]["rule"]] for s in summaries.values()})
    ax.set_title(f"{title} ({', '.join(rules)} rule)", fontsize=9)
    _outside_legend(ax)
    return _save(fig, path)


def plot_histograms(maps, per_step, path, title=""):
    """Histograms of log10 |J~| entries, local density, changed-edge fraction and k_0.9 share
    of the inputs, each with labelled axes."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    edges = np.asarray(maps["hist_log10_edges"])
    axes[0].stairs(maps["hist_counts"], edges, fill=True)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("log10 |J~| (non-zero entries)")
    axes[0].set_ylabel("entries")
    every = maps.get("hist_every", 1)
    steps = "all steps" if every == 1 else f"every {every}th step"
    axes[0].set_title(f"{maps['n_exact_zero']} exact zeros; {steps}", fontsize=8)
    panels = (
        ("density", "local density (headline τ)"),
        ("hamming_frac", "changed edges c_t / entries"),
        ("k_mass_frac", "k_0.9 / inputs of the row"),
    )
    for ax, (key, label) in zip(axes[1:], panels, strict=True):
        values = np.asarray(per_step[key], float)
        ax.hist(values[np.isfinite(values)], bins=30)
        ax.set_xlabel(label)
        ax.set_ylabel("steps")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


EVENT_COLORS = {"contact": "tab:red", "constraint": "tab:purple"}


def _draw_event_average(ax, events, signal="hamming_frac"):
    """ETA of ``signal`` around contact and constraint events with the shuffled-event mean
    and 95 % band. events: a model summary's "events" dict. Returns "event rates: ..." for
    the panel's title (rates differ between panels, so they stay out of the legend)."""
    rates = []
    for kind, color in EVENT_COLORS.items():
        entry = events.get(kind, {})
        stats = entry.get(signal)
        if not stats:
            continue
        lags = np.asarray(stats["lags"])
        rates.append(f"{kind} {entry['rate']:.2f}")
        ax.plot(
            lags, np.asarray(stats["eta"], float), "-o", ms=3, color=color, label=f"{kind} events"
        )
        ax.plot(
            lags,
            np.asarray(stats["shuffled_mean"], float),
            "--",
            color=color,
            label=f"{kind}, shuffled",
        )
        lo, hi = (np.asarray(stats[k], float) for k in ("shuffled_lo", "shuffled_hi"))
        ax.fill_between(lags, lo, hi, color=color, alpha=0.15, lw=0)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return "event rates: " + ", ".join(rates)


def plot_event_averages(summaries, path, signal="hamming_frac"):
    """Event-triggered average of a per-step signal (default: changed-edge fraction at the
    headline τ) around each event kind, with the shuffled-event mean and 95 % band; one
    panel per model. summaries: {label: summary with "events"}."""
    names = [n for n, s in summaries.items() if s.get("events")]
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        rates = _draw_event_average(ax, summaries[name]["events"], signal)
        s = summaries[name]
        ax.set_title(
            f"{name}\n{s.get('jacobian', '')}, {s.get('threshold', '')}\n{rates}", fontsize=7
        )
        ax.set_xlabel("lag (decisions from event)")
    axes[0][0].set_ylabel("changed edges c_t / entries")
    _outside_legend(axes[0][-1])
    return _save(fig, path)


def plot_bars(rows, columns, path, title=""):
    """Grouped bars of the given (key, label) columns per table row (run, model)."""
    x = np.arange(len(rows))
    width = 0.8 / max(len(columns), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 3.8))
    for i, (key, label) in enumerate(columns):
        values = [np.nan if r.get(key) is None else r[key] for r in rows]
        ax.bar(x + (i - (len(columns) - 1) / 2) * width, values, width, label=label)
    labels = [f"{r['run']}\n{r['model']}: {r.get('jacobian', '')}" for r in rows]
    ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("fraction")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    _outside_legend(ax)
    return _save(fig, path)


def plot_truth_study(summaries, path):
    """The ground-truth study in one figure, one row per task: (a) local and union density vs
    tau, (b) share of decisions whose graph does not change vs tau, (c) event-triggered
    average of the changed-edge share around contact and constraint events with the
    shuffled-event mean and 95 % band. summaries: {task: summary with models "decision" and
    "step" (J - I of the composed decision map and of one mj_step)}."""
    fig, axes = plt.subplots(len(summaries), 3, figsize=(11, 2.6 * len(summaries)), squeeze=False)
    for row, (task, summary) in enumerate(summaries.items()):
        a, b, c = axes[row]
        for i, (scale, s) in enumerate(summary["models"].items()):
            label = {"decision": "decision map", "step": "one mj_step"}.get(scale, scale)
            _draw_densities(a, s, f"C{i}", f"{label}: local mean", f"{label}: union")
            sweep, taus = _sorted_sweep(s)
            b.plot(
                taus,
                [r["frac_steps_no_change"] for r in sweep],
                "-o",
                ms=3,
                color=f"C{i}",
                label=label,
            )
        for ax in (a, b):
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
        steps = summary["models"]["decision"].get("steps_per_jacobian", [])
        decision = "/".join(str(k) for k in steps)
        a.set_ylabel(f"{task}\n(decision: {decision} mj_steps)\ndensity of J - I")
        b.set_ylabel("decisions with c_t = 0")
        rates = _draw_event_average(c, summary["models"]["decision"]["events"])
        c.set_title(rates, fontsize=7)
        c.set_ylabel("changed edges c_t / entries")
        if row == 0:
            cfg = summary["models"]["decision"]["config"]
            rule = "row-relative" if cfg["rule"] == "row" else "absolute"
            a.set_title(f"(a) density vs τ ({rule} rule)", fontsize=9)
            b.set_title("(b) no-change fraction vs τ", fontsize=9)
            c.set_title(
                f"(c) c_t around events (decision map, τ = {cfg['headline_tau']:g})\n{rates}",
                fontsize=9,
            )
            _outside_legend(c)
    axes[-1][0].set_xlabel("threshold τ")
    axes[-1][1].set_xlabel("threshold τ")
    axes[-1][2].set_xlabel("lag (decisions from event)")
    fig.tight_layout()
    # One legend for (a) and (b) under the figure, outside every panel.
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.05, 0.0),
        ncol=4,
        fontsize=7,
        frameon=False,
    )
    return _save(fig, path)
