#!/usr/bin/python3
"""Replays every input in tests/fuzz/regressions/ through the cnnrun program, so a fixed crash,
leak or runaway allocation stays fixed (the list and what each line means: expectations.txt there).

    replay_regressions.py CNNRUN_BINARY PEAK_RSS_BINARY SOURCE_DIR

Each run must exit with the expected code, print a message holding the expected fragment, stay
under a CPU-time and a peak-memory bound, and leave no sanitizer report. A .onnx file runs as a
model on zero-filled inputs of its declared shapes (free dims 1), so planning and kernels see it,
not only the parser. Needs Debian's python3-numpy and python3-onnx (to read declared shapes; a file
too broken for onnx to parse is run without inputs, as cnnrun refuses it at load).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

CPU_SECONDS = 1.0
PEAK_MB = 100
# Address space allowed to each run: far above what these runs need (~300 MB with oneDNN's and
# OpenMP's reservations), far below the gigabytes a runaway allocation asks for. Pages reserved but
# never touched do not show in the peak RSS, so this is what catches an allocation made before a
# size check (a 16 GB tensor for external data that is not there).
ADDRESS_SPACE = 4 << 30
# A sanitizer build reserves terabytes of shadow memory and runs several times slower: there the
# bounds are the sanitizer's own reports, not the clock or the resident size.
SANITIZED = os.environ.get("CNNRUN_SANITIZED") == "1"


def declared_inputs(model_path, outdir):
    """Zero .npy files for the model's graph inputs (not initializers); [] when onnx cannot
    parse the file."""
    try:
        import onnx
        from onnx import mapping
        model = onnx.load(model_path)
    except Exception:  # a file protobuf itself refuses: cnnrun must refuse it too
        return []
    initializers = {t.name for t in model.graph.initializer}
    paths = []
    for i, vi in enumerate(model.graph.input):
        if vi.name in initializers:
            continue
        tt = vi.type.tensor_type
        dtype = mapping.TENSOR_TYPE_TO_NP_TYPE.get(tt.elem_type, np.float32)
        shape = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1
                 for d in tt.shape.dim]
        if np.prod(shape, dtype=np.float64) * np.dtype(dtype).itemsize > 64 << 20:
            continue  # a declared input this large is the model's own problem, reported at plan
        path = os.path.join(outdir, f"input{i}.npy")
        np.save(path, np.zeros(shape, dtype))
        paths.append(path)
    return paths


def run(peak_rss, argv):
    """Runs argv under bench/peak_rss (which measures the child alone: a child forked from Python
    would report Python's own memory as its peak); returns (exit code, output text, CPU seconds,
    peak RSS in MB)."""
    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    proc = subprocess.run([peak_rss] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          preexec_fn=None if SANITIZED else limit_address_space)
    text = proc.stdout.decode("utf-8", "replace")
    lines = text.rstrip("\n").split("\n")
    usage = json.loads(lines[-1])
    return proc.returncode, "\n".join(lines[:-1]), usage["cpu_s"], usage["peak_rss_kb"] / 1024


def main(argv):
    if len(argv) != 4:
        sys.exit(f"usage: {argv[0]} CNNRUN_BINARY PEAK_RSS_BINARY SOURCE_DIR")
    binary, peak_rss, source = argv[1], argv[2], argv[3]
    folder = os.path.join(source, "tests", "fuzz", "regressions")
    digits = os.path.join(source, "models", "digits_cnn.onnx")
    passed = failed = 0
    with open(os.path.join(folder, "expectations.txt")) as f:
        lines = [line.split(None, 2) for line in f if line.strip() and not line.startswith("#")]
    listed = {line[0] for line in lines}
    for name in sorted(os.listdir(folder)):
        if name != "expectations.txt" and name not in listed:
            print(f"FAIL {name}: in regressions/ but not in expectations.txt")
            failed += 1
    for name, code, fragment in lines:
        path = os.path.join(folder, name)
        fragment = fragment.strip()
        with tempfile.TemporaryDirectory() as tmp:
            if name.endswith(".onnx"):
                args = [binary, path] + declared_inputs(path, tmp)
            else:
                args = [binary, digits, path]
            rc, text, cpu, peak = run(peak_rss, args)
        problems = []
        if rc != int(code):
            problems.append(f"exit {rc}, expected {code}")
        if fragment not in text:
            problems.append(f"message lacks '{fragment}'")
        if "Sanitizer" in text or "runtime error:" in text:
            problems.append("sanitizer report")
        if not SANITIZED and cpu > CPU_SECONDS:
            problems.append(f"{cpu:.2f} s of CPU, bound {CPU_SECONDS} s")
        if not SANITIZED and peak > PEAK_MB:
            problems.append(f"peak {peak:.0f} MB, bound {PEAK_MB} MB")
        if problems:
            failed += 1
            print(f"FAIL {name}: {'; '.join(problems)}\n  {' '.join(args)}\n  " +
                  text.strip().replace("\n", "\n  "))
        else:
            passed += 1
            print(f"PASS {name}: exit {rc}, {cpu:.2f} s CPU, {peak:.0f} MB peak")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
