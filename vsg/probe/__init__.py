"""Jacobian-sparsity probe for latent dynamics (global, local and temporal sparsity).

Modules (imported on demand so that NumPy-only users do not load TensorFlow or MuJoCo):

- ``metrics``: densities, union graphs, temporal change, effective parents (NumPy).
- ``jacobian``: batched Jacobians of TensorFlow step functions, timing helper.
- ``ground_truth``: MuJoCo finite-difference transition Jacobians.
- ``plots``: PNG figures of the metrics.
"""
