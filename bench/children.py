"""Runs one benchmark child process and measures it: its JSON line and its own peak memory.

The child is started through the build's peak_rss launcher (bench/peak_rss.c), which reads that
one child's rusage with wait4 and prints its ru_maxrss as a last line. The launcher is needed
because Linux counts the memory of whoever calls exec in the new program's ru_maxrss: a child
started straight from this driver would report the driver's own peak (numpy, onnx and a parsed
model) instead of its own. Nothing in the children has to measure itself, and both runtimes are
measured the same way. The launcher also reports the child's CPU time, from which the share of
the machine that other processes took meanwhile is worked out (cpu_load.py).
"""
import json
import os
import signal
import subprocess
import tempfile
import time

import cpu_load


class ChildFailed(Exception):
    """A child exited with an error, timed out or printed no JSON line."""


class ChildResult:
    def __init__(self, report, peak_rss_bytes, wall_s, others_share, stdout_lines):
        self.report = report                  # the child's JSON line, parsed
        self.peak_rss_bytes = peak_rss_bytes  # ru_maxrss of this child alone
        self.wall_s = wall_s
        self.others_share = others_share      # share of the machine other processes used meanwhile
        self.stdout_lines = stdout_lines      # everything it printed (e.g. oneDNN's verbose lines)


def run_child(launcher, argv, env=None, timeout_s=900):
    """Runs argv under the peak_rss launcher; returns a ChildResult or raises ChildFailed."""
    name = os.path.basename(argv[0])
    with tempfile.TemporaryFile() as stderr:
        busy_before, start = cpu_load.busy_seconds(), time.monotonic()
        # Its own session, so that a timeout can stop the launcher and the child together.
        proc = subprocess.Popen([launcher, *argv], stdout=subprocess.PIPE, stderr=stderr,
                                env=env, start_new_session=True)
        try:
            stdout, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ChildFailed(f"{name} timed out after {timeout_s} s")
        wall_s, busy_after = time.monotonic() - start, cpu_load.busy_seconds()
        stderr.seek(0)
        err = stderr.read().decode(errors="replace").strip()
    lines = stdout.decode(errors="replace").splitlines()
    if proc.returncode != 0:
        raise ChildFailed(f"{name} exit code {proc.returncode}: {err[-2000:] or '(no message)'}")
    reports = [json.loads(line) for line in lines if line.startswith("{")]
    if len(reports) < 2 or "peak_rss_kb" not in reports[-1]:
        raise ChildFailed(f"{name} printed no JSON line: {err[-2000:]}")
    usage = reports[-1]
    others = cpu_load.others_share(busy_before, busy_after, wall_s, usage["cpu_s"])
    return ChildResult(reports[-2], usage["peak_rss_kb"] * 1024, wall_s, others, lines[:-1])
