"""Rendered DMC throughput with fast rendering on and off: ``python -m envs.bench``.

Prints env frames/s (walker_walk, 64x64, action repeat 2, random actions), the median over a
few repeats. Run both settings back to back: machine speed drifts between runs.
``--random-return TASK`` instead prints the return of a uniformly random policy on TASK, the
baseline that learning curves are read against. ``--fidelity`` instead compares fast and
default rendering of the same states on several tasks (how many pixels differ and by how much).
"""

import argparse
import statistics
import time

import numpy as np

import envs


def frames_per_second(fast_render: bool, decisions: int, seed: int = 0) -> float:
    """Time ``decisions`` env steps (one render each) and return env frames per second."""
    repeat = 2
    config = {"action_repeat": repeat, "size": [64, 64], "fast_render": fast_render}
    env = envs.make("dmc_walker_walk", seed, config)
    rng = np.random.default_rng(seed)
    env.reset()  # the first render creates the GL context; keep it out of the timing
    start = time.perf_counter()
    for _ in range(decisions):
        obs = env.step(rng.uniform(-1, 1, env.action_size).astype(np.float32))
        if obs["is_last"]:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return decisions * repeat / elapsed


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
    for fast in (True, False):
        rates = [frames_per_second(fast, args.decisions, seed) for seed in range(args.repeats)]
        print(
            f"fast_render={fast!s:5}: median {statistics.median(rates):7.1f} env frames/s "
            f"(walker_walk, 64x64, action repeat 2, {args.decisions} steps x {args.repeats}: "
            + ", ".join(f"{rate:.1f}" for rate in rates)
            + ")",
            flush=True,
        )


if __name__ == "__main__":
    main()
