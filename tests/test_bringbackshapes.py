"""Rules, physics and rendering of the BringBackShapes game, on the real pymunk simulation."""

import gymnasium as gym
import numpy as np
import pymunk
import pytest

from bringbackshapes import BringBackShapesEnv
from bringbackshapes import layout as lay
from bringbackshapes.physics import World
from bringbackshapes.render import TINT, bilinear_taps

FULL_RIGHT = np.array([0.0, 400.0])
IDLE = np.array([0.0, 0.0])


def _env_with_object(kind: str, **kwargs) -> BringBackShapesEnv:
    """A reset env (one shape per episode unless overridden) whose first object is ``kind``."""
    env = BringBackShapesEnv(**{"max_objects": 1, **kwargs})
    for seed in range(200):
        env.reset(seed=seed)
        if env.world.objects[0].kind == kind:
            return env
    raise AssertionError(f"no seed spawns a {kind}")


def _place(body: pymunk.Body, position, angle: float = 0.0, velocity=(0.0, 0.0)) -> None:
    body.position, body.angle, body.velocity, body.angular_velocity = position, angle, velocity, 0


def test_effective_masses_and_moments():
    env = BringBackShapesEnv(max_distractors=1)
    env.reset(seed=0)
    agent = env.world.agent.body
    # The density override makes the agent 0.1 * pi * 15^2 heavy, not the nominal 10.
    assert agent.mass == pytest.approx(70.686, abs=1e-3)
    assert agent.moment == pytest.approx(7952.16, abs=0.01)
    distractor = env.world.distractors[0].body
    assert distractor.mass == pytest.approx(60.0)
    assert distractor.moment == pytest.approx(6583.33, abs=0.01)
    shape = env.world.objects[0].body
    assert (shape.mass, shape.moment) == (20.0, 1e6)


@pytest.mark.parametrize("spin_quirk", [True, False])
def test_full_thrust_acceleration_matches_the_original_game(spin_quirk):
    world = World(lay.ArenaLayout.for_scale(1.0), spin_quirk=spin_quirk)
    rng = np.random.default_rng(0)
    world.populate(rng, num_objects=0, num_distractors=0)
    body = world.agent.body
    _place(body, (140.0, 300.0))
    speeds = {}
    for step in range(1, 61):
        world.apply_controls((400.0 * lay.FORCE_MULTIPLIER, 0.0), rng)
        world.collect_deliveries()
        world.step()
        speeds[step] = body.velocity.x
    # Measured on the original game: 9.4, 92 and 477 px/s after 1, 10 and 60 steps.
    assert speeds[1] == pytest.approx(40000 / body.mass / 60, rel=1e-9)
    assert speeds[1] == pytest.approx(9.43, abs=0.01)
    assert speeds[10] == pytest.approx(92, abs=0.5)
    assert speeds[60] == pytest.approx(477, abs=1)
    assert body.velocity.y == pytest.approx(0.0, abs=1e-9)
    # Pushing at (x, x) instead of (x, y) adds a torque and spins the agent.
    assert (abs(body.angular_velocity) > 100) is spin_quirk


def test_goal_line_clamp_snaps_and_bounces():
    env = BringBackShapesEnv(max_distractors=1)
    env.reset(seed=0)
    goal_x = env.arena.goal_x
    agent = env.world.agent.body
    _place(agent, (goal_x - 10.0, 300.0), velocity=(100.0, 50.0))
    kite = env.world.distractors[0].body
    _place(kite, (goal_x - 5.0, 400.0), velocity=(20.0, -10.0))
    env.world.apply_controls((0.0, 0.0), env.np_random)
    assert tuple(agent.position) == (goal_x - 15.0, 300.0)
    assert tuple(agent.velocity) == pytest.approx((-30.0, -15.0))
    assert tuple(kite.position) == (goal_x - 12.0, 400.0)
    assert tuple(kite.velocity) == pytest.approx((-6.0, 3.0))


def test_pushed_square_scores_exactly_once_and_terminates():
    env = _env_with_object("square")
    world = env.world
    square = world.objects[0]
    # As measured on the original game: square origin 135 px short of the goal line, agent
    # touching it, full thrust.
    _place(square.body, (440.0, 325.0))
    _place(world.agent.body, (425.0, 350.0))
    rewards, contacts = [], []
    for _ in range(40):
        _, reward, terminated, truncated, info = env.step(FULL_RIGHT)
        rewards.append(reward)
        contacts.append(info["contacts"])
        if terminated or truncated:
            break
    assert terminated and not truncated
    assert sum(rewards) == 1.0 and rewards.count(1.0) == 1
    assert 40 <= info["physics_steps"] <= 80  # original game: delivered after 57-68 physics steps
    assert max(contacts) >= 1
    assert info["shapes_delivered"] == 1
    assert np.isnan(info["object_positions"]).all()
    assert square.body not in world.space.bodies and square.shape not in world.space.shapes


