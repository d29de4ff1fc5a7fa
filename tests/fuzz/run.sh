#!/bin/sh
# A longer fuzzing run of one target, in its own build tree (clang, libFuzzer, ASan, UBSan):
#
#     sh tests/fuzz/run.sh TARGET SECONDS [TREE]       e.g.  sh tests/fuzz/run.sh onnx 3600
#
# TARGET is a harness tests/fuzz/fuzz_<TARGET>.c (onnx, arrays). The tree (default build-fuzz)
# is configured and built on first use. The corpus grows in TREE/corpus-<TARGET>/ across runs
# (seeded from tests/fuzz/corpus/<TARGET>/); crashes, leaks, timeouts and over-limit allocations
# are written to TREE/artifacts-<TARGET>/ and the run stops at the first (add -fork=1
# -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 through FUZZ_EXTRA to collect many).
# Runs under nice 15, one job. The last lines printed (stat::number_of_executed_units) give the
# executions for tests/fuzz/README.md's table.
set -eu
target=$1 seconds=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tree=${3:-$src/build-fuzz}
cmake -S "$src" -B "$tree" -DCMAKE_C_COMPILER=clang -DCNNRUN_FUZZ=ON -DCNNRUN_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tree" -j2 --target "fuzz_$target" >/dev/null
. "$src/tests/fuzz/fuzz_options.sh"
mkdir -p "$tree/corpus-$target" "$tree/artifacts-$target"
# shellcheck disable=SC2086
exec nice -n 15 "$tree/tests/fuzz/fuzz_$target" $(fuzz_options "$src" "$target") ${FUZZ_EXTRA:-} \
  -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$tree/artifacts-$target/" \
  "$tree/corpus-$target" "$src/tests/fuzz/corpus/$target"
