#!/usr/bin/python3
"""Runs the cnnrun program on model files and compares its outputs with independent references.

Environment (set by ctest through cnnrun_py_test):
    CNNRUN_BIN       the cnnrun program
    CNNRUN_FIXTURES  the fixture directory: loader/ from tests/fixtures/make_loader_models.py,
                     torch/ from tests/fixtures/make_torch_models.py
    CNNRUN_SOURCE    the repository root (for the bundled model in models/)

Checks:
  - every valid loader case and both PyTorch exports (batch 1 and 8) match their references
    (cnnrun --expect, exit code 0);
  - every malformed or unsupported model is refused cleanly: exit code 2 and an error on stderr
    that contains the fragment in its .expect file; a signal, an exit code of 128 or more, or a
    sanitizer report counts as a crash;
  - the bundled digits model matches PyTorch on its samples;
  - --expect really fails (exit code 1) when a reference is off by 1e-3.
Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
Standard library only.
"""
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ATOL, RTOL = "1e-5", "1e-4"
TIMEOUT_SECONDS = 300  # generous: sanitizer builds are slow

# The cases the fixture scripts must have produced; a missing one fails instead of passing silently.
LOADER_CASES = [
    "init_raw", "init_typed_float", "init_typed_double", "init_typed_int32", "init_typed_int64",
    "init_typed_int8", "init_typed_uint8", "init_typed_bool", "external_data", "constant_nodes",
    "input_is_initializer", "shape_chain",
]
BAD_CASES = [
    "unknown_op", "custom_domain", "subgraph_if", "sparse_initializer", "cycle", "dangling_input",
    "raw_size_mismatch", "huge_dims", "no_default_opset", "empty", "truncated", "random_bytes",
]
TORCH_CASES = ["small_cnn_opset11", "small_cnn_opset14"]
TORCH_BATCHES = [1, 8]


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


def run_cnnrun(binary, args, cwd):
    try:
        return subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                              errors="replace", timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return None


def crash_problem(proc):
    """Why a finished run counts as a crash, or None."""
    if proc is None:
        return f"timed out after {TIMEOUT_SECONDS} s"
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}"
    if proc.returncode >= 128:
        return f"exit code {proc.returncode} (a crash or abort)"
    if "Sanitizer" in proc.stderr or "runtime error:" in proc.stderr:
        return "sanitizer report"
    return None


def tail(text, lines=12):
    kept = text.strip().splitlines()[-lines:]
    return "\n    ".join(kept) if kept else "(empty)"


def describe(proc):
    return (f"exit code {proc.returncode}\n    stdout: {tail(proc.stdout)}\n"
            f"    stderr: {tail(proc.stderr)}")


def check_matches(results, binary, name, args, cwd):
    """A run that must succeed and match its reference (cnnrun --expect)."""
    proc = run_cnnrun(binary, args, cwd)
    problem = crash_problem(proc)
    if problem is None and proc.returncode != 0:
        problem = "outputs differ from the reference or the run failed: " + describe(proc)
    elif problem is not None and proc is not None:
        problem += ": " + describe(proc)
    results.record(name, problem)


def check_refused(results, binary, name, model, fragment, cwd):
    """A model that must be refused with exit code 2 and an error naming the problem."""
    proc = run_cnnrun(binary, [model], cwd)
    problem = crash_problem(proc)
    if problem is not None:
        if proc is not None:
            problem += ": " + describe(proc)
    elif proc.returncode != 2:
        problem = "expected exit code 2: " + describe(proc)
    elif fragment not in proc.stderr:
        problem = f"stderr does not mention {fragment!r}: " + describe(proc)
    results.record(name, problem)


def missing(results, name, paths):
    absent = [p for p in paths if not os.path.exists(p)]
    if absent:
        results.record(name, "fixture files missing: " + ", ".join(absent))
        return True
    return False


def loader_checks(results, binary, fixtures, cwd):
    root = os.path.join(fixtures, "loader")
    found = sorted(d for d in os.listdir(root) if d != "bad") if os.path.isdir(root) else []
    for case in LOADER_CASES + [d for d in found if d not in LOADER_CASES]:
        case_dir = os.path.join(root, case)
        model = os.path.join(case_dir, "model.onnx")
        expected_files = sorted(glob.glob(os.path.join(case_dir, "expected*.npz")))
        if missing(results, f"loader/{case}", [model]):
            continue
        if not expected_files:
            results.record(f"loader/{case}", "no expected*.npz next to the model")
            continue
        for expected in expected_files:
            suffix = os.path.basename(expected)[len("expected"):-len(".npz")]
            inputs = os.path.join(case_dir, f"inputs{suffix}.npz")
            args = [model] + ([inputs] if os.path.exists(inputs) else [])
            args += ["--expect", expected, "--atol", ATOL, "--rtol", RTOL]
            check_matches(results, binary, f"loader/{case}{suffix}", args, cwd)

    bad_root = os.path.join(root, "bad")
    found_bad = sorted(os.path.basename(p)[:-len(".onnx")]
                       for p in glob.glob(os.path.join(bad_root, "*.onnx")))
    for case in BAD_CASES + [c for c in found_bad if c not in BAD_CASES]:
        model = os.path.join(bad_root, case + ".onnx")
        expect = os.path.join(bad_root, case + ".expect")
        if missing(results, f"loader/bad/{case}", [model, expect]):
            continue
        with open(expect, encoding="utf-8") as f:
            fragment = f.read().strip()
        check_refused(results, binary, f"loader/bad/{case} (mentions {fragment!r})", model, fragment, cwd)


