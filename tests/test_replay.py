"""Tests for vsg.replay: episode files, capacity, sampling windows, seeding and resume."""

import re

import numpy as np
import pytest

from vsg.replay import (
    Replay,
    bytes_per_step,
    count_episodes,
    load_episodes,
    replay_ram_note,
    save_episode,
)

NAME = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{32}-(\d+)\.npz$")


def make_episode(length: int, offset: int = 0, terminal: bool = True) -> dict[str, np.ndarray]:
    """An episode of `length` transitions whose reward and pixels encode offset + index."""
    index = np.arange(length + 1)
    image = np.zeros((length + 1, 4, 4, 3), np.uint8)
    image[..., 0] = (index % 256)[:, None, None]
    return {
        "image": image,
        "action": np.stack([index, -index], -1).astype(np.float32),
        "reward": (offset + index).astype(np.float32),
        "is_first": index == 0,
        "is_last": index == length,
        "is_terminal": (index == length) & terminal,
        "log_extra": index.astype(np.int32),
    }


def step_through(replay: Replay, episode: dict[str, np.ndarray]) -> None:
    """Feed an episode to `add_step` as an environment loop would."""
    for t in range(len(episode["reward"])):
        obs = {key: value[t] for key, value in episode.items() if key != "action"}
        replay.add_step(obs, episode["action"][t])


def assert_episodes_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


def test_save_load_round_trip(tmp_path):
    episodes = [make_episode(7, offset=0), make_episode(3, offset=100, terminal=False)]
    paths = [save_episode(tmp_path, episode) for episode in episodes]
    loaded = load_episodes(tmp_path)
    assert list(loaded) == [path.stem for path in paths]
    for actual, expected in zip(loaded.values(), episodes, strict=True):
        assert_episodes_equal(actual, expected)


def test_save_is_atomic_and_names_the_length(tmp_path):
    path = save_episode(tmp_path, make_episode(12))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # No temporary file left.
    match = NAME.match(path.name)
    assert match is not None and int(match.group(1)) == 12
    assert count_episodes(tmp_path) == (1, 12)


