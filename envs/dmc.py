"""DeepMind Control Suite adapter with the dict observation API, rendered from pixels.

Importing this module selects the OpenGL back-end (``envs.gl.setup``) before dm_control is
imported, because dm_control reads ``MUJOCO_GL`` only at import time.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs import gl
from envs.wrappers import NormalizeActions, TimeLimit

gl.setup()

from dm_control import suite  # noqa: E402  (must follow gl.setup(), see module docstring)

PREFIX = "dmc_"

# Maps "domain_task" to (domain, task). Built from the suite's list rather than by splitting on
# "_", because domain names (ball_in_cup, point_mass) and task names (two_poles) contain "_".
TASKS: dict[str, tuple[str, str]] = {
    f"{domain}_{task}": (domain, task) for domain, task in suite.ALL_TASKS
}


def resolve(task: str) -> tuple[str, str]:
    """Return ``(domain, task)`` for ``dmc_<domain>_<task>``; ValueError if unknown."""
    name = task[len(PREFIX) :] if task.startswith(PREFIX) else None
    if name not in TASKS:
        raise ValueError(
            f"Unknown DMC task {task!r}: expected dmc_<domain>_<task> from dm_control.suite."
        )
    return TASKS[name]


class DMC:
    """One dm_control suite task rendered to ``size`` images, with internal action repeat.

    Actions are in the env's own bounds (``action_low``/``action_high``); wrap with
    ``NormalizeActions`` for [-1, 1]. One ``step`` applies the action ``action_repeat`` physics
    control steps (fewer if the episode ends), sums the rewards and renders once.
    ``fast_render`` is True, False or "auto" (see ``envs.gl.fast_render_enabled``).
    """

    def __init__(
        self,
        task: str,
        seed: int,
        action_repeat: int = 1,
        size: tuple[int, int] = (64, 64),
        camera: int = -1,
        fast_render: bool | str = "auto",
    ) -> None:
        domain, task_name = resolve(task)
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        self._env = suite.load(domain, task_name, task_kwargs={"random": seed})
        self.physics = self._env.physics
        self._repeat = int(action_repeat)
        self._height, self._width = (int(s) for s in size)
        # Quadruped's camera 0 is a distant fixed view; camera 2 follows the body.
        self._camera = (2 if domain == "quadruped" else 0) if camera == -1 else int(camera)
        spec = self._env.action_spec()
        self.action_size = int(spec.shape[0])
        self.action_low = np.asarray(spec.minimum, np.float32)
        self.action_high = np.asarray(spec.maximum, np.float32)
        if gl.fast_render_enabled(fast_render):
            self._apply_fast_render()
        self._closed = False

    def _apply_fast_render(self) -> None:
        # The default 2048px shadow map and 4x MSAA dominate software (llvmpipe) render time.
        # These cheaper ones change 6-15% of the 64x64 pixels, by ~1/255 on average and up to
        # ~200/255 on edges (`python -m envs.bench --fidelity`). They must be set before the
        # GL context exists, which dm_control creates on the first render.
        vis = self.physics.model.vis
        vis.quality.shadowsize = 512
        vis.quality.offsamples = 0
        vis.global_.offwidth = self._width
        vis.global_.offheight = self._height

    def _render(self) -> np.ndarray:
        return self.physics.render(self._height, self._width, camera_id=self._camera)

    def _obs(self, time_step: Any, reward: float, is_first: bool) -> dict[str, Any]:
        obs = {key: np.asarray(value, np.float32) for key, value in time_step.observation.items()}
        obs.update(
            image=self._render(),
            reward=np.float32(reward),
            is_first=is_first,
            is_last=bool(time_step.last()),
            # DMC only ends episodes by time, except tasks that signal failure with discount 0.
            is_terminal=bool(not is_first and time_step.discount == 0),
        )
        return obs

    def reset(self) -> dict[str, Any]:
        """Start an episode; the observation has reward 0 and ``is_first`` True."""
        return self._obs(self._env.reset(), 0.0, True)

    def step(self, action: np.ndarray) -> dict[str, Any]:
        """Apply ``action`` for ``action_repeat`` control steps and render the result."""
        reward = 0.0
        for _ in range(self._repeat):
            time_step = self._env.step(action)
            reward += time_step.reward or 0.0
            if time_step.last():
                break
        return self._obs(time_step, reward, False)

    def close(self) -> None:
        """Free the physics and its GL contexts (osmesa otherwise prints errors at exit)."""
        if not self._closed:
            self._closed = True
            self.physics.free()


def make_dmc(task: str, seed: int, config: Mapping[str, Any]) -> Any:
    """Build ``DMC`` from the config keys, then NormalizeActions and (if set) TimeLimit.

    ``time_limit`` is in env frames (0 = none) and becomes ``time_limit // action_repeat``
    decisions.
    """
    repeat = int(config.get("action_repeat", 1))
    env = DMC(
        task,
        seed,
        action_repeat=repeat,
        size=tuple(config.get("size", (64, 64))),
        camera=int(config.get("camera", -1)),
        fast_render=config.get("fast_render", "auto"),
    )
    env = NormalizeActions(env)
    time_limit = int(config.get("time_limit", 0))
    if time_limit > 0:
        env = TimeLimit(env, max(1, time_limit // repeat))
    return env
