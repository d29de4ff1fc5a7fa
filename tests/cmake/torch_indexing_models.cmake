# PyTorch exports (opsets 14, 16, 17) that use the indexing, ranking and math operators: a causal
# attention step (Trilu, GatherElements, TopK, CumSum), scatter_add (ScatterElements), the
# trigonometric functions, round, fmod/remainder (Mod), isinf/isnan, grid_sample and one_hot,
# compared with PyTorch's outputs (fixtures/make_torch_indexing_models.py).
add_test(NAME torch_indexing_models_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_torch_indexing_models.py
                 ${CNNRUN_FIXTURES_DIR}/torch_indexing_models)
set_tests_properties(torch_indexing_models_generate PROPERTIES FIXTURES_SETUP torch_indexing_models LABELS quick)

add_test(NAME torch_indexing_models
         COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${CNNRUN_FIXTURES_DIR}/torch_indexing_models)
set_tests_properties(torch_indexing_models PROPERTIES LABELS quick FIXTURES_REQUIRED torch_indexing_models)
