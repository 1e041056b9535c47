"""`python -m vsg.sweep SPEC.yaml [--address auto|HOST:PORT|ray://HOST:PORT] [--dry_run]`.

Validates every run of the spec (exit 2 naming a bad one, before anything starts), skips runs
whose run directory is already complete, and runs the others as Ray tasks: on a local Ray
instance started here, or on an existing cluster with --address. Shows a live table and
writes `<sweep dir>/status.json`; each run's output goes to `<sweep dir>/runs/<run>.log`.
Ctrl-C stops every run with a checkpoint; rerunning the same command continues the sweep.
Exit status: 0 all runs done, 1 some failed, 2 bad input, 130 stopped.
"""

import argparse
import contextlib
import os
import pathlib
import shlex
import signal
import sys
import time

from vsg.rundir import is_done
from vsg.sweep.runner import RunCrashed, RunFailed, execute, run_files, stop_file
from vsg.sweep.spec import ROOT, SpecError, Sweep, load_sweep
from vsg.sweep.status import plain_line, render, run_status, totals, write_status

REFRESH_SECONDS = 2.0
PLAIN_EVERY_SECONDS = 60.0  # how often a progress line is printed when not on a terminal


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m vsg.sweep", description=__doc__)
    parser.add_argument("spec", help="sweep spec (YAML), e.g. configs/sweeps/cpu_demo.yaml")
    parser.add_argument("--address", help="an existing Ray cluster: auto, HOST:PORT, ray://...")
    parser.add_argument("--sweep_dir", help="status and run logs (default logs/sweeps/<spec>)")
    parser.add_argument("--dry_run", action="store_true", help="list the runs and exit")
    parser.add_argument("--dashboard", action="store_true", help="start Ray's dashboard")
    parser.add_argument("--num_cpus", type=int, help="CPUs of the local Ray instance")
    return parser.parse_args(argv)


def print_dry_run(sweep: Sweep, sweep_dir: pathlib.Path) -> None:
    for run in sweep.runs:
        state = "done" if is_done(run.run_dir, run.steps) else "to run"
        print(f"{run.name}  [{state}]  {run.run_dir}\n  {shlex.join(run.command)}")
    todo = sum(not is_done(run.run_dir, run.steps) for run in sweep.runs)
    print(
        f"{len(sweep.runs)} runs ({todo} to run), each with {sweep.resources}; "
        f"max_concurrent {sweep.max_concurrent or 'unlimited'}, max_retries "
        f"{sweep.max_retries}; status and logs in {sweep_dir}"
    )


def start_ray(args):
    """Joins the cluster at --address, or starts a private local instance."""
    # Token authentication for the local instance (Ray's default since 2.59; explicit here)
    # and no usage reporting; a cluster brings its own settings. Ray reads both at import.
    if not args.address:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    options = dict(
        address=args.address,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    if not args.address:
        options.update(include_dashboard=args.dashboard, num_cpus=args.num_cpus)
    ray.init(**options)
    return ray


def check_fits(ray, sweep: Sweep) -> None:
    """Exit 2 if no node of the cluster can ever hold one run (Ray would wait forever)."""
    need = sweep.resources
    for node in ray.nodes():
        have = node["Resources"] if node["Alive"] else {}
        fits = have.get("CPU", 0) >= need.cpus and have.get("GPU", 0) >= need.gpus
        if fits and have.get("memory", 0) >= need.memory * 2**30:
            return
    print(f"error: no Ray node has the resources of one run ({need})", file=sys.stderr)
    ray.shutdown()
    sys.exit(2)


def outcome(ray, ref) -> tuple[str, str]:
    """(final state, error) of a finished task."""
    try:
        return ray.get(ref), ""
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, RunFailed | RunCrashed):
            return "failed", str(cause)
        return "failed", f"{type(cause).__name__}: {cause}"
    except ray.exceptions.RayError as error:  # a worker or node lost once too often
        return "failed", str(error).strip().splitlines()[0]


