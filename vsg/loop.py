"""The collect / train / evaluate loop of one run, with resume from its checkpoint.

Counters are env frames (`step`), which is what every interval in the config is measured in;
one agent decision is `action_repeat` frames and one loop step is `envs` decisions (`vsg.schedule`).
A run has three phases, each with its own progress bar (`vsg.progress`): prefill (random actions
until the replay holds `prefill` frames), pretraining (the first `pretrain` updates, at least
one, in a row) and training (`train_steps` updates every `train_every` decisions). The update
counter is saved in the checkpoint, so a run stopped during pretraining does the rest of it
after resuming. Metrics are written after the first update, then every `log_every` frames, and
the unfinished interval when the run ends or is stopped.

This module imports neither TensorFlow nor any env: the `Trainer` gets a `Learner` (the agent
behind NumPy in and out, `vsg.learner`), a `BatchEnv` of train envs driven by a `vsg.driver.Driver`,
an `vsg.evaluation.Evaluator`, a replay and a logger, which `vsg.build` makes. So the loop is
tested with a fake env and a fake learner in seconds.
"""

import abc
import sys
import time

import numpy as np

from vsg.driver import Driver, Policy
from vsg.evaluation import episode_return
from vsg.interrupts import uninterruptible
from vsg.logger import video_grid
from vsg.prefetch import Prefetcher
from vsg.progress import Progress
from vsg.replay import bytes_per_step, replay_ram_note
from vsg.schedule import Schedule

TRAIN_KEYS = ("image", "action", "reward", "is_first", "is_terminal")


