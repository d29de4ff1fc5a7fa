# Model-level tests through the cnnrun program: the loader's hand-built cases (valid and
# malformed), PyTorch exports of a small CNN, and the bundled digits model in models/.

# Fixture generators. The loader script rebuilds its directory in well under a second; the torch
# script skips regeneration when its outputs are newer than the script itself.
add_test(NAME make_loader_models
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_loader_models.py
                 ${CNNRUN_FIXTURES_DIR}/loader)
set_tests_properties(make_loader_models PROPERTIES FIXTURES_SETUP loader_models LABELS quick)

add_test(NAME make_torch_models
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_torch_models.py
                 ${CNNRUN_FIXTURES_DIR}/torch)
set_tests_properties(make_torch_models PROPERTIES FIXTURES_SETUP torch_models LABELS quick)

cnnrun_py_test(models test_models.py LABELS quick FIXTURES "loader_models;torch_models")
