#!/usr/bin/python3
"""The by-hand mutation check of issue 9: randomly mutated copies of a model and of an .npy input
go through the cnnrun program, which must answer every one with exit code 0, 1 or 2 (never a
signal, a sanitizer's own exit code or a hang) and print no sanitizer report. Run it against the
sanitizer build (-DCNNRUN_SANITIZE=ON) so that memory errors that do not crash are seen too:

    /usr/bin/python3 tests/hardening/mutate_cli.py BUILD/cnnrun MODEL.onnx INPUTS \\
        --npy-model models/digits_cnn.onnx --npy models/digit_sample.npy \\
        --models 300 --npys 100 --seed 1

MODEL's copies run with INPUTS (an .npy or .npz that fits MODEL); the .npy's copies run with
--npy-model. Each copy gets 1 to 8 mutations: bit flips, bytes set to boundary values (0, 0xff,
0x7f, 0x80), 4- and 8-byte integers overwritten with boundary values, chunks deleted, duplicated
or inserted, or the file truncated. Failing inputs are kept in --keep (default ./mutate-failures).
Prints a line per failure and a summary of exit codes.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

SANITIZER_MARKS = ("Sanitizer", "runtime error:")
BOUNDARY = [0, 1, 0x7F, 0x80, 0xFF]
WIDE = [0, 1, -1, 0x7FFFFFFF, -0x80000000, 0xFFFFFFFF, 1 << 40, (1 << 63) - 1]


def mutate(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not b:
            b = bytearray(rng.randbytes(rng.randint(1, 16)))
            continue
        kind = rng.randrange(7)
        pos = rng.randrange(len(b))
        if kind == 0:
            b[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[pos] = rng.choice(BOUNDARY)
        elif kind == 2 and pos + 8 <= len(b):
            v = rng.choice(WIDE)
            if rng.random() < 0.5 and -(1 << 31) <= v < (1 << 32):
                b[pos:pos + 4] = struct.pack("<I", v & 0xFFFFFFFF)
            else:
                b[pos:pos + 8] = struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
        elif kind == 3:
            del b[pos:pos + rng.randint(1, 64)]
        elif kind == 4:
            n = rng.randint(1, 64)
            b[pos:pos] = b[pos:pos + n]
        elif kind == 5:
            b[pos:pos] = rng.randbytes(rng.randint(1, 16))
        else:
            del b[pos:]
    return bytes(b)


def run(binary, argv, timeout):
    try:
        p = subprocess.run([binary] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", ""


def check_copies(label, binary, original, count, make_argv, suffix, rng, workdir, keep, timeout):
    with open(original, "rb") as f:
        data = f.read()
    codes, failures = {}, 0
    for i in range(count):
        path = os.path.join(workdir, f"{label}_{i}{suffix}")
        with open(path, "wb") as f:
            f.write(mutate(data, rng))
        code, err = run(binary, make_argv(path), timeout)
        codes[code] = codes.get(code, 0) + 1
        reported = any(m in err for m in SANITIZER_MARKS)
        if code not in (0, 1, 2) or reported:
            failures += 1
            os.makedirs(keep, exist_ok=True)
            kept = os.path.join(keep, os.path.basename(path))
            shutil.copyfile(path, kept)
            print(f"FAIL {label} copy {i}: exit {code}{', sanitizer report' if reported else ''}"
                  f" (kept as {kept})\n{err[-1500:]}")
        os.unlink(path)
    summary = ", ".join(f"exit {k}: {v}" for k, v in sorted(codes.items(), key=str))
    print(f"{label}: {count} mutated copies of {original}: {summary}; {failures} failures")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("inputs")
    ap.add_argument("--npy-model", required=True)
    ap.add_argument("--npy", required=True)
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--npys", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--keep", default="mutate-failures")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as workdir:
        failures = check_copies("model", a.binary, a.model, a.models,
                                lambda p: [p, a.inputs], ".onnx", rng, workdir, a.keep, a.timeout)
        failures += check_copies("npy", a.binary, a.npy, a.npys,
                                 lambda p: [a.npy_model, p], ".npy", rng, workdir, a.keep,
                                 a.timeout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
