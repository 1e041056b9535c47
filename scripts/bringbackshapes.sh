#!/usr/bin/env bash
# Train on BringBackShapes from pixels.
#   bash scripts/bringbackshapes.sh MODEL SUFFIX ENV_TYPE TL DISTR OBJS VAR_OBJS VAR_DISTR \
#       VAR_GOAL VIEW SCALE GATE_PRIOR SEED [--key value ...]
# MODEL: DreamerV1 | DreamerV2 | VSG | SVSG; ENV_TYPE: sparse | dense; TL: time limit in
# physics steps; DISTR: max distractors; OBJS: max objects; VAR_*: True | False (variable
# object count, distractor count, goal position); VIEW: agent view half-size in pixels;
# SCALE: arena scale (1.0 = Basic); GATE_PRIOR: gate prior (VSG/SVSG); SEED: run seed.
# Extra arguments are config overrides. Precedence, lowest first: defaults < this launcher's
# presets < your --configs presets < the positional arguments above < your --key value flags.
# Runs go to logs/bbs/bringbackshapes_<ENV_TYPE>_distract<DISTR>_size<SCALE>/<id>/seed<SEED>/.
# Example (Basic): bash scripts/bringbackshapes.sh VSG baseline sparse 3000 0 5 False False \
#   False 125 1.0 0.4 1
set -euo pipefail

usage() {
  echo "usage: bash scripts/bringbackshapes.sh MODEL SUFFIX ENV_TYPE TL DISTR OBJS VAR_OBJS" \
    "VAR_DISTR VAR_GOAL VIEW SCALE GATE_PRIOR SEED [--key value ...]" >&2
  echo "  e.g. VSG baseline sparse 3000 0 5 False False False 125 1.0 0.4 1" >&2
  [ -n "${1:-}" ] && echo "error: $1" >&2
  exit 2
}

[ "$#" -ge 13 ] || usage "expected 13 arguments, got $#"
MODEL=$1 SUFFIX=$2 ENV_TYPE=$3 TL=$4 DISTR=$5 OBJS=$6 VAR_OBJS=$7 VAR_DISTR=$8 VAR_GOAL=$9
VIEW=${10} SCALE=${11} GATE_PRIOR=${12} SEED=${13}
shift 13

count() { [[ "$2" =~ ^[0-9]+$ ]] || usage "$1 must be a non-negative integer, got '$2'"; }
boolean() { [[ "$2" =~ ^(True|False)$ ]] || usage "$1 must be True or False, got '$2'"; }
[[ "$SUFFIX" =~ ^[A-Za-z0-9._-]+$ ]] || usage "SUFFIX may use letters, digits, . _ -, got '$SUFFIX'"
[[ "$ENV_TYPE" =~ ^(sparse|dense)$ ]] || usage "ENV_TYPE must be sparse or dense, got '$ENV_TYPE'"
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage "$1 must be a positive integer, got '$2'"; }
count TL "$TL"; count DISTR "$DISTR"; count SEED "$SEED"
positive OBJS "$OBJS"; positive VIEW "$VIEW"
boolean VAR_OBJS "$VAR_OBJS"; boolean VAR_DISTR "$VAR_DISTR"; boolean VAR_GOAL "$VAR_GOAL"
[[ "$SCALE" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && [[ ! "$SCALE" =~ ^0*\.?0*$ ]] \
  || usage "SCALE must be a positive number, got '$SCALE'"
[[ "$GATE_PRIOR" =~ ^0?\.[0-9]*[1-9][0-9]*$ ]] \
  || usage "GATE_PRIOR must be a number in (0, 1), got '$GATE_PRIOR'"

GATES=(--dyn_gate_prior "$GATE_PRIOR")
case "$MODEL" in
  DreamerV1) PRESETS=(bringbackshapes bringbackshapes_gaussian); ID="DreamerV1_$SUFFIX"; GATES=() ;;
  DreamerV2) PRESETS=(bringbackshapes); ID="DreamerV2_$SUFFIX"; GATES=() ;;
  VSG) PRESETS=(bringbackshapes vsg); ID="VSG_prior${GATE_PRIOR}_$SUFFIX" ;;
  SVSG) PRESETS=(bringbackshapes bringbackshapes_svsg); ID="SVSG_dim1024_prior${GATE_PRIOR}_$SUFFIX" ;;
  *) usage "unknown MODEL '$MODEL'" ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
echo "task bringbackshapes_${ENV_TYPE}_distract${DISTR}_size${SCALE}, model $MODEL, id $ID, seed $SEED"
# Presets first, then the positional arguments as flags, then yours (the later flag wins).
exec "$PYTHON" -m vsg.train --configs defaults "${PRESETS[@]}" \
  --task "bringbackshapes_$ENV_TYPE" --id "$ID" --seed "$SEED" --time_limit "$TL" \
  --max_distractors "$DISTR" --max_objects "$OBJS" \
  --variable_num_objects "$VAR_OBJS" --variable_num_distractors "$VAR_DISTR" \
  --variable_goal_position "$VAR_GOAL" --agent_view_size "$VIEW" --arena_scale "$SCALE" \
  "${GATES[@]}" "$@"
