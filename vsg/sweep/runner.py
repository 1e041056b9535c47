"""One run of a sweep, executed as a Ray task: the launcher's command in its own process.

The task records each attempt in `<sweep dir>/runs/<run>.json` (node, pid, exit status, last
line of output) and appends the command's output to `<run>.log`. How the command ended decides
what happens next (the exit statuses are the trainer's):

    0, with done.json written     -> done
    2 (bad input)                 -> RunFailed: never retried
    the same error as last time   -> RunFailed: a deterministic failure, not retried
    anything else (a crash, 130 / 143 after a signal, killed by a signal, lost node)
                                  -> RunCrashed: Ray retries the task up to max_retries times,
                                     and the launcher resumes the run from its checkpoint.

A launcher process dies with the Ray worker that started it (SIGTERM via PR_SET_PDEATHSIG),
so a lost worker or node never leaves a trainer behind holding the run directory's lock.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

from vsg.replay import atomic_write_bytes
from vsg.rundir import is_done
from vsg.sweep.spec import Resources, Run

LOCK_WAIT_SECONDS = 600  # a stopped trainer may still be saving its checkpoint
STOP_WAIT_SECONDS = 300  # time a stopped run gets to save before it is killed
POLL_SECONDS = 1.0


class RunCrashed(Exception):
    """The run's process died; retried (the launcher resumes from the checkpoint)."""


class RunFailed(Exception):
    """The run failed for good: bad input, or the same error twice."""


def run_files(sweep_dir: str, run: Run) -> tuple[pathlib.Path, pathlib.Path]:
    """(attempts file, log file) of a run in the sweep directory."""
    slug = re.sub(r"[^A-Za-z0-9.=_-]+", "_", run.name)
    folder = pathlib.Path(sweep_dir) / "runs"
    return folder / f"{slug}.json", folder / f"{slug}.log"


def read_attempts(path: pathlib.Path) -> list[dict]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def write_attempts(path: pathlib.Path, attempts: list[dict]) -> None:
    atomic_write_bytes(path, json.dumps(attempts, indent=1).encode())


def run_environment(resources: Resources) -> dict[str, str]:
    """The command's environment: thread pools sized to its CPUs, GPUs as reserved."""
    threads = str(max(1, round(resources.cpus)))
    env = dict(os.environ)
    env.update(
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
    )
    env.setdefault("PYTHON", sys.executable)  # the interpreter Ray's workers run
    if resources.gpus == 0:
        env["CUDA_VISIBLE_DEVICES"] = ""  # reserved none, so use none
    elif resources.gpus < 1:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # else TensorFlow takes the whole GPU
    return env


def prepare_child() -> None:
    """In the child before exec: SIGTERM when the Ray worker that started it dies, and SIGINT
    delivered, so that the trainer saves and exits when the sweep stops it.

    The child would otherwise inherit the signal mask of Ray's task thread (which blocks
    signals) and, from a sweep started in the background by a shell, an ignored SIGINT.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_lock(run_dir: str) -> None:
    """Waits until no process holds the run directory's lock (a previous attempt's trainer)."""
    lock = pathlib.Path(run_dir) / "run.lock"
    if not lock.exists():
        return
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with open(lock, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # the launcher will then exit 2, naming the busy directory
                time.sleep(1.0)


def last_line(log: pathlib.Path, offset: int) -> str:
    """The last non-empty line the command wrote (after `offset` in the log)."""
    with open(log, "rb") as file:
        file.seek(offset)
        lines = [line.strip() for line in file.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:500] if lines else ""


def stop_file(sweep_dir: str) -> pathlib.Path:
    """Created by the sweep when it stops (Ctrl-C); its tasks then stop their runs.

    A file rather than ray.cancel(): Ray delivers a cancellation to a running task only once
    it returns to Python, which a task waiting for its process does not.
    """
    return pathlib.Path(sweep_dir) / "stop"


def stop_requested(sweep_dir: str) -> bool:
    return stop_file(sweep_dir).exists()


def signalled(status: int) -> bool:
    """Ended by a signal: killed (negative status) or a trainer that caught one (130, 143)."""
    return status < 0 or status in (130, 137, 143)


def stop(process: subprocess.Popen) -> int:
    """Stops the command like Ctrl-C (the trainer saves a checkpoint); kills it if it hangs."""
    with contextlib.suppress(ProcessLookupError):  # it may have ended on its own
        os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=STOP_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def execute(run: Run, sweep_dir: str, resources: Resources) -> str:
    """Runs `run` to completion (the body of the Ray task); returns "done" or "stopped".

    Raises RunFailed (not to be retried) or RunCrashed (to be retried).
    """
    if is_done(run.run_dir, run.steps):
        return "done"
    if stop_requested(sweep_dir):
        return "stopped"
    attempts_file, log = run_files(sweep_dir, run)
    attempts = read_attempts(attempts_file)
    import ray  # in the Ray worker; the sweep itself imports Ray only once configured

    node = ray.get_runtime_context().get_node_id()
    record = {"attempt": len(attempts) + 1, "host": socket.gethostname(), "node": node}
    record["start"] = time.time()
    attempts.append(record)
    write_attempts(attempts_file, attempts)
    wait_for_lock(run.run_dir)
    with open(log, "ab") as output:
        output.write(f"=== attempt {record['attempt']} on {record['host']}\n".encode())
        output.flush()
        offset = output.tell()
        process = subprocess.Popen(
            run.command,
            cwd=run.cwd,
            env=run_environment(resources),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the sweep, not the runs
            preexec_fn=prepare_child,
        )
        record["pid"] = process.pid
        write_attempts(attempts_file, attempts)
        while process.poll() is None:
            if stop_requested(sweep_dir):
                record.update(end=time.time(), exit=stop(process), stopped=True)
                write_attempts(attempts_file, attempts)
                return "stopped"
            time.sleep(POLL_SECONDS)
        status = process.returncode
    record.update(end=time.time(), exit=status, last_line=last_line(log, offset))
    write_attempts(attempts_file, attempts)
    if status == 0 and is_done(run.run_dir, run.steps):
        return "done"
    error = record["last_line"]
    if status == 2:
        raise RunFailed(f"bad input (exit 2): {error}")
    previous = attempts[-2] if len(attempts) > 1 else {}
    same = (previous.get("exit"), previous.get("last_line")) == (status, error)
    if same and not signalled(status):
        raise RunFailed(f"the same error twice (exit {status}): {error}")
    raise RunCrashed(f"exit {status}: {error}")
