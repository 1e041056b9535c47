"""Rendered DMC throughput with fast rendering on and off: ``python -m envs.bench``.

Prints env frames/s (walker_walk, 64x64, action repeat 2, random actions), the median over a
few repeats. Run both settings back to back: machine speed drifts between runs.
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


def main() -> None:
    """Parse arguments and print the median frames/s for each render setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200, help="env steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
