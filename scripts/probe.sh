#!/usr/bin/env bash
# Jacobian-sparsity probe of trained runs (details: vsg/probe/__main__.py).
#   bash scripts/probe.sh RUN_DIR [--episodes N] [--from_dir DIR] [--rows K] [--max_steps T] ...
#   bash scripts/probe.sh compare RUN_DIR RUN_DIR ... [--out DIR]
#   bash scripts/probe.sh bench [--preset dreamerv2] [--dims 200 1024] [--steps 1000 50]
# Outputs go to RUN_DIR/probe/ (summary.json, steps.npz, maps.npz, figures/, TensorBoard).
# Works from any directory; set PYTHON to choose the interpreter.
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: bash scripts/probe.sh RUN_DIR [options] | compare RUN_DIR ... | bench" >&2
  exit 2
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
exec "$PYTHON" -m vsg.probe "$@"
