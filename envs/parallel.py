"""N envs in worker processes stepped at once: ``ParallelEnvs`` (the ``envs: N`` of a run).

Every request is sent before any reply is received, so N workers render on N cores while the
learner waits once. Episodes do not restart by themselves: the caller resets the slots whose
observation was last, before it computes the next actions (as the reference driver does), so
no action is computed for a finished episode and one env reproduces a local env's run exactly.
"""

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.workers import EnvWorker, Obs, WorkerError


class BatchEnv(abc.ABC):
    """N env slots stepped together (what ``vsg.driver.Driver`` drives).

    A request is sent with ``reset_async`` or ``step_async`` and answered by ``results()``, so
    the caller can work, or step another BatchEnv, while the envs run. Observations are the
    dicts of ``envs.make``'s envs. A slot may answer ``step`` with a new episode's first
    observation (``is_first``): its env crashed and was restarted, and its unfinished episode
    is lost.
    """

    action_size: int  # A, the size of each slot's actions

    @abc.abstractmethod
    def __len__(self) -> int:
        """N, the number of slots."""

    @abc.abstractmethod
    def reset_async(self, slots: Sequence[int]) -> None:
        """Start a new episode in each of ``slots``."""

    @abc.abstractmethod
    def step_async(self, actions: np.ndarray) -> None:
        """Step slot ``i`` with ``actions[i]`` (float [N, A] in [-1, 1])."""

    @abc.abstractmethod
    def results(self) -> list[Obs]:
        """The observations answering the pending request, one per slot it named, in order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free the envs (idempotent)."""

    def reset(self, slots: Sequence[int] | None = None) -> list[Obs]:
        """Reset the given slots (default: all) at once; returns their first observations."""
        self.reset_async(range(len(self)) if slots is None else slots)
        return self.results()

    def step(self, actions: np.ndarray) -> list[Obs]:
        """Step every slot at once; returns N observations."""
        self.step_async(actions)
        return self.results()


class ParallelEnvs(BatchEnv):
    """One ``EnvWorker`` per seed in ``seeds``; worker ``i`` is named ``"<name> <i>"``.

    Construction returns at once, while the workers start; ``wait_ready`` (or the first
    request) waits for them. A slot whose worker crashed answers ``step`` with a new episode's
    first observation (``is_first``), see ``envs.workers``. Stepping a slot whose episode ended
    raises ``WorkerError`` (the env refuses it) from ``results()``, after every reply was read.
    """

    def __init__(
        self, task: str, seeds: Sequence[int], config: Mapping[str, Any], name: str = "env"
    ) -> None:
        if not seeds:
            raise ValueError("ParallelEnvs needs at least one seed")
        # Construction returns at once; the processes start concurrently.
        self.workers = [
            EnvWorker(task, seed, config, name=f"{name} {index}")
            for index, seed in enumerate(seeds)
        ]
        self._pending: list[EnvWorker] = []

    @property
    def action_size(self) -> int:
        return self.workers[0].action_size

    def __len__(self) -> int:
        return len(self.workers)

    def wait_ready(self) -> list[dict[str, Any]]:
        """Waits for every worker's handshake; returns their ``info`` dicts (``WorkerError``
        if an env could not be built)."""
        return [worker.wait_ready() for worker in self.workers]

    def reset_async(self, slots: Sequence[int]) -> None:
        self._pending = [self.workers[slot] for slot in slots]
        for worker in self._pending:
            worker.reset_async()

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions, np.float32)
        expected = (len(self.workers), self.action_size)
        if actions.shape != expected:
            raise ValueError(f"actions of shape {actions.shape}, expected {expected}")
        self._pending = list(self.workers)
        for worker, action in zip(self.workers, actions, strict=True):
            worker.step_async(action)

    def results(self) -> list[Obs]:
        """Every pending reply, in order; then the first ``WorkerError``, if any worker raised.

        All replies are collected first, so no worker is left with an unread reply.
        """
        workers, self._pending = self._pending, []
        observations, errors = [], []
        for worker in workers:
            try:
                observations.append(worker.result())
            except WorkerError as error:
                errors.append(error)
        if errors:
            raise errors[0]
        return observations

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        for worker in self.workers:
            worker.close()


class LocalEnvs(BatchEnv):
    """Envs of ``envs.make`` in this process, stepped one after the other.

    For callers that read the simulator itself between steps (the probe records MuJoCo's
    state); training uses ``ParallelEnvs``. A process that renders MuJoCo next to TensorFlow
    must have loaded TensorFlow as ``vsg.probe`` arranges.
    """

    def __init__(self, local_envs: Sequence[Any]) -> None:
        if not local_envs:
            raise ValueError("LocalEnvs needs at least one env")
        self.envs = list(local_envs)
        self._replies: list[Obs] = []

    @property
    def action_size(self) -> int:
        return self.envs[0].action_size

    def __len__(self) -> int:
        return len(self.envs)

    def reset_async(self, slots: Sequence[int]) -> None:
        self._replies = [self.envs[slot].reset() for slot in slots]

    def step_async(self, actions: np.ndarray) -> None:
        self._replies = [env.step(a) for env, a in zip(self.envs, actions, strict=True)]

    def results(self) -> list[Obs]:
        replies, self._replies = self._replies, []
        return replies

    def close(self) -> None:
        for env in self.envs:
            env.close()
