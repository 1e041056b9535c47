"""The next training batch, sampled from the replay on a background thread while an update runs.

NumPy and threads only, so the loop that uses it stays free of TensorFlow.
"""

import concurrent.futures
import contextlib


class Prefetcher:
    """Batches of `batch_size` sequences (the arrays of `keys`) from `replay`: the same batches,
    in the same order, as `replay.sample(batch_size)` called at each `next()` would give.

    In `with prefetcher.ahead():` the batch that the next `next()` will return is sampled on a
    background thread; leaving the block waits for it, so the replay is only read, never
    changed, while the thread runs. That batch is used only if no episode was added since it
    was sampled; otherwise the sampler's generator is put back where it was and the batch is
    sampled again, which is what the synchronous path would have drawn. `hits` counts the
    batches served from the background thread.
    """

    def __init__(self, replay, batch_size, keys):
        self._replay = replay
        self._batch_size = batch_size
        self._keys = tuple(keys)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "replay-prefetch")
        self._ahead = None  # (replay version, sampler state before sampling, future)
        self.hits = 0

    def _sample(self):
        batch = self._replay.sample(self._batch_size)
        return {key: batch[key] for key in self._keys}

    def next(self):
        """The next batch {key: [B, T, ...]}."""
        if self._ahead is not None:
            version, state, future = self._ahead
            self._ahead = None
            batch = future.result()
            if version == self._replay.total_episodes:
                self.hits += 1
                return batch
            self._replay.sampler_state = state  # the replay changed: draw again, as sync would
        return self._sample()

    @contextlib.contextmanager
    def ahead(self):
        """Samples the next batch in the background during the block (once per `next()`)."""
        if self._ahead is None:
            state = self._replay.sampler_state
            future = self._executor.submit(self._sample)
            self._ahead = (self._replay.total_episodes, state, future)
        future = self._ahead[2]
        try:
            yield
        finally:
            concurrent.futures.wait([future])

    def close(self):
        """Stops the background thread (after the batch it may be sampling)."""
        self._executor.shutdown(wait=True)
