#!/usr/bin/python3
"""Writes the fuzz seed corpora and dictionaries committed under tests/fuzz/ (run from anywhere:
/usr/bin/python3 tests/fuzz/make_seeds.py). Sources, all independent of cnnrun's own writer:

  corpus/onnx/    ONNX backend-suite models from Debian's libonnx-testdata (one per op family the
                  runtime implements), plus small CNN and LSTM models built here with onnx.helper
                  (the shapes of models/digits_cnn.onnx and the zoo's LSTM, with few channels so
                  each file stays a few KB: libFuzzer mutates small inputs much faster);
  corpus/arrays/  .npy files of every dtype and header version written by NumPy, .npz archives
                  (stored and deflated) by numpy.savez*, and TensorProto .pb files from the suite
                  and from onnx.numpy_helper;
  dict/*.dict     protobuf field keys of the ONNX messages, op and attribute names; .npy header
                  words and zip record signatures.
"""
import io
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "malformed"))
from make_cases import key  # noqa: E402  protobuf field keys, shared with the catalogue
SUITE = "/usr/share/libonnx-testdata/data/node"

SUITE_MODELS = """conv_with_strides_no_padding conv_with_autopad_same convtranspose_dilations
resize_upsample_scales_linear resize_downsample_sizes_cubic resize_upsample_sizes_nearest
lstm_with_initial_bias gru_seq_length rnn_seq_length reflect_pad edge_pad constant_pad
reshape_negative_dim concat_3d_axis_1 gemm_beta maxpool_2d_dilations averagepool_2d_same_upper
slice_end_out_of_bounds gather_0 transpose_all_permutations_3 einsum_batch_matmul
split_variable_parts_1d cast_FLOAT_to_FLOAT16 where_long_example softmax_axis_1 batchnorm_epsilon
expand_dim_changed tile reduce_mean_keepdims_example matmul_3d clip instancenorm_example lrn
squeeze unsqueeze_axis_0 flatten_axis1 argmax_default_axis_example onehot_with_axis
range_float_type_positive_delta cumsum_1d depthtospace_example globalaveragepool prelu_broadcast
shape nonzero_example constantofshape_int_zeros layer_normalization_2d_axis0
mod_mixed_sign_int32""".split()

SUITE_TENSORS = ["conv_with_strides_no_padding/test_data_set_0/input_0.pb",
                 "cast_FLOAT_to_FLOAT16/test_data_set_0/output_0.pb",
                 "gather_0/test_data_set_0/input_1.pb",
                 "where_long_example/test_data_set_0/input_0.pb",
                 "mod_mixed_sign_int32/test_data_set_0/input_0.pb"]


def small_cnn():
    """Conv → Relu → MaxPool → Conv → Relu → Flatten → Gemm → Softmax on [batch, 1, 8, 8]."""
    rng = np.random.default_rng(9)
    w = lambda *s: numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.3)
    inits = []
    for name, shape in [("w1", (4, 1, 3, 3)), ("b1", (4,)), ("w2", (4, 4, 3, 3)), ("b2", (4,)),
                        ("fc_w", (10, 16)), ("fc_b", (10,))]:
        t = w(*shape)
        t.name = name
        inits.append(t)
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def small_lstm():
    """LSTM (hidden 4) over [time, batch, 3] → Squeeze → MatMul on the last hidden state."""
    rng = np.random.default_rng(10)
    hidden, features = 4, 3
    arr = lambda name, a: numpy_helper.from_array(a.astype(np.float32), name)
    inits = [arr("W", rng.standard_normal((1, 4 * hidden, features)) * 0.3),
             arr("R", rng.standard_normal((1, 4 * hidden, hidden)) * 0.3),
             arr("B", rng.standard_normal((1, 8 * hidden)) * 0.1),
             arr("head", rng.standard_normal((hidden, 2))),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0")]
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "y_h"], hidden_size=hidden),
        helper.make_node("Squeeze", ["y_h", "axes0"], ["h"]),
        helper.make_node("MatMul", ["h", "head"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes, "small_lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["time", "batch", features])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def onnx_corpus(out):
    for name in SUITE_MODELS:
        shutil.copyfile(os.path.join(SUITE, "test_" + name, "model.onnx"),
                        os.path.join(out, name + ".onnx"))
    for name, model in [("small_cnn", small_cnn()), ("small_lstm", small_lstm())]:
        onnx.checker.check_model(model)
        write(os.path.join(out, name + ".onnx"), model.SerializeToString())


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def arrays_corpus(out):
    rng = np.random.default_rng(11)
    for dt in ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8",
               "uint16", "uint32", "uint64", "bool"]:
        a = (rng.standard_normal((2, 3)) * 10).astype(dt)
        write(os.path.join(out, f"{dt}.npy"), npy_bytes(a))
    write(os.path.join(out, "scalar.npy"), npy_bytes(np.float32(1.5)))
    write(os.path.join(out, "empty.npy"), npy_bytes(np.zeros((0, 3), np.float32)))
    write(os.path.join(out, "fortran.npy"),
          npy_bytes(np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))))
    write(os.path.join(out, "v2.npy"), npy_bytes(np.arange(6, dtype=np.float32), (2, 0)))
    write(os.path.join(out, "v3.npy"), npy_bytes(np.arange(6, dtype=np.float32), (3, 0)))
    write(os.path.join(out, "big_endian.npy"), npy_bytes(np.arange(4, dtype=">f4")))
    for name, save in [("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)]:
        buf = io.BytesIO()
        save(buf, image=np.ones((1, 1, 4, 4), np.float32), tokens=np.arange(5, dtype=np.int64))
        write(os.path.join(out, name), buf.getvalue())
    for rel in SUITE_TENSORS:
        shutil.copyfile(os.path.join(SUITE, "test_" + rel),
                        os.path.join(out, rel.split("/")[0] + "_" + os.path.basename(rel)))
    t = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "typed")
    t.float_data.extend(t.raw_data and np.frombuffer(t.raw_data, np.float32).tolist())
    t.ClearField("raw_data")
    write(os.path.join(out, "typed_float_data.pb"), t.SerializeToString())
    ext = numpy_helper.from_array(np.zeros(4, np.float32), "external")
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "weights.bin"), ("offset", "0"), ("length", "16")]:
        e = ext.external_data.add()
        e.key, e.value = k, v
    write(os.path.join(out, "external.pb"), ext.SerializeToString())


