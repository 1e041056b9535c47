"""The run directory: what one training run leaves on disk, and the one API that reads it.

    <logdir>/<task label>/<id>/seed<seed>/
        config.yaml     the config the run was created with (never rewritten)
        history.jsonl   one JSON object per invocation that trained: command, start, changes
        checkpoint/     the latest atomic checkpoint; checkpoint/meta.json holds its env frame
        train_eps/, eval_eps/   one .npz per finished episode (`vsg.replay`)
        metrics.jsonl   one JSON object per log write
        done.json       written once the run reached its `steps` budget (the completion marker)
        run.lock        held by the training process (`lock`)

Training, the probe, sweeps and plotting read runs only through this module. Nothing here
imports TensorFlow, so tools that only look at runs (and every bad-input exit) stay fast.
"""

import dataclasses
import datetime
import fcntl
import json
import os
import pathlib
import re

import numpy as np
from ruamel.yaml import YAML

from vsg.config import Config, load_presets, save_config
from vsg.replay import atomic_write_bytes

CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.jsonl"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_META = "meta.json"  # inside the checkpoint folder, written with it
METRICS_FILE = "metrics.jsonl"
DONE_FILE = "done.json"
LOCK_FILE = "run.lock"
EPISODE_DIRS = {"train": "train_eps", "eval": "eval_eps"}

# Env seeds of a run: training uses seed + start (start = the env frame it resumed at, so a
# resumed run does not replay its old episodes), evaluation and the probe use their own ranges.
EVAL_SEED_OFFSET = 10**6
PROBE_SEED_OFFSET = 2 * 10**6

# Keys a resumed run may change: how long it runs and how often it logs, evaluates, saves and
# trains, and how it executes. Every other key shapes the model, the data or the env.
SCHEDULE_KEYS = frozenset(
    {
        "steps",
        "log_every",
        "video_every",
        "eval_every",
        "checkpoint_every",
        "probe_every",
        "n_eval_eps",
        "train_every",
        "train_steps",
        "pretrain",
        "prefill",
        "envs",
        "logdir",  # the same directory may be spelled differently
        "precision",  # variables are float32 in every precision; only the compute differs
        "jit_compile",
    }
)


class RunDirError(ValueError):
    """A run directory that cannot be used as asked; the one-line message says why."""


def run_directory(config) -> pathlib.Path:
    """`<logdir>/<task label>/<id>/seed<seed>/`, as in the reference code."""
    import envs  # cheap: the suites are imported lazily

    label = envs.run_label(config.task, config)
    return pathlib.Path(config.logdir) / label / config.id / f"seed{config.seed}"


# Config and history.


def read_config(run_dir: str | os.PathLike) -> Config | None:
    """The config the run was created with, or None for a new run directory."""
    path = pathlib.Path(run_dir) / CONFIG_FILE
    if not path.exists():
        return None
    return Config(YAML(typ="safe", pure=True).load(path.read_text()))


def config_changes(saved, config) -> dict[str, tuple]:
    """{key: (saved value, new value)} for every key of `config` whose value differs, sorted.

    A key the saved config lacks (the run was created before the key existed) counts as its
    default value, which is what such a run used.
    """
    missing = set(config) - set(saved)
    defaults = load_presets()["defaults"] if missing else {}
    changes = {}
    for key in sorted(config):
        old = saved[key] if key in saved else defaults.get(key)
        if _comparable(old) != _comparable(config[key]):
            changes[key] = (old, config[key])
    return changes


def _comparable(value):
    return list(value) if isinstance(value, tuple | list) else value


def check_resume(run_dir: str | os.PathLike, config) -> dict[str, tuple]:
    """The changes from the run's saved config ({} for a new run); RunDirError naming every
    changed key that shapes the model, the data or the env (those outside SCHEDULE_KEYS)."""
    saved = read_config(run_dir)
    if saved is None:
        return {}
    changes = config_changes(saved, config)
    blocked = {key: change for key, change in changes.items() if key not in SCHEDULE_KEYS}
    if blocked:
        listed = ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in blocked.items())
        raise RunDirError(
            f"{run_dir} was created with a different config: {listed}; these keys shape the "
            "model, the data or the env, so resuming would mix runs (use another --id, or the "
            "original values)"
        )
    return changes


def start_invocation(run_dir: pathlib.Path, config, command: str, start: int) -> None:
    """Writes config.yaml if the run is new, and appends this invocation to history.jsonl:
    {"time", "command", "start" (env frame), "changes" {key: [saved, new]}}."""
    changes = check_resume(run_dir, config)
    if read_config(run_dir) is None:
        save_config(config, run_dir / CONFIG_FILE)
    record = {
        "time": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": command,
        "start": int(start),
        "changes": {key: list(change) for key, change in changes.items()},
    }
    with open(run_dir / HISTORY_FILE, "a") as file:
        file.write(json.dumps(record) + "\n")


def read_history(run_dir: str | os.PathLike) -> list[dict]:
    """The invocations recorded in history.jsonl, oldest first."""
    return _read_jsonl(pathlib.Path(run_dir) / HISTORY_FILE)


# Checkpoint, episodes and seeds.


def checkpoint_dir(run_dir: str | os.PathLike) -> pathlib.Path:
    """Where `vsg.checkpoint.Checkpointer` keeps the run's checkpoint."""
    return pathlib.Path(run_dir) / CHECKPOINT_DIR


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    """True if the run has a complete checkpoint (the current one, or the one a save that
    was cut short between its two renames left as checkpoint.old)."""
    folder = checkpoint_dir(run_dir)
    return folder.is_dir() or folder.with_name(folder.name + ".old").is_dir()


