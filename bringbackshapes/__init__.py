"""BringBackShapes: a 2-D pushing game with partial observability and stochastic distractors.

A clean-room re-implementation of the environment from "Learning Robust Dynamics through
Variational Sparse Gating" (Jain et al., NeurIPS 2022) as a Gymnasium environment.
Importing the package registers the Basic variant (5 shapes, no distractors, arena scale 1.0,
action repeat 4, 3000 physics steps) as ``BringBackShapes-v0`` (sparse reward) and
``BringBackShapesDense-v0`` (dense reward). Other variants take keyword arguments to
``gymnasium.make`` or :class:`BringBackShapesEnv`.
"""

import gymnasium as gym

from bringbackshapes.env import BringBackShapesEnv

__all__ = ["BringBackShapesEnv"]

_ENTRY_POINT = "bringbackshapes.env:BringBackShapesEnv"

# The env truncates itself after time_limit physics steps, so no TimeLimit wrapper is added.
for _env_id, _dense in (("BringBackShapes-v0", False), ("BringBackShapesDense-v0", True)):
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point=_ENTRY_POINT, kwargs={"dense_reward": _dense})
