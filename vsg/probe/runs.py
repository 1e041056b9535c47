"""What the probe reads of a training run: its directory, saved config and checkpoint, all
through the run-directory API (``vsg.rundir``).

TensorFlow is imported only to restore the agent, so that bad input fails in a second,
before TensorFlow loads.
"""

import pathlib

from vsg import rundir
from vsg.config import Config


class ProbeError(Exception):
    """Bad input (no checkpoint, no episodes, ...): the CLI prints it on one line, exit 2."""


def check_run(path):
    """(run directory as a Path, its saved Config); ProbeError unless the directory holds a
    config and a checkpoint."""
    run = pathlib.Path(path)
    if not run.is_dir():
        raise ProbeError(f"run directory not found: {run}")
    config = rundir.read_config(run)
    if config is None:
        raise ProbeError(f"no {rundir.CONFIG_FILE} in {run}")
    if not rundir.has_checkpoint(run):
        raise ProbeError(f"no checkpoint in {run}")
    return run, config


def load_agent(run_dir, config, action_size):
    """(float32 agent restored from the run's checkpoint, checkpoint step in env frames).
    The agent is rebuilt in float32 whatever the training precision: variables are stored in
    float32, only the compute dtype differs, so the checkpoint restores unchanged."""
    import tensorflow as tf

    from vsg.agent import Agent
    from vsg.checkpoint import Checkpointer

    agent = Agent(Config({**config, "precision": "32"}), action_size)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpointer = Checkpointer(rundir.checkpoint_dir(run_dir), agent=agent, step=step)
    try:
        restored = checkpointer.restore()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProbeError(f"cannot restore the checkpoint of {run_dir}: {first}") from None
    if not restored:
        raise ProbeError(f"no checkpoint in {run_dir}")
    return agent, int(step.numpy())
