"""Speed benchmark of one agent update at a named set of sizes: `python -m vsg.bench --help`.

Each (size set, model) case runs in a fresh process, so its first call and peak memory are its
own. A case prints the sizes it times, the parameter count of every module, then medians
(with min and max) of: one update (world model + imagination + actor + critic), the world-model
step alone, the policy step at batch 1, the first update call (trace + run) and the process's
peak resident memory. `--profile` adds a per-op-family table of one update (`vsg.profiling`).
`--throughput RUN_DIR` instead prints the env frames/s and updates/s of a run while it trained.
"""

import argparse
import dataclasses
import multiprocessing
import pathlib
import resource
import statistics
import sys
import time

import numpy as np

from vsg.config import ConfigError, load_config
from vsg.models import MODELS, find
from vsg.rundir import read_metrics

ACTION_SIZE = 6  # walker_walk's, as the figures in the README


@dataclasses.dataclass(frozen=True)
class SizeSet:
    """Config arguments that set the sizes of a benchmark case, after `--configs dmc MODEL`."""

    description: str
    args: tuple[str, ...]
    dim: int | None  # DIM as in scripts/dmc.sh (deter and hidden size; SVSG's stoch size)


SIZE_SETS = {
    "vsg": SizeSet(
        "the VSG `dmc` preset at DreamerV2's batch: CNN depth 32, reward head 2x400, "
        "critic 3x400, actor 4x400, 14 imagined transitions, batch 16 x 50",
        ("--batch_size", "16"),
        200,
    ),
    # danijar/dreamerv2's configs.yaml, `dmc_vision`: encoder and decoder cnn_depth 48, reward
    # and critic heads 4 x 400 ELU, actor 4 x 400, imag_horizon 15 (15 imagined transitions
    # from each start state; ours counts the start state, hence 16), model weight decay 1e-6,
    # RSSM deter 200, hidden 200, 32 x 32 discrete latents, batch 16 x 50, no discount head.
    "dreamerv2": SizeSet(
        "DreamerV2's own dmc_vision sizes: CNN depth 48, reward and critic heads 4x400, "
        "actor 4x400, 15 imagined transitions, weight decay 1e-6, float32, batch 16 x 50",
        (
            "--batch_size",
            "16",
            "--batch_length",
            "50",
            "--cnn_depth",
            "48",
            "--units",
            "400",
            "--reward_layers",
            "4",
            "--value_layers",
            "4",
            "--actor_layers",
            "4",
            "--imag_horizon",
            "16",
            "--weight_decay",
            "1e-6",
            "--precision",
            "32",
        ),  # fmt: skip
        200,
    ),
    "tiny": SizeSet("the `tiny` test preset (seconds-scale)", ("--configs", "tiny"), None),
}


def case_config(sizes, model, dim=None, overrides=()):
    """The config a case times: `dmc`, the presets of `model` (a name of `vsg.models`, any
    case), the size set, DIM, then `overrides`. ValueError for an unknown model."""
    size_set = SIZE_SETS[sizes]
    dim = dim or size_set.dim
    entry = MODELS[find(model, ignore_case=True)]
    args = ["--configs", "dmc", *entry.presets["dmc"], *size_set.args]
    return load_config([*args, *(entry.dim_flags(dim) if dim else []), *overrides])


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


def timings(fn, repeats, warmup):
    """(median, min, max) wall seconds of `fn()` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def count_parameters(module):
    """Trainable float parameters of a `tf.Module` (0 for None)."""
    if module is None:
        return 0
    return sum(int(np.prod(v.shape)) for v in module.trainable_variables if v.dtype.is_floating)


def peak_rss_gib():
    """Peak resident memory of this process so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB


def parameter_counts(agent):
    """{module: trainable parameters} of an `Agent`: the world model and its parts, actor and
    critic (the slow critic, a copy of the critic, and optimiser slots are not counted)."""
    wm = agent.wm
    return {
        "world model": count_parameters(wm),
        "encoder": count_parameters(wm.encoder),
        "decoder": count_parameters(wm.decoder),
        "dynamics": count_parameters(wm.dynamics),
        "reward": count_parameters(wm.reward),
        "discount": count_parameters(wm.discount),
        "actor": count_parameters(agent.behavior.actor),
        "critic": count_parameters(agent.behavior.critic),
    }


def describe_sizes(config, dtype_name):
    """One line with every size that sets the cost of an update."""
    c = config
    latent = f"{c.dyn_stoch}x{c.dyn_discrete} discrete" if c.dyn_discrete else f"{c.dyn_stoch}"
    return (
        f"batch {c.batch_size} x {c.batch_length}, CNN depth {c.cnn_depth}, "
        f"{c.model_type} {c.dyn_cell} deter {c.dyn_deter} hidden {c.dyn_hidden} "
        f"stoch {latent}, MLP units {c.units} (reward {c.reward_layers}, "
        f"critic {c.value_layers}, actor {c.actor_layers} layers"
        f"{f', discount {c.discount_layers}' if c.pred_discount else ''}), "
        f"{c.imag_horizon - 1} imagined transitions, weight decay {c.weight_decay:g}, "
        f"{dtype_name}, {ACTION_SIZE} actions"
    )


def describe_counts(counts):
    parts = ", ".join(f"{name} {counts[name]:,}" for name in list(counts)[1:6])
    return (
        f"world model {counts['world model']:,} ({parts}); actor {counts['actor']:,}; "
        f"critic {counts['critic']:,}"
    )


def fmt(stats, unit="s", scale=1.0):
    median, low, high = (value * scale for value in stats)
    return f"{median:.3f} {unit} (min {low:.3f}, max {high:.3f})"


