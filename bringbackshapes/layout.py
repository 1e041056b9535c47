"""Constants of the game and the arena geometry derived from ``arena_scale``.

World units are screen pixels with x pointing right and y pointing down, as in the
reference game. Only the screen width and length scale with ``arena_scale``; walls, goal
depth, bodies and the view keep their pixel sizes, so a larger arena is a less observable one.
"""

import math
from dataclasses import dataclass

# Time and global physics.
DT = 1.0 / 60.0
DAMPING = 0.7  # fraction of linear and angular velocity kept per simulated second
FORCE_MULTIPLIER = 100.0  # the reference applies every force 100 times per step; we multiply
MAX_MAGNITUDE = 400.0
MAX_ANGLE = 2.0 * math.pi

# Arena (unscaled) and static walls.
ARENA_WIDTH = 800
ARENA_LENGTH = 700
WALL_THICKNESS = 125
GOAL_DEPTH = 100
GOAL_HEIGHT_FACTOR = 0.5
WALL_FRICTION = 1.0
WALL_ELASTICITY = 0.7

# Agent: a circle whose mass comes from its density (0.1 * pi * 15^2 ~= 70.69).
AGENT_RADIUS = 15.0
AGENT_DENSITY = 0.1
AGENT_FRICTION = 0.5
AGENT_SPAWN_MARGIN = 140
GOAL_BOUNCE = -0.3  # velocity factor applied by the goal-line clamp

# Objects (the shapes to bring back): explicit mass and a huge moment that nearly stops rotation.
OBJECT_MASS = 20.0
OBJECT_MOMENT = 1e6
OBJECT_FRICTION = 0.5
OBJECT_ELASTICITY = 1.0
OBJECT_MAX_SPEED = 800.0  # above this an object's speed is multiplied by OBJECT_SPEED_DECAY
OBJECT_SPEED_DECAY = 0.99
OBJECT_SPAWN_FRACTION = 0.7  # objects spawn in the left 70% of the inner width
SCORING_MARGIN = 5.0  # a body origin this far past the goal line counts as delivered

# Distractors: kite-shaped random movers whose mass comes from density (area 600 -> 60).
DISTRACTOR_VERTICES = ((-30.0, 0.0), (0.0, 15.0), (10.0, 0.0), (0.0, -15.0))
DISTRACTOR_DENSITY = 0.1
DISTRACTOR_FRICTION = 0.5
DISTRACTOR_FORCE_SCALE = 0.2
DISTRACTOR_CLAMP_RADIUS = 12.0
DISTRACTOR_SPAWN_MARGIN = 137
DISTRACTOR_HOLD = (2, 9)  # inclusive range of physics steps a random action is held

# Dense reward: a delivery sub-step earns max(0, 1.5 - t / 1000) on top of the count.
DENSE_BONUS = 1.5
DENSE_BONUS_DECAY = 1000.0

SHAPE_VERTICES = {
    "triangle": ((0, 0), (50, 0), (25, 25)),
    "square": ((0, 0), (50, 0), (50, 50), (0, 50)),
    "rectangle": ((0, 0), (50, 0), (50, 25), (0, 25)),
    "pentagon": ((5, -17), (-19, 0), (-10, 28), (19, 28), (28, 0)),
    "hexagon": ((17, -14), (-8, -14), (-20, 7), (-8, 29), (17, 29), (30, 8)),
}
SHAPE_KINDS = tuple(SHAPE_VERTICES)

# Colours, RGB.
OBJECT_COLOURS = {
    "orange": (255, 165, 0),
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "red": (255, 0, 0),
    "purple": (160, 32, 240),
}
COLOUR_NAMES = tuple(OBJECT_COLOURS)
FLOOR_COLOUR = (0, 0, 0)
WALL_COLOUR = (149, 165, 166)
GOAL_COLOUR = (0, 130, 65)
AGENT_COLOUR = (70, 130, 180)
HEADING_COLOUR = (44, 62, 80)
DISTRACTOR_COLOUR = (188, 143, 143)
CAMERA_GREY = 128
CAMERA_ALPHA = 100


@dataclass(frozen=True)
class ArenaLayout:
    """Screen size, floor and goal geometry for one arena scale and goal height."""

    width: int
    length: int
    goal_x: float
    goal_height: float
    goal_y: float

    @classmethod
    def for_scale(cls, arena_scale: float, goal_y: float | None = None) -> "ArenaLayout":
        """Layout at ``arena_scale``; ``goal_y`` defaults to the vertically centred opening."""
        # int() truncation as in the reference: 700 * 1.4 gives 979, not 980.
        width = int(ARENA_WIDTH * arena_scale)
        length = int(ARENA_LENGTH * arena_scale)
        goal_x = width - WALL_THICKNESS - GOAL_DEPTH
        if goal_x - WALL_THICKNESS < 2 * AGENT_RADIUS or length <= 2 * AGENT_SPAWN_MARGIN:
            raise ValueError(f"arena_scale {arena_scale} leaves no room for the agent")
        inner = length - 2 * WALL_THICKNESS
        goal_height = GOAL_HEIGHT_FACTOR * inner
        if goal_y is None:
            goal_y = WALL_THICKNESS + (inner - goal_height) / 2.0
        return cls(width, length, goal_x, goal_height, goal_y)

    def with_goal_y(self, goal_y: float) -> "ArenaLayout":
        """Same arena with the goal opening's top edge at ``goal_y``."""
        return ArenaLayout(self.width, self.length, self.goal_x, self.goal_height, goal_y)

    @property
    def goal_y_range(self) -> tuple[float, float]:
        """Range of the opening's top edge used by ``variable_goal_position``."""
        return float(WALL_THICKNESS), self.length - WALL_THICKNESS - self.goal_height

    def wall_boxes(self) -> list[tuple[float, float, float, float]]:
        """Static boxes (x0, y0, x1, y1): four frame walls and the blocks around the goal."""
        w, length, t = self.width, self.length, WALL_THICKNESS
        boxes = [(0, 0, t, length), (w - t, 0, w, length), (0, 0, w, t), (0, length - t, w, length)]
        goal_top, goal_bottom = self.goal_y, self.goal_y + self.goal_height
        # A block of zero height (goal flush with a wall) is left out rather than degenerate.
        if goal_top > t:
            boxes.append((self.goal_x, t, w - t, goal_top))
        if goal_bottom < length - t:
            boxes.append((self.goal_x, goal_bottom, w - t, length - t))
        return boxes

    def goal_box(self) -> tuple[float, float, float, float]:
        """The goal alcove (x0, y0, x1, y1), drawn green under everything else."""
        return (
            self.goal_x,
            self.goal_y,
            self.width - WALL_THICKNESS,
            self.goal_y + self.goal_height,
        )
