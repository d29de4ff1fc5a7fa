# Model cases for the non-oneDNN operator families (unary, binary, softmax, view ops, transpose,
# concat, shape, gather, batchnorm): generated with NumPy references, then run by
# run_model_cases, which compares every output with the expected arrays.
add_test(NAME op_cases_basic_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_op_cases_basic.py
                 ${CNNRUN_FIXTURES_DIR}/op_cases_basic)
set_tests_properties(op_cases_basic_generate PROPERTIES FIXTURES_SETUP op_cases_basic LABELS quick)

add_test(NAME op_cases_basic COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/op_cases_basic)
set_tests_properties(op_cases_basic PROPERTIES LABELS quick FIXTURES_REQUIRED op_cases_basic)
