#!/usr/bin/python3
"""Keras models run by the cnnrun program against Keras's own predictions.

Every fixture of tests/fixtures/keras/models/manifest.json (written by make_keras_models.py with
Keras 3 and tf_keras) is run as `cnnrun MODEL INPUTS.npz -o DIR/`; each output, matched to Keras's
output by the output layer's name, must satisfy max|a - b| <= 1e-4 * max|expected|. The digits
CNN must reproduce Keras's test-set accuracy exactly. Then broken Keras files (truncated or
corrupt zip/HDF5/JSON, a weight of the wrong shape, a missing weight, an unknown layer, a
TensorFlow.js manifest pointing past its shards) must give a clear error and exit code 2. And
`cnnrun MODEL --summary` must list the layers as Keras's model.summary() does (summaries.json:
names, classes, output shapes, parameter counts).

Needs Debian's python3-numpy. Environment: CNNRUN_BIN, CNNRUN_SOURCE, CNNRUN_FIXTURES (scratch).
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

BIN = os.environ["CNNRUN_BIN"]
SRC = os.environ["CNNRUN_SOURCE"]
MODELS = os.path.join(SRC, "tests", "fixtures", "keras", "models")
SCRATCH = os.path.join(os.environ.get("CNNRUN_FIXTURES", tempfile.gettempdir()), "keras_test")
REL_TOL = 1e-4


def run(args):
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=300)


def check_fixture(fx, failures):
    outdir = os.path.join(SCRATCH, fx["name"].replace("/", "__"))
    shutil.rmtree(outdir, ignore_errors=True)
    inputs = np.load(os.path.join(MODELS, fx["inputs"]))
    os.makedirs(outdir, exist_ok=True)
    files = []
    for i, name in enumerate(fx["input_names"]):  # bound to the model's inputs in order
        files.append(os.path.join(outdir, "input_%s.npy" % name))
        np.save(files[-1], inputs["in%d" % i])
    r = run([os.path.join(MODELS, fx["model"])] + files + ["-o", outdir + "/"])
    if r.returncode != 0:
        failures.append("%s: cnnrun exited %d: %s" % (fx["name"], r.returncode, r.stderr.strip()[-400:]))
        return None
    expected = np.load(os.path.join(MODELS, fx["expected"]))
    worst = 0.0
    got_first = None
    for i, name in enumerate(fx["output_names"]):
        ref = expected["out%d" % i]
        path = os.path.join(outdir, name + ".npy")
        if not os.path.exists(path):
            failures.append("%s: no output named '%s' (files: %s)" % (fx["name"], name, sorted(os.listdir(outdir))))
            return None
        got = np.load(path)
        if got.shape != ref.shape:
            failures.append("%s: output '%s' has shape %s, Keras's %s" % (fx["name"], name, got.shape, ref.shape))
            return None
        err = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 1.0
        rel = err / scale if scale > 0 else err
        worst = max(worst, rel)
        if not err <= REL_TOL * scale:
            failures.append("%s: output '%s' max|a-b| = %.3g > %.0e * max|expected| = %.3g"
                            % (fx["name"], name, err, REL_TOL, REL_TOL * scale))
        if i == 0:
            got_first = got
    if "labels" in fx and got_first is not None:
        labels = np.load(os.path.join(MODELS, fx["labels"]))
        acc = float(np.mean(np.argmax(got_first, axis=1) == labels))
        print("  %s: test accuracy %.4f (Keras %.4f)" % (fx["name"], acc, fx["keras_accuracy"]))
        if acc != fx["keras_accuracy"]:
            failures.append("%s: accuracy %.6f, Keras's %.6f" % (fx["name"], acc, fx["keras_accuracy"]))
    return worst


def expect_error(label, path, needle, failures):
    r = run([path, os.path.join(MODELS, "inputs", "mlp.npz")])
    msg = r.stderr.strip()
    if r.returncode != 2 or needle not in msg:
        failures.append("bad file %s: expected exit 2 and '%s', got exit %d: %s" % (label, needle, r.returncode, msg[-300:]))
    else:
        print("  bad file %-26s exit 2: %s" % (label, msg.splitlines()[-1][:150]))


def rewrite_zip(src, dst, edit):
    """Copies a .keras archive, passing each member's bytes through edit(name, data)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = edit(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item.filename, data)


