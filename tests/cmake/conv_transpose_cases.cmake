# ConvTranspose: single-node models (1-D to 3-D, groups, dilations, output_padding, asymmetric,
# automatic and output_shape-derived padding, constant and run-time weights) with
# torch.nn.functional.conv_transpose references, the refusals, and the ONNX backend suite's
# ConvTranspose cases.
set(CNNRUN_CONV_TRANSPOSE_DIR ${CNNRUN_FIXTURES_DIR}/conv_transpose_cases)

add_test(NAME conv_transpose_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_conv_transpose_cases.py
                 ${CNNRUN_CONV_TRANSPOSE_DIR})
set_tests_properties(conv_transpose_cases_generate PROPERTIES FIXTURES_SETUP conv_transpose_cases
                     LABELS quick)

add_test(NAME conv_transpose_cases COMMAND run_model_cases ${CNNRUN_CONV_TRANSPOSE_DIR})
set_tests_properties(conv_transpose_cases PROPERTIES LABELS quick
                     FIXTURES_REQUIRED conv_transpose_cases)

# Valid models ConvTranspose refuses: each must be reported as unsupported, saying why.
string(CONCAT CNNRUN_CONV_TRANSPOSE_REFUSALS_RE
  "UNSUPPORTED ct_float64: node 'ct_float64' \\(ConvTranspose, opset 17\\): input 0 has dtype float64. supported: float32\n"
  "UNSUPPORTED ct_rank6: [^\n]*input X has shape \\[1, 1, 2, 2, 2, 2\\]. supported are 1-D, 2-D and 3-D[^\n]*\n")
add_test(NAME conv_transpose_refusals
         COMMAND run_model_cases --unsupported-ok ${CNNRUN_CONV_TRANSPOSE_DIR}/refusals)
set_tests_properties(conv_transpose_refusals PROPERTIES LABELS quick
  FIXTURES_REQUIRED conv_transpose_cases
  PASS_REGULAR_EXPRESSION "${CNNRUN_CONV_TRANSPOSE_REFUSALS_RE}0 passed, 0 failed, 2 unsupported\n")

set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH
    "The ONNX backend test suite's data (Debian package libonnx-testdata)")
if(EXISTS ${CNNRUN_ONNX_TESTDATA}/node)
  set(CNNRUN_ONNX_CONV_TRANSPOSE_CASES)
  foreach(c convtranspose convtranspose_1d convtranspose_3d convtranspose_autopad_same
            convtranspose_dilations convtranspose_kernel_shape convtranspose_output_shape
            convtranspose_pad convtranspose_pads convtranspose_with_kernel)
    list(APPEND CNNRUN_ONNX_CONV_TRANSPOSE_CASES ${CNNRUN_ONNX_TESTDATA}/node/test_${c})
  endforeach()
  list(APPEND CNNRUN_ONNX_CONV_TRANSPOSE_CASES
       ${CNNRUN_ONNX_TESTDATA}/pytorch-converted/test_ConvTranspose2d
       ${CNNRUN_ONNX_TESTDATA}/pytorch-converted/test_ConvTranspose2d_no_bias
       ${CNNRUN_ONNX_TESTDATA}/pytorch-operator/test_operator_convtranspose)
  # The suite's own tolerances.
  add_test(NAME onnx_suite_conv_transpose
           COMMAND run_model_cases --rtol 1e-3 --atol 1e-7 ${CNNRUN_ONNX_CONV_TRANSPOSE_CASES})
  set_tests_properties(onnx_suite_conv_transpose PROPERTIES LABELS quick
                       PASS_REGULAR_EXPRESSION "\n13 passed, 0 failed\n")
endif()

# Invalid models: each must be rejected with an error naming the fault.
string(CONCAT CNNRUN_CONV_TRANSPOSE_MALFORMED_RE
  "FAIL bad_auto_pad: [^\n]*\\(ConvTranspose, opset 17\\): attribute 'auto_pad' = 'SAME'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID\n"
  "FAIL bad_bias: [^\n]*bias B has shape \\[2\\]; expected \\[3\\] \\(one per output channel\\)\n"
  "FAIL bad_group: [^\n]*3 channels are not divisible by group 2\n"
  "FAIL bad_in_channels: [^\n]*input X \\[1, 3, 4, 4\\] has 3 channels but weights W \\[4, 2, 3, 3\\][^\n]*expect 4\n"
  "FAIL bad_kernel_shape: [^\n]*attribute 'kernel_shape' = \\[3, 2\\] does not match weights W \\[2, 3, 3, 3\\]\n"
  "FAIL bad_negative_output_padding: [^\n]*attribute 'output_padding' value -1 at position 0 is out of range[^\n]*\n"
  "FAIL bad_output_shape_count: [^\n]*attribute 'output_shape' has 3 values, expected 2[^\n]*\n"
  "FAIL bad_pads_exceed_output: [^\n]*pads 3\\+2 exceed the unpadded output size 4 in spatial dim 0\n"
  "FAIL bad_strides_count: [^\n]*attribute 'strides' has 1 values, expected 2\n"
  "FAIL bad_weights_rank: [^\n]*weights W of shape \\[2, 3, 3\\] do not have the rank of input X[^\n]*\n"
  "FAIL bad_zero_stride: [^\n]*attribute 'strides' value 0 at position 0 is out of range[^\n]*\n")
add_test(NAME conv_transpose_malformed
         COMMAND run_model_cases ${CNNRUN_CONV_TRANSPOSE_DIR}/malformed)
set_tests_properties(conv_transpose_malformed PROPERTIES LABELS quick
  FIXTURES_REQUIRED conv_transpose_cases
  PASS_REGULAR_EXPRESSION "${CNNRUN_CONV_TRANSPOSE_MALFORMED_RE}0 passed, 11 failed\n")
