# Model cases for LSTM, GRU and RNN: PyTorch exports (weights as initializers: the oneDNN kernel,
# and twins with the weights as graph inputs: the plain-C kernel) against PyTorch's outputs, and
# onnx.helper-built nodes (layout 1, reverse, peepholes, sequence_lens, clip, input_forget, every
# optional activation) against a NumPy implementation of the ONNX spec.
set(CNNRUN_RNN_CASES_DIR ${CNNRUN_FIXTURES_DIR}/rnn_cases)

add_test(NAME rnn_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_rnn_cases.py ${CNNRUN_RNN_CASES_DIR})
set_tests_properties(rnn_cases_generate PROPERTIES FIXTURES_SETUP rnn_cases LABELS quick)

add_test(NAME rnn_cases COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${CNNRUN_RNN_CASES_DIR})
set_tests_properties(rnn_cases PROPERTIES LABELS quick FIXTURES_REQUIRED rnn_cases)

# A dtype these ops do not have is refused as unsupported, naming the node, op, opset and dtype.
add_test(NAME rnn_refusals COMMAND run_model_cases --unsupported-ok ${CNNRUN_RNN_CASES_DIR}/refusals)
set_tests_properties(rnn_refusals PROPERTIES LABELS quick FIXTURES_REQUIRED rnn_cases
  PASS_REGULAR_EXPRESSION "UNSUPPORTED lstm_float64: node 'lstm_float64' \\(LSTM, opset 14\\): input 0 has dtype float64. supported: float32\n0 passed, 0 failed, 1 unsupported\n")
