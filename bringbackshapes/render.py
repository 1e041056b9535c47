"""Pure-numpy rendering of the arena: the agent's tinted egocentric view and a top-down view.

The reference drew the whole screen with pygame every physics step, tinted the camera box
grey, cropped it and shrank it with OpenCV's bilinear resize. Bilinear downscaling reads only
the two source pixels either side of each output sample, so we rasterise just those source
pixels (2·h rows by 2·w columns) and blend them with the same fixed-point weights. This gives
the same image for a fraction of the cost, and only when an observation is returned.
"""

import math

import numpy as np

from bringbackshapes import layout as lay
from bringbackshapes.physics import Piece, World

# Palette indices of the label images.
FLOOR, WALL, GOAL, AGENT, HEADING, DISTRACTOR, OBJECT = range(7)
PALETTE = np.array(
    [
        lay.FLOOR_COLOUR,
        lay.WALL_COLOUR,
        lay.GOAL_COLOUR,
        lay.AGENT_COLOUR,
        lay.HEADING_COLOUR,
        lay.DISTRACTOR_COLOUR,
        *(lay.OBJECT_COLOURS[name] for name in lay.COLOUR_NAMES),
    ],
    dtype=np.uint8,
)

# Pygame's per-surface alpha blend of the grey camera box, in integer arithmetic:
# c' = c + (((128 - c) * 100 + 128) >> 8). It reproduces the measured floor 50, wall
# (141, 151, 151), blue (50, 50, 205) and agent (93, 129, 160).
_LEVELS = np.arange(256, dtype=np.int64)
TINT = (_LEVELS + (((lay.CAMERA_GREY - _LEVELS) * lay.CAMERA_ALPHA + 128) >> 8)).astype(np.uint8)

_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: weights are integers summing to 2048
_COEF_SCALE = 1 << _COEF_BITS


def bilinear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (dst, 2) and integer weights (dst, 2) of a bilinear resize src -> dst.

    Half-pixel centres, no antialiasing, edge clamping and 11-bit weights, as in
    ``cv2.resize(..., interpolation=INTER_LINEAR)``.
    """
    f = (np.arange(dst) + 0.5) * (src / dst) - 0.5
    i0 = np.floor(f).astype(np.int64)
    frac = f - i0
    frac[i0 < 0] = 0.0
    i0 = np.clip(i0, 0, src - 1)
    frac[i0 >= src - 1] = 0.0
    w1 = np.round(frac * _COEF_SCALE).astype(np.int64)
    taps = np.stack([i0, np.minimum(i0 + 1, src - 1)], axis=1)
    return taps, np.stack([_COEF_SCALE - w1, w1], axis=1)


def _static_labels(arena: lay.ArenaLayout) -> np.ndarray:
    """(length, width) label image of floor, goal and walls: pixel (X, Y) samples point (X, Y)."""
    labels = np.full((arena.length, arena.width), FLOOR, dtype=np.uint8)
    for label, boxes in ((GOAL, [arena.goal_box()]), (WALL, arena.wall_boxes())):
        for x0, y0, x1, y1 in boxes:
            labels[math.ceil(y0) : math.floor(y1) + 1, math.ceil(x0) : math.floor(x1) + 1] = label
    return labels


def _polygon_mask(xs: np.ndarray, ys: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Points of the grid xs × ys inside the convex counter-clockwise polygon ``verts``."""
    edges = np.roll(verts, -1, axis=0) - verts
    dx = xs[None, None, :] - verts[:, 0, None, None]
    dy = ys[None, :, None] - verts[:, 1, None, None]
    cross = edges[:, 0, None, None] * dy - edges[:, 1, None, None] * dx
    return np.all(cross >= 0.0, axis=0)


def _line_mask(xs: np.ndarray, ys: np.ndarray, p0, p1) -> np.ndarray:
    """Grid points on a 1-px line between rounded end points, one pixel per major-axis step."""
    (x0, y0), (x1, y1) = np.round(p0), np.round(p1)
    X, Y = xs[None, :], ys[:, None]
    if abs(x1 - x0) >= abs(y1 - y0):
        on = np.round(y0 + (X - x0) * ((y1 - y0) / (x1 - x0) if x1 != x0 else 0.0)) == Y
        return on & (X >= min(x0, x1)) & (X <= max(x0, x1))
    on = np.round(x0 + (Y - y0) * (x1 - x0) / (y1 - y0)) == X
    return on & (Y >= min(y0, y1)) & (Y <= max(y0, y1))


