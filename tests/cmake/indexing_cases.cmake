# Edge cases of the indexing, ranking and scan operators (TopK ties and k = 0, duplicate indices
# under Scatter reductions, empty tensors, negative axes, CumSum reverse/exclusive, OneHot out of
# range, Trilu, GatherND batch_dims, Mod, Round) with NumPy references, and models whose indices
# are out of range, which must fail cleanly with exit status 2.
add_test(NAME indexing_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_indexing_cases.py
                 ${CNNRUN_FIXTURES_DIR}/indexing_cases)
set_tests_properties(indexing_cases_generate PROPERTIES FIXTURES_SETUP indexing_cases LABELS quick)

add_test(NAME indexing_cases COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/indexing_cases/valid)
set_tests_properties(indexing_cases PROPERTIES LABELS quick FIXTURES_REQUIRED indexing_cases)

cnnrun_py_test(indexing_bad_index check_expected_errors.py ARGS indexing_cases/bad_index LABELS quick
               FIXTURES indexing_cases)
