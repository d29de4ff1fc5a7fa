# Runtime unit tests: arena planning.
cnnrun_c_test(test_arena_plan SOURCES test_arena_plan.c LABELS quick)

# Dynamic batch through the C API in one process (PyTorch exports made by make_torch_models).
cnnrun_c_test(test_dynamic_shapes SOURCES test_dynamic_shapes.c LABELS quick FIXTURES torch_models
              ARGS ${CNNRUN_FIXTURES_DIR}/torch/small_cnn_opset11 ${CNNRUN_FIXTURES_DIR}/torch/small_cnn_opset14)

# Shape inference, symbolic dims and parameter counts, through summaries of the bundled model.
cnnrun_c_test(test_summary SOURCES test_summary.c LABELS quick ARGS ${PROJECT_SOURCE_DIR}/models)

# Plans keyed by the values of graph inputs that shape the graph (made by make_loader_models).
cnnrun_c_test(test_value_keyed SOURCES test_value_keyed.c LABELS quick FIXTURES loader_models
              ARGS ${CNNRUN_FIXTURES_DIR}/loader)

# The memory ceiling of cnnrun_session_options, on every plan of a session (bundled digits model).
cnnrun_c_test(test_memory_ceiling SOURCES test_memory_ceiling.c LABELS quick ARGS ${PROJECT_SOURCE_DIR}/models)
