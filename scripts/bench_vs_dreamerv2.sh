#!/usr/bin/env bash
# Our update beside danijar/dreamerv2's, at its dmc_vision sizes, float32, on this machine.
#   bash scripts/bench_vs_dreamerv2.sh [ROUNDS] [--tiny]
# Fetches dreamerv2 2.2.0 (its PyPI source release) and gym 0.26.2 (imported by its env
# wrappers) into ~/.cache/vsg/dreamerv2-2.2.0/src once, then runs ROUNDS (default 3) rounds of
# fresh processes, alternating: `python -m vsg.bench --sizes dreamerv2 --precision 32 --repeat 3`
# and `python -m vsg.bench_dreamerv2 --repeat 3` (same random batch, same TensorFlow with
# oneDNN, Keras 2 for dreamerv2 through TF_USE_LEGACY_KERAS=1, which the harness sets). Prints both logs and a table of
# medians and ratios. Takes ~4 min per round on a 2-core CPU; keep the machine otherwise idle.
# `--tiny` runs both at tiny sizes instead (a one-minute check that the comparison works).
#
# One line of dreamerv2 is changed, in the cached copy only: common/nets.py imports
# `tensorflow.keras.mixed_precision.experimental`, which Keras 2 no longer has; it imports
# `tensorflow.keras.mixed_precision` instead (the same `global_policy()` it calls).
set -euo pipefail
ROUNDS=${1:-3}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, got '$ROUNDS'" >&2; exit 2; }
OURS=(--sizes dreamerv2 --precision 32 --repeat 3)
THEIRS=(--repeat 3)
case "${2:-}" in
  "") ;;
  --tiny) OURS=(--sizes tiny --precision 32 --repeat 1); THEIRS=(--tiny --repeat 1) ;;
  *) echo "error: the second argument can only be --tiny, got '$2'" >&2; exit 2 ;;
esac
[ $# -le 2 ] || { echo "error: at most two arguments (ROUNDS, --tiny), got $#" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
EXECUTABLE=$("$PYTHON" -c 'import sys; print(sys.executable)')  # also from another folder

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vsg/dreamerv2-2.2.0
if [ ! -d "$CACHE" ]; then
  echo "fetching dreamerv2 2.2.0 and gym 0.26.2 into $CACHE"
  mkdir -p "$(dirname "$CACHE")"
  TMP=$(mktemp -d "$CACHE.XXXX")
  trap 'rm -rf "$TMP"' EXIT
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: dreamerv2==2.2.0 -d "$TMP/dl"
  tar xzf "$TMP/dl/dreamerv2-2.2.0.tar.gz" -C "$TMP/dl"
  mv "$TMP/dl/dreamerv2-2.2.0/dreamerv2" "$TMP/src"
  sed -i 's/^from tensorflow.keras.mixed_precision import experimental as prec$/from tensorflow.keras import mixed_precision as prec/' \
    "$TMP/src/common/nets.py"
  grep -q '^from tensorflow.keras import mixed_precision as prec$' "$TMP/src/common/nets.py"
  "$PYTHON" -m pip install --quiet --no-deps --target "$TMP/src" gym==0.26.2 gym-notices==0.0.8
  rm -rf "$TMP/dl"
  # whole or not at all; if another run filled the cache meanwhile, keep that one
  mv -T "$TMP" "$CACHE" 2>/dev/null || rm -rf "$TMP"
  trap - EXIT
fi

LOGS=$(mktemp -d)
for round in $(seq "$ROUNDS"); do
  echo "--- round $round of $ROUNDS: ours"
  "$PYTHON" -m vsg.bench "${OURS[@]}" | tee -a "$LOGS/ours.log"
  echo "--- round $round of $ROUNDS: dreamerv2"
  # from dreamerv2's folder, so that its modules (agent, common) and gym are importable
  (cd "$CACHE/src" && "$EXECUTABLE" -m vsg.bench_dreamerv2 "${THEIRS[@]}") \
    | tee -a "$LOGS/dreamerv2.log"
done
echo "--- side by side (logs in $LOGS)"
"$PYTHON" -m vsg.bench_dreamerv2 --compare "$LOGS/ours.log" "$LOGS/dreamerv2.log"
