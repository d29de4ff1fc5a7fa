# The ONNX backend test suite (Debian's libonnx-testdata): node, pytorch-converted,
# pytorch-operator and simple cases, with the suite's tolerances. Writes
# onnx_conformance.md in the build tree.
set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH "Root of the ONNX backend test data")
add_test(NAME onnx_conformance
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/onnx_conformance.py
                 $<TARGET_FILE:run_model_cases> ${CNNRUN_ONNX_TESTDATA} ${PROJECT_BINARY_DIR}/onnx_conformance.md)
set_tests_properties(onnx_conformance PROPERTIES LABELS conformance TIMEOUT 3600
  ENVIRONMENT "CNNRUN_BIN=$<TARGET_FILE:cnnrun_cli>")
