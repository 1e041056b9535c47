"""Evaluation in its own env, concurrently with training and never blocking it.

An evaluation due at env frame S acts with a frozen copy of the policy taken at S, which has
its own random generator seeded from the run seed and S, and runs `n_eval_eps` episodes in the
evaluation env's worker, one decision per step of the training loop: the training and
evaluation envs render at the same time. Its returns, lengths and the first episode's video are
written as one record at frame S once its last episode ends (`Logger.write_at`), so the numbers
are the same whatever the machine's speed and sit at the frame of the policy they measure, as
in the reference, where evaluation blocks training. The run's end waits for (`finish`) a
running evaluation; a run stopped by a signal drops it.
"""

import sys

from vsg.driver import Driver, Policy


def episode_return(episode) -> float:
    """The sum of an episode's rewards, added in order as Python floats."""
    return float(sum(episode["reward"].tolist()))


class Evaluator:
    """Runs `episodes` evaluation episodes per `start(step, policy)` in the 1-slot `env`.

    Finished episodes are stored in `replay` (the run's eval_eps); `logger` and `progress`
    get the results. `send` and `receive` are called once per training step (they do nothing
    while no evaluation runs).
    """

    def __init__(self, env, episodes, action_repeat, replay, logger, progress):
        self.driver = Driver(env)
        self.driver.on_episode.append(self._episode_done)
        self.episodes = episodes
        self.action_repeat = action_repeat
        self.replay = replay
        self.logger = logger
        self.progress = progress
        self.running = False
        self._sent = False
        self._step = None
        self._policy = None
        self._returns, self._lengths, self._video = [], [], None

    def start(self, step: int, policy: Policy) -> None:
        """Begins the evaluation of env frame `step` with `policy` (a frozen copy)."""
        if self.running:
            print(
                f"warning: evaluation at env frame {step} skipped: the one of frame "
                f"{self._step} still runs (eval_every is shorter than n_eval_eps episodes)",
                file=sys.stderr,
                flush=True,
            )
            return
        self._step, self._policy = step, policy
        self._returns, self._lengths, self._video = [], [], None
        self.driver.forget_state()
        self.running = self.episodes > 0

    def send(self) -> None:
        """Sends the next evaluation action, if an evaluation runs."""
        if self.running:
            self.driver.send(self._policy)
            self._sent = True

    def receive(self) -> None:
        """Collects the observation answering `send` (logs the results if the evaluation ends)."""
        if self._sent:
            self._sent = False
            self.driver.receive()

    def finish(self) -> None:
        """Runs a started evaluation to its end, alone."""
        while self.running:
            self.send()
            self.receive()

    def _episode_done(self, slot: int, episode) -> None:
        self.replay.add_episode(episode)
        total = episode_return(episode)
        self._returns.append(total)
        self._lengths.append((len(episode["reward"]) - 1) * self.action_repeat)
        if self._video is None:
            self._video = episode["image"]
        self.progress.note(eval_return=total)
        if len(self._returns) == self.episodes:
            self.running = False
            scalars = {"eval/return": self._returns, "eval/length": self._lengths}
            means = self.logger.write_at(self._step, scalars, {"eval/policy": self._video})
            self.progress.write(
                f"[{self._step} frames] eval return {means['eval/return']:.4g} "
                f"(mean of {len(self._returns)}, policy of frame {self._step})"
            )
            self._policy = None