def dict_entry(b):
    return '"' + "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\' else f"\\x{c:02x}"
                         for c in b) + '"'


def onnx_dict(path):
    # (message, field number, wire type) of the fields the loader reads; 0 varint, 1 fixed64,
    # 2 length-delimited, 5 fixed32
    fields = {
        "ModelProto": [(1, 0), (7, 2), (8, 2), (14, 2)],
        "GraphProto": [(1, 2), (2, 2), (5, 2), (11, 2), (12, 2), (13, 2)],
        "NodeProto": [(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (7, 2)],
        "AttributeProto": [(1, 2), (2, 5), (3, 0), (4, 2), (5, 2), (7, 2), (8, 2), (8, 0),
                           (20, 0)],
        "TensorProto": [(1, 0), (1, 2), (2, 0), (4, 2), (5, 2), (7, 2), (8, 2), (9, 2), (10, 2),
                        (13, 2), (14, 0)],
        "TypeProto/Shape/Dim": [(1, 2), (2, 2), (1, 0)],
        "OperatorSetId": [(1, 2), (2, 0)],
    }
    lines = ["# ONNX protobuf field keys (field << 3 | wire type) and names; tests/fuzz/make_seeds.py"]
    for msg, fs in fields.items():
        for f, w in fs:
            lines.append(f"# {msg} field {f} wire {w}\n{dict_entry(key(f, w))}")
    ops = set()
    for name in SUITE_MODELS:
        m = onnx.load(os.path.join(SUITE, "test_" + name, "model.onnx"))
        ops.update(n.op_type for n in m.graph.node)
    ops.update(["Conv", "Relu", "MaxPool", "Gemm", "Softmax", "Flatten", "LSTM", "Squeeze",
                "MatMul", "Add", "Mul", "Constant", "Identity", "Sigmoid", "Resize", "Pad"])
    words = sorted(ops) + ["kernel_shape", "pads", "strides", "dilations", "group", "axis",
                           "axes", "perm", "mode", "value", "location", "offset", "length",
                           "hidden_size", "direction", "auto_pad", "SAME_UPPER", "reflect",
                           "nearest", "linear", "batch"]
    lines += [dict_entry(w.encode()) for w in words]
    lines += [dict_entry(bytes([v])) for v in (1, 6, 7, 11, 16)]  # element types, dims
    write(path, ("\n".join(lines) + "\n").encode())


def arrays_dict(path):
    words = [b"\x93NUMPY", b"\x01\x00", b"\x02\x00", b"\x03\x00", b"{'descr': ", b"'descr'",
             b"'fortran_order'", b"'shape'", b"True", b"False", b"()", b"(1,)", b",)",
             b"'<f4'", b"'<f8'", b"'<f2'", b"'>f4'", b"'|b1'", b"'|u1'", b"'|i1'", b"'<i8'",
             b"'<u8'", b"'<V2'", b"'<c8'", b"'|O'", b"1000000000000", b"9223372036854775807",
             b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07",
             b"\x01\x00\x10\x00", b".npy", b"../", b"\xff\xff\xff\xff",
             key(1, 0), key(1, 2), key(2, 0), key(4, 2), key(7, 2), key(8, 2), key(9, 2),
             key(13, 2), key(14, 0), b"location", b"offset", b"length", b"/etc/passwd"]
    lines = ["# .npy header words, zip record signatures, TensorProto field keys; "
             "tests/fuzz/make_seeds.py"]
    lines += [dict_entry(w) for w in words]
    write(path, ("\n".join(lines) + "\n").encode())


def main():
    for sub in ("corpus/onnx", "corpus/arrays", "dict"):
        d = os.path.join(HERE, sub)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    onnx_corpus(os.path.join(HERE, "corpus/onnx"))
    arrays_corpus(os.path.join(HERE, "corpus/arrays"))
    onnx_dict(os.path.join(HERE, "dict/onnx.dict"))
    arrays_dict(os.path.join(HERE, "dict/arrays.dict"))


if __name__ == "__main__":
    sys.exit(main())
