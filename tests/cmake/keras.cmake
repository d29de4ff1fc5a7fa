# Keras models (.keras, .h5 from Keras 3 and tf_keras) run by the cnnrun program against Keras's
# own predictions, committed by tests/fixtures/keras/make_keras_models.py; broken Keras files; the
# weight-layout conversions of the public API against hand-computed values.
cnnrun_py_test(keras_models test_keras_models.py LABELS "quick;keras")
cnnrun_c_test(test_weight_layout SOURCES test_weight_layout.c LABELS "quick;keras")