def run_case(label, config, repeats, warmup, profile):
    """Builds the agent of `config`, prints its sizes and the timings (in this process)."""
    from vsg.quiet import import_tensorflow

    tf = import_tensorflow()
    from vsg.agent import Agent

    tf.random.set_seed(0)
    agent = Agent(config, ACTION_SIZE)
    print(f"{label}: {describe_sizes(config, agent.dtype.name)}", flush=True)
    print(f"{label} parameters: {describe_counts(parameter_counts(agent))}", flush=True)
    data = random_batch(config.batch_size, config.batch_length, ACTION_SIZE)
    start = time.perf_counter()
    agent.train(data)
    first = time.perf_counter() - start
    update = timings(lambda: agent.train(data), repeats, warmup)
    print(f"{label} update (world model + imagination + actor + critic): {fmt(update)}")
    wm_step = tf.function(agent.wm.train, autograph=False)
    wm_step(data)  # traces
    print(f"{label} world model alone: {fmt(timings(lambda: wm_step(data), repeats, warmup))}")
    obs = {"image": data["image"][:1, 0], "is_first": np.ones(1, bool)}
    state = agent.initial_policy_state(1)
    explore = tf.constant(True)
    agent.policy(obs, state, explore)  # traces
    policy = timings(lambda: agent.policy(obs, state, explore), max(50, repeats), warmup)
    print(f"{label} policy step, batch 1: {fmt(policy, 'ms', 1000.0)}")
    print(f"{label} first update call (trace + run): {first:.1f} s")
    print(f"{label} peak RSS: {peak_rss_gib():.2f} GiB", flush=True)
    if profile:
        from vsg.profiling import profile_update

        profile_update(agent, data, label)


def bench_env(repeats):
    """Rendered walker_walk frames/s (fast render, action repeat 2) of one env worker, as a
    run with `envs: 1` steps it, median over seeds (the env renders in its own process)."""
    from envs.bench import worker_frames_per_second

    rates = [worker_frames_per_second(1, decisions=500, seed=seed) for seed in range(repeats)]
    print(
        f"env dmc_walker_walk: {statistics.median(rates):.0f} rendered frames/s "
        f"(median of {repeats})",
        flush=True,
    )


def throughput(run_dir):
    """(env frames/s, updates/s, frames, updates) of a run while it trained, from the log
    records of its metrics.jsonl after the first update (their `fps`, the frames per second
    since the record before, and `perf/updates`, the updates so far)."""
    if not (pathlib.Path(run_dir) / "metrics.jsonl").exists():
        raise ValueError(f"{run_dir}: no metrics.jsonl (not a run directory)")
    records = [r for r in read_metrics(run_dir) if r.get("perf/updates", 0) >= 1 and r.get("fps")]
    frames = updates = seconds = 0.0
    for before, after in zip(records, records[1:], strict=False):
        span = after["step"] - before["step"]
        if span > 0:
            frames += span
            seconds += span / after["fps"]
            updates += after["perf/updates"] - before["perf/updates"]
    if not seconds:
        raise ValueError(f"{run_dir}: fewer than two log records after the first update")
    return frames / seconds, updates / seconds, int(frames), int(updates)


def build_parser():
    sets = "\n".join(f"  {name}: {size.description}" for name, size in SIZE_SETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m vsg.bench",
        description=__doc__.split("\n\n", 1)[1] + "\nsize sets (--sizes):\n" + sets,
        epilog="Further arguments are config overrides (--key value, as for vsg.train), "
        "applied last, e.g. `--precision bf16`. Compare figures measured side by side in "
        "one session: machine load changes them by up to 2x.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--sizes", choices=list(SIZE_SETS), default="vsg", help="size set")
    parser.add_argument(
        "--models",
        default="dreamerv2",
        help=f"comma-separated model names ({', '.join(MODELS)}; any case), each timed in a "
        "fresh process (default: DreamerV2)",
    )
    parser.add_argument(
        "--dim", type=int, help="DIM as in scripts/dmc.sh: deter and hidden size, SVSG's "
        "stoch size (default: the size set's, 200)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per figure")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before timing")
    parser.add_argument(
        "--profile", action="store_true", help="also profile one update by op family"
    )
    parser.add_argument(
        "--env", action="store_true", help="also time rendered walker_walk frames/s"
    )
    parser.add_argument(
        "--throughput",
        metavar="RUN_DIR",
        help="only print env frames/s and updates/s of the run in RUN_DIR while it trained",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args, overrides = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be at least 1 and --warmup at least 0")
    if args.throughput:
        try:
            fps, ups, frames, updates = throughput(args.throughput)
        except (OSError, ValueError) as error:
            parser.error(str(error))
        print(
            f"{args.throughput}: {fps:.1f} env frames/s, {ups:.3f} updates/s while training "
            f"({frames} frames, {updates} updates)"
        )
        return
    cases = []
    for model in args.models.split(","):
        try:
            cases.append((model, case_config(args.sizes, model, args.dim, overrides)))
        except (ConfigError, ValueError) as error:
            parser.error(str(error))
    if args.env:
        bench_env(3)
    spawn = multiprocessing.get_context("spawn")
    for model, config in cases:
        label = f"[{args.sizes} sizes, {model}]"
        case = spawn.Process(
            target=run_case, args=(label, config, args.repeat, args.warmup, args.profile)
        )
        case.start()
        case.join()
        if case.exitcode != 0:
            sys.exit(f"{label} failed with exit code {case.exitcode}")


if __name__ == "__main__":
    main()