def checkpoint_step(run_dir: str | os.PathLike) -> int | None:
    """The env frame of the run's checkpoint, from its meta.json; None without a checkpoint.

    A checkpoint written before meta.json existed gives -1: its step is only in the
    TensorFlow checkpoint itself.
    """
    folder = checkpoint_dir(run_dir)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if candidate.is_dir():
            try:
                return int(json.loads((candidate / CHECKPOINT_META).read_text())["step"])
            except FileNotFoundError:
                return -1
    return None


def episode_dir(run_dir: str | os.PathLike, kind: str) -> pathlib.Path:
    """The folder of the run's `kind` episodes: "train" or "eval"."""
    return pathlib.Path(run_dir) / EPISODE_DIRS[kind]


def _derived_seed(*entropy: int) -> int:
    return int(np.random.SeedSequence([int(value) for value in entropy]).generate_state(1)[0])


def train_env_seeds(config, start: int) -> list[int]:
    """Env seeds of the `envs` train slots of a run started (or resumed) at env frame `start`.

    Slot 0 gets seed + start, as a run with one env always had; others get distinct seeds
    derived from it, so no two slots (and no resume) repeat one another's episodes.
    """
    base = config.seed + start
    return [base] + [_derived_seed(base, slot) for slot in range(1, config.envs)]


def eval_env_seed(config, start: int) -> int:
    """Env seed of the evaluation env of a run started (or resumed) at env frame `start`."""
    return config.seed + EVAL_SEED_OFFSET + start


def eval_policy_seed(config, step: int) -> int:
    """Seed of the evaluation policy's random generator for the evaluation at env frame `step`
    (its own, so evaluating never draws from the training generator)."""
    return _derived_seed(config.seed, EVAL_SEED_OFFSET, step)


def probe_env_seed(config, offset: int = 0) -> int:
    """Env seed of the probe's episode collection (`offset`: the probe's --seed)."""
    return config.seed + PROBE_SEED_OFFSET + offset


# Lock.


def lock(run_dir: pathlib.Path):
    """An exclusive lock on `run_dir` (its file run.lock), held until `unlock`.

    Two processes training into one run directory would overwrite each other's checkpoints
    and episodes, so a second one gets RunDirError before it writes anything; so does a run
    directory that cannot be created or written. The kernel drops the lock when its holder
    dies, even by SIGKILL; the empty run.lock then left behind is harmless.
    """
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise RunDirError(f"{run_dir} is in use by another training process") from None
            # `unlock` deletes the file; a lock taken on a file just deleted protects nothing.
            if os.path.exists(path) and os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                return handle
            handle.close()
    except OSError as error:
        raise RunDirError(f"cannot write to {run_dir}: {error.strerror}") from None


def unlock(handle) -> None:
    """Deletes run.lock, then releases the lock (in this order, see `lock`)."""
    pathlib.Path(handle.name).unlink(missing_ok=True)
    handle.close()


# Metrics.


def _read_jsonl(path: pathlib.Path) -> list[dict]:
    """The records of a JSON-lines file ([] if there is none); a line cut short by a killed
    process is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The records of `RUN_DIR/metrics.jsonl`, in file order ([] if there is no file).

    A line that is not valid JSON (a write cut short by a killed process) is skipped.
    """
    return _read_jsonl(pathlib.Path(run_dir) / METRICS_FILE)


def drop_metrics_after(run_dir: str | os.PathLike, step: int) -> None:
    """Rewrites RUN_DIR/metrics.jsonl (atomically) without records past `step`.

    A run killed after its last checkpoint logged steps it will log again once resumed from
    that checkpoint; dropping them first keeps the file free of repeated steps.
    """
    records = read_metrics(run_dir)
    kept = [record for record in records if record["step"] <= step]
    path = pathlib.Path(run_dir) / METRICS_FILE
    if path.exists() and len(kept) != len(path.read_text().splitlines()):
        text = "".join(json.dumps(record) + "\n" for record in kept)
        atomic_write_bytes(path, text.encode())


def read_curve(run_dir: str | os.PathLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of scalar `name` from RUN_DIR/metrics.jsonl, as `metric_curve`."""
    return metric_curve(read_metrics(run_dir), name)


def metric_curve(records: list[dict], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of scalar `name` in metrics records, sorted by step; records without
    it are skipped."""
    pairs = [(r["step"], r[name]) for r in records if r.get(name) is not None]
    pairs.sort(key=lambda pair: pair[0])
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


# Completion marker.


def write_done(run_dir: str | os.PathLike, step: int, steps: int) -> None:
    """Marks the run complete at env frame `step` of a `steps` budget (atomic write)."""
    record = {"step": int(step), "steps": int(steps)}
    atomic_write_bytes(pathlib.Path(run_dir) / DONE_FILE, json.dumps(record).encode())


def read_done(run_dir: str | os.PathLike) -> dict | None:
    """The completion record {"step", "steps"}, or None if the run has not completed."""
    path = pathlib.Path(run_dir) / DONE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # missing, or a run directory that cannot exist
        return None


def is_done(run_dir: str | os.PathLike, steps: int) -> bool:
    """True if the run completed a budget of at least `steps` env frames."""
    record = read_done(run_dir)
    return record is not None and record["step"] >= steps
