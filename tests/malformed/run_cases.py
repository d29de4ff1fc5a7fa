#!/usr/bin/python3
"""Runs the malformed-input catalogue (cases/catalogue.tsv, made by make_cases.py) through the
cnnrun program and checks, for every case:

  - the exit code is the expected one (2: a clean refusal), never a signal;
  - stderr contains the expected phrase (case-insensitive) and no sanitizer report;
  - the run ends within TIME_LIMIT seconds and its peak resident memory (getrusage of the child)
    stays under RSS_LIMIT_MB: a few bytes of file must not make cnnrun touch gigabytes.

As a safety net the child's address space is capped (ADDRESS_SPACE_GB), so a regression that
tries to allocate terabytes fails that allocation instead of taking the machine down; the peak RSS
check is what tells such a regression apart from a refusal. The cap is skipped for sanitizer
builds (ASan reserves terabytes of shadow address space).

Usage: run_cases.py CNNRUN_BIN SOURCE_DIR   (environment CNNRUN_SANITIZED=1 drops the cap)
"""
import os
import resource
import sys
import time

TIME_LIMIT = 20.0
RSS_LIMIT_MB = 64
ADDRESS_SPACE_GB = 8
SANITIZER_MARKS = ("Sanitizer", "runtime error:", "LeakSanitizer")


def cap_address_space():
    limit = ADDRESS_SPACE_GB << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_case_rusage(binary, argv, cwd, capped):
    """Runs one case; returns (exit code or -signal, stderr, seconds, peak RSS in MB)."""
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            if capped:
                cap_address_space()
            os.dup2(err_w, 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(err_r)
            os.execv(binary, [binary] + argv)
        finally:
            os._exit(127)
    os.close(err_w)
    chunks, killed = [], False
    os.set_blocking(err_r, False)
    while True:
        try:
            chunk = os.read(err_r, 65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            chunks.append(chunk)
            continue
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > TIME_LIMIT and not killed:
            os.kill(pid, 9)
            killed = True
        time.sleep(0.01)
    while True:
        try:
            chunk = os.read(err_r, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(err_r)
    elapsed = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    return code, b"".join(chunks).decode("utf-8", "replace"), elapsed, usage.ru_maxrss / 1024.0


def load_catalogue(path):
    cases = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, role, code, phrase = line.rstrip("\n").split("\t")
            cases.append((name, role, int(code), phrase))
    return cases


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cases_dir = os.path.join(source, "tests", "malformed", "cases")
    model = os.path.join(source, "models", "digits_cnn.onnx")
    sample = os.path.join(source, "models", "digit_sample.npy")
    capped = os.environ.get("CNNRUN_SANITIZED") != "1"
    cases = load_catalogue(os.path.join(cases_dir, "catalogue.tsv"))
    failures, worst_rss, worst_time = [], 0.0, 0.0
    for name, role, want_code, phrase in cases:
        argv = [name, sample] if role == "model" else [model, name]
        code, err, secs, rss = run_case_rusage(binary, argv, cases_dir, capped)
        worst_rss, worst_time = max(worst_rss, rss), max(worst_time, secs)
        problems = []
        if code != want_code:
            problems.append(f"exit {code}, expected {want_code}")
        if phrase.lower() not in err.lower():
            problems.append(f"message lacks '{phrase}'")
        if any(mark in err for mark in SANITIZER_MARKS):
            problems.append("sanitizer report")
        if secs > TIME_LIMIT:
            problems.append(f"took {secs:.1f} s (limit {TIME_LIMIT:.0f})")
        if rss > RSS_LIMIT_MB:
            problems.append(f"peak RSS {rss:.0f} MB (limit {RSS_LIMIT_MB})")
        first = err.strip().splitlines()[0] if err.strip() else "(no message)"
        status = "ok  " if not problems else "FAIL"
        print(f"{status} {name:38s} exit {code:3d} {secs:5.2f} s {rss:6.1f} MB  {first[:150]}")
        if problems:
            failures.append((name, problems, err))
    print(f"\n{len(cases) - len(failures)} of {len(cases)} cases passed; worst time "
          f"{worst_time:.2f} s, worst peak RSS {worst_rss:.0f} MB")
    for name, problems, err in failures:
        print(f"\n{name}: {'; '.join(problems)}\n{err[-2000:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
