"""Are changes of the local dynamics clustered at events (contact onsets and offsets)?

Per-step signals (the change c_t, the local density, ...) and boolean event indicators share
the probe's step index; ``episode`` [N] tells which steps belong together, and no window ever
crosses an episode boundary. Pandaram et al. (2025) report that the sparsity of robotic
dynamics appears in temporally localised clusters, e.g. at contacts; these statistics test
that on any signal:

- event-triggered average (ETA): the mean of signal[t + lag] over event steps t, for
  lag = -L..L (only lags that stay inside t's episode, finite values only);
- shuffled baseline: the same average after shifting each episode's events circularly by a
  random offset, which keeps their number and spacing but breaks their alignment with the
  signal; mean and 2.5 / 97.5 percentiles over ``n_shuffles`` shifts (seeded);
- top share: of the steps with the largest 1 % (5 %) of the signal, the share that lies
  within +-w steps of an event, next to the share of *all* steps within +-w of an event
  (what a signal unrelated to events would give).
"""

import numpy as np

from vsg.probe.stats import jsonable

LAGS = 5
TOP_FRACTIONS = (0.01, 0.05)
# Event flags of the ground truth: "<kind>_event" step arrays (vsg.probe.truth).
EVENT_KINDS = ("contact", "constraint", "any")


def _episode_slices(episode):
    """Slices of consecutive equal entries of episode [N]."""
    episode = np.asarray(episode)
    cuts = np.flatnonzero(np.diff(episode)) + 1
    bounds = np.concatenate([[0], cuts, [len(episode)]])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def triggered_average(signal, events, episode, lags=LAGS):
    """ETA [2 lags + 1] of signal [N] at the True steps of events [N] (NaN where no pair)."""
    signal = np.asarray(signal, float)
    events = np.asarray(events, bool)
    sums, counts = np.zeros(2 * lags + 1), np.zeros(2 * lags + 1)
    for part in _episode_slices(episode):
        sig, ev = signal[part], np.flatnonzero(events[part])
        for i, lag in enumerate(range(-lags, lags + 1)):
            at = ev + lag
            values = sig[at[(at >= 0) & (at < len(sig))]]
            values = values[np.isfinite(values)]
            sums[i] += values.sum()
            counts[i] += values.size
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def shuffled_average(signal, events, episode, lags=LAGS, n_shuffles=200, seed=0):
    """(mean, 2.5 %, 97.5 % percentiles) [2 lags + 1] of the ETA under circular shifts of each
    episode's events by a random offset in [1, length - 1], per lag over the shifts that
    give that lag a value (NaN where none does)."""
    rng = np.random.default_rng(seed)
    events = np.asarray(events, bool)
    parts = _episode_slices(episode)
    draws = []
    for _ in range(n_shuffles):
        shifted = np.zeros_like(events)
        for part in parts:
            n = part.stop - part.start
            offset = int(rng.integers(1, n)) if n > 1 else 0
            shifted[part] = np.roll(events[part], offset)
        draws.append(triggered_average(signal, shifted, episode, lags))
    draws = np.array(draws)
    # A shift can leave a lag without values (events moved next to an episode's edge or
    # onto its first step): each lag is summarised over the shifts that gave it a value.
    defined = np.isfinite(draws).any(axis=0)
    mean, lo, hi = (np.full(2 * lags + 1, np.nan) for _ in range(3))
    if defined.any():
        mean[defined] = np.nanmean(draws[:, defined], axis=0)
        lo[defined], hi[defined] = np.nanpercentile(draws[:, defined], [2.5, 97.5], axis=0)
    return mean, lo, hi


def near_event(events, episode, window=1):
    """[N] bool: within +-window steps of an event of the same episode."""
    events = np.asarray(events, bool)
    out = np.zeros_like(events)
    for part in _episode_slices(episode):
        ev = events[part]
        near = ev.copy()
        for lag in range(1, window + 1):
            near[lag:] |= ev[:-lag]
            near[:-lag] |= ev[lag:]
        out[part] = near
    return out


def top_share(signal, events, episode, fraction, window=1):
    """Share of the top ``fraction`` steps of signal (finite values, ranked; ties broken by
    step order) that lie within +-window of an event; NaN without finite values."""
    signal = np.asarray(signal, float)
    ok = np.flatnonzero(np.isfinite(signal))
    if not ok.size:
        return float("nan")
    k = max(1, int(round(fraction * ok.size)))
    top = ok[np.argsort(-signal[ok], kind="stable")[:k]]
    return float(near_event(events, episode, window)[top].mean())


def point_biserial(signal, events):
    """Pearson correlation of the finite values of signal with the 0/1 event indicator
    (NaN if either is constant)."""
    x, y = np.asarray(signal, float), np.asarray(events, float)
    ok = np.isfinite(x)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _mean_ratio(signal, events):
    signal = np.asarray(signal, float)
    ok = np.isfinite(signal)
    at, other = signal[ok & events], signal[ok & ~events]
    if not at.size or not other.size or other.mean() == 0:
        return float("nan")
    return float(at.mean() / other.mean())


def event_stats(signal, events, episode, lags=LAGS, n_shuffles=200, seed=0, window=1):
    """Everything above for one signal and one event kind, as a JSON-ready dict, plus the
    point-biserial correlation ``corr`` of the signal with the event indicator and
    ``event_over_other``, the mean signal at event steps over that at the other steps."""
    events = np.asarray(events, bool)
    eta = triggered_average(signal, events, episode, lags)
    mean, lo, hi = shuffled_average(signal, events, episode, lags, n_shuffles, seed)
    finite = np.isfinite(np.asarray(signal, float))
    out = {
        "lags": list(range(-lags, lags + 1)),
        "eta": eta,
        "shuffled_mean": mean,
        "shuffled_lo": lo,
        "shuffled_hi": hi,
        "eta0_over_shuffled": eta[lags] / mean[lags] if mean[lags] else float("nan"),
        "chance_share": float(near_event(events, episode, window)[finite].mean())
        if finite.any()
        else float("nan"),
        "window": window,
        "corr": point_biserial(signal, events),
        "event_over_other": _mean_ratio(signal, events),
    }
    for fraction in TOP_FRACTIONS:
        out[f"top{fraction * 100:g}_share"] = top_share(signal, events, episode, fraction, window)
    return jsonable(out)
