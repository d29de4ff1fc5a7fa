#!/usr/bin/python3
"""The oneDNN int8 kernels of ConvInteger, QLinearConv, MatMulInteger and QLinearMatMul against NumPy.

The ONNX test suite feeds every parameter as a graph input, so its cases run the plain C kernels;
these models make the weights, scales and zero points constants (as quantized models have them),
which sends the ops to oneDNN, and check them against a NumPy implementation of the ONNX formulas:
  - ConvInteger with int8 weights and x's zero point a graph input (oneDNN's run-time zero point,
    as after DynamicQuantizeLinear), with padding, strides, dilations and groups, so padded taps
    must read the zero point; uint8 weights with zero point 128 (shifted to int8);
  - QLinearConv with per-channel weight scales and zero points, an int32 bias, int8 and uint8
    outputs (requantisation as output scales and zero point, saturation included);
  - QuantizeLinear: ties to even, saturation, infinities, exactly;
  - MatMulInteger with a run-time zero point for A and per-column zero points for B, QLinearMatMul
    with per-column scales and A of rank 3.
ConvInteger and MatMulInteger must match exactly (int32); the requantised outputs within one
quantization step (float32 products rounded in another order may flip a half). Each case also
checks, through --profile, that the oneDNN kernel (not the C kernel) ran.
Prints one line per check and "N passed, M failed"; exits non-zero on any failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(1234)
NP_TO_ONNX = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8, np.int32: TensorProto.INT32,
              np.float32: TensorProto.FLOAT}


def conv_ref(x, w, x_zp, w_zp, strides, pads, dil, group):
    """int64 sums of (x - x_zp) * (w - w_zp[oc]) with ONNX's padding (padded taps read x_zp)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.full((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), x_zp, np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    xp -= x_zp
    wz = w.astype(np.int64) - np.asarray(w_zp, np.int64).reshape(-1, 1, 1, 1)
    oh = (xp.shape[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (xp.shape[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for oc in range(m):
        g = oc // mg
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg, i * dil[0]:i * dil[0] + strides[0] * oh:strides[0],
                           j * dil[1]:j * dil[1] + strides[1] * ow:strides[1]]
                y[:, oc] += np.einsum("nchw,c->nhw", patch, wz[oc, :, i, j])
    return y


def requant(acc, mult, zp, dtype):
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    v = np.rint(acc.astype(np.float32) * mult.astype(np.float32)) + zp
    return np.clip(v, lo, hi).astype(dtype)


def model_of(node, inputs, inits, out_name, out_dtype):
    graph = helper.make_graph(
        [node], "int8_kernel",
        [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], list(a.shape)) for n, a in inputs.items()],
        [helper.make_tensor_value_info(out_name, NP_TO_ONNX[out_dtype], None)],
        [numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def cases():
    # ConvInteger: int8 weights, run-time x zero point, padding + stride + dilation + groups
    x = RNG.integers(0, 256, (2, 8, 11, 9), dtype=np.uint8)
    w = RNG.integers(-128, 128, (12, 4, 3, 3), dtype=np.int8)
    xzp = np.array(137, np.uint8)
    node = helper.make_node("ConvInteger", ["x", "w", "x_zp"], ["y"], pads=[1, 2, 2, 1], strides=[2, 1],
                            dilations=[1, 2], group=2)
    y = conv_ref(x, w, 137, [0] * 12, [2, 1], [1, 2, 2, 1], [1, 2], 2).astype(np.int32)
    yield "ConvInteger int8 weights, run-time x zero point, padded, grouped", node, {"x": x, "x_zp": xzp}, \
        {"w": w}, y, 0

    # ConvInteger: uint8 weights with zero point 128 (shift to int8 is exact)
    w8 = RNG.integers(0, 256, (6, 8, 3, 3), dtype=np.uint8)
    node = helper.make_node("ConvInteger", ["x", "w", "x_zp", "w_zp"], ["y"], pads=[1, 1, 1, 1])
    y = conv_ref(x, w8, 137, [128] * 6, [1, 1], [1, 1, 1, 1], [1, 1], 1).astype(np.int32)
    yield "ConvInteger uint8 weights, zero point 128", node, {"x": x}, \
        {"w": w8, "x_zp": xzp, "w_zp": np.array(128, np.uint8)}, y, 0

    # QLinearConv: per-channel scales and zero points, bias, both output types
    wq = RNG.integers(-100, 100, (10, 8, 3, 3), dtype=np.int8)
    wzp = RNG.integers(-20, 20, 10).astype(np.int8)
    ws = (RNG.random(10) * 0.02 + 0.005).astype(np.float32)
    b = RNG.integers(-5000, 5000, 10).astype(np.int32)
    xs = np.float32(0.02)
    acc = conv_ref(x, wq, 137, wzp, [1, 1], [1, 1, 1, 1], [1, 1], 1) + b.reshape(1, -1, 1, 1)
    # the int8 case's y_scale is small enough that a tenth of the outputs saturate
    for dtype, yzp, ys in ((np.uint8, np.array(120, np.uint8), np.float32(0.9)),
                           (np.int8, np.array(-7, np.int8), np.float32(0.15))):
        mult = (xs * ws / ys).astype(np.float32).reshape(1, -1, 1, 1)
        node = helper.make_node("QLinearConv", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp", "b"], ["y"],
                                pads=[1, 1, 1, 1])
        inits = {"xs": np.array(xs), "xzp": xzp, "w": wq, "ws": ws, "wzp": wzp, "ys": np.array(ys), "yzp": yzp, "b": b}
        yield f"QLinearConv per-channel, bias, {np.dtype(dtype).name} output", node, {"x": x}, inits, \
            requant(acc, mult, int(yzp), dtype), 1

    # QuantizeLinear: ties to even, saturation, infinities (NaN is undefined in ONNX: not checked);
    # a large tensor so that any vectorised or parallel loop runs too
    special = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, -128.5, -129.5, 1e10, -1e10,
                        np.inf, -np.inf, 3.4999998, -0.49999997], np.float32)
    xq = np.concatenate([special, (RNG.standard_normal(100000) * 80).astype(np.float32)]) * np.float32(0.5)
    for dtype, zp in ((np.uint8, 3), (np.int8, -1)):
        node = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"])
        t = xq / np.float32(0.5)
        ref = np.clip(np.rint(np.nan_to_num(t, posinf=1e9, neginf=-1e9)) + zp,
                      np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
        yield f"QuantizeLinear to {np.dtype(dtype).name}: ties to even, saturation", node, {"x": xq}, \
            {"s": np.array(0.5, np.float32), "zp": np.array(zp, dtype)}, ref, 0

    # MatMulInteger: run-time A zero point, per-column B zero points
    a = RNG.integers(0, 256, (3, 5, 40), dtype=np.uint8)
    bm = RNG.integers(-60, 60, (40, 24), dtype=np.int8)
    bzp = RNG.integers(-60, 60, 24).astype(np.int8)
    azp = np.array(99, np.uint8)
    node = helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"])
    y = ((a.astype(np.int64) - 99) @ (bm.astype(np.int64) - bzp.astype(np.int64))).astype(np.int32)
    yield "MatMulInteger run-time A zero point, per-column B zero points", node, {"a": a, "azp": azp}, \
        {"b": bm, "bzp": bzp}, y, 0

    # QLinearMatMul: per-column scales
    bs = (RNG.random(24) * 0.01 + 0.002).astype(np.float32)
    node = helper.make_node("QLinearMatMul", ["a", "as", "azp", "b", "bs", "bzp0", "ys", "yzp"], ["y"])
    accm = (a.astype(np.int64) - 99) @ bm.astype(np.int64)
    inits = {"as": np.array(0.03, np.float32), "azp": azp, "b": bm, "bs": bs, "bzp0": np.array(0, np.int8),
             "ys": np.array(0.5, np.float32), "yzp": np.array(128, np.uint8)}
    yield "QLinearMatMul per-column scales, rank-3 A", node, {"a": a}, inits, \
        requant(accm, (np.float32(0.03) * bs / np.float32(0.5)).astype(np.float32), 128, np.uint8), 1


def main():
    cnnrun = os.environ["CNNRUN_BIN"]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, node, inputs, inits, expected, steps) in enumerate(cases()):
            path = os.path.join(tmp, f"case{i}.onnx")
            onnx.save(model_of(node, inputs, inits, "y", expected.dtype.type), path)
            inp = os.path.join(tmp, f"in{i}.npz")
            np.savez(inp, **inputs)
            out = os.path.join(tmp, f"out{i}.npy")
            proc = subprocess.run([cnnrun, path, inp, "-o", out], capture_output=True, text=True)
            problem = None
            if proc.returncode != 0:
                problem = f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
            else:
                got = np.load(out)
                err = int(np.max(np.abs(got.astype(np.int64) - expected.astype(np.int64))))
                if got.shape != expected.shape or got.dtype != expected.dtype:
                    problem = f"{got.dtype}{got.shape} vs {expected.dtype}{expected.shape}"
                elif err > steps:
                    problem = f"max |cnnrun - NumPy| = {err} (bound {steps})"
                prof = subprocess.run([cnnrun, "--profile", "--bench", "1", path, inp], capture_output=True,
                                      text=True).stdout
                if problem is None and "reference" in prof and node.op_type != "QuantizeLinear":
                    problem = "ran on the plain C kernel, not oneDNN:\n" + prof
            print(f"{'PASS' if problem is None else 'FAIL'} {name}" + (f": {problem}" if problem else ""), flush=True)
            passed += problem is None
            failed += problem is not None
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
