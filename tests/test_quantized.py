#!/usr/bin/python3
"""int8 models quantized by ONNX Runtime's quantize_static, run by cnnrun, compared with ONNX Runtime.

Environment (set by ctest through cnnrun_py_test): CNNRUN_BIN (the cnnrun program), CNNRUN_SOURCE
(the repository root; the fixtures are tests/fixtures/quantized/, made by
tests/fixtures/make_quantized_models.py in a venv with onnxruntime, and committed).

Per model (digits, rescnn) and variant (QDQ / QOperator, per-tensor / per-channel, uint8 weights;
for rescnn also quantize_dynamic's DynamicQuantizeLinear + MatMulInteger / ConvInteger):
  - probe: every uint8 activation (each is a graph output of the fixture) within one
    quantization step of ONNX Runtime's (|a - b| <= 1), and every float output within one step of
    the quantization it was dequantized from (the scale of the DequantizeLinear producing it);
    a float output computed after the last dequantization (the QOperator digits model's float
    Gemm/Softmax head) within 1e-4, since its int8 inputs were already checked;
  - the full test inputs: the same bound on the float outputs; for digits, the int8 test-set
    accuracy, printed next to the float model's, and the predicted classes agree with ONNX
    Runtime's on at least 99.5% of the 450 images;
  - the QDQ models run their convolutions as fused int8 kernels: `cnnrun --profile` shows every
    Conv as a QLinearConv step with QuantizeLinear fused in, on a oneDNN implementation (not the
    plain C reference kernel).
Prints one line per check and "N passed, M failed"; exits non-zero on any failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

MODELS = ["digits", "rescnn"]
STATIC_VARIANTS = ["qdq_tensor", "qdq_channel", "qop_tensor", "qop_channel", "qop_u8w"]
VARIANTS = {"digits": STATIC_VARIANTS, "rescnn": STATIC_VARIANTS + ["dyn_matmul", "dyn_conv_u8w"]}
FLOAT_HEAD_ATOL = 1e-4
MIN_AGREEMENT = 0.995


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def record(self, name, problem):
        if problem is None:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {problem}", flush=True)


def run(args):
    proc = subprocess.run([os.environ["CNNRUN_BIN"], *args], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"cnnrun {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def outputs_of(model_path, inputs, tmp):
    outdir = os.path.join(tmp, "out") + "/"
    run([model_path, inputs, "-o", outdir])
    return {f[:-4]: np.load(os.path.join(outdir, f)) for f in os.listdir(outdir)}


def float_tolerances(model):
    """Per float graph output: the scale of the DequantizeLinear producing it, else FLOAT_HEAD_ATOL."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    tol = {}
    for out in model.graph.output:
        n = producer.get(out.name)
        if n is not None and n.op_type == "DequantizeLinear" and n.input[1] in inits:
            tol[out.name] = float(np.max(inits[n.input[1]]))
        else:
            tol[out.name] = FLOAT_HEAD_ATOL
    return tol


def file_name(output):
    """The file name cnnrun -o DIR/ gives an output: characters outside [A-Za-z0-9._-] become '_'."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "_-" or (c == "." and i > 0)) else "_"
                   for i, c in enumerate(output))
    return name or "_"


def compare(got, expected, tolerances):
    """None when every expected output is within its bound, else the worst problem."""
    for name, ref in expected.items():
        if file_name(name) not in got:
            return f"output {name} missing"
        a = got[file_name(name)]
        if a.shape != ref.shape or a.dtype != ref.dtype:
            return f"{name}: {a.dtype}{list(a.shape)} vs ONNX Runtime's {ref.dtype}{list(ref.shape)}"
        if ref.dtype in (np.uint8, np.int8):
            err = int(np.max(np.abs(a.astype(np.int32) - ref.astype(np.int32)))) if ref.size else 0
            if err > 1:
                return f"{name}: max |a - b| = {err} quantization steps (bound 1)"
        else:
            err = float(np.max(np.abs(a - ref))) if ref.size else 0.0
            if not err <= tolerances[name]:
                return f"{name}: max |a - b| = {err:.3g} > {tolerances[name]:.3g}"
    return None


def check_fused_profile(path, inputs, results, name):
    out = run(["--profile", "--bench", "1", path, inputs])
    rows = [line for line in out.splitlines() if line.split()[1:2] and line.split()[1].startswith(("Conv", "QLinearConv"))]
    model = onnx.load(path)
    n_conv = sum(1 for n in model.graph.node if n.op_type == "Conv")
    fused = [r for r in rows if "QLinearConv" in r.split()[1] and "QuantizeLinear" in r.split()[1]
             and "reference" not in r]
    problem = None
    if any(r.split()[1] == "Conv" for r in rows):
        problem = "a Conv ran in float32: " + next(r for r in rows if r.split()[1] == "Conv")
    elif len(rows) != n_conv:
        problem = f"{len(rows)} convolution steps for {n_conv} Conv nodes"
    elif len(fused) != n_conv:
        problem = "not every convolution is a fused oneDNN int8 step:\n" + "\n".join(rows)
    results.record(f"{name}: every Conv fused into an int8 QLinearConv step", problem)


def main():
    src = os.environ["CNNRUN_SOURCE"]
    fixtures = os.path.join(src, "tests", "fixtures", "quantized")
    results = Results()
    for mname in MODELS:
        inputs = os.path.join(fixtures, f"inputs_{mname}.npz")
        probe_inputs = os.path.join(fixtures, f"probe_inputs_{mname}.npz")
        for vname in VARIANTS[mname]:
            name = f"{mname}_{vname}"
            path = os.path.join(fixtures, name + ".onnx")
            tol = float_tolerances(onnx.load(path))
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    probe = dict(np.load(os.path.join(fixtures, f"probe_{name}.npz")))
                    results.record(f"{name}: every int8 activation and output vs ONNX Runtime (probe)",
                                   compare(outputs_of(path, probe_inputs, tmp), probe, tol))
                except RuntimeError as e:
                    results.record(f"{name}: probe", str(e))
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    expected = dict(np.load(os.path.join(fixtures, f"expected_{name}.npz")))
                    got = outputs_of(path, inputs, tmp)
                    results.record(f"{name}: outputs on the test inputs vs ONNX Runtime",
                                   compare(got, expected, tol))
                except RuntimeError as e:
                    results.record(f"{name}: test inputs", str(e))
                    continue
            if mname == "digits":
                labels = np.load(os.path.join(fixtures, "labels_digits.npy"))
                ref_float = np.load(os.path.join(fixtures, "expected_digits_float.npz"))["probabilities"]
                ours = got[file_name("probabilities")].argmax(1)
                theirs = expected["probabilities"].argmax(1)
                agree = float(np.mean(ours == theirs))
                print(f"  {name}: test accuracy int8 {np.mean(ours == labels) * 100:.2f}% "
                      f"(ONNX Runtime int8 {np.mean(theirs == labels) * 100:.2f}%, float32 "
                      f"{np.mean(ref_float.argmax(1) == labels) * 100:.2f}%), classes agree with ONNX Runtime "
                      f"on {agree * 100:.2f}%")
                results.record(f"{name}: predicted classes agree with ONNX Runtime",
                               None if agree >= MIN_AGREEMENT else f"only {agree * 100:.2f}%")
            if vname.startswith("qdq"):
                try:
                    check_fused_profile(path, probe_inputs, results, name)
                except RuntimeError as e:
                    results.record(f"{name}: profile", str(e))
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
