# Model cases for the oneDNN-backed operator families (Conv, MaxPool, AveragePool, global pools,
# Gemm, MatMul): single-node models over many attribute combinations, with references from
# torch.nn.functional and NumPy, run by run_model_cases through the public API.
set(CNNRUN_OP_CASES_DNNL_DIR ${CNNRUN_FIXTURES_DIR}/op_cases_dnnl)
set(CNNRUN_RUNNER_CHECK_DIR ${CNNRUN_FIXTURES_DIR}/runner_check)

add_test(NAME op_cases_dnnl_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_op_cases_dnnl.py
                 ${CNNRUN_OP_CASES_DNNL_DIR} ${CNNRUN_RUNNER_CHECK_DIR})
set_tests_properties(op_cases_dnnl_generate PROPERTIES FIXTURES_SETUP op_cases_dnnl LABELS quick)

# The runner itself (also used by other areas' case tests). Its own test checks that it can fail:
# one case whose expected output is off by 0.25 in one element must be reported, with the element's index, and
# one case with the right reference must pass.
cnnrun_c_test(run_model_cases SOURCES run_model_cases.c LABELS quick FIXTURES op_cases_dnnl
              ARGS ${CNNRUN_RUNNER_CHECK_DIR})
set_tests_properties(run_model_cases PROPERTIES PASS_REGULAR_EXPRESSION
  "FAIL off_by_quarter: output 'y' max abs err 0\\.25 \\(got -?[0-9]+, expected -?[0-9]+\\.(25|75)\\) at index \\[1, 2\\]; 1 of 8 elements.*PASS right\n1 passed, 1 failed")

add_test(NAME op_cases_dnnl COMMAND run_model_cases ${CNNRUN_OP_CASES_DNNL_DIR})
set_tests_properties(op_cases_dnnl PROPERTIES LABELS quick FIXTURES_REQUIRED op_cases_dnnl)
