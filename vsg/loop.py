"""The collect / train / evaluate loop of one run, with resume from its checkpoint.

Counters are env frames (`step`), which is what every interval in the config is measured in;
one agent decision is `action_repeat` frames. A run has three phases, each with its own
progress bar (`vsg.progress`): prefill (random actions until the replay holds `prefill`
frames), pretraining (the first `pretrain` updates, at least one, in a row) and training
(`train_steps` updates every `train_every` decisions). The update counter is saved in the
checkpoint, so a run stopped during pretraining does the rest of it after resuming.
Metrics are written after the first update, then every `log_every` frames, and the
unfinished interval when the run ends or is stopped.
"""

import sys
import time

import numpy as np
import tensorflow as tf

import envs
from vsg.agent import Agent, as_batch
from vsg.checkpoint import Checkpointer
from vsg.interrupts import uninterruptible
from vsg.logger import Logger, video_grid
from vsg.probe import cheap_probe
from vsg.progress import Progress
from vsg.replay import Replay, bytes_per_step, replay_ram_note

TRAIN_KEYS = ("image", "action", "reward", "is_first", "is_terminal")


class Every:
    """True once each time the counter crosses a multiple of `interval`."""

    def __init__(self, interval, start):
        self.interval = interval
        self.last = start // interval

    def __call__(self, step):
        due = step // self.interval > self.last
        if due:
            self.last = step // self.interval
        return due


def gate_image(gates, width=4):
    """Gate pattern [N, T, G] -> grey image [G, N * (T * width + 1), 3] (white = open)."""
    tiles = []
    for sequence in np.asarray(gates):
        tile = np.repeat(sequence.T, width, axis=1)
        tiles.append(np.concatenate([tile, np.full((tile.shape[0], 1), 0.5)], 1))
    image = np.concatenate(tiles, 1)
    return np.repeat(image[..., None], 3, axis=-1)


