"""N envs in worker processes stepped at once: ``ParallelEnvs`` (the ``envs: N`` of a run).

Every request is sent before any reply is received, so N workers render on N cores while the
learner waits once. Episodes do not restart by themselves: the caller resets the slots whose
observation was last, before it computes the next actions (as the reference driver does), so
no action is computed for a finished episode and one env reproduces a local env's run exactly.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.workers import EnvWorker, Obs, WorkerError


class ParallelEnvs:
    """One ``EnvWorker`` per seed in ``seeds``; worker ``i`` is named ``"<name> <i>"``.

    A slot whose worker crashed answers ``step`` with a new episode's first observation
    (``is_first``), see ``envs.workers``.
    """

    def __init__(
        self, task: str, seeds: Sequence[int], config: Mapping[str, Any], name: str = "env"
    ) -> None:
        if not seeds:
            raise ValueError("ParallelEnvs needs at least one seed")
        # All processes start before the first handshake is awaited, so they start concurrently.
        self.workers = [
            EnvWorker(task, seed, config, name=f"{name} {index}")
            for index, seed in enumerate(seeds)
        ]
        self.action_size = self.workers[0].action_size

    def __len__(self) -> int:
        return len(self.workers)

    def reset(self, slots: Sequence[int] | None = None) -> list[Obs]:
        """Reset the given slots (default: all) at once; returns their first observations."""
        slots = range(len(self.workers)) if slots is None else slots
        for slot in slots:
            self.workers[slot].reset_async()
        return self._collect([self.workers[slot] for slot in slots])

    def step(self, actions: np.ndarray) -> list[Obs]:
        """Step slot ``i`` with ``actions[i]`` (float [N, A] in [-1, 1]); returns N observations.

        Stepping a slot whose episode ended raises ``WorkerError`` (the env refuses it); the
        other slots are stepped all the same and their observations are lost with the error.
        """
        actions = np.asarray(actions, np.float32)
        expected = (len(self.workers), self.action_size)
        if actions.shape != expected:
            raise ValueError(f"actions of shape {actions.shape}, expected {expected}")
        for worker, action in zip(self.workers, actions, strict=True):
            worker.step_async(action)
        return self._collect(self.workers)

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        for worker in self.workers:
            worker.close()

    @staticmethod
    def _collect(workers: Sequence[EnvWorker]) -> list[Obs]:
        """Every pending reply, in order; then the first ``WorkerError``, if any worker raised.

        All replies are collected first, so no worker is left with an unread reply.
        """
        observations, errors = [], []
        for worker in workers:
            try:
                observations.append(worker.result())
            except WorkerError as error:
                errors.append(error)
        if errors:
            raise errors[0]
        return observations
