"""Envs in worker processes, so the learner never loads MuJoCo's GL libraries next to TensorFlow.

``EnvWorker(task, seed, config)`` has the API of a local env (``envs.make``): ``action_size``,
``reset() -> obs``, ``step(action) -> obs``, ``close()``. It runs ``envs.make(task, seed,
config)`` in a process started with the ``spawn`` method and forwards each call over a
``multiprocessing`` Pipe. ``step_async``/``reset_async``, ``ready()`` and ``result()`` split a
call in two, so the learner can train while an (evaluation) env renders; ``envs.parallel``
steps N workers at once with them.

Protocol (pickled tuples over the Pipe; one reply per request, in order):

- worker -> learner, once after ``envs.make``: ``("ready", info)`` with ``info`` =
  ``{"pid": int, "action_size": int, "tensorflow": bool, "notes": [str]}``; ``tensorflow``
  says whether TensorFlow is in the worker's ``sys.modules`` (it must not be: the learner then
  raises); ``notes`` are the lines ``envs.make`` printed (the GL back-end and render settings
  chosen), which the learner may show once instead of once per worker.
  If ``envs.make`` raises: ``("error", (type name, message, traceback))`` and the worker exits.
- learner -> worker: ``("reset",)``, ``("step", action)`` with ``action`` float32 ``[A]`` in
  [-1, 1], or ``("close",)``.
- worker -> learner: ``("ok", obs)``, the env's observation dict (``image`` uint8 ``[H, W, 3]``,
  ``reward`` float32, ``is_first``/``is_last``/``is_terminal`` bools, suite extras such as
  ``log_*``), or ``("error", (type name, message, traceback))`` when ``reset``/``step`` raised;
  the worker keeps serving. ``("close",)`` closes the env and ends the worker without a reply.

Errors: an exception in the worker is raised in the learner as ``WorkerError`` naming the worker,
the request and the original exception (its traceback is attached as a note; ``remote_type`` and
``remote_message`` hold the original's class name and message). A worker whose
process ends (segfault, SIGKILL, an uncaught error) is not an error: it is restarted with a
one-line warning on stderr and a new seed (``restart_seed``), and the reply to the pending request
is the new env's reset observation (``is_first`` True), so the unfinished episode is dropped.
A worker that dies before its handshake raises ``WorkerError`` instead (restarting would loop).

Workers ignore SIGINT (the learner decides when they stop) and exit when the learner's end of
the Pipe closes. ``close()`` is idempotent and also runs at interpreter exit. With ``spawn`` the
worker imports the learner's ``__main__`` module (unless it is a package's ``__main__``), so
that module must import TensorFlow inside functions only.
"""

import atexit
import contextlib
import io
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import traceback
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

import envs

Obs = dict[str, Any]

_CONTEXT = multiprocessing.get_context("spawn")
_CLOSE_SECONDS = 10.0  # a closing worker frees its env; after this it is killed
_OPEN: "weakref.WeakSet[EnvWorker]" = weakref.WeakSet()


@atexit.register
def _close_open_workers() -> None:
    # Registered after multiprocessing.util's exit hook (imported above), so it runs before
    # that hook terminates the (daemonic) workers: they close their envs cleanly instead.
    for worker in list(_OPEN):
        worker.close()


class WorkerError(RuntimeError):
    """An env worker failed: it could not start, or its env raised. The message names it.

    ``remote_type`` and ``remote_message`` are the class name and message of the exception
    raised in the worker ("" when the worker died instead).
    """

    def __init__(self, message: str, remote_type: str = "", remote_message: str = "") -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_message = remote_message


def restart_seed(seed: int, restarts: int) -> int:
    """The env seed after ``restarts`` restarts: ``seed`` itself for 0, then distinct uint32s."""
    if restarts == 0:
        return seed
    return int(np.random.SeedSequence([seed, restarts]).generate_state(1)[0])


def _describe(error: BaseException) -> tuple[str, str, str]:
    return type(error).__name__, str(error), traceback.format_exc()


