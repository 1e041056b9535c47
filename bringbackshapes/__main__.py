"""Command line: ``python -m bringbackshapes gif OUT.gif --seed 0`` records an episode as a GIF.

The policy is uniformly random or a scripted "go home" push (``--policy push``); frames are the
top-down arena view with the camera box, or the agent's own 64×64 view (``--view agent``).
"""

import argparse
import math

import imageio.v2 as imageio
import numpy as np
from PIL import Image

from bringbackshapes.env import BringBackShapesEnv


def _push_home(env: BringBackShapesEnv) -> np.ndarray:
    """Scripted policy: push toward the middle of the goal opening at full force."""
    x, y = env.world.agent.body.position
    arena = env.arena
    angle = math.atan2(arena.goal_y + arena.goal_height / 2 - y, arena.goal_x - x)
    return np.array([angle % (2 * math.pi), 400.0], dtype=np.float32)


def _frame(env: BringBackShapesEnv, obs: np.ndarray, view: str, scale: float) -> np.ndarray:
    image = Image.fromarray(env.render() if view == "arena" else obs)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))


def record_gif(args: argparse.Namespace) -> int:
    """Play one episode and write its frames to ``args.out``; returns the number of frames."""
    env = BringBackShapesEnv(
        max_distractors=args.distractors, arena_scale=args.arena_scale, spin_quirk=not args.no_spin
    )
    obs, _ = env.reset(seed=args.seed)
    env.action_space.seed(args.seed)  # the random policy is reproducible too
    frames = [_frame(env, obs, args.view, args.scale)]
    for _ in range(args.steps):
        action = _push_home(env) if args.policy == "push" else env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        frames.append(_frame(env, obs, args.view, args.scale))
        if terminated or truncated:
            break
    imageio.mimsave(args.out, frames, duration=1000 / env.metadata["render_fps"], loop=0)
    print(f"wrote {len(frames)} frames to {args.out}; shapes delivered: {env.shapes_delivered}")
    return len(frames)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bringbackshapes")
    commands = parser.add_subparsers(dest="command", required=True)
    gif = commands.add_parser("gif", help="write a GIF of one episode")
    gif.add_argument("out")
    gif.add_argument("--seed", type=int, default=0)
    gif.add_argument("--steps", type=int, default=200, help="agent decisions (4 physics steps)")
    gif.add_argument("--policy", choices=["random", "push"], default="random")
    gif.add_argument("--view", choices=["arena", "agent"], default="arena")
    gif.add_argument("--scale", type=float, default=0.5, help="resize factor of each frame")
    gif.add_argument("--distractors", type=int, default=0)
    gif.add_argument("--arena-scale", type=float, default=1.0)
    gif.add_argument("--no-spin", action="store_true", help="push the agent at its centre")
    record_gif(parser.parse_args(argv))


if __name__ == "__main__":
    main()
