# libFuzzer options shared by the short CI run (tests/hardening/fuzz_short.sh) and the longer
# documented run (tests/fuzz/README.md): per-input time and memory bounds, the target's
# dictionary, and a length cap (the seeds are under 2 KB; 32 KB leaves mutation room while
# keeping executions fast). malloc_limit_mb makes any single allocation over 1 GB a finding.
# shellcheck shell=sh
fuzz_options() {
  printf '%s' "-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=32768"
  if [ -f "$1/tests/fuzz/dict/$2.dict" ]; then printf ' %s' "-dict=$1/tests/fuzz/dict/$2.dict"; fi
}
