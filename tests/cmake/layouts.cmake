# The planner's layouts and fusions: small PyTorch-exported networks holding the patterns of the
# model zoo (residual blocks, squeeze-excitation, pre-activation BatchNorm, inverted residuals) and
# the cases where fusing would be wrong, checked against PyTorch's outputs and against the plan
# each must have (tests/test_layouts.py reads `cnnrun --profile`).
add_test(NAME layout_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_layout_cases.py
                 ${CNNRUN_FIXTURES_DIR}/layout_cases)
set_tests_properties(layout_cases_generate PROPERTIES FIXTURES_SETUP layout_cases LABELS quick)

cnnrun_py_test(layouts test_layouts.py LABELS quick FIXTURES layout_cases)
