#!/usr/bin/python3
"""The Python package (python/cnnrun) on the bundled digits model, against the cnnrun program.

Run by ctest twice: with Debian's /usr/bin/python3 (NumPy 1.24) and with the venv's (NumPy 2.x).
Environment (set by ctest): CNNRUN_BIN = the cnnrun program, CNNRUN_LIBRARY = the libcnnrun.so
under test, CNNRUN_SOURCE = the repository root, PYTHONPATH = <source>/python.

References: the program's own outputs (`cnnrun ... --threads N -o out.npy`), which the package
must reproduce bit for bit at the same thread count since both run the same library; PyTorch's
output for the digit samples (models/*_expected.npy); the program's messages and summary table;
FLOPs of the first convolution worked out by hand.
"""
import gc
import os
import re
import subprocess
import tempfile
import threading
import time

import numpy as np

import cnnrun
from checks import check, finish

BIN = os.environ["CNNRUN_BIN"]
SOURCE = os.environ["CNNRUN_SOURCE"]
MODEL = os.path.join(SOURCE, "models", "digits_cnn.onnx")
SAMPLE = os.path.join(SOURCE, "models", "digit_sample.npy")
EXPECTED = os.path.join(SOURCE, "models", "digit_sample_expected.npy")
BATCH8 = os.path.join(SOURCE, "models", "digits_batch8.npy")
BATCH8_EXPECTED = os.path.join(SOURCE, "models", "digits_batch8_expected.npy")



def raises(name, exc_type, fn, message=None):
    """fn() must raise exc_type; with message, str(error) must equal it."""
    try:
        fn()
    except exc_type as e:
        check(name, message is None or str(e) == message,
              "message: %r\nwanted:  %r" % (str(e), message))
        return e
    except Exception as e:  # noqa: BLE001 - any other type is the failure being reported
        check(name, False, "raised %s: %s, wanted %s" % (type(e).__name__, e, exc_type.__name__))
        return None
    check(name, False, "nothing raised, wanted %s" % exc_type.__name__)
    return None


def cli(args):
    return subprocess.run([BIN] + args, capture_output=True, text=True)


def cli_outputs(model, input_path, threads, extra=()):
    """The program's outputs for one input file, saved as .npy and read back."""
    with tempfile.TemporaryDirectory() as tmp:
        r = cli([model, input_path, "--threads", str(threads), "-o", tmp + "/", *extra])
        if r.returncode != 0:
            raise RuntimeError("cnnrun failed: " + r.stderr)
        return {f[:-4]: np.load(os.path.join(tmp, f)) for f in os.listdir(tmp)}


def test_declared():
    model = cnnrun.Model(MODEL)
    check("library under test", os.path.realpath(cnnrun.library_path)
          == os.path.realpath(os.environ["CNNRUN_LIBRARY"]), cnnrun.library_path)
    check("version", cnnrun.__version__ == "0.1.0" and cnnrun.backend_version.startswith("oneDNN"),
          (cnnrun.__version__, cnnrun.backend_version))
    inp, = model.inputs
    out, = model.outputs
    check("input declared", (inp.name, inp.dtype, inp.type, inp.shape)
          == ("image", np.dtype(np.float32), "float32", ("batch", 1, 8, 8)), inp)
    check("output declared", (out.name, out.dtype, out.shape)
          == ("probabilities", np.dtype(np.float32), ("batch", 10)), out)
    check("describe as the C library", inp.describe() == "float32 [batch, 1, 8, 8]", inp.describe())


def test_against_program():
    model = cnnrun.Model(MODEL)
    for threads in (1, 2):
        session = model.session(threads=threads)
        for path, expected_path in ((SAMPLE, EXPECTED), (BATCH8, BATCH8_EXPECTED)):
            ours, = session.run(np.load(path))
            theirs = cli_outputs(MODEL, path, threads)["probabilities"]
            tag = "%s threads=%d" % (os.path.basename(path), threads)
            check("bit-identical to the program: " + tag,
                  ours.dtype == theirs.dtype and ours.shape == theirs.shape
                  and np.array_equal(ours, theirs), "max diff %g" % np.abs(ours - theirs).max())
            expected = np.load(expected_path)
            err = float(np.abs(ours - expected).max())
            check("PyTorch's output within 1e-5: " + tag, err <= 1e-5, "max|a-b| = %g" % err)


