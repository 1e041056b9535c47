"""Configuration: named YAML presets merged in order, then typed `--key value` overrides.

`configs/configs.yaml` holds named presets. `defaults` defines every key and its type; later
presets may only change existing keys. A preset may also be a YAML file of `key: value` lines,
named by its path (ending in .yaml or .yml), e.g. the preset of a variant of your own.
Command-line overrides are parsed with the type of the default value, so a mistyped value or
an unknown key is an error that names the key.
"""

import argparse
import pathlib

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

PRESETS_FILE = pathlib.Path(__file__).resolve().parent.parent / "configs" / "configs.yaml"


class ConfigError(ValueError):
    """A bad preset name, key or value; the message names it."""


class Config(dict):
    """A plain dict with attribute access; the resolved settings of one run."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error

    def __setattr__(self, name, value):
        raise AttributeError("Config is read-only; use Config({**config, key: value}).")


def load_presets(path=PRESETS_FILE):
    """Returns {preset name: dict} from the YAML presets file."""
    yaml = YAML(typ="safe", pure=True)
    return yaml.load(pathlib.Path(path).read_text())


def parse_value(key, text, default):
    """Parses the string `text` with the type of `default`; raises ConfigError naming `key`."""
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ConfigError(f"--{key}: expected True or False, got '{text}'")
    if isinstance(default, int):
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"--{key}: expected an integer, got '{text}'") from None
        if not number.is_integer():
            raise ConfigError(f"--{key}: expected an integer, got '{text}'")
        return int(number)
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"--{key}: expected a number, got '{text}'") from None
    if isinstance(default, list):
        items = [item.strip() for item in text.split(",") if item.strip()]
        if default:
            return [parse_value(key, item, default[0]) for item in items]
        return items
    return text


def check_type(key, value, default):
    """Checks a preset value against the default's type (ints are accepted for floats)."""
    if isinstance(default, bool) != isinstance(value, bool):
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    if not isinstance(value, type(default)):
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    return value


def preset_values(name, presets):
    """The values of preset `name`: one of `presets`, or the YAML file `name` (.yaml, .yml)."""
    if not name.endswith((".yaml", ".yml")):
        if name not in presets:
            known = ", ".join(sorted(presets))
            raise ConfigError(f"unknown preset '{name}' (known: {known})")
        return presets[name]
    try:
        values = YAML(typ="safe", pure=True).load(pathlib.Path(name).read_text())
    except (OSError, YAMLError) as error:
        raise ConfigError(f"cannot read preset file {name}: {str(error).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"preset file {name}: expected key: value lines")
    return values


def merge_presets(names, presets):
    """Merges `defaults` and then each named preset in order; returns a dict."""
    if "defaults" not in presets:
        raise ConfigError("the presets file has no 'defaults' preset")
    merged = dict(presets["defaults"])
    for name in names:
        if name == "defaults":
            continue
        for key, value in preset_values(name, presets).items():
            if key not in merged:
                raise ConfigError(f"preset '{name}' sets unknown key '{key}'")
            merged[key] = check_type(key, value, presets["defaults"][key])
    return merged


def parse_overrides(args, defaults):
    """Parses ['--key', 'value', ...] into {key: typed value} against `defaults`."""
    overrides = {}
    index = 0
    while index < len(args):
        flag = args[index]
        if not flag.startswith("--"):
            raise ConfigError(f"expected --key value, got '{flag}'")
        key = flag[2:].replace("-", "_")
        if "=" in key:
            key, text = key.split("=", 1)
            index += 1
        else:
            if index + 1 >= len(args):
                raise ConfigError(f"--{key}: missing value")
            text = args[index + 1]
            index += 2
        if key not in defaults:
            raise ConfigError(f"unknown config key '{key}' (see --help for the list)")
        overrides[key] = parse_value(key, text, defaults[key])
    return overrides


def build_parser(defaults):
    """An argparse parser used for --help and for the --configs list."""
    parser = argparse.ArgumentParser(
        prog="python -m vsg.train",
        description="Train a world-model agent. Any config key can be overridden "
        "with --key value; values are typed by the defaults below.",
        epilog="config keys (default):\n"
        + "\n".join(f"  --{key} {value!r}" for key, value in defaults.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--dry_run", action="store_true", help="print the run directory and config, then exit"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up and info messages"
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        action="extend",
        default=[],
        help="presets merged in order after 'defaults' (names in configs/configs.yaml, or "
        "paths of YAML files); may be given several times (a launcher's presets, then yours)",
    )
    return parser


def load_config(argv, presets=None):
    """Resolves a Config from command-line arguments: --configs A B ... then --key value."""
    presets = presets if presets is not None else load_presets()
    parser = build_parser(presets.get("defaults", {}))
    known, rest = parser.parse_known_args(argv)
    merged = merge_presets(known.configs, presets)
    merged.update(parse_overrides(rest, presets["defaults"]))
    return Config(merged)


def save_config(config, path):
    """Writes the resolved config as YAML (atomically) so a run documents itself."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with tmp.open("w") as stream:
        yaml.dump(dict(config), stream)
    tmp.replace(path)