def _disc_mask(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    """Grid points within ``r`` of (cx, cy)."""
    return (xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2 <= r * r


def _paint(labels, xs, ys, box, label, mask_fn, *args) -> None:
    """Set ``label`` where ``mask_fn(sub_xs, sub_ys, *args)`` holds, inside ``box`` only."""
    x0, y0, x1, y1 = box
    i0, i1 = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
    j0, j1 = np.searchsorted(ys, y0, "left"), np.searchsorted(ys, y1, "right")
    if i0 < i1 and j0 < j1:
        sub = labels[j0:j1, i0:i1]
        sub[mask_fn(xs[i0:i1], ys[j0:j1], *args)] = label


def _draw_polygon(labels: np.ndarray, xs: np.ndarray, ys: np.ndarray, piece: Piece, label: int):
    """Draw one polygonal body, skipping it cheaply when it cannot reach the sampled window."""
    body = piece.body
    px, py = body.position
    reach = piece.reach
    if px + reach < xs[0] or px - reach > xs[-1] or py + reach < ys[0] or py - reach > ys[-1]:
        return
    c, s = math.cos(body.angle), math.sin(body.angle)
    v = piece.local_vertices
    verts = np.stack([c * v[:, 0] - s * v[:, 1] + px, s * v[:, 0] + c * v[:, 1] + py], axis=1)
    box = (*verts.min(axis=0), *verts.max(axis=0))
    _paint(labels, xs, ys, box, label, _polygon_mask, verts)


def draw_bodies(labels: np.ndarray, xs: np.ndarray, ys: np.ndarray, world: World) -> None:
    """Draw objects, distractors and the agent (in that order) onto the grid xs × ys."""
    for piece in world.objects:
        if piece is not None:
            _draw_polygon(labels, xs, ys, piece, OBJECT + piece.colour)
    for piece in world.distractors:
        _draw_polygon(labels, xs, ys, piece, DISTRACTOR)
    body, r = world.agent.body, lay.AGENT_RADIUS
    cx, cy = body.position
    _paint(labels, xs, ys, (cx - r, cy - r, cx + r, cy + r), AGENT, _disc_mask, cx, cy, r)
    # The heading line from the centre to the rim shows the (possibly spinning) body angle.
    tip = (cx + r * math.cos(body.angle), cy + r * math.sin(body.angle))
    line_box = (min(cx, tip[0]) - 1, min(cy, tip[1]) - 1, max(cx, tip[0]) + 1, max(cy, tip[1]) + 1)
    _paint(labels, xs, ys, line_box, HEADING, _line_mask, (cx, cy), tip)


class Renderer:
    """Draws observations of size ``out_size`` = (height, width) from a ``World``."""

    def __init__(self, arena: lay.ArenaLayout, view_half_size: int, out_size: tuple[int, int]):
        side = 2 * view_half_size
        if side > min(arena.width, arena.length):
            raise ValueError(f"view side {side} exceeds the {arena.width}x{arena.length} arena")
        self.view_side = side
        self.out_size = tuple(out_size)
        rows, wy = bilinear_taps(side, self.out_size[0])
        cols, wx = bilinear_taps(side, self.out_size[1])
        # weights[a][b][i, j] multiplies source tap (row a, column b) of output pixel (i, j).
        self._weights = [
            [np.outer(wy[:, a], wx[:, b]).astype(np.int32)[:, :, None] for b in (0, 1)]
            for a in (0, 1)
        ]
        self._rows, self._cols = rows.reshape(-1), cols.reshape(-1)
        rgba = np.zeros((len(PALETTE), 4), dtype=np.uint8)
        rgba[:, :3] = TINT[PALETTE]
        self._packed = rgba.view(np.uint32).ravel()
        self.set_arena(arena)

    def set_arena(self, arena: lay.ArenaLayout) -> None:
        """Redraw the static background, e.g. after the goal opening moved."""
        self.arena = arena
        self._static = _static_labels(arena)

    def camera_corner(self, world: World) -> tuple[int, int]:
        """Top-left screen pixel of the egocentric camera box, clipped to the screen."""
        x, y = world.agent.body.position
        half = self.view_side // 2
        cam_x = min(max(math.floor(x) - half, 0), self.arena.width - self.view_side)
        cam_y = min(max(math.floor(y) - half, 0), self.arena.length - self.view_side)
        return cam_x, cam_y

    def observation(self, world: World) -> np.ndarray:
        """The tinted egocentric view, bilinearly resized to ``out_size``, uint8 HWC."""
        cam_x, cam_y = self.camera_corner(world)
        xs, ys = self._cols + cam_x, self._rows + cam_y
        labels = self._static.take(ys, axis=0).take(xs, axis=1)
        draw_bodies(labels, xs, ys, world)
        h, w = self.out_size
        # Colours as packed RGBA words: one flat gather instead of a slow (n, 3) fancy index.
        pix = self._packed.take(labels).view(np.uint8).reshape(h, 2, w, 2, 4)
        # Fixed-point blend of the four taps; int32 is exact: 255 * 2048 * 2048 < 2**31.
        acc = pix[:, 0, :, 0] * self._weights[0][0]
        acc += pix[:, 0, :, 1] * self._weights[0][1]
        acc += pix[:, 1, :, 0] * self._weights[1][0]
        acc += pix[:, 1, :, 1] * self._weights[1][1]
        acc += 1 << (2 * _COEF_BITS - 1)
        acc >>= 2 * _COEF_BITS
        return acc[:, :, :3].astype(np.uint8)

    def topdown(self, world: World) -> np.ndarray:
        """The whole screen, untinted except for the grey camera box, uint8 (length, width, 3)."""
        xs, ys = np.arange(self.arena.width), np.arange(self.arena.length)
        labels = self._static.copy()
        draw_bodies(labels, xs, ys, world)
        image = PALETTE[labels]
        cam_x, cam_y = self.camera_corner(world)
        box = image[cam_y : cam_y + self.view_side, cam_x : cam_x + self.view_side]
        box[...] = TINT[box]
        return image
