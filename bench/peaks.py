"""The machine's arithmetic peaks (DIR/machine_peak, bench/machine_peak.c) and each row's share
of the peak that applies to it.

A row's GFLOP/s can approach its peak but never pass it: a row above 100% is an error of the
measurement (a FLOP count or a time that is wrong, or a figure from another machine), so it is
marked invalid rather than published. The peak that applies is that of the arithmetic the row's
kernels ran: float32 FMA for float32 rows; for bfloat16 rows, AMX's tile dot products when oneDNN
dispatched to AMX (the bfloat16 probe's implementations say so), else AVX-512 BF16's vdpbf16ps.
Peaks are measured before and after the rows; each kind keeps the higher figure, since other work
on the machine can only lower a measurement.
"""
import json
import subprocess

KIND_TEXT = {
    "fp32_fma_avx512": "float32 FMA, AVX-512 (vfmadd231ps zmm)",
    "fp32_fma_avx2": "float32 FMA, AVX2 (vfmadd231ps ymm)",
    "bf16_dot_avx512": "bfloat16 dot product, AVX-512 BF16 (vdpbf16ps zmm)",
    "int8_dot_vnni": "int8 dot product, AVX-512 VNNI (vpdpbusd zmm)",
    "amx_bf16": "bfloat16 tile dot product, AMX (tdpbf16ps)",
    "amx_int8": "int8 tile dot product, AMX (tdpbusd)",
}


def measure(program, threads, seconds=0.3):
    """{kind: {threads: GFLOP/s}} plus {kind: "unsupported: why"} for kinds the CPU lacks."""
    out = subprocess.run([program, "--threads", str(threads), "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    peaks = {}
    for line in out.splitlines():
        entry = json.loads(line)
        if "unsupported" in entry:
            peaks[entry["kind"]] = entry["unsupported"]
        else:
            peaks.setdefault(entry["kind"], {})[str(entry["threads"])] = entry["gflops"]
    return peaks


def combine(*measurements):
    """The higher figure of each kind and thread count over several measurements."""
    best = {}
    for peaks in measurements:
        for kind, value in peaks.items():
            if isinstance(value, str):
                best.setdefault(kind, value)
                continue
            into = best.get(kind)
            if not isinstance(into, dict):
                into = best[kind] = {}
            for threads, gflops in value.items():
                into[threads] = max(into.get(threads, 0.0), gflops)
    return best


def kind_for(precision, onednn_bf16):
    """The peak kind that bounds a row of this precision (None when not measurable)."""
    if precision == "fp32":
        return ["fp32_fma_avx512", "fp32_fma_avx2"]
    uses_amx = onednn_bf16 and any("amx" in impl for _, _, impl in onednn_bf16["implementations"])
    return ["amx_bf16"] if uses_amx else ["bf16_dot_avx512"]


def peak_for(peaks, kinds, threads):
    """(kind, GFLOP/s) of the first kind measured at this thread count, or (None, None)."""
    for kind in kinds:
        value = peaks.get(kind)
        if isinstance(value, dict) and str(threads) in value:
            return kind, value[str(threads)]
    return None, None


IMPOSSIBLE = "not a possible result"


def judge_row(row, peaks, threads, onednn_bf16):
    """Sets row["cnnrun"]["peak"] = {kind, gflops, share}; a row above its peak becomes invalid
    (a verdict of an earlier judgement, on other FLOP counts, is taken back first)."""
    if row.get("error") and row["error"].endswith(IMPOSSIBLE):
        row["error"] = None
    c = row.get("cnnrun")
    if not c or not c.get("gflops_per_s"):
        return
    kind, gflops = peak_for(peaks, kind_for(row.get("precision", "fp32"), onednn_bf16), threads)
    if not kind:
        return
    share = c["gflops_per_s"] / gflops
    c["peak"] = {"kind": kind, "gflops": gflops, "share": share}
    if share > 1.0 and not row["error"]:
        row["error"] = (f"{c['gflops_per_s']:.0f} GFLOP/s is {100 * share:.0f}% of this machine's "
                        f"measured {KIND_TEXT[kind]} peak of {gflops:.0f} GFLOP/s on {threads} "
                        f"threads: {IMPOSSIBLE}")
