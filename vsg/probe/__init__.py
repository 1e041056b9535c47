"""Jacobian-sparsity probe for latent dynamics (global, local and temporal sparsity).

Modules (imported on demand so that NumPy-only users do not load TensorFlow or MuJoCo):

- ``metrics``: densities, union graphs, temporal change per tau, effective parents (NumPy);
  ``edges`` holds its per-step hot loop, ``stats`` small shared statistics.
- ``events``: event-triggered averages, shuffled baselines, top-change shares (NumPy).
- ``jacobian``: batched Jacobians of TensorFlow step functions, timing helper.
- ``ground_truth``: MuJoCo finite-difference Jacobians over one mj_step or one decision,
  with the full state (warm start included), and constraint events.
- ``truth``: the ground truth along recorded episodes; random-action episodes and study.
- ``runs``: everything the probe reads of a run directory (config, checkpoint), through
  ``vsg.rundir``.
- ``model``: collect/read episodes, posterior filtering, model Jacobians.
- ``report``: summary.json, per-step arrays, figures, TensorBoard; ``compare``: the table.
- ``plots``: PNG figures.
- ``cheap``: ``cheap_probe(agent, batch)`` for training-time logging, and ``bench``.

Command line: ``python -m vsg.probe RUN_DIR | compare | truth | bench`` (see
``vsg/probe/__main__.py``).
"""

import sys

__all__ = ["cheap_probe", "render_safe"]

# The probe is the one path that renders MuJoCo in a process running TensorFlow: it reads the
# simulator's state between steps, so its env stays in this process. TensorFlow 2.21 loads its
# shared libraries with global symbol visibility, and their LLVM symbols clash with Mesa's (EGL
# and OSMesa alike), so the first render segfaults. Blocking the module that requests the
# global flag, before TensorFlow is first imported, makes TensorFlow load them privately.
# `python -m vsg.probe` and `vsg-probe` import this package first; elsewhere, import it before
# TensorFlow to render (`render_safe` says whether that happened).
_GLOBAL_FLAGS_MODULE = "tensorflow.python.pywrap_dlopen_global_flags"
if "tensorflow" not in sys.modules:
    sys.modules[_GLOBAL_FLAGS_MODULE] = None


def render_safe():
    """Whether MuJoCo may render in this process: TensorFlow is not loaded, or loaded with
    private symbols because this package was imported first."""
    return sys.modules.get(_GLOBAL_FLAGS_MODULE) is None


def __getattr__(name):
    # Lazy, so that `import vsg.probe.metrics` still does not pull in TensorFlow.
    if name == "cheap_probe":
        from vsg.probe.cheap import cheap_probe

        return cheap_probe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
