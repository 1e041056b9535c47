"""Learning curves: `python -m vsg.plot RUN_DIR [RUN_DIR ...] --out curves.png`.

Plots `eval/return` (markers) and `train/return` (line) against env frames for each run,
read from its `metrics.jsonl`. `--paper FILE --task NAME` overlays published curves from a
JSON list of {task, method, seed, xs, ys} records (such as the VSG paper's score files):
the mean over seeds per method, with the min-max range shaded.
"""

import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def read_curve(run_dir, name):
    """(steps, values) of scalar `name` from RUN_DIR/metrics.jsonl."""
    steps, values = [], []
    for line in open(pathlib.Path(run_dir) / "metrics.jsonl"):
        record = json.loads(line)
        if record.get(name) is not None:
            steps.append(record["step"])
            values.append(record[name])
    return np.array(steps), np.array(values)


def run_label(run_dir):
    """`<id>/<seed>` from `<logdir>/<task>/<id>/seed<seed>`."""
    parts = pathlib.Path(run_dir).resolve().parts
    return "/".join(parts[-2:])


def plot_paper(axis, path, task):
    """Overlays the mean (and min-max band) over seeds of each method for `task`."""
    records = [r for r in json.loads(pathlib.Path(path).read_text()) if r["task"] == task]
    if not records:
        raise SystemExit(f"error: no published curves for task '{task}' in {path}")
    for method in sorted({r["method"] for r in records}):
        runs = [r for r in records if r["method"] == method]
        length = min(len(r["xs"]) for r in runs)
        xs = np.array(runs[0]["xs"][:length])
        ys = np.array([r["ys"][:length] for r in runs])
        axis.plot(xs, ys.mean(0), "--", label=f"paper {method} ({len(runs)} seeds)")
        axis.fill_between(xs, ys.min(0), ys.max(0), alpha=0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vsg.plot", description=__doc__)
    parser.add_argument("runs", nargs="+", help="run directories (hold metrics.jsonl)")
    parser.add_argument("--out", default="curves.png", help="PNG file to write")
    parser.add_argument("--paper", help="JSON file of published curves")
    parser.add_argument("--task", help="task name in the --paper file")
    parser.add_argument("--max_step", type=float, default=0, help="x-axis limit (0: auto)")
    args = parser.parse_args(argv)
    missing = [run for run in args.runs if not (pathlib.Path(run) / "metrics.jsonl").exists()]
    if missing or bool(args.paper) != bool(args.task):
        problem = f"no metrics.jsonl in {missing[0]}" if missing else "--paper needs --task"
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    figure, axis = plt.subplots(figsize=(7, 4))
    for run in args.runs:
        label = run_label(run)
        line = axis.plot(*read_curve(run, "train/return"), alpha=0.6, label=f"{label} train")
        axis.plot(
            *read_curve(run, "eval/return"), "o-", color=line[0].get_color(), label=f"{label} eval"
        )
    if args.paper:
        plot_paper(axis, args.paper, args.task)
    if args.max_step:
        axis.set_xlim(0, args.max_step)
    axis.set_xlabel("env frames")
    axis.set_ylabel("episode return")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
