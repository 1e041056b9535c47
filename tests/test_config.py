"""Tests for vsg.config: preset merging, typed overrides, errors, saving and the CLI."""

import os
import platform
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from vsg.config import ConfigError, load_config, load_presets, save_config

ROOT = __file__.rsplit("/tests/", 1)[0]

PRESETS = {
    "defaults": {
        "steps": 10,
        "lr": 1.0e-3,
        "flag": False,
        "heads": ["image", "reward"],
        "size": [64, 64],
        "name": "base",
    },
    "first": {"steps": 20, "name": "first"},
    "second": {"steps": 30, "lr": 2},
    "broken": {"nope": 1},
}


def load(argv):
    return load_config(argv, PRESETS)


def test_presets_merge_in_order_later_wins():
    """Each preset overrides the ones before it; untouched keys keep their defaults."""
    config = load(["--configs", "first", "second"])
    assert config.steps == 30 and config.name == "first" and config.flag is False
    assert config.lr == 2.0 and isinstance(config.lr, float)
    assert load(["--configs", "second", "first"]).steps == 20


def test_configs_flag_may_repeat_and_extends():
    """A second --configs appends to the first list instead of replacing it."""
    config = load(["--configs", "first", "--steps", "5", "--configs", "second"])
    assert config.name == "first" and config.lr == 2.0
    assert config.steps == 5  # command-line overrides win over every preset


@pytest.mark.parametrize(
    "key, text, expected",
    [
        ("steps", "7", 7),
        ("steps", "1e3", 1000),
        ("lr", "3e-4", 3e-4),
        ("lr", "2", 2.0),
        ("flag", "True", True),
        ("flag", "False", False),
        ("heads", "a,b", ["a", "b"]),
        ("heads", "a, b,", ["a", "b"]),
        ("size", "32,48", [32, 48]),
        ("name", "x", "x"),
    ],
)
def test_overrides_are_typed_by_defaults(key, text, expected):
    """`--key value` is parsed with the type of the default value."""
    value = load(["--" + key, text])[key]
    assert value == expected and type(value) is type(expected)
    if isinstance(expected, list):
        assert [type(item) for item in value] == [type(item) for item in expected]


def test_key_equals_value_form():
    """`--key=value` is accepted like `--key value`."""
    assert load(["--steps=4"]).steps == 4


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--nope", "1"], "nope"),
        (["--configs", "missing"], "missing"),
        (["--configs", "broken"], "nope"),
        (["--steps", "abc"], "steps"),
        (["--steps", "1.5"], "steps"),
        (["--flag", "maybe"], "flag"),
        (["--lr", "fast"], "lr"),
        (["--steps"], "steps"),
    ],
)
def test_bad_input_raises_config_error_naming_it(argv, fragment):
    """Unknown keys/presets, mistyped and missing values raise ConfigError naming the culprit."""
    with pytest.raises(ConfigError, match=fragment):
        load(argv)


def test_preset_value_of_wrong_type_is_rejected():
    """A preset may not change a key's type (an int may widen to a float)."""
    presets = {**PRESETS, "bad": {"steps": "many"}}
    with pytest.raises(ConfigError, match="steps"):
        load_config(["--configs", "bad"], presets)


def test_save_config_round_trips(tmp_path):
    """save_config writes YAML that loads back to the same values, with no temp file left."""
    config = load_config(["--configs", "dmc", "dreamerv2", "tiny", "--dyn_stoch", "4"])
    path = tmp_path / "config.yaml"
    save_config(config, path)
    assert YAML(typ="safe", pure=True).load(path.read_text()) == dict(config)
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_shipped_presets_are_consistent():
    """Every shipped preset merges cleanly on top of defaults and sets the documented values."""
    presets = load_presets()
    for name in presets:
        load_config(["--configs", name])
    vsg = load_config(["--configs", "dmc", "vsg"])
    assert (vsg.model_type, vsg.dyn_cell, vsg.dyn_discrete) == ("rssm", "sgru", 32)
    svsg = load_config(["--configs", "dmc", "svsg"])
    assert (svsg.model_type, svsg.dyn_kl_mask, svsg.dyn_discrete) == ("srssm", True, 0)


def run_train(*args):
    return subprocess.run(
        [sys.executable, "-m", "vsg.train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_help_lists_keys():
    """`python -m vsg.train --help` exits 0 and lists every config key."""
    result = run_train("--help")
    assert result.returncode == 0, result.stderr
    for key in load_presets()["defaults"]:
        assert f"--{key} " in result.stdout


def test_cli_unknown_key_exits_2_with_one_line():
    """An unknown key exits with status 2 and stderr is exactly one line naming it."""
    result = run_train("--nope", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error") and "nope" in lines[0]


def test_validation_reads_the_registries_without_tensorflow(monkeypatch):
    """vsg.train checks model and cell names against the registries, which name their entries
    without importing them: a registered name is accepted, an unknown one lists them all."""
    from vsg.dynamics import CELLS, DYNAMICS
    from vsg.train import validate

    config = load_config(["--configs", "dmc", "dreamerv2", "--model_type", "mine"])
    with pytest.raises(ConfigError, match="unknown model_type 'mine'") as error:
        validate(config)
    assert all(name in str(error.value) for name in DYNAMICS)
    monkeypatch.setitem(DYNAMICS, "mine", "my_package.dynamics:Mine")
    validate(config)
    with pytest.raises(ConfigError, match="unknown dyn_cell 'lstm'") as error:
        validate(load_config(["--configs", "dmc", "dreamerv2", "--dyn_cell", "lstm"]))
    assert all(name in str(error.value) for name in CELLS)
    code = "import sys, vsg.train, vsg.dynamics, vsg.models; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_preset_may_be_a_yaml_file_of_your_own(tmp_path):
    """--configs takes paths of YAML files too, merged in order like the shipped presets and
    checked the same way (unknown keys, types); a missing or malformed file is named."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("dyn_deter: 48\nkl_free: 2\n")
    config = load_config(["--configs", "dmc", "vsg", str(mine), "tiny"])
    assert (config.dyn_deter, config.kl_free, config.dyn_cell) == (16, 2.0, "sgru")
    assert load_config(["--configs", "dmc", str(mine)]).dyn_deter == 48
    bad = {"typo.yaml": "dyn_detr: 48\n", "typed.yaml": "dyn_deter: many\n", "list.yml": "- 1\n"}
    messages = {"typo.yaml": "unknown key 'dyn_detr'", "typed.yaml": "expected int"}
    messages["list.yml"] = "expected key: value lines"
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=messages[name]):
            load_config(["--configs", str(tmp_path / name)])
    with pytest.raises(ConfigError, match="cannot read preset file .*absent.yaml"):
        load_config(["--configs", str(tmp_path / "absent.yaml")])


def test_tensorflow_start_up_messages_only_with_verbose():
    """`vsg.quiet.import_tensorflow` hides TensorFlow's start-up lines unless verbose."""
    code = "import sys, vsg.quiet; vsg.quiet.import_tensorflow(verbose=sys.argv[1] == 'loud')"
    quiet, loud = (
        subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True)
        for mode in ("quiet", "loud")
    )
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert quiet.stderr == "" and len(loud.stderr.strip().splitlines()) > 1


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only")
def test_tensorflow_uses_onednn_on_x86_unless_the_user_says_otherwise():
    code = (
        "import os, vsg.quiet; tf = vsg.quiet.import_tensorflow(); "
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    )
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    for user, expected in ((None, "1"), ("0", "0")):
        extra = {} if user is None else {"TF_ENABLE_ONEDNN_OPTS": user}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**env, **extra}
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
