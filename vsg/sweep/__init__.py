"""Sweeps: a grid of launcher runs on Ray, `python -m vsg.sweep SPEC.yaml`.

`spec` reads and checks a sweep spec and expands it into runs, each validated by the
launcher's own checks; `runner` is the Ray task that executes one run's launcher command
and classifies how it ended; `status` renders the live table and `status.json`; `__main__`
starts or joins Ray and schedules the runs.
"""
