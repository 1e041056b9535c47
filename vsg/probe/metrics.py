"""Jacobian-sparsity metrics along an episode (NumPy only).

Input: Jacobians J of shape [T, n_out, n_in] at T consecutive steps (row i = output i, column
j = input j). All quantities are *densities* (fraction of present edges); sparsity is
1 - density and is never reported under another name.

Conventions (see shared/reference/sparsity-probe.md, sections 1.3, 3.3 and 3.4):

- Standardised Jacobian ``J~_ij = J_ij * in_scale_j / out_scale_i``; scales are floored at
  ``scale_floor`` so that near-constant dimensions do not blow up (they are counted).
- Diagonal handling (``diag``): "keep" counts the self-edge like any other; "exclude" drops the
  entry (i, diag_cols[i]) from every count (off-diagonal sparsity of recurrent latents);
  "subtract" analyses J - I on those entries (update Jacobian of discrete-time physics).
- Edge rule (``rule``): "row" means ``|J~_ij| > tau * max_k |J~_ik|`` where the max runs over the
  whole row, the self entry included (so a carry-over of ~1 makes small cross terms negligible);
  "abs" means ``|J~_ij| > tau``. Either way an edge also needs ``|J~_ij| > zero_atol``.
- Zero rows: a row whose raw entries are all <= ``zero_atol`` at a step is excluded from the
  step's density (a row-relative rule is undefined for it). A row that is zero at every step
  is "dead" (``n_dead_rows``); the other zero rows are "saturated" at that step (tanh at +-1,
  ReLU off): ``saturated_row_frac_mean`` is their fraction of the non-dead rows, mean over
  steps.
  A row equal to the unit vector e_i ("identity row": the dimension is copied) is *not* a zero
  row: it is a genuinely sparse row with no parent but itself.
"""

import dataclasses
import math

import numpy as np

