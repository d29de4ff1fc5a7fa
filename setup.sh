#!/usr/bin/env bash
# Installs what cnnrun needs to build and test, from Debian's packages. Safe to run again:
# nothing is installed when every package is already present.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler   # ONNX protobuf reading (code generated at build time)
  libonnx-dev                             # onnx.proto, the schema the loader is generated from
  libdnnl-dev                             # oneDNN 2.x: convolution, pooling, matmul kernels
  zlib1g-dev                              # deflated .npz members
  # tests: reference outputs from PyTorch and NumPy, test models built with onnx.helper
  python3 python3-numpy python3-onnx python3-torch python3-sklearn
  python3-torchvision                     # the model zoo tests (tests/fixtures/make_zoo_models.py)
  libonnx-testdata                        # the ONNX backend test suite (conformance test)
  # hardening (tests/cmake/hardening.cmake): libFuzzer + ASan/UBSan and TSan come with clang's
  # runtime libraries; libomp is the OpenMP clang links; valgrind runs the memcheck test
  clang libclang-rt-14-dev libomp-14-dev valgrind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed"
else
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# PyPI packages (Ray, pyarrow, onnxruntime) for the Python binding's tests, in a venv of their own.
"$(dirname "$0")/python/setup_venv.sh"
