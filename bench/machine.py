"""What the benchmark ran on: CPU, cores, the ISA oneDNN dispatched to, library versions.

The oneDNN figures come from one cnnrun run with ONEDNN_VERBOSE=1, whose `info` lines name the
oneDNN version and the ISA it chose, and whose `exec` lines name the implementation of every
primitive that ran (jit:avx512_core, gemm:jit, ref, ...): what the kernels really used.
"""
import collections
import os
import platform
import re
import subprocess


def _cpuinfo():
    with open("/proc/cpuinfo") as f:
        return f.read()


def cpu_description():
    """{model, logical_cpus, physical_cores, isa_flags}."""
    text = _cpuinfo()
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    cores = set(re.findall(r"^physical id\s*:\s*(\d+)\s*$.*?^core id\s*:\s*(\d+)\s*$",
                           text, re.M | re.S))
    wanted = sorted(f for f in (flags.group(1).split() if flags else [])
                    if f.startswith(("avx512", "amx", "avx2", "fma", "avx_vnni")))
    return {
        "model": model.group(1).strip() if model else "unknown",
        "logical_cpus": os.cpu_count(),
        "physical_cores": len(cores) or None,
        "isa_flags": wanted,
    }


def memory_total_gb():
    with open("/proc/meminfo") as f:
        match = re.search(r"^MemTotal:\s*(\d+) kB", f.read(), re.M)
    return int(match.group(1)) / 1024 ** 2 if match else None


def system_description():
    return {"kernel": platform.release(), "os": _os_release(), "memory_gb": memory_total_gb()}


def _os_release():
    try:
        with open("/etc/os-release") as f:
            match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', f.read(), re.M)
        return match.group(1) if match else "unknown"
    except OSError:
        return "unknown"


def onednn_from_verbose(lines):
    """{version, isa, runtime, implementations: [(count, primitive, implementation)]} from the
    stdout lines of a run with ONEDNN_VERBOSE=1 (oneDNN 2.x and 3.x spell them alike)."""
    info = {"version": None, "isa": None, "runtime": None, "implementations": []}
    implementations = collections.Counter()
    for line in lines:
        fields = line.split(",")
        if len(fields) < 3 or fields[0] not in ("onednn_verbose", "dnnl_verbose"):
            continue
        if fields[1] == "info":
            text = ",".join(fields[2:]).strip(",")
            if text.startswith("oneDNN"):
                info["version"] = text
            elif text.startswith("cpu,isa:"):
                info["isa"] = text[len("cpu,isa:"):]
            elif text.startswith("cpu,runtime:"):
                info["runtime"] = text[len("cpu,"):]
        elif fields[1] == "exec" and len(fields) > 4:
            implementations[(fields[3], fields[4])] += 1
    info["implementations"] = [(n, prim, impl) for (prim, impl), n in implementations.most_common()]
    return info


def links_openblas(library_path):
    """True if the shared library still pulls in OpenBLAS (ldd says so)."""
    try:
        out = subprocess.run(["ldd", library_path], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return "libopenblas" in out.stdout


def git_state(repo):
    """(commit, list of paths with uncommitted changes) of the source tree being measured."""
    def git(*args):
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True).stdout
    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return commit, changed
