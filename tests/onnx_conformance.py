#!/usr/bin/env python3
"""Runs the ONNX backend test suite (Debian's libonnx-testdata) through cnnrun and reports.

Usage: onnx_conformance.py RUNNER SUITE_ROOT REPORT.md   (env CNNRUN_BIN: the cnnrun program)

Each case (model.onnx + test_data_set_N/*.pb) is run by RUNNER (tests/run_model_cases.c) with the
suite's tolerances, rtol 1e-3 and atol 1e-7. Every case ends as pass, fail or unsupported (the
load- or plan-time error text is its reason). The test fails when
  - any case fails (wrong values, a crash, or an error other than "unsupported"), or
  - a case whose operators are all in cnnrun's registry is unsupported (an attribute or dtype the
    implementation refuses) without being listed, with its reason, in
    tests/conformance_known_unsupported.txt, or a listed case no longer needs to be there.
REPORT.md gets passed/total per suite, a table per operator, and every unsupported case with
its reason; the closing lines are the passed/total figure and "N passed, M failed"."""
import collections
import os
import re
import subprocess
import sys

import onnx

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
RTOL, ATOL = "1e-3", "1e-7"
LINE = re.compile(r"^(PASS|FAIL|UNSUPPORTED) (\S+?)(?:: (.*))?$")
HERE = os.path.dirname(os.path.abspath(__file__))


def registered_ops():
    out = subprocess.run([os.environ["CNNRUN_BIN"], "--list-ops"], check=True,
                         capture_output=True, text=True).stdout
    ops = set()
    for line in out.splitlines()[2:]:
        ops.add(line.split("|")[1].strip())
    return ops | {"Constant"}  # Constant nodes are turned into constants by the loader


def known_unsupported():
    known = {}
    with open(os.path.join(HERE, "conformance_known_unsupported.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, why = line.partition(" ")
                known[name] = why.strip().lstrip("#").strip()
    return known


def case_ops(case_dir):
    try:
        model = onnx.load(os.path.join(case_dir, "model.onnx"), load_external_data=False)
        return sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                       for n in model.graph.node})
    except Exception as e:  # a case the onnx package itself cannot read
        return [f"<unreadable: {e}>"]


def run_runner(runner, paths):
    """Verdicts for the cases at paths, from one runner process."""
    proc = subprocess.run([runner, "--rtol", RTOL, "--atol", ATOL, "--unsupported-ok", *paths],
                          capture_output=True, text=True, timeout=3600)
    verdicts = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            verdicts[m.group(2)] = (m.group(1), m.group(3) or "")
    return proc.returncode, verdicts, proc.stderr


def run_suite(runner, suite_dir):
    cases = sorted(d for d in os.listdir(suite_dir)
                   if os.path.isfile(os.path.join(suite_dir, d, "model.onnx")))
    rc, verdicts, _ = run_runner(runner, [suite_dir])
    if rc not in (0, 1) or len(verdicts) != len(cases):
        # The runner died part-way (a crash is a failure of that case): isolate every case left.
        for case in cases:
            if case in verdicts:
                continue
            rc1, v1, err = run_runner(runner, [os.path.join(suite_dir, case)])
            verdicts[case] = v1.get(case, ("FAIL", f"runner exited with {rc1}: {err.strip()[-300:]}"))
    return cases, verdicts


def main():
    runner, root, report_path = sys.argv[1:4]
    supported = registered_ops()
    known = known_unsupported()
    per_op = collections.defaultdict(collections.Counter)
    rows, failures, problems = [], [], []
    unsupported_lines = []
    total = collections.Counter()
    seen_known = set()
    for suite in SUITES:
        suite_dir = os.path.join(root, suite)
        if not os.path.isdir(suite_dir):
            problems.append(f"suite directory {suite_dir} is missing (install libonnx-testdata)")
            continue
        cases, verdicts = run_suite(runner, suite_dir)
        counts = collections.Counter()
        for case in cases:
            verdict, why = verdicts[case]
            ops = case_ops(os.path.join(suite_dir, case))
            counts[verdict] += 1
            for op in ops:
                per_op[op][verdict] += 1
            name = f"{suite}/{case}"
            if verdict == "FAIL":
                failures.append(f"{name}: {why}")
            elif verdict == "UNSUPPORTED":
                all_ours = all(op in supported for op in ops)
                unsupported_lines.append((name, ", ".join(ops), why, all_ours))
                if all_ours and name not in known:
                    problems.append(f"{name} ({', '.join(ops)}) is refused although every operator "
                                    f"is implemented: {why}")
                if name in known:
                    seen_known.add(name)
            elif name in known:
                problems.append(f"{name} is listed in conformance_known_unsupported.txt but now "
                                f"{'passes' if verdict == 'PASS' else 'fails'}: update the list")
                seen_known.add(name)
        rows.append((suite, counts["PASS"], len(cases), counts["FAIL"], counts["UNSUPPORTED"]))
        total.update(counts)
    for name in sorted(set(known) - seen_known):
        problems.append(f"{name} is listed in conformance_known_unsupported.txt but no such case exists")

    n_cases = sum(r[2] for r in rows)
    with open(report_path, "w", encoding="utf-8") as f:
        f.write("# ONNX backend test suite (libonnx-testdata, ONNX 1.12)\n\n")
        f.write(f"Tolerances rtol {RTOL}, atol {ATOL}. Passed {total['PASS']}/{n_cases}.\n\n")
        f.write("| suite | passed | total | failed | unsupported |\n|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |\n")
        f.write("\n## Per operator\n\nA case counts for every operator in its model.\n\n")
        f.write("| operator | in cnnrun | cases | passed | failed | unsupported |\n|---|---|---|---|---|---|\n")
        for op in sorted(per_op):
            c = per_op[op]
            f.write(f"| {op} | {'yes' if op in supported else 'no'} | {sum(c.values())} | "
                    f"{c['PASS']} | {c['FAIL']} | {c['UNSUPPORTED']} |\n")
        if failures:
            f.write("\n## Failures\n\n" + "".join(f"- {x}\n" for x in failures))
        f.write("\n## Unsupported cases\n\n| case | operators | reason |\n|---|---|---|\n")
        for name, ops, why, _ in unsupported_lines:
            f.write(f"| {name} | {ops} | {why.replace('|', '/')} |\n")

    for name, ops, why, all_ours in unsupported_lines:
        if all_ours:
            print(f"UNSUPPORTED {name} [{ops}]: {why}")
    for x in failures:
        print(f"FAIL {x}")
    for x in problems:
        print(f"PROBLEM {x}")
    for r in rows:
        print(f"{r[0]}: {r[1]}/{r[2]} passed, {r[3]} failed, {r[4]} unsupported")
    print(f"ONNX test suite: {total['PASS']}/{n_cases} passed; report: {report_path}")
    n_bad = len(failures) + len(problems)
    print(f"{total['PASS']} passed, {n_bad} failed")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
