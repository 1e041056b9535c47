"""Rendered DMC throughput with fast rendering on and off: ``python -m envs.bench``.

Prints env frames/s (walker_walk, 64x64, action repeat 2, random actions), the median over a
few repeats. Run both settings back to back: machine speed drifts between runs.
``--workers N`` instead compares the in-process env with 1 and N envs in worker processes
stepped in parallel (fast rendering), total frames/s over all envs; the machine's load average
is printed first, since other processes share the cores.
``--random-return TASK`` instead prints the return of a uniformly random policy on TASK, the
baseline that learning curves are read against. ``--fidelity`` instead compares fast and
default rendering of the same states on several tasks (how many pixels differ and by how much).
"""

import argparse
import os
import statistics
import time

import numpy as np

import envs
from envs.parallel import ParallelEnvs

REPEAT = 2  # action repeat of the throughput benchmarks


def _config(fast_render: bool) -> dict:
    return {"action_repeat": REPEAT, "size": [64, 64], "fast_render": fast_render}


def frames_per_second(fast_render: bool, decisions: int, seed: int = 0) -> float:
    """Time ``decisions`` env steps (one render each) and return env frames per second."""
    env = envs.make("dmc_walker_walk", seed, _config(fast_render))
    rng = np.random.default_rng(seed)
    env.reset()  # the first render creates the GL context; keep it out of the timing
    start = time.perf_counter()
    for _ in range(decisions):
        obs = env.step(rng.uniform(-1, 1, env.action_size).astype(np.float32))
        if obs["is_last"]:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return decisions * REPEAT / elapsed


def worker_frames_per_second(workers: int, decisions: int, seed: int = 0) -> float:
    """Env frames per second of ``workers`` envs in worker processes, stepped together.

    Times ``decisions`` parallel steps after a first reset (which starts the processes and
    their GL contexts), resetting finished episodes as a training loop does.
    """
    pool = ParallelEnvs("dmc_walker_walk", [seed + i for i in range(workers)], _config(True))
    rng = np.random.default_rng(seed)
    pool.reset()
    start = time.perf_counter()
    for _ in range(decisions):
        actions = rng.uniform(-1, 1, (workers, pool.action_size)).astype(np.float32)
        finished = [i for i, obs in enumerate(pool.step(actions)) if obs["is_last"]]
        if finished:
            pool.reset(finished)
    elapsed = time.perf_counter() - start
    pool.close()
    return decisions * workers * REPEAT / elapsed


def _report(label: str, rates: list[float], decisions: int, repeats: int) -> None:
    print(
        f"{label}: median {statistics.median(rates):7.1f} env frames/s (walker_walk, 64x64, "
        f"action repeat {REPEAT}, {decisions} steps x {repeats}: "
        + ", ".join(f"{rate:.1f}" for rate in rates)
        + ")",
        flush=True,
    )


