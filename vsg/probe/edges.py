"""Edge masks of a stream of standardised Jacobians: counts, changes and magnitudes per step.

The hot loop of the metrics. For every step and every tau of the grid it thresholds |J~|
into an edge mask, counts the edges, counts the entries whose edge status differs from the
previous step (c_t), adds the mask to per-entry edge counters, and takes the relative
Frobenius change of J~ against the previous step (all entries, and the entries that are a
headline edge at either step). Work runs step by step on preallocated masks (reductions over
whole chunks of boolean arrays were ~5x slower) and, for large Jacobians, in two threads over
halves of the rows (NumPy releases the GIL in its loops), each with its own state.
"""

import concurrent.futures

import numpy as np

# Jacobians with at least this many entries are split into two row blocks run in parallel.
PARALLEL_ENTRIES = 2**16
# Per-entry counters are uint8 (cheap to add) and flushed into int32 before they overflow.
FLUSH_EVERY = 255
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe-edges")


class _Block:
    """State of one row block: masks of the current and previous step, uint8 edge counters
    and the previous step's J~ (flattened)."""

    def __init__(self, rows, n_in, n_tau):
        self.rows = rows
        size = (rows.stop - rows.start) * n_in
        self.masks = (np.zeros((n_tau, size), bool), np.zeros((n_tau, size), bool))
        self.count8 = np.zeros((n_tau, size), np.uint8)
        self.prev_J = None


class EdgeTracker:
    """Edges of [t, n_out, n_in] chunks, fed in time order (see module docstring).

    tau_grid: sorted thresholds; headline: index of the headline tau. ``update`` takes |J~|
    (A), signed J~ (Jt, zero on excluded entries) and per-row thresholds, and returns per step
    the edge counts and changes [t, n_tau] and the two relative changes [t].
    """

    def __init__(self, n_out, n_in, n_tau, headline):
        self.n_out, self.n_in, self.n_tau, self.headline = n_out, n_in, n_tau, headline
        n_blocks = 2 if n_out >= 2 and n_out * n_in >= PARALLEL_ENTRIES else 1
        bounds = np.linspace(0, n_out, n_blocks + 1).astype(int)
        self.blocks = [
            _Block(slice(a, b), n_in, n_tau) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        self._count = np.zeros((n_tau, n_out, n_in), np.int32)
        self._since_flush = 0
        self._prev_sumsq = None  # sum of squares of the previous step's J~ (None: no step)

    def start_episode(self):
        self._prev_sumsq = None
        for block in self.blocks:
            block.prev_J = None

    @property
    def edge_count(self):
        """[n_tau, n_out, n_in] int: steps at which each entry was an edge, per tau."""
        self._flush()
        return self._count

    def _flush(self):
        for block in self.blocks:
            rows = self._count[:, block.rows].reshape(self.n_tau, -1)
            rows += block.count8
            block.count8[...] = 0
        self._since_flush = 0

    def update(self, A, Jt, thresholds):
        """A, Jt [t, n_out, n_in]; thresholds [n_tau, t, n_out] (inf for rows to skip).
        Returns (counts, changes [t, n_tau], rel_change, rel_change_edges [t]); changes and
        the relative changes are NaN at an episode's first step."""
        outs = []
        for start in range(0, len(A), FLUSH_EVERY):
            if self._since_flush + min(FLUSH_EVERY, len(A) - start) > FLUSH_EVERY:
                self._flush()
            piece = slice(start, start + FLUSH_EVERY)
            outs.append(self._update(A[piece], Jt[piece], thresholds[:, piece]))
            self._since_flush += len(A[piece])
        return tuple(np.concatenate(parts) for parts in zip(*outs, strict=True))

    def _update(self, A, Jt, thresholds):
        first = self._prev_sumsq is None
        if len(self.blocks) == 1:
            parts = [self._block_pass(self.blocks[0], A, Jt, thresholds)]
        else:
            jobs = [_POOL.submit(self._block_pass, b, A, Jt, thresholds) for b in self.blocks]
            parts = [job.result() for job in jobs]
        counts = sum(p[0] for p in parts)
        changes = sum(p[1] for p in parts).astype(float)
        mag = sum(
            p[2] for p in parts
        )  # [t, 4]: |dJ|^2, |dJ|^2 on edges, |J_prev|^2 on edges, |J|^2
        before = np.nan if self._prev_sumsq is None else self._prev_sumsq
        prev_sumsq = np.concatenate([[before], mag[:-1, 3]])
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.sqrt(mag[:, 0] / prev_sumsq)
            rel_edges = np.sqrt(mag[:, 1] / mag[:, 2])
        if first:
            changes[0], rel[0], rel_edges[0] = np.nan, np.nan, np.nan
        self._prev_sumsq = mag[-1, 3]
        return counts, changes, rel, rel_edges

    def _block_pass(self, block, A, Jt, thresholds):
        """One row block through all steps: (counts, changes [t, n_tau], magnitudes [t, 4])."""
        t, rows, h = len(A), block.rows, self.headline
        counts = np.zeros((t, self.n_tau), np.int64)
        changes = np.zeros((t, self.n_tau), np.int64)
        mag = np.zeros((t, 4))
        flip = np.empty(block.masks[0].shape[1], bool)
        shape = (rows.stop - rows.start, self.n_in)
        for s in range(t):
            cur, prev = block.masks
            has_prev = block.prev_J is not None
            for k in range(self.n_tau):
                np.greater(A[s, rows], thresholds[k, s, rows, None], out=cur[k].reshape(shape))
                counts[s, k] = np.count_nonzero(cur[k])
                np.add(block.count8[k], cur[k].view(np.uint8), out=block.count8[k])
                if has_prev:
                    np.not_equal(cur[k], prev[k], out=flip)
                    changes[s, k] = np.count_nonzero(flip)
            flat = Jt[s, rows].ravel()
            mag[s, 3] = np.dot(flat, flat)
            if has_prev:
                either = np.logical_or(cur[h], prev[h], out=flip)
                d = flat - block.prev_J
                mag[s, 0] = np.dot(d, d)
                np.multiply(d, either, out=d)
                mag[s, 1] = np.dot(d, d)
                p = block.prev_J * either
                mag[s, 2] = np.dot(p, p)
            block.prev_J = flat
            block.masks = (prev, cur)
        return counts, changes, mag
