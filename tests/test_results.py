"""vsg.results: run discovery, scores at a budget, tables, bootstrap aggregates and figures.

Known answers: hand-computed scores of synthetic runs, and the paper's own numbers from its
published score files (the means over tasks at the final point).
"""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from vsg.results.__main__ import main
from vsg.results.scores import SUITES, Curve, score_at
from vsg.results.stats import Aggregates, aggregate, probability_of_improvement
from vsg.results.tables import build_table
from vsg.rundir import find_runs

PAPER_DIR = ROOT / "vsg" / "results" / "paper_scores"
PAPER = [str(PAPER_DIR / "bbs.json"), str(PAPER_DIR / "dmc.json")]
DMC = SUITES[0]


def write_run(logdir, task, run_id, seed, evals, truncated_tail=False):
    """A run directory whose metrics.jsonl has eval/return `value` at each (step, value)."""
    run_dir = logdir / task / run_id / f"seed{seed}"
    run_dir.mkdir(parents=True)
    lines = [json.dumps({"step": step, "eval/return": value}) for step, value in evals]
    lines.insert(1, json.dumps({"step": 5, "train/return": 1.0}))  # no eval: skipped
    text = "\n".join(lines) + "\n" + ('{"step": 99, "eval/ret' if truncated_tail else "")
    (run_dir / "metrics.jsonl").write_text(text)
    return run_dir


def read_csv(path):
    return list(csv.DictReader(open(path)))


def task_means(rows, budget):
    return {
        row["method"]: float(row["mean"])
        for row in rows
        if row["task"] == "mean over tasks" and int(row["budget"]) == budget
    }


def test_runs_are_found_by_task_id_and_seed(tmp_path):
    write_run(tmp_path / "logs" / "dmc", "dmc_a_b", "VSG_prior0.4_x", 3, [(10, 1.0)])
    write_run(tmp_path / "logs" / "dmc", "dmc_a_b", "DreamerV2_x", 1, [(10, 1.0)], True)
    (tmp_path / "logs" / "notes").mkdir()
    (tmp_path / "logs" / "notes" / "metrics.jsonl").write_text("{}\n")  # not seed<N>: ignored
    runs = find_runs([tmp_path / "logs", tmp_path / "logs" / "dmc"])  # overlapping roots
    assert [(r.task, r.run_id, r.seed) for r in runs] == [
        ("dmc_a_b", "DreamerV2_x", 1),
        ("dmc_a_b", "VSG_prior0.4_x", 3),
    ]
    assert runs[0].label == "DreamerV2_x/seed1"


def test_score_at_a_budget_uses_the_window_or_the_last_window_of_a_short_run():
    curve = Curve("dmc_a", "m", "0", np.array([40, 60, 80, 100, 120]), np.arange(5.0), "ours")
    assert score_at(curve, 100, 50) == (2.0, False)  # mean of the points at 60, 80, 100
    assert score_at(curve, 200, 30) == (3.5, True)  # ended early: its last window (90, 120]
    assert score_at(curve, 30, 50) is None


