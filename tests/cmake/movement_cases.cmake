# Model cases for the data-movement and generator ops (Slice, Split, Expand, Tile, Pad,
# ConstantOfShape, Range, DepthToSpace, SpaceToDepth): generated with NumPy/PyTorch references,
# then run by run_model_cases; plus the same ops' cases of the ONNX backend test suite.
add_test(NAME movement_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_movement_cases.py
                 ${CNNRUN_FIXTURES_DIR}/movement_cases)
set_tests_properties(movement_cases_generate PROPERTIES FIXTURES_SETUP movement_cases LABELS quick)

add_test(NAME movement_cases COMMAND run_model_cases ${CNNRUN_FIXTURES_DIR}/movement_cases)
set_tests_properties(movement_cases PROPERTIES LABELS quick FIXTURES_REQUIRED movement_cases)

# The suite's cases (layout B), with its tolerances. The two Range cases written as a Loop
# (test_range_*_expanded) are left out: the loader refuses subgraphs.
set(CNNRUN_ONNX_TESTDATA /usr/share/libonnx-testdata/data CACHE PATH "Root of the ONNX backend test data")
if(EXISTS ${CNNRUN_ONNX_TESTDATA}/node)
  set(node ${CNNRUN_ONNX_TESTDATA}/node)
  set(CNNRUN_ONNX_MOVEMENT_CASES)
  foreach(c constant_pad constantofshape_float_ones constantofshape_int_shape_zero
            constantofshape_int_zeros depthtospace_crd_mode depthtospace_crd_mode_example
            depthtospace_dcr_mode depthtospace_example edge_pad expand_dim_changed
            expand_dim_unchanged range_float_type_positive_delta range_int32_type_negative_delta
            reflect_pad slice slice_default_axes slice_default_steps slice_end_out_of_bounds slice_neg
            slice_neg_steps slice_negative_axes slice_start_out_of_bounds spacetodepth
            spacetodepth_example split_equal_parts_1d split_equal_parts_2d
            split_equal_parts_default_axis split_variable_parts_1d split_variable_parts_2d
            split_variable_parts_default_axis split_zero_size_splits tile tile_precomputed)
    list(APPEND CNNRUN_ONNX_MOVEMENT_CASES ${node}/test_${c})
  endforeach()
  foreach(c ConstantPad2d GLU GLU_dim ReflectionPad2d ReplicationPad2d ZeroPad2d)
    list(APPEND CNNRUN_ONNX_MOVEMENT_CASES ${CNNRUN_ONNX_TESTDATA}/pytorch-converted/test_${c})
  endforeach()
  foreach(c chunk index pad repeat repeat_dim_overflow)
    list(APPEND CNNRUN_ONNX_MOVEMENT_CASES ${CNNRUN_ONNX_TESTDATA}/pytorch-operator/test_operator_${c})
  endforeach()
  foreach(c 1 2 3 4)
    list(APPEND CNNRUN_ONNX_MOVEMENT_CASES ${CNNRUN_ONNX_TESTDATA}/simple/test_expand_shape_model${c})
  endforeach()
  add_test(NAME onnx_suite_movement
           COMMAND run_model_cases --rtol 1e-3 --atol 1e-7 ${CNNRUN_ONNX_MOVEMENT_CASES})
  set_tests_properties(onnx_suite_movement PROPERTIES LABELS quick
    PASS_REGULAR_EXPRESSION "\n48 passed, 0 failed\n")
else()
  message(STATUS "ONNX backend test data not found in ${CNNRUN_ONNX_TESTDATA}: onnx_suite_movement skipped")
endif()
