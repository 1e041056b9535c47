"""Training entry point: `python -m vsg.train --configs defaults dmc dreamerv2 --task ...`.

Resolves and validates the config (exit 2 on bad input, before anything is created), builds
the envs, the agent, the replay and the logger, restores the last checkpoint of the run
directory if there is one, and runs the collect / train / evaluate loop. Ctrl-C and SIGTERM
save a checkpoint and exit with status 130 and 143; rerunning the same command resumes.
TensorFlow's start-up messages are hidden unless `--verbose` is given.
"""

import fcntl
import json
import os
import pathlib
import sys
import time

import envs
import vsg  # noqa: F401  (must precede TensorFlow: makes MuJoCo rendering safe)
from envs.gl import parse_fast_render
from vsg.config import ConfigError, load_config, save_config
from vsg.interrupts import exit_status, stop_on_sigterm
from vsg.quiet import import_tensorflow
from vsg.rundir import is_done, write_done

FLAGS = ("--dry_run", "--verbose")  # options of this command, not config keys

MODEL_TYPES = ("rssm", "srssm")
CELL_NAMES = ("gru", "gru_layer_norm", "sgru", "sgru_layernorm")


def validate(config):
    """Checks values that are well-typed but meaningless; raises ConfigError naming them."""
    positive = ["steps", "action_repeat", "batch_size", "batch_length", "train_every"]
    positive += ["dyn_hidden", "dyn_deter", "dyn_stoch", "units", "cnn_depth", "imag_horizon"]
    positive += ["log_every", "eval_every", "checkpoint_every", "video_every"]
    for key in positive:
        if config[key] <= 0:
            raise ConfigError(f"{key} must be positive, got {config[key]}")
    non_negative = ["prefill", "dataset_size", "n_eval_eps", "pretrain", "dyn_discrete", "seed"]
    for key in non_negative + ["probe_every"]:
        if config[key] < 0:
            raise ConfigError(f"{key} must be non-negative, got {config[key]}")
    if list(config.size) != [64, 64]:
        raise ConfigError(f"size must be [64, 64] (the decoder's output), got {config.size}")
    if config.precision not in ("auto", "32", "16", "bf16"):
        raise ConfigError(f"precision must be auto, 32, 16 or bf16, got '{config.precision}'")
    parse_fast_render(config.fast_render)  # ValueError naming a value other than auto/true/false
    # Checked against names, not the registries, so bad input fails before TensorFlow loads;
    # tests keep these lists equal to `vsg.dynamics.DYNAMICS` and `cells.CELLS`.
    if config.model_type not in MODEL_TYPES:
        raise ConfigError(f"unknown model_type '{config.model_type}' (known: {MODEL_TYPES})")
    if config.dyn_cell not in CELL_NAMES:
        raise ConfigError(f"unknown dyn_cell '{config.dyn_cell}' (known: {CELL_NAMES})")
    if config.dyn_kl_mask and config.model_type != "srssm":
        raise ConfigError("dyn_kl_mask needs model_type srssm (the gate must cover the latents)")
    if not 0.0 < config.dyn_gate_prior < 1.0:
        raise ConfigError(f"dyn_gate_prior must lie in (0, 1), got {config.dyn_gate_prior}")
    unknown_heads = set(config.grad_heads) - {"image", "reward", "discount"}
    if unknown_heads:
        raise ConfigError(f"grad_heads: unknown heads {sorted(unknown_heads)}")


def run_directory(config):
    """`<logdir>/<task label>/<id>/seed<seed>/`, as in the reference code."""
    label = envs.run_label(config.task, config)
    return pathlib.Path(config.logdir) / label / config.id / f"seed{config.seed}"


def lock_or_exit(run_dir):
    """An exclusive lock on `run_dir` (its file `run.lock`), held until `unlock`.

    Two processes training into one run directory would overwrite each other's checkpoints
    and episodes, so a second one exits 2 before it writes anything; so does a run directory
    that cannot be created or written. The kernel drops the lock when its holder dies, even by
    SIGKILL; the empty `run.lock` then left behind is harmless.
    """
    path = run_dir / "run.lock"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"error: {run_dir} is in use by another training process", file=sys.stderr)
                sys.exit(2)
            # `unlock` deletes the file; a lock taken on a file just deleted protects nothing.
            if os.path.exists(path) and os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                return handle
            handle.close()
    except OSError as error:
        print(f"error: cannot write to {run_dir}: {error.strerror}", file=sys.stderr)
        sys.exit(2)


def unlock(handle):
    """Deletes `run.lock`, then releases the lock (in this order, see `lock_or_exit`)."""
    pathlib.Path(handle.name).unlink(missing_ok=True)
    handle.close()


def parse_or_exit(argv, will_render=True):
    """The validated config, or a one-line error and exit status 2.

    TensorFlow is imported between the cheap checks and the task check: checking a DMC task
    loads MuJoCo's GL libraries, and once those are loaded, importing TensorFlow 2.21 leads
    to a segfault at the first render even with the flag set in `vsg/__init__.py`. A process
    that will not render (a dry run) skips that slow import.
    """
    try:
        config = load_config(argv)
        validate(config)
        if will_render:
            import_tensorflow(verbose="--verbose" in argv)
        envs.validate_task(config.task)
        envs.check_options(config.task, config)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    return config


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry_run" in argv  # print the resolved run and exit, creating nothing
    config = parse_or_exit(argv, will_render=not dry_run)
    run_dir = run_directory(config)
    if dry_run:
        print(f"run directory: {run_dir}")
        print(json.dumps(dict(config), sort_keys=True))
        return
    if is_done(run_dir, config.steps):  # a rerun of a finished run (e.g. by a sweep)
        print(f"{run_dir} already completed {config.steps} steps; nothing to do", flush=True)
        return
    # Heavy imports only after the arguments are known to be good.
    from vsg.loop import Trainer

    lock = lock_or_exit(run_dir)
    stop_on_sigterm()
    start = time.time()
    try:
        save_config(config, run_dir / "config.yaml")
        command = " ".join(arg for arg in argv if arg not in FLAGS)
        (run_dir / "command.txt").write_text(f"python -m vsg.train {command}\n")
        print(f"run directory: {run_dir}", flush=True)
        write_done(run_dir, Trainer(config, run_dir).run(), config.steps)
    except KeyboardInterrupt as interrupt:
        print("stopped; rerun the same command to resume", flush=True)
        sys.exit(exit_status(interrupt))
    finally:
        unlock(lock)
    print(f"done in {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
