# Resize, Upsample and Einsum: models exported from torch.nn.functional.interpolate and single-node
# Einsum models, with PyTorch's own outputs as references, plus the ONNX backend suite's
# Resize/Upsample cases with their scales/sizes/roi inputs made initializers (as exporters write
# them; the conformance test runs the originals, where they are graph inputs). Run by
# run_model_cases through the public API.
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
  "UNSUPPORTED resize_scales_from_data: [^\n]*the scales input must be known when the graph is planned[^\n]*\n"
  "UNSUPPORTED resize_tf_half_pixel_for_nn_opset13: [^\n]*attribute 'coordinate_transformation_mode' is not supported[^\n]*\n")
add_test(NAME resize_einsum_refusals
         COMMAND run_model_cases --unsupported-ok ${CNNRUN_FIXTURES_DIR}/resize_einsum_cases/refusals)
set_tests_properties(resize_einsum_refusals PROPERTIES LABELS quick FIXTURES_REQUIRED resize_einsum_cases
  PASS_REGULAR_EXPRESSION "${CNNRUN_RESIZE_EINSUM_REFUSALS_RE}0 passed, 0 failed, 6 unsupported\n")

# Malformed nodes: an error naming what is wrong (and no crash), never a result.
string(CONCAT CNNRUN_RESIZE_EINSUM_INVALID_RE
  "FAIL einsum_bad_char: [^\n]*equation: '1' is not a letter[^\n]*\n"
  "FAIL einsum_out_repeat: [^\n]*output label 'i' is repeated\n"
  "FAIL einsum_out_unknown: [^\n]*output label 'z' is in no input\n"
  "FAIL einsum_rank: [^\n]*equation term 0 has 3 labels for an input of rank 2\n"
  "FAIL einsum_size_mismatch: [^\n]*label 'i' has size 3 in input 1 but 2 elsewhere\n"
  "FAIL einsum_stray_dot: [^\n]*stray '.' or more than one '...'\n"
  "FAIL einsum_terms: [^\n]*equation has 1 terms for 2 inputs\n"
  "FAIL einsum_two_ellipses: [^\n]*stray '.' or more than one '...'\n"
  "UNSUPPORTED resize_mode_unknown: [^\n]*attribute 'mode' is not supported[^\n]*\n"
  "FAIL resize_roi_count: [^\n]*roi has 4 values. expected 8[^\n]*\n"
  "FAIL resize_scales_and_sizes: [^\n]*exactly one of the scales and sizes inputs[^\n]*found both\n"
  "FAIL resize_scales_count: [^\n]*scales has 3 values for an input of rank 4\n"
  "FAIL resize_scales_nan: [^\n]*scale nan of axis 2 is not a positive number\n"
  "FAIL resize_scales_zero: [^\n]*scale 0 of axis 2 is not a positive number\n"
  "FAIL resize_sizes_negative: [^\n]*sizes\\[2\\] = -3 is negative\n")
add_test(NAME resize_einsum_invalid
         COMMAND run_model_cases --unsupported-ok ${CNNRUN_FIXTURES_DIR}/resize_einsum_cases/invalid)
set_tests_properties(resize_einsum_invalid PROPERTIES LABELS quick FIXTURES_REQUIRED resize_einsum_cases
  PASS_REGULAR_EXPRESSION "${CNNRUN_RESIZE_EINSUM_INVALID_RE}0 passed, 14 failed, 1 unsupported\n")