def torch_checks(results, binary, fixtures, cwd):
    for case in TORCH_CASES:
        case_dir = os.path.join(fixtures, "torch", case)
        model = os.path.join(case_dir, "model.onnx")
        for n in TORCH_BATCHES:
            inputs = os.path.join(case_dir, f"inputs_b{n}.npz")
            expected = os.path.join(case_dir, f"expected_b{n}.npz")
            name = f"torch/{case} batch {n}"
            if missing(results, name, [model, inputs, expected]):
                continue
            check_matches(results, binary, name,
                          [model, inputs, "--expect", expected, "--atol", ATOL, "--rtol", RTOL], cwd)


def perturbed_npy_copy(source, destination, delta):
    """Copies a little-endian float32 .npy file, adding delta to its first element."""
    with open(source, "rb") as f:
        data = bytearray(f.read())
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{source} is not a .npy file")
    major = data[6]
    if major == 1:
        header_len, start = struct.unpack_from("<H", data, 8)[0], 10
    else:
        header_len, start = struct.unpack_from("<I", data, 8)[0], 12
    header = data[start:start + header_len].decode("latin1")
    if "'<f4'" not in header:
        raise ValueError(f"{source} is not little-endian float32: {header.strip()}")
    offset = start + header_len
    value = struct.unpack_from("<f", data, offset)[0]
    struct.pack_into("<f", data, offset, value + delta)
    with open(destination, "wb") as f:
        f.write(data)


def bundled_model_checks(results, binary, source, cwd):
    models = os.path.join(source, "models")
    model = os.path.join(models, "digits_cnn.onnx")
    for sample in ("digit_sample", "digits_batch8"):
        images = os.path.join(models, sample + ".npy")
        expected = os.path.join(models, sample + "_expected.npy")
        name = f"models/digits_cnn.onnx on {sample}.npy"
        if missing(results, name, [model, images, expected]):
            continue
        check_matches(results, binary, name, [model, images, "--expect", expected, "--atol", ATOL], cwd)

    # The same through the named-input form of the command line.
    images = os.path.join(models, "digits_batch8.npy")
    expected = os.path.join(models, "digits_batch8_expected.npy")
    name = "models/digits_cnn.onnx --input image=digits_batch8.npy"
    if not missing(results, name, [model, images, expected]):
        check_matches(results, binary, name,
                      [model, "--input", "image=" + images, "--expect", expected, "--atol", ATOL], cwd)

    # The comparison itself must be able to fail: a reference off by 1e-3 in one element.
    name = "--expect fails (exit code 1) on a reference off by 1e-3"
    if missing(results, name, [model, images, expected]):
        return
    scratch = tempfile.mkdtemp(prefix="cnnrun_test_models_")
    try:
        wrong = os.path.join(scratch, "digits_batch8_wrong.npy")
        perturbed_npy_copy(expected, wrong, 1e-3)
        proc = run_cnnrun(binary, [model, images, "--expect", wrong, "--atol", ATOL], cwd)
        problem = crash_problem(proc)
        if problem is not None:
            if proc is not None:
                problem += ": " + describe(proc)
        elif proc.returncode != 1:
            problem = "expected exit code 1: " + describe(proc)
        elif "probabilities" not in proc.stdout + proc.stderr:
            problem = "the report does not name the output 'probabilities': " + describe(proc)
        results.record(name, problem)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    binary = os.environ.get("CNNRUN_BIN")
    fixtures = os.environ.get("CNNRUN_FIXTURES")
    source = os.environ.get("CNNRUN_SOURCE",
                            os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not binary or not fixtures:
        print("set CNNRUN_BIN (the cnnrun program) and CNNRUN_FIXTURES (the fixture directory)",
              file=sys.stderr)
        return 2
    if not os.access(binary, os.X_OK):
        print(f"CNNRUN_BIN={binary} is not an executable program", file=sys.stderr)
        return 2
    results = Results()
    loader_checks(results, binary, fixtures, source)
    torch_checks(results, binary, fixtures, source)
    bundled_model_checks(results, binary, source, source)
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
