#!/usr/bin/python3
"""cnnquantize: post-training static int8 quantization of a float32 ONNX model.

Usage:
    cnnquantize.py MODEL.onnx --calibrate SAMPLES.npz -o MODEL_INT8.onnx
                   [--cnnrun PATH] [--per-tensor] [--batch N]

Writes a standard QDQ model (QuantizeLinear / DequantizeLinear pairs around the quantized
operators, the format onnxruntime.quantization.quantize_static writes), which both cnnrun and ONNX
Runtime run; cnnrun fuses each DequantizeLinear -> Conv -> [Relu] -> QuantizeLinear group into
one int8 convolution.

What is quantized:
  - Conv, Gemm and MatMul with constant weights: weights int8, symmetric (zero point 0), per
    output channel for Conv (axis 0) unless --per-tensor, per tensor for Gemm and MatMul; a bias
    int32 with scale x_scale * w_scale, as QLinearConv defines it;
  - their activation inputs and outputs (a Conv's or Gemm's output after the Relu that follows
    it, so that the Relu is part of the fused group): uint8, asymmetric, from the minimum and
    maximum seen over the calibration samples (widened to include 0, so that 0 is exact and zero
    padding stays exact).
Everything else stays float32 between a DequantizeLinear and the next QuantizeLinear.

Calibration: SAMPLES.npz holds the model's inputs (one array per graph input, named after it, or a
single array for a single-input model), with the samples along the first axis (a batch). The tool
runs the float model with every tensor to calibrate made a graph output, through the cnnrun
program (--cnnrun, else `cnnrun` next to this script's build or on PATH), --batch samples at a time.

Needs Debian's python3-onnx (1.12) and python3-numpy. Exit status 2 with a message on bad input.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")
MIN_OPSET = 13  # per-axis QuantizeLinear / DequantizeLinear


class ToolError(Exception):
    pass


def file_name(output):
    """The file name `cnnrun -o DIR/` gives an output."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "_-" or (c == "." and i > 0)) else "_"
                   for i, c in enumerate(output))
    return name or "_"


def find_cnnrun(given):
    if given:
        return given
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "..", "build", "cnnrun"), shutil.which("cnnrun")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ToolError("cannot find the cnnrun program: give --cnnrun PATH")


class Graph:
    """The float model with the lookups the rewrite needs."""

    def __init__(self, model):
        self.model = model
        g = model.graph
        self.inits = {i.name: i for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.readers = {}
        for n in g.node:
            for i in n.input:
                self.readers.setdefault(i, []).append(n)
        self.outputs = {o.name for o in g.output}
        self.inputs = {i.name for i in g.input if i.name not in self.inits}

    def const(self, name):
        init = self.inits.get(name)
        return numpy_helper.to_array(init) if init is not None else None

    def single_reader(self, name):
        r = self.readers.get(name, [])
        return r[0] if len(r) == 1 and name not in self.outputs else None


def plan(graph, per_tensor):
    """The nodes to quantize and the activation tensors to calibrate.

    Returns (targets, tensors): targets is a list of (node, output_tensor) where output_tensor is the
    node's output or that of the Relu following it; tensors the activation names to calibrate."""
    targets, tensors = [], []
    for n in graph.model.graph.node:
        if n.op_type not in QUANTIZED_OPS or n.domain not in ("", "ai.onnx") or len(n.input) < 2:
            continue
        w = graph.const(n.input[1])
        if w is None or w.dtype != np.float32 or n.input[0] in graph.inits:
            continue
        if n.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            if attrs.get("transA", 0) != 0:
                continue
        if len(n.input) > 2 and n.input[2] and graph.const(n.input[2]) is None:
            continue
        out = n.output[0]
        relu = graph.single_reader(out)
        if relu is not None and relu.op_type == "Relu":
            out = relu.output[0]
        targets.append((n, out))
        for t in (n.input[0], out):
            if t not in tensors:
                tensors.append(t)
    return targets, tensors


def load_samples(path, graph):
    try:
        data = np.load(path)
    except Exception as e:
        raise ToolError(f"{path}: cannot read the calibration samples: {e}")
    names = sorted(graph.inputs)
    if len(data.files) == 1 and len(names) == 1:
        return {names[0]: data[data.files[0]]}
    missing = [n for n in names if n not in data.files]
    if missing:
        raise ToolError(f"{path}: no arrays for the graph inputs {missing} (found {data.files})")
    return {n: data[n] for n in names}


def calibrate(graph, tensors, samples, cnnrun, batch):
    """Minimum and maximum of each tensor over the samples, from runs of the float model."""
    probe = onnx.ModelProto()
    probe.CopyFrom(graph.model)
    have = {o.name for o in probe.graph.output}
    for t in tensors:
        if t not in have:
            probe.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    count = len(next(iter(samples.values())))
    if count == 0 or any(len(v) != count for v in samples.values()):
        raise ToolError("the calibration arrays must hold the same, nonzero number of samples")
    lo = {t: np.inf for t in tensors}
    hi = {t: -np.inf for t in tensors}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "probe.onnx")
        onnx.save(probe, model_path)
        for start in range(0, count, batch):
            chunk = os.path.join(tmp, "chunk.npz")
            np.savez(chunk, **{k: np.ascontiguousarray(v[start:start + batch]) for k, v in samples.items()})
            outdir = os.path.join(tmp, "out") + "/"
            proc = subprocess.run([cnnrun, model_path, chunk, "-o", outdir], capture_output=True, text=True)
            if proc.returncode != 0:
                raise ToolError(f"cnnrun failed on the calibration samples: {proc.stderr.strip()[-600:]}")
            for t in tensors:
                a = np.load(os.path.join(outdir, file_name(t) + ".npy"))
                if a.size:
                    lo[t] = min(lo[t], float(a.min()))
                    hi[t] = max(hi[t], float(a.max()))
            shutil.rmtree(outdir)
    return lo, hi


