"""Learning curves from run directories and published score files, scored at frame budgets.

Both sources become `Curve`s (one task, method and seed: env frames and returns). A curve is
scored at a budget as the mean of its points in the window (budget - window, budget]; the
published curves are means over bins of that width, so with the suite's window both sources
are scored alike. A curve that ends before the window is scored at its last window instead
and marked `short`, so tables can say how many runs had not reached the budget.
"""

import dataclasses
import json
import os
import pathlib

import numpy as np
from scipy import stats

import vsg.models
from vsg.rundir import find_runs, read_curve


@dataclasses.dataclass(frozen=True)
class Suite:
    """A benchmark: its task-label prefix, best score and the paper's budgets and bin width."""

    name: str
    prefix: str
    max_score: float  # normalised score = return / max_score
    budgets: tuple[int, ...]  # env frames (BBS: physics steps)
    window: int  # the published curves' bin width
    unit: str  # what budgets count

    def at(self, budget: int) -> str:
        """E.g. "bbs at 2,400,000 physics steps"."""
        return f"{self.name} at {budget:,} {self.unit}"


SUITES = (
    Suite("dmc", "dmc_", 1000.0, (500_000, 1_000_000), 50_000, "env frames"),
    Suite("bbs", "bringbackshapes_", 5.0, (2_400_000,), 100_000, "physics steps"),
)
# The published BringBackShapes file calls VSG "VSGC" (VSG with the continuous-gate prior).
PAPER_METHOD_NAMES = {"VSGC": "VSG"}
MODELS = tuple(vsg.models.MODELS)  # the launchers' names, in the order tables and figures use


@dataclasses.dataclass(frozen=True)
class Curve:
    """Returns of one run: `values[i]` at env frame `steps[i]` (both [N], steps ascending)."""

    task: str
    method: str  # our run id (e.g. VSG_prior0.4_baseline) or the paper's model name
    seed: str
    steps: np.ndarray
    values: np.ndarray
    source: str  # "ours" or "paper"


def suite_of(task: str) -> Suite:
    """The suite a task label belongs to; ValueError for an unknown prefix."""
    for suite in SUITES:
        if task.startswith(suite.prefix):
            return suite
    raise ValueError(f"task '{task}' belongs to no known suite (dmc_*, bringbackshapes_*)")


def model_of(method: str) -> str:
    """The model a method label stands for: `VSG_prior0.4_x` -> `VSG`; the paper's are as is."""
    return method.split("_", 1)[0]


def method_order(method: str) -> tuple:
    """Sort key: by model (DreamerV1, DreamerV2, VSG, SVSG, others), then by label."""
    model = model_of(method)
    return (MODELS.index(model) if model in MODELS else len(MODELS), method)


def load_paper(path: str | os.PathLike) -> list[Curve]:
    """The curves of a published score file: a JSON list of {task, method, seed, xs, ys}."""
    try:
        records = json.loads(pathlib.Path(path).read_text())
        return [
            Curve(
                task=record["task"],
                method=PAPER_METHOD_NAMES.get(record["method"], record["method"]),
                seed=str(record["seed"]),
                steps=np.asarray(record["xs"], dtype=np.float64),
                values=np.asarray(record["ys"], dtype=np.float64),
                source="paper",
            )
            for record in records
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a score file of {{task, method, seed, xs, ys}}: {error}"
        ) from None


def load_runs(roots: list[str | os.PathLike], metric: str = "eval/return") -> list[Curve]:
    """The `metric` curve of every run directory under `roots` (runs without it are left out)."""
    curves = []
    for run in find_runs(roots):
        steps, values = read_curve(run.path, metric)
        if len(steps):
            curves.append(Curve(run.task, run.run_id, str(run.seed), steps, values, "ours"))
    return curves


def score_at(curve: Curve, budget: float, window: float) -> tuple[float, bool] | None:
    """(score, short) of a curve at `budget`, or None if it has no point up to the budget.

    score: the mean of the points in (budget - window, budget]; if there are none, the mean of
    the last window of points before the budget, and short is True.
    """
    before = curve.steps <= budget
    if not before.any():
        return None
    end = budget if (curve.steps[before] > budget - window).any() else curve.steps[before][-1]
    inside = (curve.steps > end - window) & (curve.steps <= end)
    return float(curve.values[inside].mean()), bool(end != budget)


def binned(curve: Curve, window: float) -> dict[float, float]:
    """{bin end: mean value} over bins (k * window - window, k * window], k = 0, 1, ..."""
    ends = np.ceil(curve.steps / window) * window
    return {float(end): float(curve.values[ends == end].mean()) for end in np.unique(ends)}


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval over seeds; low = high = mean for one seed."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * stats.sem(values)
    return mean, mean - half, mean + half


def curve_band(curves: list[Curve], window: float) -> tuple[np.ndarray, ...]:
    """(x, mean, low, high) over seeds of the curves binned with `window`."""
    per_seed = [binned(curve, window) for curve in curves]
    xs = sorted(set().union(*per_seed))
    rows = [mean_ci([b[x] for b in per_seed if x in b]) for x in xs]
    return (np.array(xs), *np.array(rows).reshape(-1, 3).T)
