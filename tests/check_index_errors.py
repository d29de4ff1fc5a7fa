#!/usr/bin/env python3
"""Indices out of range are a clean error, never an access outside a tensor: every model in
FIXTURES/indexing_cases/bad_index (made by fixtures/make_indexing_cases.py) must make `cnnrun`
exit with status 2 and a message naming the node and the offending index or target.

Usage: check_index_errors.py   (env CNNRUN_BIN, CNNRUN_FIXTURES)"""
import os
import re
import subprocess
import sys

NAMES_INDEX = re.compile(r"node '[^']+' \([A-Za-z]+, opset \d+\): (index|target) -?\d+ ")


def main():
    root = os.path.join(os.environ["CNNRUN_FIXTURES"], "indexing_cases", "bad_index")
    passed = failed = 0
    for case in sorted(os.listdir(root)):
        d = os.path.join(root, case)
        proc = subprocess.run([os.environ["CNNRUN_BIN"], os.path.join(d, "model.onnx"), os.path.join(d, "inputs.npz")],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode == 2 and NAMES_INDEX.search(proc.stderr):
            print(f"PASS {case}")
            passed += 1
        else:
            print(f"FAIL {case}: exit {proc.returncode}, stderr {proc.stderr.strip()[-300:]!r}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
