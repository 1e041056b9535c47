"""Ctrl-C and SIGTERM stop a run the same way, and cannot cut a checkpoint write short.

Python turns SIGINT (Ctrl-C) into `KeyboardInterrupt`. `stop_on_sigterm()` makes SIGTERM (what
`kill`, Slurm and other schedulers send) raise `Terminated`, a `KeyboardInterrupt` too, so one
`except KeyboardInterrupt` saves and exits for both; `exit_status` gives the shell's
convention, 128 + the signal number (130 for SIGINT, 143 for SIGTERM). Exiting through an
exception also runs `atexit` hooks, which a process killed outright by a signal skips.

`uninterruptible()` holds both signals back while a block runs (a checkpoint write): a signal
that arrives meanwhile is reported, and delivered again once the block is done.
"""

import contextlib
import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum, frame):
    raise Terminated()


def stop_on_sigterm():
    """From now on SIGTERM raises `Terminated` (only the main thread may set this; elsewhere,
    e.g. a run inside a thread of a bigger program, SIGTERM keeps its handler)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_status(interrupt):
    """128 + the signal number: 143 for `Terminated` (SIGTERM), 130 for Ctrl-C (SIGINT)."""
    number = signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT
    return 128 + int(number)


_held = threading.local()  # depth of nested uninterruptible blocks in this thread


@contextlib.contextmanager
def uninterruptible(what):
    """Runs the block with SIGINT and SIGTERM held back; delivers the first one afterwards.

    `what` names the work for the message printed when a signal arrives meanwhile. Signal
    handlers belong to the main thread, so elsewhere (and inside an outer block) this only
    runs the block. An exception from the block wins over a held signal.
    """
    depth = getattr(_held, "depth", 0)
    if depth or threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def hold(signum, frame):
        if not received:
            print(f"still {what}; stopping when it is done", file=sys.stderr, flush=True)
        received.append(signum)

    previous = {number: signal.signal(number, hold) for number in STOP_SIGNALS}
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        signal.raise_signal(received[0])  # the restored handler raises (or ends the process)
