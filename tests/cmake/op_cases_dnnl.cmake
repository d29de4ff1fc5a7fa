# Model cases for the oneDNN-backed operator families (Conv, MaxPool, AveragePool, global pools,
# Gemm, MatMul): single-node models over many attribute combinations, with references from
# torch.nn.functional and NumPy, run by run_model_cases through the public API; plus the same
# ops' cases of the ONNX backend test suite (Debian's libonnx-testdata). MaxPool's Indices and its
# non-float32 dtypes run on the plain kernel (ops/pool_plain.c) and are checked here too.
set(CNNRUN_OP_CASES_DNNL_DIR ${CNNRUN_FIXTURES_DIR}/op_cases_dnnl)

add_test(NAME op_cases_dnnl_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_op_cases_dnnl.py
                 ${CNNRUN_OP_CASES_DNNL_DIR})
set_tests_properties(op_cases_dnnl_generate PROPERTIES FIXTURES_SETUP op_cases_dnnl LABELS quick)

# The runner itself (also used by other areas' case tests). Its own test checks that it can fail:
# a case whose expected output is off by 0.25 in one element must be reported with the element's
# index, and a case with the right reference must pass.
cnnrun_c_test(run_model_cases SOURCES run_model_cases.c LABELS quick FIXTURES op_cases_dnnl
              ARGS ${CNNRUN_OP_CASES_DNNL_DIR}/runner_check)
set_tests_properties(run_model_cases PROPERTIES PASS_REGULAR_EXPRESSION
  "FAIL off_by_quarter: output 'y' max abs err 0\\.25 \\(got -?[0-9]+, expected -?[0-9]+\\.(25|75)\\) at index \\[1, 2\\]. 1 of 8 elements.*PASS right\n1 passed, 1 failed")

add_test(NAME op_cases_dnnl COMMAND run_model_cases ${CNNRUN_OP_CASES_DNNL_DIR}/cases)
set_tests_properties(op_cases_dnnl PROPERTIES LABELS quick FIXTURES_REQUIRED op_cases_dnnl)

# Valid models the ops refuse: each must be reported as unsupported with a message that says why.
string(CONCAT CNNRUN_DNNL_REFUSALS_RE
  "UNSUPPORTED avgpool_float64: node 'avgpool_float64' \\(AveragePool, opset 13\\): input 0 has dtype float64. supported: float32\n"
  "UNSUPPORTED conv_float64: node 'conv_float64' \\(Conv, opset 13\\): input 0 has dtype float64. supported: float32\n"
  "UNSUPPORTED conv_rank6: [^\n]*input X has shape \\[1, 1, 3, 3, 3, 3\\]. supported are 1-D, 2-D and 3-D[^\n]*\n"
  "UNSUPPORTED gemm_float64: [^\n]*\\(Gemm, opset 13\\): input 0 has dtype float64. supported: float32\n"
  "UNSUPPORTED maxpool_ceil_opset8: [^\n]*attribute 'ceil_mode' is not supported: ceil_mode only exists from opset 10\n")
add_test(NAME op_refusals_dnnl
         COMMAND run_model_cases --unsupported-ok ${CNNRUN_OP_CASES_DNNL_DIR}/refusals)
set_tests_properties(op_refusals_dnnl PROPERTIES LABELS quick FIXTURES_REQUIRED op_cases_dnnl
  PASS_REGULAR_EXPRESSION "${CNNRUN_DNNL_REFUSALS_RE}0 passed, 0 failed, 5 unsupported\n")
# Without --unsupported-ok the same cases are failures.
add_test(NAME run_model_cases_unsupported_fails
         COMMAND run_model_cases ${CNNRUN_OP_CASES_DNNL_DIR}/refusals)
set_tests_properties(run_model_cases_unsupported_fails PROPERTIES LABELS quick
  FIXTURES_REQUIRED op_cases_dnnl PASS_REGULAR_EXPRESSION "\n0 passed, 5 failed, 5 unsupported\n")

# Models inconsistent with their inputs: each fails at planning with a message naming the mismatch.
string(CONCAT CNNRUN_DNNL_INVALID_RE
  "FAIL conv_group_mismatch: [^\n]*input X \\[1, 2, 6, 6\\] has 2 channels. weights W \\[4, 2, 3, 3\\] with group 2 need group x W's dim 1 = 2 x 2\n"
  "FAIL conv_kernel_too_big: [^\n]*the window \\(extent 7\\) is larger than the padded input in spatial dim 0[^\n]*\n"
  "FAIL conv_pads_count: [^\n]*attribute 'pads' has 2 values, expected 4\n"
  "FAIL gemm_inner_mismatch: [^\n]*A \\[3, 5\\] \\(transA=0\\) and B \\[4, 2\\] \\(transB=0\\) disagree on the inner dimension: 5 vs 4\n"
  "FAIL matmul_batch_mismatch: [^\n]*the batch dims of A \\[3, 2, 5\\] and B \\[2, 5, 2\\] cannot be broadcast together\n"
  "FAIL maxpool_indices_opset7: [^\n]*\\(MaxPool, opset 7\\): the second output \\(Indices\\) only exists from opset 8\n"
  "FAIL maxpool_int8_opset11: [^\n]*input 0 has dtype int8. MaxPool takes int8 and uint8 only from opset 12\n"
  "FAIL maxpool_pads_not_below_kernel: [^\n]*pads 2 and 0 of spatial dim 0 must be smaller than the kernel size 2\n"
  "FAIL maxpool_window_in_padding: [^\n]*window 0 of spatial dim 0 lies wholly in the padding \\(kernel 2, dilation 4, pads 1 and 1, input size 3\\)[^\n]*\n"
  "0 passed, 9 failed\n")