def test_scoring_line_counts_origin_and_pays_once():
    env = BringBackShapesEnv(max_objects=2)
    env.reset(seed=0)
    goal_x, goal_mid = env.arena.goal_x, env.arena.goal_y + env.arena.goal_height / 2
    first, second = (p.body for p in env.world.objects)
    _place(env.world.agent.body, (200.0, 200.0))
    _place(first, (goal_x + lay.SCORING_MARGIN - 0.5, goal_mid - 60))  # just short of the line
    _place(second, (goal_x + lay.SCORING_MARGIN, goal_mid + 20))  # on the line: counts
    _, reward, terminated, _, info = env.step(IDLE)
    assert reward == 1.0 and not terminated and info["shapes_delivered"] == 1
    assert np.isnan(info["object_positions"][1]).all()
    assert not np.isnan(info["object_positions"][0]).any()
    _, reward, _, _, _ = env.step(IDLE)
    assert reward == 0.0


def test_dense_reward_bonus_per_delivering_substep():
    env = _env_with_object("square", dense_reward=True)
    goal_x, goal_mid = env.arena.goal_x, env.arena.goal_y + env.arena.goal_height / 2
    _place(env.world.objects[0].body, (goal_x + 10.0, goal_mid))
    _, reward, terminated, _, _ = env.step(IDLE)
    assert terminated
    assert reward == pytest.approx(1.0 + 1.5 - 1 / 1000)  # delivered on physics step t = 1


def test_object_speed_cap():
    env = BringBackShapesEnv(max_objects=2)
    env.reset(seed=0)
    fast, slow = (p.body for p in env.world.objects)
    _place(env.world.agent.body, (540.0, 550.0))
    _place(fast, (150.0, 150.0), velocity=(1000.0, 0.0))
    _place(slow, (150.0, 450.0), velocity=(700.0, 0.0))
    env.world.collect_deliveries()
    env.world.step()
    damping = lay.DAMPING**lay.DT
    assert fast.velocity.x == pytest.approx(1000.0 * damping * 0.99)
    assert slow.velocity.x == pytest.approx(700.0 * damping)


def test_truncates_at_time_limit_in_physics_steps():
    env = BringBackShapesEnv(time_limit=10, action_repeat=4)
    env.reset(seed=0)
    flags = [env.step(IDLE)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert env.physics_steps == 10  # the last decision stops after 2 of its 4 physics steps


def test_same_seed_same_observations_and_reset_continues_generator():
    def rollout(seed):
        env = BringBackShapesEnv(max_distractors=2)
        first, _ = env.reset(seed=seed)
        frames = [first] + [env.step(np.array([0.1 * i, 300.0]))[0] for i in range(25)]
        frames.append(env.reset()[0])
        return np.stack(frames)

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], a[-1])  # the next episode differs


def test_reset_frame_shows_new_episode():
    env = BringBackShapesEnv()
    env.reset(seed=0)
    for _ in range(5):
        env.step(FULL_RIGHT)
    obs, _ = env.reset()
    assert np.array_equal(obs, env.renderer.observation(env.world))