def test_corrupt_file_is_skipped_with_warning(tmp_path):
    good = save_episode(tmp_path, make_episode(5))
    data = save_episode(tmp_path, make_episode(6)).read_bytes()
    corrupt = tmp_path / "20990101T000000-0123456789abcdef0123456789abcdef-6.npz"
    corrupt.write_bytes(data[: len(data) // 2])  # Truncated, as after a crash mid-copy.
    (tmp_path / ".leftover.npz.tmp").write_bytes(b"partial")  # Temporary files are ignored.
    with pytest.warns(UserWarning, match=corrupt.name):
        loaded = load_episodes(tmp_path)
    assert len(loaded) == 2 and good.stem in loaded
    assert corrupt.exists()  # Kept for inspection, not deleted.


def test_capacity_evicts_oldest_episodes(tmp_path):
    replay = Replay(tmp_path, capacity=25, length=3, seed=0)
    for i in range(4):
        replay.add_episode(make_episode(10, offset=1000 * i))
    assert replay.num_episodes == 2 and replay.num_steps == 20
    assert replay.total_episodes == 4 and replay.total_steps == 40
    starts = {float(s) for s in replay.sample(64)["reward"][:, 0] // 1000}
    assert starts == {2.0, 3.0}  # Only the two newest episodes remain.
    assert count_episodes(tmp_path) == (4, 40)  # Eviction does not touch the disk.
    kept = load_episodes(tmp_path, capacity_steps=25).values()
    assert [episode["reward"][0] for episode in kept] == [2000.0, 3000.0]


def test_sample_shapes_dtypes_and_contiguous_windows(tmp_path):
    replay = Replay(tmp_path, capacity=0, length=5, seed=1)
    for i in range(3):
        replay.add_episode(make_episode(20 + i, offset=1000 * i))
    replay.add_episode(make_episode(3, offset=9000))  # 4 entries < T: never sampled.
    batch = replay.sample(32)
    expected = {
        "image": ((32, 5, 4, 4, 3), np.uint8),
        "action": ((32, 5, 2), np.float32),
        "reward": ((32, 5), np.float32),
        "is_first": ((32, 5), np.bool_),
        "is_last": ((32, 5), np.bool_),
        "is_terminal": ((32, 5), np.bool_),
        "log_extra": ((32, 5), np.int32),
    }
    assert {key: (value.shape, value.dtype) for key, value in batch.items()} == expected
    np.testing.assert_array_equal(np.diff(batch["reward"], axis=1), 1.0)
    index = batch["reward"] % 1000
    np.testing.assert_array_equal(batch["image"][:, :, 0, 0, 0], index)
    np.testing.assert_array_equal(batch["action"][..., 0], index)
    np.testing.assert_array_equal(batch["is_first"], index == 0)
    assert not np.any(batch["reward"] >= 9000)


def test_episode_with_exactly_length_entries_is_sampled():
    replay = Replay(None, capacity=0, length=5, seed=0, save=False)
    replay.add_episode(make_episode(4))
    np.testing.assert_array_equal(replay.sample(3)["reward"], np.tile(np.arange(5.0), (3, 1)))


def test_oversample_ends_favours_the_last_window():
    def last_window_share(oversample_ends: bool) -> float:
        replay = Replay(None, 0, length=10, seed=0, oversample_ends=oversample_ends, save=False)
        replay.add_episode(make_episode(99))  # 100 entries: starts 0..90.
        starts = replay.sample(4000)["reward"][:, 0]
        assert starts.min() >= 0 and starts.max() <= 90
        return float(np.mean(starts == 90))

    uniform, oversampled = last_window_share(False), last_window_share(True)
    assert uniform == pytest.approx(1 / 91, abs=0.01)
    assert oversampled == pytest.approx(10 / 100, abs=0.03)


def test_oversample_ends_draws_the_start_below_the_entry_count():
    """Starts drawn from [0, n - 1], then clipped: with n = 3, T = 2 the last window has 2/3."""
    replay = Replay(None, 0, length=2, seed=0, oversample_ends=True, save=False)
    replay.add_episode(make_episode(2))  # 3 entries: starts 0 or 1.
    starts = replay.sample(20000)["reward"][:, 0]
    assert float(np.mean(starts == 1)) == pytest.approx(2 / 3, abs=0.015)  # [0, n]: 3/4


def test_same_seed_same_samples():
    def samples(seed: int) -> np.ndarray:
        replay = Replay(None, capacity=0, length=4, seed=seed, save=False)
        for i in range(5):
            replay.add_episode(make_episode(30, offset=1000 * i))
        return np.concatenate([replay.sample(8)["reward"] for _ in range(3)])

    np.testing.assert_array_equal(samples(7), samples(7))
    assert not np.array_equal(samples(7), samples(8))


def test_add_step_builds_episodes_and_keeps_running_one_out(tmp_path):
    replay = Replay(tmp_path, capacity=0, length=3, seed=0)
    expected = make_episode(6)
    step_through(replay, expected)
    partial = make_episode(8, offset=5000)
    for t in range(4):  # An unfinished episode is neither stored nor sampled.
        obs = {key: value[t] for key, value in partial.items() if key != "action"}
        assert replay.add_step(obs, partial["action"][t]) is None
    assert replay.num_episodes == 1 and count_episodes(tmp_path) == (1, 6)
    assert not np.any(replay.sample(50)["reward"] >= 5000)
    assert_episodes_equal(next(iter(load_episodes(tmp_path).values())), expected)


def test_add_step_rejects_a_missing_reset_and_warns_on_abandoned_episode():
    replay = Replay(None, capacity=0, length=2, seed=0, save=False)
    episode = make_episode(5)
    obs = {key: value[2] for key, value in episode.items() if key != "action"}
    with pytest.raises(ValueError, match="is_first"):
        replay.add_step(obs, episode["action"][2])
    reset = {key: value[0] for key, value in episode.items() if key != "action"}
    replay.add_step(reset, episode["action"][0])
    with pytest.warns(UserWarning, match="unfinished"):
        replay.add_step(reset, episode["action"][0])


def test_float64_inputs_are_stored_as_float32():
    replay = Replay(None, capacity=0, length=2, seed=0, save=False)
    episode = make_episode(3)
    episode["reward"] = episode["reward"].astype(np.float64)
    episode["log_value"] = np.ones(4, np.float64)
    replay.add_episode(episode)
    batch = replay.sample(1)
    assert batch["reward"].dtype == np.float32 and batch["log_value"].dtype == np.float32


def test_rebuild_from_directory_matches_original(tmp_path):
    original = Replay(tmp_path, capacity=35, length=4, seed=3)
    for i in range(5):
        step_through(original, make_episode(10 + i, offset=1000 * i))
    rebuilt = Replay(tmp_path, capacity=35, length=4, seed=3)
    assert (rebuilt.num_episodes, rebuilt.num_steps) == (original.num_episodes, original.num_steps)
    assert (rebuilt.total_episodes, rebuilt.total_steps) == (5, 60)
    assert rebuilt.stats() == original.stats()
    assert_episodes_equal(rebuilt.sample(16), original.sample(16))


def test_sample_without_long_enough_episodes_raises():
    replay = Replay(None, capacity=0, length=10, seed=0, save=False)
    replay.add_episode(make_episode(3))
    with pytest.raises(ValueError, match="at least 10 entries"):
        replay.sample(2)


def test_bytes_per_step_counts_stored_dtypes():
    obs = {
        "image": np.zeros((64, 64, 3), np.uint8),
        "velocity": np.zeros(9, np.float64),  # stored as float32
        "reward": np.float64(0.5),  # stored as float32
        "is_first": False,
        "is_last": False,
        "is_terminal": False,
    }
    assert bytes_per_step(obs, action_size=2) == 64 * 64 * 3 + 9 * 4 + 4 + 3 + 2 * 4


@pytest.mark.parametrize(
    "steps, repeat, step_bytes, kept, gigabytes",
    [
        (2_503_001, 4, 12_303, "625,751", "7.7"),  # BringBackShapes: image, 2-D action
        (500_005, 2, 12_415, "250,003", "3.1"),  # DMC walker: image, 24 floats, 6-D action
    ],
)
def test_replay_ram_note_for_a_whole_paper_run(steps, repeat, step_bytes, kept, gigabytes):
    note, warning = replay_ram_note(step_bytes, steps, repeat, capacity=0)
    assert f"up to {kept} steps" in note and f"~{gigabytes} GB" in note
    assert warning is None


def test_replay_ram_note_warns_when_the_capacity_evicts():
    note, warning = replay_ram_note(12_303, 2_503_001, 4, capacity=500_000)
    assert "up to 500,000 steps" in note and "~6.2 GB" in note
    assert "125,751 steps will be evicted" in warning
    assert replay_ram_note(12_303, 2_503_001, 4, capacity=625_751)[1] is None
