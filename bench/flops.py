"""Floating-point operations of an ONNX model at one input shape, counted from its graph.

Only the operators that dominate CNN and RNN inference are counted, each as 2 FLOPs per
multiply-accumulate (bias additions and everything else are left out):

    Conv           2 * N * Cout * (Cin / group) * prod over spatial dims of the (output position,
                   kernel tap) pairs that land inside the input: the multiply-adds a direct
                   kernel does, which skips the zero padding. Counting the padded taps as well
                   (out * kernel) overstates small maps' work (a 7x7 map with a 3x3 kernel by 23%)
                   and let near-peak rows pass 100% of the machine's peak.
    ConvTranspose  2 * N * Cin * prod(input spatial) * (Cout / group) * prod(kernel)
    Gemm           2 * M * N * K
    MatMul         2 * prod(output dims) * K           (batched matmuls included)
    LSTM, GRU, RNN 2 * directions * T * B * gates * H * (I + H)   gates 4, 3, 1: the input and
                   recurrent gate matmuls; the elementwise gate arithmetic is not counted

Shapes come from onnx.shape_inference (with shape computations folded, see graph_shapes.py)
after the graph inputs are fixed to the given shape, so the count follows the batch and time
sizes actually benchmarked.
"""
import math

import onnx

import graph_shapes

COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN")
RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


class UnknownShape(Exception):
    """A counted node whose operand shapes shape inference could not tell."""


def _attribute(node, name, default):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _shape(shapes, node, name):
    if name not in shapes:
        raise UnknownShape(f"{node.op_type} node {node.name!r}: shape of {name!r} unknown")
    return shapes[name]


def _taps_inside(in_len, out_len, kernel, stride, dilation, pad_begin):
    """(output position, kernel tap) pairs of one spatial dim that read the input, not padding."""
    return sum(1 for o in range(out_len) for t in range(kernel)
               if 0 <= o * stride - pad_begin + t * dilation < in_len)


def _pads_begin(node, x, weight, out, strides, dilations):
    nsp = len(x) - 2
    auto_pad = _attribute(node, "auto_pad", b"NOTSET")
    if auto_pad in (b"SAME_UPPER", b"SAME_LOWER"):
        begins = []
        for i in range(nsp):
            total = max(0, (out[2 + i] - 1) * strides[i] + (weight[2 + i] - 1) * dilations[i] + 1 - x[2 + i])
            begins.append(total // 2 if auto_pad == b"SAME_UPPER" else total - total // 2)
        return begins
    pads = _attribute(node, "pads", None)
    return list(pads[:nsp]) if pads and auto_pad != b"VALID" else [0] * nsp


def _node_flops(node, shapes):
    op = node.op_type
    if op == "Conv":
        x = _shape(shapes, node, node.input[0])
        weight = _shape(shapes, node, node.input[1])
        out = _shape(shapes, node, node.output[0])
        nsp = len(out) - 2
        strides = _attribute(node, "strides", None) or [1] * nsp
        dilations = _attribute(node, "dilations", None) or [1] * nsp
        begins = _pads_begin(node, x, weight, out, strides, dilations)
        pairs = math.prod(_taps_inside(x[2 + i], out[2 + i], weight[2 + i], strides[i], dilations[i], begins[i])
                          for i in range(nsp))
        return 2 * out[0] * out[1] * weight[1] * pairs
    if op == "ConvTranspose":
        x = _shape(shapes, node, node.input[0])
        weight = _shape(shapes, node, node.input[1])
        return 2 * x[0] * x[1] * math.prod(x[2:]) * weight[1] * math.prod(weight[2:])
    if op == "Gemm":
        a = _shape(shapes, node, node.input[0])
        b = _shape(shapes, node, node.input[1])
        m, k = (a[1], a[0]) if _attribute(node, "transA", 0) else (a[0], a[1])
        n = b[0] if _attribute(node, "transB", 0) else b[1]
        return 2 * m * n * k
    if op == "MatMul":
        a = _shape(shapes, node, node.input[0])
        out = _shape(shapes, node, node.output[0])
        return 2 * math.prod(out) * a[-1]
    if op in RNN_GATES:
        x = _shape(shapes, node, node.input[0])
        steps, batch = (x[1], x[0]) if _attribute(node, "layout", 0) else (x[0], x[1])
        hidden = _attribute(node, "hidden_size", None)
        if hidden is None:
            hidden = _shape(shapes, node, node.input[2])[2]
        directions = 2 if _attribute(node, "direction", b"forward") == b"bidirectional" else 1
        return 2 * directions * steps * batch * RNN_GATES[op] * hidden * (x[2] + hidden)
    return 0


def model_flops(path, input_shapes):
    """Counted FLOPs of the model at path with graph inputs of the given shapes
    ({name: shape}), and the FLOPs per counted op type. Raises UnknownShape if a counted node's
    shapes cannot be inferred."""
    model, shapes = graph_shapes.value_shapes(onnx.load(path), input_shapes)
    per_op = {}
    for node in model.graph.node:
        if node.op_type in COUNTED_OPS:
            per_op[node.op_type] = per_op.get(node.op_type, 0) + _node_flops(node, shapes)
    return sum(per_op.values()), per_op
