# Array file I/O: .npy / .npz / TensorProto reading and .npy writing.
# numpy and onnx write the files (fixture "array_files"); test_arrays reads them, checks every value
# against the manifest and writes .npy files (fixture "arrays_written"), which numpy then checks.
set(CNNRUN_ARRAY_FILES_DIR ${CNNRUN_FIXTURES_DIR}/arrays)

add_test(NAME make_array_files
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_array_files.py
                 ${CNNRUN_ARRAY_FILES_DIR})
set_tests_properties(make_array_files PROPERTIES LABELS quick FIXTURES_SETUP array_files)

cnnrun_c_test(test_arrays SOURCES test_arrays.c LABELS quick FIXTURES array_files
              ARGS ${CNNRUN_ARRAY_FILES_DIR})
set_tests_properties(test_arrays PROPERTIES FIXTURES_SETUP arrays_written)

cnnrun_py_test(check_npy_written check_npy_written.py LABELS quick FIXTURES arrays_written
               ARGS ${CNNRUN_ARRAY_FILES_DIR})
