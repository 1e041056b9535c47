"""`python -m vsg.bench`: its size sets, parameter counts, options and output."""

import json

import pytest

from vsg.agent import Agent
from vsg.bench import ACTION_SIZE, case_config, main, parameter_counts


def test_dreamerv2_sizes_have_dreamerv2s_parameter_counts():
    """danijar/dreamerv2 at `dmc_vision` (walker, 6 actions) has these counts module by module:
    world model 13,656,772, actor 976,012, critic 971,601."""
    config = case_config("dreamerv2", "dreamerv2")
    counts = parameter_counts(Agent(config, ACTION_SIZE))
    assert counts == {
        "world model": 13_656_772,
        "encoder": 1_551_312,
        "decoder": 9_886_611,
        "dynamics": 1_247_248,
        "reward": 971_601,
        "discount": 0,
        "actor": 976_012,
        "critic": 971_601,
    }
    assert config.imag_horizon - 1 == 15 and config.weight_decay == 1e-6
    assert (config.batch_size, config.batch_length, config.precision) == (16, 50, "32")


def test_help_describes_the_bench(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: python -m vsg.bench")
    for words in ("--sizes", "--repeat", "--warmup", "DreamerV2's own dmc_vision", "peak"):
        assert words in text


@pytest.mark.parametrize(
    "argv", [["--sizes", "huge"], ["--no_such_key", "1"], ["--repeat", "0"], ["--models", "x"]]
)
def test_bad_arguments_exit_2_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_case_prints_every_figure(capfd):
    main(["--sizes", "tiny", "--repeat", "1", "--warmup", "0", "--models", "dreamerv2,svsg"])
    out = capfd.readouterr().out
    for model in ("dreamerv2", "svsg"):
        label = f"[tiny sizes, {model}]"
        for figure in (
            ": batch 2 x 8, CNN depth 4",
            " parameters: world model ",
            " update (world model + imagination + actor + critic): ",
            " world model alone: ",
            " policy step, batch 1: ",
            " first update call (trace + run): ",
            " peak RSS: ",
        ):
            assert label + figure in out, (label + figure, out)


def test_throughput_of_a_run_from_its_log_records(tmp_path, capsys):
    records = [
        {"step": 1000, "perf/updates": 0, "fps": 100.0},  # prefill: no update yet
        {"step": 2000, "perf/updates": 1, "fps": 50.0},
        {"step": 1000, "eval/return": 3.0},  # an evaluation record, out of step order
        {"step": 4000, "perf/updates": 201, "fps": 20.0},  # 2000 frames in 100 s
        {"step": 6000, "perf/updates": 401, "fps": 10.0},  # 2000 frames in 200 s
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    main(["--throughput", str(tmp_path)])
    assert capsys.readouterr().out == (
        f"{tmp_path}: 13.3 env frames/s, 1.333 updates/s while training "
        "(4000 frames, 400 updates)\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["--throughput", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