def compare_workers(workers: int, decisions: int, repeats: int) -> None:
    """Print frames/s in-process, then with 1 and ``workers`` parallel worker envs."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs", flush=True)
    rates = [frames_per_second(True, decisions, seed) for seed in range(repeats)]
    _report("in-process env", rates, decisions, repeats)
    for count in sorted({1, workers}):
        rates = [worker_frames_per_second(count, decisions, seed) for seed in range(repeats)]
        _report(f"{count} worker env{'s' if count > 1 else ' '}", rates, decisions, repeats)


def random_returns(task: str, episodes: int, action_repeat: int) -> np.ndarray:
    """Returns of ``episodes`` episodes (1000 frames each) of uniformly random actions."""
    config = {"action_repeat": action_repeat, "time_limit": 1000, "size": [64, 64]}
    rng = np.random.default_rng(0)
    returns = []
    for seed in range(episodes):
        env = envs.make(task, seed, config)
        obs, total = env.reset(), 0.0
        while not obs["is_last"]:
            obs = env.step(rng.uniform(-1, 1, env.action_size).astype(np.float32))
            total += float(obs["reward"])
        env.close()
        returns.append(total)
    return np.array(returns)


FIDELITY_TASKS = (
    "dmc_walker_walk",
    "dmc_cheetah_run",
    "dmc_cartpole_swingup",
    "dmc_quadruped_walk",
)


def render_difference(task: str, decisions: int, seed: int = 0) -> dict[str, float]:
    """Fast vs default rendering of the same ``decisions + 1`` states (random actions).

    Two envs with the same seed step with the same actions, so their physics states are
    equal (checked); only the render settings differ. Returns the fraction of pixels with any
    channel different, the mean |difference| over all values and over those pixels, and the
    largest |difference|, in 0..255 units.
    """
    config = {"action_repeat": 2, "time_limit": 0, "size": [64, 64]}
    fast, default = (envs.make(task, seed, {**config, "fast_render": on}) for on in (True, False))
    rng = np.random.default_rng(seed)
    pairs = [(fast.reset()["image"], default.reset()["image"])]
    for _ in range(decisions):
        action = rng.uniform(-1, 1, fast.action_size).astype(np.float32)
        pairs.append((fast.step(action)["image"], default.step(action)["image"]))
        if not np.array_equal(fast.physics.get_state(), default.physics.get_state()):
            raise RuntimeError(f"{task}: the two envs' physics states diverged")
    fast.close()
    default.close()
    images = np.array(pairs, np.int16)  # [N, 2, H, W, 3]
    diff = np.abs(images[:, 0] - images[:, 1])
    changed = diff.max(-1) > 0
    return {
        "changed_fraction": float(changed.mean()),
        "mean": float(diff.mean()),
        "mean_changed": float(diff[changed].mean()) if changed.any() else 0.0,
        "max": float(diff.max()),
    }


def print_fidelity(tasks: list[str], decisions: int) -> None:
    """Print `render_difference` for each task, one line each."""
    print(f"fast vs default render, same states, 64x64, {decisions + 1} frames per task:")
    for task in tasks:
        d = render_difference(task, decisions)
        print(
            f"  {task:22} {100 * d['changed_fraction']:5.1f}% of pixels differ; "
            f"mean |diff| {d['mean']:.2f}/255 over all values, "
            f"{d['mean_changed']:.1f}/255 over changed pixels; max {d['max']:.0f}/255",
            flush=True,
        )


def main() -> None:
    """Parse arguments and print the median frames/s for each render setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200, help="env steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="compare 1 and N worker envs")
    parser.add_argument("--random-return", metavar="TASK", help="e.g. dmc_walker_stand")
    parser.add_argument("--episodes", type=int, default=20, help="for --random-return")
    parser.add_argument("--action_repeat", type=int, default=4, help="for --random-return")
    parser.add_argument("--fidelity", action="store_true", help="fast vs default pixels")
    parser.add_argument("--tasks", nargs="+", default=list(FIDELITY_TASKS), help="for --fidelity")
    args = parser.parse_args()
    if args.fidelity:
        try:
            print_fidelity(args.tasks, args.decisions)
        except ValueError as error:
            parser.exit(2, f"error: {error}\n")
        return
    if args.random_return:
        if not args.random_return.startswith("dmc_"):
            parser.exit(2, "error: --random-return takes a DMC task such as dmc_walker_stand\n")
        try:
            returns = random_returns(args.random_return, args.episodes, args.action_repeat)
        except ValueError as error:
            parser.exit(2, f"error: {error}\n")
        print(
            f"{args.random_return}, random policy, {args.episodes} episodes, action repeat "
            f"{args.action_repeat}: mean return {returns.mean():.1f} "
            f"(SE {returns.std() / np.sqrt(len(returns)):.1f}, min {returns.min():.1f}, "
            f"max {returns.max():.1f})"
        )
        return
    if args.workers < 0:
        parser.exit(2, f"error: --workers must be >= 1, got {args.workers}\n")
    if args.workers:
        compare_workers(args.workers, args.decisions, args.repeats)
        return
    for fast in (True, False):
        rates = [frames_per_second(fast, args.decisions, seed) for seed in range(args.repeats)]
        _report(f"fast_render={fast!s:5}", rates, args.decisions, args.repeats)


if __name__ == "__main__":
    main()