class Scheduler:
    """Submits runs as Ray tasks (at most max_concurrent at once) and tracks their states."""

    def __init__(self, ray, sweep: Sweep, sweep_dir: pathlib.Path):
        self.ray, self.sweep, self.sweep_dir = ray, sweep, sweep_dir
        need = sweep.resources
        self.task = ray.remote(execute).options(
            num_cpus=need.cpus,
            num_gpus=need.gpus,
            memory=int(need.memory * 2**30) or None,
            max_retries=sweep.max_retries,
            retry_exceptions=[RunCrashed],
        )
        self.started = time.time()
        self.states = {run.name: "pending" for run in sweep.runs}
        self.errors = {run.name: "" for run in sweep.runs}
        for run in sweep.runs:
            if is_done(run.run_dir, run.steps):
                self.states[run.name] = "skipped"
        self.waiting = [run for run in sweep.runs if self.states[run.name] == "pending"]
        self.inflight = {}
        self.stopping = False
        self.last_line = 0.0  # when show() last printed a progress line
        self.start_frames = totals(self.rows(), 0, self.started).frames

    def step(self) -> bool:
        """Submits what may start, collects what finished; False once nothing is left."""
        limit = self.sweep.max_concurrent or len(self.sweep.runs)
        while self.waiting and len(self.inflight) < limit and not self.stopping:
            run = self.waiting.pop(0)
            self.inflight[self.task.remote(run, str(self.sweep_dir), self.sweep.resources)] = run
        if not self.inflight:
            return False
        ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=REFRESH_SECONDS)
        for ref in ready:
            run = self.inflight.pop(ref)
            self.states[run.name], self.errors[run.name] = outcome(self.ray, ref)
        return True

    def stop(self) -> None:
        """Ctrl-C: no new runs; running ones are interrupted and save a checkpoint."""
        self.stopping = True
        for run in self.waiting:
            self.states[run.name] = "stopped"
        self.waiting = []
        stop_file(str(self.sweep_dir)).touch()

    def rows(self):
        return [
            run_status(
                run, str(self.sweep_dir), self.states[run.name], self.started, self.errors[run.name]
            )
            for run in self.sweep.runs
        ]


def drive(scheduler: Scheduler, name: str) -> list:
    """Runs the scheduler to the end, refreshing the table and status.json.

    The first Ctrl-C (or SIGTERM) stops the sweep: every run saves a checkpoint and exits.
    A second one leaves at once; the runs still stop, as they watch the stop file.
    """
    from rich.console import Console
    from rich.live import Live

    console = Console()
    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    busy, rows = True, scheduler.rows()
    with live or contextlib.nullcontext():
        while busy:
            try:
                busy = scheduler.step()
                rows = show(scheduler, name, live)
            except KeyboardInterrupt:
                if scheduler.stopping:
                    console.print("quit; the runs are still stopping (see status.json)")
                    sys.exit(130)
                console.print("stopping: every run saves a checkpoint (Ctrl-C again to quit)")
                scheduler.stop()
    if not live:
        console.print(render(name, rows, totals(rows, scheduler.start_frames, scheduler.started)))
    return rows


def show(scheduler: Scheduler, name: str, live) -> list:
    """Refreshes status.json and the table (or, without a terminal, prints a line a minute)."""
    rows = scheduler.rows()
    summary = totals(rows, scheduler.start_frames, scheduler.started)
    write_status(scheduler.sweep_dir / "status.json", name, rows, summary)
    if live:
        live.update(render(name, rows, summary), refresh=True)
    elif time.time() - scheduler.last_line > PLAIN_EVERY_SECONDS:
        print(plain_line(summary), flush=True)
        scheduler.last_line = time.time()
    return rows


def report_failures(rows, sweep: Sweep, sweep_dir: pathlib.Path) -> None:
    runs = {run.name: run for run in sweep.runs}
    for row in rows:
        if row.state == "failed":
            log = run_files(str(sweep_dir), runs[row.name])[1]
            tail = log.read_text(errors="replace").splitlines()[-10:] if log.exists() else []
            print(f"\nFAILED {row.name}: {row.error}\n  log: {log}", file=sys.stderr)
            print("\n".join(f"  | {line}" for line in tail), file=sys.stderr)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    try:
        sweep = load_sweep(args.spec, os.getcwd())
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    sweep_dir = pathlib.Path(args.sweep_dir or pathlib.Path("logs", "sweeps", sweep.name)).resolve()
    if args.dry_run:
        print_dry_run(sweep, sweep_dir)
        return
    if all(is_done(run.run_dir, run.steps) for run in sweep.runs):
        print(f"all {len(sweep.runs)} runs of {args.spec} are complete; nothing to do")
        return
    started = time.time()
    ray = start_ray(args)
    print(
        f"Ray ready in {time.time() - started:.1f} s; status in {sweep_dir}/status.json", flush=True
    )
    check_fits(ray, sweep)
    (sweep_dir / "runs").mkdir(parents=True, exist_ok=True)
    stop_file(str(sweep_dir)).unlink(missing_ok=True)  # left by a sweep stopped before
    scheduler = Scheduler(ray, sweep, sweep_dir)
    signal.signal(signal.SIGTERM, interrupt)  # `kill` or a cluster scheduler: stop like Ctrl-C
    rows = drive(scheduler, sweep.name)
    ray.shutdown()
    report_failures(rows, sweep, sweep_dir)
    states = {row.state for row in rows}
    print(f"sweep finished in {time.time() - started:.0f} s", flush=True)
    sys.exit(130 if "stopped" in states else 1 if "failed" in states else 0)


if __name__ == "__main__":
    main()
