"""The episode driver: runs a policy in the N slots of a `BatchEnv` and hands out episodes.

Training collection, evaluation and the probe all collect episodes with a `Driver`. It keeps
each slot's running episode and calls its `on_episode` callbacks with every finished one, a
dict of arrays [L + 1, ...] aligned as in `vsg.replay` (the reset observation with a zero
action first, then each observation with the action that led to it).

A step is split in two, `send(policy)` and `receive()`, so that several drivers (training and
evaluation) have their envs run at the same time. Finished slots are reset at the next `send`,
before the policy sees them, as in the reference driver. A slot whose env worker crashed
answers with a new episode's first observation; its unfinished episode is dropped (the worker
prints why) and the policy sees `is_first` there, which resets that slot's latent state.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from envs.parallel import BatchEnv

Obs = dict[str, Any]
Episode = dict[str, np.ndarray]
# policy(observations of the N slots, its state or None at the start) -> (actions [N, A], state)
Policy = Callable[[list[Obs], Any], tuple[np.ndarray, Any]]


def stack_episode(steps: list[tuple[Obs, np.ndarray]]) -> Episode:
    """[(observation, action that led to it), ...] -> {key: array [L + 1, ...]}, with
    "action" after the observation's keys."""
    episode = {key: np.stack([obs[key] for obs, _ in steps]) for key in steps[0][0]}
    episode["action"] = np.stack([action for _, action in steps])
    return episode


class Driver:
    """Steps every slot of `env` with one policy; `on_episode` callbacks get finished episodes.

    `on_episode` holds callables `(slot, episode)`. `state` is the policy's state across the
    slots (None until the policy first acts; `forget_state` sets it back).
    """

    def __init__(self, env: BatchEnv):
        self.env = env
        self.on_episode: list[Callable[[int, Episode], None]] = []
        self.state = None
        self._obs: list[Obs | None] = [None] * len(env)
        self._steps: list[list[tuple[Obs, np.ndarray]]] = [[] for _ in range(len(env))]
        self._actions: np.ndarray | None = None

    @property
    def running_decisions(self) -> int:
        """Decisions taken so far in the slots' unfinished episodes."""
        return sum(max(len(steps) - 1, 0) for steps in self._steps)

    def forget_state(self) -> None:
        """The next `send` starts the policy from its initial state (e.g. a new evaluation)."""
        self.state = None

    def reset(self) -> list[Obs]:
        """Starts a new episode in every slot now; returns their first observations."""
        for slot, obs in enumerate(self.env.reset(range(len(self.env)))):
            self._begin(slot, obs)
        return list(self._obs)

    def send(self, policy: Policy) -> None:
        """Resets finished slots, asks `policy` for actions and sends them to the envs."""
        finished = [slot for slot, obs in enumerate(self._obs) if obs is None or obs["is_last"]]
        if finished:
            for slot, obs in zip(finished, self.env.reset(finished), strict=True):
                self._begin(slot, obs)
        actions, self.state = policy(self._obs, self.state)
        self._actions = np.asarray(actions, np.float32)
        self.env.step_async(self._actions)

    def receive(self) -> None:
        """Collects the observations answering `send`; calls `on_episode` for finished ones."""
        actions, self._actions = self._actions, None
        for slot, obs in enumerate(self.env.results()):
            if obs["is_first"]:  # the env was restarted: the unfinished episode is lost
                self._begin(slot, obs)
                continue
            self._obs[slot] = obs
            self._steps[slot].append((obs, actions[slot]))
            if obs["is_last"]:
                episode = stack_episode(self._steps[slot])
                self._steps[slot] = []
                for callback in self.on_episode:
                    callback(slot, episode)

    def _begin(self, slot: int, obs: Obs) -> None:
        self._obs[slot] = obs
        self._steps[slot] = [(obs, np.zeros(self.env.action_size, np.float32))]
