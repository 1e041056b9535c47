"""Jacobian-sparsity probe for latent dynamics (global, local and temporal sparsity).

Modules (imported on demand so that NumPy-only users do not load TensorFlow or MuJoCo):

- ``metrics``: densities, union graphs, temporal change, effective parents (NumPy).
- ``jacobian``: batched Jacobians of TensorFlow step functions, timing helper.
- ``ground_truth``: MuJoCo finite-difference transition Jacobians.
- ``plots``: PNG figures of the metrics.
- ``model``: load a run, collect/read episodes, posterior filtering, model Jacobians.
- ``report``: summary.json, per-step arrays, figures, TensorBoard, run comparison.
- ``cheap``: ``cheap_probe(agent, batch)`` for training-time logging, and ``bench``.

Command line: ``python -m vsg.probe RUN_DIR`` (see ``vsg/probe/__main__.py``).
"""

__all__ = ["cheap_probe"]


def __getattr__(name):
    # Lazy, so that `import vsg.probe.metrics` still does not pull in TensorFlow.
    if name == "cheap_probe":
        from vsg.probe.cheap import cheap_probe

        return cheap_probe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
