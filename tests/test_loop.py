"""The training loop with a fake env and a fake learner: no TensorFlow, no MuJoCo, seconds.

The fakes implement the loop's contracts (`envs.parallel.BatchEnv`, `vsg.loop.Learner`); the
replay, the logger (metrics.jsonl only), the schedule, the driver and the evaluator are real.
"""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from envs.parallel import BatchEnv
from vsg.config import Config
from vsg.driver import Driver
from vsg.evaluation import Evaluator
from vsg.logger import Logger
from vsg.loop import Learner, Trainer
from vsg.progress import Progress
from vsg.replay import Replay, load_episodes
from vsg.rundir import read_metrics
from vsg.schedule import Every

ACTION_SIZE = 2


class FakeEnvs(BatchEnv):
    """Episodes of `length` decisions per slot; reward t / 10 at decision t of an episode.

    The image holds (slot, episode number, t), so stored episodes can be checked row by row.
    `crash` = {(slot, n): True} makes slot `slot` answer its n-th step (counted from 1) with a
    new episode's first observation, as an env worker restarted after a crash does.
    """

    def __init__(self, slots, length=10, crash=None):
        self.action_size = ACTION_SIZE
        self.length = length
        self.crash = dict(crash or {})
        self.t = [None] * slots
        self.episodes = [0] * slots
        self.steps = [0] * slots
        self.actions = []  # every step's actions [N, A], in order
        self._pending = []
        self.closed = False

    def __len__(self):
        return len(self.t)

    def reset_async(self, slots):
        self._pending = [self._reset(slot) for slot in slots]

    def step_async(self, actions):
        assert actions.shape == (len(self), ACTION_SIZE) and actions.dtype == np.float32
        self.actions.append(actions.copy())
        self._pending = [self._step(slot) for slot in range(len(self))]

    def results(self):
        pending, self._pending = self._pending, []
        return pending

    def close(self):
        self.closed = True

    def _obs(self, slot, reward, first, last):
        image = np.zeros((4, 4, 3), np.uint8)
        image[0, 0] = slot, self.episodes[slot] % 256, self.t[slot]
        return {
            "image": image,
            "reward": np.float32(reward),
            "is_first": first,
            "is_last": last,
            "is_terminal": False,
        }

    def _reset(self, slot):
        self.episodes[slot] += 1
        self.t[slot] = 0
        return self._obs(slot, 0.0, True, False)

    def _step(self, slot):
        assert self.t[slot] is not None and self.t[slot] < self.length, "stepped a finished slot"
        self.steps[slot] += 1
        if self.crash.pop((slot, self.steps[slot]), False):
            return self._reset(slot)
        self.t[slot] += 1
        return self._obs(slot, self.t[slot] / 10, False, self.t[slot] == self.length)


class FakeLearner(Learner):
    """Counts updates; acts with 0.5 (exploring) or the snapshot's update count (evaluation);
    its "checkpoint" is a dict shared with the next FakeLearner of the same run."""

    def __init__(self, saved=None):
        self.saved = saved if saved is not None else {}
        self._updates = self.saved.get("updates", 0)
        self.batches = []
        self.pending = []
        self.snapshots = []

    @property
    def updates(self):
        return self._updates

    def act(self, observations, state):
        state = 0 if state is None else state + 1
        return np.full((len(observations), ACTION_SIZE), 0.5, np.float32), state

    def train(self, batch):
        assert batch["image"].shape[:2] == (2, 4)
        self.batches.append(batch)
        self._updates += 1
        self.pending.append(float(batch["reward"].sum()))

    def metrics(self):
        values, self.pending = self.pending, []
        return {"model/loss": values} if values else {}

    def probe(self, batch):
        return {"probe/density": 0.25}

    def report(self, batch):
        return np.zeros((2, 4, 8, 8, 3), np.float32), np.ones((2, 4, 3), np.float32)

    def eval_policy(self, step):
        self.snapshots.append(step)
        frozen = float(self._updates)

        def policy(observations, state):
            return np.full((len(observations), ACTION_SIZE), -frozen, np.float32), state

        return policy

    def restore(self):
        return self.saved.get("step")

    def save(self, step):
        self.saved.update(step=step, updates=self._updates)


