"""Training entry point: `python -m vsg.train --configs defaults dmc dreamerv2 --task ...`.

Resolves and validates the config (exit 2 on bad input, before anything is created and without
importing TensorFlow), checks it against the run directory's saved config when resuming, then
trains (`vsg.build.train`): env workers, the agent, the replay, the logger and the loop, resuming
from the run's checkpoint if there is one. Ctrl-C and SIGTERM save a checkpoint and exit with
status 130 and 143; rerunning the same command resumes. TensorFlow's start-up messages are
hidden unless `--verbose` is given. `--dry_run` prints the run directory and the resolved config.

This module is what env worker processes import as their main module (`spawn`), so it imports
TensorFlow (and every env suite) only inside functions.
"""

import json
import shlex
import sys
import time

import envs
from envs.gl import parse_fast_render
from vsg.config import ConfigError, load_config
from vsg.dynamics import CELLS, DYNAMICS
from vsg.interrupts import exit_status, stop_on_sigterm
from vsg.rundir import RunDirError, check_resume, is_done, run_directory, write_done

FLAGS = ("--dry_run", "--verbose")  # options of this command, not config keys


def validate(config):
    """Checks values that are well-typed but meaningless; raises ConfigError naming them."""
    positive = ["steps", "envs", "action_repeat", "batch_size", "batch_length", "train_every"]
    positive += ["prefill"]  # training needs at least one finished episode
    positive += ["dyn_hidden", "dyn_deter", "dyn_stoch", "units", "cnn_depth", "imag_horizon"]
    positive += ["log_every", "eval_every", "checkpoint_every", "video_every"]
    for key in positive:
        if config[key] <= 0:
            raise ConfigError(f"{key} must be positive, got {config[key]}")
    non_negative = ["dataset_size", "n_eval_eps", "pretrain", "dyn_discrete", "seed"]
    for key in non_negative + ["probe_every"]:
        if config[key] < 0:
            raise ConfigError(f"{key} must be non-negative, got {config[key]}")
    if list(config.size) != [64, 64]:
        raise ConfigError(f"size must be [64, 64] (the decoder's output), got {config.size}")
    if config.precision not in ("auto", "32", "16", "bf16"):
        raise ConfigError(f"precision must be auto, 32, 16 or bf16, got '{config.precision}'")
    if config.jit_compile not in ("auto", "true", "false"):
        raise ConfigError(f"jit_compile must be auto, true or false, got '{config.jit_compile}'")
    parse_fast_render(config.fast_render)  # ValueError naming a value other than auto/true/false
    # The registries name their entries without importing them (nor TensorFlow). What a
    # variant cannot honour (e.g. dyn_kl_mask without a gate over the latents) is checked
    # when it is built (`LatentDynamics.check_config`).
    if config.model_type not in DYNAMICS:
        raise ConfigError(f"unknown model_type '{config.model_type}' (known: {list(DYNAMICS)})")
    if config.dyn_cell not in CELLS:
        raise ConfigError(f"unknown dyn_cell '{config.dyn_cell}' (known: {list(CELLS)})")
    if not 0.0 < config.dyn_gate_prior < 1.0:
        raise ConfigError(f"dyn_gate_prior must lie in (0, 1), got {config.dyn_gate_prior}")
    unknown_heads = set(config.grad_heads) - {"image", "reward", "discount"}
    if unknown_heads:
        raise ConfigError(f"grad_heads: unknown heads {sorted(unknown_heads)}")
    check_combinations(config)


def check_combinations(config):
    """Checks values that are fine alone but fail together; raises ConfigError naming them."""
    decisions = envs.episode_decisions(config.task, config)
    if decisions is None and config.task.startswith(envs.BBS_PREFIX):
        raise ConfigError(
            "time_limit 0 on BringBackShapes ends an episode only once every shape is "
            "delivered, which a random prefill policy almost never does; set a time_limit"
        )
    if decisions is not None and decisions + 1 < config.batch_length:
        raise ConfigError(
            f"batch_length {config.batch_length} needs episodes of at least that many entries, "
            f"but time_limit {config.time_limit} with action_repeat {config.action_repeat} "
            f"gives {decisions + 1} ({decisions} decisions and the reset frame): raise "
            "time_limit or lower batch_length"
        )


def fail(message):
    """A one-line error on stderr and exit status 2 (bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_or_exit(argv):
    """The validated config, or a one-line error and exit status 2. Imports no TensorFlow
    and no env suite (`envs.validate_task` reads DMC's task names without dm_control)."""
    try:
        config = load_config(argv)
        validate(config)
        envs.validate_task(config.task)
        envs.check_options(config.task, config)
    except (ConfigError, ValueError) as error:
        fail(error)
    return config


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry_run" in argv  # print the resolved run and exit, creating nothing
    config = parse_or_exit(argv)
    run_dir = run_directory(config)
    try:
        check_resume(run_dir, config)  # a changed model, data or env key exits here
    except RunDirError as error:
        fail(error)
    if dry_run:
        print(f"run directory: {run_dir}")
        print(json.dumps(dict(config), sort_keys=True))
        return
    if is_done(run_dir, config.steps):  # a rerun of a finished run (e.g. by a sweep)
        print(f"{run_dir} already completed {config.steps} steps; nothing to do", flush=True)
        return
    from vsg.build import EnvConfigError, train

    stop_on_sigterm()
    start = time.time()
    command = shlex.join(["python", "-m", "vsg.train", *(a for a in argv if a not in FLAGS)])
    try:
        step = train(config, run_dir, command, verbose="--verbose" in argv)
        write_done(run_dir, step, config.steps)
    except (ConfigError, EnvConfigError, RunDirError) as error:
        fail(error)
    except KeyboardInterrupt as interrupt:
        print("stopped; rerun the same command to resume", flush=True)
        sys.exit(exit_status(interrupt))
    print(f"done in {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
