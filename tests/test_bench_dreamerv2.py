"""`python -m vsg.bench_dreamerv2` and `scripts/bench_vs_dreamerv2.sh`: danijar/dreamerv2 timed
beside ours."""

import os
import pathlib
import subprocess

import pytest

from vsg.bench_dreamerv2 import compare_table, main, read_figures

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_vs_dreamerv2.sh"


def bench_lines(label, update, world_model, policy_ms, first, rss):
    """The figure lines `vsg.bench` prints (and `vsg.bench_dreamerv2`, with its label)."""
    return [
        f"{label}: batch 16 x 50, CNN depth 48, ...",
        f"{label} parameters: world model 13,656,772 (encoder 1,551,312); actor 976,012",
        f"{label} update (world model + imagination + actor + critic): {update:.3f} s "
        "(min 1.000, max 9.000)",
        f"{label} world model alone: {world_model:.3f} s (min 1.000, max 9.000)",
        f"{label} policy step, batch 1: {policy_ms:.3f} ms (min 1.000, max 9.000)",
        f"{label} first update call (trace + run): {first:.1f} s",
        f"{label} peak RSS: {rss:.2f} GiB",
    ]


def write_log(path, label, rounds):
    path.write_text("\n".join(line for r in rounds for line in bench_lines(label, *r)) + "\n")
    return path


def test_figures_of_several_rounds_are_read_and_set_side_by_side(tmp_path):
    ours = write_log(
        tmp_path / "ours.log",
        "[dreamerv2 sizes, dreamerv2]",
        [(5.0, 3.0, 5.0, 20.0, 2.4), (6.0, 3.5, 6.0, 22.0, 2.5), (5.5, 3.2, 4.0, 21.0, 2.4)],
    )
    theirs = write_log(
        tmp_path / "theirs.log",
        "[dreamerv2 2.2.0]",
        [(10.0, 6.0, 8.0, 40.0, 2.6), (9.0, 6.4, 8.0, 42.0, 2.6), (11.0, 5.0, 7.0, 44.0, 2.5)],
    )
    figures = read_figures(ours)
    assert figures["update"] == [5.0, 6.0, 5.5]
    assert figures["policy step, batch 1"] == [5.0, 6.0, 4.0]
    assert figures["first update call"] == [20.0, 22.0, 21.0]
    assert "parameters" not in figures
    rows = compare_table(figures, read_figures(theirs)).splitlines()
    # medians: update 5.5 vs 10 (0.55), world model 3.2 vs 6.0 (0.53), policy 5 vs 8 ms
    # (0.62), first call 21 vs 42 s (0.50), peak RSS 2.4 vs 2.6 GiB (0.92)
    assert rows[2] == (
        "| update (world model + imagination + actor + critic) | 10.00 s | 5.50 s | 0.55 |"
    )
    assert rows[3] == "| world model alone | 6.00 s | 3.20 s | 0.53 |"
    assert rows[4] == "| policy step, batch 1 | 8.00 ms | 5.00 ms | 0.62 |"
    assert rows[5] == "| first update call (trace + run) | 42.0 s | 21.0 s | 0.50 |"
    assert rows[6] == "| peak RSS | 2.60 GiB | 2.40 GiB | 0.92 |"
    assert rows[7] == "(3 rounds of fresh processes each)"


def test_compare_prints_the_table(tmp_path, capsys):
    ours = write_log(tmp_path / "ours.log", "[x]", [(4.0, 2.0, 5.0, 20.0, 2.0)])
    theirs = write_log(tmp_path / "theirs.log", "[y]", [(8.0, 4.0, 5.0, 40.0, 2.0)])
    main(["--compare", str(ours), str(theirs)])
    assert "| world model alone | 4.00 s | 2.00 s | 0.50 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--compare", "/nonexistent/ours.log", "/nonexistent/theirs.log"],
        ["--compare", os.devnull, os.devnull],  # no figures in them
        ["--repeat", "0"],
        [],  # dreamerv2's modules are not on the path
    ],
)
def test_bad_input_exits_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["x"], ["0"], ["1", "--small"], ["1", "--tiny", "extra"]])
def test_script_rejects_bad_arguments_before_any_work(args, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result
    assert result.stderr.startswith("error:")
    assert not list(tmp_path.iterdir())  # nothing fetched


@pytest.mark.slow
def test_script_fetches_dreamerv2_and_times_both_at_tiny_sizes(tmp_path):
    """The real dreamerv2 2.2.0 from PyPI, its agent trained at tiny sizes beside ours."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT), "1", "--tiny"], env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "[dreamerv2 2.2.0]: batch 2 x 8, CNN depth 4" in out
    table = out[out.index("| figure (median over rounds)") :].splitlines()
    assert [row.split(" | ")[0] for row in table[2:7]] == [
        "| update (world model + imagination + actor + critic)",
        "| world model alone",
        "| policy step, batch 1",
        "| first update call (trace + run)",
        "| peak RSS",
    ]
    for row in table[2:7]:
        assert float(row.split(" | ")[-1].rstrip(" |")) > 0
    assert table[7] == "(1 rounds of fresh processes each)"
    assert (tmp_path / "vsg" / "dreamerv2-2.2.0" / "src" / "agent.py").exists()