def test_run_forms():
    model = cnnrun.Model(MODEL)
    session = model.session(threads=1)
    x = np.load(BATCH8)
    ref, = session.run(x)
    forms = {
        "dict": session.run({"image": x}),
        "list": session.run([x]),
        "tuple": session.run((x,)),
        "outputs by name": session.run(x, outputs=["probabilities"]),
        "nested lists take the declared dtype": session.run({"image": x.tolist()}),
    }
    for name, result in forms.items():
        check("run form: " + name, len(result) == 1 and np.array_equal(result[0], ref))
    as_dict = session.run_dict({"image": x})
    check("run_dict", list(as_dict) == ["probabilities"] and np.array_equal(as_dict["probabilities"], ref))
    # Outputs are copies: the next run does not change them.
    first, = session.run(x[:1])
    keep = first.copy()
    session.run(x[1:2])
    check("outputs survive the next run", np.array_equal(first, keep))
    # Batch sizes change within one session (plans cached by shape).
    rows = [session.run(x[i:i + 1])[0][0] for i in range(8)]
    check("batch 8 = eight batches of 1", np.array_equal(np.stack(rows), ref))
    # From memory.
    with open(MODEL, "rb") as f:
        from_bytes = cnnrun.Model.from_bytes(f.read())
    check("Model.from_bytes", np.array_equal(from_bytes.session(threads=1).run(x)[0], ref))


def test_zero_copy_and_layouts():
    session = cnnrun.Model(MODEL).session(threads=1)
    x = np.load(BATCH8)
    ref, = session.run(x)
    check("contiguous float32 passed as is (no copy)", session._array(0, x) is x)
    fortran = np.asfortranarray(x)
    check("Fortran-order input: a copy, same result",
          session._array(0, fortran) is not fortran and np.array_equal(session.run(fortran)[0], ref))
    strided = np.repeat(x, 2, axis=0)[::2]
    check("strided view input", not strided.flags.c_contiguous and np.array_equal(session.run(strided)[0], ref))
    swapped = x.astype(">f4")
    check("big-endian input", np.array_equal(session.run(swapped)[0], ref))


