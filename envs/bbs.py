"""BringBackShapes behind the project's dict env API.

``make_bbs("bringbackshapes_sparse", seed, config)`` builds the game from the config keys the
VSG launcher passes (``max_distractors``, ``arena_scale``, ...; unlike the reference VSG wrapper,
every one is forwarded) and speaks the dict API: ``reset() -> obs``, ``step(action) -> obs``
with ``obs`` holding ``image``, ``reward``, ``is_first``, ``is_last``, ``is_terminal`` and
``log_*`` extras. Actions are normalised to ``[-1, 1]²`` and mapped linearly onto the game's
``(angle, magnitude)`` box, as the reference ``NormalizeActions`` wrapper did.
"""

from collections.abc import Mapping

import numpy as np

from bringbackshapes import BringBackShapesEnv
from bringbackshapes.layout import MAX_ANGLE, MAX_MAGNITUDE

_REWARD_TYPES = {"sparse": False, "dense": True}


class BringBackShapes:
    """Dict-API adapter around :class:`BringBackShapesEnv`."""

    action_size = 2

    def __init__(self, env: BringBackShapesEnv, seed: int):
        self.env = env
        self._seed = seed
        self._done = True

    def reset(self) -> dict:
        """Start an episode; the first reset seeds the game, later ones continue its generator."""
        seed, self._seed = self._seed, None
        image, info = self.env.reset(seed=seed)
        self._done = False
        return self._obs(image, 0.0, info, is_first=True)

    def step(self, action: np.ndarray) -> dict:
        """Act with a normalised action in ``[-1, 1]²`` (values outside are clipped)."""
        if self._done:
            raise RuntimeError("episode is over: call reset() first")
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        # [-1, 1] -> angle [0, 2π] and magnitude [0, 400], linearly.
        game_action = (a + 1.0) * 0.5 * np.array([MAX_ANGLE, MAX_MAGNITUDE])
        image, reward, terminated, truncated, info = self.env.step(game_action)
        self._done = terminated or truncated
        return self._obs(image, reward, info, is_last=self._done, is_terminal=terminated)

    @staticmethod
    def _obs(image, reward, info, is_first=False, is_last=False, is_terminal=False) -> dict:
        return {
            "image": image,
            "reward": np.float32(reward),
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": is_terminal,
            "log_shapes_delivered": int(info["shapes_delivered"]),
            "log_contacts": int(info["contacts"]),
        }

    def close(self) -> None:
        self.env.close()


def make_bbs(task: str, seed: int, config: Mapping) -> BringBackShapes:
    """Build ``bringbackshapes_<sparse|dense>`` from ``config`` (other keys are ignored)."""
    prefix, _, reward_type = task.partition("_")
    if prefix != "bringbackshapes" or reward_type not in _REWARD_TYPES:
        raise ValueError(f"unknown task {task!r}; expected bringbackshapes_sparse or _dense")
    env = BringBackShapesEnv(
        max_objects=int(config["max_objects"]),
        max_distractors=int(config["max_distractors"]),
        variable_num_objects=bool(config["variable_num_objects"]),
        variable_num_distractors=bool(config["variable_num_distractors"]),
        variable_goal_position=bool(config["variable_goal_position"]),
        agent_view_size=int(config["agent_view_size"]),
        arena_scale=float(config["arena_scale"]),
        action_repeat=int(config["action_repeat"]),
        time_limit=int(config["time_limit"]),
        dense_reward=_REWARD_TYPES[reward_type],
        spin_quirk=bool(config.get("bbs_spin_quirk", True)),
        size=tuple(int(s) for s in config["size"]),
    )
    return BringBackShapes(env, seed)