def _serve(conn: Any, task: str, seed: int, config: dict) -> None:
    """The worker process: build the env, send the handshake, then answer requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            env = envs.make(task, seed, config)
    except Exception as error:
        conn.send(("error", _describe(error)))
        return
    try:
        info = {"pid": os.getpid(), "action_size": int(env.action_size)}
        info.update(tensorflow="tensorflow" in sys.modules, notes=printed.getvalue().splitlines())
        conn.send(("ready", info))
        _answer(conn, env)
    except (EOFError, OSError):  # the learner is gone: nobody to answer
        pass
    finally:
        env.close()


def _answer(conn: Any, env: Any) -> None:
    """Answer requests until ``("close",)``; env errors are replies, Pipe errors propagate."""
    while True:
        request = conn.recv()
        if request[0] == "close":
            return
        try:
            if request[0] == "reset":
                reply = env.reset()
            elif request[0] == "step":
                reply = env.step(request[1])
            else:
                raise ValueError(f"unknown request {request[0]!r}")
        except Exception as error:
            conn.send(("error", _describe(error)))
        else:
            conn.send(("ok", reply))


def _stop(process: Any, conn: Any) -> None:
    """Ask a worker to close, wait for it (so no zombie is left), kill it if it does not exit."""
    try:
        conn.send(("close",))
    except OSError:  # already dead
        pass
    process.join(_CLOSE_SECONDS)
    if process.exitcode is None:
        process.kill()
        process.join()
    conn.close()


def _exit_status(exitcode: int) -> str:
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _main_module() -> str:
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else getattr(main, "__file__", "<interactive>")


class EnvWorker:
    """One env (``envs.make(task, seed, config)``) in its own spawned process.

    Construction returns at once; the first call that needs the worker (``action_size``,
    ``reset``, ...) waits for its handshake and raises ``WorkerError`` if the env could not be
    built. ``name`` (default ``"<task> seed <seed>"``) appears in warnings and errors.
    ``restarts`` counts restarts after crashes; ``info`` is the handshake dict.
    """

    def __init__(
        self, task: str, seed: int, config: Mapping[str, Any], name: str | None = None
    ) -> None:
        self.task = task
        self.seed = int(seed)
        # A plain dict: unpickling a subclass (vsg's Config) would import its module there.
        self._config = dict(config)
        self.name = name or f"{task} seed {seed}"
        self.restarts = 0
        self._closed = False
        self.info: dict[str, Any] | None = None
        self._pending: str | None = None  # the request whose reply is not yet collected
        self._restarted_obs: Obs | None = None  # the reply, when a restart already produced it
        self._launch(self.seed)

    def wait_ready(self) -> dict[str, Any]:
        """Waits for the worker's handshake; returns ``info`` (``WorkerError`` if the env could
        not be built)."""
        return self._handshake()

    @property
    def action_size(self) -> int:
        """Size A of the actions ``step`` takes (from the worker's handshake)."""
        return self._handshake()["action_size"]

    @property
    def pid(self) -> int:
        """Process id of the current worker (it changes when the worker is restarted)."""
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        """Exit code of the current worker process: None while it runs, 0 after ``close()``."""
        return self._process.exitcode

    def reset(self) -> Obs:
        """Start an episode; returns its first observation."""
        self.reset_async()
        return self.result()

    def step(self, action: np.ndarray) -> Obs:
        """Apply ``action`` (float [A] in [-1, 1]); returns the next observation."""
        self.step_async(action)
        return self.result()

    def reset_async(self) -> None:
        """Send a reset request; collect its observation with ``result()``."""
        self._request(("reset",))

    def step_async(self, action: np.ndarray) -> None:
        """Send a step request; collect its observation with ``result()``.

        The action is converted to a float32 NumPy array here, so no framework tensor (and no
        framework import) reaches the worker.
        """
        self._request(("step", np.asarray(action, np.float32)))

    def ready(self) -> bool:
        """True when a request is pending and ``result()`` will not block."""
        if self._pending is None:
            return False
        if self._restarted_obs is not None:
            return True
        if self.info is None and self._conn.poll():
            self._handshake()
        return self._conn.poll()

    def result(self) -> Obs:
        """The observation answering the pending request (blocks until it arrives).

        Returns a reset observation instead if the worker died and was restarted; raises
        ``WorkerError`` if the env raised, RuntimeError if no request is pending.
        """
        if self._pending is None:
            raise RuntimeError(f"env worker {self.name!r}: result() without a pending request")
        request = self._pending
        if self._restarted_obs is not None:
            obs, self._restarted_obs, self._pending = self._restarted_obs, None, None
            return obs
        reply = self._receive()  # interrupted (Ctrl-C), the request stays pending
        self._pending = None
        if reply is None:
            return self._restart(f"during {request}")
        return self._unpack(request, reply)

    def close(self) -> None:
        """Stop the worker and free its env. Idempotent; also runs at interpreter exit."""
        self._closed = True
        self._finalizer()
        _OPEN.discard(self)

    def _launch(self, seed: int) -> None:
        self._conn, child_conn = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve,
            args=(child_conn, self.task, seed, self._config),
            name=f"env worker {self.name}",
            daemon=True,
        )
        self._process.start()
        # Only the worker may hold the other end, so its death reads as EOF here.
        child_conn.close()
        self._finalizer = weakref.finalize(self, _stop, self._process, self._conn)
        _OPEN.add(self)
        self.info = None

    def _receive(self) -> tuple[str, Any] | None:
        """The worker's next message, or None if it died."""
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            return None

    def _handshake(self) -> dict[str, Any]:
        if self._closed:
            raise WorkerError(f"env worker {self.name!r} is closed")
        if self.info is not None:
            return self.info
        reply = self._receive()
        if reply is None:
            self.close()
            status = _exit_status(self._process.exitcode)
            raise WorkerError(f"env worker {self.name!r} died while starting ({status})")
        try:
            info = self._unpack("make", reply)
        except WorkerError:
            self.close()
            raise
        if info["tensorflow"]:
            self.close()
            raise WorkerError(
                f"env worker {self.name!r} imported TensorFlow (through the learner's main "
                f"module {_main_module()!r}, which spawn imports in every worker): import "
                "TensorFlow inside functions there, MuJoCo rendering crashes next to it"
            )
        self.info = info
        return info

    def _request(self, request: tuple) -> None:
        if self._pending is not None:
            raise RuntimeError(
                f"env worker {self.name!r}: {request[0]} sent while {self._pending} is pending; "
                "call result() first"
            )
        self._handshake()
        try:
            self._conn.send(request)
        except OSError:  # the worker died while idle
            self._restarted_obs = self._restart(f"before {request[0]}")
        self._pending = request[0]

    def _unpack(self, request: str, reply: tuple[str, Any]) -> Any:
        kind, payload = reply
        if kind == "error":
            type_name, message, remote_traceback = payload
            error = WorkerError(
                f"env worker {self.name!r} failed in {request}: {type_name}: {message}",
                type_name,
                message,
            )
            error.add_note(f"Traceback in the worker:\n{remote_traceback}")
            raise error
        return payload

    def _restart(self, when: str) -> Obs:
        """Replace a dead worker; return the new env's reset observation."""
        old_pid = self._process.pid
        self._finalizer()  # reaps the dead process (kills it first if it only broke the Pipe)
        self.restarts += 1
        seed = restart_seed(self.seed, self.restarts)
        print(
            f"envs.workers: warning: env worker {self.name!r} (pid {old_pid}) died {when} "
            f"({_exit_status(self._process.exitcode)}); restart {self.restarts} with seed "
            f"{seed}; its unfinished episode is dropped",
            file=sys.stderr,
            flush=True,
        )
        self._launch(seed)
        self._handshake()
        try:
            self._conn.send(("reset",))
        except OSError:
            pass  # it died again: the receive below says so
        reply = self._receive()
        if reply is None:
            self.close()
            raise WorkerError(f"env worker {self.name!r} died again right after restarting")
        return self._unpack("reset", reply)
