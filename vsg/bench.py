"""Speed benchmark: `python -m vsg.bench [--models M1,M2] [--dim D] [--key value ...]`.

Prints medians over several repeats of: one full update (world model + actor-critic) for
DreamerV2 with the DMC preset at batch 16 x 50 and for the tiny preset, the world-model step
alone, the policy step (batch 1), and rendered env frames per second. `--models
dreamerv2,vsg,svsg` (names of `vsg.models`, any case) times only the DMC update of each model,
side by side, at size `--dim` (as the launcher's DIM, default 200). Extra arguments are config
overrides for the DMC case; `bench_updates(config, ...)` times any config.
"""

import statistics
import sys
import time

import numpy as np

from envs.bench import worker_frames_per_second
from vsg.config import load_config
from vsg.models import MODELS, dmc_args, find


def random_batch(batch, length, action_size, seed=0):
    """Replay-shaped random data [B, T, ...]."""
    rng = np.random.default_rng(seed)
    first = np.zeros((batch, length), bool)
    first[:, 0] = True
    return {
        "image": rng.integers(0, 256, (batch, length, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (batch, length, action_size)).astype(np.float32),
        "reward": rng.normal(size=(batch, length)).astype(np.float32),
        "is_first": first,
        "is_terminal": np.zeros((batch, length), bool),
    }


def median_seconds(fn, repeats, warmup=1):
    """Median wall time of `fn()` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def bench_updates(config, repeats, label):
    import tensorflow as tf  # here: env workers import this module (spawn) and must not

    from vsg.agent import Agent

    tf.random.set_seed(0)
    agent = Agent(config, action_size=6)
    data = random_batch(config.batch_size, config.batch_length, 6)
    start = time.perf_counter()
    agent.train(data)
    first = time.perf_counter() - start
    full = median_seconds(lambda: agent.train(data), repeats, warmup=0)
    wm_step = tf.function(agent.wm.train)
    wm = median_seconds(lambda: wm_step(data), repeats)
    shape = f"{config.batch_size}x{config.batch_length}"
    print(f"{label} ({shape}): update {fmt(full)}; first call {first:.1f} s")
    print(f"{label} ({shape}): world model only {fmt(wm)}")
    obs = {"image": data["image"][:1, 0], "is_first": np.ones(1, bool)}
    state = agent.initial_policy_state(1)
    explore = tf.constant(True)
    policy = median_seconds(lambda: agent.policy(obs, state, explore), 50, warmup=3)
    print(f"{label}: policy step {policy[0] * 1000:.2f} ms (median of 50)")


def bench_env(repeats):
    """Rendered walker_walk frames/s (fast render, action repeat 2) of one env worker, as a
    run with `envs: 1` steps it, median over seeds (this process runs TensorFlow, so the env
    renders in its own process)."""
    rates = [worker_frames_per_second(1, decisions=500, seed=seed) for seed in range(repeats)]
    print(
        f"env dmc_walker_walk: {statistics.median(rates):.0f} rendered frames/s "
        f"(median of {repeats})"
    )


def fmt(stats):
    median, low, high = stats
    return f"{median:.3f} s (min {low:.3f}, max {high:.3f})"


def pop_option(argv, name):
    """Removes `name VALUE` from argv and returns VALUE (None if absent)."""
    if name not in argv:
        return None
    index = argv.index(name)
    value = argv[index + 1]
    del argv[index : index + 2]
    return value


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    repeats = 5
    names = pop_option(argv, "--models")
    dim = pop_option(argv, "--dim") or "200"
    try:  # model names of vsg/models.py in any case, sized as the DMC launcher's DIM does
        models = [find(name, ignore_case=True) for name in (names or "DreamerV2").split(",")]
        configs = {m: load_config([*dmc_args(m, dim), "--batch_size", "16", *argv]) for m in models}
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if names is None:
        bench_env(3)
        tiny = ["--configs", "dmc", *MODELS[models[0]].presets["dmc"], "tiny"]
        bench_updates(load_config(tiny), repeats, "tiny")
    for model, config in configs.items():
        bench_updates(config, repeats, f"dmc {model}")


if __name__ == "__main__":
    main()
