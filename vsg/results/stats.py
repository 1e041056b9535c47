"""Aggregate scores with stratified-bootstrap confidence intervals (Agarwal et al., 2021).

Scores are normalised by the suite's best score (BBS / 5, DMC / 1000) and arranged per
method as a [runs, tasks] matrix. rliable computes IQM, mean, median and optimality gap with
95 % percentile intervals from a bootstrap that resamples runs within each task, and the
probability of improvement P(X > Y) between methods.
"""

import dataclasses
import itertools

import numpy as np
from rliable import library as rly
from rliable import metrics

from vsg.results.tables import Table

METRICS = ("IQM", "Mean", "Median", "Optimality gap")


def aggregate_metrics(scores: np.ndarray) -> np.ndarray:
    """[runs, tasks] normalised scores -> [IQM, mean, median, optimality gap]."""
    return np.array(
        [
            metrics.aggregate_iqm(scores),
            metrics.aggregate_mean(scores),
            metrics.aggregate_median(scores),
            metrics.aggregate_optimality_gap(scores),
        ]
    )


def interval_estimates(scores: dict, func, reps: int, seed: int) -> tuple[dict, dict]:
    """rliable's stratified bootstrap of `func` over {name: [runs, tasks]}, seeded.

    rliable 1.2 draws its resampling indices from NumPy's global generator (its
    `random_state` argument only reaches arch), so that generator is seeded here.
    """
    np.random.seed(seed)
    return rly.get_interval_estimates(scores, func, reps=reps)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) for scores x [n, tasks] and y [m, tasks]: per task U / (n m), ties count half.

    The Mann-Whitney statistic that rliable's `metrics.probability_of_improvement` computes
    with one SciPy call per task, here in one array operation: the bootstrap calls it
    `reps` times, which took minutes with SciPy's per-call overhead.
    """
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + 0.5 * ties))


@dataclasses.dataclass
class Aggregates:
    """Interval estimates of one table's methods; methods lacking a task are left out."""

    table: Table
    scores: dict[str, np.ndarray]  # method -> [runs, tasks], normalised
    point: dict[str, np.ndarray]  # method -> [len(METRICS)]
    interval: dict[str, np.ndarray]  # method -> [2 (low, high), len(METRICS)]
    improvement: dict[tuple[str, str], tuple[float, float, float]]  # (X, Y) -> P(X > Y), CI


def score_matrices(table: Table) -> dict[str, np.ndarray]:
    """{method: [runs, tasks]} normalised scores for methods with every task of the table.

    The bootstrap needs as many runs per task; a method with more seeds on some tasks keeps
    the first `runs` of each, where `runs` is its smallest seed count over the tasks.
    """
    matrices = {}
    for column in table.columns:
        cells = [table.cells.get((column, task)) for task in table.tasks]
        if not all(cells):
            continue
        runs = min(len(cell.scores) for cell in cells)
        matrix = np.array([cell.scores[:runs] for cell in cells]).T
        matrices[column] = matrix / table.suite.max_score
    return matrices


def aggregate(table: Table, reps: int = 2000, seed: int = 0) -> Aggregates:
    """Point estimates, 95 % stratified-bootstrap intervals and P(X > Y) for `table`.

    P(X > Y) is given for every pair of methods, X after Y in the table's column order.
    """
    scores = score_matrices(table)
    point, interval = interval_estimates(scores, aggregate_metrics, reps, seed)
    pairs = {f"{x},{y}": (scores[x], scores[y]) for y, x in itertools.combinations(scores, 2)}
    improvement = {}
    if pairs:
        p_point, p_interval = interval_estimates(pairs, probability_of_improvement, reps, seed)
        for key, value in p_point.items():
            low, high = np.ravel(p_interval[key])
            improvement[tuple(key.split(",", 1))] = (float(value), float(low), float(high))
    return Aggregates(table, scores, point, interval, improvement)


def to_markdown(aggregates: Aggregates) -> str:
    """The interval estimates and probabilities of improvement as Markdown tables."""
    table = aggregates.table
    title = table.suite.at(table.budget)
    lines = [
        f"### Aggregates: {title} (normalised, 95 % stratified-bootstrap CIs)",
        "",
        "| method | runs × tasks | " + " | ".join(METRICS) + " |",
        "|---" * (len(METRICS) + 2) + "|",
    ]
    for method, matrix in aggregates.scores.items():
        point, (low, high) = aggregates.point[method], aggregates.interval[method]
        values = [
            f"{p:.3f} [{lo:.3f}, {hi:.3f}]" for p, lo, hi in zip(point, low, high, strict=True)
        ]
        shape = f"{matrix.shape[0]} × {matrix.shape[1]}"
        lines.append(f"| {method} | {shape} | " + " | ".join(values) + " |")
    if aggregates.improvement:
        lines += ["", "| X | Y | P(X > Y) [95 % CI] |", "|---|---|---|"]
        for (x, y), (p, low, high) in aggregates.improvement.items():
            lines.append(f"| {x} | {y} | {p:.2f} [{low:.2f}, {high:.2f}] |")
    return "\n".join(lines) + "\n"
