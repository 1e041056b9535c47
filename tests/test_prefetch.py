"""`vsg.prefetch.Prefetcher`: batches sampled ahead on a thread equal the synchronous ones."""

import threading

import numpy as np
from test_replay import make_episode

from vsg.prefetch import Prefetcher
from vsg.replay import Replay

KEYS = ("image", "action", "reward", "is_first")


def sampled(replay):
    batch = replay.sample(4)
    return {key: batch[key] for key in KEYS}


def replay_with(lengths, seed=7):
    replay = Replay(None, 0, 5, seed, save=False)
    for index, length in enumerate(lengths):
        replay.add_episode(make_episode(length, offset=100 * index))
    return replay


def test_batches_equal_the_synchronous_path_for_a_fixed_seed():
    """A loop's pattern: updates (sampling ahead), extra batches (the video), new episodes."""
    sync, ahead = replay_with([9, 12, 6]), replay_with([9, 12, 6])
    prefetcher = Prefetcher(ahead, 4, KEYS)
    threads = set()
    expected, actual = [], []
    for step in range(30):
        expected.append(sampled(sync))
        actual.append(prefetcher.next())
        with prefetcher.ahead():  # the update runs here while the next batch is sampled
            threads.add(threading.current_thread().name)
        if step % 7 == 3:  # a report's batch between two updates
            expected.append(sampled(sync))
            actual.append(prefetcher.next())
        if step % 5 == 4:  # an episode ends between two updates
            for replay in (sync, ahead):
                replay.add_episode(make_episode(8 + step, offset=1000 + step))
    prefetcher.close()
    assert len(actual) == len(expected) == 30 + 4
    for want, got in zip(expected, actual, strict=True):
        assert got.keys() == want.keys()
        for key in KEYS:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert 0 < prefetcher.hits < len(actual)  # some ahead, some redrawn after an episode
    assert threads == {threading.main_thread().name}


def test_batches_are_sampled_on_another_thread():
    replay = replay_with([9])
    names = []
    sample = replay.sample

    class Recording:
        """Reads the replay as the prefetcher does and notes the thread it runs on."""

        total_episodes = property(lambda self: replay.total_episodes)
        sampler_state = property(
            lambda self: replay.sampler_state,
            lambda self, state: setattr(replay, "sampler_state", state),
        )

        def sample(self, batch_size):
            names.append(threading.current_thread().name)
            return sample(batch_size)

    prefetcher = Prefetcher(Recording(), 2, KEYS)
    prefetcher.next()
    with prefetcher.ahead():
        pass
    prefetcher.next()
    prefetcher.close()
    assert names[0] == threading.main_thread().name
    assert names[1].startswith("replay-prefetch") and prefetcher.hits == 1
