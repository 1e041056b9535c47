"""The collect / train / evaluate loop of one run, with resume from its checkpoint.

Counters are env frames (`step`), which is what every interval in the config is measured in;
one agent decision is `action_repeat` frames.
"""

import sys
import time

import numpy as np
import tensorflow as tf

import envs
from vsg.agent import Agent, as_batch
from vsg.checkpoint import Checkpointer
from vsg.logger import Logger, video_grid
from vsg.probe import cheap_probe
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
    """Owns the envs, the agent, the replays, the logger and the checkpoint of a run."""

    def __init__(self, config, run_dir):
        self.config = c = config
        self.run_dir = run_dir
        tf.random.set_seed(c.seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.env = envs.make(c.task, c.seed, c)
        self.agent = Agent(c, self.env.action_size)
        self.checkpointer = Checkpointer(run_dir / "checkpoint", agent=self.agent, step=self.step)
        self.resumed = self.checkpointer.restore()
        start = int(self.step.numpy())
        if self.resumed:
            print(f"resumed from checkpoint at step {start}", flush=True)
            # A new env seed on resume, so the continued run does not replay old episodes.
            self.env.close()
            self.env = envs.make(c.task, c.seed + start, c)
        self.eval_env = envs.make(c.task, c.seed + 10**6 + start, c)
        self.rng = np.random.default_rng(c.seed + start)
        self.replay = Replay(
            run_dir / "train_eps", c.dataset_size, c.batch_length, c.seed + start, c.oversample_ends
        )
        self.eval_replay = Replay(run_dir / "eval_eps", 1, c.batch_length, c.seed, save=True)
        self.logger = Logger(run_dir, c.steps, start)
        self.should = {
            name: Every(c[f"{name}_every"], start)
            for name in ("log", "video", "eval", "checkpoint")
        }

    def run(self):
        """Collects until `steps` frames, training every `train_every` decisions."""
        c = self.config
        repeat = c.action_repeat
        obs = self._reset()
        step_bytes = bytes_per_step(obs, self.env.action_size)
        note, warning = replay_ram_note(step_bytes, c.steps, repeat, c.dataset_size)
        print(note, flush=True)
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        policy_state = self.agent.initial_policy_state(1)
        episode_return, episode_length = 0.0, 0
        train_every = Every(c.train_every * repeat, int(self.step.numpy()))
        try:
            while int(self.step.numpy()) < c.steps:
                action, policy_state = self._act(obs, policy_state)
                obs = self.env.step(action)
                self.replay.add_step(obs, action)
                self.step.assign_add(repeat)
                step = int(self.step.numpy())
                episode_return += float(obs["reward"])
                episode_length += 1
                if obs["is_last"]:
                    self.logger.scalar("train/return", episode_return)
                    self.logger.scalar("train/length", episode_length * repeat)
                    obs = self._reset()
                    episode_return, episode_length = 0.0, 0
                if self._prefilled() and train_every(step):
                    self._train()
                self._periodic(step)
        except KeyboardInterrupt:
            print("interrupted: saving a checkpoint before exiting", flush=True)
            self.checkpointer.save()
            raise
        self.checkpointer.save()
        if self.should["log"].last * self.config.log_every < int(self.step.numpy()):
            self.logger.write(int(self.step.numpy()))  # the last partial interval
        self.logger.close()
        self.env.close()
        self.eval_env.close()

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

    def _train(self):
        c = self.config
        updates = c.train_steps
        if int(self.agent.behavior.updates.numpy()) == 0:
            updates = max(c.pretrain, 1)
            print(f"prefill done ({self.replay.num_steps} steps); pretraining {updates} updates")
        for _ in range(updates):
            batch = self._batch()
            start = time.perf_counter()
            metrics = self.agent.train(batch)
            self.logger.scalar("perf/update_seconds", time.perf_counter() - start)
            every = c.probe_every
            if every and int(self.agent.behavior.updates.numpy()) % every == 0:
                metrics.update(cheap_probe(self.agent, batch))
            for name, value in metrics.items():
                self.logger.scalar(name, float(value))

    def _batch(self):
        """A training batch [B, T, ...] with the keys the agent learns from."""
        batch = self.replay.sample(self.config.batch_size)
        return {key: batch[key] for key in TRAIN_KEYS}

    def _periodic(self, step):
        trained = int(self.agent.behavior.updates.numpy()) > 0
        if self.should["video"](step) and trained:
            video, gates = self.agent.report(self._batch())
            self.logger.video("train/openl", video_grid(video.numpy()))
            self.logger.image("gate/pattern", gate_image(gates.numpy()))
        if self.should["eval"](step) and trained:
            self.evaluate()
        if self.should["log"](step):
            self.logger.scalar("replay/episodes", self.replay.num_episodes)
            self.logger.scalar("replay/steps", self.replay.num_steps)
            self.logger.write(step)
        if self.should["checkpoint"](step):
            self.checkpointer.save()

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
            if index == 0:
                self.logger.video("eval/policy", np.stack(frames))
