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
