# Model cases for the reductions (ReduceMean, ReduceSum, ..., ArgMax, ArgMin) and the data-driven
# normalisations (InstanceNormalization, LayerNormalization, LRN): generated with PyTorch and
# NumPy references at CNN-typical shapes, then run by run_model_cases.
add_test(NAME norm_reduce_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_norm_reduce_cases.py
                 ${CNNRUN_FIXTURES_DIR}/norm_reduce_cases)
set_tests_properties(norm_reduce_cases_generate PROPERTIES FIXTURES_SETUP norm_reduce_cases LABELS quick)

add_test(NAME norm_reduce_cases COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/norm_reduce_cases)
set_tests_properties(norm_reduce_cases PROPERTIES LABELS quick FIXTURES_REQUIRED norm_reduce_cases)
