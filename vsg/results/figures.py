"""PNG figures: per-task learning curves, aggregate interval estimates, performance profiles.

Ours are solid (mean over seeds with a 95 % Student-t band), the paper's dashed (same
statistics over its seeds), in the colour of the model they stand for. Legends sit outside
the axes so they never hide data.
"""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from rliable import library as rly  # noqa: E402
from rliable import plot_utils  # noqa: E402

from vsg.results.scores import Curve, Suite, curve_band  # noqa: E402
from vsg.results.stats import METRICS, Aggregates, interval_estimates  # noqa: E402
from vsg.results.tables import column_of, ordered_columns  # noqa: E402

PALETTE = plt.get_cmap("tab10").colors


def column_colors(columns: list[str]) -> dict[str, tuple]:
    """A colour per column; "paper M" shares the colour of our first run of model M."""
    colors, ours = {}, [c for c in columns if not c.startswith("paper ")]
    for column in ours:
        colors[column] = PALETTE[len(colors) % len(PALETTE)]
    for column in columns:
        if column.startswith("paper "):
            model = column.removeprefix("paper ")
            twin = next((c for c in ours if c.split("_", 1)[0] == model), None)
            colors[column] = colors[twin] if twin else PALETTE[len(colors) % len(PALETTE)]
    return colors


def plot_task(axis, curves: list[Curve], columns, colors, suite: Suite, window, x_max):
    """One task's panel up to `x_max`: per column, the mean over seeds and its 95 % band."""
    for column in columns:
        group = [curve for curve in curves if column_of(curve) == column]
        if not group:
            continue
        x, mean, low, high = curve_band(group, window)
        keep = x <= x_max
        x, mean, low, high = x[keep], mean[keep], low[keep], high[keep]
        style = "--" if column.startswith("paper ") else "-"
        label = f"{column} ({len(group)} seeds)"
        axis.plot(x, mean, style, color=colors[column], label=label, lw=1.5)
        low, high = np.clip(low, 0, suite.max_score), np.clip(high, 0, suite.max_score)
        axis.fill_between(x, low, high, color=colors[column], alpha=0.15, lw=0)
    axis.set_title(curves[0].task.removeprefix(suite.prefix), fontsize=9)
    axis.set_xlabel(suite.unit, fontsize=8)
    axis.set_ylabel("episode return", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)


def plot_curves(curves: list[Curve], suite: Suite, window: float, path: pathlib.Path, x_max):
    """A grid of per-task learning curves up to `x_max` frames, one line and band per method."""
    tasks = sorted({curve.task for curve in curves})
    columns = ordered_columns(curves)
    colors = column_colors(columns)
    ncols = min(4, len(tasks))
    nrows = -(-len(tasks) // ncols)
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows + 0.8), squeeze=False, layout="constrained"
    )
    for axis, task in zip(axes.flat, tasks, strict=False):
        group = [c for c in curves if c.task == task]
        plot_task(axis, group, columns, colors, suite, window, x_max)
        axis.set_xlim(0, x_max)
    for axis in axes.flat[len(tasks) :]:
        axis.set_visible(False)
    handles = {}  # one legend entry per column, without the per-task seed counts
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label if len(tasks) == 1 else label.split(" (")[0], handle)
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=min(4, len(handles)),
        fontsize=8,
    )
    figure.suptitle(f"{suite.name}: mean over seeds with 95 % CI (paper: dashed)", fontsize=10)
    save(figure, path)


def plot_aggregates(aggregates: Aggregates, path: pathlib.Path) -> None:
    """Interval estimates: a panel per metric, a bar (95 % CI) and tick (estimate) per method."""
    methods = list(aggregates.scores)
    colors = column_colors(methods)
    figure, axes = plt.subplots(
        1,
        len(METRICS),
        figsize=(3.0 * len(METRICS), 0.45 * len(methods) + 1.2),
        sharey=True,
        layout="constrained",
    )
    for index, (axis, metric) in enumerate(zip(axes, METRICS, strict=True)):
        for row, method in enumerate(methods):
            low, high = aggregates.interval[method][:, index]
            axis.barh(row, high - low, left=low, height=0.6, color=colors[method], alpha=0.75)
            axis.vlines(aggregates.point[method][index], row - 0.3, row + 0.3, color="k", lw=1.5)
        axis.set_title(metric, fontsize=10)
        axis.set_xlabel("normalised score", fontsize=8)
        axis.tick_params(labelsize=8)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(methods)), methods, fontsize=9)
    table = aggregates.table
    figure.suptitle(
        f"{table.suite.at(table.budget)}: estimate (line) and 95 % "
        "stratified-bootstrap CI (bar); lower is better for the optimality gap",
        fontsize=9,
    )
    save(figure, path)


def plot_profiles(aggregates: Aggregates, path: pathlib.Path, reps: int, seed: int) -> None:
    """Performance profiles: fraction of runs with normalised score above tau, with CIs."""
    taus = np.linspace(0.0, 1.0, 41)
    # rliable's create_performance_profile, with a seeded bootstrap (it takes no seed).
    profile = lambda scores: rly.score_distributions(scores, taus)  # noqa: E731
    profiles, intervals = interval_estimates(aggregates.scores, profile, reps, seed)
    methods = list(aggregates.scores)
    figure, axis = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=intervals,
        colors=column_colors(methods),
        xlabel=r"normalised score $\tau$",
        ylabel=r"fraction of runs with score > $\tau$",
        ax=axis,
    )
    handles = [plt.Line2D([], [], color=column_colors(methods)[m], lw=2) for m in methods]
    figure.legend(handles, methods, loc="outside right center", fontsize=8)
    table = aggregates.table
    axis.set_title(table.suite.at(table.budget), fontsize=10)
    save(figure, path)


def save(figure, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
