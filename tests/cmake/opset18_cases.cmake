# Operator versions of opsets 18-22 (Pad axes and wrap, Split num_outputs, Reduce axes inputs,
# Resize axes/aspect policy/half_pixel_symmetric, AveragePool dilations, GridSample-20 names,
# QuantizeLinear-21 output_dtype, ScatterElements max, Conv at 22) against NumPy/PyTorch, and the
# models cnnrun must refuse by name at those opsets (DFT-20, opset 23, antialias, float8, blocked
# quantization, volumetric GridSample).
add_test(NAME opset18_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_opset18_cases.py
                 ${CNNRUN_FIXTURES_DIR}/opset18_cases)
set_tests_properties(opset18_cases_generate PROPERTIES FIXTURES_SETUP opset18_cases LABELS quick)

add_test(NAME opset18_cases COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${CNNRUN_FIXTURES_DIR}/opset18_cases/valid)
set_tests_properties(opset18_cases PROPERTIES LABELS quick FIXTURES_REQUIRED opset18_cases)

cnnrun_py_test(opset18_refused check_expected_errors.py ARGS opset18_cases/refused LABELS quick FIXTURES opset18_cases)
