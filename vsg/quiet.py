"""Importing TensorFlow without its start-up messages on the console (`--verbose` keeps them).

TensorFlow's C++ core logs through Abseil, which writes every message logged before
`absl::InitializeLog()` to stderr whatever its severity (abseil-cpp pull requests #1718 and
#1957), so `TF_CPP_MIN_LOG_LEVEL` alone cannot hide the CUDA probing lines that a machine
without a GPU prints at import and at the first device query. `import_tensorflow` therefore
imports TensorFlow and lists its devices with file descriptor 2 pointed at a temporary file,
and prints what was captured only if that fails. `TF_CPP_MIN_LOG_LEVEL=3` (unless the user set
it) then keeps TensorFlow's later C++ log lines off the console, errors included: on x86-64
CPUs without AVX-512, oneDNN logs an error-level line at the first graph that holds a bool
tensor (its kernels fall back to Eigen's, as intended). A failing operation still raises a
Python exception with its message; `--verbose` shows every log line.
"""

import contextlib
import os
import platform
import sys
import tempfile

QUIET_LOG_LEVEL = "3"  # TensorFlow C++ logs: 0 all, 1 no info, 2 no warnings, 3 no errors


@contextlib.contextmanager
def _stderr_to(file):
    """Points file descriptor 2 (what C++ libraries write to) at `file` during the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def allow_gpu_memory_growth(tf):
    """GPU memory growth on, as the reference's `gpu_growth: True`: without it one process
    reserves the whole GPU, and two runs cannot share one. A no-op without a GPU and once
    TensorFlow has initialised its GPUs (their settings are fixed then)."""
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier use of TensorFlow
            return


def use_onednn():
    """oneDNN's CPU kernels on x86-64 unless `TF_ENABLE_ONEDNN_OPTS` says otherwise.

    TensorFlow turns them on by itself only on some Intel CPUs; on the project's AMD machine an
    update at DreamerV2's sizes took ~0.7-0.9x the time with them (the policy step ~1.3x; see
    the README's speed section). They sum in another order, so results differ from Eigen's
    within float32 round-off. Set before TensorFlow is imported.
    """
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def import_tensorflow(verbose=False):
    """Imports TensorFlow (with oneDNN's CPU kernels, `use_onednn`) and configures its devices
    (GPU memory growth on); returns the `tensorflow` module.

    Call it before anything else imports TensorFlow (after `import vsg.probe` where the process
    also renders MuJoCo, see vsg/probe/__init__.py).
    With `verbose`, TensorFlow prints as it normally does.
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LOG_LEVEL)
    use_onednn()
    with tempfile.TemporaryFile() as capture:
        try:
            with contextlib.nullcontext() if verbose else _stderr_to(capture):
                import tensorflow as tf

                tf.config.list_physical_devices()
                allow_gpu_memory_growth(tf)
        except BaseException:
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
    return tf
