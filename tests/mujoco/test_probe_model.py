"""End to end: the probe CLI, model Jacobians, cheap probe and comparison on tiny trained runs
of each model family (DreamerV2, VSG, SVSG), trained once per module in parallel."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

# isort: off
import vsg.probe  # noqa: F401  (before TensorFlow: the probe renders MuJoCo here)
import tensorflow as tf

# isort: on
from vsg.probe import cheap_probe
from vsg.probe import model as probe_model
from vsg.probe import runs as probe_runs
from vsg.probe.__main__ import main as probe_main
from vsg.probe.metrics import DEFAULT_TAU_GRID
from vsg.replay import Replay

REPO = pathlib.Path(__file__).resolve().parents[2]
TASK = "dmc_cartpole_balance"
FAMILIES = {"dreamerv2": [], "vsg": [], "svsg": ["--dyn_stoch", "16"]}
VARIANTS = {
    "dreamerv2": ["soft"],
    "vsg": ["realised", "expected"],
    "svsg": ["realised", "expected"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{family: run dir} of three tiny 300-frame runs trained side by side."""
    root = tmp_path_factory.mktemp("probe_runs")
    procs = {}
    for fam, extra in FAMILIES.items():
        cmd = [sys.executable, "-m", "vsg.train", "--configs", "dmc", fam, "tiny"]
        cmd += ["--task", TASK, "--logdir", str(root / fam), "--steps", "300", *extra]
        procs[fam] = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    dirs = {}
    for fam, proc in procs.items():
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output[-3000:]
        dirs[fam] = root / fam / TASK / "default" / "seed0"
    return dirs


@pytest.fixture(scope="module")
def probed(runs):
    """{family: summary dict} after probing one short collected episode per run."""
    return {
        fam: probe_main([str(run), "--episodes", "1", "--max_steps", "30"])
        for fam, run in runs.items()
    }


@pytest.fixture(scope="module")
def loaded(runs):
    """{family: (ModelProbe, Transitions of the stored eval episode)}."""
    out = {}
    for fam, run in runs.items():
        _, config = probe_runs.check_run(run)
        episodes = probe_model.read_episodes(run / "eval_eps", 1)
        agent, _ = probe_runs.load_agent(run, config, episodes[0]["action"].shape[-1])
        probe = probe_model.ModelProbe(agent)
        out[fam] = (probe, probe.transitions(episodes[0]))
    return out


def _unit_rows(J):
    """[T, n_out] bool: row i of J [T, n_out, n_in] is exactly e_i."""
    n = J.shape[1]
    unit = np.zeros(J.shape[1:], J.dtype)
    unit[np.arange(n), np.arange(n)] = 1.0
    return (J == unit[None]).all(axis=2)


def _tags(directory):
    tags = set()
    for path in pathlib.Path(directory).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.mark.parametrize("fam", list(FAMILIES))
def test_outputs(fam, runs, probed):
    out = runs[fam] / "probe"
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(probed[fam]))
    assert summary["meta"]["probe_dtype"] == "float32"
    assert list(summary["models"]) == VARIANTS[fam] + ["ground_truth"]
    for name, model in summary["models"].items():
        assert len(model["sweep"]) == len(DEFAULT_TAU_GRID), name
        for key in ("density_local_mean", "density_union", "density_union_freq"):
            assert 0.0 <= model[key] <= 1.0, (name, key)
        assert -1.0 <= model["gap"] <= 1.0
        for key in ("hamming_frac_median", "k_mass_frac_mean", "n_dead_rows", "jacobian"):
            assert key in model, (name, key)
        assert model["n_steps"] == 30
        # Events come from the simulator along the same transitions, for every model.
        assert {"contact", "constraint", "any"} <= set(model["events"]), name
        assert len(model["events"]["any"]["hamming_frac"]["eta"]) == 11
    assert summary["models"][VARIANTS[fam][0]]["open_gate_frac_mean"] is not None
    # The ground truth differentiates one decision: action_repeat 2 x 1 cartpole substep.
    truth = summary["meta"]["ground_truth"]
    assert truth["time_scale"] == "decision" and truth["steps_per_jacobian"] == [2]
    assert truth["dt"] > 0 and truth["fd_eps"] == 1e-6 and "A - I" in truth["convention"]
    assert truth["replay_max_abs_error"] == 0.0
    assert summary["models"]["ground_truth"]["jacobian"].startswith("MuJoCo decision map: J - I")
    steps = np.load(out / "steps.npz")
    assert steps["contacts"].shape == (30,) and steps[f"{VARIANTS[fam][0]}/density"].shape == (30,)
    assert steps["any_event"].dtype == bool and steps[f"{VARIANTS[fam][0]}/hamming_tau"].shape == (
        30,
        len(DEFAULT_TAU_GRID),
    )
    figures = {p.name for p in (out / "figures").glob("*.png")}
    for name in VARIANTS[fam] + ["ground_truth"]:
        assert {f"episode0_{name}.png", f"heatmaps_{name}.png", f"histograms_{name}.png"} <= figures
    assert {"density_vs_tau.png", "events.png"} <= figures
    for path in (out / "figures").glob("*.png"):  # each states tau, rule and convention
        with PIL.Image.open(path) as image:
            shown = image.text["Description"]
        assert "τ" in shown and "row-relative" in shown, path.name
        assert "J (diagonal kept)" in shown or "J - I" in shown, path.name
    tags = _tags(out)
    variant = VARIANTS[fam][0]
    assert f"probe/{variant}/density_local_mean" in tags
    assert f"probe/{variant}/tau_0.01/density_union" in tags
    assert f"probe/{variant}/heatmaps" in tags and "probe/ground_truth/gap" in tags


