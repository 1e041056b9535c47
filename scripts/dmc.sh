#!/usr/bin/env bash
# Train on DeepMind Control from pixels.
#   bash scripts/dmc.sh TASK MODEL SUFFIX GATE_PRIOR DIM SEED [--key value ...]
# TASK: a dm_control task such as walker_walk; MODEL: DreamerV1 | DreamerV2 | VSG | SVSG;
# SUFFIX: free text appended to the run id; GATE_PRIOR: gate prior probability (VSG/SVSG);
# DIM: deterministic and hidden size (SVSG: also the stochastic size); SEED: run seed.
# Extra arguments are config overrides, e.g. --steps 20000 or --configs cpu. Precedence, lowest
# first: defaults < this launcher's presets (dmc, then the model's) < your --configs presets <
# the positional arguments above < your --key value overrides.
# Runs go to logs/dmc/dmc_<TASK>/<id>/seed<SEED>/; rerunning the same command resumes.
set -euo pipefail

usage() {
  echo "usage: bash scripts/dmc.sh TASK MODEL SUFFIX GATE_PRIOR DIM SEED [--key value ...]" >&2
  echo "  MODEL: DreamerV1 | DreamerV2 | VSG | SVSG; e.g. walker_walk VSG baseline 0.4 1024 1" >&2
  [ -n "${1:-}" ] && echo "error: $1" >&2
  exit 2
}

[ "$#" -ge 6 ] || usage "expected 6 arguments, got $#"
TASK=$1 MODEL=$2 SUFFIX=$3 GATE_PRIOR=$4 DIM=$5 SEED=$6
shift 6

[[ "$TASK" =~ ^[a-z_]+$ ]] || usage "TASK must look like walker_walk, got '$TASK'"
[[ "$SUFFIX" =~ ^[A-Za-z0-9._-]+$ ]] || usage "SUFFIX may use letters, digits, . _ -, got '$SUFFIX'"
[[ "$GATE_PRIOR" =~ ^0?\.[0-9]*[1-9][0-9]*$ ]] \
  || usage "GATE_PRIOR must be a number in (0, 1), got '$GATE_PRIOR'"
[[ "$DIM" =~ ^[1-9][0-9]*$ ]] || usage "DIM must be a positive integer, got '$DIM'"
[[ "$SEED" =~ ^[0-9]+$ ]] || usage "SEED must be a non-negative integer, got '$SEED'"

SIZES=(--dyn_deter "$DIM" --dyn_hidden "$DIM")
GATES=(--dyn_gate_prior "$GATE_PRIOR")
case "$MODEL" in
  DreamerV1) PRESET=dreamerv1; ID="DreamerV1_$SUFFIX"; GATES=() ;;
  DreamerV2) PRESET=dreamerv2; ID="DreamerV2_$SUFFIX"; GATES=() ;;
  VSG) PRESET=vsg; ID="VSG_prior${GATE_PRIOR}_$SUFFIX" ;;
  SVSG) PRESET=svsg; ID="SVSG_prior${GATE_PRIOR}_$SUFFIX"; SIZES+=(--dyn_stoch "$DIM") ;;
  *) usage "unknown MODEL '$MODEL'" ;;
esac

# The launcher works from any directory; runs go under the current one.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
echo "task dmc_$TASK, model $MODEL, id $ID, seed $SEED"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
# Presets first, then the positional arguments as flags, then yours (the later flag wins).
exec "$PYTHON" -m vsg.train --configs defaults dmc "$PRESET" \
  --task "dmc_$TASK" --id "$ID" --seed "$SEED" "${SIZES[@]}" "${GATES[@]}" "$@"
