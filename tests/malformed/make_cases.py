#!/usr/bin/python3
"""Writes the catalogue of malformed inputs into tests/malformed/cases/ (committed; run again
after changing this script: /usr/bin/python3 tests/malformed/make_cases.py).

Every file is made here with onnx.helper, raw protobuf bytes from the small encoder below, NumPy,
or hand-written .npy/zip bytes; never with cnnrun's own writer. cases/catalogue.tsv lists, one
line per case:

    <file>  <role>  <exit code>  <phrase>

role "model": run as `cnnrun <file> models/digit_sample.npy`; role "input": run as
`cnnrun models/digits_cnn.onnx <file>`. The phrase is a piece of the message that names the
problem (compared case-insensitively). One control case (external_valid.onnx, exit 0) shows that
the external-data cases fail for the reason they name, not for the model around them. run_cases.py runs them all, also bounding each run's time
and peak memory.
"""
import io
import os
import shutil
import struct
import sys
import zipfile
import zlib

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
CASES = []  # (file, role, exit code, phrase)


# --- a minimal protobuf encoder, for bytes onnx.helper refuses to make ---------------------------

def varint(v):
    v &= (1 << 64) - 1  # negative numbers as protobuf encodes int64: ten bytes of two's complement
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def opset(version):
    return f_bytes(8, f_varint(2, version))  # ModelProto.opset_import { version }


def value_info_bytes(name, elem_type, dims):
    """ValueInfoProto { name (omitted if None), type { tensor_type { elem_type, shape } } }."""
    shape = b"".join(f_bytes(1, f_varint(1, d)) for d in dims)
    tensor_type = f_varint(1, elem_type) + f_bytes(2, shape)
    return (f_bytes(1, name) if name is not None else b"") + f_bytes(2, f_bytes(1, tensor_type))


# --- models made with onnx.helper ----------------------------------------------------------------

IMAGE = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])


def model(nodes, outputs, inits=(), inputs=(IMAGE,), opset_version=13):
    graph = helper.make_graph(nodes, "malformed", list(inputs), outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset_version)])
    m.ir_version = 8
    return m.SerializeToString()


