#!/usr/bin/env bash
# Makes the venv that the Python binding's tests and the Ray benchmark run in, with the PyPI
# packages of python/requirements-test.txt. Called by ./setup.sh; safe to run again: when the venv
# exists and its stamp matches the requirements file, nothing is done (well under a second).
#
# Where: $CNNRUN_VENV, or ${XDG_CACHE_HOME:-~/.cache}/cnnrun-python-venv, outside the source tree
# so that a clean clone, `git clean` and new build trees keep it (tests/cmake/python.cmake looks
# there too). Base interpreter: the python3 first on PATH when it can make venvs with pip (the
# 3.11 with pip on these machines), else Debian's /usr/bin/python3 with python3-venv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${CNNRUN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cnnrun-python-venv}
requirements="$here/requirements-test.txt"
stamp="$venv/.cnnrun-requirements"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  echo "setup: Python venv $venv is up to date"
  exit 0
fi

base=""
for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
    base=$candidate
    break
  fi
done
if [ -z "$base" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing python3-venv for the Python venv"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
  base=/usr/bin/python3
fi

echo "setup: making the Python venv $venv from $base (about a minute: Ray, pyarrow, onnxruntime)"
[ -x "$venv/bin/python" ] || "$base" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