@pytest.mark.parametrize("fam", ["vsg", "svsg"])
def test_realised_closed_rows_are_unit_vectors(fam, loaded):
    probe, trans = loaded[fam]
    J = probe.jacobian(trans, "realised")
    assert J.shape == (trans.length, probe.n_state, probe.n_in)
    # The recorded gates, straight from the posterior, expanded to the state size.
    closed = trans.gate == 0
    assert closed.any() and (~closed).any()
    # Closed rows are exactly e_i on the state block and 0 on the others; open rows never.
    np.testing.assert_array_equal(_unit_rows(J), closed)
    expected = probe.jacobian(trans, "expected")
    assert not _unit_rows(expected).any()
    assert np.abs(expected - J).max() > 1e-3
    rows = np.array([1, 3])
    np.testing.assert_allclose(probe.jacobian(trans, "realised", rows), J[:, rows], atol=1e-6)


def test_soft_rssm_has_no_unit_rows(loaded):
    probe, trans = loaded["dreamerv2"]
    assert probe.variants == ("soft",) and list(probe.blocks) == ["h", "z", "a"]
    J = probe.jacobian(trans, "soft")
    assert np.isfinite(J).all() and (np.abs(J[:, :, probe.blocks["a"][0]]) > 0).any()
    assert not _unit_rows(J).any()


def test_cheap_probe(runs, loaded):
    probe, _ = loaded["vsg"]
    batch = Replay(runs["vsg"] / "train_eps", 10000, 8, seed=0, save=False).sample(2)
    out = cheap_probe(probe.agent, batch)
    assert {"probe/realised/density_local", "probe/expected/gap", "probe/seconds"} <= set(out)
    assert all(key.startswith("probe/") and np.isfinite(v) for key, v in out.items())
    assert out["probe/realised/identity_rows"] > 0.0
    assert out["probe/expected/identity_rows"] == 0.0


def test_compare(runs, probed, tmp_path):
    probe_main(["compare", *(str(run) for run in runs.values()), "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert len(rows) == sum(len(v) + 1 for v in VARIANTS.values())
    assert {row["jacobian"] for row in rows} == {"J", "J-I (decision, 2 mj_step)"}
    for row in rows:  # every figure but the event ratio is a fraction
        skip = ("run", "model", "jacobian", "!event_ratio")
        values = [v for k, v in row.items() if k not in skip]
        assert all(v is None or -1.0 <= v <= 1.0 for v in values), row
    table = (tmp_path / "compare.md").read_text()
    assert table.startswith("All figures are fractions") and "headline τ = 0.01" in table
    assert (tmp_path / "density_vs_tau.png").is_file() and (tmp_path / "densities.png").is_file()


def _cli(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "vsg.probe", *args], cwd=REPO, capture_output=True, text=True
    )
    return proc.returncode, proc.stderr.strip().splitlines()


def test_bad_input_exits_2_and_writes_nothing(runs, tmp_path):
    no_ckpt = tmp_path / "run"
    no_ckpt.mkdir()
    (no_ckpt / "config.yaml").write_text((runs["vsg"] / "config.yaml").read_text())
    out = tmp_path / "out"
    cases = [
        [str(tmp_path / "missing")],
        [str(no_ckpt)],
        [str(runs["vsg"]), "--bogus", "--out", str(out)],
        ["compare", str(no_ckpt), "--out", str(out)],
    ]
    for args in cases:
        code, lines = _cli(*args)
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), (args, lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in no_ckpt.iterdir()] == ["config.yaml"]