def test_synthetic_runs_give_hand_computed_tables_and_aggregates(tmp_path):
    logdir = tmp_path / "logs"
    # Scores at budget 100 with window 50 (points at 60 and 100 averaged), per seed:
    # DreamerV2: task a 200, 400; task b 600, 800.  VSG: task a 500, 700; task b 900, 1000.
    for seed, (a, b) in enumerate([(200, 600), (400, 800)]):
        write_run(logdir, "dmc_a_x", "DreamerV2_t", seed, [(20, 0), (60, a - 10), (100, a + 10)])
        write_run(logdir, "dmc_b_x", "DreamerV2_t", seed, [(60, b), (100, b)])
    for seed, (a, b) in enumerate([(500, 900), (700, 1000)]):
        write_run(logdir, "dmc_a_x", "VSG_prior0.4_t", seed, [(60, a), (100, a)])
        write_run(logdir, "dmc_b_x", "VSG_prior0.4_t", seed, [(60, b), (100, b)])
    out = tmp_path / "out"
    main([str(logdir), "--budget", "100", "--window", "50", "--out", str(out), "--reps", "300"])
    rows = read_csv(out / "results.csv")
    cell = next(r for r in rows if r["task"] == "dmc_a_x" and r["method"] == "DreamerV2_t")
    assert (float(cell["mean"]), float(cell["std"]), cell["seeds"]) == (300.0, 100.0, "2")
    assert task_means(rows, 100) == {"DreamerV2_t": 500.0, "VSG_prior0.4_t": 775.0}
    aggregates = {(r["method"], r["metric"]): r for r in read_csv(out / "aggregates.csv")}
    # Normalised DreamerV2 scores 0.2, 0.4, 0.6, 0.8: IQM = mean of the middle two = 0.5;
    # VSG 0.5, 0.7 | 0.9, 1.0: IQM 0.8, median of the task means (0.6, 0.95) 0.775,
    # optimality gap mean(max(1 - x, 0)) = 0.225.
    assert float(aggregates[("DreamerV2_t", "IQM")]["value"]) == pytest.approx(0.5)
    assert float(aggregates[("VSG_prior0.4_t", "IQM")]["value"]) == pytest.approx(0.8)
    assert float(aggregates[("VSG_prior0.4_t", "Median")]["value"]) == pytest.approx(0.775)
    gap = aggregates[("VSG_prior0.4_t", "Optimality gap")]
    assert float(gap["value"]) == pytest.approx(0.225)
    # Every VSG score beats every DreamerV2 score of the same task.
    assert float(aggregates[("VSG_prior0.4_t", "P(> DreamerV2_t)")]["value"]) == 1.0
    assert "| dmc_a_x | 300 ± 100 (2) | 600 ± 100 (2) |" in (out / "results.md").read_text()
    for name in ["curves_dmc.png", "aggregates_dmc_100.png", "profiles_dmc_100.png"]:
        assert Image.open(out / name).size[0] > 400, name


def test_bootstrap_interval_contains_the_true_mean():
    # 10 seeds x 8 tasks drawn around a true normalised mean of 0.6.
    rng = np.random.default_rng(3)
    scores = np.clip(rng.normal(600, 150, size=(10, 8)), 0, 1000)
    curves = [
        Curve(f"dmc_t{task}", "VSG_x", str(seed), np.array([100]), scores[seed, [task]], "ours")
        for seed in range(10)
        for task in range(8)
    ]
    table = build_table(curves, DMC, 100, 50)
    result: Aggregates = aggregate(table, reps=1000, seed=0)
    low, high = result.interval["VSG_x"][:, 1]  # the mean
    assert low < 0.6 < high and high - low < 0.1
    assert result.point["VSG_x"][1] == pytest.approx(scores.mean() / 1000)
    again = aggregate(table, reps=1000, seed=0)  # the same seed, the same intervals
    assert np.array_equal(again.interval["VSG_x"], result.interval["VSG_x"])


def test_probability_of_improvement_matches_rliable():
    from rliable import metrics

    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 5, size=(5, 6)) * 1.0, rng.integers(0, 5, size=(4, 6)) * 1.0
    assert probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y)
    )


def test_the_paper_score_files_reproduce_the_paper_means(tmp_path):
    main(["--paper", *PAPER, "--out", str(tmp_path), "--reps", "200"])
    rows = read_csv(tmp_path / "results.csv")
    bbs = {m: round(v, 2) for m, v in task_means(rows, 2_400_000).items()}
    assert bbs == {"paper DreamerV2": 2.41, "paper VSG": 3.23, "paper SVSG": 2.83}
    dmc = {m: round(v) for m, v in task_means(rows, 1_000_000).items()}
    expected = {"DreamerV1": 659, "DreamerV2": 768, "VSG": 771, "SVSG": 731}
    assert dmc == {f"paper {m}": v for m, v in expected.items()}
    dmc_500k = {m: round(v) for m, v in task_means(rows, 500_000).items()}
    assert list(dmc_500k.values()) == [472, 627, 642, 599]
    text = (tmp_path / "results.md").read_text()
    assert "| paper VSG | paper DreamerV2 |" in text  # P(VSG > DreamerV2) is reported
    for name in ["curves_bbs.png", "curves_dmc.png", "aggregates_bbs_2400000.png"]:
        assert Image.open(tmp_path / name).size[0] > 400, name


@pytest.mark.parametrize("case", ["missing logdir", "no runs", "bad paper file"])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text('[{"task": "dmc_a"}]')
    args = {
        "missing logdir": [str(tmp_path / "nowhere")],
        "no runs": [str(tmp_path / "empty")],
        "bad paper file": ["--paper", str(tmp_path / "bad.json")],
    }[case]
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "vsg.results", *args, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr.splitlines()) == 1
    assert not out.exists()
