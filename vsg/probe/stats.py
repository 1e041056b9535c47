"""Small NumPy statistics shared by the probe's metrics, events and reports."""

import math

import numpy as np

STAT_NAMES = ("mean", "std", "q05", "median", "q95")


def finite(x) -> np.ndarray:
    """The finite entries of x as a flat float array."""
    x = np.asarray(x, float).ravel()
    return x[np.isfinite(x)]


def nanmean(x) -> float:
    """Mean of the finite entries of x (NaN if there are none)."""
    x = finite(x)
    return float(x.mean()) if x.size else float("nan")


def stats(name, x, which=STAT_NAMES) -> dict:
    """{f"{name}_{stat}": value} of the finite entries of a per-step array, for stat in
    ``which`` (mean, std, q05, median, q95); NaN if there are none."""
    x = finite(x)
    if not x.size:
        return {f"{name}_{s}": float("nan") for s in which}
    q05, median, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    values = {"mean": x.mean(), "std": x.std(), "q05": q05, "median": median, "q95": q95}
    return {f"{name}_{s}": float(values[s]) for s in which}


def frac_zero(x) -> float:
    """Share of the finite entries of x that are exactly 0 (NaN if there are none)."""
    x = finite(x)
    return float((x == 0).mean()) if x.size else float("nan")


def jsonable(obj):
    """obj with NumPy scalars made plain and non-finite floats made None (for JSON)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
