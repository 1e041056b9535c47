"""Ctrl-C and SIGTERM lose nothing, and a crashed env worker costs only its unfinished episode:
real signals to real tiny runs, then the checkpoint, the metrics, the episodes and the resumed
step are read back from disk."""

import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest
import tensorflow as tf
from conftest import GL_LIBRARIES, ROOT, launcher_env

from vsg.checkpoint import Checkpointer
from vsg.interrupts import Terminated, exit_status, stop_on_sigterm, uninterruptible
from vsg.replay import load_episodes
from vsg.rundir import read_metrics

ARGS = ["cartpole_balance", "DreamerV2", "stop", "0.4", "16", "0", "--configs", "tiny"]
RUN = "logs/dmc/dmc_cartpole_balance/DreamerV2_stop/seed0"


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt here even if this process was started with SIGINT
    ignored (as a shell does for a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_signals_wait_for_an_uninterruptible_block(ctrl_c_raises):
    previous = signal.getsignal(signal.SIGTERM)
    stop_on_sigterm()
    try:
        for number, expected, status in [
            (signal.SIGINT, KeyboardInterrupt, 130),
            (signal.SIGTERM, Terminated, 143),
        ]:
            finished = False
            with pytest.raises(expected) as info:
                with uninterruptible("testing"):
                    os.kill(os.getpid(), number)
                    os.kill(os.getpid(), signal.SIGINT)  # a second one is not raised twice
                    time.sleep(0.05)
                    finished = True
            assert finished and exit_status(info.value) == status
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_checkpoint_save_completes_under_repeated_ctrl_c(tmp_path, ctrl_c_raises):
    big = tf.Variable(tf.random.stateless_normal([32, 1024, 1024], seed=[1, 2]))  # 128 MB
    directory = tmp_path / "checkpoint"
    checkpointer = Checkpointer(directory, big=big)
    checkpointer.save()
    big.assign_add(tf.ones_like(big))
    tmp = tmp_path / "checkpoint.tmp"
    sent = []

    def press_ctrl_c_while_saving():
        deadline = time.monotonic() + 60
        while not tmp.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        while tmp.exists() and time.monotonic() < deadline:
            os.kill(os.getpid(), signal.SIGINT)
            sent.append(1)
            time.sleep(0.002)

    presser = threading.Thread(target=press_ctrl_c_while_saving)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            checkpointer.save()
    finally:
        presser.join()
    assert sent and not tmp.exists()
    expected = big.numpy()
    big.assign(tf.zeros_like(big))
    assert Checkpointer(directory, big=big).restore()
    assert (big.numpy() == expected).all()  # the new checkpoint, complete


def test_a_stale_temp_checkpoint_is_removed_on_start(tmp_path):
    counter = tf.Variable(3)
    Checkpointer(tmp_path / "checkpoint", counter=counter).save()
    (tmp_path / "checkpoint.tmp").mkdir()
    (tmp_path / "checkpoint.tmp" / "ckpt.data-00000-of-00001").write_bytes(b"half")
    assert Checkpointer(tmp_path / "checkpoint", counter=counter).restore()
    assert not (tmp_path / "checkpoint.tmp").exists()


def start(cwd, extra):
    """A launcher run in `cwd` whose temp files go to cwd/tmp."""
    (cwd / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "dmc.sh"), *ARGS, *extra],
        cwd=cwd,
        env=launcher_env({"TMPDIR": str(cwd / "tmp")}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


def _default_signals():
    # A child of a background job inherits SIGINT ignored, and Python then never installs its
    # Ctrl-C handler: give the run the signals a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(process, timeout=600):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def wait_for_metrics(run_dir, condition, process, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = read_metrics(run_dir)
        if records and condition(records):
            return records
        assert process.poll() is None, finish(process)
        time.sleep(0.2)
    raise AssertionError("the run did not get there in time")


def saved_counters(run_dir):
    """(env frame, updates) in the run's checkpoint."""
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoint" / "ckpt"))
    step = reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
    updates = reader.get_tensor("agent/behavior/updates/.ATTRIBUTES/VARIABLE_VALUE")
    return int(step), int(updates)


def assert_stopped_cleanly(cwd, run_dir, status, expected_status, stdout):
    assert status == expected_status, stdout
    step, _ = saved_counters(run_dir)
    assert f"interrupted at env frame {step}" in stdout
    assert f"checkpoint saved at env frame {step}" in stdout
    assert "stopped; rerun the same command to resume" in stdout
    assert not (run_dir / "checkpoint.tmp").exists() and not (run_dir / "checkpoint.old").exists()
    assert not (run_dir / "run.lock").exists()
    # No temp file is left behind (tf.functions are traced without AutoGraph, which wrote
    # modules there and removed them only at a clean exit).
    assert list((cwd / "tmp").iterdir()) == []
    return step


@pytest.mark.slow
def test_sigterm_saves_flushes_and_the_same_command_resumes(tmp_path):
    run_dir = tmp_path / RUN
    process = start(tmp_path, ["--steps", "100000"])
    wait_for_metrics(run_dir, lambda records: max(r["step"] for r in records) >= 500, process)
    time.sleep(1.0)  # into the next log interval
    process.send_signal(signal.SIGTERM)
    status, stdout, stderr = finish(process)
    step = assert_stopped_cleanly(tmp_path, run_dir, status, 143, stdout)
    records = read_metrics(run_dir)
    assert records[-1]["step"] == step  # the unfinished interval was written
    assert "Traceback" not in stderr and "cuInit" not in stderr  # and TensorFlow was quiet,
    assert "oneDNN" not in stderr and "E0000" not in stderr  # its C++ error-level lines too

    budget = (step // 100 + 2) * 100
    status, stdout, _ = finish(start(tmp_path, ["--steps", str(budget)]))
    assert status == 0, stdout
    assert f"resumed from checkpoint at env frame {step}" in stdout
    assert "pretrain" not in stdout
    resumed = read_metrics(run_dir)[len(records) :]
    # An evaluation is logged at the frame of its policy, after later training records.
    assert resumed[0]["step"] > step and max(r["step"] for r in resumed) == budget
    assert saved_counters(run_dir)[0] == budget

    before = (run_dir / "metrics.jsonl").read_bytes()
    checkpoint_time = (run_dir / "checkpoint").stat().st_mtime_ns
    status, stdout, _ = finish(start(tmp_path, ["--steps", str(budget)]))
    assert status == 0, stdout
    assert (run_dir / "metrics.jsonl").read_bytes() == before  # no dummy row
    assert (run_dir / "checkpoint").stat().st_mtime_ns == checkpoint_time


@pytest.mark.slow
def test_ctrl_c_during_pretraining_and_the_resumed_run_finishes_it(tmp_path):
    run_dir = tmp_path / RUN
    extra = ["--steps", "220", "--pretrain", "600"]
    process = start(tmp_path, extra)
    # The first update is written at once, before pretraining ends.
    wait_for_metrics(run_dir, lambda records: "model/loss" in records[-1], process)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    status, stdout, _ = finish(process)
    assert_stopped_cleanly(tmp_path, run_dir, status, 130, stdout)
    step, updates = saved_counters(run_dir)
    assert step == 200 and 1 <= updates < 600, updates

    status, stdout, _ = finish(start(tmp_path, extra))
    assert status == 0, stdout
    assert f"pretrain {updates}/600 updates" in stdout  # the rest of it, not skipped
    assert saved_counters(run_dir) == (220, 601)  # then one regular update at frame 220


def env_workers(pid):
    """Pids of the env worker processes (spawned children) of process `pid`."""
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in children:
        command = pathlib.Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in command:
            workers.append(int(child))
    return workers


def assert_whole_episodes(directory, decisions):
    episodes = load_episodes(directory)
    assert episodes
    for name, episode in episodes.items():
        assert name.endswith(f"-{decisions}"), name
        assert episode["is_first"].tolist() == [True] + [False] * decisions
        assert episode["is_last"].tolist() == [False] * decisions + [True]
    return len(episodes)


@pytest.mark.slow
def test_killed_env_workers_restart_and_the_run_finishes_without_broken_episodes(tmp_path):
    """The learner (TensorFlow, no GL library) outlives its env workers."""
    run_dir = tmp_path / RUN
    process = start(tmp_path, ["--steps", "700", "--eval_every", "100"])
    # Mid-episode in training, while evaluations run: kill the train and eval workers.
    wait_for_metrics(run_dir, lambda records: max(r["step"] for r in records) >= 300, process)
    workers = env_workers(process.pid)
    assert len(workers) == 2, workers
    maps = pathlib.Path(f"/proc/{process.pid}/maps").read_text()
    assert "tensorflow" in maps and not any(name in maps for name in GL_LIBRARIES)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    status, stdout, stderr = finish(process)
    assert status == 0, stderr[-3000:]
    assert "env worker 'train 0'" in stderr and "env worker 'eval 0'" in stderr
    assert stderr.count("its unfinished episode is dropped") == 2
    assert saved_counters(run_dir)[0] == 700
    # 350 decisions in 100-decision episodes; the one the crash cut short was dropped.
    assert assert_whole_episodes(run_dir / "train_eps", 100) in (2, 3)
    assert assert_whole_episodes(run_dir / "eval_eps", 100) >= 2
