#!/usr/bin/env python3
"""Models that must be refused cleanly: every case directory under the given fixture directories
holds model.onnx, inputs.npz and error.txt (a regular expression). Running it with `cnnrun` must
exit with status 2 and print a message matching the expression (naming the node, the operator
and what is wrong), never crash, never produce a result.

Usage: check_expected_errors.py SUBDIR...   (env CNNRUN_BIN, CNNRUN_FIXTURES; SUBDIR relative to it)"""
import os
import re
import subprocess
import sys


def main():
    passed = failed = 0
    for sub in sys.argv[1:]:
        root = os.path.join(os.environ["CNNRUN_FIXTURES"], sub)
        for case in sorted(os.listdir(root)):
            d = os.path.join(root, case)
            with open(os.path.join(d, "error.txt"), encoding="utf-8") as f:
                want = re.compile(f.read().strip())
            proc = subprocess.run([os.environ["CNNRUN_BIN"], os.path.join(d, "model.onnx"),
                                   os.path.join(d, "inputs.npz")], capture_output=True, text=True, timeout=60)
            if proc.returncode == 2 and want.search(proc.stderr):
                print(f"PASS {sub}/{case}")
                passed += 1
            else:
                print(f"FAIL {sub}/{case}: exit {proc.returncode}, stderr {proc.stderr.strip()[-300:]!r}, "
                      f"expected /{want.pattern}/")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
