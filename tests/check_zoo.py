#!/usr/bin/python3
"""Checks cnnrun against PyTorch on the model zoo, through the commands a user would type.

Environment (set by ctest through cnnrun_py_test):
    CNNRUN_BIN       the cnnrun program
    CNNRUN_FIXTURES  the fixture directory; zoo/ is written by tests/fixtures/make_zoo_models.py

For every model directory zoo/<model>_opset<k>/ and every reference pair in it:
    cnnrun model.onnx inputs_<tag>.npz --expect expected_<tag>.npz --rtol 0 --atol A
with A = 1e-4 * max|expected|, i.e. the criterion max|a - b| / max|b| <= 1e-4 over each output.
And once per model, the README's form of the first pair (the .npz members saved as .npy files):
    cnnrun model.onnx x.npy --expect expected.npy --rtol 0 --atol A
and
    cnnrun model.onnx --summary
whose table must name the free dims: "batch", and "time" for the sequence models. The vision
models' opset-14 exports run their first pair once more with --conv winograd, held to the same
tolerance (Winograd rounds differently from direct convolution).
A model cnnrun refuses (exit code 2: an operator or attribute it does not implement yet) is a
failure, reported with cnnrun's message. Prints one line per check and "N passed, M failed";
exits non-zero on any failure. Standard library only (a small .npz reader is included).
"""
import array
import ast
import glob
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

RELATIVE_TOLERANCE = 1e-4
TIMEOUT_SECONDS = 600  # vgg11 is 530 MB, and sanitizer builds are slow

# What the fixture script must have produced; a missing directory fails rather than passes.
OPSETS = (11, 14)
VISION_MODELS = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "densenet121",
                 "googlenet", "shufflenet_v2_x1_0", "efficientnet_b0", "mnasnet1_0", "vgg11",
                 "small_cnn")
SEQUENCE_MODELS = ("lstm_classifier", "gru_tagger", "conv1d_series", "cnn1d_maxpool")
VISION_TAGS = ("b1", "b3", "b8")
SEQUENCE_TAGS = tuple(f"b{b}_t{t}" for t in (7, 20, 50) for b in (1, 4))

NPY_DTYPES = {"<f4": "f", "<f8": "d"}  # the reference dtypes PyTorch models produce


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name, problem):
        if problem is None:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {problem}", flush=True)


def read_npy_max_abs(data, where):
    """max|x| of a little-endian float .npy held in `data` (bytes)."""
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{where}: not a .npy file (magic {data[:6]!r})")
    major = data[6]
    if major == 1:
        (header_len,), start = struct.unpack_from("<H", data, 8), 10
    elif major in (2, 3):
        (header_len,), start = struct.unpack_from("<I", data, 8), 12
    else:
        raise ValueError(f"{where}: .npy format version {major} (expected 1, 2 or 3)")
    header = ast.literal_eval(data[start:start + header_len].decode("latin1"))
    code = NPY_DTYPES.get(header.get("descr"))
    if code is None:
        raise ValueError(f"{where}: dtype {header.get('descr')!r}, "
                         f"expected one of {list(NPY_DTYPES)}")
    count = 1
    for d in header["shape"]:
        count *= d
    values = array.array(code)
    if sys.byteorder != "little":
        raise ValueError("this reader assumes a little-endian host")
    body = data[start + header_len:]
    if len(body) != count * values.itemsize:
        raise ValueError(f"{where}: {len(body)} data bytes for shape {header['shape']}")
    values.frombytes(body)
    return max((abs(v) for v in values), default=0.0)


