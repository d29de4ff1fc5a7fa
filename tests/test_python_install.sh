#!/usr/bin/env bash
# `pip install ./python` as the README documents it, checked with the issue's one-liner: installs
# the package (with the built library packed in) into a scratch directory, then runs, from the
# repository root and with no CNNRUN_LIBRARY set,
#   python -c "import cnnrun, numpy; print(cnnrun.Model('models/digits_cnn.onnx').session().run(numpy.load('models/digit_sample.npy')))"
# which must print class 1 with probability ~1 (PyTorch's answer, models/digit_sample_expected.npy)
# from the packed library. The package is copied first: pip builds in the source directory.
# Usage: test_python_install.sh PYTHON BUILD_DIR SOURCE_DIR  (PYTHON: the venv's, which has pip,
# setuptools and numpy; --no-build-isolation and --no-deps keep it offline)
set -euo pipefail
python=$1 build=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/python" "$work/source"
rm -rf "$work/source/build" "$work/source"/*.egg-info
CNNRUN_BUILD_DIR="$build" "$python" -m pip install -q --disable-pip-version-check --no-deps \
  --no-build-isolation --target "$work/site" "$work/source" > "$work/pip.log" 2>&1 \
  || { cat "$work/pip.log"; echo "0 passed, 1 failed"; exit 1; }
failed=0 passed=0
check() { # name, ok?, detail
  if [ "$2" = 1 ]; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1: $3"; failed=$((failed + 1)); fi
}
packed="$work/site/cnnrun/_lib/libcnnrun.so.0"
check "the library is packed" "$([ -f "$packed" ] && echo 1 || echo 0)" "no $packed"
cd "$src"
out=$(env -u CNNRUN_LIBRARY PYTHONPATH="$work/site" "$python" -c \
  "import cnnrun, numpy; print(cnnrun.Model('models/digits_cnn.onnx').session().run(numpy.load('models/digit_sample.npy')))" 2>&1) || true
echo "$out"
check "the README's check prints the probabilities" \
  "$(echo "$out" | grep -q '9.99999[0-9]*e-01' && echo 1 || echo 0)" "$out"
where=$(env -u CNNRUN_LIBRARY PYTHONPATH="$work/site" "$python" -c "import cnnrun; print(cnnrun.library_path)" 2>&1) || true
check "the packed library is the one loaded" "$([ "$where" = "$packed" ] && echo 1 || echo 0)" "$where"
# With no library anywhere, the import fails with a message that says what to do.
missing=$(cd "$work" && env CNNRUN_LIBRARY="$work/none.so" PYTHONPATH="$work/site" "$python" -c "import cnnrun" 2>&1) || true
check "a missing library is a clear ImportError" \
  "$(echo "$missing" | grep -q 'LibraryNotFound: cnnrun: libcnnrun was not found' && echo "$missing" | grep -q 'CNNRUN_LIBRARY' && echo 1 || echo 0)" "$missing"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
