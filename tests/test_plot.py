"""vsg.plot draws run curves (with a published-curve overlay) and rejects bad input."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from vsg.plot import main
from vsg.rundir import read_curve


def write_run(run_dir):
    run_dir.mkdir(parents=True)
    records = [
        {"step": 1000, "train/return": 10.0},
        {"step": 2000, "train/return": 20.0, "eval/return": 25.0},
        {"step": 3000, "eval/return": None, "model/loss": 1.0},
    ]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_curves_are_read_and_plotted_with_paper_overlay(tmp_path):
    run = tmp_path / "dmc_x" / "VSG_a" / "seed1"
    write_run(run)
    steps, values = read_curve(run, "eval/return")
    assert steps.tolist() == [2000] and values.tolist() == [25.0]
    paper = tmp_path / "scores.json"
    curve = {"task": "dmc_x", "method": "VSG", "xs": [0, 5000], "ys": [0.0, 30.0]}
    paper.write_text(json.dumps([{**curve, "seed": 0}, {**curve, "seed": 1}]))
    out = tmp_path / "curve.png"
    main([str(run), "--out", str(out), "--paper", str(paper), "--task", "dmc_x"])
    assert Image.open(out).size[0] > 400


def test_metric_panels_are_added_below_the_returns(tmp_path):
    runs = [tmp_path / "dmc_x" / name / "seed1" for name in ("DreamerV2_a", "DreamerV2_b")]
    for run in runs:
        write_run(run)
    returns_only, with_loss = tmp_path / "returns.png", tmp_path / "loss.png"
    main([*map(str, runs), "--out", str(returns_only)])
    main([*map(str, runs), "--out", str(with_loss), "--metrics", "model/loss"])
    assert Image.open(with_loss).size[1] > 1.5 * Image.open(returns_only).size[1]


@pytest.mark.parametrize("extra", [["--paper", "x.json"], ["--metrics", "model/nothing"], []])
def test_bad_input_exits_2(tmp_path, extra):
    run = tmp_path / "run"
    if extra:
        write_run(run)  # a valid run, but --paper without --task or an unlogged key
    result = subprocess.run(
        [sys.executable, "-m", "vsg.plot", str(run), *extra, "--out", str(tmp_path / "c.png")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith("error:")
    assert not (tmp_path / "c.png").exists()
