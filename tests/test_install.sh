#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a small C program against it twice, as a
# user would: with pkg-config, and with CMake's find_package (shared and static targets).
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
# CNNRUN_CONSUMER_FLAGS (optional): compiler and linker flags the consumer needs, such as the
# sanitizer flags of a CNNRUN_SANITIZE build, whose libraries need the sanitizer runtimes.
# CNNRUN_CONSUMER_CC (optional, default cc): the consumer's compiler.
set -euo pipefail
build=$1 src=$2
flags=${CNNRUN_CONSUMER_FLAGS:-}
compiler=${CNNRUN_CONSUMER_CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
model="$src/models/digits_cnn.onnx"
libdir=$(find "$work/prefix" -name 'libcnnrun.so' -printf '%h\n' | head -1)
pcdir=$(find "$work/prefix" -name 'cnnrun.pc' -printf '%h\n' | head -1)
failed=0 passed=0
check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then echo "PASS $name: $out" | head -1; passed=$((passed + 1))
  else echo "FAIL $name: $out"; failed=$((failed + 1)); fi
}
for f in include/cnnrun.h bin/cnnrun; do
  check "installed $f" test -e "$work/prefix/$f"
done
check "pkg-config build" env PKG_CONFIG_PATH="$pcdir" sh -c \
  "'$compiler' -Wall -Wextra $flags -o '$work/pc_consumer' '$src/tests/install_consumer/consumer.c' \$(pkg-config --cflags --libs cnnrun)"
check "pkg-config program runs" env LD_LIBRARY_PATH="$libdir" "$work/pc_consumer" "$model"
check "find_package configure" cmake -S "$src/tests/install_consumer" -B "$work/consumer" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_COMPILER="$compiler" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
check "find_package build" cmake --build "$work/consumer"
check "find_package shared program runs" env LD_LIBRARY_PATH="$libdir" "$work/consumer/consumer_shared" "$model"
check "find_package static program runs" "$work/consumer/consumer_static" "$model"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