DEFAULT_TAU_GRID = (1e-4, 1e-3, 1e-2, 5e-2, 1e-1, 0.2)
# Bin edges of the |J~| histogram, in log10 units; exact zeros are counted apart.
HIST_LOG10_EDGES = np.linspace(-12.0, 4.0, 65)


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Settings of the metrics; defaults follow the reference notes (headline tau = 1e-2)."""

    tau_grid: tuple = DEFAULT_TAU_GRID
    headline_tau: float = 1e-2
    rule: str = "row"  # "row" | "abs"
    diag: str = "keep"  # "keep" | "exclude" | "subtract"
    zero_atol: float = 1e-8
    identity_atol: float = 1e-6
    scale_floor: float = 1e-6
    union_min_freq: float = 0.05  # frequency-thresholded union: edge present in >= q of steps
    change_atol: float = 1e-6  # an entry "changes" when |J~_t - J~_{t-1}| exceeds this
    mass: float = 0.9  # k_mass: smallest number of inputs holding this fraction of a row's L1

    def __post_init__(self):
        if self.rule not in ("row", "abs"):
            raise ValueError(f"rule must be 'row' or 'abs', got {self.rule!r}")
        if self.diag not in ("keep", "exclude", "subtract"):
            raise ValueError(f"diag must be 'keep', 'exclude' or 'subtract', got {self.diag!r}")
        if not any(math.isclose(t, self.headline_tau) for t in self.tau_grid):
            raise ValueError("headline_tau must be one of tau_grid")

    @property
    def headline_index(self) -> int:
        gaps = [abs(t - self.headline_tau) for t in self.tau_grid]
        return int(np.argmin(gaps))


def k_mass(abs_rows: np.ndarray, mass: float = 0.9) -> np.ndarray:
    """Effective number of parents: smallest k such that the k largest entries of a row hold
    ``mass`` of its L1 mass. abs_rows [..., n_in] (non-negative) -> [...] float; 0 for an
    all-zero row."""
    ordered = -np.sort(-abs_rows.astype(np.float32), axis=-1)  # float32 sorts faster
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
    was row-subsampled).
    """

    def __init__(self, n_out, n_in, config=None, in_scale=None, out_scale=None, diag_cols=None):
        self.cfg = config or ProbeConfig()
        self.n_out, self.n_in = n_out, n_in
        in_scale = np.ones(n_in) if in_scale is None else np.asarray(in_scale, np.float64)
        out_scale = np.ones(n_out) if out_scale is None else np.asarray(out_scale, np.float64)
        self.n_low_var_in = int((in_scale < self.cfg.scale_floor).sum())
        self.n_low_var_out = int((out_scale < self.cfg.scale_floor).sum())
        self.in_scale = np.maximum(in_scale, self.cfg.scale_floor)
        self.out_scale = np.maximum(out_scale, self.cfg.scale_floor)
        if diag_cols is None and n_in >= n_out:
            diag_cols = np.arange(n_out)
        self.diag_cols = None if diag_cols is None else np.asarray(diag_cols, int)
        if self.cfg.diag != "keep" and self.diag_cols is None:
            raise ValueError("diag='exclude'/'subtract' needs diag_cols")
        self.considered = np.ones((n_out, n_in), bool)
        if self.cfg.diag == "exclude":
            r = np.flatnonzero(self.diag_cols >= 0)
            self.considered[r, self.diag_cols[r]] = False
        n_tau = len(self.cfg.tau_grid)
        self.edge_count = np.zeros((n_tau, n_out, n_in), np.int32)
        self.valid_count = np.zeros(n_out, np.int64)
        self.sum_abs = np.zeros((n_out, n_in))
        self.hist = np.zeros(len(HIST_LOG10_EDGES) - 1, np.int64)
        self.n_exact_zero = 0
        self.steps = 0
        self._prev = None  # (headline graph, masked J~) of the last step seen
        self._rows = []  # per-chunk dicts of per-step arrays

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
        """Raw chunk -> (J~ with diag handling [t, n_out, n_in], valid rows [t, n_out])."""
        valid = np.abs(J).max(axis=2) > self.cfg.zero_atol
        if self.cfg.diag == "subtract":
            J = J.copy()
            r = np.flatnonzero(self.diag_cols >= 0)
            J[:, r, self.diag_cols[r]] -= 1.0
        Jt = J * self.in_scale[None, None, :] / self.out_scale[None, :, None]
        return Jt, valid

    def _graphs(self, Jt, A, valid):
        """Edge masks for every tau: [n_tau, t, n_out, n_in] bool. The row reference is taken
        from the unmasked J~ so that an excluded self entry still sets the row's scale."""
        ref = np.abs(Jt).max(axis=2, keepdims=True) if self.cfg.rule == "row" else 1.0
        base = (A > self.cfg.zero_atol) & self.considered[None] & valid[:, :, None]
        return np.stack([base & (A > tau * ref) for tau in self.cfg.tau_grid])

    def update(self, J, gates=None):
        """Add the next chunk of steps. J [t, n_out, n_in]; gates [t, n_out] (binary or soft)."""
        J = np.asarray(J, np.float64)
        if J.ndim != 3 or J.shape[1:] != (self.n_out, self.n_in):
            raise ValueError(f"expected [t, {self.n_out}, {self.n_in}], got {J.shape}")
        identity = self._identity_rows(J)
        Jt, valid = self._standardise(J)
        A = np.abs(Jt) * self.considered[None]
        G = self._graphs(Jt, A, valid)
        denom = (valid * self.considered.sum(axis=1)[None]).sum(axis=1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            density = G.sum(axis=(2, 3)).T / denom[:, None]  # [t, n_tau]
        self.edge_count += G.sum(axis=1, dtype=np.int32)
        self.valid_count += valid.sum(axis=0)
        self.sum_abs += A.sum(axis=0)
        self._update_hist(A[self.considered[None] & valid[:, :, None]])
        k = np.where(valid, k_mass(A, self.cfg.mass), np.nan)
        row = {
            "density": density[:, self.cfg.headline_index],
            "density_tau": density,
            "k_mass_mean": _nanmean_rows(k),  # parents among the considered entries
            "zero_row_frac": 1.0 - valid.mean(axis=1),
            "identity_row_frac": identity.mean(axis=1),
        }
        row.update(self._temporal(G[self.cfg.headline_index], Jt * self.considered[None]))
        if gates is not None:
            row["open_gate_frac"] = np.asarray(gates, np.float64).reshape(len(J), -1).mean(axis=1)
        self._rows.append(row)
        self.steps += len(J)

    def _temporal(self, G, Jm):
        """Hamming change, relative Frobenius change and changed-entry count vs the previous
        step; NaN at the first step of the episode."""
        first = self._prev is None
        if not first:
            G = np.concatenate([self._prev[0][None], G])
            Jm = np.concatenate([self._prev[1][None], Jm])
        self._prev = (G[-1], Jm[-1])
        dG = (G[1:] != G[:-1]).sum(axis=(1, 2)).astype(float)
        dJ = Jm[1:] - Jm[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.sqrt((dJ**2).sum(axis=(1, 2)) / (Jm[:-1] ** 2).sum(axis=(1, 2)))
        changed = (np.abs(dJ) > self.cfg.change_atol).sum(axis=(1, 2)).astype(float)
        if first:
            pad = np.array([np.nan])
            dG, rel, changed = (np.concatenate([pad, v]) for v in (dG, rel, changed))
        n = float(self.considered.sum())
        return {"hamming": dG, "hamming_frac": dG / n, "rel_change": rel, "n_changed": changed}

    def _update_hist(self, values):
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
        """Dict of per-step arrays [T] (``density_tau`` is [T, n_tau])."""
        keys = self._rows[0].keys()
        return {k: np.concatenate([r[k] for r in self._rows]) for k in keys}

    def union_mask(self, tau_index=None, min_freq=0.0) -> np.ndarray:
        """[n_out, n_in] bool: edges present in a fraction > 0 (min_freq = 0) or >= min_freq of
        the steps at which their row was valid; dead rows and excluded entries are False."""
        k = self.cfg.headline_index if tau_index is None else tau_index
        live = self.valid_count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = self.edge_count[k] / self.valid_count[:, None]
        present = freq > 0 if min_freq <= 0 else freq >= min_freq
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
        }

    def _union_densities(self, k):
        live = self.valid_count > 0
        denom = max(int(self.considered[live].sum()), 1)
        plain = self.union_mask(k).sum() / denom
        freq = self.union_mask(k, self.cfg.union_min_freq).sum() / denom
        return float(plain), float(freq)

    def summary(self) -> dict:
        """JSON-serialisable summary (NaN becomes None). See module docstring for definitions."""
        ps = self.per_step()
        sweep = []
        for k, tau in enumerate(self.cfg.tau_grid):
            local = float(np.nanmean(ps["density_tau"][:, k]))
            union, union_freq = self._union_densities(k)
            sweep.append(
                {
                    "tau": tau,
                    "density_local_mean": local,
                    "density_union": union,
                    "density_union_freq": union_freq,
                    "gap": union - local,
                    "gap_freq": union_freq - local,
                }
            )
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
            "n_entries_per_step": int(self.considered.sum()),
            **{k: v for k, v in head.items() if k != "tau"},
            **_stats("density_local", ps["density"]),
            **_stats("hamming", ps["hamming"]),
            "frac_steps_no_change": _frac_zero(ps["hamming"]),
            **_stats("rel_change", ps["rel_change"]),
            "k_mass_mean": _nanmean(ps["k_mass_mean"]),
            "zero_row_frac_mean": _nanmean(ps["zero_row_frac"]),
            "n_dead_rows": n_dead,
            "saturated_row_frac_mean": _nanmean(saturated),
            "identity_row_frac_mean": _nanmean(ps["identity_row_frac"]),
            "n_low_variance_inputs": self.n_low_var_in,
            "n_low_variance_outputs": self.n_low_var_out,
            "open_gate_frac_mean": _nanmean(ps.get("open_gate_frac", [])),
            "sweep": sweep,
        }
        return _jsonable(out)


def _nanmean_rows(k):
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(k).sum(axis=1)
        return np.where(counts > 0, np.nansum(k, axis=1) / np.maximum(counts, 1), np.nan)


def _nanmean(x):
    x = np.asarray(x, float)
    return float(np.mean(x[np.isfinite(x)])) if np.isfinite(x).any() else float("nan")


def _stats(name, x):
    """Mean, std and quantiles of the finite entries of a per-step array."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if not x.size:
        return {f"{name}_{s}": float("nan") for s in ("mean", "std", "q05", "median", "q95")}
    q05, med, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    return {
        f"{name}_mean": float(x.mean()),
        f"{name}_std": float(x.std()),
        f"{name}_q05": float(q05),
        f"{name}_median": float(med),
        f"{name}_q95": float(q95),
    }


def _frac_zero(x):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float((x == 0).mean()) if x.size else float("nan")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


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
