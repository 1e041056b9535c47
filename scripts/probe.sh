#!/usr/bin/env bash
# Jacobian-sparsity probe of trained runs (details: vsg/probe/__main__.py).
#   bash scripts/probe.sh RUN_DIR [--episodes N] [--from_dir DIR] [--rows K] [--max_steps T] ...
#   bash scripts/probe.sh compare RUN_DIR RUN_DIR ... [--out DIR]
#   bash scripts/probe.sh truth [--tasks walker_walk hopper_hop cheetah_run] [--episodes N]
#   bash scripts/probe.sh bench [--preset dreamerv2] [--dims 200 1024] [--steps 1000 50]
# Outputs go to RUN_DIR/probe/ (summary.json, steps.npz, maps.npz, figures/, TensorBoard).
# Works from any directory; the interpreter: scripts/python.sh (set PYTHON to choose another).
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: bash scripts/probe.sh RUN_DIR [options] | compare RUN_DIR ... | truth | bench" >&2
  exit 2
fi

source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
exec "$PYTHON" -m vsg.probe "$@"