class Trainer:
    """Owns the envs, the agent, the replays, the logger and the checkpoint of a run.

    `progress` shows the run on the console (a `vsg.progress.Progress` on stdout by default).
    """

    def __init__(self, config, run_dir, progress=None):
        self.config = c = config
        self.run_dir = run_dir
        self.progress = progress if progress is not None else Progress()
        tf.random.set_seed(c.seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.env = envs.make(c.task, c.seed, c)
        self.agent = Agent(c, self.env.action_size)
        self.checkpointer = Checkpointer(run_dir / "checkpoint", agent=self.agent, step=self.step)
        resumed = self.checkpointer.restore()
        start = int(self.step.numpy())
        self._saved = self._counters() if resumed else None  # what the checkpoint holds
        if resumed:
            print(f"resumed from checkpoint at env frame {start}", flush=True)
            # A new env seed on resume, so the continued run does not replay old episodes.
            self.env.close()
            self.env = envs.make(c.task, c.seed + start, c)
        self.eval_env = envs.make(c.task, c.seed + 10**6 + start, c)
        self.rng = np.random.default_rng(c.seed + start)
        self.replay = Replay(
            run_dir / "train_eps", c.dataset_size, c.batch_length, c.seed + start, c.oversample_ends
        )
        self.eval_replay = Replay(run_dir / "eval_eps", 1, c.batch_length, c.seed, save=True)
        self.logger = Logger(run_dir, start)
        self.should = {
            name: Every(c[f"{name}_every"], start)
            for name in ("log", "video", "eval", "checkpoint")
        }

    def run(self):
        """Collects until `steps` frames, training as it goes; returns the final env frame.

        Ctrl-C or SIGTERM (a KeyboardInterrupt, see `vsg.interrupts`) writes the unfinished
        log interval and a checkpoint, then propagates.
        """
        try:
            self._collect()
        except KeyboardInterrupt:
            self._stop()
            raise
        finally:
            self.progress.close()
        self._save()
        self.logger.close()
        self.env.close()
        self.eval_env.close()
        return int(self.step.numpy())

    def _stop(self):
        """Saves on Ctrl-C or SIGTERM and says truthfully whether the checkpoint is current."""
        step = int(self.step.numpy())
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
        c = self.config
        step = int(self.step.numpy())
        obs = self._reset()
        self._announce_replay_ram(obs)
        policy_state = self.agent.initial_policy_state(1)
        episode_return, episode_length = 0.0, 0
        train_every = Every(c.train_every * c.action_repeat, step)
        if self._prefilled():
            self._pretrain(step)  # only if a stopped run left pretraining unfinished
        while step < c.steps:
            self._show(step, episode_length)
            action, policy_state = self._act(obs, policy_state)
            obs = self.env.step(action)
            self.replay.add_step(obs, action)
            self.step.assign_add(c.action_repeat)
            step = int(self.step.numpy())
            episode_return += float(obs["reward"])
            episode_length += 1
            if obs["is_last"]:
                self.logger.scalar("train/return", episode_return)
                self.logger.scalar("train/length", episode_length * c.action_repeat)
                self.progress.note(train_return=episode_return)
                obs = self._reset()
                episode_return, episode_length = 0.0, 0
            if self._prefilled() and train_every(step):
                self._train(step)
            self._periodic(step)
        self._show(step, episode_length)

    def _announce_replay_ram(self, obs):
        c = self.config
        step_bytes = bytes_per_step(obs, self.env.action_size)
        note, warning = replay_ram_note(step_bytes, c.steps, c.action_repeat, c.dataset_size)
        print(note, flush=True)
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    def _show(self, step, episode_length):
        """Moves the progress bar of the current phase, starting it when the phase begins."""
        c = self.config
        if not self._prefilled():
            frames = (self.replay.total_steps + episode_length) * c.action_repeat
            if self.progress.name != "prefill":
                self.progress.phase("prefill", c.prefill, initial=frames)
            self.progress.advance(frames)
            return
        if self.progress.name != "train":
            self.progress.phase("train", c.steps, initial=step)
            self.progress.note(updates=self._updates())
        self.progress.advance(step)

    def _save(self):
        """Writes the unfinished log interval and a checkpoint, if they hold anything new."""
        with uninterruptible("saving metrics and a checkpoint"):
            self._log(int(self.step.numpy()))
            self._checkpoint()

    def _checkpoint(self):
        with uninterruptible("saving a checkpoint"):
            counters = self._counters()
            if counters != self._saved:
                self.checkpointer.save()
                self._saved = counters

    def _counters(self):
        return int(self.step.numpy()), self._updates()

    def _updates(self):
        return int(self.agent.behavior.updates.numpy())

    def _reset(self):
        obs = self.env.reset()
        self.replay.add_step(obs, np.zeros(self.env.action_size, np.float32))
        return obs

    def _prefilled(self):
        return self.replay.total_steps * self.config.action_repeat >= self.config.prefill

    def _act(self, obs, policy_state):
        if not self._prefilled():
            action = self.rng.uniform(-1.0, 1.0, self.env.action_size).astype(np.float32)
            return action, policy_state
        action, policy_state = self.agent.policy(as_batch(obs), policy_state, tf.constant(True))
        return action.numpy()[0], policy_state

    def _train(self, step):
        if self._pretrain(step):
            return
        for _ in range(self.config.train_steps):
            self._update(step)
        self.progress.note(updates=self._updates())

    def _pretrain(self, step):
        """The first `pretrain` updates (at least one) in a row, or those a stopped run left;
        False if pretraining was already done."""
        total, done = max(self.config.pretrain, 1), self._updates()
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
            self._update(step)
            self.progress.advance(self._updates())
        self.progress.close()
        return True

    def _update(self, step):
        """One training step on a replayed batch; the first one of a run is logged at once."""
        batch = self._batch()
        start = time.perf_counter()
        metrics = self.agent.train(batch)
        self.logger.scalar("perf/update_seconds", time.perf_counter() - start)
        updates = self._updates()
        every = self.config.probe_every
        if every and updates % every == 0:
            metrics.update(cheap_probe(self.agent, batch))
        for name, value in metrics.items():
            self.logger.scalar(name, float(value))
        if updates == 1:
            self._log(step)

    def _batch(self):
        """A training batch [B, T, ...] with the keys the agent learns from."""
        batch = self.replay.sample(self.config.batch_size)
        return {key: batch[key] for key in TRAIN_KEYS}

    def _periodic(self, step):
        trained = self._updates() > 0
        if self.should["video"](step) and trained:
            video, gates = self.agent.report(self._batch())
            self.logger.video("train/openl", video_grid(video.numpy()))
            self.logger.image("gate/pattern", gate_image(gates.numpy()))
        if self.should["eval"](step) and trained:
            self.evaluate()
        if self.should["log"](step):
            self._log(step)
        if self.should["checkpoint"](step):
            self._checkpoint()

    def _log(self, step):
        """Writes what was logged since the last write (nothing if there is nothing new)."""
        if not self.logger.unwritten(step):
            return
        with uninterruptible("writing metrics"):
            self.logger.scalar("replay/episodes", self.replay.num_episodes)
            self.logger.scalar("replay/steps", self.replay.num_steps)
            means = self.logger.write(step)
        self.progress.logged(step, means)

    def evaluate(self):
        """Runs `n_eval_eps` episodes with the policy mode; logs returns and one video."""
        for index in range(self.config.n_eval_eps):
            obs = self.eval_env.reset()
            self.eval_replay.add_step(obs, np.zeros(self.eval_env.action_size, np.float32))
            state = self.agent.initial_policy_state(1)
            frames, total, length = [obs["image"]], 0.0, 0
            while not obs["is_last"]:
                action, state = self.agent.policy(as_batch(obs), state, tf.constant(False))
                obs = self.eval_env.step(action.numpy()[0])
                self.eval_replay.add_step(obs, action.numpy()[0])
                frames.append(obs["image"])
                total += float(obs["reward"])
                length += 1
            self.logger.scalar("eval/return", total)
            self.logger.scalar("eval/length", length * self.config.action_repeat)
            self.progress.note(eval_return=total)
            if index == 0:
                self.logger.video("eval/policy", np.stack(frames))