def activation_params(lo, hi):
    """uint8 scale and zero point covering [min(lo, 0), max(hi, 0)]."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ToolError("a calibrated tensor is not finite")
    scale = np.float32((hi - lo) / 255.0)
    if scale == 0:
        scale = np.float32(1.0)
    zp = int(np.clip(np.rint(-lo / scale), 0, 255))
    return scale, np.uint8(zp)


def weight_params(w, axis):
    """int8 symmetric scales: per slice along axis (None: per tensor)."""
    if axis is None:
        m = np.max(np.abs(w)) if w.size else 0.0
        scale = np.float32(m / 127.0 if m > 0 else 1.0)
        return scale, np.int8(0)
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    m = np.max(np.abs(moved), axis=1) if moved.size else np.zeros(w.shape[axis])
    scale = np.where(m > 0, m / 127.0, 1.0).astype(np.float32)
    return scale, np.zeros(w.shape[axis], np.int8)


def quantize_weights(w, scale, axis):
    s = scale if axis is None else np.expand_dims(scale, tuple(i for i in range(w.ndim) if i != axis))
    return np.clip(np.rint(w / s), -127, 127).astype(np.int8)


class Rewriter:
    def __init__(self, graph):
        self.g = graph
        self.nodes = []       # new nodes, placed before the node that needs them
        self.inits = []
        self.done = {}        # activation -> its dequantized name
        self.used = set(graph.producer) | set(graph.inits) | graph.inputs | graph.outputs

    def fresh(self, base):
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def const(self, base, array):
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def qdq_activation(self, t, scale, zp):
        """t -> QuantizeLinear -> DequantizeLinear; returns the dequantized name."""
        if t in self.done:
            return self.done[t]
        s = self.const(t + "_scale", scale)
        z = self.const(t + "_zero_point", zp)
        q = self.fresh(t + "_quantized")
        dq = self.fresh(t + "_dequantized")
        self.nodes.append(helper.make_node("QuantizeLinear", [t, s, z], [q], name=self.fresh(t + "_QuantizeLinear")))
        self.nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [dq],
                                           name=self.fresh(t + "_DequantizeLinear")))
        self.done[t] = dq
        return dq

    def dq_constant(self, base, q, scale, zp, axis):
        """A constant quantized once: q -> DequantizeLinear (zero point omitted when zp is None, as an
        int32 bias has it)."""
        qn = self.const(base + "_quantized", q)
        s = self.const(base + "_scale", scale)
        ins = [qn, s] + ([self.const(base + "_zero_point", zp)] if zp is not None else [])
        out = self.fresh(base + "_dequantized")
        kw = {"axis": axis} if axis is not None else {}
        self.nodes.append(helper.make_node("DequantizeLinear", ins, [out],
                                           name=self.fresh(base + "_DequantizeLinear"), **kw))
        return out


def rewrite(graph, targets, lo, hi, per_tensor):
    model = graph.model
    rw = Rewriter(graph)
    params = {t: activation_params(lo[t], hi[t]) for t in lo}
    target_nodes = {id(n): out for n, out in targets}
    target_outputs = set(target_nodes.values())
    new_nodes = []
    for n in model.graph.node:
        x = n.input[0] if n.input else None
        # inputs of this node that were quantized earlier read their dequantized copies
        for i, name in enumerate(n.input):
            if name in rw.done:
                n.input[i] = rw.done[name]
        if id(n) in target_nodes:
            xs, xz = params[x]
            n.input[0] = rw.qdq_activation(x, xs, xz)
            w = graph.const(n.input[1])
            axis = None
            if n.op_type == "Conv" and not per_tensor:
                axis = 0
            ws, wz = weight_params(w, axis)
            n.input[1] = rw.dq_constant(n.input[1], quantize_weights(w, ws, axis), ws, wz, axis)
            if len(n.input) > 2 and n.input[2]:
                b = graph.const(n.input[2])
                bscale = (np.float32(xs) * ws).astype(np.float32)
                if n.op_type == "Conv" or np.ndim(bscale) == 0:
                    bq = np.rint(b / bscale).astype(np.int64)
                    if np.all(np.abs(bq) < 2**31):
                        baxis = 0 if np.ndim(bscale) else None
                        n.input[2] = rw.dq_constant(n.input[2], bq.astype(np.int32), bscale, None, baxis)
        new_nodes.extend(rw.nodes)
        rw.nodes = []
        new_nodes.append(n)
        # the quantized node's output (after its Relu) gets its Q/DQ right where it is made
        for out in n.output:
            if out in params and out in target_outputs and out not in graph.outputs:
                s, z = params[out]
                rw.qdq_activation(out, s, z)
                new_nodes.extend(rw.nodes)
                rw.nodes = []
    # drop the float initializers nothing reads any more
    read = {i for n in new_nodes for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in read]
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + [i for i in rw.inits if i.name in read])
    # value_info of rewired tensors is still right (names kept); graph inputs that were
    # initializers (opset < 9 style) are dropped with them
    keep_inputs = [i for i in model.graph.input if i.name not in graph.inits or i.name in read]
    del model.graph.input[:]
    model.graph.input.extend(keep_inputs)
    return model


def main(argv):
    ap = argparse.ArgumentParser(prog="cnnquantize", description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--calibrate", required=True, metavar="SAMPLES.npz")
    ap.add_argument("-o", "--output", required=True, metavar="MODEL_INT8.onnx")
    ap.add_argument("--cnnrun", metavar="PATH")
    ap.add_argument("--per-tensor", action="store_true", help="per-tensor convolution weights")
    ap.add_argument("--batch", type=int, default=64, help="samples per calibration run (default 64)")
    args = ap.parse_args(argv)
    try:
        if args.batch < 1:
            raise ToolError("--batch must be positive")
        try:
            model = onnx.load(args.model)
        except Exception as e:
            raise ToolError(f"{args.model}: cannot read the model: {e}")
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            raise ToolError(f"{args.model}: opset {opset}; cnnquantize writes per-axis QuantizeLinear/"
                            f"DequantizeLinear and needs opset {MIN_OPSET} or later")
        graph = Graph(model)
        targets, tensors = plan(graph, args.per_tensor)
        if not targets:
            raise ToolError(f"{args.model}: no Conv, Gemm or MatMul with constant float32 weights to quantize")
        samples = load_samples(args.calibrate, graph)
        lo, hi = calibrate(graph, tensors, samples, find_cnnrun(args.cnnrun), args.batch)
        out = rewrite(graph, targets, lo, hi, args.per_tensor)
        onnx.checker.check_model(out)
        onnx.save(out, args.output)
        print(f"{args.output}: {len(targets)} operators quantized to int8 "
              f"({sum(1 for n, _ in targets if n.op_type == 'Conv')} Conv), {len(tensors)} activations calibrated "
              f"on {len(next(iter(samples.values())))} samples")
        return 0
    except ToolError as e:
        print(f"cnnquantize: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
