#!/bin/sh
# The quick tests again, in a second build tree compiled with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc; -DCNNRUN_SANITIZE=ON). The tree stays under the main build
# directory, so later runs rebuild only what changed.
# Usage: asan_quick.sh SOURCE_DIR TREE_DIR
set -eu
src=$1 tree=$2
cmake -S "$src" -B "$tree" -DCNNRUN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tree" -j2 >/dev/null
ctest --test-dir "$tree" -L quick -j2 --output-on-failure
