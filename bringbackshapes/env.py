"""Gymnasium environment: rules, reward, episode ends and action repeat around the world."""

import math

import gymnasium as gym
import numpy as np

from bringbackshapes import layout as lay
from bringbackshapes.physics import World
from bringbackshapes.render import Renderer


class BringBackShapesEnv(gym.Env):
    """Push every shape into the goal alcove on the right, seen through a small egocentric view.

    Action: ``(angle, magnitude)`` in ``[0, 2π] × [0, 400]``, a world-frame force (times 100)
    held for ``action_repeat`` physics steps; it is not clipped, as in the reference.
    Observation: the tinted ``2·agent_view_size`` square around the agent, resized to ``size``
    (height, width) RGB uint8. Reward: +1 per delivered shape (plus a time bonus per delivering
    physics step when ``dense_reward``). Terminates when every shape is delivered; truncates
    after ``time_limit`` physics steps (0 = never). ``spin_quirk=False`` pushes the agent at its
    centre instead of at the point (x, x) the reference used.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        max_objects: int = 5,
        max_distractors: int = 0,
        variable_num_objects: bool = False,
        variable_num_distractors: bool = False,
        variable_goal_position: bool = False,
        agent_view_size: int = 125,
        arena_scale: float = 1.0,
        action_repeat: int = 4,
        time_limit: int = 3000,
        dense_reward: bool = False,
        spin_quirk: bool = True,
        size: tuple[int, int] = (64, 64),
        render_mode: str | None = None,
    ):
        for name, value, low in (
            ("max_objects", max_objects, 1),
            ("max_distractors", max_distractors, 0),
            ("action_repeat", action_repeat, 1),
            ("time_limit", time_limit, 0),
            ("agent_view_size", agent_view_size, 1),  # a 0 px view would show one colour
        ):
            if value < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}")
        self.max_objects = max_objects
        self.max_distractors = max_distractors
        self.variable_num_objects = variable_num_objects
        self.variable_num_distractors = variable_num_distractors
        self.variable_goal_position = variable_goal_position
        self.action_repeat = action_repeat
        self.time_limit = time_limit
        self.dense_reward = dense_reward
        self.render_mode = render_mode
        self._centred_arena = lay.ArenaLayout.for_scale(arena_scale)
        self.world = World(self._centred_arena, spin_quirk)
        self.renderer = Renderer(self._centred_arena, agent_view_size, tuple(size))
        self.observation_space = gym.spaces.Box(0, 255, (*self.renderer.out_size, 3), np.uint8)
        self.action_space = gym.spaces.Box(
            np.array([0.0, 0.0], np.float32),
            np.array([lay.MAX_ANGLE, lay.MAX_MAGNITUDE], np.float32),
            dtype=np.float32,
        )
        self.physics_steps = 0
        self.shapes_delivered = 0
        self._contacts = 0

    @property
    def arena(self) -> lay.ArenaLayout:
        """Geometry of the current episode's arena."""
        return self.world.arena

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Respawn everything from ``self.np_random``; the first frame shows the new episode."""
        super().reset(seed=seed)
        rng = self.np_random
        num_objects, num_distractors = self.max_objects, self.max_distractors
        # Counts are drawn from {1, ..., max}; zero distractors stay zero instead of crashing.
        if self.variable_num_objects:
            num_objects = int(rng.integers(1, self.max_objects + 1))
        if self.variable_num_distractors and self.max_distractors > 0:
            num_distractors = int(rng.integers(1, self.max_distractors + 1))
        self.world.populate(rng, num_objects, num_distractors)
        if self.variable_goal_position:
            # Walls, drawing and scoring all follow the new opening, not just the drawing.
            arena = self._centred_arena.with_goal_y(rng.uniform(*self._centred_arena.goal_y_range))
            self.world.set_arena(arena)
            self.renderer.set_arena(arena)
        self.physics_steps = 0
        self.shapes_delivered = 0
        self._contacts = 0
        return self.renderer.observation(self.world), self._info()

    def step(self, action):
        """Hold ``action`` for ``action_repeat`` physics steps, fewer if the episode ends."""
        angle, magnitude = float(action[0]), float(action[1])
        scale = magnitude * lay.FORCE_MULTIPLIER
        force = (math.cos(angle) * scale, math.sin(angle) * scale)
        world, rng = self.world, self.np_random
        reward, obs = 0.0, None
        for repeat in range(self.action_repeat):
            world.apply_controls(force, rng)
            self.physics_steps += 1
            delivered = world.collect_deliveries()
            if delivered:
                reward += delivered + self._bonus()
                self.shapes_delivered += delivered
            last = repeat == self.action_repeat - 1 or world.remaining == 0 or self._timed_out()
            if last:
                # Drawn before the final space.step: the image lags the state by one physics
                # step, exactly what the reference's agents saw.
                obs = self.renderer.observation(world)
            world.step()
            if last:
                break
        self._contacts = world.count_contacts()
        terminated = world.remaining == 0
        truncated = not terminated and self._timed_out()
        return obs, reward, terminated, truncated, self._info()

    def _bonus(self) -> float:
        """Dense-reward time bonus for a sub-step with deliveries (paid once per sub-step)."""
        if not self.dense_reward:
            return 0.0
        return max(0.0, lay.DENSE_BONUS - self.physics_steps / lay.DENSE_BONUS_DECAY)

    def _timed_out(self) -> bool:
        return self.time_limit > 0 and self.physics_steps >= self.time_limit

    def _info(self) -> dict:
        return {
            "shapes_delivered": self.shapes_delivered,
            "num_objects": len(self.world.objects),
            "contacts": self._contacts,
            "physics_steps": self.physics_steps,
            "agent_position": np.array(tuple(self.world.agent.body.position)),
            "object_positions": self.world.object_positions(),
            "distractor_positions": self.world.distractor_positions(),
        }

    def render(self) -> np.ndarray:
        """Top-down RGB view of the whole arena with the grey camera box, for humans."""
        return self.renderer.topdown(self.world)

    def close(self) -> None:
        """Nothing to release: there is no window."""
