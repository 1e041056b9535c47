"""`python -m vsg.results [LOGDIR ...] [--paper FILE ...] [--out DIR] [--budget N ...]`.

Finds every run under the LOGDIRs (`<task>/<id>/seed<N>/metrics.jsonl`), scores it at the
budgets (default: the paper's, DMC 500k and 1M frames, BBS 2.4M physics steps), and writes to
--out: `results.md` (per-task tables beside the paper's values, then aggregates with 95 %
stratified-bootstrap CIs and P(X > Y)), `results.csv`, `aggregates.csv` and PNG figures.
With only --paper files it reproduces the paper's own numbers.
"""

import argparse
import csv
import io
import pathlib
import sys

from vsg.results.scores import SUITES, load_paper, load_runs
from vsg.results.tables import build_table, select, to_csv, to_markdown


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m vsg.results", description=__doc__)
    parser.add_argument("logdirs", nargs="*", help="directories holding run directories")
    parser.add_argument("--paper", nargs="+", default=[], help="published score files (JSON)")
    parser.add_argument("--out", default="results", help="output directory")
    parser.add_argument("--budget", type=int, nargs="+", help="frame budgets (all suites)")
    parser.add_argument("--window", type=int, help="scoring window in frames (default: bin)")
    parser.add_argument("--metric", default="eval/return", help="metrics.jsonl key to score")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    if not args.logdirs and not args.paper:
        parser.error("give run directories, --paper files, or both")
    if any(b <= 0 for b in args.budget or [1]) or (args.window is not None and args.window <= 0):
        parser.error("--budget and --window must be positive")
    return args


def aggregates_csv(all_aggregates) -> str:
    from vsg.results.stats import METRICS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["suite", "budget", "method", "metric", "value", "low", "high"])
    for agg in all_aggregates:
        head = [agg.table.suite.name, agg.table.budget]
        for method in agg.scores:
            for index, metric in enumerate(METRICS):
                low, high = agg.interval[method][:, index]
                writer.writerow(head + [method, metric, agg.point[method][index], low, high])
        for (x, y), (p, low, high) in agg.improvement.items():
            writer.writerow(head + [x, f"P(> {y})", p, low, high])
    return buffer.getvalue()


def main(argv=None):
    args = parse_args(argv)
    try:
        curves = load_runs(args.logdirs, args.metric) if args.logdirs else []
        if args.logdirs and not curves:
            raise ValueError(f"no run with '{args.metric}' under {' '.join(args.logdirs)}")
        for path in args.paper:
            curves += load_paper(path)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    # Heavy imports (rliable, matplotlib) only once the input is known to be good.
    from vsg.results import figures, stats

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables, all_aggregates, markdown = [], [], []
    for suite in SUITES:
        chosen = select(curves, suite)
        if not chosen:
            continue
        window = args.window or suite.window
        budgets = args.budget or suite.budgets
        ours = [curve.steps[-1] for curve in chosen if curve.source == "ours"]
        x_max = max(ours) if ours else max(budgets)
        figures.plot_curves(chosen, suite, window, out / f"curves_{suite.name}.png", x_max)
        for budget in budgets:
            table = build_table(chosen, suite, budget, window)
            if not table.cells:
                continue
            aggregates = stats.aggregate(table, reps=args.reps, seed=args.seed)
            tables.append(table)
            all_aggregates.append(aggregates)
            markdown += [to_markdown(table), stats.to_markdown(aggregates)]
            if aggregates.scores:
                name = f"{suite.name}_{budget}"
                figures.plot_aggregates(aggregates, out / f"aggregates_{name}.png")
                figures.plot_profiles(
                    aggregates, out / f"profiles_{name}.png", args.reps, args.seed
                )
    text = "\n".join(markdown)
    (out / "results.md").write_text(text)
    (out / "results.csv").write_text(to_csv(tables))
    (out / "aggregates.csv").write_text(aggregates_csv(all_aggregates))
    print(text)
    print(f"wrote {out}/: results.md, results.csv, aggregates.csv and figures")


if __name__ == "__main__":
    main()
