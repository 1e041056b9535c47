#!/usr/bin/env bash
# Train on BringBackShapes from pixels.
#   bash scripts/bringbackshapes.sh MODEL SUFFIX ENV_TYPE TL DISTR OBJS VAR_OBJS VAR_DISTR \
#       VAR_GOAL VIEW SCALE GATE_PRIOR SEED [--key value ...]
# MODEL: DreamerV1 | DreamerV2 | VSG | SVSG (the table in vsg/models.py); ENV_TYPE: sparse |
# dense; TL: time limit in physics steps; DISTR: max distractors; OBJS: max objects; VAR_*:
# True | False (variable object count, distractor count, goal position); VIEW: agent view
# half-size in pixels; SCALE: arena scale (1.0 = Basic); GATE_PRIOR: gate prior (VSG/SVSG);
# SEED: run seed. Extra arguments are config overrides. Precedence, lowest first: defaults <
# this launcher's presets < your --configs presets < the positional arguments above < your
# --key value flags.
# Runs go to logs/bbs/bringbackshapes_<ENV_TYPE>_distract<DISTR>_size<SCALE>/<id>/seed<SEED>/.
# Example (Basic): bash scripts/bringbackshapes.sh VSG baseline sparse 3000 0 5 False False \
#   False 125 1.0 0.4 1
# The arguments are checked and mapped by `python -m vsg.launch bringbackshapes` (vsg/launch.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
exec "$PYTHON" -m vsg.launch bringbackshapes "$@"