def test_errors():
    model = cnnrun.Model(MODEL)
    session = model.session(threads=1)
    x = np.load(SAMPLE)
    e = raises("wrong shape: the C message", cnnrun.InputMismatch,
               lambda: session.run(np.zeros((1, 1, 9, 8), np.float32)),
               "input 'image': expected float32 [batch, 1, 8, 8], found float32 [1, 1, 9, 8]")
    check("InputMismatch is a ValueError and a cnnrun.Error with its code",
          isinstance(e, ValueError) and isinstance(e, cnnrun.Error) and e.code == "INPUT_MISMATCH")
    raises("wrong dtype is not converted", cnnrun.InputMismatch, lambda: session.run(x.astype(np.float64)),
           "input 'image': expected float32 [batch, 1, 8, 8], found float64 [1, 1, 8, 8]")
    raises("wrong rank", cnnrun.InputMismatch, lambda: session.run(x[0]),
           "input 'image': expected float32 [batch, 1, 8, 8], found float32 [1, 8, 8]")
    raises("dtype cnnrun has not", cnnrun.InputMismatch, lambda: session.run(x.astype(np.complex64)),
           "input 'image': expected float32 [batch, 1, 8, 8], found NumPy complex64 [1, 1, 8, 8] "
           "(cnnrun has no such type)")
    raises("rank over 8", cnnrun.InputMismatch, lambda: session.run(np.zeros((1,) * 9, np.float32)),
           "input 'image': expected float32 [batch, 1, 8, 8], found rank 9 (cnnrun takes at most 8 dims)")
    raises("unknown input name", cnnrun.InvalidArgument, lambda: session.run({"pixels": x}),
           "the model has no input named 'pixels' (its inputs: image)")
    raises("missing input", cnnrun.InvalidArgument, lambda: session.run({}),
           "input 'image' is missing (the model takes 1 inputs: image)")
    raises("too many inputs", cnnrun.InvalidArgument, lambda: session.run([x, x]),
           "2 inputs were given but the model takes 1 (image)")
    raises("unknown output name: the C message", cnnrun.InvalidArgument,
           lambda: session.run(x, outputs=["logits"]), "the model has no output named 'logits'")
    raises("missing model file: the C message", cnnrun.FileError,
           lambda: cnnrun.Model("/nonexistent/model.onnx"),
           "cannot open model file '/nonexistent/model.onnx': No such file or directory")
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(b"garbage")
        f.flush()
        # The program prefixes the C message with "model 'PATH': "; the rest is the library's.
        program = cli([f.name, SAMPLE]).stderr.strip()
        e = raises("not an ONNX file", cnnrun.InvalidModel, lambda: cnnrun.Model(f.name))
        check("same message as the program", e is not None and program.endswith(str(e)),
              "program: %s\npython:  %s" % (program, e))
    # The options added to cnnrun_session_options reach the library: a memory ceiling below the
    # first activation refuses the plan with the program's message.
    program = cli([MODEL, SAMPLE, "--max-memory", "1000"]).stderr.strip()
    e = raises("max_memory reaches the library", cnnrun.OutOfMemory,
               lambda: model.session(max_memory=1000).run(x))
    check("max_memory: the program's message", e is not None and program.endswith(str(e))
          and "1000 bytes" in str(e), "program: %s\npython:  %s" % (program, e))
    check("max_memory=None: no ceiling", np.array_equal(
        model.session(threads=1, max_memory=None).run(x)[0], session.run(x)[0]))
    raises("bad max_memory", ValueError, lambda: model.session(max_memory=-1))
    raises("bad conv_algorithm", ValueError, lambda: model.session(conv_algorithm="fft"))
    raises("bad precision", ValueError, lambda: model.session(precision="int8"))
    raises("bad thread count", ValueError, lambda: model.session(threads=-1))
    # The wrong-shape message the program prints for the same input carries the same facts.
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.npy")
        np.save(bad, np.zeros((1, 1, 9, 8), np.float32))
        r = cli([MODEL, bad])
        check("the program reports the same shapes", r.returncode == 2 and
              "expects float32 [batch, 1, 8, 8], found float32 [1, 1, 9, 8]" in r.stderr, r.stderr)


def test_precision():
    """bfloat16: either refused on this CPU with the program's message, or bit-identical to it."""
    model = cnnrun.Model(MODEL)
    r = cli([MODEL, SAMPLE, "--threads", "1", "--precision", "bf16"])
    if r.returncode != 0:
        raises("bfloat16 refused as by the program", cnnrun.Error,
               lambda: model.session(threads=1, precision="bfloat16"))
        return
    ours, = model.session(threads=1, precision="bf16").run(np.load(SAMPLE))
    theirs = cli_outputs(MODEL, SAMPLE, 1, ("--precision", "bf16"))["probabilities"]
    check("bfloat16 bit-identical to the program", np.array_equal(ours, theirs))


def test_summary_and_profile():
    session = cnnrun.Model(MODEL).session(threads=1)
    summary = session.summary()
    table = cli([MODEL, "--summary"]).stdout
    # The program's rows: name, op (with " (folded)"), shape, params with thousands separators.
    program_rows = [m.groups() for m in re.finditer(
        r"^(\S+)\s+(\S+)( \(folded\))?\s+\[([^\]]*)\]\s+([\d,]+)$", table, re.M)]
    ours = [(r.node, r.op, " (folded)" if r.folded else None, ", ".join(map(str, r.shape)),
             "{:,}".format(r.params)) for r in summary]
    check("summary rows = the program's table", ours == program_rows and len(ours) > 5,
          "ours: %s\nprogram: %s" % (ours, program_rows))
    check("summary totals = the program's", "Total params: {:,}".format(summary.total_params) in table
          and "(%d bytes)" % summary.weight_bytes in table and "(%d bytes)" % summary.arena_bytes in table
          and summary.free_dims == "batch = 1", (summary.total_params, summary.free_dims))
    at8 = session.summary(np.load(BATCH8))
    check("summary for given shapes", at8[0].shape == (8, 16, 8, 8) and at8.free_dims is None, at8[0])
    profile = session.profile(np.load(BATCH8), runs=3)
    conv1 = profile[0]
    # conv1: 8 images x 16 channels x 8 x 8 outputs, each 1 x 3 x 3 multiply-adds.
    check("profile: first kernel is conv1 with its ReLU fused",
          (conv1.node, conv1.op, conv1.fused, conv1.shape, conv1.flops)
          == ("/conv1/Conv", "Conv", "Relu", (8, 16, 8, 8), 2.0 * 8 * 16 * 8 * 8 * 9), conv1)
    check("profile: times and totals", all(r.ms >= 0 for r in profile) and profile.total_ms > 0
          and isinstance(profile.reorders, int) and profile[-1].op == "Softmax",
          (profile.total_ms, profile.reorders, profile[-1]))
    raises("profile runs must be >= 1", ValueError, lambda: session.profile(np.load(BATCH8), runs=0))