add_test(NAME op_invalid_dnnl COMMAND run_model_cases ${CNNRUN_OP_CASES_DNNL_DIR}/invalid)
set_tests_properties(op_invalid_dnnl PROPERTIES LABELS quick FIXTURES_REQUIRED op_cases_dnnl
  PASS_REGULAR_EXPRESSION "${CNNRUN_DNNL_INVALID_RE}")

# The ONNX backend test suite (layout B: test_data_set_N/*.pb) for these ops.
set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH
    "The ONNX backend test suite's data (Debian package libonnx-testdata)")
if(EXISTS ${CNNRUN_ONNX_TESTDATA}/node)
  set(node ${CNNRUN_ONNX_TESTDATA}/node)
  set(converted ${CNNRUN_ONNX_TESTDATA}/pytorch-converted)
  set(operator ${CNNRUN_ONNX_TESTDATA}/pytorch-operator)
  set(CNNRUN_ONNX_DNNL_CASES)
  foreach(c averagepool_1d_default averagepool_2d_ceil averagepool_2d_default averagepool_2d_pads
            averagepool_2d_pads_count_include_pad averagepool_2d_precomputed_pads
            averagepool_2d_precomputed_pads_count_include_pad averagepool_2d_precomputed_same_upper
            averagepool_2d_precomputed_strides averagepool_2d_same_lower averagepool_2d_same_upper
            averagepool_2d_strides averagepool_3d_default
            basic_conv_with_padding basic_conv_without_padding conv_with_autopad_same
            conv_with_strides_and_asymmetric_padding conv_with_strides_no_padding
            conv_with_strides_padding
            gemm_all_attributes gemm_alpha gemm_beta gemm_default_matrix_bias gemm_default_no_bias
            gemm_default_scalar_bias gemm_default_single_elem_vector_bias gemm_default_vector_bias
            gemm_default_zero_bias gemm_transposeA gemm_transposeB
            globalaveragepool globalaveragepool_precomputed globalmaxpool globalmaxpool_precomputed
            matmul_2d matmul_3d matmul_4d
            maxpool_1d_default maxpool_2d_ceil maxpool_2d_default maxpool_2d_dilations maxpool_2d_pads
            maxpool_2d_precomputed_pads maxpool_2d_precomputed_same_upper
            maxpool_2d_precomputed_strides maxpool_2d_same_lower maxpool_2d_same_upper
            maxpool_2d_strides maxpool_2d_uint8 maxpool_3d_default
            maxpool_with_argmax_2d_precomputed_pads maxpool_with_argmax_2d_precomputed_strides)
    list(APPEND CNNRUN_ONNX_DNNL_CASES ${node}/test_${c})
  endforeach()
  foreach(c AvgPool1d AvgPool1d_stride AvgPool2d AvgPool2d_stride AvgPool3d AvgPool3d_stride
            AvgPool3d_stride1_pad0_gpu_input Conv1d Conv1d_dilated Conv1d_groups Conv1d_pad1
            Conv1d_pad1size1 Conv1d_pad2 Conv1d_pad2size1 Conv1d_stride Conv2d Conv2d_depthwise
            Conv2d_depthwise_padded Conv2d_depthwise_strided Conv2d_depthwise_with_multiplier
            Conv2d_dilated Conv2d_groups Conv2d_groups_thnn Conv2d_no_bias Conv2d_padding
            Conv2d_strided Conv3d Conv3d_dilated Conv3d_dilated_strided Conv3d_groups Conv3d_no_bias
            Conv3d_stride Conv3d_stride_padding Linear Linear_no_bias MaxPool1d MaxPool1d_stride
            MaxPool1d_stride_padding_dilation MaxPool2d MaxPool2d_stride_padding_dilation MaxPool3d
            MaxPool3d_stride MaxPool3d_stride_padding)
    list(APPEND CNNRUN_ONNX_DNNL_CASES ${converted}/test_${c})
  endforeach()
  foreach(c conv maxpool mm addmm)
    list(APPEND CNNRUN_ONNX_DNNL_CASES ${operator}/test_operator_${c})
  endforeach()
  add_test(NAME onnx_suite_dnnl COMMAND run_model_cases ${CNNRUN_ONNX_DNNL_CASES})
  set_tests_properties(onnx_suite_dnnl PROPERTIES LABELS quick)
else()
  message(STATUS "ONNX backend test data not found in ${CNNRUN_ONNX_TESTDATA}: onnx_suite_dnnl tests skipped")
endif()
