"""danijar/dreamerv2 timed the way `python -m vsg.bench --sizes dreamerv2` times ours, and the
two set side by side: `bash scripts/bench_vs_dreamerv2.sh` runs both (see its header).

`python -m vsg.bench_dreamerv2 [--repeat N] [--warmup N] [--tiny] [--profile]` builds
dreamerv2's `Agent` at its `dmc_vision` config in float32 (CNN depth 48, reward and critic
4 x 400, 15 imagined transitions, weight decay 1e-6, batch 16 x 50), feeds it the same random
batch as `vsg.bench`, and prints the same figures in the same format: update, world model
alone, policy step at batch 1, first update call, peak RSS. Run it from dreamerv2's package
folder, so that its modules (`common`, `agent`) are importable; it sets TF_USE_LEGACY_KERAS=1
(dreamerv2 was written for Keras 2). `--tiny` shrinks every size, to check quickly that it runs;
`--profile` adds its slowest ops and op types in one update.

`python -m vsg.bench_dreamerv2 --compare OURS.log THEIRS.log` reads the printed figures of
several rounds of each and prints a Markdown table of their medians and ratios.
"""

import argparse
import collections
import importlib.util
import logging
import os
import pathlib
import re
import statistics
import sys
import time
import warnings

import numpy as np

from vsg.bench import ACTION_SIZE, count_parameters, fmt, peak_rss_gib, random_batch, timings

LABEL = "[dreamerv2 2.2.0]"
TINY = {
    "dataset": {"batch": 2, "length": 8},
    "encoder": {"cnn_depth": 4},
    "decoder": {"cnn_depth": 4},
    "rssm": {"hidden": 16, "deter": 16, "stoch": 4, "discrete": 4},
    "reward_head": {"units": 16},
    "actor": {"units": 16},
    "critic": {"units": 16},
    "imag_horizon": 3,
}
FIGURES = {  # figure: (row label, unit)
    "update": ("update (world model + imagination + actor + critic)", "s"),
    "world model alone": ("world model alone", "s"),
    "policy step, batch 1": ("policy step, batch 1", "ms"),
    "first update call": ("first update call (trace + run)", "s"),
    "peak RSS": ("peak RSS", "GiB"),
}
LINE = re.compile(r"^\[[^\]]*\] ([a-zA-Z ,1]+?)(?: \([^)]*\))?: ([0-9.]+) (s|ms|GiB)\b")


class _Space:
    """The one attribute dreamerv2's agent reads of a gym space."""

    def __init__(self, shape):
        self.shape = shape


def dreamerv2_config(tiny):
    """dreamerv2's `defaults` updated by its `dmc_vision` config, float32 (and `TINY`)."""
    import common
    import ruamel.yaml

    text = (pathlib.Path(common.__file__).parents[1] / "configs.yaml").read_text()
    configs = ruamel.yaml.YAML(typ="safe", pure=True).load(text)
    config = common.Config(configs["defaults"]).update(configs["dmc_vision"])
    config = config.update({"precision": 32, "jit": True})
    return config.update(TINY) if tiny else config


def describe_sizes(config):
    """One line with every size of dreamerv2's config that sets the cost of an update."""
    c = config
    return (
        f"batch {c.dataset.batch} x {c.dataset.length}, CNN depth {c.encoder.cnn_depth}, rssm "
        f"deter {c.rssm.deter} hidden {c.rssm.hidden} stoch {c.rssm.stoch}x{c.rssm.discrete}, "
        f"reward {c.reward_head.layers} x {c.reward_head.units}, critic {c.critic.layers}, "
        f"actor {c.actor.layers} layers, {c.imag_horizon} imagined transitions, weight decay "
        f"{c.model_opt.wd:g}, float{c.precision}, {ACTION_SIZE} actions"
    )


