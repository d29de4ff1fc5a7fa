#!/bin/sh
# Runs a test script with the venv's Python, or fails saying how to make the venv (./setup.sh
# makes it with python/setup_venv.sh; it may appear after the build was configured).
# Usage: run_in_venv.sh VENV_PYTHON SCRIPT [ARGS...]
python=$1
shift
if [ ! -x "$python" ]; then
  echo "$python is missing: run ./setup.sh (it makes the venv with python/setup_venv.sh)"
  echo "0 passed, 1 failed"
  exit 1
fi
exec "$python" "$@"
