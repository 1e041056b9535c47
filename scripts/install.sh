#!/usr/bin/env bash
# One-time set-up on a fresh Linux machine: headless-GL system libraries (when run as root
# with apt-get), then a virtual environment `.venv/` in the repo with the pinned requirements
# and this project installed in it (editable).
# The launchers use `.venv/bin/python` when it exists.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

GL_PACKAGES="libegl1 libopengl0 libgl1-mesa-dri libosmesa6"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing headless GL libraries: $GL_PACKAGES"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $GL_PACKAGES >/dev/null
else
  echo "not root or no apt-get: make sure these are installed: $GL_PACKAGES"
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null; then PY=python3.11; else PY=python3; fi
fi
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
  || { echo "error: Python 3.11 is required (found $("$PY" --version 2>&1))" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
# This project itself, editable: `python -m vsg...` and the vsg-train, vsg-probe and vsg-sweep
# commands work from any directory and run this checkout's code. setuptools follows an editable
# install of several top-level packages with a notice that folders named like a package in the
# working directory take precedence on import; here those folders are this checkout's own
# packages, so the notice is silenced for this one command.
PYTHONWARNINGS=ignore::UserWarning .venv/bin/python -m pip install -q --no-deps -e .
.venv/bin/python -m pip check
echo "ready: .venv/bin/python ($(.venv/bin/python --version))"