def bad_files(failures):
    d = os.path.join(SCRATCH, "bad")
    os.makedirs(d, exist_ok=True)
    keras_file = os.path.join(MODELS, "keras3", "mlp.keras")
    h5_file = os.path.join(MODELS, "keras2", "mlp.h5")
    raw_keras = open(keras_file, "rb").read()
    raw_h5 = open(h5_file, "rb").read()

    def write(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    expect_error("truncated .keras", write("trunc.keras", raw_keras[: len(raw_keras) // 2]), "zip", failures)
    expect_error("truncated .h5", write("trunc.h5", raw_h5[: len(raw_h5) // 2]), "HDF5", failures)
    corrupt = bytearray(raw_h5)
    for i in range(600, len(corrupt), 97):
        corrupt[i] ^= 0x5A
    expect_error("corrupt .h5", write("corrupt.h5", bytes(corrupt)), "corrupt.h5: ", failures)

    def bad_json(name, data):
        return data[:-20] if name == "config.json" else data
    p = os.path.join(d, "bad_json.keras")
    rewrite_zip(keras_file, p, bad_json)
    expect_error("malformed config.json", p, "malformed JSON", failures)

    def unknown_layer(name, data):
        if name != "config.json":
            return data
        cfg = json.loads(data)
        cfg["config"]["layers"][2]["class_name"] = "Lambda"
        return json.dumps(cfg)
    p = os.path.join(d, "lambda.keras")
    rewrite_zip(keras_file, p, unknown_layer)
    expect_error("unknown layer", p, "class 'Lambda'", failures)

    def custom_layer(name, data):
        if name != "config.json":
            return data
        cfg = json.loads(data)
        cfg["config"]["layers"][3]["class_name"] = "MyCustomLayer"
        cfg["config"]["layers"][3]["module"] = None
        return json.dumps(cfg)
    p = os.path.join(d, "custom.keras")
    rewrite_zip(keras_file, p, custom_layer)
    expect_error("custom layer class", p, "class 'MyCustomLayer', which cnnrun does not implement", failures)

    def wrong_units(name, data):
        if name != "config.json":
            return data
        cfg = json.loads(data)
        cfg["config"]["layers"][1]["config"]["units"] = 17
        return json.dumps(cfg)
    p = os.path.join(d, "wrong_shape.keras")
    rewrite_zip(keras_file, p, wrong_units)
    expect_error("weight shape vs config", p, "needs [10, 17]", failures)

    def no_bias(name, data):
        if name != "config.json":
            return data
        cfg = json.loads(data)
        cfg["config"]["layers"][1]["config"]["use_bias"] = False
        return json.dumps(cfg)
    p = os.path.join(d, "extra_weight.keras")
    rewrite_zip(keras_file, p, no_bias)
    expect_error("weights vs config count", p, "holds 2 weight(s)", failures)

    def drop_weights(name, data):
        return None if name == "model.weights.h5" else data
    p = os.path.join(d, "no_weights.keras")
    rewrite_zip(keras_file, p, drop_weights)
    expect_error("missing weights file", p, "without model.weights.h5", failures)

    # missing weights: the weights file of another model, which has no 'dense' group
    def missing_weight(name, data):
        if name != "model.weights.h5":
            return data
        other = zipfile.ZipFile(os.path.join(MODELS, "keras3", "conv_padding_strides.keras"))
        return other.read("model.weights.h5")
    p = os.path.join(d, "missing_weight.keras")
    rewrite_zip(keras_file, p, missing_weight)
    expect_error("weights of another model", p, "weight", failures)

    # TensorFlow.js: a manifest that claims more bytes than its shards hold, a missing shard
    tfjs_dir = os.path.join(MODELS, "tfjs", "mlp")
    for label, needle, edit in (
            ("tfjs manifest past shard", "but the group's shards hold",
             lambda mj: mj["weightsManifest"][-1]["weights"][-1]["shape"].__setitem__(0, 1000)),
            ("tfjs missing shard", "cannot open",
             lambda mj: mj["weightsManifest"][0]["paths"].append("group9-shard9of9.bin")),
            ("tfjs graph model", "only layers models", lambda mj: mj.__setitem__("format", "graph-model"))):
        case = os.path.join(d, label.replace(" ", "_"))
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(tfjs_dir, case)
        with open(os.path.join(case, "model.json")) as f:
            mj = json.load(f)
        edit(mj)
        with open(os.path.join(case, "model.json"), "w") as f:
            json.dump(mj, f)
        expect_error(label, os.path.join(case, "model.json"), needle, failures)


def keras_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_summaries(failures):
    """`cnnrun MODEL --summary` lists the layers as Keras's model.summary() does."""
    with open(os.path.join(MODELS, "summaries.json")) as f:
        summaries = json.load(f)
    for model_file, rows in summaries.items():
        r = run([os.path.join(MODELS, model_file), "--summary"])
        lines = r.stdout.splitlines()
        if r.returncode != 0 or not lines or not lines[0].startswith("Layer (type)"):
            failures.append("summary of %s: exit %d, no layer table: %s" % (model_file, r.returncode, r.stderr[-300:]))
            continue
        table = []
        for line in lines[2:]:
            if line.startswith("="):
                break
            label, shape, params = re.split(r"\s{2,}", line.strip())
            name, cls = label[:-1].rsplit(" (", 1)
            table.append((name, cls, shape, int(params.replace(",", ""))))
        want = [(n, c, None if s is None else keras_shape(s), p) for n, c, s, p in rows]
        got = [(n, c, s if w[2] is not None else None, p) for (n, c, s, p), w in zip(table, want)]
        if len(table) != len(want) or got != want:
            failures.append("summary of %s differs from Keras's:\n  cnnrun %s\n  keras  %s" % (model_file, table, want))
    return len(summaries)


def main():
    os.makedirs(SCRATCH, exist_ok=True)
    with open(os.path.join(MODELS, "manifest.json")) as f:
        manifest = json.load(f)
    failures = []
    worst = (0.0, "")
    for fx in manifest["fixtures"]:
        rel = check_fixture(fx, failures)
        if rel is not None and rel >= worst[0]:
            worst = (rel, fx["name"])
    n = len(manifest["fixtures"])
    print("%d Keras fixtures run; worst max|a-b|/max|expected| = %.2e (%s)" % (n, worst[0], worst[1]))
    n_summaries = check_summaries(failures)
    print("%d layer summaries compared with Keras's model.summary()" % n_summaries)
    bad_files(failures)
    for f in failures:
        print("FAIL " + f)
    print("%d passed, %d failed" % (n + n_summaries + 13 - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