def npz_max_abs(path):
    """max|x| over every array of an .npz file."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if not names:
            raise ValueError(f"{path}: no arrays")
        return max(read_npy_max_abs(z.read(n), f"{path}:{n}") for n in names)


def run(binary, args, cwd):
    try:
        return subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                              errors="replace", timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return None


def tail(text, lines=8):
    kept = text.strip().splitlines()[-lines:]
    return "\n    ".join(kept) if kept else "(empty)"


def problem_of(proc):
    """Why a run that should have succeeded did not, or None."""
    if proc is None:
        return f"timed out after {TIMEOUT_SECONDS} s"
    if "Sanitizer" in proc.stderr or "runtime error:" in proc.stderr:
        return (f"sanitizer report (exit code {proc.returncode})\n"
                f"    stderr: {tail(proc.stderr, 30)}")
    if proc.returncode == 0:
        return None
    if proc.returncode < 0:
        what = f"killed by signal {-proc.returncode}"
    elif proc.returncode == 1:
        what = "outputs out of tolerance"
    elif proc.returncode == 2:
        what = "refused by cnnrun"
    else:
        what = f"exit code {proc.returncode}"
    return f"{what}\n    stderr: {tail(proc.stderr)}\n    stdout: {tail(proc.stdout)}"


def check_references(results, binary, case, case_dir, tags, extra_args=()):
    model = os.path.join(case_dir, "model.onnx")
    for tag in tags:
        inputs = os.path.join(case_dir, f"inputs_{tag}.npz")
        expected = os.path.join(case_dir, f"expected_{tag}.npz")
        name = " ".join([case, tag, *extra_args])
        absent = [p for p in (model, inputs, expected) if not os.path.exists(p)]
        if absent:
            results.record(name, "fixture files missing: " + ", ".join(absent))
            continue
        try:
            scale = npz_max_abs(expected)
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            results.record(name, f"cannot read the reference: {e}")
            continue
        if scale == 0:
            results.record(name, "the reference is all zeros: it cannot tell right from wrong")
            continue
        atol = f"{RELATIVE_TOLERANCE * scale:.9g}"
        proc = run(binary, ["model.onnx", f"inputs_{tag}.npz", "--expect", f"expected_{tag}.npz",
                            "--rtol", "0", "--atol", atol, *extra_args], case_dir)
        results.record(f"{name} (atol {atol})", problem_of(proc))


def check_readme_form(results, binary, case, case_dir, tag):
    """The README's form: one .npy input and one .npy reference, as numpy.save writes them (the
    members of an .npz are exactly such files)."""
    inputs = os.path.join(case_dir, f"inputs_{tag}.npz")
    expected = os.path.join(case_dir, f"expected_{tag}.npz")
    name = f"{case} {tag} as x.npy / expected.npy"
    try:
        with zipfile.ZipFile(inputs) as zi, zipfile.ZipFile(expected) as ze:
            if len(zi.namelist()) != 1 or len(ze.namelist()) != 1:
                results.record(name, "needs exactly one input and one output")
                return
            x, y = zi.read(zi.namelist()[0]), ze.read(ze.namelist()[0])
        scale = read_npy_max_abs(y, expected)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        results.record(name, f"cannot read the fixtures: {e}")
        return
    with tempfile.TemporaryDirectory(prefix="cnnrun_zoo_") as scratch:
        for file, data in (("x.npy", x), ("expected.npy", y)):
            with open(os.path.join(scratch, file), "wb") as f:
                f.write(data)
        atol = f"{RELATIVE_TOLERANCE * scale:.9g}"
        proc = run(binary, [os.path.join(case_dir, "model.onnx"), "x.npy", "--expect",
                            "expected.npy", "--rtol", "0", "--atol", atol], scratch)
    results.record(f"{name} (atol {atol})", problem_of(proc))


def shows_dim(table, name):
    """Whether some shape in the table, "[..., name, ...]", has a dim that names `name` (alone or
    in an expression such as 2*batch)."""
    dim = r"[\[,]\s*[^\[\],]*\b" + re.escape(name) + r"\b[^\[\],]*[,\]]"
    return re.search(dim, table) is not None


def check_summary(results, binary, case, case_dir, dim_names):
    name = f"{case} --summary names {', '.join(dim_names)}"
    if not os.path.exists(os.path.join(case_dir, "model.onnx")):
        results.record(name, "model.onnx missing")
        return
    proc = run(binary, ["model.onnx", "--summary"], case_dir)
    problem = problem_of(proc)
    if problem is None:
        absent = [d for d in dim_names if not shows_dim(proc.stdout, d)]
        if absent:
            problem = f"the summary does not show {absent}:\n    {tail(proc.stdout, 20)}"
    results.record(name, problem)


def main():
    binary = os.environ.get("CNNRUN_BIN")
    fixtures = os.environ.get("CNNRUN_FIXTURES")
    if not binary or not fixtures:
        print("set CNNRUN_BIN (the cnnrun program) and CNNRUN_FIXTURES (the fixture directory)",
              file=sys.stderr)
        return 2
    if not os.access(binary, os.X_OK):
        print(f"CNNRUN_BIN={binary} is not an executable program", file=sys.stderr)
        return 2
    root = os.path.join(fixtures, "zoo")
    expected_cases = [f"{m}_opset{k}" for m in VISION_MODELS + SEQUENCE_MODELS for k in OPSETS]
    found = sorted(os.path.basename(os.path.dirname(p))
                   for p in glob.glob(os.path.join(root, "*", "model.onnx")))
    results = Results()
    for case in expected_cases + [c for c in found if c not in expected_cases]:
        case_dir = os.path.join(root, case)
        if not os.path.isdir(case_dir):
            results.record(case, f"{case_dir} missing (run tests/fixtures/make_zoo_models.py)")
            continue
        sequence = any(case.startswith(m + "_opset") for m in SEQUENCE_MODELS)
        if case in expected_cases:
            tags = SEQUENCE_TAGS if sequence else VISION_TAGS
        else:
            tags = sorted(os.path.basename(p)[len("inputs_"):-len(".npz")]
                          for p in glob.glob(os.path.join(case_dir, "inputs_*.npz")))
        check_references(results, binary, case, case_dir, tags)
        if not sequence and case.endswith("_opset14"):
            check_references(results, binary, case, case_dir, tags[:1], ("--conv", "winograd"))
        if os.path.exists(os.path.join(case_dir, f"inputs_{tags[0]}.npz")):
            check_readme_form(results, binary, case, case_dir, tags[0])
        check_summary(results, binary, case, case_dir, ["batch", "time"] if sequence else ["batch"])
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
