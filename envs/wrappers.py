"""Small generic wrappers for environments with the dict observation API.

An env here has ``action_size``, ``reset() -> obs``, ``step(action) -> obs`` and ``close()``,
where ``obs`` holds at least ``image``, ``reward``, ``is_first``, ``is_last`` and
``is_terminal``. Envs that accept non-normalised actions also expose ``action_low`` and
``action_high`` (float32 arrays of shape ``(action_size,)``).

Action repeat is not a wrapper: the adapters (``envs.dmc.DMC``) repeat internally, so that an
image is rendered once per decision instead of once per physics step.
"""

from typing import Any

import numpy as np

Obs = dict[str, Any]


class Wrapper:
    """Base class: forwards every attribute it does not define to the wrapped env."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def __getattr__(self, name: str) -> Any:
        # Private names are never forwarded, so a half-built wrapper cannot recurse forever.
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self) -> Obs:
        """Reset the wrapped env."""
        return self.env.reset()

    def step(self, action: np.ndarray) -> Obs:
        """Step the wrapped env."""
        return self.env.step(action)

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()


class TimeLimit(Wrapper):
    """End episodes after ``duration`` decisions by setting ``is_last`` (never ``is_terminal``).

    Stepping after the episode ended, or before the first reset, raises RuntimeError.
    """

    def __init__(self, env: Any, duration: int) -> None:
        super().__init__(env)
        if duration < 1:
            raise ValueError(f"TimeLimit duration must be >= 1, got {duration}")
        self._duration = duration
        self._step: int | None = None

    def reset(self) -> Obs:
        """Reset the wrapped env and the decision counter."""
        self._step = 0
        return self.env.reset()

    def step(self, action: np.ndarray) -> Obs:
        """Step once; mark the observation as last when the limit is reached."""
        if self._step is None:
            raise RuntimeError("TimeLimit: call reset() before step() (episode is over).")
        obs = self.env.step(action)
        self._step += 1
        if self._step >= self._duration:
            obs["is_last"] = True
        if obs["is_last"]:
            self._step = None
        return obs


class NormalizeActions(Wrapper):
    """Accept actions in [-1, 1] and map them linearly onto the wrapped env's bounds.

    Dimensions with infinite bounds are passed through unchanged. The wrapper's own
    ``action_low``/``action_high`` are -1/1 on the mapped dimensions.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        low = np.asarray(env.action_low, np.float32)
        high = np.asarray(env.action_high, np.float32)
        self._mask = np.isfinite(low) & np.isfinite(high)
        self._low = np.where(self._mask, low, -1.0).astype(np.float32)
        self._high = np.where(self._mask, high, 1.0).astype(np.float32)
        self.action_low = np.where(self._mask, -1.0, low).astype(np.float32)
        self.action_high = np.where(self._mask, 1.0, high).astype(np.float32)

    def step(self, action: np.ndarray) -> Obs:
        """Map ``action`` from [-1, 1] to the env's bounds and step."""
        action = np.asarray(action, np.float32)
        mapped = (action + 1.0) / 2.0 * (self._high - self._low) + self._low
        return self.env.step(np.where(self._mask, mapped, action))
