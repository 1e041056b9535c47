"""Per-task score tables (task x method at a budget) as Markdown and CSV.

Our methods are run ids; the paper's columns are the published models our runs stand for
(`VSG_prior0.4_x` -> paper VSG), over the tasks our runs cover. Without runs of ours, the
table holds the paper's methods over all its tasks: the paper's own numbers.
"""

import csv
import dataclasses
import io

import numpy as np

from vsg.results.scores import Curve, Suite, method_order, model_of, score_at


@dataclasses.dataclass
class Cell:
    """The scores of one task x method at a budget: one per seed; `short` counts early ends."""

    scores: list[float] = dataclasses.field(default_factory=list)
    short: int = 0

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Spread over seeds (population std, ddof 0, the convention of the published table)."""
        return float(np.std(self.scores))


@dataclasses.dataclass
class Table:
    """Scores of every (column, task) of one suite at one budget."""

    suite: Suite
    budget: int
    window: int
    tasks: list[str]
    columns: list[str]  # our run ids, then "paper <model>"
    cells: dict[tuple[str, str], Cell]  # (column, task) -> Cell

    def task_mean(self, column: str) -> float | None:
        """The mean over tasks of the per-task means, if the column has every task."""
        cells = [self.cells.get((column, task)) for task in self.tasks]
        return float(np.mean([c.mean for c in cells])) if all(cells) else None


def column_of(curve: Curve) -> str:
    return curve.method if curve.source == "ours" else f"paper {curve.method}"


def ordered_columns(curves: list[Curve]) -> list[str]:
    """Column labels of the curves: our methods, then the paper's, each by model."""
    ours = sorted({c.method for c in curves if c.source == "ours"}, key=method_order)
    paper = sorted({c.method for c in curves if c.source == "paper"}, key=method_order)
    return ours + [f"paper {method}" for method in paper]


def select(curves: list[Curve], suite: Suite) -> list[Curve]:
    """The curves a suite's tables compare: ours, and the paper's for our models and tasks.

    Without runs of ours in the suite, all the paper's curves of the suite.
    """
    curves = [curve for curve in curves if curve.task.startswith(suite.prefix)]
    ours = [curve for curve in curves if curve.source == "ours"]
    if not ours:
        return curves
    tasks = {curve.task for curve in ours}
    models = {model_of(curve.method) for curve in ours}
    paper = [c for c in curves if c.source == "paper" and c.task in tasks and c.method in models]
    return ours + paper


def build_table(curves: list[Curve], suite: Suite, budget: int, window: int) -> Table:
    """Scores `curves` (already `select`ed for the suite) at `budget` with `window`."""
    cells: dict[tuple[str, str], Cell] = {}
    for curve in curves:
        scored = score_at(curve, budget, window)
        if scored is None:
            continue
        cell = cells.setdefault((column_of(curve), curve.task), Cell())
        cell.scores.append(scored[0])
        cell.short += scored[1]
    columns = [column for column in ordered_columns(curves) if any(k[0] == column for k in cells)]
    tasks = sorted({task for _, task in cells})
    return Table(suite, budget, window, tasks, columns, cells)


def format_score(value: float, suite: Suite) -> str:
    return f"{value:.2f}" if suite.max_score <= 10 else f"{value:.0f}"


def format_cell(cell: Cell | None, suite: Suite) -> str:
    if cell is None:
        return "–"
    text = (
        f"{format_score(cell.mean, suite)} ± {format_score(cell.std, suite)} ({len(cell.scores)})"
    )
    return text + (f" †{cell.short}" if cell.short else "")


def to_markdown(table: Table) -> str:
    """A Markdown table: tasks x columns, "mean ± std (seeds)", and a mean-over-tasks row."""
    suite = table.suite
    lines = [
        f"### {suite.at(table.budget)} (window {table.window:,})",
        "",
        "| task | " + " | ".join(table.columns) + " |",
        "|---" * (len(table.columns) + 1) + "|",
    ]
    for task in table.tasks:
        row = [format_cell(table.cells.get((column, task)), suite) for column in table.columns]
        lines.append(f"| {task} | " + " | ".join(row) + " |")
    means = [table.task_mean(column) for column in table.columns]
    row = ["–" if m is None else f"**{format_score(m, suite)}**" for m in means]
    lines.append("| mean over tasks | " + " | ".join(row) + " |")
    if any(cell.short for cell in table.cells.values()):
        lines += [
            "",
            "†k: k runs have no point in the window (they ended earlier or log more sparsely)"
            " and are scored at their last window before the budget.",
        ]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["suite", "budget", "window", "task", "method", "mean", "std", "seeds", "short"]


def to_csv(tables: list[Table]) -> str:
    """One row per (table, task, column), plus a row per column for the mean over tasks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for table in tables:
        head = [table.suite.name, table.budget, table.window]
        for task in table.tasks:
            for column in table.columns:
                cell = table.cells.get((column, task))
                if cell is not None:
                    row = [cell.mean, cell.std, len(cell.scores), cell.short]
                    writer.writerow(head + [task, column] + row)
        for column in table.columns:
            mean = table.task_mean(column)
            if mean is not None:
                writer.writerow(head + ["mean over tasks", column, mean, "", "", ""])
    return buffer.getvalue()
