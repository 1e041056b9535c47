"""The run directory: what one training run leaves on disk, and how to read it back.

    <logdir>/<task label>/<id>/seed<seed>/
        config.yaml     the resolved config          metrics.jsonl   one JSON object per log write
        checkpoint/     the latest atomic checkpoint train_eps/, eval_eps/   one .npz per episode
        done.json       written once the run reached its `steps` budget (the completion marker)

Readers here never import TensorFlow, so tools that only look at results stay fast.
"""

import json
import os
import pathlib

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
