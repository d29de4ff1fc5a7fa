#!/bin/sh
# The fuzz harnesses of tests/fuzz in a second tree built with clang, libFuzzer, ASan and UBSan
# (-DCNNRUN_FUZZ=ON, library only, no tests). For every target tests/fuzz/fuzz_<t>.c:
#   1. replay the committed seed corpus (tests/fuzz/corpus/<t>/);
#   2. replay every past crash input (tests/fuzz/regressions/<t>-*), so a fixed bug stays fixed;
#   3. fuzz from the seeds for SECONDS seconds (fixed seed, fresh scratch corpus).
# Any crash, sanitizer report, leak, timeout or over-limit allocation fails the test; libFuzzer
# prints the input's path and bytes.
# Usage: fuzz_short.sh SOURCE_DIR TREE_DIR SECONDS
set -eu
src=$1 tree=$2 seconds=$3
cmake -S "$src" -B "$tree" -DCMAKE_C_COMPILER=clang -DCNNRUN_FUZZ=ON -DCNNRUN_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the harnesses (and the library under them): the rest of the tree is the normal build's job.
targets=""
for harness in "$src"/tests/fuzz/fuzz_*.c; do targets="$targets $(basename "$harness" .c)"; done
# shellcheck disable=SC2086
cmake --build "$tree" -j2 --target $targets >/dev/null
. "$src/tests/fuzz/fuzz_options.sh"
status=0
for harness in "$src"/tests/fuzz/fuzz_*.c; do
  t=$(basename "$harness" .c); t=${t#fuzz_}
  bin="$tree/tests/fuzz/fuzz_$t"
  opts=$(fuzz_options "$src" "$t")
  echo "== $t: replaying the corpus"
  # shellcheck disable=SC2086
  if ! "$bin" $opts -runs=0 "$src/tests/fuzz/corpus/$t" > "$tree/corpus-$t.log" 2>&1; then
    tail -n 60 "$tree/corpus-$t.log"
    echo "FAILED: a seed of $t fails"
    status=1
  fi
  set -- "$src"/tests/fuzz/regressions/"$t"-*
  if [ -e "$1" ]; then
    echo "== $t: replaying $# regression input(s)"
    # shellcheck disable=SC2086
    if ! "$bin" $opts "$@" > "$tree/regressions-$t.log" 2>&1; then
      tail -n 60 "$tree/regressions-$t.log"
      echo "FAILED: a regression input of $t fails again"
      status=1
    fi
  fi
  echo "== $t: fuzzing for $seconds s"
  scratch="$tree/scratch-$t"
  rm -rf "$scratch" && mkdir -p "$scratch"
  # shellcheck disable=SC2086
  if ! "$bin" $opts -seed=1 -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$tree/" "$scratch" "$src/tests/fuzz/corpus/$t" > "$tree/fuzz-$t.log" 2>&1; then
    tail -n 60 "$tree/fuzz-$t.log"
    echo "FAILED: fuzzing $t found a crash; the input is in $tree/"
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$tree/fuzz-$t.log" || true
done
exit $status
