"""The run directory: what one training run leaves on disk, and how to read it back.

    <logdir>/<task label>/<id>/seed<seed>/
        config.yaml     the resolved config          metrics.jsonl   one JSON object per log write
        checkpoint/     the latest atomic checkpoint train_eps/, eval_eps/   one .npz per episode
        done.json       written once the run reached its `steps` budget (the completion marker)

Readers here never import TensorFlow, so tools that only look at results stay fast.
"""

import dataclasses
import json
import os
import pathlib
import re

import numpy as np

from vsg.replay import atomic_write_bytes

METRICS_FILE = "metrics.jsonl"
DONE_FILE = "done.json"


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The records of `RUN_DIR/metrics.jsonl`, in file order ([] if there is no file).

    A line that is not valid JSON (a write cut short by a killed process) is skipped.
    """
    path = pathlib.Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def drop_metrics_after(run_dir: str | os.PathLike, step: int) -> None:
    """Rewrites RUN_DIR/metrics.jsonl (atomically) without records past `step`.

    A run killed after its last checkpoint logged steps it will log again once resumed from
    that checkpoint; dropping them first keeps the steps in the file increasing.
    """
    records = read_metrics(run_dir)
    kept = [record for record in records if record["step"] <= step]
    path = pathlib.Path(run_dir) / METRICS_FILE
    if path.exists() and len(kept) != len(path.read_text().splitlines()):
        text = "".join(json.dumps(record) + "\n" for record in kept)
        atomic_write_bytes(path, text.encode())


def read_curve(run_dir: str | os.PathLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of scalar `name` from RUN_DIR/metrics.jsonl; records without it skipped."""
    pairs = [(r["step"], r[name]) for r in read_metrics(run_dir) if r.get(name) is not None]
    steps, values = zip(*pairs, strict=True) if pairs else ((), ())
    return np.array(steps, dtype=np.int64), np.array(values, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class RunRef:
    """Where a run lives and what it is: `<logdir>/<task>/<run_id>/seed<seed>/`."""

    path: pathlib.Path
    task: str  # the task label, e.g. dmc_walker_walk or bringbackshapes_sparse_distract0_size1.0
    run_id: str  # e.g. VSG_prior0.4_baseline
    seed: int

    @property
    def label(self) -> str:
        return f"{self.run_id}/seed{self.seed}"


def run_ref(run_dir: str | os.PathLike) -> RunRef:
    """The RunRef of one run directory; ValueError if its path is not `.../TASK/ID/seedN`."""
    path = pathlib.Path(run_dir).resolve()
    match = re.fullmatch(r"seed(\d+)", path.name)
    if not match or len(path.parts) < 4:
        raise ValueError(f"{run_dir} is not a run directory (<logdir>/<task>/<id>/seed<N>)")
    return RunRef(path, path.parent.parent.name, path.parent.name, int(match.group(1)))


def find_runs(roots: list[str | os.PathLike]) -> list[RunRef]:
    """Every run directory (one holding metrics.jsonl) at or below `roots`, sorted, no repeats.

    Raises ValueError naming a root that does not exist.
    """
    found = set()
    for root in map(pathlib.Path, roots):
        if not root.is_dir():
            raise ValueError(f"{root} is not a directory")
        for metrics in root.rglob(METRICS_FILE):
            if re.fullmatch(r"seed\d+", metrics.parent.name):
                found.add(run_ref(metrics.parent))
    return sorted(found, key=lambda run: (run.task, run.run_id, run.seed))


def write_done(run_dir: str | os.PathLike, step: int, steps: int) -> None:
    """Marks the run complete at env frame `step` of a `steps` budget (atomic write)."""
    record = {"step": int(step), "steps": int(steps)}
    atomic_write_bytes(pathlib.Path(run_dir) / DONE_FILE, json.dumps(record).encode())


def read_done(run_dir: str | os.PathLike) -> dict | None:
    """The completion record {"step", "steps"}, or None if the run has not completed."""
    path = pathlib.Path(run_dir) / DONE_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_done(run_dir: str | os.PathLike, steps: int) -> bool:
    """True if the run completed a budget of at least `steps` env frames."""
    record = read_done(run_dir)
    return record is not None and record["step"] >= steps
