# Thread safety: one model shared by 4 threads, each with its own session, outputs bit for bit
# equal to a single-threaded run. The bundled digits model and PyTorch's small CNN in the quick
# loop; a ResNet-18 and the LSTM classifier of the zoo with the other zoo tests. Each session runs
# its kernels on 1 thread (the ThreadSanitizer build in hardening.cmake needs that, and the same
# arguments keep the two builds comparable); a second run of the digits model gives each session
# 2 kernel threads, so OpenMP teams of different application threads overlap too.
find_package(Threads REQUIRED)
cnnrun_c_test(test_threads SOURCES test_threads.c LABELS quick FIXTURES torch_models
              ARGS ${PROJECT_SOURCE_DIR}/models/digits_cnn.onnx ${PROJECT_SOURCE_DIR}/models/digits_batch8.npy
                   ${CNNRUN_FIXTURES_DIR}/torch/small_cnn_opset14/model.onnx
                   ${CNNRUN_FIXTURES_DIR}/torch/small_cnn_opset14/inputs_b8.npz)
target_link_libraries(test_threads PRIVATE Threads::Threads)
add_test(NAME test_threads_omp
         COMMAND test_threads --session-threads 2 ${PROJECT_SOURCE_DIR}/models/digits_cnn.onnx
                 ${PROJECT_SOURCE_DIR}/models/digits_batch8.npy)
set_tests_properties(test_threads_omp PROPERTIES LABELS quick)

set(CNNRUN_THREADS_ZOO_ARGS
    ${CNNRUN_FIXTURES_DIR}/zoo/resnet18_opset14/model.onnx ${CNNRUN_FIXTURES_DIR}/zoo/resnet18_opset14/inputs_b1.npz
    ${CNNRUN_FIXTURES_DIR}/zoo/lstm_classifier_opset14/model.onnx
    ${CNNRUN_FIXTURES_DIR}/zoo/lstm_classifier_opset14/inputs_b4_t20.npz)
add_test(NAME test_threads_zoo COMMAND test_threads ${CNNRUN_THREADS_ZOO_ARGS})
set_tests_properties(test_threads_zoo PROPERTIES LABELS models FIXTURES_REQUIRED zoo_models)
