#!/usr/bin/env bash
# For users with a GPU: what this code does on your machine, printed in a form you can paste
# into an issue (we had no GPU to measure on, so we quote no GPU figure ourselves).
#   bash scripts/gpu_check.sh [MINUTES]
# Prints the GPU and TensorFlow's devices, `vsg.bench` at both size sets (the VSG `dmc`
# preset and DreamerV2's own dmc_vision sizes) in float32 and in mixed float16, then trains
# DreamerV2 on walker_walk (DIM 200, seed 0) for MINUTES minutes (default 10) in a temporary
# directory and prints its env frames/s and updates/s while training. Takes ~MINUTES + 15 min.
set -euo pipefail
MINUTES=${1:-10}
[[ "$MINUTES" =~ ^[1-9][0-9]*$ ]] || { echo "error: MINUTES must be a positive integer, got '$MINUTES'" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
ROOT=$SCRIPTS_ROOT
export PYTHON

echo '```'
echo "gpu_check: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
  || echo "nvidia-smi: not available"
"$PYTHON" -c '
from vsg.quiet import import_tensorflow
tf = import_tensorflow()
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "GPUs:", [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus] or "none")
'
for sizes in vsg dreamerv2; do
  for precision in 32 16; do
    echo "--- bench --sizes $sizes --precision $precision"
    "$PYTHON" -m vsg.bench --sizes "$sizes" --precision "$precision" --repeat 5 --warmup 2
  done
done

LOGDIR=$(mktemp -d)
echo "--- DreamerV2 on walker_walk for $MINUTES min (run log: $LOGDIR/run.log)"
status=0
timeout --signal=INT "${MINUTES}m" bash "$ROOT/scripts/dmc.sh" walker_walk DreamerV2 gpu_check 0.4 200 0 \
  --logdir "$LOGDIR" --steps 100000000 --log_every 2000 >"$LOGDIR/run.log" 2>&1 || status=$?
[ "$status" = 124 ] || [ "$status" = 130 ] || { echo "the run failed (exit $status):"; tail -5 "$LOGDIR/run.log"; }
RUN=$(dirname "$(find "$LOGDIR" -name metrics.jsonl | head -1)")
"$PYTHON" -m vsg.bench --throughput "$RUN" || true
echo '```'