def out(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def relu_model(**kw):
    return model([helper.make_node("Relu", ["image"], ["y"])], [out("y", [1, 1, 8, 8])], **kw)


def raw_init(name, dtype, dims, raw):
    t = TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def add_with(init):
    """image + init: the initializer's decoding is what the case is about."""
    return model([helper.make_node("Add", ["image", init.name], ["y"])], [out("y", [1, 1, 8, 8])],
                 inits=[init])


def external_init(location, offset=None, length=None):
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([8])
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", location), ("offset", offset), ("length", length)]:
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def small_cnn():
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    return model([helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", ["c"], ["y"])], [out("y", [1, 4, 8, 8])], inits=[w])


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def f32(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def add(name, role, data, code, phrase):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    CASES.append((name, role, code, phrase))


def model_cases():
    rng = np.random.default_rng(2024)
    good = small_cnn()
    add("empty.onnx", "model", b"", 2, "empty")
    add("truncated.onnx", "model", good[: len(good) // 2], 2, "do not parse as an ONNX ModelProto")
    add("random_bytes.onnx", "model", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), 2,
        "do not parse as an ONNX ModelProto")
    # ModelProto.graph (field 7) sent as a varint instead of a length-delimited message
    add("wrong_wire_type.onnx", "model", f_varint(1, 8) + f_varint(7, 5) + opset(13), 2,
        "do not parse as an ONNX ModelProto")
    # graph claims 1000 bytes, 10 follow
    add("length_past_end.onnx", "model", f_varint(1, 8) + key(7, 2) + varint(1000) + b"\0" * 10,
        2, "do not parse as an ONNX ModelProto")
    add("no_graph.onnx", "model", f_varint(1, 8) + opset(13), 2, "graph")
    add("negative_dim.onnx", "model",
        add_with(raw_init("w", TensorProto.FLOAT, [-3, 2], b"\0" * 24)), 2, "-3")
    add("huge_dim.onnx", "model",
        add_with(raw_init("w", TensorProto.FLOAT, [1 << 40], b"\0" * 4)), 2, "'w'")
    add("dims_overflow_int64.onnx", "model",
        add_with(raw_init("w", TensorProto.FLOAT, [1 << 32, 1 << 32, 1 << 32], b"\0" * 4)), 2,
        "'w'")
    add("raw_data_short.onnx", "model",
        add_with(raw_init("w", TensorProto.FLOAT, [4, 4], b"\0" * 8)), 2, "raw_data")
    add("raw_data_long.onnx", "model",
        add_with(raw_init("w", TensorProto.FLOAT, [2], b"\0" * 64)), 2, "raw_data")
    add("unknown_data_type.onnx", "model", add_with(raw_init("w", 99, [1], b"\0" * 4)), 2,
        "'w'")
    s = TensorProto()
    s.name, s.data_type = "w", TensorProto.STRING
    s.dims.extend([1])
    s.string_data.append(b"text")
    add("string_initializer.onnx", "model", add_with(s), 2, "string")
    # the control: the same tensor read from the file inside the folder loads and runs
    add("external_valid.onnx", "model", add_with(external_init("external_data.bin")), 0, "")
    add("external_parent_dir.onnx", "model", add_with(external_init("../../etc/passwd")), 2,
        "leaves the model's directory")
    add("external_absolute.onnx", "model", add_with(external_init("/etc/passwd")), 2, "absolute")
    add("external_symlink.onnx", "model", add_with(external_init("external_link.bin")), 2,
        "resolves to '/etc/passwd', outside the model's directory")
    add("external_past_end.onnx", "model",
        add_with(external_init("external_data.bin", offset=16, length=32)), 2, "external_data.bin")
    add("external_offset_huge.onnx", "model",
        add_with(external_init("external_data.bin", offset=1 << 62, length=32)), 2,
        "external_data.bin")
    add("external_missing_file.onnx", "model", add_with(external_init("no_such_file.bin")), 2,
        "no_such_file.bin")
    add("duplicate_value_name.onnx", "model",
        model([helper.make_node("Relu", ["image"], ["y"]),
               helper.make_node("Sigmoid", ["image"], ["y"])], [out("y", [1, 1, 8, 8])]), 2,
        "'y'")
    add("duplicate_initializer.onnx", "model",
        model([helper.make_node("Add", ["image", "w"], ["y"])], [out("y", [1, 1, 8, 8])],
              inits=[f32("w", [1.0]), f32("w", [2.0])]), 2, "'w'")
    add("missing_value.onnx", "model",
        model([helper.make_node("Add", ["image", "nowhere"], ["y"])], [out("y", [1, 1, 8, 8])]),
        2, "'nowhere'")
    add("missing_graph_output.onnx", "model",
        model([helper.make_node("Relu", ["image"], ["y"])], [out("z", [1, 1, 8, 8])]), 2, "'z'")
    add("cycle.onnx", "model",
        model([helper.make_node("Add", ["image", "b"], ["a"]),
               helper.make_node("Relu", ["a"], ["b"])], [out("b", [1, 1, 8, 8])]), 2, "cycle")
    add("missing_op_input.onnx", "model",
        model([helper.make_node("Conv", ["image"], ["y"])], [out("y", [1, 1, 8, 8])]), 2,
        "input")
    add("extra_op_inputs.onnx", "model",
        model([helper.make_node("Relu", ["image", "image", "image"], ["y"])],
              [out("y", [1, 1, 8, 8])]), 2, "input")
    add("node_without_outputs.onnx", "model",
        model([helper.make_node("Relu", ["image"], []),
               helper.make_node("Identity", ["image"], ["y"])], [out("y", [1, 1, 8, 8])]), 2,
        "has no outputs")
    add("first_output_omitted.onnx", "model",
        model([helper.make_node("Resize", ["image", "", "scales"], ["", "extra"]),
               helper.make_node("Identity", ["image"], ["y"])], [out("y", [1, 1, 8, 8])],
              inits=[f32("scales", [1, 1, 2, 2])]), 2, "first output")
    conv_w = f32("w", np.ones((1, 1, 3, 3)))
    add("attribute_wrong_type.onnx", "model",
        model([helper.make_node("Conv", ["image", "w"], ["y"], kernel_shape=1.5)],
              [out("y", [1, 1, 6, 6])], inits=[conv_w]), 2, "kernel_shape")
    add("attribute_string_for_ints.onnx", "model",
        model([helper.make_node("Conv", ["image", "w"], ["y"], strides="two")],
              [out("y", [1, 1, 6, 6])], inits=[conv_w]), 2, "strides")
    add("reshape_size_mismatch.onnx", "model",
        model([helper.make_node("Reshape", ["image", "shape"], ["y"])], [out("y", [3, 5])],
              inits=[i64("shape", [3, 5])]), 2, "reshape")
    add("concat_rank_mismatch.onnx", "model",
        model([helper.make_node("Concat", ["image", "c"], ["y"], axis=1)], [out("y", None)],
              inits=[f32("c", np.ones((2, 2)))]), 2, "rank")
    add("conv_weight_rank.onnx", "model",
        model([helper.make_node("Conv", ["image", "w"], ["y"])], [out("y", None)],
              inits=[f32("w", np.ones((1, 1, 3)))]), 2, "w")
    add("gemm_inner_mismatch.onnx", "model",
        model([helper.make_node("Flatten", ["image"], ["f"]),
               helper.make_node("Gemm", ["f", "w"], ["y"])], [out("y", None)],
              inits=[f32("w", np.ones((7, 3)))]), 2, "64")
    add("opset_0.onnx", "model", relu_model(opset_version=0), 2, "opset")
    add("opset_10000.onnx", "model", relu_model(opset_version=10000), 2, "opset")
    # raw messages the helper cannot make: a node with no op_type, a graph input with no name
    node = f_bytes(1, "image") + f_bytes(2, "y")
    graph = (f_bytes(1, node) + f_bytes(2, "g") + f_bytes(11, value_info_bytes("image", 1, [1, 1, 8, 8]))
             + f_bytes(12, value_info_bytes("y", 1, [1, 1, 8, 8])))
    add("node_without_op_type.onnx", "model", f_varint(1, 8) + f_bytes(7, graph) + opset(13), 2,
        "op_type")
    node = f_bytes(1, "image") + f_bytes(2, "y") + f_bytes(4, "Relu")
    unnamed = value_info_bytes(None, 1, [1])
    graph = (f_bytes(1, node) + f_bytes(2, "g") + f_bytes(11, value_info_bytes("image", 1, [1, 1, 8, 8]))
             + f_bytes(11, unnamed) + f_bytes(12, value_info_bytes("y", 1, [1, 1, 8, 8])))
    add("input_without_name.onnx", "model", f_varint(1, 8) + f_bytes(7, graph) + opset(13), 2,
        "name")
    # sizes a few bytes of model ask for: each must be refused before memory is touched
    add("pad_huge.onnx", "model",
        model([helper.make_node("Pad", ["image", "pads"], ["y"], mode="reflect")],
              [out("y", None)], inits=[i64("pads", [0, 0, 0, 0, 0, 0, 1 << 26, 1 << 26])],
              opset_version=13), 2, "larger than cnnrun allows")
    add("resize_huge.onnx", "model",
        model([helper.make_node("Resize", ["image", "", "", "sizes"], ["y"])], [out("y", None)],
              inits=[i64("sizes", [1, 1, 1 << 28, 8])]), 2, "memory")
    add("resize_nan_scale.onnx", "model",
        model([helper.make_node("Resize", ["image", "", "scales"], ["y"])], [out("y", None)],
              inits=[f32("scales", [1, 1, float("nan"), 2])]), 2, "scale")
    # each tensor 1 GiB, under the default 2 GiB ceiling; three live at once in the arena
    add("arena_sum_over_ceiling.onnx", "model",
        model([helper.make_node("Expand", ["image", "shape"], ["a"]),
               helper.make_node("Relu", ["a"], ["b"]),
               helper.make_node("Add", ["a", "b"], ["y"])], [out("y", None)],
              inits=[i64("shape", [1 << 22, 1, 8, 8])]), 2, "memory ceiling")
    add("expand_terabytes.onnx", "model",
        model([helper.make_node("Expand", ["image", "shape"], ["y"])], [out("y", None)],
              inits=[i64("shape", [1 << 16, 1 << 14, 8, 8])]), 2, "larger than cnnrun allows")
    add("arena_32gib.onnx", "model",
        model([helper.make_node("Expand", ["image", "shape"], ["y"])], [out("y", None)],
              inits=[i64("shape", [1 << 27, 1, 8, 8])]), 2, "memory")
    with open(os.path.join(OUT, "external_data.bin"), "wb") as f:
        f.write(np.arange(8, dtype=np.float32).tobytes())
    os.symlink("/etc/passwd", os.path.join(OUT, "external_link.bin"))


def npy_header(descr, shape, fortran=False, version=1, pad_to=64):
    d = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    total = 10 if version == 1 else 12
    h = d + " " * ((pad_to - (total + len(d) + 1) % pad_to) % pad_to) + "\n"
    length = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + length + h.encode("latin1")


def zip_bytes(members, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in members:
            z.writestr(name, data)
    return bytearray(buf.getvalue())


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def input_cases():
    image = np.zeros((1, 1, 8, 8), np.float32)
    good = npy(image)
    add("npy_bad_magic.npy", "input", b"\x93NUMPZ" + good[6:], 2, "not a .npy")
    add("npy_header_past_end.npy", "input", good[:8] + struct.pack("<H", 60000) + good[10:40],
        2, "header")
    add("npy_fortran_order_not_bool.npy", "input",
        npy_header("'<f4'", "(1, 1, 8, 8)", fortran="'yes'") + image.tobytes(), 2,
        "fortran_order")
    add("npy_complex_dtype.npy", "input", npy_header("'<c8'", "(1, 1, 8, 8)") + b"\0" * 512, 2,
        "<c8")
    add("npy_object_dtype.npy", "input", npy_header("'|O'", "(1,)") + b"\0" * 8, 2, "|O")
    add("npy_big_endian.npy", "input", npy(image.astype(">f4")), 2, ">f4")
    add("npy_shape_1e12.npy", "input", npy_header("'<f4'", "(1000000000000,)") + b"\0" * 16, 2,
        "1000000000000")
    add("npy_data_short.npy", "input", good[:-100], 2, "bytes")
    add("npy_negative_dim.npy", "input", npy_header("'<f4'", "(-1, 8)") + b"\0" * 32, 2, "non-negative")
    # .npz: a deflated member whose central-directory entry claims 2 GiB uncompressed
    z = zip_bytes([("image.npy", good)], zipfile.ZIP_DEFLATED)
    cd = z.rfind(b"PK\x01\x02")
    z[cd + 24:cd + 28] = struct.pack("<I", 0x7FFFFFFF)
    add("npz_huge_uncompressed_size.npz", "input", bytes(z), 2, "image.npy")
    # a zip bomb: 272 MB of zeros deflated to ~270 KB, declared at its real size, for a model
    # that takes 256 bytes; and the lying variant, which declares 384 bytes and inflates to 1 MiB
    bomb = npy_header("'<f4'", "(68000000,)") + bytes(272000000)
    add("npz_zip_bomb.npz", "input", bytes(zip_bytes([("image.npy", bomb)], zipfile.ZIP_DEFLATED)),
        2, "image")
    lying = npy_header("'<f4'", "(262144,)") + bytes(1 << 20)  # 1 MiB is enough to lie about
    z = zip_bytes([("image.npy", lying)], zipfile.ZIP_DEFLATED)
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        p = z.find(sig)
        z[p + off:p + off + 4] = struct.pack("<I", len(good))
    add("npz_zip_bomb_lying_size.npz", "input", bytes(z), 2, "image.npy")
    add("npz_path_traversal.npz", "input", bytes(zip_bytes([("../../image.npy", good)])), 2,
        "../../image.npy")
    add("npz_absolute_member.npz", "input", bytes(zip_bytes([("/tmp/image.npy", good)])), 2,
        "/tmp/image.npy")
    z = zip_bytes([("image.npy", good)])
    add("npz_truncated.npz", "input", bytes(z[: len(z) - 30]), 2, "zip")
    z = zip_bytes([("image.npy", good)])
    z[z.find(b"PK\x03\x04") + 30 + len("image.npy") + 20] ^= 0xFF
    add("npz_crc_mismatch.npz", "input", bytes(z), 2, "crc")
    add("npz_not_npy_member.npz", "input", bytes(zip_bytes([("image.txt", b"hello")])), 2,
        "image.txt")
    t = external_init("../../etc/passwd")
    t.name = "image"
    add("pb_external_escape.pb", "input", t.SerializeToString(), 2, "leaves")
    add("pb_raw_data_short.pb", "input",
        raw_init("image", TensorProto.FLOAT, [1, 1, 8, 8], b"\0" * 10).SerializeToString(), 2,
        "raw_data")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model_cases()
    input_cases()
    with open(os.path.join(OUT, "catalogue.tsv"), "w") as f:
        f.write("# file\trole\texit\tphrase (tests/malformed/make_cases.py)\n")
        for name, role, code, phrase in CASES:
            f.write(f"{name}\t{role}\t{code}\t{phrase}\n")
    print(f"{len(CASES)} cases in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
