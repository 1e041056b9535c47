"""Jacobian-sparsity metrics along an episode (NumPy only).

Input: Jacobians J of shape [T, n_out, n_in] at T consecutive steps (row i = output i, column
j = input j). All quantities are *densities* (fraction of present edges); sparsity is
1 - density and is never reported under another name. The questions follow Pandaram et al.
(2025, "Dynamic Sparsity", arXiv:2511.08086): is the causal graph sparse over all states
(global), at each state (local), and does it change sparsely in time (temporal)?

Definitions:

- Standardised Jacobian ``J~_ij = J_ij * in_scale_j / out_scale_i`` (e.g. per-dimension stds),
  invariant to rescaling any single coordinate; scales are floored at ``scale_floor`` so that
  near-constant dimensions do not blow up (they are counted).
- Diagonal (``diag``): "keep" counts the self-edge like any other; "exclude" drops the entry
  (i, diag_cols[i]) from every count (off-diagonal sparsity of recurrent latents, whose self
  entry carries the state over); "subtract" analyses J - I on those entries (the update
  Jacobian of discrete-time physics, where J = I + O(dt)).
- Edge rule (``rule``): "row" means ``|J~_ij| > tau * max_k |J~_ik|`` where the max runs over the
  whole row, the self entry included (so a carry-over of ~1 makes small cross terms negligible);
  "abs" means ``|J~_ij| > tau``. Either way an edge also needs ``|J~_ij| > zero_atol``. Every
  tau of the (sorted) grid is evaluated; ``headline_tau`` picks the one quoted alone.
- Local density at a step: present edges / considered entries of the rows that are not zero.
  Union density: entries that are an edge at some step (``density_union``) or at >= q of the
  steps (``density_union_freq``, q = ``union_min_freq``); gap = union - mean local.
- Temporal change at step t, per tau: c_t = number of entries whose edge status differs from
  step t - 1 (``hamming_tau``; ``hamming_frac_tau`` divides by the considered entries); the
  no-change fraction is the share of steps with c_t = 0. Magnitude measures that count no
  threshold crossings: ``rel_change`` = ||J~_t - J~_{t-1}||_F / ||J~_{t-1}||_F over the
  considered entries, ``rel_change_edges`` the same restricted to entries that are a headline
  edge at t or t - 1.
- Effective parents ``k_mass``: smallest number of inputs holding ``mass`` of a row's L1 mass
  (threshold-free); ``k_mass_frac`` divides by the considered inputs of the row. It is exact
  per row, averaged over at most ``k_mass_rows`` random rows per step (all rows if fewer).
- Zero rows: a row whose raw entries are all <= ``zero_atol`` at a step is excluded from the
  step's density (a row-relative rule is undefined for it). A row that is zero at every step
  is "dead" (``n_dead_rows``); the other zero rows are "saturated" at that step (tanh at +-1,
  ReLU off): ``saturated_row_frac_mean`` is their fraction of the non-dead rows.
  A row equal to the unit vector e_i ("identity row": the dimension is copied) is *not* a zero
  row: it is a genuinely sparse row with no parent but itself.
"""

import dataclasses
import math

import numpy as np

from vsg.probe.edges import EdgeTracker
from vsg.probe.stats import frac_zero, jsonable, nanmean, stats

