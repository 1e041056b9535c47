"""Command line of the Jacobian-sparsity probe.

    python -m vsg.probe RUN_DIR [--episodes N] [--from_dir DIR] [--rows K] ...
    python -m vsg.probe compare RUN_DIR RUN_DIR ... [--out DIR]
    python -m vsg.probe bench [--preset dreamerv2] [--dims 200 1024] [--steps 1000 50]

The probe loads the run's config and checkpoint (in float32), collects episodes with the
policy mode (or reads stored ones), filters them with the posterior and evaluates the prior
transition's Jacobians at every step; DMC runs get MuJoCo's Jacobians along the same episodes.
Outputs go to RUN_DIR/probe (see ``vsg.probe.report``). Bad input (missing run dir, no
checkpoint, unknown option) prints one line and exits with status 2 before anything is written.
"""

import argparse
import json
import pathlib
import sys
import time

import vsg  # noqa: F401  (before TensorFlow: keeps MuJoCo rendering safe)

# Distinct from the training (seed) and evaluation (seed + 1e6 + step) env seeds.
COLLECT_SEED_OFFSET = 2 * 10**6


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message):
        fail(message)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def probe_parser():
    p = _Parser(prog="python -m vsg.probe", description=__doc__.split("\n\n")[1])
    p.add_argument("run_dir", help="run directory (holds config.yaml and checkpoint/)")
    p.add_argument("--episodes", type=_count, default=3, help="episodes to probe")
    p.add_argument("--from_dir", help="read stored episodes (e.g. RUN_DIR/eval_eps) instead")
    p.add_argument("--max_steps", type=_count, default=0, help="decisions per episode (0: all)")
    p.add_argument("--rows", type=_count, default=0, help="random output rows (0: all rows)")
    p.add_argument("--seed", type=_count, default=0, help="row choice and collection seed")
    p.add_argument("--tau", type=float, nargs="+", help="tau grid (default: metrics default)")
    p.add_argument("--headline_tau", type=float, default=1e-2)
    p.add_argument("--rule", choices=("row", "abs"), default="row")
    p.add_argument("--diag", choices=("keep", "exclude"), default="keep")
    p.add_argument("--no_ground_truth", action="store_true")
    p.add_argument("--no_tensorboard", action="store_true")
    p.add_argument("--out", help="output directory (default RUN_DIR/probe)")
    return p


def compare_parser():
    p = _Parser(prog="python -m vsg.probe compare", description="Compare probed runs.")
    p.add_argument("run_dirs", nargs="+", help="run directories holding probe/summary.json")
    p.add_argument("--out", default="probe_compare", help="output directory")
    return p


def bench_parser():
    p = _Parser(prog="python -m vsg.probe bench", description="Time the probe per step.")
    p.add_argument(
        "--preset", default="dreamerv2", help="a model of vsg/models.py, any case (e.g. vsg)"
    )
    p.add_argument("--dims", type=_count, nargs="+", default=[200, 1024])
    p.add_argument("--steps", type=_count, nargs="+", default=[1000, 50], help="one per dim")
    p.add_argument("--rows", type=_count, default=64, help="rows of the subsampled probe")
    p.add_argument("--action_size", type=_count, default=6)
    return p


def check_run_dir(path):
    """The run directory as a Path, or a one-line error (exit 2)."""
    run = pathlib.Path(path)
    if not run.is_dir():
        fail(f"run directory not found: {run}")
    if not (run / "config.yaml").is_file():
        fail(f"no config.yaml in {run}")
    if not any((run / name).is_dir() for name in ("checkpoint", "checkpoint.old")):
        fail(f"no checkpoint in {run}")
    return run


def metrics_config(args):
    from vsg.probe.metrics import DEFAULT_TAU_GRID, ProbeConfig

    grid = tuple(args.tau) if args.tau else DEFAULT_TAU_GRID
    try:
        return ProbeConfig(grid, args.headline_tau, args.rule, args.diag)
    except ValueError as error:
        fail(str(error))


def family(config):
    """The launchers' name of the run's model (`vsg.models`), e.g. DreamerV2, VSG or SVSG."""
    from vsg.models import model_name

    return model_name(config)


def get_episodes(args, run, config):
    """(agent, checkpoint step, episodes, env or None): the env stays open for the truth."""
    from vsg.probe import model

    if args.from_dir:
        episodes = model.read_episodes(args.from_dir, args.episodes)
        agent, step = model.load_agent(run, config, episodes[0]["action"].shape[-1])
        return agent, step, episodes, None
    import envs

    env = envs.make(config.task, config.seed + COLLECT_SEED_OFFSET + args.seed, config)
    try:
        agent, step = model.load_agent(run, config, env.action_size)
        return agent, step, model.collect_episodes(agent, env, args.episodes, args.max_steps), env
    except BaseException:
        env.close()
        raise


