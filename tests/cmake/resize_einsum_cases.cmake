# Resize, Upsample and Einsum: models exported from torch.nn.functional.interpolate and single-node
# Einsum models, with PyTorch's own outputs as references, plus the ONNX backend suite's
# Resize/Upsample cases with their scales/sizes/roi inputs made initializers (cnnrun needs them at
# plan time; the suite feeds them as graph inputs). Run by run_model_cases through the public API.
add_test(NAME resize_einsum_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_resize_einsum_cases.py
                 ${CNNRUN_FIXTURES_DIR}/resize_einsum_cases)
set_tests_properties(resize_einsum_cases_generate PROPERTIES FIXTURES_SETUP resize_einsum_cases
                     LABELS quick)

add_test(NAME resize_einsum_cases COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/resize_einsum_cases)
set_tests_properties(resize_einsum_cases PROPERTIES LABELS quick FIXTURES_REQUIRED resize_einsum_cases)

# The suite's Einsum cases run unchanged (layout B): every input is data.
set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH
    "The ONNX backend test suite's data (Debian package libonnx-testdata)")
if(EXISTS ${CNNRUN_ONNX_TESTDATA}/node/test_einsum_sum)
  set(CNNRUN_ONNX_EINSUM_CASES)
  foreach(c batch_diagonal batch_matmul inner_prod sum transpose)
    list(APPEND CNNRUN_ONNX_EINSUM_CASES ${CNNRUN_ONNX_TESTDATA}/node/test_einsum_${c})
  endforeach()
  add_test(NAME onnx_suite_einsum COMMAND run_model_cases ${CNNRUN_ONNX_EINSUM_CASES})
  set_tests_properties(onnx_suite_einsum PROPERTIES LABELS quick)
endif()

# Valid models these ops refuse: each must be reported as unsupported, naming the reason.
string(CONCAT CNNRUN_RESIZE_EINSUM_REFUSALS_RE
  "UNSUPPORTED einsum_float16: [^\n]*\\(Einsum, opset 12\\): input 0 has dtype float16. supported: float32, float64, int32, int64\n"
  "UNSUPPORTED resize_antialias: [^\n]*\\(Resize, opset 17\\): attribute 'antialias' is not supported: it belongs to Resize-18[^\n]*\n"
  "UNSUPPORTED resize_cubic_opset10: [^\n]*\\(Resize, opset 10\\): attribute 'mode' is not supported[^\n]*\n"
  "UNSUPPORTED resize_linear_uint8: [^\n]*input X has dtype uint8. mode linear supports float32 only\n"
  "UNSUPPORTED resize_runtime_scales: [^\n]*the scales input must be known when the graph is planned[^\n]*\n"
  "UNSUPPORTED resize_tf_half_pixel_for_nn_opset13: [^\n]*attribute 'coordinate_transformation_mode' is not supported[^\n]*\n")
add_test(NAME resize_einsum_refusals
         COMMAND run_model_cases --unsupported-ok ${CNNRUN_FIXTURES_DIR}/resize_einsum_cases/refusals)
set_tests_properties(resize_einsum_refusals PROPERTIES LABELS quick FIXTURES_REQUIRED resize_einsum_cases
  PASS_REGULAR_EXPRESSION "${CNNRUN_RESIZE_EINSUM_REFUSALS_RE}0 passed, 0 failed, 6 unsupported\n")
