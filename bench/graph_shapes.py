"""The shape of every value of an ONNX graph for fixed input shapes.

onnx.shape_inference does the work. Alone it stops at PyTorch's dynamic-reshape chains whose
data propagation ONNX 1.12 lacks (ShuffleNet's channel shuffle computes a Reshape target through
Shape -> Gather -> Div -> Cast -> Unsqueeze -> Concat; Div and Cast do not propagate), so the
small integer computations on shapes are folded here with NumPy and fed back as initializers,
and inference runs again until nothing new folds.
"""
import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

# Shape computations are tiny; anything larger is model data and is never folded.
MAX_FOLDED_ELEMENTS = 64


def _attr(node, name, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _axes(node, values, index):
    """Axes from the attribute (older opsets) or from input `index` (opset 13 on)."""
    if len(node.input) > index and node.input[index]:
        return [int(a) for a in values[node.input[index]]]
    return _attr(node, "axes")


def _slice(data, starts, ends, axes, steps):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def _integer_div(a, b):
    if np.issubdtype(a.dtype, np.integer):
        return (np.trunc(a / b)).astype(a.dtype)  # ONNX integer Div truncates toward zero
    return a / b


def _evaluate(node, values, shapes):
    """The node's single output, or None if the node is not a foldable shape computation."""
    op, ins = node.op_type, node.input
    if op == "Shape":
        if ins[0] not in shapes:
            return None
        shape = np.array(shapes[ins[0]], dtype=np.int64)
        return shape[_attr(node, "start", 0):_attr(node, "end", None)]
    if op == "Constant":
        tensor = _attr(node, "value")
        return numpy_helper.to_array(tensor) if tensor is not None else None
    if not all(name == "" or name in values for name in ins):
        return None
    args = [values[name] if name else None for name in ins]
    if op == "Identity":
        return args[0]
    if op == "Gather":
        return np.take(args[0], args[1], axis=_attr(node, "axis", 0))
    if op == "Unsqueeze":
        out = args[0]
        axes = sorted(a % (out.ndim + len(_axes(node, values, 1))) for a in _axes(node, values, 1))
        for axis in axes:
            out = np.expand_dims(out, axis)
        return out
    if op == "Squeeze":
        axes = _axes(node, values, 1)
        return np.squeeze(args[0], axis=None if axes is None else tuple(axes))
    if op == "Concat":
        return np.concatenate(args, axis=_attr(node, "axis"))
    if op == "Cast":
        return args[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[_attr(node, "to")])
    if op in ("Add", "Sub", "Mul"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op]
        return fn(args[0], args[1]).astype(args[0].dtype)
    if op == "Div":
        return _integer_div(args[0], args[1])
    if op == "Slice":
        if len(ins) == 1:  # opset < 10: attributes
            return _slice(args[0], _attr(node, "starts"), _attr(node, "ends"),
                          _attr(node, "axes"), None)
        return _slice(args[0], args[1], args[2], args[3] if len(args) > 3 else None,
                      args[4] if len(args) > 4 else None)
    return None


def _known_shapes(model):
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    graph = model.graph
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor_type = value.type.tensor_type
        if tensor_type.HasField("shape") and all(d.HasField("dim_value")
                                                  for d in tensor_type.shape.dim):
            shapes[value.name] = tuple(d.dim_value for d in tensor_type.shape.dim)
    return shapes


def _fold_once(model, shapes):
    """Replaces foldable nodes by initializers; returns how many were folded."""
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
              if np.prod(t.dims) <= MAX_FOLDED_ELEMENTS}
    kept, folded = [], []
    for node in model.graph.node:
        out = _evaluate(node, values, shapes) if len(node.output) == 1 else None
        if out is not None and np.asarray(out).size <= MAX_FOLDED_ELEMENTS:
            values[node.output[0]] = np.asarray(out)
            folded.append(numpy_helper.from_array(np.asarray(out), node.output[0]))
        else:
            kept.append(node)
    if folded:
        del model.graph.node[:]
        model.graph.node.extend(kept)
        model.graph.initializer.extend(folded)
    return len(folded)


def fix_input_shapes(model, input_shapes):
    """Sets every graph input that is not an initializer to the shape given for it."""
    initializers = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        if value.name not in input_shapes:
            raise ValueError(f"no shape given for graph input {value.name!r}")
        dims = value.type.tensor_type.shape.dim
        shape = input_shapes[value.name]
        if len(dims) != len(shape):
            raise ValueError(f"input {value.name!r} has rank {len(dims)}, shape {shape} given")
        for dim, size in zip(dims, shape):
            dim.Clear()
            dim.dim_value = int(size)


def value_shapes(model, input_shapes):
    """(model with shape computations folded and shapes inferred, {value name: shape}) for the
    graph inputs fixed to input_shapes ({name: shape}). The model passed in is modified."""
    fix_input_shapes(model, input_shapes)
    while True:
        model = shape_inference.infer_shapes(model, data_prop=True)
        shapes = _known_shapes(model)
        if not _fold_once(model, shapes):
            return model, shapes
        del model.graph.value_info[:]  # inferred again from the folded graph
