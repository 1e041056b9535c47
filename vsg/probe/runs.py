"""What the probe reads of a training run: its directory, resolved config and checkpoint.

All of the probe's run-directory reading is here (TensorFlow is imported only to restore the
agent), so that bad input fails in a second, before TensorFlow loads.
"""

import pathlib

from ruamel.yaml import YAML

from vsg.config import Config


class ProbeError(Exception):
    """Bad input (no checkpoint, no episodes, ...): the CLI prints it on one line, exit 2."""


def check_run(path):
    """The run directory as a Path; ProbeError unless it holds config.yaml and a checkpoint."""
    run = pathlib.Path(path)
    if not run.is_dir():
        raise ProbeError(f"run directory not found: {run}")
    if not (run / "config.yaml").is_file():
        raise ProbeError(f"no config.yaml in {run}")
    if not any((run / name).is_dir() for name in ("checkpoint", "checkpoint.old")):
        raise ProbeError(f"no checkpoint in {run}")
    return run


def load_config(run_dir):
    """The resolved config a run saved as ``config.yaml``."""
    yaml = YAML(typ="safe", pure=True)
    return Config(yaml.load((pathlib.Path(run_dir) / "config.yaml").read_text()))


def load_agent(run_dir, config, action_size):
    """(float32 agent restored from the run's checkpoint, checkpoint step in env frames).
    The agent is rebuilt in float32 whatever the training precision: variables are stored in
    float32, only the compute dtype differs, so the checkpoint restores unchanged."""
    import tensorflow as tf

    from vsg.agent import Agent
    from vsg.checkpoint import Checkpointer

    agent = Agent(Config({**config, "precision": "32"}), action_size)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpointer = Checkpointer(pathlib.Path(run_dir) / "checkpoint", agent=agent, step=step)
    try:
        restored = checkpointer.restore()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProbeError(f"cannot restore the checkpoint of {run_dir}: {first}") from None
    if not restored:
        raise ProbeError(f"no checkpoint in {run_dir}")
    return agent, int(step.numpy())
