#!/usr/bin/python3
"""Checks the .npy files that test_arrays wrote with cnnrun_npy_save, using numpy as the reference.

Usage: check_npy_written.py <fixture dir>   (reads <dir>/written/manifest.txt, lines
    array <file> <name> <dtype> <rank> <dims...> <a> <b> <m>
meaning element i (C order) = a * (i % m) + b). For each file: numpy.load must give that dtype,
shape and values, and the bytes must be exactly what numpy.save writes for the same array (format
1.0, header padded so the data start at a multiple of 64 bytes).
"""
import io
import os
import sys

import numpy as np


def main():
    written = os.path.join(sys.argv[1], "written")
    failures, checked = 0, 0
    with open(os.path.join(written, "manifest.txt")) as manifest:
        lines = [line.split() for line in manifest if line.strip()]
    for fields in lines:
        assert fields[0] == "array", fields
        fname, dtype, rank = fields[1], fields[3], int(fields[4])
        shape = tuple(int(d) for d in fields[5:5 + rank])
        a, b, m = float(fields[5 + rank]), float(fields[6 + rank]), int(fields[7 + rank])
        n = int(np.prod(shape, dtype=np.int64))
        expected = (a * (np.arange(n, dtype=np.float64) % m) + b).astype(np.dtype(dtype)).reshape(shape)

        path = os.path.join(written, fname)
        raw = open(path, "rb").read()
        got = np.load(path, allow_pickle=False)
        reference = io.BytesIO()
        np.save(reference, expected)
        problems = []
        if got.dtype != expected.dtype:
            problems.append(f"dtype {got.dtype}, expected {expected.dtype}")
        if got.shape != expected.shape:
            problems.append(f"shape {got.shape}, expected {expected.shape}")
        elif not np.array_equal(got, expected):
            problems.append(f"values differ: {got.ravel()[:8]} vs {expected.ravel()[:8]}")
        if raw[6:8] != b"\x01\x00":
            problems.append(f"format version {raw[6]}.{raw[7]}, expected 1.0")
        elif (10 + int.from_bytes(raw[8:10], "little")) % 64 != 0:
            problems.append("data do not start at a multiple of 64 bytes")
        if raw != reference.getvalue():
            problems.append("bytes differ from numpy.save's")
        checked += 1
        if problems:
            failures += 1
            print(f"{fname}: " + "; ".join(problems))
    print(f"{checked - failures} passed, {failures} failed")
    return 1 if failures or checked < 20 else 0


if __name__ == "__main__":
    sys.exit(main())
