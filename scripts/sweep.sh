#!/usr/bin/env bash
# Run a grid of launcher runs on Ray.
#   bash scripts/sweep.sh SPEC.yaml [--address auto|HOST:PORT] [--dry_run] [--sweep_dir DIR]
# e.g. bash scripts/sweep.sh configs/sweeps/cpu_demo.yaml
# Runs go under the current directory (logs/...), as with the launchers; status and per-run
# logs under logs/sweeps/<spec name>/. Rerunning the same command skips finished runs and
# resumes the others. See `python -m vsg.sweep --help`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
exec "$PYTHON" -m vsg.sweep "$@"
