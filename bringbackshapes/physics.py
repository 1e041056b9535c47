"""The pymunk simulation: walls, agent, shapes and distractors, and one physics sub-step.

The order of events inside a sub-step follows the reference game (distractor forces and
clamp, agent force and clamp, scoring and object speed cap, then ``space.step``) so that the
dynamics the paper's agents learned are reproduced. The caller drives the sub-step in three
calls (:meth:`World.apply_controls`, :meth:`World.collect_deliveries`, :meth:`World.step`)
because the observation is drawn between the last two, one physics step behind the state.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pymunk

from bringbackshapes import layout as lay

# The reference caps object speed after Chipmunk's velocity update, which for a body without
# applied forces is v * DAMPING**DT. Testing that product before the step is the same test and
# avoids a Python velocity callback per object per step.
_STEP_DAMPING = lay.DAMPING**lay.DT
_CAP_SPEED_SQ = (lay.OBJECT_MAX_SPEED / _STEP_DAMPING) ** 2


@dataclass
class Piece:
    """A dynamic body in the world with what the renderer needs to draw it."""

    body: pymunk.Body
    shape: pymunk.Shape
    local_vertices: np.ndarray  # (n, 2) counter-clockwise hull; empty for the circular agent
    colour: int = -1  # index into layout.COLOUR_NAMES for objects; -1 otherwise
    kind: str = ""  # key of layout.SHAPE_VERTICES for objects; empty otherwise
    reach: float = field(init=False)  # largest distance of the outline from the body origin

    def __post_init__(self):
        if len(self.local_vertices):
            self.reach = float(np.hypot(*self.local_vertices.T).max())
        else:
            self.reach = lay.AGENT_RADIUS


def _ccw(vertices) -> np.ndarray:
    """Vertices as an (n, 2) array ordered so that the signed area is positive."""
    v = np.asarray([tuple(p) for p in vertices], dtype=np.float64)
    area = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
    return v if area > 0 else v[::-1].copy()


class World:
    """Owns the pymunk space and every body in it."""

    def __init__(self, arena: lay.ArenaLayout, spin_quirk: bool = True):
        self.space = pymunk.Space()
        self.space.gravity = (0.0, 0.0)
        self.space.damping = lay.DAMPING
        self.spin_quirk = spin_quirk
        self.arena = arena
        self._walls: list[pymunk.Poly] = []
        self.set_arena(arena)
        self.agent: Piece | None = None
        self.objects: list[Piece | None] = []  # index = spawn order; None once delivered
        self.remaining = 0
        self.distractors: list[Piece] = []
        self._hold: list[int] = []
        self._distractor_force: list[tuple[float, float]] = []

    def set_arena(self, arena: lay.ArenaLayout) -> None:
        """Rebuild the static walls, so that a moved goal opening moves its blocks too."""
        if self._walls:
            self.space.remove(*self._walls)
        self.arena = arena
        self._walls = []
        for x0, y0, x1, y1 in arena.wall_boxes():
            wall = pymunk.Poly(self.space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            wall.friction = lay.WALL_FRICTION
            wall.elasticity = lay.WALL_ELASTICITY
            self._walls.append(wall)
        self.space.add(*self._walls)

    def populate(self, rng: np.random.Generator, num_objects: int, num_distractors: int) -> None:
        """Remove every dynamic body and spawn a fresh episode: agent, distractors, objects."""
        for piece in [self.agent, *self.objects, *self.distractors]:
            if piece is not None:
                self.space.remove(piece.body, piece.shape)
        self.agent = self._spawn_agent(rng)
        self.distractors = [self._spawn_distractor(rng) for _ in range(num_distractors)]
        # Hold counters start at zero so every distractor draws an action on the first step.
        self._hold = [0] * num_distractors
        self._distractor_force = [(0.0, 0.0)] * num_distractors
        self.objects = [self._spawn_object(rng) for _ in range(num_objects)]
        self.remaining = num_objects

    def _add(self, body: pymunk.Body, shape: pymunk.Shape, friction: float) -> None:
        shape.friction = friction
        self.space.add(body, shape)

    def _spawn_agent(self, rng: np.random.Generator) -> Piece:
        w, length, m = self.arena.width, self.arena.length, lay.AGENT_SPAWN_MARGIN
        body = pymunk.Body()
        body.position = (rng.uniform(m, w - m), rng.uniform(m, length - m))
        shape = pymunk.Circle(body, lay.AGENT_RADIUS)
        shape.density = lay.AGENT_DENSITY  # mass and moment follow from the shape, as in the game
        self._add(body, shape, lay.AGENT_FRICTION)
        return Piece(body, shape, np.zeros((0, 2)))

    def _spawn_distractor(self, rng: np.random.Generator) -> Piece:
        w, length, m = self.arena.width, self.arena.length, lay.DISTRACTOR_SPAWN_MARGIN
        body = pymunk.Body()
        body.position = (rng.uniform(m, w - m), rng.uniform(m, length - m))
        shape = pymunk.Poly(body, lay.DISTRACTOR_VERTICES)
        shape.density = lay.DISTRACTOR_DENSITY
        self._add(body, shape, lay.DISTRACTOR_FRICTION)
        return Piece(body, shape, _ccw(shape.get_vertices()))

    def _spawn_object(self, rng: np.random.Generator) -> Piece:
        t = lay.WALL_THICKNESS
        x_max = t + lay.OBJECT_SPAWN_FRACTION * (self.arena.width - 2 * t)
        body = pymunk.Body(lay.OBJECT_MASS, lay.OBJECT_MOMENT)
        body.position = (rng.uniform(t, x_max), rng.uniform(t, self.arena.length - t))
        kind = lay.SHAPE_KINDS[rng.integers(len(lay.SHAPE_KINDS))]
        colour = int(rng.integers(len(lay.COLOUR_NAMES)))
        body.angle = rng.uniform(0.0, 2.0 * math.pi)
        shape = pymunk.Poly(body, lay.SHAPE_VERTICES[kind])
        shape.elasticity = lay.OBJECT_ELASTICITY
        self._add(body, shape, lay.OBJECT_FRICTION)
        return Piece(body, shape, _ccw(shape.get_vertices()), colour, kind)

    def apply_controls(self, agent_force: tuple[float, float], rng: np.random.Generator) -> None:
        """Distractor and agent forces plus their goal-line clamps, before the physics step."""
        for i, piece in enumerate(self.distractors):
            if self._hold[i] == 0:
                self._distractor_force[i], self._hold[i] = self._draw_distractor_action(rng)
            self._hold[i] -= 1
            body = piece.body
            # Applied at the body origin, which sits 6.7 px ahead of the kite's centre of mass.
            body.apply_force_at_world_point(self._distractor_force[i], body.position)
            self._clamp(body, lay.DISTRACTOR_CLAMP_RADIUS)
        body = self.agent.body
        x, y = body.position
        # The reference pushes at the world point (x, x): same linear push plus a torque
        # -(x - y) * Fx that makes the agent spin. spin_quirk=False pushes at the centre.
        body.apply_force_at_world_point(agent_force, (x, x) if self.spin_quirk else (x, y))
        self._clamp(body, lay.AGENT_RADIUS)

    @staticmethod
    def _draw_distractor_action(rng: np.random.Generator) -> tuple[tuple[float, float], int]:
        """A force held for 2-9 steps: whole-degree direction, magnitude uniform in [0, 400)."""
        angle = math.radians(int(rng.integers(360)))
        magnitude = rng.uniform(0.0, lay.MAX_MAGNITUDE)
        scale = magnitude * lay.DISTRACTOR_FORCE_SCALE * lay.FORCE_MULTIPLIER
        low, high = lay.DISTRACTOR_HOLD
        hold = int(rng.integers(low, high + 1))
        return (math.cos(angle) * scale, math.sin(angle) * scale), hold

    def _clamp(self, body: pymunk.Body, radius: float) -> None:
        """Keep a body's centre ``radius`` short of the goal line, bouncing it back."""
        x, y = body.position
        if x + radius > self.arena.goal_x:
            body.position = (self.arena.goal_x - radius, y)
            vx, vy = body.velocity
            body.velocity = (lay.GOAL_BOUNCE * vx, lay.GOAL_BOUNCE * vy)

    def collect_deliveries(self) -> int:
        """Remove objects whose origin is past the scoring line; cap the speed of the rest."""
        line = self.arena.goal_x + lay.SCORING_MARGIN
        delivered = 0
        for i, piece in enumerate(self.objects):
            if piece is None:
                continue
            body = piece.body
            if body.position.x >= line:
                self.space.remove(body, piece.shape)
                self.objects[i] = None
                delivered += 1
                continue
            vx, vy = body.velocity
            if vx * vx + vy * vy > _CAP_SPEED_SQ:
                body.velocity = (lay.OBJECT_SPEED_DECAY * vx, lay.OBJECT_SPEED_DECAY * vy)
        self.remaining -= delivered
        return delivered

    def step(self) -> None:
        """Advance the simulation by one physics step."""
        self.space.step(lay.DT)

    def count_contacts(self) -> int:
        """Number of touching shape pairs (each counted once) after the last physics step."""
        pairs = set()

        def visit(arbiter: pymunk.Arbiter) -> None:
            a, b = (id(shape) for shape in arbiter.shapes)
            pairs.add((a, b) if a < b else (b, a))

        for piece in self.dynamic_pieces():
            piece.body.each_arbiter(visit)
        return len(pairs)

    def dynamic_pieces(self) -> list[Piece]:
        """Every dynamic body still in the world."""
        pieces = [self.agent, *self.distractors]
        return pieces + [piece for piece in self.objects if piece is not None]

    def object_positions(self) -> np.ndarray:
        """(num_objects, 2) body origins in spawn order; NaN rows for delivered objects."""
        out = np.full((len(self.objects), 2), np.nan)
        for i, piece in enumerate(self.objects):
            if piece is not None:
                out[i] = tuple(piece.body.position)
        return out

    def distractor_positions(self) -> np.ndarray:
        """(num_distractors, 2) body origins."""
        return np.array([tuple(p.body.position) for p in self.distractors]).reshape(-1, 2)