def config(**overrides):
    """A small config: 10-decision episodes, action repeat 2, logs every 40 frames."""
    values = {
        "seed": 3,
        "steps": 200,
        "envs": 1,
        "action_repeat": 2,
        "prefill": 40,
        "pretrain": 3,
        "train_every": 5,
        "train_steps": 1,
        "batch_size": 2,
        "batch_length": 4,
        "dataset_size": 0,
        "oversample_ends": False,
        "log_every": 40,
        "video_every": 80,
        "eval_every": 60,
        "n_eval_eps": 2,
        "checkpoint_every": 100,
        "probe_every": 0,
    }
    return Config({**values, **overrides})


class Run:
    """A Trainer over the fakes, with the real replay, logger, evaluator and driver."""

    def __init__(self, run_dir, cfg, learner=None, envs=None, eval_env=None):
        self.run_dir, self.config = run_dir, cfg
        self.learner = learner or FakeLearner()
        self.envs = envs or FakeEnvs(cfg.envs)
        self.eval_env = eval_env or FakeEnvs(1)
        checkpoint = self.learner.restore()
        start = checkpoint or 0
        self.replay = Replay(run_dir / "train_eps", cfg.dataset_size, cfg.batch_length, start)
        eval_replay = Replay(run_dir / "eval_eps", 1, cfg.batch_length, 0)
        self.logger = Logger(run_dir, start, tensorboard=False)
        self.console = io.StringIO()
        progress = Progress(self.console, interactive=False)
        evaluator = Evaluator(self.eval_env, cfg.n_eval_eps, 2, eval_replay, self.logger, progress)
        self.trainer = Trainer(
            cfg, self.learner, self.envs, evaluator, self.replay, self.logger, checkpoint, progress
        )

    def __call__(self):
        return self.trainer.run()


def assert_whole_episodes(directory, length):
    """Every stored episode is one whole episode of one slot, in order, with its actions."""
    episodes = load_episodes(directory)
    assert episodes
    for episode in episodes.values():
        assert len(episode["reward"]) == length + 1
        assert episode["is_first"].tolist() == [True] + [False] * length
        assert episode["is_last"].tolist() == [False] * length + [True]
        assert episode["image"][:, 0, 0, 2].tolist() == list(range(length + 1))  # t
        assert len(set(episode["image"][:, 0, 0, 0])) == 1  # one slot
        assert len(set(episode["image"][:, 0, 0, 1])) == 1  # one episode
        assert not episode["action"][0].any()
    return list(episodes.values())


def test_every_counts_the_multiples_crossed():
    every = Every(10, start=25)
    assert [every(step) for step in (26, 30, 31, 75, 75, 80)] == [0, 1, 0, 4, 0, 1]


def test_prefill_pretrain_train_log_and_checkpoint_on_the_frame_schedule(tmp_path):
    run = Run(tmp_path, config())
    assert run() == 200
    # Prefill: random actions until 2 episodes (40 frames) are stored; then the policy's 0.5.
    actions = np.concatenate(run.envs.actions)
    assert np.abs(actions[:20]).max() <= 1 and len(set(actions[:20, 0])) == 20
    assert (actions[20:] == 0.5).all()
    # 3 pretraining updates at frame 40, then one every 5 decisions (10 frames) to frame 200.
    assert run.learner.updates == 3 + (200 - 40) // 10
    steps = [record["step"] for record in read_metrics(tmp_path) if "train/return" in record]
    assert steps == [40, 80, 120, 160, 200]
    returns = [r["train/return"] for r in read_metrics(tmp_path) if "train/return" in r]
    assert returns == [pytest.approx(sum(t / 10 for t in range(1, 11)))] * 5
    assert run.learner.saved == {"step": 200, "updates": 19}
    assert_whole_episodes(tmp_path / "train_eps", 10)
    console = run.console.getvalue()
    assert "prefill done: 40 env frames (20 decisions)" in console
    assert "train 200/200 frames (100%)" in console


def test_parallel_envs_keep_the_update_ratio_and_every_episode_whole(tmp_path):
    run = Run(tmp_path, config(envs=3, steps=240, prefill=60))
    assert run() == 240
    assert run.envs.steps == [40, 40, 40]  # 3 slots x 40 decisions x 2 frames
    # Prefill ends at frame 60 (3 episodes); then 1 update per 5 decisions of any slot.
    assert run.learner.updates == 3 + (240 - 60) // 10
    episodes = assert_whole_episodes(tmp_path / "train_eps", 10)
    assert sorted({int(e["image"][0, 0, 0, 0]) for e in episodes}) == [0, 1, 2]
    assert len(episodes) == 12