class Learner(abc.ABC):
    """The agent as the loop sees it: NumPy in, NumPy out (`vsg.learner.AgentLearner`)."""

    @property
    @abc.abstractmethod
    def updates(self) -> int:
        """Training updates done so far (saved in the checkpoint)."""

    @abc.abstractmethod
    def act(self, observations: list[dict], state) -> tuple[np.ndarray, object]:
        """Exploring actions float32 [N, A] for N observations, and the new policy state
        (`state` None = the initial one)."""

    @abc.abstractmethod
    def train(self, batch: dict[str, np.ndarray]) -> None:
        """One update on a batch [B, T, ...] of TRAIN_KEYS. Its metrics stay with the learner
        (on the device) until `metrics()`: no host synchronisation per update."""

    @abc.abstractmethod
    def metrics(self) -> dict[str, list[float]]:
        """{name: one value per update} of the updates since the last call, fetched at once."""

    @abc.abstractmethod
    def probe(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """The cheap Jacobian-sparsity probe on a training batch (`probe/...` metrics)."""

    @abc.abstractmethod
    def report(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(open-loop video [N, T, H, W, C] in [0, 1], gate pattern [N, T, G] or None for
        dynamics without gates) of a batch."""

    @abc.abstractmethod
    def eval_policy(self, step: int) -> Policy:
        """A frozen copy of the current policy (mode actions, own generator seeded from the
        run seed and `step`), a `vsg.driver.Policy`."""

    @abc.abstractmethod
    def restore(self) -> int | None:
        """Loads the run's checkpoint; returns its env frame, or None if there is none."""

    @abc.abstractmethod
    def save(self, step: int) -> None:
        """Writes the checkpoint (atomically) as of env frame `step`."""


def gate_image(gates, width=4):
    """Gate pattern [N, T, G] -> grey image [G, N * (T * width + 1), 3] (white = open)."""
    tiles = []
    for sequence in np.asarray(gates):
        tile = np.repeat(sequence.T, width, axis=1)
        tiles.append(np.concatenate([tile, np.full((tile.shape[0], 1), 0.5)], 1))
    image = np.concatenate(tiles, 1)
    return np.repeat(image[..., None], 3, axis=-1)


class Trainer:
    """Collects with `envs` until `steps` frames, training `learner` from `replay` as it goes.

    Args:
        config: the run's config.
        learner: a `Learner`, restored from the checkpoint if `resumed`.
        envs: the train envs (a `BatchEnv` of `config.envs` slots).
        evaluator: a `vsg.evaluation.Evaluator` for the evaluation env.
        replay: the training `vsg.replay.Replay`; logger: a `vsg.logger.Logger`.
        checkpoint_step: the env frame of the checkpoint the learner was restored from, or
            None for a run without one (it starts at frame 0).
        progress: the console (`vsg.progress.Progress` on stdout by default).
    """

    def __init__(
        self, config, learner, envs, evaluator, replay, logger, checkpoint_step, progress=None
    ):
        self.config = config
        self.learner = learner
        self.envs = envs
        self.evaluator = evaluator
        self.replay = replay
        self.logger = logger
        self.progress = progress if progress is not None else Progress()
        self.step = start = checkpoint_step or 0
        self._saved = None if checkpoint_step is None else self._counters()  # in the checkpoint
        self.rng = np.random.default_rng(config.seed + start)  # prefill actions
        self.driver = Driver(envs)
        self.driver.on_episode.append(self._episode_done)
        self.schedule = Schedule(config, start)
        self.batches = Prefetcher(replay, config.batch_size, TRAIN_KEYS)

    def run(self):
        """Collects until `steps` frames, training as it goes; returns the final env frame.

        A running evaluation is finished first. Ctrl-C or SIGTERM (a KeyboardInterrupt, see
        `vsg.interrupts`) writes the unfinished log interval and a checkpoint, then propagates.
        """
        try:
            self._collect()
            self.evaluator.finish()
        except KeyboardInterrupt:
            self._stop()
            raise
        finally:
            self.progress.close()
            self.batches.close()
        self._save()
        self.logger.close()
        return self.step

    def _stop(self):
        """Saves on Ctrl-C or SIGTERM and says truthfully whether the checkpoint is current."""
        step = self.step
        self.progress.close()
        print(f"interrupted at env frame {step}: saving metrics and a checkpoint", flush=True)
        try:
            self._save()
        except KeyboardInterrupt:  # delivered once the save was done, or before it began
            if self._counters() != self._saved:
                print("stopped before the checkpoint was saved", flush=True)
                raise
        print(f"checkpoint saved at env frame {step}", flush=True)

    def _collect(self):
        observations = self.driver.reset()
        self._announce_replay_ram(observations[0])
        if self._prefilled():
            self._pretrain()  # only if a stopped run left pretraining unfinished
        while self.step < self.config.steps:
            self._show()
            self._advance()
            if self._prefilled():
                times = self.schedule.train(self.step)
                if times:
                    self._train(times)
            self._periodic()
        self._show()

    def _advance(self):
        """One decision in every train env, and one in the evaluation env if it runs."""
        policy = self.learner.act if self._prefilled() else self._random_actions
        self.driver.send(policy)
        self.evaluator.send()
        self.driver.receive()
        self.evaluator.receive()
        self.step += len(self.envs) * self.config.action_repeat

    def _random_actions(self, observations, state):
        shape = (len(observations), self.envs.action_size)
        return self.rng.uniform(-1.0, 1.0, shape).astype(np.float32), state

    def _episode_done(self, slot, episode):
        self.replay.add_episode(episode)
        total = episode_return(episode)
        self.logger.scalar("train/return", total)
        self.logger.scalar("train/length", (len(episode["reward"]) - 1) * self.config.action_repeat)
        self.progress.note(train_return=total)

    def _announce_replay_ram(self, obs):
        c = self.config
        step_bytes = bytes_per_step(obs, self.envs.action_size)
        note, warning = replay_ram_note(step_bytes, c.steps, c.action_repeat, c.dataset_size)
        print(note, flush=True)
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    def _show(self):
        """Moves the progress bar of the current phase, starting it when the phase begins."""
        c = self.config
        if not self._prefilled():
            frames = (self.replay.total_steps + self.driver.running_decisions) * c.action_repeat
            if self.progress.name != "prefill":
                self.progress.phase("prefill", c.prefill, initial=frames)
            self.progress.advance(frames)
            return
        if self.progress.name != "train":
            self.progress.phase("train", c.steps, initial=self.step)
            self.progress.note(updates=self.learner.updates)
        self.progress.advance(self.step)

    def _save(self):
        """Writes the unfinished log interval and a checkpoint, if they hold anything new."""
        with uninterruptible("saving metrics and a checkpoint"):
            self._log()
            self._checkpoint()

    def _checkpoint(self):
        with uninterruptible("saving a checkpoint"):
            counters = self._counters()
            if counters != self._saved:
                self.learner.save(self.step)
                self._saved = counters

    def _counters(self):
        return self.step, self.learner.updates

    def _prefilled(self):
        return self.replay.total_steps * self.config.action_repeat >= self.config.prefill

    def _train(self, times):
        """`times` x `train_steps` updates, or pretraining if it is not done yet."""
        if self._pretrain():
            return
        for _ in range(times * self.config.train_steps):
            self._update()
        self.progress.note(updates=self.learner.updates)

    def _pretrain(self):
        """The first `pretrain` updates (at least one) in a row, or those a stopped run left;
        False if pretraining was already done."""
        total, done = max(self.config.pretrain, 1), self.learner.updates
        if done >= total:
            return False
        if done == 0:
            decisions = self.replay.total_steps
            frames = decisions * self.config.action_repeat
            if self.progress.name == "prefill":
                self.progress.advance(frames)
            self.progress.close()
            self.progress.write(f"prefill done: {frames} env frames ({decisions} decisions)")
        self.progress.phase("pretrain", total, initial=done, unit="updates")
        for _ in range(total - done):
            self._update()
            self.progress.advance(self.learner.updates)
        self.progress.close()
        return True

    def _update(self):
        """One training step on a replayed batch (the next one is sampled meanwhile); the first
        one of a run is logged at once."""
        batch = self.batches.next()
        start = time.perf_counter()
        with self.batches.ahead():
            self.learner.train(batch)
        self.logger.scalar("perf/update_seconds", time.perf_counter() - start)
        updates = self.learner.updates
        every = self.config.probe_every
        if every and updates % every == 0:
            for name, value in self.learner.probe(batch).items():
                self.logger.scalar(name, float(value))
        if updates == 1:
            self._log()

    def _periodic(self):
        step, trained = self.step, self.learner.updates > 0
        if self.schedule.video(step) and trained:
            video, gates = self.learner.report(self.batches.next())
            self.logger.video("train/openl", video_grid(video))
            if gates is not None:
                self.logger.image("gate/pattern", gate_image(gates))
        if self.schedule.eval(step) and trained and self.config.n_eval_eps:
            self.evaluator.start(step, self.learner.eval_policy(step))
        if self.schedule.log(step):
            self._log()
        if self.schedule.checkpoint(step):
            self._checkpoint()

    def _log(self):
        """Writes what was logged since the last write (nothing if there is nothing new)."""
        if not self.logger.unwritten(self.step):
            return
        with uninterruptible("writing metrics"):
            for name, values in self.learner.metrics().items():  # one fetch per interval
                for value in values:
                    self.logger.scalar(name, value)
            self.logger.scalar("perf/updates", self.learner.updates)  # updates so far
            self.logger.scalar("replay/episodes", self.replay.num_episodes)
            self.logger.scalar("replay/steps", self.replay.num_steps)
            means = self.logger.write(self.step)
        self.progress.logged(self.step, means)
