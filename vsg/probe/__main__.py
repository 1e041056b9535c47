"""Command line of the Jacobian-sparsity probe.

    python -m vsg.probe RUN_DIR [--episodes N] [--from_dir DIR] [--rows K] ...
    python -m vsg.probe compare RUN_DIR RUN_DIR ... [--out DIR]
    python -m vsg.probe truth [--tasks walker_walk hopper_hop cheetah_run] [--episodes N] ...
    python -m vsg.probe bench [--preset dreamerv2] [--dims 200 1024] [--steps 1000 50]

The probe loads the run's config and checkpoint (in float32), collects episodes with the
policy mode (or reads stored ones), filters them with the posterior and evaluates the prior
transition's Jacobians at every step; DMC runs get MuJoCo's Jacobians and constraint events
along the same episodes. ``truth`` studies the ground truth alone under random actions.
Outputs go to RUN_DIR/probe (see ``vsg.probe.report``). Bad input (missing run dir, no
checkpoint, unknown option) prints one line and exits with status 2 before anything is written.
"""

import argparse
import json
import pathlib
import sys
import time

from vsg.probe import render_safe

TRUTH_TASKS = ("walker_walk", "hopper_hop", "cheetah_run")


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


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _metric_options(p):
    p.add_argument("--tau", type=float, nargs="+", help="tau grid (default: metrics default)")
    p.add_argument("--headline_tau", type=float, default=1e-2)
    p.add_argument("--rule", choices=("row", "abs"), default="row")
    p.add_argument("--fd_eps", type=_positive_float, default=1e-6, help="finite-difference step")


def probe_parser():
    p = _Parser(prog="python -m vsg.probe", description=__doc__.split("\n\n")[1])
    p.add_argument("run_dir", help="run directory (holds config.yaml and checkpoint/)")
    p.add_argument("--episodes", type=_count, default=3, help="episodes to probe")
    p.add_argument("--from_dir", help="read stored episodes (e.g. RUN_DIR/eval_eps) instead")
    p.add_argument("--max_steps", type=_count, default=0, help="decisions per episode (0: all)")
    p.add_argument("--rows", type=_count, default=0, help="random output rows (0: all rows)")
    p.add_argument("--seed", type=_count, default=0, help="row choice and collection seed")
    _metric_options(p)
    p.add_argument(
        "--diag", choices=("keep", "exclude", "subtract"), default="keep", help="model rows"
    )
    p.add_argument(
        "--truth_scale",
        choices=("decision", "step"),
        default="decision",
        help="ground truth over one agent decision (as the model) or one mj_step",
    )
    p.add_argument("--no_ground_truth", action="store_true")
    p.add_argument("--no_tensorboard", action="store_true")
    p.add_argument("--out", help="output directory (default RUN_DIR/probe)")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up lines")
    return p


def compare_parser():
    p = _Parser(prog="python -m vsg.probe compare", description="Compare probed runs.")
    p.add_argument("run_dirs", nargs="+", help="run directories holding probe/summary.json")
    p.add_argument("--out", default="probe_compare", help="output directory")
    return p


def truth_parser():
    p = _Parser(
        prog="python -m vsg.probe truth",
        description="Ground-truth sparsity of dm_control tasks under uniform random actions.",
    )
    p.add_argument("--tasks", nargs="+", default=list(TRUTH_TASKS), help="e.g. walker_walk")
    p.add_argument("--episodes", type=_count, default=3)
    p.add_argument("--max_steps", type=_count, default=0, help="decisions per episode (0: all)")
    p.add_argument("--action_repeat", type=_count, default=2, help="control steps per decision")
    p.add_argument("--seed", type=_count, default=0)
    _metric_options(p)
    p.add_argument("--out", default="probe_truth", help="output directory")
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
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up lines")
    return p


def metrics_config(args, diag="keep"):
    from vsg.probe.metrics import DEFAULT_TAU_GRID, ProbeConfig

    grid = tuple(args.tau) if args.tau else DEFAULT_TAU_GRID
    try:
        return ProbeConfig(grid, args.headline_tau, args.rule, diag)
    except ValueError as error:
        fail(str(error))


def family(config):
    """The launchers' name of the run's model (`vsg.models`), e.g. DreamerV2, VSG or SVSG."""
    from vsg.models import model_name

    return model_name(config)


def get_episodes(args, run, config):
    """(agent, checkpoint step, episodes, env or None, its dm_control Physics or None): the env
    stays open for the ground truth, which reads its MuJoCo model."""
    from vsg.probe import model, runs
    from vsg.rundir import probe_env_seed

    if args.from_dir:
        episodes = model.read_episodes(args.from_dir, args.episodes)
        agent, step = runs.load_agent(run, config, episodes[0]["action"].shape[-1])
        return agent, step, episodes, None, None
    if not render_safe():
        raise runs.ProbeError(
            "TensorFlow was loaded before vsg.probe, so MuJoCo cannot render in this process "
            "(import vsg.probe first, or run python -m vsg.probe)"
        )
    import envs

    env = envs.make(config.task, probe_env_seed(config, args.seed), config)
    physics = env.physics if config.task.startswith(envs.DMC_PREFIX) else None
    try:
        agent, step = runs.load_agent(run, config, env.action_size)
        episodes = model.collect_episodes(agent, env, args.episodes, args.max_steps, physics)
        return agent, step, episodes, env, physics
    except BaseException:
        env.close()
        raise


