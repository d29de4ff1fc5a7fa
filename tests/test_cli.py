#!/usr/bin/python3
"""Golden tests of the cnnrun command-line program and the embed_classify example.

Standard library only. Environment (set by ctest, see cnnrun_py_test): CNNRUN_BIN = the cnnrun
program, CNNRUN_SOURCE = the repository root, CNNRUN_FIXTURES = a scratch directory of the build.
argv[1] = the embed_classify program.

References are independent of cnnrun: PyTorch's output for the bundled digit sample
(models/digit_sample_expected.npy, read by the small .npy parser below), parameter counts worked
out by hand from the architecture in models/make_digits_model.py, and tiny ONNX models encoded
here byte by byte.
"""
import ast
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

BIN = os.environ.get("CNNRUN_BIN", "")
SOURCE = os.environ.get("CNNRUN_SOURCE", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMBED = sys.argv[1] if len(sys.argv) > 1 else ""
MODEL = os.path.join(SOURCE, "models", "digits_cnn.onnx")
SAMPLE = os.path.join(SOURCE, "models", "digit_sample.npy")
EXPECTED = os.path.join(SOURCE, "models", "digit_sample_expected.npy")
BATCH8 = os.path.join(SOURCE, "models", "digits_batch8.npy")
BATCH8_EXPECTED = os.path.join(SOURCE, "models", "digits_batch8_expected.npy")

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s%s" % (name, ("\n     " + detail.replace("\n", "\n     ")) if detail else ""))


# --- .npy reading and writing (format 1.0/2.0/3.0, little-endian, C order) -----------------------

NPY_FORMATS = {"<f4": "f", "<f8": "d", "<i4": "i", "<i8": "q", "|u1": "B", "|b1": "?"}


def npy_parse(data):
    """Returns (descr, shape, values) of .npy bytes; raises ValueError if malformed."""
    if data[:6] != b"\x93NUMPY":
        raise ValueError("no .npy magic")
    major = data[6]
    if major == 1:
        header_len = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        header_len = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = ast.literal_eval(data[start:start + header_len].decode("latin1"))
    if (start + header_len) % 16 != 0:
        raise ValueError("header not padded to a multiple of 16 bytes")
    descr, shape = header["descr"], tuple(header["shape"])
    if header["fortran_order"]:
        raise ValueError("unexpected fortran_order")
    count = 1
    for d in shape:
        count *= d
    fmt = NPY_FORMATS[descr]
    body = data[start + header_len:]
    size = struct.calcsize("<" + fmt)
    if len(body) != count * size:
        raise ValueError("body holds %d bytes, shape %s needs %d" % (len(body), shape, count * size))
    return descr, shape, list(struct.unpack("<%d%s" % (count, fmt), body))


def npy_load(path):
    with open(path, "rb") as f:
        return npy_parse(f.read())


def npy_bytes(descr, shape, values):
    shape_text = "(%s)" % "".join("%d, " % d for d in shape) if len(shape) != 1 else "(%d,)" % shape[0]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    pad = 16 - (10 + len(header) + 1) % 16
    header = header + " " * (pad % 16) + "\n"
    body = struct.pack("<%d%s" % (len(values), NPY_FORMATS[descr]), *values)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + body


def npy_save(path, descr, shape, values):
    with open(path, "wb") as f:
        f.write(npy_bytes(descr, shape, values))


def npz_save(path, arrays):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, (descr, shape, values) in arrays.items():
            z.writestr(name + ".npy", npy_bytes(descr, shape, values))


# --- A minimal ONNX encoder (protobuf wire format by hand) for models with several outputs -------

def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_field(number, value):
    if isinstance(value, int):
        return pb_varint(number << 3) + pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(number << 3 | 2) + pb_varint(len(value)) + value


FLOAT, BFLOAT16 = 1, 16  # TensorProto.DataType


def onnx_value_info(name, dims, elem_type=FLOAT):
    dim_msgs = b"".join(pb_field(1, pb_field(1, d) if isinstance(d, int) else pb_field(2, d)) for d in dims)
    tensor_type = pb_field(1, elem_type) + pb_field(2, dim_msgs)  # elem_type, shape
    return pb_field(1, name) + pb_field(2, pb_field(1, tensor_type))


def onnx_int_attribute(name, value):
    return pb_field(1, name) + pb_field(3, value) + pb_field(20, 2)  # type INT


def onnx_node(op, inputs, output, name, attributes=()):
    if isinstance(inputs, str):
        inputs = [inputs]
    return (b"".join(pb_field(1, i) for i in inputs) + pb_field(2, output) + pb_field(3, name) + pb_field(4, op)
            + b"".join(pb_field(5, a) for a in attributes))


def onnx_model(nodes, inputs, outputs):
    """nodes: (op, inputs, output, name[, attributes]); inputs, outputs: (name, dims[, elem_type])."""
    graph = b"".join(pb_field(1, onnx_node(*node)) for node in nodes)
    graph += pb_field(2, "cli_test")
    graph += b"".join(pb_field(11, onnx_value_info(*v)) for v in inputs)
    graph += b"".join(pb_field(12, onnx_value_info(*v)) for v in outputs)
    opset = pb_field(1, "") + pb_field(2, 13)
    return pb_field(1, 8) + pb_field(7, graph) + pb_field(8, opset)


def tensor_proto(name, shape, values):
    """An ONNX TensorProto .pb of float32 values (dims, data_type FLOAT, name, raw_data)."""
    dims = b"".join(pb_field(1, d) for d in shape)
    return dims + pb_field(2, 1) + pb_field(8, name) + pb_field(9, struct.pack("<%df" % len(values), *values))


def bfloat16_tensor_proto(name, shape, bits):
    """A TensorProto .pb of bfloat16 values given as their 16-bit patterns (raw_data)."""
    dims = b"".join(pb_field(1, d) for d in shape)
    return dims + pb_field(2, BFLOAT16) + pb_field(8, name) + pb_field(9, struct.pack("<%dH" % len(bits), *bits))


def float_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def bits_float(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


# --- Running the programs ---------------------------------------------------------------------------

def run(args, program=None, timeout=120):
    cmd = [program or BIN] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def crashed(rc, err):
    return rc < 0 or "Sanitizer" in err or "runtime error:" in err


def show(rc, out, err):
    return "exit %d\nstdout: %s\nstderr: %s" % (rc, out.strip()[-1500:], err.strip()[-1500:])


def check_error(name, result, *needles):
    """Exit 2, "cnnrun: error:" on stderr naming every needle, and no crash."""
    rc, out, err = result
    missing = [n for n in needles if n not in err]
    check(name, rc == 2 and not crashed(rc, err) and "cnnrun: error: " in err and not missing,
          show(rc, out, err) + ("\nmissing in stderr: %s" % missing if missing else ""))


def argmax(values):
    return max(range(len(values)), key=lambda i: values[i])


def main():
    if not BIN or not os.path.exists(BIN):
        print("CNNRUN_BIN is not set to the cnnrun program (got %r)" % BIN)
        return 2
    tmp = tempfile.mkdtemp(prefix="cnnrun_cli_test_")
    try:
        run_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def run_tests(tmp):
    def path(name):
        return os.path.join(tmp, name)

    _, sample_shape, sample = npy_load(SAMPLE)
    _, expected_shape, expected = npy_load(EXPECTED)
    top = argmax(expected)

    # The plain run: shape, dtype, preview and the top class PyTorch gives.
    rc, out, err = run([MODEL, SAMPLE])
    check("run prints output name, dtype and shape",
          rc == 0 and "probabilities: float32 [1, 10]" in out, show(rc, out, err))
    m = re.search(r"top: class (\d+) \(p = ([0-9.eE+-]+)\)", out)
    check("run prints PyTorch's top class and its probability",
          m is not None and int(m.group(1)) == top and abs(float(m.group(2)) - expected[top]) < 1e-4,
          show(rc, out, err))
    m = re.search(r"\[([^\]]*)\]\n", out.split("\n", 1)[1] if "\n" in out else "")
    preview = [float(v) for v in m.group(1).split(", ")[:8]] if m else []
    check("preview shows the first values",
          len(preview) == 8 and all(abs(a - b) <= 1e-5 + 1e-3 * abs(b) for a, b in zip(preview, expected)),
          show(rc, out, err))

    rc, out, err = run([MODEL, SAMPLE, "--expect", EXPECTED])
    check("--expect with PyTorch's output passes (exit 0, PASS line)",
          rc == 0 and re.search(r"probabilities: PASS  max abs err [0-9.e+-]+, max rel err", out) is not None,
          show(rc, out, err))

    rc, out, err = run([MODEL, "--input", "image=%s" % SAMPLE, "--threads", "1", "--expect", EXPECTED])
    check("--input NAME=FILE and --threads 1", rc == 0 and "PASS" in out, show(rc, out, err))

    # bfloat16 convolutions: the same prediction, probabilities within bfloat16's precision of
    # PyTorch's (8 significant bits through three convolutions), and the profile shows the
    # bfloat16 kernels; an unknown precision is a usage error.
    rc, out, err = run([MODEL, SAMPLE, "--precision", "bf16", "--expect", EXPECTED, "--atol", "0.02",
                        "--rtol", "0"])
    m = re.search(r"top: class (\d+)", out)
    check("--precision bf16 keeps PyTorch's prediction within 0.02",
          rc == 0 and m is not None and int(m.group(1)) == top and "probabilities: PASS" in out,
          show(rc, out, err))
    rc, out, err = run([MODEL, SAMPLE, "--precision", "bf16", "--profile", "--bench", "2"])
    check("--precision bf16 runs the convolutions on bfloat16 kernels",
          rc == 0 and re.search(r"Conv\+Relu +\[1, 32, 8, 8\] +nhwc bf16 +brgconv:avx512_core\w*bf16", out)
          is not None, show(rc, out, err))
    check_error("--precision fp16 is refused", run([MODEL, SAMPLE, "--precision", "fp16"]),
                "--precision wants fp32 or bf16, got 'fp16'")

    # The memory ceiling: a plan above --max-memory is refused naming the sizes (one output, or
    # the plan as a whole and its largest activation); sizes take K/M/G/T suffixes and 'none'.
    check_error("--max-memory below one activation names the node",
                run([MODEL, SAMPLE, "--max-memory", "1K"]),
                "node '/conv1/Conv' (Conv): output '/conv1/Conv_output_0' would be float32 [1, 16, 8, 8]",
                "above the session's memory ceiling of 1 KiB (1024 bytes)", "--max-memory")
    check_error("--max-memory below the whole plan names arena, scratch and the largest activation",
                run([MODEL, SAMPLE, "--max-memory", "20K"]),
                "planning these input shapes needs", "activation arena", "kernel scratch",
                "the largest activation is '/conv2/Conv_output_0'")
    for size in ("64K", "0.5M", "1GB", "none"):
        rc, out, err = run([MODEL, SAMPLE, "--max-memory", size, "--expect", EXPECTED])
        check("--max-memory %s runs the model" % size, rc == 0 and "probabilities: PASS" in out,
              show(rc, out, err))
    for size in ("0", "-1G", "12Q", "", "0.1"):
        check_error("--max-memory '%s' is a usage error" % size, run([MODEL, SAMPLE, "--max-memory", size]),
                    "--max-memory wants a size in bytes")

    # --conv winograd runs the bundled model (its 3x3 layers are too small to take Winograd: the
    # same prediction from direct kernels); anything else is a usage error.
    rc, out, err = run([MODEL, SAMPLE, "--conv", "winograd", "--expect", EXPECTED])
    check("--conv winograd runs the model", rc == 0 and "probabilities: PASS" in out, show(rc, out, err))
    check_error("--conv fast is a usage error", run([MODEL, SAMPLE, "--conv", "fast"]),
                "--conv wants direct or winograd, got 'fast'")

    # A single .npz binds by name, a .npz reference compares by output name.
    npz_save(path("inputs.npz"), {"image": ("<f4", sample_shape, sample)})
    npz_save(path("refs.npz"), {"probabilities": ("<f4", expected_shape, expected)})
    rc, out, err = run([MODEL, path("inputs.npz"), "--expect", path("refs.npz")])
    check(".npz input by name and .npz reference by output name", rc == 0 and "probabilities: PASS" in out,
          show(rc, out, err))
    rc, out, err = run([MODEL, SAMPLE, "--expect", "probabilities=%s" % EXPECTED])
    check("--expect NAME=FILE", rc == 0 and "probabilities: PASS" in out, show(rc, out, err))

    # ONNX TensorProto files as input and as reference.
    with open(path("image.pb"), "wb") as f:
        f.write(tensor_proto("image", sample_shape, sample))
    with open(path("probabilities.pb"), "wb") as f:
        f.write(tensor_proto("probabilities", expected_shape, expected))
    rc, out, err = run([MODEL, path("image.pb"), "--expect", path("probabilities.pb")])
    check("TensorProto .pb input and reference", rc == 0 and "probabilities: PASS" in out, show(rc, out, err))

    # Batch of eight against PyTorch.
    if os.path.exists(BATCH8) and os.path.exists(BATCH8_EXPECTED):
        rc, out, err = run([MODEL, BATCH8, "--expect", BATCH8_EXPECTED])
        check("batch of 8 matches PyTorch, no top line for [8, 10]",
              rc == 0 and "probabilities: float32 [8, 10]" in out and "PASS" in out and "top:" not in out,
              show(rc, out, err))

    # float64 input: converted with a note.
    npy_save(path("sample_f64.npy"), "<f8", sample_shape, sample)
    rc, out, err = run([MODEL, path("sample_f64.npy"), "--expect", EXPECTED])
    check("float64 input is converted with a note and still matches",
          rc == 0 and "note: input 'image' converted from float64 to float32" in err and "PASS" in out,
          show(rc, out, err))

    # Wrong shape and wrong dtype: exit 2 naming the input, what was expected and what was found.
    npy_save(path("wrong_shape.npy"), "<f4", (1, 1, 8, 7), sample[:56])
    check_error("wrong input shape is an error naming input, expected and found",
                run([MODEL, path("wrong_shape.npy")]), "'image'", "[batch, 1, 8, 8]", "[1, 1, 8, 7]")
    npy_save(path("wrong_rank.npy"), "<f4", (64,), sample)
    check_error("wrong input rank is an error", run([MODEL, path("wrong_rank.npy")]),
                "'image'", "[batch, 1, 8, 8]", "[64]")
    npy_save(path("wrong_dtype.npy"), "<i4", sample_shape, [int(v * 16) for v in sample])
    check_error("int32 input is an error naming input, expected and found dtype",
                run([MODEL, path("wrong_dtype.npy")]), "'image'", "float32", "int32")
    check_error("too many input files", run([MODEL, SAMPLE, SAMPLE]), "1 input", SAMPLE)
    check_error("no input file and no --summary", run([MODEL]), "no input files", "image")
    check_error("--input with an unknown name", run([MODEL, "--input", "pixels=%s" % SAMPLE]),
                "'pixels'", "image")

    # A wrong reference: exit 1 with the error lines, worst element at the changed index.
    wrong = list(expected)
    wrong[3] += 0.5
    npy_save(path("wrong_expected.npy"), "<f4", expected_shape, wrong)
    rc, out, err = run([MODEL, SAMPLE, "--expect", path("wrong_expected.npy")])
    m = re.search(r"probabilities: FAIL  max abs err ([0-9.e+-]+), max rel err ([0-9.e+inf-]+), "
                  r"worst at \[0, 3\]", out)
    check("out-of-tolerance reference: exit 1, FAIL, max abs err 0.5 at [0, 3]",
          rc == 1 and m is not None and abs(float(m.group(1)) - 0.5) < 1e-3
          and "1 of 10 elements out of tolerance" in out, show(rc, out, err))

    # Tolerances: an error of 1e-3 on one element fails by default and passes with --atol 2e-3.
    near = list(expected)
    near[top] -= 1e-3
    npy_save(path("near_expected.npy"), "<f4", expected_shape, near)
    rc, out, err = run([MODEL, SAMPLE, "--expect", path("near_expected.npy")])
    check("error of 1e-3 fails with default tolerances", rc == 1 and "FAIL" in out and "[0, %d]" % top in out,
          show(rc, out, err))
    rc, out, err = run([MODEL, SAMPLE, "--expect", path("near_expected.npy"), "--atol", "2e-3"])
    check("--atol 2e-3 accepts it", rc == 0 and "PASS" in out, show(rc, out, err))
    rc, out, err = run([MODEL, SAMPLE, "--expect", path("near_expected.npy"), "--atol=0", "--rtol=2e-3"])
    check("--rtol=2e-3 --atol=0 accepts it", rc == 0 and "PASS" in out, show(rc, out, err))

    npy_save(path("flat_expected.npy"), "<f4", (10,), expected)
    check_error("reference of another shape: error naming both shapes",
                run([MODEL, SAMPLE, "--expect", path("flat_expected.npy")]), "[1, 10]", "[10]", "float32")
    npy_save(path("f64_expected.npy"), "<f8", expected_shape, expected)
    check_error("reference of another dtype: error naming both dtypes",
                run([MODEL, SAMPLE, "--expect", path("f64_expected.npy")]), "float32", "float64")

    # -o single file and -o DIR/.
    rc, out, err = run([MODEL, SAMPLE, "-o", path("out.npy")])
    try:
        descr, shape, values = npy_load(path("out.npy"))
        saved_ok = (descr == "<f4" and shape == (1, 10)
                    and all(abs(a - b) <= 1e-5 + 1e-4 * abs(b) for a, b in zip(values, expected)))
        detail = "%s %s %s" % (descr, shape, values)
    except (OSError, ValueError, KeyError, SyntaxError) as e:
        saved_ok, detail = False, str(e)
    check("-o out.npy saves the output as a valid .npy", rc == 0 and saved_ok, show(rc, out, err) + "\n" + detail)

    out_dir = path("nested/outputs") + "/"
    rc, out, err = run([MODEL, SAMPLE, "-o", out_dir])
    try:
        descr, shape, values = npy_load(os.path.join(out_dir, "probabilities.npy"))
        saved_ok = descr == "<f4" and shape == (1, 10) and argmax(values) == top
        detail = "%s %s" % (descr, shape)
    except (OSError, ValueError, KeyError, SyntaxError) as e:
        saved_ok, detail = False, str(e)
    check("-o DIR/ creates the directory and saves DIR/probabilities.npy", rc == 0 and saved_ok,
          show(rc, out, err) + "\n" + detail)

    # A model with two outputs whose names need sanitizing (and sanitize alike).
    with open(path("two_outputs.onnx"), "wb") as f:
        f.write(onnx_model([("Relu", "x", "scores/relu", "relu_a"), ("Relu", "x", "scores:relu", "relu_b")],
                           [("x", [2, 3])], [("scores/relu", [2, 3]), ("scores:relu", [2, 3])]))
    xs = [-1.5, 2.0, -0.25, 3.0, 0.0, -7.0]
    npy_save(path("x.npy"), "<f4", (2, 3), xs)
    check_error("-o FILE with a two-output model is an error", run([path("two_outputs.onnx"), path("x.npy"),
                                                                    "-o", path("two.npy")]), "2 outputs", "/")
    rc, out, err = run([path("two_outputs.onnx"), path("x.npy"), "-o", path("two_dir") + "/"])
    files = sorted(os.listdir(path("two_dir"))) if os.path.isdir(path("two_dir")) else []
    relu = [max(v, 0.0) for v in xs]
    try:
        ok_values = all(npy_load(os.path.join(path("two_dir"), f))[2] == relu for f in files)
    except (OSError, ValueError, KeyError, SyntaxError):
        ok_values = False
    check("-o DIR/ with names holding '/' and ':' saves two sanitized, distinct files",
          rc == 0 and len(files) == 2 and all(re.fullmatch(r"[A-Za-z0-9_.-]+\.npy", f) for f in files)
          and ok_values, show(rc, out, err) + "\nfiles: %s" % files)

    # Equal and NaN references on the Relu model: NaN in the reference against a number fails.
    npz_save(path("relu_exact.npz"), {"scores/relu": ("<f4", (2, 3), relu), "scores:relu": ("<f4", (2, 3), relu)})
    rc, out, err = run([path("two_outputs.onnx"), path("x.npy"), "--expect", path("relu_exact.npz")])
    check("exact reference for both outputs: two PASS lines with zero error",
          rc == 0 and out.count(": PASS  max abs err 0, max rel err 0") == 2, show(rc, out, err))
    relu_nan = list(relu)
    relu_nan[4] = float("nan")
    npy_save(path("relu_nan.npy"), "<f4", (2, 3), relu_nan)
    rc, out, err = run([path("two_outputs.onnx"), path("x.npy"), "--expect", "scores:relu=%s" % path("relu_nan.npy")])
    check("NaN in the reference against a number fails at its index",
          rc == 1 and re.search(r"scores:relu: FAIL .*worst at \[1, 1\]", out) is not None
          and "scores/relu:" not in out.split("scores:relu: FAIL")[-1], show(rc, out, err))

    # Two inputs: positional order, --input by name, a mix, and one .npz by name (a - b tells order).
    with open(path("sub.onnx"), "wb") as f:
        f.write(onnx_model([("Sub", ["a", "b"], "diff", "sub")], [("a", [3]), ("b", [3])], [("diff", [3])]))
    npy_save(path("a.npy"), "<f4", (3,), [5.0, 7.0, 9.0])
    npy_save(path("b.npy"), "<f4", (3,), [1.0, 2.0, 3.0])
    npz_save(path("ab.npz"), {"b": ("<f4", (3,), [1.0, 2.0, 3.0]), "a": ("<f4", (3,), [5.0, 7.0, 9.0])})
    sub_cases = [
        ("positional files bind in graph order", [path("a.npy"), path("b.npy")], "[4, 5, 6]"),
        ("swapped positional files swap the inputs", [path("b.npy"), path("a.npy")], "[-4, -5, -6]"),
        ("--input binds by name", ["--input", "b=" + path("b.npy"), "--input", "a=" + path("a.npy")], "[4, 5, 6]"),
        ("--input plus a positional file for the other input", ["--input", "b=" + path("b.npy"), path("a.npy")],
         "[4, 5, 6]"),
        ("one .npz binds by array name", [path("ab.npz")], "[4, 5, 6]"),
    ]
    for name, args, values in sub_cases:
        rc, out, err = run([path("sub.onnx")] + args)
        check("two inputs: " + name, rc == 0 and ("diff: float32 [3]\n  %s\n" % values) in out, show(rc, out, err))
    rc, out, err = run([path("sub.onnx"), path("a.npy"), path("b.npy")])
    check("1-D scores print the argmax as a score, not a probability", "top: class 2 (score = 6)" in out,
          show(rc, out, err))
    check_error("two inputs, one file: names the input without data", run([path("sub.onnx"), path("a.npy")]),
                "'b'", "--input b=")

    # bfloat16 outputs and inputs: printed and compared as numbers, refused by -o .npy (NumPy has
    # no bfloat16). The expected bits are the float32 bits' high halves (cnnrun truncates, as the
    # ONNX 1.12 test suite does): 0.1 = 0x3dcccccd gives 0x3dcc = 0.099609375.
    with open(path("to_bf16.onnx"), "wb") as f:
        f.write(onnx_model([("Cast", "x", "h", "to_bf16", [onnx_int_attribute("to", BFLOAT16)])],
                           [("x", [4])], [("h", [4], BFLOAT16)]))
    xs = [1.0, -2.5, 0.1, 1000.7]
    bf_bits = [float_bits(v) >> 16 for v in xs]
    bf_text = ", ".join("%.6g" % bits_float(b << 16) for b in bf_bits)
    npy_save(path("bf_x.npy"), "<f4", (4,), xs)
    rc, out, err = run([path("to_bf16.onnx"), path("bf_x.npy")])
    check("a bfloat16 output prints its dtype and values", rc == 0 and ("h: bfloat16 [4]\n  [%s]\n" % bf_text) in out,
          show(rc, out, err) + "\nexpected values: " + bf_text)
    with open(path("bf_ref.pb"), "wb") as f:
        f.write(bfloat16_tensor_proto("h", [4], bf_bits))
    rc, out, err = run([path("to_bf16.onnx"), path("bf_x.npy"), "--expect", path("bf_ref.pb")])
    check("a bfloat16 reference (.pb) matches exactly", rc == 0 and "h: PASS  max abs err 0," in out,
          show(rc, out, err))
    with open(path("bf_wrong.pb"), "wb") as f:
        f.write(bfloat16_tensor_proto("h", [4], bf_bits[:3] + [bf_bits[3] + 1]))
    rc, out, err = run([path("to_bf16.onnx"), path("bf_x.npy"), "--expect", path("bf_wrong.pb")])
    check("a bfloat16 reference one unit off fails at its index", rc == 1 and re.search(r"h: FAIL .*worst at \[3\]", out)
          is not None, show(rc, out, err))
    check_error("-o out.npy of a bfloat16 output is an error that says why and how",
                run([path("to_bf16.onnx"), path("bf_x.npy"), "-o", path("bf_out.npy")]),
                "bfloat16 has no .npy form", "Cast the output to float32")
    check("the refused bfloat16 .npy was not written", not os.path.exists(path("bf_out.npy")))
    with open(path("from_bf16.onnx"), "wb") as f:
        f.write(onnx_model([("Cast", "h", "y", "to_float", [onnx_int_attribute("to", FLOAT)])],
                           [("h", [4], BFLOAT16)], [("y", [4])]))
    rc, out, err = run([path("from_bf16.onnx"), path("bf_ref.pb")])
    check("a bfloat16 input from a .pb widens exactly to float32",
          rc == 0 and ("y: float32 [4]\n  [%s]\n" % bf_text) in out, show(rc, out, err))
    check_error("a float32 .npy for a bfloat16 input is a dtype mismatch naming both",
                run([path("from_bf16.onnx"), path("bf_x.npy")]), "'h'", "bfloat16 [4]", "float32 [4]")

    # --summary: symbolic without inputs (no run), numeric with inputs (and a run).
    rc, out, err = run([MODEL, "--summary"])
    # Parameters by hand from make_digits_model.py (BatchNorm is fused into the convs on export):
    # conv1 16*1*9+16, conv2 32*16*9+32, conv3 32*32*9+32, fc1 512*64+64, fc2 64*10+10.
    total = (16 * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 32 * 9 + 32) + (512 * 64 + 64) + (64 * 10 + 10)
    conv1 = re.search(r"^/conv1/Conv\s+Conv\s+\[batch, 16, 8, 8\]\s+160$", out, re.M)
    check("--summary lists nodes, ops and symbolic shapes",
          rc == 0 and conv1 is not None and all(s in out for s in ("/fc1/Gemm", "Gemm", "Softmax", "MaxPool",
                                                                   "[batch, 10]"))
          and "top:" not in out, show(rc, out, err))
    check("--summary totals: params by hand, weight and arena sizes",
          "Total params: {:,}".format(total) in out and re.search(r"Weights: [0-9.]+ KiB", out) is not None
          and re.search(r"Arena: [0-9.]+ (B|KiB|MiB)", out) is not None, show(rc, out, err))
    rc, out, err = run([MODEL, SAMPLE, "--summary"])
    check("--summary with an input file uses its shapes, then runs",
          rc == 0 and re.search(r"^/conv1/Conv\s+Conv\s+\[1, 16, 8, 8\]", out, re.M) is not None
          and "probabilities: float32 [1, 10]" in out, show(rc, out, err))

    # --bench, --verbose.
    rc, out, err = run([MODEL, SAMPLE, "--bench", "3"])
    check("--bench 3 prints median, min, max and runs/s",
          rc == 0 and re.search(r"bench: 3 runs after 3 warm-up: median [0-9.e+-]+ ms, min [0-9.e+-]+ ms, "
                                r"max [0-9.e+-]+ ms, [0-9.e+-]+ runs/s", out) is not None, show(rc, out, err))
    check_error("--bench 0 is a usage error", run([MODEL, SAMPLE, "--bench", "0"]), "--bench")
    rc, out, err = run([MODEL, SAMPLE, "--verbose"])
    check("--verbose prints declared inputs/outputs and timings to stderr",
          rc == 0 and "input  image: float32 [batch, 1, 8, 8]" in err
          and "output probabilities: float32 [batch, 10]" in err and " ms" in err, show(rc, out, err))

    # --help, --version, usage errors.
    rc, out, err = run(["--help"])
    check("--help exits 0 and documents options and exit codes",
          rc == 0 and all(s in out for s in ("--expect", "--rtol", "--atol", "--summary", "--threads", "--bench",
                                             "--input", "-o", "--version", "exit codes")), show(rc, out, err))
    with open(os.path.join(SOURCE, "include", "cnnrun.h")) as f:
        version = re.search(r'#define CNNRUN_VERSION_STRING "([^"]+)"', f.read()).group(1)
    rc, out, err = run(["--version"])
    check("--version prints the library and oneDNN versions",
          rc == 0 and ("cnnrun %s" % version) in out and re.search(r"oneDNN \d+\.\d+", out) is not None,
          show(rc, out, err))
    check_error("unknown option: exit 2 with a usage hint", run([MODEL, SAMPLE, "--frobnicate"]),
                "--frobnicate", "--help")
    check_error("option without its value", run([MODEL, SAMPLE, "--rtol"]), "--rtol")
    check_error("bad tolerance value", run([MODEL, SAMPLE, "--atol", "abc"]), "abc")
    check_error("no arguments at all", run([]), "model")
    missing_model = path("no_such_model.onnx")
    check_error("missing model file names the path", run([missing_model, SAMPLE]), missing_model)
    missing_input = path("no_such_input.npy")
    check_error("missing input file names the path", run([MODEL, missing_input]), missing_input)
    check_error("missing reference file names the path",
                run([MODEL, SAMPLE, "--expect", path("no_such_ref.npy")]), path("no_such_ref.npy"))

    # Malformed files as model and as input: exit 2 with a message, never a crash.
    rng = random.Random(1234)
    with open(MODEL, "rb") as f:
        model_bytes = f.read()
    with open(SAMPLE, "rb") as f:
        sample_bytes = f.read()
    bad_models = {
        "empty": b"",
        "truncated": model_bytes[:len(model_bytes) // 2],
        "random": bytes(rng.getrandbits(8) for _ in range(4096)),
    }
    for kind, data in bad_models.items():
        p = path("bad_model_%s.onnx" % kind)
        with open(p, "wb") as f:
            f.write(data)
        check_error("malformed model (%s) gives exit 2, no crash" % kind, run([p, SAMPLE]))
        if EMBED:
            rc, out, err = run([p, SAMPLE], program=EMBED)
            check("embed_classify with a malformed model (%s) exits 2" % kind,
                  rc == 2 and err.strip() != "" and not crashed(rc, err), show(rc, out, err))
    bad_inputs = {
        "empty": b"",
        "truncated": sample_bytes[:len(sample_bytes) // 2],
        "random": bytes(rng.getrandbits(8) for _ in range(1024)),
        "header_only": sample_bytes[:128],
    }
    for kind, data in bad_inputs.items():
        for ext in (".npy", ".npz", ".pb"):
            p = path("bad_input_%s%s" % (kind, ext))
            with open(p, "wb") as f:
                f.write(data)
            check_error("malformed input (%s%s) gives exit 2, no crash" % (kind, ext), run([MODEL, p]))
    check_error("malformed reference gives exit 2, no crash",
                run([MODEL, SAMPLE, "--expect", path("bad_input_truncated.npy")]))

    # The embedding example prints PyTorch's top class.
    if EMBED:
        rc, out, err = run([MODEL, SAMPLE], program=EMBED)
        m = re.search(r"top class: (\d+) \(score ([0-9.]+)\)", out)
        check("embed_classify prints PyTorch's top class and score",
              rc == 0 and m is not None and int(m.group(1)) == top
              and abs(float(m.group(2)) - expected[top]) < 1e-4 and not crashed(rc, err), show(rc, out, err))
        rc, out, err = run([MODEL, path("wrong_dtype.npy")], program=EMBED)
        check("embed_classify with a wrong input exits 2 with a message",
              rc == 2 and "image" in err and not crashed(rc, err), show(rc, out, err))
        rc, out, err = run([MODEL], program=EMBED)
        check("embed_classify without arguments prints usage and exits 2", rc == 2 and "usage" in err,
              show(rc, out, err))
    else:
        check("embed_classify path given as argv[1]", False)


if __name__ == "__main__":
    sys.exit(main())
