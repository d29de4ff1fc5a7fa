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

# Which kernel runs, seen through oneDNN's verbose log: initializer weights with the default
# cells take the RNN primitives (each cell kind once), and the same models with their weights
# given as inputs, or with clip, never do.
set(d ${CNNRUN_RNN_CASES_DIR})
add_test(NAME rnn_kernel_dnnl
         COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${d}/torch_lstm_l1_op14 ${d}/torch_gru_l1_op14
                 ${d}/onnx_gru_no_lbr_layout1 ${d}/torch_rnn_relu_l1_op14)
set_tests_properties(rnn_kernel_dnnl PROPERTIES LABELS quick FIXTURES_REQUIRED rnn_cases
  ENVIRONMENT "DNNL_VERBOSE=1"
  PASS_REGULAR_EXPRESSION "exec,cpu,rnn,.*alg:vanilla_lstm.*exec,cpu,rnn,.*alg:lbr_gru.*exec,cpu,rnn,.*alg:vanilla_gru.*exec,cpu,rnn,.*alg:vanilla_rnn.*\n4 passed, 0 failed\n")
add_test(NAME rnn_kernel_plain
         COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${d}/torch_lstm_l1_op14_plain ${d}/torch_gru_l1_op14_plain
                 ${d}/torch_rnn_relu_l1_op14_plain ${d}/onnx_lstm_clip ${d}/onnx_gru_seq_lens_forward)
set_tests_properties(rnn_kernel_plain PROPERTIES LABELS quick FIXTURES_REQUIRED rnn_cases
  ENVIRONMENT "DNNL_VERBOSE=1" FAIL_REGULAR_EXPRESSION "exec,cpu,rnn,"
  PASS_REGULAR_EXPRESSION "\n5 passed, 0 failed\n")
