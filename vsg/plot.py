"""Learning curves: `python -m vsg.plot RUN_DIR [RUN_DIR ...] --out curves.png`.

Plots `eval/return` (markers) and `train/return` (line) against env frames for each run,
read from its `metrics.jsonl`; `--metrics KEY ...` adds a panel per logged scalar (e.g.
`model/loss`) with every run's curve. `--paper FILE --task NAME` overlays published curves
from a JSON list of {task, method, seed, xs, ys} records (such as the VSG paper's score
files): the mean over seeds per method, with its 95 % confidence band (as `vsg.results`
draws it).
For many runs and the paper's statistics, use `python -m vsg.results`.
"""

import argparse
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from vsg.results.scores import curve_band, load_paper  # noqa: E402
from vsg.rundir import metric_curve, read_metrics, run_ref  # noqa: E402


def run_label(run_dir):
    """`<id>/seed<N>` for a standard run directory, else the path as given."""
    try:
        return run_ref(run_dir).label
    except ValueError:
        return str(run_dir)


def plot_paper(axis, path, task):
    """Overlays the mean (and 95 % band) over seeds of each method for `task`."""
    curves = [curve for curve in load_paper(path) if curve.task == task]
    if not curves:
        raise SystemExit(f"error: no published curves for task '{task}' in {path}")
    for method in sorted({curve.method for curve in curves}):
        runs = [curve for curve in curves if curve.method == method]
        window = float(np.diff(runs[0].steps).min()) if len(runs[0].steps) > 1 else 1.0
        xs, mean, low, high = curve_band(runs, window)
        axis.plot(xs, mean, "--", label=f"paper {method} ({len(runs)} seeds)")
        axis.fill_between(xs, low, high, alpha=0.1)


def plot_returns(axis, records):
    """Training returns (line) and evaluation returns (markers) of each run; records =
    {run directory: its metrics records}."""
    for run, run_records in records.items():
        label = run_label(run)
        line = axis.plot(
            *metric_curve(run_records, "train/return"), alpha=0.6, label=f"{label} train"
        )
        axis.plot(
            *metric_curve(run_records, "eval/return"),
            "o-",
            color=line[0].get_color(),
            label=f"{label} eval",
        )
    axis.set_ylabel("episode return")


def plot_metric(axis, curves, key):
    """One line per run: curves = [(label, (steps, values))]."""
    for label, (steps, values) in curves:
        axis.plot(steps, values, label=label)
    axis.set_ylabel(key)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vsg.plot", description=__doc__)
    parser.add_argument("runs", nargs="+", help="run directories (hold metrics.jsonl)")
    parser.add_argument("--out", default="curves.png", help="PNG file to write")
    parser.add_argument("--paper", help="JSON file of published curves")
    parser.add_argument("--task", help="task name in the --paper file")
    parser.add_argument("--max_step", type=float, default=0, help="x-axis limit (0: auto)")
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=[],
        metavar="KEY",
        help="also plot these metrics.jsonl keys (e.g. model/loss), a panel each",
    )
    args = parser.parse_args(argv)
    missing = [run for run in args.runs if not (pathlib.Path(run) / "metrics.jsonl").exists()]
    problem = f"no metrics.jsonl in {missing[0]}" if missing else None
    if not problem and bool(args.paper) != bool(args.task):
        problem = "--paper needs --task"
    records = {} if problem else {run: read_metrics(run) for run in args.runs}
    metrics = {}
    for key in [] if problem else args.metrics:
        metrics[key] = [(run_label(run), metric_curve(rs, key)) for run, rs in records.items()]
        if not any(len(steps) for _, (steps, _) in metrics[key]):
            problem = f"no run logged '{key}'"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    figure, axes = plt.subplots(
        1 + len(metrics), 1, figsize=(7, 4 + 2.5 * len(metrics)), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    plot_returns(axes[0], records)
    if args.paper:
        plot_paper(axes[0], args.paper, args.task)
    for axis, (key, curves) in zip(axes[1:], metrics.items(), strict=True):
        plot_metric(axis, curves, key)
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if args.max_step:
        axes[0].set_xlim(0, args.max_step)
    axes[-1].set_xlabel("env frames")
    figure.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
