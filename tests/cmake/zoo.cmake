# The model zoo: torchvision networks, RNN and 1-D CNN sequence models and the classic small CNN,
# exported by PyTorch at opsets 11 and 14 with dynamic batch (and time) axes, checked against
# PyTorch's outputs through the cnnrun program and, with shapes changing in one session, through
# the C API. Label "models" (not "quick"): the fixtures take minutes to generate (vgg11 alone is
# 530 MB per opset) and are rebuilt only when tests/fixtures/make_zoo_models.py changes.
set(CNNRUN_ZOO_DIR ${CNNRUN_FIXTURES_DIR}/zoo)

add_test(NAME make_zoo_models
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_zoo_models.py
                 ${CNNRUN_ZOO_DIR})
set_tests_properties(make_zoo_models PROPERTIES FIXTURES_SETUP zoo_models LABELS models
                     TIMEOUT 1800)

cnnrun_py_test(zoo check_zoo.py LABELS models FIXTURES zoo_models)
set_tests_properties(zoo PROPERTIES TIMEOUT 1800)

# The program walks the zoo directory's model subdirectories at run time.
cnnrun_c_test(test_zoo_dynamic SOURCES test_zoo_dynamic.c LABELS models FIXTURES zoo_models
              ARGS ${CNNRUN_ZOO_DIR})
set_tests_properties(test_zoo_dynamic PROPERTIES TIMEOUT 1800)
