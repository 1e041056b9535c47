#!/usr/bin/env bash
# Train on DeepMind Control from pixels.
#   bash scripts/dmc.sh TASK MODEL SUFFIX GATE_PRIOR DIM SEED [--key value ...]
# TASK: a dm_control task such as walker_walk; MODEL: DreamerV1 | DreamerV2 | VSG | SVSG
# (the table in vsg/models.py); SUFFIX: free text appended to the run id; GATE_PRIOR: gate prior
# probability (VSG/SVSG); DIM: deterministic and hidden size (SVSG: also the stochastic size);
# SEED: run seed. Extra arguments are config overrides, e.g. --steps 20000 or --configs cpu.
# Precedence, lowest first: defaults < this launcher's presets (dmc, then the model's) < your
# --configs presets < the positional arguments above < your --key value overrides.
# Runs go to logs/dmc/dmc_<TASK>/<id>/seed<SEED>/; rerunning the same command resumes.
# The arguments are checked and mapped by `python -m vsg.launch dmc` (vsg/launch.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
# Works from any directory (the interpreter: scripts/python.sh); runs go under the current one.
exec "$PYTHON" -m vsg.launch dmc "$@"
