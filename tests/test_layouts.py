#!/usr/bin/python3
"""The planner's layouts and fusions, seen through the cnnrun program on the cases of
tests/fixtures/make_layout_cases.py:

  - every case matches PyTorch's outputs (cnnrun --expect, the default tolerances);
  - `cnnrun --profile` shows the plan the case's plan.txt describes: how many layout reorders the
    run needs, which nodes' steps carry which fused post-ops, and which nodes stay steps of their
    own (fusions that would be wrong must not happen).

Environment (set by ctest): CNNRUN_BIN, CNNRUN_FIXTURES (the layout_cases directory is inside).
Standard library only. Prints one line per check and "N passed, M failed".
"""
import os
import re
import subprocess
import sys

CASES = ["residual_block", "addend_read_later", "addend_is_conv_input", "output_tap", "squeeze_excite",
         "dense_layer", "inverted_residual", "activations", "pool_with_indices", "zero_pad_avgpool",
         "classifier_head", "winograd_chain"]


def has_winograd_kernels():
    """oneDNN 2.6 has float32 Winograd convolution on avx512_core: AVX-512 F, BW, VL and DQ."""
    with open("/proc/cpuinfo") as f:
        flags = set(next((line for line in f if line.startswith("flags")), "").split())
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags


def parse_profile(text):
    """Rows of the profile table as node: (op, fused, implementation) and the reorder count."""
    rows, reorders, in_table = {}, None, False
    for line in text.splitlines():
        if line.startswith("node "):
            in_table = True
            continue
        if line.startswith("total:"):
            in_table = False
        m = re.match(r"layout reorders: (\d+),", line)
        if m:
            reorders = int(m.group(1))
        if in_table and line.strip():
            cols = re.split(r"\s{2,}", line.strip())
            op, _, fused = cols[1].partition("+")
            rows[cols[0]] = (op, fused, cols[4] if len(cols) > 4 else "")
    return rows, reorders


def check_case(binary, case_dir):
    """Problems with one case (empty when it passes)."""
    with open(os.path.join(case_dir, "plan.txt"), encoding="utf-8") as f:
        plan = [line.split() for line in f if line.strip()]
    args = [word for words in plan if words[0] == "args" for word in words[1:]]
    proc = subprocess.run([binary, os.path.join(case_dir, "model.onnx"), os.path.join(case_dir, "inputs.npz"),
                           "--expect", os.path.join(case_dir, "expected.npz"), "--profile", "--bench", "2",
                           "--threads", "2", *args], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return [f"exit code {proc.returncode}: {proc.stderr.strip()[-400:]} {proc.stdout[-400:]}"]
    rows, reorders = parse_profile(proc.stdout)
    problems = []
    for words in plan:
        kind = words[0]
        if kind == "reorders" and reorders != int(words[1]):
            problems.append(f"{reorders} layout reorders, expected {words[1]}")
        elif kind in ("fused", "alone"):
            node = words[1]
            want = words[2] if kind == "fused" else ""
            if node not in rows:
                problems.append(f"no step for node {node} (steps: {', '.join(sorted(rows))})")
            elif rows[node][1] != want:
                problems.append(f"node {node} carries post-ops '{rows[node][1]}', expected '{want}'")
        elif kind in ("winograd", "direct"):
            node = words[1]
            want_wino = kind == "winograd" and has_winograd_kernels()
            if node not in rows:
                problems.append(f"no step for node {node} (steps: {', '.join(sorted(rows))})")
            elif ("wino" in rows[node][2]) != want_wino:
                problems.append(f"node {node} runs on {rows[node][2]}, expected a "
                                f"{'Winograd' if want_wino else 'direct'} kernel")
    if problems:
        problems.append("profile:\n" + proc.stdout)
    return problems


def main():
    binary = os.environ["CNNRUN_BIN"]
    root = os.path.join(os.environ["CNNRUN_FIXTURES"], "layout_cases")
    passed = failed = 0
    for case in CASES:
        case_dir = os.path.join(root, case)
        problems = check_case(binary, case_dir) if os.path.isdir(case_dir) else [f"{case_dir} is missing"]
        if problems:
            failed += 1
            print(f"FAIL {case}: " + "; ".join(problems), flush=True)
        else:
            passed += 1
            print(f"PASS {case}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
