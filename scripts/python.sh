# Sourced by the scripts here: sets PYTHON to the interpreter that runs this project.
# `.venv/bin/python` of the repository when it exists, else python3; set PYTHON to choose
# another one. The project must be installed in it (scripts/install.sh does so), so that the
# scripts work from any directory.
SCRIPTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$SCRIPTS_ROOT/.venv/bin/python" ]; then
    PYTHON="$SCRIPTS_ROOT/.venv/bin/python"
  else
    PYTHON=python3
  fi
fi
"$PYTHON" -c "import vsg" 2>/dev/null || {
  echo "error: $PYTHON cannot import this project: run bash scripts/install.sh" >&2
  exit 2
}
