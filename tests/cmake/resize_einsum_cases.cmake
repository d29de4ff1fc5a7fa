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
