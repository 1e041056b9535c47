"""Envs in spawned worker processes: real dm_control pixels and real BringBackShapes, bit for bit.

Crashes are real (SIGKILL, SIGSEGV sent to the worker), and the TensorFlow case runs in a fresh
interpreter that imported TensorFlow before any env.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import envs
from envs.parallel import ParallelEnvs
from envs.workers import EnvWorker, WorkerError, restart_seed
from vsg.config import load_config

DMC = {"action_repeat": 2, "time_limit": 0, "size": [64, 64]}
# A run's resolved config (a vsg Config): the worker gets it as a plain dict.
BBS = load_config(["--configs", "bringbackshapes", "--max_distractors", "1"])


def _actions(action_size, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, action_size).astype(np.float32) for _ in range(count)]


def _assert_same(obs, expected):
    assert obs.keys() == expected.keys()
    for key, value in expected.items():
        assert type(obs[key]) is type(value), key
        np.testing.assert_array_equal(obs[key], value, err_msg=key)


def _gone(pid):
    """True when `pid` is neither running nor a zombie waiting to be reaped."""
    return not os.path.exists(f"/proc/{pid}")


def _wait_ready(worker, seconds=60):
    deadline = time.monotonic() + seconds
    while not worker.ready():
        assert time.monotonic() < deadline, "the worker never answered"
        time.sleep(0.01)


def _run_python(path_or_code, tmp_path, timeout=180):
    """Runs a script file (Path) or `-c` code in a fresh interpreter with the repo importable."""
    command = [str(path_or_code)] if isinstance(path_or_code, Path) else ["-c", path_or_code]
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, *command],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("task", "config", "steps"),
    [("dmc_walker_walk", DMC, 6), ("bringbackshapes_sparse", BBS, 12)],
)
def test_worker_observations_equal_a_local_env_bit_for_bit(task, config, steps):
    worker, local = EnvWorker(task, 3, config), envs.make(task, 3, config)
    assert worker.action_size == local.action_size
    assert worker.info["tensorflow"] is False and worker.pid != os.getpid()
    _assert_same(worker.reset(), local.reset())
    observations = [worker.step(a) for a in _actions(local.action_size, steps)]
    for obs, action in zip(observations, _actions(local.action_size, steps), strict=True):
        _assert_same(obs, local.step(action))
    assert observations[-1]["image"].std() > 10  # real pixels, not a blank frame
    pid = worker.pid
    worker.close()
    worker.close()  # idempotent
    assert worker.exitcode == 0 and _gone(pid)
    with pytest.raises(WorkerError, match="closed"):
        worker.reset()
    local.close()


def test_parallel_envs_match_local_envs_and_reset_the_slots_asked_for():
    config = {**DMC, "time_limit": 6}  # 3 decisions per episode
    seeds = [0, 1]
    parallel = ParallelEnvs("dmc_cartpole_swingup", seeds, config, name="train")
    locals_ = [envs.make("dmc_cartpole_swingup", seed, config) for seed in seeds]
    assert len(parallel) == 2 and parallel.action_size == 1
    assert len({worker.pid for worker in parallel.workers}) == 2
    assert [w.name for w in parallel.workers] == ["train 0", "train 1"]
    for obs, local in zip(parallel.reset(), locals_, strict=True):
        _assert_same(obs, local.reset())
    actions = np.stack(_actions(1, 2, seed=5))
    for decision in range(3):
        observations = parallel.step(actions)
        for obs, local, action in zip(observations, locals_, actions, strict=True):
            _assert_same(obs, local.step(action))
        assert [o["is_last"] for o in observations] == [decision == 2] * 2
    with pytest.raises(WorkerError, match="'train 0' failed in step.*RuntimeError"):
        parallel.step(actions)  # episodes over: both envs refuse, both replies are read
    (obs,) = parallel.reset([1])
    _assert_same(obs, locals_[1].reset())
    with pytest.raises(WorkerError, match="'train 0'"):
        parallel.step(actions)  # slot 1 still stepped, its observation is lost with the error
    locals_[1].step(actions[1])
    _assert_same(parallel.reset([0])[0], locals_[0].reset())
    observations = parallel.step(actions)
    for obs, local, action in zip(observations, locals_, actions, strict=True):
        _assert_same(obs, local.step(action))
    with pytest.raises(ValueError, match="shape"):
        parallel.step(np.zeros((3, 1), np.float32))
    pids = [worker.pid for worker in parallel.workers]
    parallel.close()
    assert all(_gone(pid) for pid in pids)
    for local in locals_:
        local.close()


def test_killed_worker_restarts_with_a_fresh_seeded_episode(capsys):
    worker = EnvWorker("dmc_walker_walk", 3, DMC, name="train 0")
    worker.reset()
    for action in _actions(worker.action_size, 3):
        assert worker.step(action)["is_first"] is False
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)  # mid-episode, while the worker waits for a request
    obs = worker.step(np.zeros(worker.action_size, np.float32))
    assert obs["is_first"] is True
    assert worker.restarts == 1 and worker.pid != old_pid and _gone(old_pid)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1, warning
    assert "'train 0'" in warning[0] and "SIGKILL" in warning[0] and "restart 1" in warning[0]
    # The restarted env is seeded deterministically from the seed and the restart count.
    local = envs.make("dmc_walker_walk", restart_seed(3, 1), DMC)
    _assert_same(obs, local.reset())
    for action in _actions(worker.action_size, 2, seed=1):
        _assert_same(worker.step(action), local.step(action))
    worker.close()
    local.close()


def test_segfault_during_a_pending_step_restarts_only_that_slot(capsys):
    parallel = ParallelEnvs("bringbackshapes_sparse", [0, 1], BBS)
    locals_ = [envs.make("bringbackshapes_sparse", seed, BBS) for seed in (0, 1)]
    for local in locals_:
        local.reset()
    parallel.reset()
    actions = np.stack(_actions(2, 2))
    parallel.step(actions)
    victim = parallel.workers[1]
    # Stopped, the worker cannot answer; the segfault lands when it continues, before it reads.
    os.kill(victim.pid, signal.SIGSTOP)
    victim.step_async(actions[1])
    os.kill(victim.pid, signal.SIGSEGV)
    os.kill(victim.pid, signal.SIGCONT)
    obs = victim.result()
    assert "SIGSEGV" in capsys.readouterr().err
    _assert_same(obs, envs.make("bringbackshapes_sparse", restart_seed(1, 1), BBS).reset())
    # The other slot's episode is untouched and both keep stepping.
    locals_[0].step(actions[0])
    observations = parallel.step(actions)
    _assert_same(observations[0], locals_[0].step(actions[0]))
    assert observations[1]["is_first"] is False
    assert [w.restarts for w in parallel.workers] == [0, 1]
    parallel.close()


def test_env_errors_come_back_naming_the_worker_and_the_worker_keeps_serving():
    worker = EnvWorker("bringbackshapes_sparse", 0, BBS, name="eval")
    with pytest.raises(WorkerError) as info:
        worker.step(np.zeros(2, np.float32))  # before reset: the adapter raises RuntimeError
    message = str(info.value)
    assert "'eval'" in message and "step" in message and "RuntimeError" in message
    assert "reset()" in message and "\n" not in message
    assert any("bbs.py" in note for note in info.value.__notes__)  # the worker's traceback
    pid = worker.pid
    assert worker.reset()["is_first"] is True and worker.pid == pid and worker.restarts == 0
    with pytest.raises(RuntimeError, match="pending"):
        worker.step_async(np.zeros(2, np.float32))
        worker.step_async(np.zeros(2, np.float32))
    worker.result()
    with pytest.raises(RuntimeError, match="without a pending request"):
        worker.result()
    worker.close()


def test_an_env_that_cannot_be_built_raises_without_restarting():
    worker = EnvWorker("dmc_walker_fly", 0, DMC)
    with pytest.raises(WorkerError, match="'dmc_walker_fly seed 0'.*ValueError.*dmc_walker_fly"):
        worker.reset()
    assert worker.restarts == 0
    worker.close()


def test_async_requests_let_the_learner_work_while_the_env_renders():
    """The evaluation pattern: send an action, train meanwhile, collect the observation."""
    eval_worker = EnvWorker("dmc_walker_walk", 7, DMC, name="eval")
    local = envs.make("dmc_walker_walk", 7, DMC)
    assert eval_worker.ready() is False  # nothing pending
    eval_worker.reset_async()
    _wait_ready(eval_worker)  # it answered while this process did not read from it
    _assert_same(eval_worker.result(), local.reset())
    weights = np.random.default_rng(0).normal(size=(256, 256))
    for action in _actions(6, 4):
        eval_worker.step_async(action)
        for _ in range(20):  # a stand-in for a training update
            weights = np.tanh(weights @ weights / 256)
        _wait_ready(eval_worker)
        _assert_same(eval_worker.result(), local.step(action))
    eval_worker.close()
    local.close()


def test_close_runs_at_interpreter_exit_and_leaves_no_process(tmp_path):
    code = textwrap.dedent(
        """
        import atexit
        import weakref

        def report():  # registered before envs.workers is imported, so it runs after its hook
            print("exitcode", worker.exitcode, flush=True)

        atexit.register(report)
        # A finalizer made early (tempfile and other libraries make them) registers weakref's
        # exit hook before multiprocessing's, which would then terminate the worker first.
        weakref.finalize(report, int)
        from envs.workers import EnvWorker

        worker = EnvWorker("dmc_cartpole_balance", 0, {"action_repeat": 2})
        worker.reset()
        print("pid", worker.pid, flush=True)
        """
    )
    result = _run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split()[:2] for line in result.stdout.splitlines())
    assert lines["exitcode"] == "0"  # closed on request, not terminated
    assert _gone(int(lines["pid"]))
    assert "Traceback" not in result.stderr and "warning" not in result.stderr


def test_workers_exit_quietly_when_the_learner_is_killed(tmp_path):
    code = textwrap.dedent(
        f"""
        import time
        from envs.workers import EnvWorker

        worker = EnvWorker("bringbackshapes_sparse", 0, {BBS!r})
        worker.reset()
        print(worker.pid, flush=True)
        time.sleep(120)
        """
    )
    environ = dict(os.environ)
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as learner:
        pid = int(learner.stdout.readline())
        learner.kill()
        deadline = time.monotonic() + 60
        # Orphaned, the worker is reaped by init, which may leave it a zombie for a while.
        while _state(pid) not in ("gone", "Z"):
            assert time.monotonic() < deadline, "the worker outlived its learner"
            time.sleep(0.05)
        assert "Traceback" not in learner.stderr.read()


def _state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.slow
def test_a_parent_that_imported_tensorflow_renders_dmc_through_a_worker(tmp_path):
    """TensorFlow is imported first, in the main module; rendering in-process would segfault."""
    script = tmp_path / "learner.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys

            import numpy as np


            def main():
                import tensorflow as tf

                from envs.workers import EnvWorker

                loss = tf.reduce_sum(tf.square(tf.constant([1.0, 2.0])))
                worker = EnvWorker("dmc_cartpole_balance", 0, {"action_repeat": 2})
                worker.reset()
                image = worker.step(np.zeros(worker.action_size, np.float32))["image"]
                print("worker tensorflow", worker.info["tensorflow"])
                print("parent", "tensorflow" in sys.modules, "dm_control" in sys.modules)
                print("result", float(loss), float(image.std()))
                worker.close()


            if __name__ == "__main__":
                main()
            """
        )
    )
    result = _run_python(script, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "worker tensorflow False" in result.stdout
    assert "parent True False" in result.stdout  # TF here, no MuJoCo here
    loss, image_std = (float(v) for v in result.stdout.split("result")[1].split())
    assert loss == 5.0 and image_std > 10


@pytest.mark.slow
def test_a_main_module_that_imports_tensorflow_is_refused(tmp_path):
    """spawn re-imports the main module in the worker; TF at its top level must be caught."""
    script = tmp_path / "careless.py"
    script.write_text(
        textwrap.dedent(
            """
            import tensorflow  # noqa: F401  (at the top: every worker imports it too)

            from envs.workers import EnvWorker

            if __name__ == "__main__":
                EnvWorker("dmc_cartpole_balance", 0, {}).reset()
            """
        )
    )
    result = _run_python(script, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "WorkerError" in last and "imported TensorFlow" in last and "careless.py" in last
