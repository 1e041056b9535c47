"""Speed and random-policy baselines of the Basic variant.

``python -m bringbackshapes.bench`` prints agent decisions per second at action repeat 4
(observation rendered every decision, episode resets included), as the median of several
repeats. ``--random-return`` instead prints the mean return (± standard error) of a uniformly
random policy over ``--episodes`` Basic episodes (action repeat 4, time limit 3000 physics
steps = 750 decisions) with 0 and with 2 distractors: the baseline learning curves are read
against. Its standard error is about 0.02 at the default 300 episodes.
"""

import argparse
import statistics
import time

import numpy as np

from bringbackshapes.env import BringBackShapesEnv


def decisions_per_second(decisions: int, repeats: int, seed: int = 0) -> list[float]:
    """Decisions/s of ``repeats`` timed runs of ``decisions`` uniformly random actions each."""
    env = BringBackShapesEnv(action_repeat=4)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(decisions)]
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        rates.append(decisions / (time.perf_counter() - start))
    return rates


def random_returns(episodes: int, max_distractors: int, seed: int = 0) -> np.ndarray:
    """Returns of a uniformly random policy over ``episodes`` Basic episodes."""
    env = BringBackShapesEnv(max_distractors=max_distractors)
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            returns[episode] += reward
            done = terminated or truncated
    return returns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bringbackshapes.bench")
    parser.add_argument("--decisions", type=int, default=2000, help="decisions per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--random-return", action="store_true", help="random-policy returns instead of speed"
    )
    parser.add_argument("--episodes", type=int, default=300, help="for --random-return")
    args = parser.parse_args(argv)
    if args.episodes < 2:
        parser.error("--episodes must be at least 2 (for a standard error)")
    if args.random_return:
        for distractors in (0, 2):
            returns = random_returns(args.episodes, distractors)
            sem = returns.std(ddof=1) / np.sqrt(len(returns))
            print(
                f"random policy, Basic, {distractors} distractors, action repeat 4, 3000 "
                f"physics steps: mean return {returns.mean():.3f} ± {sem:.3f} (SE) over "
                f"{len(returns)} episodes",
                flush=True,
            )
        return
    rates = decisions_per_second(args.decisions, args.repeats)
    print(
        f"Basic, action repeat 4: {statistics.median(rates):.0f} decisions/s "
        f"(median of {args.repeats} x {args.decisions}; min {min(rates):.0f}, "
        f"max {max(rates):.0f})"
    )


if __name__ == "__main__":
    main()
