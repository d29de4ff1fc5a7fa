# Hardening (issue 9): the malformed-input catalogue through the program, in every build; and,
# in the normal build only, second build trees with the sanitizers, the fuzz harnesses' replay
# and short run, valgrind memcheck of the program. Label "hardening"; the catalogue is "quick"
# too. CI time these add on 2 cores is measured in tests/fuzz/README.md.

# Every case must end with its exit code and message, in bounded time and memory. Under the
# sanitizers the runner skips its address-space cap (ASan reserves terabytes of shadow) and allows
# for their larger resident memory.
cnnrun_py_test(malformed_catalogue malformed/run_cases.py LABELS "quick;hardening"
               ARGS $<TARGET_FILE:cnnrun_cli> ${PROJECT_SOURCE_DIR})
if(CNNRUN_SANITIZE OR CNNRUN_TSAN OR CNNRUN_FUZZ)
  set_property(TEST malformed_catalogue APPEND PROPERTY ENVIRONMENT CNNRUN_SANITIZED=1)
endif()

if(NOT (CNNRUN_SANITIZE OR CNNRUN_TSAN OR CNNRUN_FUZZ))
  set(CNNRUN_HARDENING_TREES ${CMAKE_BINARY_DIR}/hardening)

  add_test(NAME hardening_asan_quick
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hardening/asan_quick.sh ${PROJECT_SOURCE_DIR}
                   ${CNNRUN_HARDENING_TREES}/asan)
  set_tests_properties(hardening_asan_quick PROPERTIES LABELS hardening TIMEOUT 1800)

  add_test(NAME hardening_fuzz
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hardening/fuzz_short.sh ${PROJECT_SOURCE_DIR}
                   ${CNNRUN_HARDENING_TREES}/fuzz 60)
  set_tests_properties(hardening_fuzz PROPERTIES LABELS hardening TIMEOUT 1800)

  add_test(NAME hardening_tsan_threads
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hardening/tsan_threads.sh ${PROJECT_SOURCE_DIR}
                   ${CNNRUN_HARDENING_TREES}/tsan ${CNNRUN_FIXTURES_DIR})
  set_tests_properties(hardening_tsan_threads PROPERTIES LABELS hardening TIMEOUT 1800
                       FIXTURES_REQUIRED "torch_models;zoo_models")

  # valgrind memcheck of the program: no invalid reads or writes, no definite or indirect leaks.
  # valgrind's CPU has no AVX-512, so oneDNN JITs its AVX2 kernels there.
  find_program(CNNRUN_VALGRIND valgrind)
  if(CNNRUN_VALGRIND)
    set(CNNRUN_MEMCHECK ${CNNRUN_VALGRIND} --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
        --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/hardening/valgrind.supp)
    add_test(NAME memcheck_cli_digits
             COMMAND ${CNNRUN_MEMCHECK} $<TARGET_FILE:cnnrun_cli> ${PROJECT_SOURCE_DIR}/models/digits_cnn.onnx
                     ${PROJECT_SOURCE_DIR}/models/digits_batch8.npy
                     --expect ${PROJECT_SOURCE_DIR}/models/digits_batch8_expected.npy)
    set_tests_properties(memcheck_cli_digits PROPERTIES LABELS hardening TIMEOUT 600)
    set(zoo ${CNNRUN_FIXTURES_DIR}/zoo)
    add_test(NAME memcheck_cli_zoo
             COMMAND ${CNNRUN_MEMCHECK} $<TARGET_FILE:cnnrun_cli>
                     ${zoo}/lstm_classifier_opset14/model.onnx ${zoo}/lstm_classifier_opset14/inputs_b4_t20.npz
                     --expect ${zoo}/lstm_classifier_opset14/expected_b4_t20.npz)
    set_tests_properties(memcheck_cli_zoo PROPERTIES LABELS hardening TIMEOUT 900
                         FIXTURES_REQUIRED zoo_models)
  else()
    message(WARNING "valgrind not found: the memcheck tests are left out (run ./setup.sh)")
  endif()
endif()
