"""The parts of a training run, one small factory each, and `train`, which runs them.

The order matters for what a user sees: the env workers start first (their handshake is
where an env that cannot be built, e.g. a GL back-end that cannot render, is reported as bad
input before anything is written), then TensorFlow is imported (quietly) and the agent built
(where options its dynamics cannot honour are reported, still before anything is written),
then the run directory is locked and the agent restored. The learner's process never loads
MuJoCo or its OpenGL libraries: every env runs in an `envs.workers` process.
"""

from envs.parallel import ParallelEnvs
from envs.workers import WorkerError
from vsg.evaluation import Evaluator
from vsg.logger import Logger
from vsg.loop import Trainer
from vsg.progress import Progress
from vsg.quiet import import_tensorflow
from vsg.replay import Replay
from vsg.rundir import (
    checkpoint_dir,
    checkpoint_step,
    episode_dir,
    eval_env_seed,
    lock,
    start_invocation,
    train_env_seeds,
    unlock,
)


class EnvConfigError(ValueError):
    """The env could not be built from the config (the worker's one-line reason)."""


def resume_step(run_dir, verbose=False):
    """The env frame of the run's checkpoint, or None without one (read from its meta.json;
    a checkpoint older than meta.json is read with TensorFlow)."""
    step = checkpoint_step(run_dir)
    if step == -1:
        import_tensorflow(verbose)
        from vsg.checkpoint import saved_step

        step = saved_step(checkpoint_dir(run_dir))
    return step


def start_envs(config, start):
    """(train envs, evaluation env): `envs` train workers and one evaluation worker, started
    together and ready; EnvConfigError if the env cannot be built from `config`."""
    train = ParallelEnvs(config.task, train_env_seeds(config, start), config, name="train")
    evaluation = ParallelEnvs(config.task, [eval_env_seed(config, start)], config, name="eval")
    try:
        infos = train.wait_ready()
        evaluation.wait_ready()
    except WorkerError as error:
        train.close()
        evaluation.close()
        if error.remote_type:  # the env raised while being built: the config cannot work
            raise EnvConfigError(error.remote_message) from None
        raise
    for line in infos[0]["notes"]:  # what the first worker printed (GL back-end, rendering)
        print(line, flush=True)
    return train, evaluation


def make_learner(config, action_size, run_dir, verbose=False):
    """The TensorFlow learner of the run (TensorFlow is imported here, quietly); writes no
    file, prints the compute precision. `vsg.config.ConfigError` if the dynamics cannot
    honour `config`."""
    import_tensorflow(verbose)
    from vsg.learner import AgentLearner

    learner = AgentLearner(config, action_size, run_dir)
    dtype = learner.agent.dtype.name
    print(f"compute precision: {dtype} (precision: {config.precision})", flush=True)
    return learner


def make_trainer(config, run_dir, learner, envs, evaluation_env, checkpoint):
    """The loop of a run whose learner was restored from the checkpoint of env frame
    `checkpoint` (None: a new run)."""
    start = checkpoint or 0
    replay = Replay(
        episode_dir(run_dir, "train"),
        config.dataset_size,
        config.batch_length,
        config.seed + start,
        config.oversample_ends,
    )
    eval_replay = Replay(episode_dir(run_dir, "eval"), 1, config.batch_length, config.seed)
    logger = Logger(run_dir, start)
    progress = Progress()
    evaluator = Evaluator(
        evaluation_env, config.n_eval_eps, config.action_repeat, eval_replay, logger, progress
    )
    return Trainer(config, learner, envs, evaluator, replay, logger, checkpoint, progress)


def train(config, run_dir, command, verbose=False):
    """Trains the run in `run_dir` until `config.steps` env frames; returns the final frame.

    EnvConfigError, `vsg.config.ConfigError` (options the dynamics cannot honour) or
    `vsg.rundir.RunDirError` (a locked or unwritable run directory) come before anything is
    written. Ctrl-C and SIGTERM propagate after the trainer saved.
    """
    start = resume_step(run_dir, verbose)
    envs, evaluation_env = start_envs(config, start or 0)
    try:
        learner = make_learner(config, envs.action_size, run_dir, verbose)
        handle = lock(run_dir)
        try:
            restored = learner.restore()
            if restored is not None:
                print(f"resumed from checkpoint at env frame {restored}", flush=True)
            start_invocation(run_dir, config, command, restored or 0)
            print(f"run directory: {run_dir}", flush=True)
            trainer = make_trainer(config, run_dir, learner, envs, evaluation_env, restored)
            return trainer.run()
        finally:
            unlock(handle)
    finally:
        envs.close()
        evaluation_env.close()