def test_threads():
    model = cnnrun.Model(MODEL)
    rng = np.random.default_rng(7)
    batches = [rng.standard_normal((int(n), 1, 8, 8)).astype(np.float32)
               for n in rng.integers(1, 33, size=24)]
    serial = model.session(threads=1)
    reference = [serial.run(b)[0] for b in batches]

    # One session per thread, one shared model.
    results = {}

    def worker(k):
        session = model.session(threads=1)
        results[k] = [session.run(b)[0] for b in batches[k::4]]
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("4 threads, a session each: bit-identical to serial runs",
          all(np.array_equal(a, b) for k in range(4) for a, b in zip(results[k], reference[k::4])))

    # One session shared by 4 threads: its lock makes the runs take turns.
    shared = model.session(threads=1)
    errors = []

    def shared_worker(k):
        for b, ref in zip(batches[k::4], reference[k::4]):
            if not np.array_equal(shared.run(b)[0], ref):
                errors.append(k)
    threads = [threading.Thread(target=shared_worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("4 threads sharing one session: correct results", not errors, errors)

    # The GIL is released while the C library runs: during one long run in a worker thread, the
    # main thread keeps executing Python. Were the GIL held, its timestamps would show a gap about
    # as long as the call.
    big = rng.standard_normal((20000, 1, 8, 8)).astype(np.float32)
    session = model.session(threads=1)
    session.run(big)  # plan for this shape first, so the timed call is a plain run
    span = {}

    def long_run():
        span["start"] = time.perf_counter()
        session.run(big)
        span["end"] = time.perf_counter()
    t = threading.Thread(target=long_run)
    stamps = []
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    inside = [s for s in stamps if span["start"] <= s <= span["end"]]
    duration = span["end"] - span["start"]
    points = [span["start"]] + inside + [span["end"]]
    gap = max(b - a for a, b in zip(points, points[1:]))
    check("GIL released during run: the main thread ran throughout (call %.0f ms, longest gap %.1f ms)"
          % (duration * 1e3, gap * 1e3), duration > 0.02 and gap < duration / 2,
          "call %.1f ms, longest gap %.1f ms, %d stamps inside" % (duration * 1e3, gap * 1e3, len(inside)))


def test_lifetimes():
    model = cnnrun.Model(MODEL)
    session = model.session(threads=1)
    del model
    gc.collect()
    x = np.load(SAMPLE)
    check("a session keeps its model alive", np.array_equal(
        session.run(x)[0], cli_outputs(MODEL, SAMPLE, 1)["probabilities"]))
    with cnnrun.Model(MODEL).session(threads=1) as s:
        s.run(x)
    check("a closed session is freed once", s._free.alive is False)
    raises("a closed session refuses to run", cnnrun.InvalidArgument, lambda: s.run(x),
           "the session is closed")
    s.close()
    check("closing twice is harmless", s._free.alive is False)


def main():
    for test in (test_declared, test_against_program, test_run_forms, test_zero_copy_and_layouts,
                 test_errors, test_precision, test_summary_and_profile, test_threads, test_lifetimes):
        print("--", test.__name__)
        test()
    finish()


if __name__ == "__main__":
    main()
