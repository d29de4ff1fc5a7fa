# Comparison, logical, selection and cast operators (Equal, Less, Greater, LessOrEqual,
# GreaterOrEqual, And, Or, Xor, Not, Where, Cast, CastLike): cases generated with NumPy
# references, then run by run_model_cases; plus the same ops' cases of the ONNX backend suite.
add_test(NAME compare_cast_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_compare_cast_cases.py
                 ${CNNRUN_FIXTURES_DIR}/compare_cast_cases)
set_tests_properties(compare_cast_cases_generate PROPERTIES FIXTURES_SETUP compare_cast_cases LABELS quick)

add_test(NAME compare_cast_cases COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/compare_cast_cases)
set_tests_properties(compare_cast_cases PROPERTIES LABELS quick FIXTURES_REQUIRED compare_cast_cases)

# The suite's cases (layout B) with its tolerances. The 6 cases with string tensors
# (test_cast_{FLOAT_to_STRING,STRING_to_FLOAT}, test_castlike_{FLOAT_to_STRING,STRING_to_FLOAT}
# [_expanded]) must be refused as unsupported; everything else, bfloat16 included, must pass.
set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH "Root of the ONNX backend test data")
if(EXISTS ${CNNRUN_ONNX_TESTDATA}/node)
  file(GLOB CNNRUN_ONNX_COMPARE_CAST_CASES LIST_DIRECTORIES true
       ${CNNRUN_ONNX_TESTDATA}/node/test_equal*  ${CNNRUN_ONNX_TESTDATA}/node/test_less*
       ${CNNRUN_ONNX_TESTDATA}/node/test_greater* ${CNNRUN_ONNX_TESTDATA}/node/test_and*
       ${CNNRUN_ONNX_TESTDATA}/node/test_or*     ${CNNRUN_ONNX_TESTDATA}/node/test_xor*
       ${CNNRUN_ONNX_TESTDATA}/node/test_not*    ${CNNRUN_ONNX_TESTDATA}/node/test_where*
       ${CNNRUN_ONNX_TESTDATA}/node/test_cast*)
  add_test(NAME onnx_suite_compare_cast
           COMMAND run_model_cases --rtol 1e-3 --atol 1e-7 --unsupported-ok ${CNNRUN_ONNX_COMPARE_CAST_CASES})
  set_tests_properties(onnx_suite_compare_cast PROPERTIES LABELS quick
    PASS_REGULAR_EXPRESSION "\n67 passed, 0 failed, 6 unsupported\n")
else()
  message(STATUS "ONNX backend test data not found in ${CNNRUN_ONNX_TESTDATA}: onnx_suite_compare_cast skipped")
endif()
