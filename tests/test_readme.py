"""Every command in the README's ```bash blocks runs as written, from the root of a copy of the
repository with the installed `.venv`, so that no real run under `logs/` is touched.

Training commands get `--configs tiny --steps 300` appended (the README's own settings stay,
and the precedence rules make tiny's sizes apply); the probe gets small sizes; a sweep runs its
spec as written after the copy's spec is shrunk the same way (tiny preset, 300 frames, one
seed). The install
script is only syntax-checked (it apt-installs as root) and the test-suite command is the one
running this test. A command this test does not know how to run fails it, so a new README
command comes with a way to check it.
"""

import os
import re
import shlex
import shutil
import subprocess
import urllib.request

import pytest
from conftest import ROOT
from ruamel.yaml import YAML

pytestmark = pytest.mark.slow

TINY = ["--configs", "tiny", "--steps", "300"]
PROBE_SMALL = ["--episodes", "1", "--max_steps", "10", "--rows", "8"]
PROBE_BENCH_SMALL = ["--dims", "16", "--steps", "2", "--rows", "4"]
PROBE_TRUTH_SMALL = ["--tasks", "cartpole_balance", "--episodes", "1", "--max_steps", "10"]


def readme_commands(text):
    """The commands of the ```bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            line = line.split(" # ")[0]  # a trailing comment
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository (no logs, no git) whose `.venv` is the installed one."""
    copy = tmp_path_factory.mktemp("readme") / "repo"
    skip = shutil.ignore_patterns(".venv", "logs", ".git", "__pycache__", ".*_cache", "*.png")
    shutil.copytree(ROOT, copy, ignore=skip)
    (copy / ".venv").symlink_to((ROOT / ".venv").resolve())
    return copy


def run(command, repo, env, timeout=900):
    result = subprocess.run(
        ["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    return result


def serve_tensorboard(command, repo, env):
    """Starts TensorBoard as written, fetches its page, stops it."""
    server = subprocess.Popen(
        shlex.split(command),
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in server.stdout:
            url = re.search(r"http://\S+/", line)
            if url:
                with urllib.request.urlopen(url.group(0), timeout=60) as page:
                    assert page.status == 200
                return
        raise AssertionError("TensorBoard exited without serving")
    finally:
        server.terminate()
        server.wait(timeout=60)


def shrink_sweep(spec_path):
    """The copy's sweep spec at tiny sizes: the `tiny` preset, 300 frames, one seed."""
    spec = YAML(typ="safe").load(spec_path.read_text())
    spec["flags"].update(configs="tiny", steps=300)
    spec["seeds"] = spec["seeds"][:1]
    with spec_path.open("w") as file:
        YAML(typ="safe").dump(spec, file)


def check(command, repo, env):
    """Runs one README command the way this module's docstring says."""
    install = re.fullmatch(r"bash scripts/install\.sh && (.*)", command)
    if install:
        run("bash -n scripts/install.sh", repo, env)
        return check(install.group(1), repo, env)
    if command in (".venv/bin/python -m pytest -q", '.venv/bin/python -m pytest -q -m "not slow"'):
        return  # this very test suite, or its fast part
    if command.startswith("export "):
        for assignment in shlex.split(command)[1:]:
            name, value = assignment.split("=", 1)
            env[name] = value
        return
    if re.fullmatch(r"(taskset -c \d+ )?bash scripts/(dmc|bringbackshapes)\.sh .*", command):
        run(command.removesuffix(" &") + " " + " ".join(TINY), repo, env)
        return
    if command == ".venv/bin/tensorboard --logdir logs":
        return serve_tensorboard(command, repo, env)
    if command.startswith(".venv/bin/python -m vsg.plot "):
        run(command, repo, env)
        assert (repo / shlex.split(command)[-1]).exists()
        return
    if command.startswith("bash scripts/probe.sh bench"):
        run(command + " " + " ".join(PROBE_BENCH_SMALL), repo, env)
        return
    if command.startswith("bash scripts/probe.sh truth"):
        run(command + " " + " ".join(PROBE_TRUTH_SMALL), repo, env)
        return
    if command.startswith("bash scripts/probe.sh compare "):
        run(command, repo, env)
        return
    if command.startswith("bash scripts/probe.sh "):
        run(command + " " + " ".join(PROBE_SMALL), repo, env)
        return
    if command.startswith("bash scripts/sweep.sh "):
        shrink_sweep(repo / shlex.split(command)[2])
        run(command, repo, env)
        return
    if command.startswith(".venv/bin/python -m vsg.results "):
        run(command, repo, env)
        assert (repo / shlex.split(command)[-1] / "results.md").exists()
        return
    raise AssertionError(f"README command not covered by tests/test_readme.py: {command}")


def test_every_readme_command_runs_as_written(repo):
    commands = readme_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("bash scripts/install.sh && bash scripts/dmc.sh walker_stand")
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    for command in commands:
        check(command, repo, env)