DEFAULT_TAU_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 5e-2, 1e-1, 0.2)
# Bin edges of the |J~| histogram, in log10 units; exact zeros are counted apart.
HIST_LOG10_EDGES = np.linspace(-12.0, 4.0, 65)
# The histogram takes every k-th step, k = max(1, entries per step // HIST_ENTRIES).
HIST_ENTRIES = 2**13


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Settings of the metrics (see the module docstring); the tau grid is kept sorted."""

    tau_grid: tuple = DEFAULT_TAU_GRID
    headline_tau: float = 1e-2
    rule: str = "row"  # "row" | "abs"
    diag: str = "keep"  # "keep" | "exclude" | "subtract"
    zero_atol: float = 1e-8
    identity_atol: float = 1e-6
    scale_floor: float = 1e-6
    union_min_freq: float = 0.05  # frequency-thresholded union: edge present in >= q of steps
    mass: float = 0.9  # k_mass: smallest number of inputs holding this fraction of a row's L1
    k_mass_rows: int = 32  # rows per step sampled for k_mass (seeded by k_mass_seed)
    k_mass_seed: int = 0

    def __post_init__(self):
        if self.rule not in ("row", "abs"):
            raise ValueError(f"rule must be 'row' or 'abs', got {self.rule!r}")
        if self.diag not in ("keep", "exclude", "subtract"):
            raise ValueError(f"diag must be 'keep', 'exclude' or 'subtract', got {self.diag!r}")
        grid = tuple(sorted(float(t) for t in self.tau_grid))
        if not grid or grid[0] < 0:
            raise ValueError(f"tau_grid must be non-empty and non-negative, got {self.tau_grid}")
        object.__setattr__(self, "tau_grid", grid)
        if not any(math.isclose(t, self.headline_tau) for t in grid):
            raise ValueError("headline_tau must be one of tau_grid")

    @property
    def headline_index(self) -> int:
        gaps = [abs(t - self.headline_tau) for t in self.tau_grid]
        return int(np.argmin(gaps))


def k_mass(abs_rows: np.ndarray, mass: float = 0.9) -> np.ndarray:
    """Effective number of parents: smallest k such that the k largest entries of a row hold
    ``mass`` of its L1 mass. abs_rows [..., n_in] (non-negative) -> [...] float; 0 for an
    all-zero row."""
    # Descending order as a reversed view of the ascending sort (the same values in the same
    # order as sorting the negated rows, without two negated copies); float32 sorts faster.
    ordered = np.sort(abs_rows.astype(np.float32, copy=False), axis=-1)[..., ::-1]
    cum = np.cumsum(ordered, axis=-1)
    total = cum[..., -1:]
    # A relative slack keeps rounding in the cumulative sum from adding a spurious parent.
    reached = cum >= mass * total * (1.0 - 1e-12)
    k = np.argmax(reached, axis=-1) + 1.0
    return np.where(total[..., 0] > 0, k, 0.0)


def graph_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """Precision, recall and structural Hamming distance of a boolean edge mask vs the truth."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    tp = int((pred & true).sum())
    return {
        "precision": tp / max(int(pred.sum()), 1),
        "recall": tp / max(int(true.sum()), 1),
        "shd": int((pred ^ true).sum()),
    }


