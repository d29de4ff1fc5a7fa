#!/usr/bin/python3
"""The Python package on the model zoo, against the cnnrun program and PyTorch.

For each model below (opset 14, from tests/fixtures/make_zoo_models.py) and each of its reference
pairs inputs_<tag>.npz / expected_<tag>.npz, at 1 and 2 threads:
  - session.run(inputs) must equal, bit for bit, what `cnnrun model.onnx inputs_<tag>.npz
    --threads N -o DIR/` saves (same library, same thread count, same arithmetic);
  - and be within max|a-b| / max|b| <= 1e-4 of PyTorch's output (the zoo tests' criterion).
All pairs run in one session per thread count, so the batch (and time) size changes between runs.
Environment (set by ctest): CNNRUN_BIN, CNNRUN_FIXTURES, CNNRUN_LIBRARY, PYTHONPATH = python/.
Debian's python3 with NumPy.
"""
import glob
import os
import subprocess
import tempfile

import numpy as np

import cnnrun
from checks import check, finish

BIN = os.environ["CNNRUN_BIN"]
ZOO = os.path.join(os.environ["CNNRUN_FIXTURES"], "zoo")
# The two networks of the Ray benchmark, the classic small CNN and the three sequence families.
MODELS = ("resnet18", "mobilenet_v2", "small_cnn", "lstm_classifier", "gru_tagger", "conv1d_series")
RELATIVE_TOLERANCE = 1e-4



def program_outputs(model_path, inputs_path, threads, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([BIN, model_path, inputs_path, "--threads", str(threads), "-o", tmp + "/",
                            *extra],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("cnnrun %s %s: %s" % (model_path, inputs_path, r.stderr.strip()))
        return {f[:-4]: np.load(os.path.join(tmp, f)) for f in os.listdir(tmp)}


def main():
    for name in MODELS:
        directory = os.path.join(ZOO, name + "_opset14")
        model_path = os.path.join(directory, "model.onnx")
        pairs = sorted(glob.glob(os.path.join(directory, "inputs_*.npz")))
        if not pairs:
            check(name + ": fixtures present", False, "no inputs_*.npz in " + directory)
            continue
        model = cnnrun.Model(model_path)
        for threads in (1, 2):
            session = model.session(threads=threads)
            for inputs_path in pairs:
                tag = os.path.basename(inputs_path)[len("inputs_"):-len(".npz")]
                with np.load(inputs_path) as z:
                    inputs = {k: z[k] for k in z.files}
                with np.load(os.path.join(directory, "expected_%s.npz" % tag)) as z:
                    expected = {k: z[k] for k in z.files}
                ours = session.run_dict(inputs)
                theirs = program_outputs(model_path, inputs_path, threads)
                label = "%s %s threads=%d" % (name, tag, threads)
                same = sorted(ours) == sorted(theirs) and all(
                    ours[k].dtype == theirs[k].dtype and np.array_equal(ours[k], theirs[k]) for k in ours)
                check("bit-identical to the program: " + label, same,
                      {k: float(np.abs(ours[k] - theirs[k]).max()) for k in ours if k in theirs})
                errors = {k: float(np.abs(ours[k] - e).max() / np.abs(e).max()) for k, e in expected.items()}
                check("PyTorch within 1e-4 relative: " + label,
                      set(expected) <= set(ours) and max(errors.values()) <= RELATIVE_TOLERANCE, errors)
    # Winograd convolutions (cnnrun_session_options.conv_algorithm) as in `cnnrun --conv winograd`.
    directory = os.path.join(ZOO, "resnet18_opset14")
    model_path = os.path.join(directory, "model.onnx")
    inputs_path = os.path.join(directory, "inputs_b1.npz")
    if os.path.isfile(inputs_path):
        with np.load(inputs_path) as z:
            inputs = {k: z[k] for k in z.files}
        ours = cnnrun.Model(model_path).session(threads=1, conv_algorithm="winograd").run_dict(inputs)
        theirs = program_outputs(model_path, inputs_path, 1, ("--conv", "winograd"))
        check("winograd: bit-identical to the program (resnet18 b1)", sorted(ours) == sorted(theirs)
              and all(np.array_equal(ours[k], theirs[k]) for k in ours))
    finish()


if __name__ == "__main__":
    main()
