#!/bin/sh
# The thread-safety test (tests/test_threads.c) built with ThreadSanitizer in a second tree
# (gcc; -DCNNRUN_TSAN=ON, library and test instrumented). Only the test's target is built. It
# reads the fixtures of the main tree (the PyTorch small CNN and the zoo's ResNet-18 and LSTM)
# rather than generating them again.
#
# Nothing is suppressed. Each session runs its kernels on one thread (test_threads' default):
# libgomp is not built with TSan, so its barriers are invisible to it, and with several OpenMP
# threads per session every hand-over of data between them would be reported as a race. One
# thread per session keeps OpenMP from starting workers while the application threads — what this
# test is about — share the model. oneDNN (libdnnl) is not instrumented either: its memory is
# checked only where our code reads or writes it. A second run gives each session 2 OpenMP
# threads on the digits model, which also comes out clean today; it stays in as a canary.
# Usage: tsan_threads.sh SOURCE_DIR TREE_DIR FIXTURES_DIR
set -eu
src=$1 tree=$2 fixtures=$3
cmake -S "$src" -B "$tree" -DCNNRUN_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tree" -j2 --target test_threads >/dev/null
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
"$tree/tests/test_threads" \
  "$src/models/digits_cnn.onnx" "$src/models/digits_batch8.npy" \
  "$fixtures/torch/small_cnn_opset14/model.onnx" "$fixtures/torch/small_cnn_opset14/inputs_b8.npz" \
  "$fixtures/zoo/resnet18_opset14/model.onnx" "$fixtures/zoo/resnet18_opset14/inputs_b1.npz" \
  "$fixtures/zoo/lstm_classifier_opset14/model.onnx" \
  "$fixtures/zoo/lstm_classifier_opset14/inputs_b4_t20.npz"
"$tree/tests/test_threads" --session-threads 2 \
  "$src/models/digits_cnn.onnx" "$src/models/digits_batch8.npy"
