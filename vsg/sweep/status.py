"""The state of a sweep: one row per run, a total with an ETA, as a table and `status.json`.

Rows are read from what the runs leave on disk (their `metrics.jsonl` and the attempt records
of the runner), so the same view works for runs on other nodes of a shared file system.
"""

import dataclasses
import json
import pathlib
import time

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table

from vsg.replay import atomic_write_bytes
from vsg.rundir import read_metrics
from vsg.sweep.runner import read_attempts, run_files
from vsg.sweep.spec import Run


@dataclasses.dataclass
class RunStatus:
    name: str
    state: str  # queued | running | retrying | done | skipped | failed | stopped
    step: int
    steps: int
    eval_return: float | None
    fps: float | None
    eta: float | None  # seconds
    attempts: int
    error: str
    run_dir: str


def run_status(run: Run, sweep_dir: str, state: str, since: float, error: str) -> RunStatus:
    """The row of one run; `state` is the scheduler's, refined from the attempt records."""
    records = read_metrics(run.run_dir)
    # An evaluation's record comes after later ones (it sits at the frame of its policy).
    step = max((r["step"] for r in records), default=0)
    returns = [r["eval/return"] for r in records if r.get("eval/return") is not None]
    fps = next((r["fps"] for r in reversed(records) if r.get("fps") is not None), None)
    attempts = [a for a in read_attempts(run_files(sweep_dir, run)[0]) if a["start"] >= since]
    if state == "pending" and attempts:
        state = "running" if "end" not in attempts[-1] else "retrying"
    elif state == "pending":
        state = "queued"
    eta = (run.steps - step) / fps if state == "running" and fps else None
    last = returns[-1] if returns else None
    return RunStatus(
        run.name, state, step, run.steps, last, fps, eta, len(attempts), error, run.run_dir
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclasses.dataclass
class Totals:
    frames: int
    total: int
    eta: float | None
    counts: dict[str, int]


def totals(rows: list[RunStatus], start_frames: int, started: float) -> Totals:
    """Frames done over the sweep's budget; the ETA extrapolates this session's rate."""
    frames = sum(min(row.step, row.steps) for row in rows)
    total = sum(row.steps for row in rows)
    rate = (frames - start_frames) / max(time.time() - started, 1e-9)
    eta = (total - frames) / rate if rate > 0 else None
    counts = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return Totals(frames, total, eta, counts)


def render(name: str, rows: list[RunStatus], summary: Totals, max_rows: int = 40) -> Group:
    """A rich table of the runs (the running ones first if there are many) and a total bar."""
    table = Table(title=f"sweep {name}", title_justify="left", expand=False)
    for column in ["run", "state", "frames", "eval return", "fps", "ETA", "tries"]:
        table.add_column(column, justify="left" if column in ("run", "state") else "right")
    order = {"running": 0, "retrying": 1, "failed": 2, "queued": 3}
    shown = sorted(rows, key=lambda row: order.get(row.state, 4)) if len(rows) > max_rows else rows
    for row in shown[:max_rows]:
        table.add_row(
            row.name,
            row.state,
            f"{row.step:,} / {row.steps:,}",
            "–" if row.eval_return is None else f"{row.eval_return:.4g}",
            "–" if row.fps is None else f"{row.fps:.1f}",
            duration(row.eta),
            str(row.attempts),
        )
    if len(rows) > max_rows:
        table.caption = f"{len(rows) - max_rows} more runs in status.json"
    counts = ", ".join(f"{count} {state}" for state, count in sorted(summary.counts.items()))
    fraction = summary.frames / max(summary.total, 1)
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=1.0, completed=fraction, width=40),
        f"{fraction:6.1%}  {summary.frames:,} / {summary.total:,} frames  "
        f"ETA {duration(summary.eta)}  ({counts})",
    )
    return Group(table, bar)


def write_status(path: pathlib.Path, name: str, rows: list[RunStatus], summary: Totals) -> None:
    """`status.json`: the sweep's totals and every run's row (atomic write)."""
    record = {
        "sweep": name,
        "time": time.time(),
        "frames": summary.frames,
        "total_frames": summary.total,
        "eta_seconds": summary.eta,
        "counts": summary.counts,
        "runs": [dataclasses.asdict(row) for row in rows],
    }
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())


def plain_line(summary: Totals) -> str:
    """One line for logs (no terminal): progress, ETA and run counts."""
    counts = ", ".join(f"{count} {state}" for state, count in sorted(summary.counts.items()))
    fraction = summary.frames / max(summary.total, 1)
    return f"[{time.strftime('%H:%M:%S')}] {fraction:.1%} of {summary.total:,} frames, " + (
        f"ETA {duration(summary.eta)}, {counts}"
    )