def test_observation_shape_dtype_and_grey_tint():
    env = BringBackShapesEnv(max_objects=1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    _place(env.world.objects[0].body, (140.0, 140.0))
    _place(env.world.agent.body, (350.0, 350.0))  # view 225..475: floor only, plus the agent
    obs = env.renderer.observation(env.world)
    assert (obs[:20, :20] == 50).all() and (obs[-20:, -20:] == 50).all()
    # The agent's steelblue (70, 130, 180) arrives tinted as (93, 129, 160).
    assert tuple(obs[29, 31]) == (93, 129, 160)
    assert obs.min() >= 50 and obs.max() <= 205  # the grey blend compresses every colour


def test_tint_table_matches_measured_colours():
    measured = {(0, 0, 0): (50, 50, 50), (149, 165, 166): (141, 151, 151)}
    measured |= {(0, 0, 255): (50, 50, 205), (160, 32, 240): (148, 70, 196)}
    for colour, tinted in measured.items():
        assert tuple(TINT[list(colour)]) == tinted


def test_bilinear_taps_follow_half_pixel_centres():
    taps, weights = bilinear_taps(250, 64)
    assert taps.shape == weights.shape == (64, 2)
    assert (weights.sum(axis=1) == 2048).all()
    centre = (np.arange(64) + 0.5) * 250 / 64 - 0.5
    resampled = (taps * weights).sum(axis=1) / 2048
    assert np.allclose(resampled, centre, atol=1e-3)


def test_camera_follows_agent_and_sees_walls_near_edges():
    env = BringBackShapesEnv()
    env.reset(seed=0)
    _place(env.world.agent.body, (140.0, 140.0))
    for piece in env.world.objects:
        _place(piece.body, (500.0, 500.0))
    obs = env.renderer.observation(env.world)
    assert tuple(obs[0, 0]) == (141, 151, 151)  # tinted wall in the top-left corner
    assert tuple(obs[-1, -1]) == (50, 50, 50)


@pytest.mark.parametrize(
    ("scale", "size", "goal_x", "opening"),
    [
        (1.0, (800, 700), 575, (237.5, 462.5)),
        (1.2, (960, 840), 735, (272.5, 567.5)),
        (1.4, (1120, 979), 895, (307.25, 671.75)),
        (1.6, (1280, 1120), 1055, (342.5, 777.5)),
    ],
)
def test_arena_size_per_scale(scale, size, goal_x, opening):
    arena = lay.ArenaLayout.for_scale(scale)
    assert (arena.width, arena.length) == size
    assert arena.goal_x == goal_x
    assert (arena.goal_y, arena.goal_y + arena.goal_height) == pytest.approx(opening)
    env = BringBackShapesEnv(arena_scale=scale)
    env.reset(seed=0)
    assert env.render().shape == (size[1], size[0], 3)


@pytest.mark.parametrize("distractors", [0, 1, 2, 4])
@pytest.mark.parametrize("scale", [1.0, 1.2, 1.4, 1.6])
def test_paper_variant_constructs_and_steps(distractors, scale):
    env = BringBackShapesEnv(max_distractors=distractors, arena_scale=scale)
    obs, info = env.reset(seed=1)
    assert len(env.world.distractors) == distractors
    assert info["distractor_positions"].shape == (distractors, 2)
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and info["physics_steps"] == 12


def test_variable_counts_and_goal_position_do_not_crash():
    env = BringBackShapesEnv(
        max_objects=4,
        max_distractors=3,
        variable_num_objects=True,
        variable_num_distractors=True,
        variable_goal_position=True,
    )
    objects, distractors, goal_ys = set(), set(), set()
    for episode in range(15):
        env.reset(seed=episode)
        env.step(env.action_space.sample())
        objects.add(len(env.world.objects))
        distractors.add(len(env.world.distractors))
        goal_ys.add(env.arena.goal_y)
        low, high = env.arena.goal_y_range
        assert low <= env.arena.goal_y <= high
        # The walls moved with the opening: solid just above it, open just inside it.
        x, y = env.arena.goal_x + 50, env.arena.goal_y
        assert _static_at(env.world.space, x, y - 3)
        assert not _static_at(env.world.space, x, y + 3)
    assert objects <= {1, 2, 3, 4} and len(objects) > 1
    assert distractors <= {1, 2, 3} and len(distractors) > 1
    assert len(goal_ys) == 15


def _static_at(space: pymunk.Space, x: float, y: float) -> bool:
    hits = space.point_query((x, y), 0.0, pymunk.ShapeFilter())
    return any(hit.shape.body.body_type == pymunk.Body.STATIC for hit in hits)


def test_variable_distractors_with_none_allowed():
    env = BringBackShapesEnv(max_distractors=0, variable_num_distractors=True)
    env.reset(seed=0)
    env.step(IDLE)
    assert env.world.distractors == []


def test_registered_basic_ids_and_render():
    env = gym.make("BringBackShapes-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and reward == 0.0
    image = env.render()
    assert image.shape == (700, 800, 3) and image.dtype == np.uint8
    env.close()
    assert gym.make("BringBackShapesDense-v0").unwrapped.dense_reward


def test_topdown_view_tints_only_the_camera_box():
    env = BringBackShapesEnv()
    env.reset(seed=0)
    image = env.render()
    cam_x, cam_y = env.renderer.camera_corner(env.world)
    assert tuple(image[0, 0]) == lay.WALL_COLOUR
    inside = image[cam_y : cam_y + 250, cam_x : cam_x + 250].copy()
    assert inside.min() >= 50  # no untinted black floor inside the box
    image[cam_y : cam_y + 250, cam_x : cam_x + 250] = 255
    assert (image == 0).all(axis=2).sum() > 100_000  # the floor outside it stays black


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError):
        BringBackShapesEnv(agent_view_size=400)  # an 800-px view does not fit in 700 px
    with pytest.raises(ValueError, match="max_objects"):
        BringBackShapesEnv(max_objects=0)
    with pytest.raises(ValueError, match="agent_view_size"):
        BringBackShapesEnv(agent_view_size=0)  # would render one colour


def test_random_return_benchmark_takes_an_episode_count(capsys):
    from bringbackshapes.bench import main

    main(["--random-return", "--episodes", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("over 2 episodes" in line for line in lines)
    assert "0 distractors" in lines[0] and "2 distractors" in lines[1]