def _meta(run, config, probe, episodes, step, args):
    from vsg.rundir import read_done

    return {
        "run_dir": str(run),
        "run_completed": read_done(run),  # {"step", "steps"} once the run reached its budget
        "label": f"{family(config)}:{config.task}:{config.id}:seed{config.seed}",
        "family": family(config),
        "task": config.task,
        "model_type": config.model_type,
        "dyn_cell": config.dyn_cell,
        "dyn_deter": config.dyn_deter,
        "dyn_stoch": config.dyn_stoch,
        "dyn_discrete": config.dyn_discrete,
        "action_repeat": config.action_repeat,
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
    if args.from_dir and not pathlib.Path(args.from_dir).is_dir():
        fail(f"episode directory not found: {args.from_dir}")
    if args.episodes < 1:
        fail("--episodes must be at least 1")
    cfg = metrics_config(args, args.diag)
    from vsg.probe import runs

    try:
        run, config = runs.check_run(args.run_dir)
        from vsg.quiet import import_tensorflow

        import_tensorflow(args.verbose)  # first, so that its start-up noise stays hidden
        from vsg.probe import model, report

        start = time.perf_counter()
        agent, step, episodes, env, physics = get_episodes(args, run, config)
    except runs.ProbeError as error:
        fail(str(error))
    try:
        probe = model.ModelProbe(agent)
        seconds = {"episodes": time.perf_counter() - start}
        results = probe_all(args, probe, episodes, physics, cfg, seconds)
    finally:
        if env is not None:
            env.close()
    results["meta"] = {**_meta(run, config, probe, episodes, step, args), **results["meta"]}
    out = pathlib.Path(args.out) if args.out else run / "probe"
    summary = report.write_probe(out, results, step, tensorboard=not args.no_tensorboard)
    _print_summary(summary, out)
    return summary


def probe_all(args, probe, episodes, physics, cfg, seconds):
    """Model variants and (DMC) ground truth on the same transitions: the results dict of
    ``vsg.probe.report`` with meta holding rows, timings (``seconds``, updated) and notes."""
    import numpy as np

    from vsg.probe import model, report, truth

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
    gate_kinds = {"realised": "binary", "expected": "probability", "soft": "soft"}
    models = {
        v: report.ModelResult(
            acc,
            probe.blocks,
            rows,
            extra if v == "expected" else {},
            jacobian=f"prior {probe.output_name} ({v} gate)",
            gate_kind=gate_kinds[v],
        )
        for v, acc in accs.items()
    }
    steps = {
        "episode": np.concatenate([np.full(t.length, k) for k, t in enumerate(trans)]),
        "t": np.concatenate([np.arange(1, t.length + 1) for t in trans]),
        "reward": np.concatenate([t.reward for t in trans]),
    }
    meta = {"rows": None if rows is None else [int(r) for r in rows], "notes": notes}
    if args.no_ground_truth:
        pass
    elif physics is None or not truth.has_states(episodes):
        notes.append("no ground truth: the episodes carry no simulator state")
    else:
        t0 = time.perf_counter()
        result = truth.probe_truth(physics, episodes, cfg, args.truth_scale, args.fd_eps)
        # The model's transition is a decision: its events are the decision's, which the
        # one-step ground truth replaces by its own.
        decision = result.steps if args.truth_scale == "decision" else None
        models["ground_truth"] = report.ModelResult(
            result.acc,
            result.blocks,
            names=result.names,
            jacobian=f"MuJoCo {args.truth_scale} map",
            meta=result.meta,
            steps={} if decision else result.steps,
        )
        steps.update(decision or truth.event_steps(physics, episodes)[0])
        meta["ground_truth"] = result.meta
        seconds["ground_truth"] = time.perf_counter() - t0
    meta["seconds"] = seconds
    return {"meta": meta, "models": models, "steps": steps}


def _print_summary(summary, out):
    from vsg.probe.compare import format_table, table_row

    rows = [table_row(summary["meta"]["family"], n, s) for n, s in summary["models"].items()]
    print(format_table(rows))
    print(f"wrote {out}", flush=True)


def run_compare(args):
    paths = [pathlib.Path(run) / "probe" / "summary.json" for run in args.run_dirs]
    for path in paths:
        if not path.is_file():
            fail(f"no probe summary: {path} (run python -m vsg.probe RUN_DIR first)")
    from vsg.probe.compare import compare

    summaries = {}
    for path in paths:
        summary = json.loads(path.read_text())
        label = summary["meta"].get("label", str(path.parent.parent))
        while label in summaries:  # runs with equal ids in different log dirs
            label += "'"
        summaries[label] = summary
    print(compare(summaries, args.out))
    print(f"wrote {args.out}", flush=True)


def run_truth(args):
    import envs

    for task in args.tasks:
        try:
            envs.validate_task(f"dmc_{task}")
        except ValueError as error:
            fail(str(error))
    if args.episodes < 1 or args.action_repeat < 1:
        fail("--episodes and --action_repeat must be at least 1")
    cfg = metrics_config(args, "subtract")
    from vsg.probe import truth

    return truth.run_study(args.tasks, cfg, args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        return run_compare(compare_parser().parse_args(argv[1:]))
    if argv[:1] == ["truth"]:
        return run_truth(truth_parser().parse_args(argv[1:]))
    if argv[:1] == ["bench"]:
        from vsg.models import find

        args = bench_parser().parse_args(argv[1:])
        if len(args.steps) != len(args.dims):
            fail("--steps needs one value per --dims value")
        try:
            find(args.preset, ignore_case=True)
        except ValueError as error:
            fail(f"--preset: {error}")
        from vsg.quiet import import_tensorflow

        import_tensorflow(args.verbose)
        from vsg.probe.cheap import bench

        return bench(args.preset, args.dims, args.steps, args.rows, args.action_size)
    return run_probe(probe_parser().parse_args(argv))


def console():
    """The `vsg-probe` command: `main` without its return value (the exit status stays 0)."""
    main()


if __name__ == "__main__":
    main()