def run(repeats, warmup, tiny, profile):
    """Builds dreamerv2's agent and prints its sizes, parameter counts and timings (and, with
    `profile`, its slowest ops and op types in one update)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from vsg.quiet import import_tensorflow

    tf = import_tensorflow()  # oneDNN on, as for ours
    # TFP logs a long note on dreamerv2's distribution subclasses at every instance
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    import agent as dreamerv2_agent
    import common

    config = dreamerv2_config(tiny)
    batch, length = config.dataset.batch, config.dataset.length
    print(f"{LABEL}: {describe_sizes(config)}", flush=True)
    spaces = {key: _Space(()) for key in ("reward", "is_first", "is_last", "is_terminal")}
    spaces["image"] = _Space((64, 64, 3))
    tf.random.set_seed(0)
    agent = dreamerv2_agent.Agent(
        config, spaces, {"action": _Space((ACTION_SIZE,))}, common.Counter(0)
    )
    data = random_batch(batch, length, ACTION_SIZE)
    data["is_last"] = np.zeros((batch, length), bool)
    start = time.perf_counter()
    agent.train(data)
    first = time.perf_counter() - start
    wm, behavior = agent.wm, agent._task_behavior  # dreamerv2 has no public name for it
    count = count_parameters
    print(
        f"{LABEL} parameters: world model {count(wm):,} (encoder {count(wm.encoder):,}, "
        f"decoder {count(wm.heads['decoder']):,}, dynamics {count(wm.rssm):,}, reward "
        f"{count(wm.heads['reward']):,}); actor {count(behavior.actor):,}; critic "
        f"{count(behavior.critic):,}",
        flush=True,
    )
    update = timings(lambda: agent.train(data), repeats, warmup)
    print(f"{LABEL} update (world model + imagination + actor + critic): {fmt(update)}")
    wm_step = tf.function(lambda batch: wm.train(batch)[2])
    wm_step(data)  # traces
    print(f"{LABEL} world model alone: {fmt(timings(lambda: wm_step(data), repeats, warmup))}")
    obs = {key: value[:1, 0] for key, value in data.items() if key != "action"}
    obs["is_first"] = np.ones(1, bool)
    _, state = agent.policy(obs, None, mode="train")  # traces (no state yet)
    agent.policy(obs, state, mode="train")  # traces (with state)
    policy = timings(lambda: agent.policy(obs, state, mode="train"), max(50, repeats), warmup)
    print(f"{LABEL} policy step, batch 1: {fmt(policy, 'ms', 1000.0)}")
    print(f"{LABEL} first update call (trace + run): {first:.1f} s")
    print(f"{LABEL} peak RSS: {peak_rss_gib():.2f} GiB", flush=True)
    if profile:
        print_profile(lambda: agent.train(data))


def print_profile(fn):
    """Prints the slowest ops and op types of one `fn()` under tf.profiler."""
    from vsg.profiling import profile_call, slowest_ops

    wall, ops = profile_call(fn)
    print(f"{LABEL} profile of one update ({wall:.2f} s wall), slowest ops:")
    print("\n".join(slowest_ops(ops, 12)))
    by_type = collections.Counter()
    for _, op_type, seconds in ops:
        by_type[op_type] += seconds
    print(f"{LABEL} op time by op type (summed over threads; {sum(by_type.values()):.2f} s):")
    print("\n".join(f"  {seconds:8.3f} s  {name}" for name, seconds in by_type.most_common(12)))


def read_figures(path):
    """{figure: [value per round]} of the bench lines in a log (ours or dreamerv2's)."""
    figures = {}
    for line in pathlib.Path(path).read_text().splitlines():
        match = LINE.match(line)
        if match and match.group(1) in FIGURES:
            figures.setdefault(match.group(1), []).append(float(match.group(2)))
    return figures


def compare_table(ours, theirs):
    """Markdown table: median of each figure over the rounds, dreamerv2's and ours, ratio."""
    rows = ["| figure (median over rounds) | dreamerv2 | ours | ours / dreamerv2 |"]
    rows.append("|---|---:|---:|---:|")
    for key, (label, unit) in FIGURES.items():
        if key in ours and key in theirs:
            a, b = statistics.median(theirs[key]), statistics.median(ours[key])
            digits = 1 if key == "first update call" else 2
            rows.append(
                f"| {label} | {a:.{digits}f} {unit} | {b:.{digits}f} {unit} | {b / a:.2f} |"
            )
    rounds = min(len(values) for values in (*ours.values(), *theirs.values()))
    return "\n".join(rows) + f"\n({rounds} rounds of fresh processes each)"


def dreamerv2_importable():
    """Whether dreamerv2's package folder is on the path (checked without importing it, as
    its modules import TensorFlow)."""
    specs = [importlib.util.find_spec(name) for name in ("agent", "common")]
    if not all(spec and spec.origin for spec in specs):
        return False
    folder = pathlib.Path(specs[0].origin).parent
    return (folder / "configs.yaml").exists() and (folder / "common") == pathlib.Path(
        specs[1].origin
    ).parent


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m vsg.bench_dreamerv2",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per figure")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before timing")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--profile", action="store_true", help="also profile one update")
    parser.add_argument(
        "--compare", nargs=2, metavar=("OURS", "THEIRS"), help="only print the table of two logs"
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be at least 1 and --warmup at least 0")
    if args.compare:
        try:
            ours, theirs = (read_figures(path) for path in args.compare)
        except OSError as error:
            parser.error(str(error))
        if not ours or not theirs:
            parser.error(f"no bench figures in {' or '.join(args.compare)}")
        print(compare_table(ours, theirs))
        return
    if not dreamerv2_importable():
        parser.error(
            "dreamerv2's modules (agent, common, configs.yaml) are not importable here: "
            "run it through bash scripts/bench_vs_dreamerv2.sh"
        )
    run(args.repeat, args.warmup, args.tiny, args.profile)


if __name__ == "__main__":
    main()
