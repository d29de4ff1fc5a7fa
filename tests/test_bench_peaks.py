#!/usr/bin/python3
"""The benchmark's machine peaks (bench/machine_peak.c) and the rule built on them
(bench/peaks.py): a row faster than the arithmetic its kernels ran is invalid, never published.

    test_bench_peaks.py MACHINE_PEAK_BINARY
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import peaks  # noqa: E402

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


def main(binary):
    measured = peaks.measure(binary, 2, seconds=0.05)
    # Operations per instruction, by hand: a zmm holds 16 floats, a multiply-add counts 2.
    per_op = {"fp32_fma_avx512": 32, "fp32_fma_avx2": 16, "bf16_dot_avx512": 64,
              "int8_dot_vnni": 128, "amx_bf16": 16 * 16 * 32 * 2, "amx_int8": 16 * 16 * 64 * 2}
    check("every kind reported", set(measured) == set(per_op), str(measured))
    with os.popen(f"{binary} --threads 1 --seconds 0.02") as f:
        text = f.read()
    for kind, flop in per_op.items():
        if f'"kind":"{kind}","threads"' in text:
            check(f"{kind} counts {flop} operations per instruction", f'"flop_per_op":{flop}}}' in text, text)
    for kind, value in measured.items():
        if isinstance(value, dict):
            check(f"{kind} measured on 1 and 2 threads", set(value) == {"1", "2"} and
                  all(g > 0 for g in value.values()), str(value))
    check("this machine has a float32 FMA peak",
          isinstance(measured.get("fp32_fma_avx512"), dict) or isinstance(measured.get("fp32_fma_avx2"), dict))

    # combine keeps the higher figure per kind and thread count
    both = peaks.combine({"fp32_fma_avx512": {"1": 100.0, "2": 150.0}, "amx_bf16": "needs AMX"},
                         {"fp32_fma_avx512": {"1": 90.0, "2": 210.0}})
    check("combine keeps the best", both == {"fp32_fma_avx512": {"1": 100.0, "2": 210.0},
                                             "amx_bf16": "needs AMX"}, str(both))

    # The rule: against a 200 GFLOP/s float32 peak, 150 is 75%, 250 is invalid; a bfloat16 row is
    # judged against AMX only when oneDNN ran AMX kernels.
    machine = {"fp32_fma_avx512": {"2": 200.0}, "bf16_dot_avx512": {"2": 400.0},
               "amx_bf16": {"2": 4000.0}}
    ok_row = {"precision": "fp32", "error": None, "cnnrun": {"gflops_per_s": 150.0}}
    peaks.judge_row(ok_row, machine, 2, None)
    check("a row below the peak keeps its result", ok_row["error"] is None and
          abs(ok_row["cnnrun"]["peak"]["share"] - 0.75) < 1e-12, str(ok_row))
    fast_row = {"precision": "fp32", "error": None, "cnnrun": {"gflops_per_s": 250.0}}
    peaks.judge_row(fast_row, machine, 2, None)
    check("a row above the peak is invalid", fast_row["error"] is not None and
          "125% of this machine's measured float32 FMA" in fast_row["error"], str(fast_row))
    avx = {"implementations": [(34, "convolution", "brgconv:avx512_core_bf16")]}
    amx = {"implementations": [(72, "convolution", "brgconv_1x1:avx512_core_amx_bf16")]}
    for onednn, expect_kind, expect_error in ((avx, "bf16_dot_avx512", True), (amx, "amx_bf16", False)):
        row = {"precision": "bf16", "error": None, "cnnrun": {"gflops_per_s": 1000.0}}
        peaks.judge_row(row, machine, 2, onednn)
        check(f"bfloat16 on {expect_kind}", row["cnnrun"]["peak"]["kind"] == expect_kind and
              (row["error"] is not None) == expect_error, str(row))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