class SparsityAccumulator:
    """Streams Jacobian chunks [t, n_out, n_in] in time order and keeps only running sums, so
    that a long episode of large Jacobians never has to sit in memory at once.

    in_scale [n_in], out_scale [n_out]: standardisation scales (e.g. per-dimension std over the
    episode); None means 1. diag_cols [n_out] int: column holding each row's own previous value
    (-1: none); default arange(n_out) when n_in >= n_out (pass ``rows`` here when the Jacobian
    was row-subsampled). Work is in the Jacobian's dtype (float32 for models, float64 for
    finite differences).
    """

    def __init__(self, n_out, n_in, config=None, in_scale=None, out_scale=None, diag_cols=None):
        self.cfg = cfg = config or ProbeConfig()
        self.n_out, self.n_in = n_out, n_in
        in_scale = np.ones(n_in) if in_scale is None else np.asarray(in_scale, np.float64)
        out_scale = np.ones(n_out) if out_scale is None else np.asarray(out_scale, np.float64)
        self.n_low_var_in = int((in_scale < cfg.scale_floor).sum())
        self.n_low_var_out = int((out_scale < cfg.scale_floor).sum())
        in_scale = np.maximum(in_scale, cfg.scale_floor)
        out_scale = np.maximum(out_scale, cfg.scale_floor)
        self.scale = in_scale[None, :] / out_scale[:, None]  # J~ = J * scale
        self._scale_cast = self.scale
        if diag_cols is None and n_in >= n_out:
            diag_cols = np.arange(n_out)
        self.diag_cols = None if diag_cols is None else np.asarray(diag_cols, int)
        if cfg.diag != "keep" and self.diag_cols is None:
            raise ValueError("diag='exclude'/'subtract' needs diag_cols")
        self.considered = np.ones((n_out, n_in), bool)
        if cfg.diag == "exclude":
            r = np.flatnonzero(self.diag_cols >= 0)
            self.considered[r, self.diag_cols[r]] = False
        self.n_considered = int(self.considered.sum())
        self.row_considered = self.considered.sum(axis=1)
        self._edges = EdgeTracker(n_out, n_in, len(cfg.tau_grid), cfg.headline_index)
        self.valid_count = np.zeros(n_out, np.int64)
        self.sum_abs = np.zeros((n_out, n_in))
        self.hist = np.zeros(len(HIST_LOG10_EDGES) - 1, np.int64)
        self.hist_every = max(1, self.n_considered // HIST_ENTRIES)
        self.n_exact_zero = 0
        self.steps = 0
        self._rng = np.random.default_rng(cfg.k_mass_seed)
        self._rows = []  # per-chunk dicts of per-step arrays

    def start_episode(self):
        """The next chunk starts a new episode: its first step has no temporal change (NaN);
        unions, maps and histograms keep accumulating over episodes."""
        self._edges.start_episode()

    @property
    def edge_count(self):
        """[n_tau, n_out, n_in] int: steps at which each entry was an edge, per tau."""
        return self._edges.edge_count

    def _identity_rows(self, J):
        """[t, n_out] bool: row equals e_i within identity_atol (raw J, before any subtraction)."""
        if self.diag_cols is None:
            return np.zeros(J.shape[:2], bool)
        r = np.flatnonzero(self.diag_cols >= 0)
        c = self.diag_cols[r]
        tol = self.cfg.identity_atol
        # Only rows whose own entry is ~1 can be unit rows, so the full-row test runs on those
        # alone; as that entry is > tol, "every other entry <= tol" is "one entry above tol".
        step, row = np.nonzero(np.abs(J[:, r, c] - 1.0) <= tol)
        single = (np.abs(J[step, r[row], :]) > tol).sum(axis=-1) == 1
        out = np.zeros(J.shape[:2], bool)
        out[step[single], r[row[single]]] = True
        return out

    def _standardise(self, J):
        """Raw chunk -> (|J~| on considered entries, signed J~ on them, per-row reference
        [t, n_out] (row rule: max |J~| over the whole row, self entry included), valid rows)."""
        # max |J| > atol, from the row's max and min: no [t, n_out, n_in] temporary for |J|.
        valid = np.maximum(J.max(axis=2), -J.min(axis=2)) > self.cfg.zero_atol
        if self.cfg.diag == "subtract":
            J = J.copy()
            r = np.flatnonzero(self.diag_cols >= 0)
            J[:, r, self.diag_cols[r]] -= 1.0
        Jt = np.multiply(J, self._scale_as(J.dtype)[None])
        A = np.abs(Jt)
        ref = A.max(axis=2) if self.cfg.rule == "row" else np.ones(valid.shape, J.dtype)
        if self.cfg.diag == "exclude":
            A *= self.considered[None]
            Jt *= self.considered[None]
        return A, Jt, ref, valid

    def _scale_as(self, dtype):
        if self._scale_cast.dtype != dtype:
            self._scale_cast = self.scale.astype(dtype)
        return self._scale_cast

    def _thresholds(self, ref, valid, dtype):
        """[n_tau, t, n_out]: |J~| must exceed these to be an edge (tau times the row
        reference, at least zero_atol; inf for zero rows)."""
        taus = np.asarray(self.cfg.tau_grid)
        thr = np.maximum(taus[:, None, None] * ref[None], self.cfg.zero_atol)
        return np.where(valid[None], thr, np.inf).astype(dtype)

    def update(self, J, gates=None):
        """Add the next chunk of steps. J [t, n_out, n_in]; gates [t, n_out] (binary or soft)."""
        J = np.asarray(J)
        if not np.issubdtype(J.dtype, np.floating):
            J = J.astype(np.float64)
        if J.ndim != 3 or J.shape[1:] != (self.n_out, self.n_in):
            raise ValueError(f"expected [t, {self.n_out}, {self.n_in}], got {J.shape}")
        identity = self._identity_rows(J)
        A, Jt, ref, valid = self._standardise(J)
        counts, changes, rel, rel_edges = self._edges.update(
            A, Jt, self._thresholds(ref, valid, A.dtype)
        )
        self.valid_count += valid.sum(axis=0)
        self.sum_abs += A.sum(axis=0)
        self._update_hist(A, valid)
        denom = (valid * self.row_considered[None]).sum(axis=1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            density = counts / denom[:, None]  # [t, n_tau]
        k, k_frac = self._k_mass(A, valid)
        row = {
            "density": density[:, self.cfg.headline_index],
            "density_tau": density,
            "k_mass_mean": k,
            "k_mass_frac": k_frac,
            "zero_row_frac": 1.0 - valid.mean(axis=1),
            "identity_row_frac": identity.mean(axis=1),
        }
        n, h = float(self.n_considered), self.cfg.headline_index
        row.update(
            hamming=changes[:, h],
            hamming_frac=changes[:, h] / n,
            hamming_tau=changes,
            hamming_frac_tau=changes / n,
            rel_change=rel,
            rel_change_edges=rel_edges,
        )
        if gates is not None:
            row["open_gate_frac"] = np.asarray(gates, np.float64).reshape(len(J), -1).mean(axis=1)
        self._rows.append(row)
        self.steps += len(J)

    def _k_mass(self, A, valid):
        """Per step: mean k_mass and mean k_mass / considered inputs over sampled valid rows."""
        t, n_out = valid.shape
        rows = np.tile(np.arange(n_out), (t, 1))
        if self.cfg.k_mass_rows < n_out:
            rows = np.sort(self._rng.permuted(rows, axis=1)[:, : self.cfg.k_mass_rows], axis=1)
        steps = np.arange(t)[:, None]
        k = k_mass(A[steps, rows], self.cfg.mass)
        ok = valid[steps, rows]
        with np.errstate(invalid="ignore"):
            mean_k = np.where(ok, k, 0.0).sum(1) / ok.sum(1)
            frac = np.where(ok, k / self.row_considered[rows], 0.0).sum(1) / ok.sum(1)
        return mean_k, frac

    def _update_hist(self, A, valid):
        """|J~| histogram over the considered entries of valid rows, every hist_every-th
        step (by the global step index)."""
        first = (-self.steps) % self.hist_every
        sel = slice(first, None, self.hist_every)
        if self.cfg.diag == "exclude" or not valid[sel].all():
            values = A[sel][self.considered[None] & valid[sel][:, :, None]]
        else:
            values = A[sel].ravel()
        nonzero = values[values > 0]
        self.n_exact_zero += int(values.size - nonzero.size)
        # Uniform log10 bins: the bin index is arithmetic, and out-of-range values go to the
        # end bins; float32 logs are ample for bins 0.25 decades wide.
        edges = HIST_LOG10_EDGES
        width = (edges[-1] - edges[0]) / (len(edges) - 1)
        # The floor keeps float32 underflow (|J~| < 1e-38) finite; it lands in the first bin.
        logs = np.log10(np.maximum(nonzero.astype(np.float32), np.float32(1e-30)))
        index = np.floor((logs - edges[0]) / width)
        index = np.clip(index, 0, len(edges) - 2).astype(np.int64)
        self.hist += np.bincount(index, minlength=len(edges) - 1)

    def per_step(self) -> dict:
        """Dict of per-step arrays [T] (the ``*_tau`` keys are [T, n_tau])."""
        keys = self._rows[0].keys()
        return {k: np.concatenate([r[k] for r in self._rows]) for k in keys}

    def union_mask(self, tau_index=None, min_freq=0.0) -> np.ndarray:
        """[n_out, n_in] bool: edges present in a fraction > 0 (min_freq = 0) or >= min_freq of
        the steps at which their row was valid; dead rows and excluded entries are False."""
        k = self.cfg.headline_index if tau_index is None else tau_index
        live = self.valid_count > 0
        if min_freq <= 0:
            present = self.edge_count[k] > 0
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                present = self.edge_count[k] / self.valid_count[:, None] >= min_freq
        return present & live[:, None] & self.considered

    def maps(self) -> dict:
        """Heatmaps [n_out, n_in]: mean |J~| (over all steps) and headline edge frequency (over
        the steps where the row was valid; NaN for dead rows); plus the |J~| histogram."""
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = self.edge_count[self.cfg.headline_index] / self.valid_count[:, None]
        freq = np.where(self.considered, freq, np.nan)
        return {
            "mean_abs": self.sum_abs / max(self.steps, 1),
            "edge_freq": freq,
            "hist_log10_edges": HIST_LOG10_EDGES.copy(),
            "hist_counts": self.hist.copy(),
            "n_exact_zero": self.n_exact_zero,
            "hist_every": self.hist_every,
        }

    def _union_densities(self, k):
        live = self.valid_count > 0
        denom = max(int(self.considered[live].sum()), 1)
        plain = self.union_mask(k).sum() / denom
        freq = self.union_mask(k, self.cfg.union_min_freq).sum() / denom
        return float(plain), float(freq)

    def _sweep(self, ps):
        """Per tau: local mean, unions, gaps and the temporal change statistics."""
        sweep = []
        for k, tau in enumerate(self.cfg.tau_grid):
            local = nanmean(ps["density_tau"][:, k])
            union, union_freq = self._union_densities(k)
            change = ps["hamming_frac_tau"][:, k]
            sweep.append(
                {
                    "tau": tau,
                    "density_local_mean": local,
                    "density_union": union,
                    "density_union_freq": union_freq,
                    "gap": union - local,
                    "gap_freq": union_freq - local,
                    **stats("hamming_frac", change, ("mean", "median", "q95")),
                    "frac_steps_no_change": frac_zero(change),
                }
            )
        return sweep

    def summary(self) -> dict:
        """JSON-serialisable summary (NaN becomes None). See module docstring for definitions."""
        ps = self.per_step()
        sweep = self._sweep(ps)
        head = sweep[self.cfg.headline_index]
        # Dead rows are zero at every step; the rest of a step's zero rows are saturated there.
        n_dead = int((self.valid_count == 0).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            saturated = (ps["zero_row_frac"] * self.n_out - n_dead) / (self.n_out - n_dead)
        out = {
            "config": dataclasses.asdict(self.cfg),
            "n_steps": self.steps,
            "n_out": self.n_out,
            "n_in": self.n_in,
            "n_entries_per_step": self.n_considered,
            **{k: v for k, v in head.items() if k != "tau"},
            **stats("density_local", ps["density"]),
            **stats("rel_change", ps["rel_change"]),
            **stats("rel_change_edges", ps["rel_change_edges"]),
            "k_mass_mean": nanmean(ps["k_mass_mean"]),
            "k_mass_frac_mean": nanmean(ps["k_mass_frac"]),
            "zero_row_frac_mean": nanmean(ps["zero_row_frac"]),
            "n_dead_rows": n_dead,
            "saturated_row_frac_mean": nanmean(saturated),
            "identity_row_frac_mean": nanmean(ps["identity_row_frac"]),
            "n_low_variance_inputs": self.n_low_var_in,
            "n_low_variance_outputs": self.n_low_var_out,
            "open_gate_frac_mean": nanmean(ps.get("open_gate_frac", [])),
            "sweep": sweep,
        }
        return jsonable(out)


def analyze(J, config=None, gates=None, in_scale=None, out_scale=None, diag_cols=None):
    """One pass over a whole stack J [T, n_out, n_in] (gates [T, n_out] optional).

    Returns the filled SparsityAccumulator: ``.summary()``, ``.per_step()``, ``.maps()``,
    ``.union_mask()``. For long episodes of large Jacobians, call ``update`` chunk by chunk.
    """
    J = np.asarray(J)
    acc = SparsityAccumulator(J.shape[1], J.shape[2], config, in_scale, out_scale, diag_cols)
    acc.update(J, gates)
    return acc


def summarize(J, config=None, gates=None, in_scale=None, out_scale=None, diag_cols=None) -> dict:
    """JSON-serialisable summary of a stack J [T, n_out, n_in]; see ``SparsityAccumulator``."""
    return analyze(J, config, gates, in_scale, out_scale, diag_cols).summary()


def per_step(J, config=None, gates=None, in_scale=None, out_scale=None, diag_cols=None) -> dict:
    """Per-step arrays [T] of a stack J [T, n_out, n_in]; see ``SparsityAccumulator``."""
    return analyze(J, config, gates, in_scale, out_scale, diag_cols).per_step()