def _meta(run, config, probe, episodes, step, args):
    return {
        "run_dir": str(run),
        "label": f"{family(config)}:{config.task}:{config.id}:seed{config.seed}",
        "family": family(config),
        "task": config.task,
        "model_type": config.model_type,
        "dyn_cell": config.dyn_cell,
        "dyn_deter": config.dyn_deter,
        "dyn_stoch": config.dyn_stoch,
        "dyn_discrete": config.dyn_discrete,
        "trained_precision": config.precision,
        "probe_dtype": "float32",
        "checkpoint_step": step,
        "source": args.from_dir or "collected (policy mode)",
        "episode_lengths": [len(ep["reward"]) - 1 for ep in episodes],
        "episode_returns": [float(ep["reward"].sum()) for ep in episodes],
        "variants": list(probe.variants),
        "n_state": probe.n_state,
        "n_in": probe.n_in,
        "blocks": probe.blocks,
        "basis_note": "coordinate-wise sparsity; meaningful for element-wise gated latents",
    }


def run_probe(args):
    """Probes one run and writes its outputs; returns the summary dict."""
    run = check_run_dir(args.run_dir)
    if args.from_dir and not pathlib.Path(args.from_dir).is_dir():
        fail(f"episode directory not found: {args.from_dir}")
    if args.episodes < 1:
        fail("--episodes must be at least 1")
    cfg = metrics_config(args)
    from vsg.probe import model, report

    start = time.perf_counter()
    config = model.load_config(run)
    try:
        agent, step, episodes, env = get_episodes(args, run, config)
    except model.ProbeError as error:
        fail(str(error))
    try:
        probe = model.ModelProbe(agent)
        seconds = {"episodes": time.perf_counter() - start}
        results = probe_all(args, probe, episodes, env, cfg, seconds)
    finally:
        if env is not None:
            env.close()
    results["meta"] = {**_meta(run, config, probe, episodes, step, args), **results["meta"]}
    out = pathlib.Path(args.out) if args.out else run / "probe"
    summary = report.write_probe(out, results, step, tensorboard=not args.no_tensorboard)
    _print_summary(summary, out)
    return summary


def probe_all(args, probe, episodes, env, cfg, seconds):
    """Model variants and (DMC) ground truth on the same transitions: the results dict of
    ``vsg.probe.report`` with meta holding rows, timings (``seconds``, updated) and notes."""
    import numpy as np

    from vsg.probe import model, report

    t0 = time.perf_counter()
    trans = [probe.transitions(ep) for ep in episodes]
    seconds["filter"] = time.perf_counter() - t0
    rows, notes = None, []
    if 0 < args.rows < probe.n_state:
        rng = np.random.default_rng(args.seed)
        rows = np.sort(rng.choice(probe.n_state, args.rows, replace=False))
    t0 = time.perf_counter()
    accs, extra, timing = model.probe_model(probe, trans, cfg, rows)
    seconds.update(timing, probe=time.perf_counter() - t0)
    models = {
        v: report.ModelResult(acc, probe.blocks, rows, extra if v == "expected" else {})
        for v, acc in accs.items()
    }
    steps = {
        "episode": np.concatenate([np.full(t.length, k) for k, t in enumerate(trans)]),
        "t": np.concatenate([np.arange(1, t.length + 1) for t in trans]),
        "reward": np.concatenate([t.reward for t in trans]),
    }
    if not args.no_ground_truth:
        t0 = time.perf_counter()
        truth = model.probe_ground_truth(getattr(env, "physics", None), episodes, cfg)
        if truth is not None:
            models["ground_truth"] = report.ModelResult(truth[0], truth[2])
            steps["contacts"] = truth[1]
        else:
            notes.append("no ground truth: the episodes carry no simulator state")
        seconds["ground_truth"] = time.perf_counter() - t0
    rows = None if rows is None else [int(r) for r in rows]
    meta = {"rows": rows, "seconds": seconds, "notes": notes}
    return {"meta": meta, "models": models, "steps": steps}


def _print_summary(summary, out):
    from vsg.probe.report import COMPARE_COLUMNS, format_table

    rows = [
        {
            "run": summary["meta"]["family"],
            "model": name,
            **{k: s.get(k) for k, _ in COMPARE_COLUMNS},
        }
        for name, s in summary["models"].items()
    ]
    print(format_table(rows))
    print(f"wrote {out}", flush=True)


def run_compare(args):
    paths = [pathlib.Path(run) / "probe" / "summary.json" for run in args.run_dirs]
    for path in paths:
        if not path.is_file():
            fail(f"no probe summary: {path} (run python -m vsg.probe RUN_DIR first)")
    from vsg.probe import report

    summaries = {}
    for path in paths:
        summary = json.loads(path.read_text())
        label = summary["meta"].get("label", str(path.parent.parent))
        while label in summaries:  # runs with equal ids in different log dirs
            label += "'"
        summaries[label] = summary
    print(report.compare(summaries, args.out))
    print(f"wrote {args.out}", flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        return run_compare(compare_parser().parse_args(argv[1:]))
    if argv[:1] == ["bench"]:
        from vsg.models import find

        args = bench_parser().parse_args(argv[1:])
        if len(args.steps) != len(args.dims):
            fail("--steps needs one value per --dims value")
        try:
            find(args.preset, ignore_case=True)
        except ValueError as error:
            fail(f"--preset: {error}")
        from vsg.probe.cheap import bench

        return bench(args.preset, args.dims, args.steps, args.rows, args.action_size)
    return run_probe(probe_parser().parse_args(argv))


def console():
    """The `vsg-probe` command: `main` without its return value (the exit status stays 0)."""
    main()


if __name__ == "__main__":
    main()