def test_evaluation_runs_in_lockstep_and_logs_at_the_frame_of_its_snapshot(tmp_path):
    run = Run(tmp_path, config(steps=120))
    run()
    assert run.learner.snapshots == [60, 120]
    evaluations = [r for r in read_metrics(tmp_path) if "eval/return" in r]
    assert [r["step"] for r in evaluations] == [60, 120]
    assert evaluations[0]["eval/length"] == 20
    assert evaluations[0]["eval/return"] == pytest.approx(5.5)
    # One evaluation decision per training decision: the frame-60 one (2 episodes, 20
    # decisions) ran during frames 60-100; the one of frame 120 was finished alone at the end.
    assert len(run.eval_env.actions) == 40 and run.envs.steps == [60]
    snapshot_updates = 3 + (60 - 40) // 10
    assert (np.concatenate(run.eval_env.actions[:20]) == -snapshot_updates).all()
    records = [r["step"] for r in read_metrics(tmp_path)]
    assert records.index(60, records.index(80)) > records.index(80)  # written late, at 60
    assert (tmp_path / "videos" / "eval_policy.gif").exists()
    assert_whole_episodes(tmp_path / "eval_eps", 10)


def test_an_evaluation_due_while_one_runs_is_skipped_with_a_warning(tmp_path, capsys):
    run = Run(tmp_path, config(steps=120, eval_every=60, n_eval_eps=4))
    run()
    assert run.learner.snapshots == [60, 120]
    assert "evaluation at env frame 120 skipped" in capsys.readouterr().err
    assert [r["step"] for r in read_metrics(tmp_path) if "eval/return" in r] == [60]


def test_a_restarted_env_drops_its_partial_episode_and_training_goes_on(tmp_path):
    crash = {(1, 15): True, (0, 33): True}  # mid-episode, during prefill and during training
    run = Run(tmp_path, config(envs=2, steps=200), envs=FakeEnvs(2, crash=crash))
    assert run() == 200
    episodes = assert_whole_episodes(tmp_path / "train_eps", 10)
    # 50 decisions per slot, 5 of them lost in slot 1 and 3 in slot 0 with the crashes.
    assert len(episodes) == (50 - 5) // 10 + (50 - 3) // 10


def test_an_interrupt_saves_the_current_frame_and_the_same_run_resumes(tmp_path):
    class StopAt(FakeEnvs):
        def step_async(self, actions):
            if len(self.actions) == 45:
                raise KeyboardInterrupt
            super().step_async(actions)

    saved = {}
    run = Run(tmp_path, config(), learner=FakeLearner(saved), envs=StopAt(1))
    with pytest.raises(KeyboardInterrupt):
        run()
    assert saved == {"step": 90, "updates": 3 + (90 - 40) // 10}
    assert read_metrics(tmp_path)[-1]["step"] == 90  # the unfinished interval was written
    resumed = Run(tmp_path, config(), learner=FakeLearner(saved))
    assert resumed() == 200
    assert saved == {"step": 200, "updates": 19}  # the same as without the interrupt
    assert "pretrain" not in resumed.console.getvalue()
    steps = [r["step"] for r in read_metrics(tmp_path) if "eval/return" not in r]
    assert steps == sorted(steps)


def test_the_driver_hands_each_callback_whole_episodes_per_slot():
    env = FakeEnvs(2, length=3)
    driver = Driver(env)
    finished = []
    driver.on_episode.append(lambda slot, episode: finished.append((slot, episode)))
    for _ in range(7):
        driver.send(lambda obs, state: (np.zeros((len(obs), ACTION_SIZE)), state))
        driver.receive()
    assert [slot for slot, _ in finished] == [0, 1, 0, 1]
    assert list(finished[0][1]) == [
        "image",
        "reward",
        "is_first",
        "is_last",
        "is_terminal",
        "action",
    ]
    assert finished[0][1]["reward"].tolist() == pytest.approx([0, 0.1, 0.2, 0.3])
    assert driver.running_decisions == 2  # one decision into the third episodes


def test_the_loop_imports_neither_tensorflow_nor_an_env_suite():
    heavy = {"tensorflow", "dm_control", "mujoco", "pymunk"}
    # Only modules actually loaded: `vsg` blocks one TensorFlow module with a None entry.
    code = (
        "import json, sys, vsg.build; "
        "print(json.dumps([m.split('.')[0] for m, v in sys.modules.items() if v is not None]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert heavy.isdisjoint(json.loads(result.stdout))
