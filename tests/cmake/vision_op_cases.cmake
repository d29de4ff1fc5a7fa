# GridSample (all 18 mode x padding x align_corners combinations), NonMaxSuppression and
# RoiAlign against PyTorch/torchvision, and per-channel int8 QuantizeLinear/DequantizeLinear
# against NumPy (fixtures/make_vision_op_cases.py), with the model-test tolerances.
add_test(NAME vision_op_cases_generate
         COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make_vision_op_cases.py
                 ${CNNRUN_FIXTURES_DIR}/vision_op_cases)
set_tests_properties(vision_op_cases_generate PROPERTIES FIXTURES_SETUP vision_op_cases LABELS quick)

add_test(NAME vision_op_cases COMMAND run_model_cases --rtol 1e-4 --atol 1e-5 ${CNNRUN_FIXTURES_DIR}/vision_op_cases)
set_tests_properties(vision_op_cases PROPERTIES LABELS quick FIXTURES_REQUIRED vision_op_cases)
