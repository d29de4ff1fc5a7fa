# int8 models quantized by ONNX Runtime's quantize_static (QDQ and QOperator, per-tensor and
# per-channel), run by cnnrun and compared with ONNX Runtime's committed outputs: every uint8
# activation within one quantization step. The fixtures are committed (tests/fixtures/quantized/,
# 1.7 MB, no file over 160 kB), made by tests/fixtures/make_quantized_models.py in a venv with
# onnxruntime from PyPI, so CI needs no onnxruntime.
cnnrun_py_test(quantized_models test_quantized.py LABELS quantized)

# tools/cnnquantize.py: post-training static quantization of the bundled digits model, calibrated
# on scikit-learn's digits training split; int8 test-set accuracy within 0.5 points of float32.
cnnrun_py_test(quantize_tool test_quantize_tool.py LABELS quantized)

# The oneDNN int8 kernels (constant weights and parameters, run-time zero points) against NumPy.
cnnrun_py_test(int8_kernels test_int8_kernels.py LABELS "quick;quantized")
