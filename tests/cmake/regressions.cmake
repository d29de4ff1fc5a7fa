# Inputs that once crashed, leaked or ran away with memory (tests/fuzz/regressions/), replayed
# through the cnnrun program: each must end with exit 2 and its message, quickly and in bounded
# memory. In the sanitizer build the bounds are the sanitizers' own reports.
cnnrun_py_test(fuzz_regressions fuzz/replay_regressions.py LABELS quick
               ARGS $<TARGET_FILE:cnnrun_cli> $<TARGET_FILE:peak_rss> ${PROJECT_SOURCE_DIR})
if(CNNRUN_SANITIZE)
  set_tests_properties(fuzz_regressions PROPERTIES ENVIRONMENT "CNNRUN_SANITIZED=1")
endif()
