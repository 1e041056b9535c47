"""The BringBackShapes adapter speaks the project's dict env API."""

import numpy as np
import pytest

from bringbackshapes import BringBackShapesEnv
from envs.bbs import make_bbs

CONFIG = {
    "action_repeat": 4,
    "time_limit": 3000,
    "size": [64, 64],
    "max_distractors": 0,
    "max_objects": 5,
    "variable_num_objects": False,
    "variable_num_distractors": False,
    "variable_goal_position": False,
    "agent_view_size": 125,
    "arena_scale": 1.0,
    "bbs_spin_quirk": True,
    "batch_size": 16,  # unrelated keys are ignored
}


def _config(**overrides):
    return {**CONFIG, **overrides}


def test_reset_and_step_keys_types_and_flags():
    env = make_bbs("bringbackshapes_sparse", 0, CONFIG)
    assert env.action_size == 2
    obs = env.reset()
    assert set(obs) == {
        "image",
        "reward",
        "is_first",
        "is_last",
        "is_terminal",
        "log_shapes_delivered",
        "log_contacts",
    }
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert type(obs["reward"]) is np.float32 and obs["reward"] == 0.0
    assert (obs["is_first"], obs["is_last"], obs["is_terminal"]) == (True, False, False)
    assert obs["log_shapes_delivered"] == 0 and obs["log_contacts"] == 0
    obs = env.step(np.zeros(2, np.float32))
    assert (obs["is_first"], obs["is_last"], obs["is_terminal"]) == (False, False, False)
    assert type(obs["reward"]) is np.float32
    assert isinstance(obs["log_shapes_delivered"], int) and isinstance(obs["log_contacts"], int)
    env.close()


@pytest.mark.parametrize(
    ("normalised", "game"),
    [((-1.0, -1.0), (0.0, 0.0)), ((-1.0, 0.0), (0.0, 200.0)), ((0.0, 1.0), (np.pi, 400.0))],
)
def test_action_mapping_matches_game_actions(normalised, game):
    adapter = make_bbs("bringbackshapes_sparse", 3, CONFIG)
    direct = BringBackShapesEnv()
    first = adapter.reset()["image"]
    assert np.array_equal(first, direct.reset(seed=3)[0])
    for _ in range(5):
        image = adapter.step(np.array(normalised, np.float32))["image"]
        expected = direct.step(np.array(game))[0]
        assert np.array_equal(image, expected)
    assert adapter.env.world.agent.body.position == direct.world.agent.body.position
    # A full-thrust action really moves the agent; zero magnitude leaves it at rest.
    moved = adapter.env.world.agent.body.velocity.length > 1.0
    assert moved is (game[1] > 0)


def test_time_limit_sets_last_but_not_terminal():
    env = make_bbs("bringbackshapes_sparse", 0, _config(time_limit=8))
    env.reset()
    first = env.step(np.zeros(2))
    second = env.step(np.zeros(2))
    assert not first["is_last"]
    assert second["is_last"] and not second["is_terminal"]
    with pytest.raises(RuntimeError):
        env.step(np.zeros(2))
    assert env.reset()["is_first"]


def test_all_delivered_sets_terminal():
    env = make_bbs("bringbackshapes_sparse", 0, _config(max_objects=1))
    env.reset()
    arena = env.env.arena
    body = env.env.world.objects[0].body
    body.position = (arena.goal_x + 10.0, arena.goal_y + arena.goal_height / 2)
    obs = env.step(np.array([-1.0, -1.0]))
    assert obs["reward"] == np.float32(1.0)
    assert obs["is_last"] and obs["is_terminal"]
    assert obs["log_shapes_delivered"] == 1


def test_seeding_reproducible_and_resets_continue_the_generator():
    def episode_starts(seed):
        env = make_bbs("bringbackshapes_sparse", seed, CONFIG)
        return [env.reset()["image"] for _ in range(3)]

    a, b, c = episode_starts(5), episode_starts(5), episode_starts(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], c[0])


def test_task_type_and_options_are_forwarded():
    dense = make_bbs("bringbackshapes_dense", 0, _config(bbs_spin_quirk=False, arena_scale=1.4))
    assert dense.env.dense_reward and not dense.env.world.spin_quirk
    assert dense.env.arena.length == 979
    no_key = {k: v for k, v in CONFIG.items() if k != "bbs_spin_quirk"}
    sparse = make_bbs("bringbackshapes_sparse", 0, no_key | {"max_distractors": 2})
    assert not sparse.env.dense_reward and sparse.env.world.spin_quirk  # quirk on by default
    sparse.reset()
    assert len(sparse.env.world.distractors) == 2
    with pytest.raises(ValueError):
        make_bbs("bringbackshapes_shaped", 0, CONFIG)
