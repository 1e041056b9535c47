"""Sparsity-probe metrics and TF Jacobians on systems with a known Jacobian (a sparse linear
system, a switching system, a masked MLP with saturation, a fixed-gate VSG-style update, an
analytic pendulum, a smooth drift), event statistics on known spikes, the figures and the
timing helper."""

import json
import math

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from vsg.probe import metrics, plots
from vsg.probe.jacobian import batched_jacobian, bench, multi_input_jacobian
from vsg.probe.metrics import ProbeConfig


def test_k_mass_and_graph_scores():
    rows = np.array([[6.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(metrics.k_mass(rows, 0.9), [2.0, 0.0, 4.0])
    scores = metrics.graph_scores([[1, 1], [0, 0]], [[1, 0], [1, 0]])
    assert scores == {"precision": 0.5, "recall": 0.5, "shd": 2}


def test_config_validation():
    with pytest.raises(ValueError):
        ProbeConfig(tau_grid=(1e-3, 1e-1), headline_tau=1e-2)
    with pytest.raises(ValueError):
        ProbeConfig(diag="zero")


def test_relative_change_and_json():
    base = np.arange(1.0, 7.0).reshape(2, 3)
    J = np.stack([base, 2.0 * base, 2.0 * base, 3.0 * base])
    steps = metrics.per_step(J)
    assert math.isnan(steps["rel_change"][0])
    np.testing.assert_allclose(steps["rel_change"][1:], [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(steps["hamming"][1:], [0.0, 0.0, 0.0])
    json.dumps(metrics.summarize(J), allow_nan=False)


def _linear_system(seed=0, n=50, m=4):
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], (n, n + m))
    values = signs * rng.uniform(0.01, 1.0, (n, n + m))
    density = np.concatenate([np.full(n, 0.1), np.full(m, 0.3)])
    mask = rng.random((n, n + m)) < density
    AB = np.where(mask, values, 0.0).astype(np.float32)
    return AB[:, :n], AB[:, n:]


def test_t1_linear_sparse_system_recovered_exactly():
    A, B = _linear_system()
    At, Bt = tf.constant(A.T), tf.constant(B.T)
    rng = np.random.default_rng(1)
    x, u = rng.normal(size=(20, 50)), rng.normal(size=(20, 4))
    J, slices = multi_input_jacobian(lambda s, a: s @ At + a @ Bt, [x, u])
    assert J.shape == (20, 50, 54) and J.dtype == np.float32
    assert np.abs(J[:, :, slices[0]] - A).max() < 1e-6
    assert np.abs(J[:, :, slices[1]] - B).max() < 1e-6
    true = np.concatenate([A, B], axis=1) != 0
    assert ((J != 0) == true[None]).all()  # exact zero pattern, every step

    cfg = ProbeConfig(tau_grid=(1e-6, 1e-3, 0.1), headline_tau=1e-3)
    acc = metrics.analyze(J, cfg)
    assert metrics.graph_scores(acc.union_mask(), true) == {
        "precision": 1.0,
        "recall": 1.0,
        "shd": 0,
    }
    np.testing.assert_allclose(acc.per_step()["density"], true.mean())
    summary = acc.summary()
    assert summary["gap"] == pytest.approx(0.0, abs=1e-12)
    assert summary["frac_steps_no_change"] == 1.0
    # A large tau is a small-effect filter: genuine weak edges get cut.
    assert metrics.graph_scores(acc.union_mask(tau_index=2), true)["recall"] < 1.0


def _switching_jacobians():
    A1 = 0.9 * np.eye(6)
    A1[1, 0] = A1[2, 1] = 0.5
    A2 = 0.9 * np.eye(6)
    A2[1, 0] = A2[4, 3] = A2[5, 4] = 0.5
    A1t, A2t = tf.constant(A1.T, tf.float32), tf.constant(A2.T, tf.float32)

    def step(x):
        return tf.where(x[:, :1] > 0, x @ A1t, x @ A2t)

    x = np.random.default_rng(0).normal(size=(40, 6))
    x[:, 0] = np.where(np.arange(40) < 20, 1.0, -1.0)  # regime switch at step 20
    return batched_jacobian(step, x), A1 != 0, A2 != 0


def test_t2_switching_system_local_union_and_temporal_spike():
    J, G1, G2 = _switching_jacobians()
    acc = metrics.analyze(J)
    steps = acc.per_step()
    np.testing.assert_allclose(steps["density"][:20], 8 / 36)
    np.testing.assert_allclose(steps["density"][20:], 9 / 36)
    expected = np.zeros(40)
    expected[20] = 3.0
    np.testing.assert_array_equal(steps["hamming"][1:], expected[1:])
    summary = acc.summary()
    assert summary["density_union"] == pytest.approx(10 / 36)
    assert summary["gap"] == pytest.approx(10 / 36 - 8.5 / 36)
    freq = acc.maps()["edge_freq"]
    np.testing.assert_allclose(freq[G1 & G2], 1.0)
    np.testing.assert_allclose(freq[G1 ^ G2], 0.5)
    np.testing.assert_allclose(freq[~(G1 | G2)], 0.0)


def test_streaming_in_chunks_matches_one_pass():
    J, _, _ = _switching_jacobians()
    gates = (np.random.default_rng(2).random((40, 6)) < 0.5).astype(float)
    whole = metrics.analyze(J, gates=gates)
    acc = metrics.SparsityAccumulator(6, 6)
    for start in range(0, 40, 7):  # a chunk boundary falls right before the switch
        acc.update(J[start : start + 7], gates[start : start + 7])
    for key, value in whole.per_step().items():
        np.testing.assert_array_equal(acc.per_step()[key], value)
    assert acc.summary() == whole.summary()


def test_t3_masked_mlp_structural_zeros_and_saturated_rows():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 30)) < 0.2
    mask[0] = False  # one output with no input at all: a dead row
    mask[1:, 0] = True  # every other row has at least one parent
    W = np.where(mask, rng.normal(size=(40, 30)), 0.0).astype(np.float32)
    x = rng.normal(size=(50, 30)).astype(np.float32)
    for scale, saturates in ((0.3, False), (3.0, True)):
        Wt = tf.constant(scale * W.T)
        J = batched_jacobian(lambda v, Wt=Wt: tf.tanh(v @ Wt), x)
        assert (J[:, ~mask] == 0).all()  # structural zeros are exact in autodiff
        zero = (J == 0).all(axis=2)
        acc = metrics.analyze(J, ProbeConfig(tau_grid=(1e-3,), headline_tau=1e-3))
        summary = acc.summary()
        assert summary["n_dead_rows"] == 1
        assert (summary["saturated_row_frac_mean"] > 0.05) == saturates
        # Densities count only the rows that are not zero at that step.
        edges = ((J != 0) & ~zero[:, :, None]).sum(axis=(1, 2))
        np.testing.assert_allclose(acc.per_step()["density"], edges / ((~zero).sum(1) * 30))
        live = ~zero.all(axis=0)
        scores = metrics.graph_scores(acc.union_mask()[live], mask[live])
        assert scores["precision"] == 1.0 and scores["recall"] == 1.0


def test_t4_fixed_gate_closed_rows_are_unit_vectors():
    D, T = 24, 30
    rng = np.random.default_rng(0)
    Wt = tf.constant(rng.normal(0, D**-0.5, (D, D)).T, tf.float32)
    gates = (rng.random((T, D)) < 0.3).astype(np.float32)

    def step(v):
        h, u = v[:, :D], tf.stop_gradient(v[:, D:])  # realised gate: a constant
        return u * tf.tanh(h @ Wt) + (1.0 - u) * h

    h = rng.normal(size=(T, D))
    J = batched_jacobian(step, np.concatenate([h, gates], 1), rows=None)[:, :, :D]
    closed = gates == 0
    np.testing.assert_array_equal(J[closed], np.eye(D)[np.nonzero(closed)[1]])
    cfg = ProbeConfig(tau_grid=(0.0, 1e-2), headline_tau=0.0, diag="exclude")
    steps = metrics.per_step(J, cfg, gates=gates)
    np.testing.assert_allclose(steps["identity_row_frac"], 1.0 - gates.mean(1))
    np.testing.assert_allclose(steps["open_gate_frac"], gates.mean(1))
    # Off-diagonal exact-nonzero fraction equals the open-gate fraction.
    np.testing.assert_allclose(steps["density"], gates.mean(1), atol=1e-12)
    assert np.isfinite(steps["hamming"][1:]).all() and (steps["hamming"][1:] > 0).all()


def _pendulum_step(dt=0.01, g=9.81, length=1.0, b=0.1):
    def step(v):
        theta, omega, u = v[:, 0], v[:, 1], v[:, 2]
        omega2 = omega + dt * (-(g / length) * tf.sin(theta) - b * omega + u)
        return tf.stack([theta + dt * omega2, omega2], axis=1)

    return step


def test_t5_pendulum_analytic_and_state_dependent_zero():
    dt, g, b = 0.01, 9.81, 0.1
    points = np.array([[0.2, 0.3, 0.0], [np.pi / 2, 0.3, 0.0]])
    J = batched_jacobian(_pendulum_step(), points, dtype=tf.float64)
    c = np.cos(points[0, 0])
    expected = [
        [1 - dt**2 * g * c, dt * (1 - b * dt), dt**2],
        [-dt * g * c, 1 - b * dt, dt],
    ]
    np.testing.assert_allclose(J[0], expected, atol=1e-14)
    np.testing.assert_allclose(J[0, :, :2], [[0.999039, 0.00999], [-0.096145, 0.999]], atol=1e-6)
    assert abs(J[1, 1, 0]) < 1e-15  # d omega'/d theta vanishes at theta = pi/2
    # At tau = 1e-3 only d theta'/d u = dt^2 = 1e-4 is cut at theta = 0.2.
    steps = metrics.per_step(J, ProbeConfig(tau_grid=(1e-3,), headline_tau=1e-3))
    assert steps["density"][0] == 5 / 6 and steps["density"][1] == 4 / 6
    assert steps["hamming"][1] == 1.0
    # Update Jacobian J - I on the state block, |entry| > 5e-3: the identity parts (and the
    # small -b dt, -dt^2 g cos(theta) self terms) vanish; theta' <- omega and omega' <- u stay.
    cfg = ProbeConfig(tau_grid=(5e-3,), headline_tau=5e-3, diag="subtract", rule="abs")
    steps = metrics.per_step(J, cfg, diag_cols=[0, 1])
    np.testing.assert_array_equal(steps["density"], [3 / 6, 2 / 6])


def test_standardisation_is_invariant_to_rescaling_a_coordinate():
    points = np.stack([np.linspace(0.1, 1.4, 12), np.linspace(-1, 1, 12), np.zeros(12)], 1)
    J = batched_jacobian(_pendulum_step(), points, dtype=tf.float64)
    sigma_in, sigma_out = points.std(0) + 0.1, points[:, :2].std(0) + 0.1
    d = np.array([1000.0, 1.0, 1.0])  # express theta in milliradians
    J_scaled = J * d[None, :2, None] / d[None, None, :]
    cfg = ProbeConfig(rule="abs")
    ref = metrics.analyze(J, cfg, in_scale=sigma_in, out_scale=sigma_out)
    new = metrics.analyze(J_scaled, cfg, in_scale=sigma_in * d, out_scale=sigma_out * d[:2])
    np.testing.assert_allclose(new.maps()["mean_abs"], ref.maps()["mean_abs"], rtol=1e-12)
    np.testing.assert_array_equal(new.per_step()["density"], ref.per_step()["density"])
    raw = metrics.analyze(J_scaled, cfg)
    assert not np.allclose(raw.maps()["mean_abs"], ref.maps()["mean_abs"])


def test_row_subsampling_and_forward_mode_agree_with_full():
    rng = np.random.default_rng(0)
    W1 = tf.constant(rng.normal(size=(12, 20)), tf.float32)

    def step(v):
        return tf.tanh(v @ W1) * v[:, :1]

    x = rng.normal(size=(9, 12))
    full = batched_jacobian(step, x)
    rows = np.array([3, 11, 17])
    np.testing.assert_allclose(
        batched_jacobian(step, x, rows, batch_size=4), full[:, rows], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(batched_jacobian(step, x, mode="forward"), full, atol=1e-6)


def test_plots_write_pngs(tmp_path):
    from vsg.probe.report import event_summary

    J, _, _ = _switching_jacobians()
    gates = np.ones((40, 6))
    acc = metrics.analyze(J, gates=gates)
    per_step, maps = acc.per_step(), acc.maps()
    flags = np.zeros(40, bool)
    flags[[10, 20, 30]] = True
    steps = {
        "episode": np.zeros(40, int),
        "reward": np.linspace(0, 1, 40),
        "contact_event": flags,
        "constraint_event": ~flags,
        "any_event": np.ones(40, bool),
    }
    summary = {**acc.summary(), "events": event_summary(per_step, steps, acc.cfg.tau_grid, 20)}
    tau = acc.cfg.tau_grid
    # Each figure and texts it must show: labelled axes, tau, events on their own track.
    expected = {
        plots.plot_episode(per_step, steps, tmp_path / "ep.png", "t", "binary", tau): [
            "local density\n(headline τ)",
            f"τ = {min(tau):g}",
            f"τ = {max(tau):g}",
            "changed edges c_t\n/ entries",
            "open-gate fraction\n(binary gate)",
            "contact",
            "limit etc.",
            "|reward| (max 1)",
            "transition t (agent decision)",
        ],
        plots.plot_episode(per_step, steps, tmp_path / "soft.png", "t", "soft", tau): [
            "mean soft update\ngate (GRU)"
        ],
        plots.plot_heatmaps(maps, tmp_path / "maps.png", blocks={"h": (0, 4), "a": (4, 6)}): [
            "output row (state index)",
            "input column (index)",
            "h",
            "a",
            "log10 mean |J~|",
            "edge frequency (share of steps)",
        ],
        plots.plot_heatmaps(maps, tmp_path / "named.png", names=([*"abcdef"], [*"abcdef"])): ["f"],
        plots.plot_density_vs_tau({"a": summary, "b": summary}, tmp_path / "t.png"): [
            "threshold τ",
            "Density vs threshold τ (row-relative rule)",
        ],
        plots.plot_histograms(maps, per_step, tmp_path / "hist.png"): [
            "log10 |J~| (non-zero entries)",
            "entries",
            "steps",
            "changed edges c_t / entries",
            "k_0.9 / inputs of the row",
        ],
        plots.plot_event_averages({"a": summary}, tmp_path / "events.png"): [
            "lag (decisions from event)",
            "contact events",
            "contact, shuffled",
            "changed edges c_t / entries",
        ],
    }
    for path, texts in expected.items():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        shown = set(figure_description(path).split("\n"))
        for text in texts:
            assert set(text.split("\n")) <= shown, (path.name, text)


def figure_description(path):
    """The texts a probe figure shows, as stored in its PNG metadata."""
    with PIL.Image.open(path) as image:
        return image.text["Description"]


def test_bench_runs_on_a_tiny_step():
    timings = bench(dim=16, stoch=8, act=2, n=2, n_rows=4, repeats=1)
    assert set(timings) == {"full_reverse", "full_forward", "rows4_reverse"}
    assert all(v > 0 for v in timings.values())


def test_probe_bench_times_jacobians_and_metrics_apart(capsys):
    from vsg.probe.cheap import bench as probe_bench

    results = probe_bench("vsg", dims=[16], steps=[3], n_rows=4, action_size=2)
    assert [r["rows"] for r in results] == ["all", 4]
    for r in results:
        assert r["jacobian_s"] > 0 and r["metrics_s"] > 0 and r["filter_s"] > 0
        assert r["s"] == pytest.approx(r["filter_s"] + r["jacobian_s"] + r["metrics_s"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("Jacobian" in x and "metrics" in x for x in lines)
    assert all("load average" in x for x in lines)


def test_excluded_self_entry_still_sets_the_row_scale():
    # A carried-over dimension (self entry 0.99) with a weak cross term 1e-3 and a row whose
    # only cross term is strong: with the diagonal excluded, only the strong term is an edge.
    J = np.array([[[0.99, 1e-3, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    cfg = ProbeConfig(diag="exclude")
    acc = metrics.analyze(J, cfg)
    expected = np.zeros((3, 3), bool)
    expected[1, 0] = True
    np.testing.assert_array_equal(acc.union_mask(), expected)
    steps = acc.per_step()
    assert steps["density"][0] == 1 / 6  # 3 rows x 2 off-diagonal entries
    assert steps["identity_row_frac"][0] == 1 / 3 and steps["zero_row_frac"][0] == 0.0
    expected = (J[0] != 0) & (J[0] > 1e-3)  # keeping the diagonal adds the self edges only
    np.testing.assert_array_equal(metrics.analyze(J).union_mask(), expected)


def test_tau_grid_is_sorted_and_headline_found():
    cfg = ProbeConfig(tau_grid=(0.1, 1e-6, 1e-2), headline_tau=1e-2)
    assert cfg.tau_grid == (1e-6, 1e-2, 0.1) and cfg.headline_index == 1


def test_per_tau_change_of_a_smooth_drift():
    """Row [1, x_t] with x_t rising log-linearly from 1e-7 to 1e-1: at each tau the small
    entry becomes an edge at exactly one known step, so c_t(tau) is 1 there and 0 elsewhere,
    while the magnitude change is the same at every step."""
    T = 61
    x = 10.0 ** np.linspace(-7.0, -1.0, T)  # x_t / x_{t-1} = 10^0.1 at every step
    J = np.zeros((T, 1, 2))
    J[:, 0, 0], J[:, 0, 1] = 1.0, x
    taus = (1e-6, 1e-4, 1e-2)
    cfg = ProbeConfig(tau_grid=taus, headline_tau=1e-4)
    acc = metrics.analyze(J, cfg)
    steps = acc.per_step()
    for k, tau in enumerate(taus):
        onset = int(np.argmax(x > tau))
        expected = np.zeros(T)
        expected[onset] = 1.0
        np.testing.assert_array_equal(steps["hamming_tau"][1:, k], expected[1:])
        np.testing.assert_allclose(steps["hamming_frac_tau"][1:, k], expected[1:] / 2)
        sweep = acc.summary()["sweep"][k]
        assert sweep["frac_steps_no_change"] == pytest.approx(1 - 1 / (T - 1))
    np.testing.assert_array_equal(steps["hamming"], steps["hamming_tau"][:, 1])
    # ||dJ|| / ||J_{t-1}|| = x_{t-1} (10^0.1 - 1) / sqrt(1 + x_{t-1}^2): smooth, no spikes.
    expected = x[:-1] * (10**0.1 - 1) / np.sqrt(1 + x[:-1] ** 2)
    np.testing.assert_allclose(steps["rel_change"][1:], expected, rtol=1e-9)
    # Restricted to headline edges: before x crosses 1e-4 only the unchanging 1 counts.
    onset = int(np.argmax(x > 1e-4))
    np.testing.assert_array_equal(steps["rel_change_edges"][1:onset], 0.0)
    assert (steps["rel_change_edges"][onset:] > 0).all()


def test_event_alignment_per_tau_of_a_smooth_drift():
    """The drift above with one event where x_t crosses 1e-4: only at that tau does c_t spike
    at the event (half the entries change), at the others the event sees no change."""
    from vsg.probe.report import event_summary

    T = 61
    x = 10.0 ** np.linspace(-7.0, -1.0, T)
    J = np.zeros((T, 1, 2))
    J[:, 0, 0], J[:, 0, 1] = 1.0, x
    taus = (1e-6, 1e-4, 1e-2)
    acc = metrics.analyze(J, ProbeConfig(tau_grid=taus, headline_tau=1e-2))
    flags = x > 1e-4
    flags[1:] &= ~flags[:-1]
    steps = {"episode": np.zeros(T, int), "contact_event": flags}
    summary = event_summary(acc.per_step(), steps, taus, n_shuffles=20)["contact"]
    assert summary["n_events"] == 1 and summary["rate"] == pytest.approx(1 / T)
    per_tau = summary["hamming_frac_per_tau"]
    assert [row["tau"] for row in per_tau] == list(taus)
    assert [row["eta0"] for row in per_tau] == [0.0, 0.5, 0.0]
    # A single event shifted anywhere else meets no change: the shuffled baseline is 0.
    assert per_tau[1]["top1_share"] == 1.0 and per_tau[1]["shuffled0"] == 0.0
    # The headline (tau = 1e-2) statistics: no spike at the event's lag 0 or around it.
    np.testing.assert_array_equal(summary["hamming_frac"]["eta"], np.zeros(11))


def test_event_triggered_average_on_known_spikes():
    """c_t spikes by 1 one step after each event, within two episodes: the ETA is 1 at lag
    +1 and 0 elsewhere, shuffled events see only the base rate, the top steps all sit next to
    an event, and windows never cross the episode boundary."""
    from vsg.probe import events

    episode = np.repeat([0, 1], 50)
    flags = np.zeros(100, bool)
    flags[[5, 20, 33, 60, 81]] = True
    signal = np.zeros(100)
    signal[np.flatnonzero(flags) + 1] = 1.0
    signal[50] = np.nan  # an episode's first step has no change
    eta = events.triggered_average(signal, flags, episode, lags=3)
    np.testing.assert_array_equal(eta, [0, 0, 0, 0, 1, 0, 0])
    stats = events.event_stats(signal, flags, episode, lags=3, n_shuffles=50)
    assert stats["lags"] == [-3, -2, -1, 0, 1, 2, 3]
    assert stats["shuffled_mean"][4] < 0.5 and stats["shuffled_hi"][4] <= 1.0
    assert stats["top5_share"] == 1.0 and stats["top1_share"] == 1.0
    assert stats["chance_share"] == pytest.approx(15 / 99)  # 5 events x 3 steps, 99 finite
    assert stats["event_over_other"] == 0.0 and stats["corr"] < 0
    # An event at the last step of episode 0 does not reach into episode 1.
    edge = np.zeros(100, bool)
    edge[49] = True
    assert np.isnan(events.triggered_average(signal, edge, episode, lags=1)[2])
    np.testing.assert_array_equal(np.flatnonzero(events.near_event(edge, episode, 1)), [48, 49])
