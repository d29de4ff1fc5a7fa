#!/usr/bin/env python3
"""Offline batch inference with cnnrun on Ray Data: .npy/.npz shards in, Parquet predictions out.

    python examples/ray_batch_inference.py MODEL.onnx SHARD_OR_DIR... --output OUT_DIR
        [--address auto|ray://HOST:10001] [--actors N] [--cpus-per-actor C] [--batch-size B]
        [--runtime cnnrun|onnxruntime]

Each shard is a .npy file (its first axis is the batch: one row per input) or a .npz file holding
the inputs under the model's input name (or as its only array) and, optionally, an "id" array of
row ids. Rows without given ids are named "<shard file>:<row>". Every model input but the first
must not be free to vary per row: this recipe is for single-input models (images, sequences).

The pipeline: read the shards (ray.data.read_binary_files), cut them into rows, regroup the rows
into batches of --batch-size as NumPy arrays, run them through --actors actor processes each
holding ONE cnnrun session for its whole life (map_batches with a callable class: the model is
loaded and planned once per actor, not once per batch) with --cpus-per-actor CPUs reserved and as
many cnnrun threads, and write one Parquet file per output block with the columns
    id        the row id
    output    the model's first output for the row (a tensor column)
    top1      argmax over the last axis, for outputs of shape [batch, classes]
On a real cluster: start Ray there (`ray start --head` on one node, `ray start --address=HEAD:6379`
on the others), put the model, the shards and the output directory where every node sees them
(a shared filesystem, or s3://... / gs://... paths, which Ray Data reads and writes directly),
install cnnrun on every node, and run this script on the head node with --address auto (or from
elsewhere with --address ray://HEAD:10001). Without --address, Ray starts a local instance on this
machine. --runtime onnxruntime runs the same pipeline on ONNX Runtime's Python package instead,
for comparison (bench/ray_throughput.py).
"""
import argparse
import io
import os
import sys

import numpy as np
import ray


class CnnrunPredictor:
    """One cnnrun session per actor, reused for every batch the actor is given."""

    def __init__(self, model_path, threads):
        import cnnrun
        self.model = cnnrun.Model(model_path)
        self.input_name = self.model.inputs[0].name
        self.session = self.model.session(threads=threads)

    def __call__(self, batch):
        # Ray hands a tensor column over as one stacked ndarray, C-contiguous: no copy on the way in.
        output = self.session.run({self.input_name: batch["input"]})[0]
        return predictions(batch["id"], output)


class OnnxruntimePredictor:
    """The same, on ONNX Runtime's Python package (for the benchmark)."""

    def __init__(self, model_path, threads):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(model_path, options,
                                                    providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch):
        output = self.session.run(None, {self.input_name: batch["input"]})[0]
        return predictions(batch["id"], output)


# Resources of the tasks that only read, cut and write files: next to inference they are small.
IO_TASKS = {"num_cpus": 0}

PREDICTORS = {"cnnrun": CnnrunPredictor, "onnxruntime": OnnxruntimePredictor}


def predictions(ids, output):
    result = {"id": ids, "output": output}
    if output.ndim == 2:
        result["top1"] = output.argmax(axis=1)
    return result


def shard_rows(input_name):
    """A map_batches function: a batch of whole shard files (bytes) -> their rows."""
    def unpack(batch):
        ids, inputs = [], []
        for path, data in zip(batch["path"], batch["bytes"]):
            x, given_ids = read_shard(path, data, input_name)
            name = os.path.basename(path)
            ids.extend(given_ids if given_ids is not None else [f"{name}:{i}" for i in range(len(x))])
            inputs.append(x)
        return {"id": np.array(ids, dtype=object), "input": np.concatenate(inputs)}
    return unpack


def read_shard(path, data, input_name):
    """(inputs, ids or None) of one shard's bytes."""
    loaded = np.load(io.BytesIO(data), allow_pickle=False)
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        names = [n for n in loaded.files if n != "id"]
        if input_name in loaded.files:
            key = input_name
        elif len(names) == 1:
            key = names[0]
        else:
            raise ValueError(f"{path}: no array named '{input_name}' among {', '.join(names)}")
        x = loaded[key]
        ids = [str(i) for i in loaded["id"]] if "id" in loaded.files else None
    if ids is not None and len(ids) != len(x):
        raise ValueError(f"{path}: {len(ids)} ids for {len(x)} rows")
    return x, ids


def shard_paths(paths):
    found = []
    for p in paths:
        if os.path.isdir(p):
            found.extend(sorted(os.path.join(p, f) for f in os.listdir(p)
                                if f.endswith((".npy", ".npz"))))
        else:
            found.append(p)
    if not found:
        raise SystemExit("no .npy or .npz shards given")
    return found


def build_pipeline(model_path, paths, actors, cpus_per_actor, batch_size, predictor=CnnrunPredictor):
    """The Ray Dataset of predictions (lazy: nothing runs until it is written or consumed).
    predictor: the callable class each actor holds one of (CnnrunPredictor, or another taking
    model_path and threads)."""
    input_name = input_name_of(model_path)
    # Reading and cutting shards reserve no CPU (IO_TASKS): the actors may hold every CPU of the
    # cluster for the whole run, and tasks that waited for a free one would never start.
    files = ray.data.read_binary_files(shard_paths(paths), include_paths=True, **IO_TASKS)
    rows = files.map_batches(shard_rows(input_name), batch_size=1, batch_format="numpy", **IO_TASKS)
    return rows.map_batches(
        predictor,
        fn_constructor_kwargs={"model_path": os.path.abspath(model_path), "threads": cpus_per_actor},
        batch_size=batch_size,
        batch_format="numpy",
        # A fixed pool of actors, each with its own session (what concurrency=actors meant before
        # Ray 2.51 deprecated that spelling).
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor)     # CPUs Ray reserves per actor = the session's threads


def input_name_of(model_path):
    import cnnrun
    return cnnrun.Model(model_path).inputs[0].name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("shards", nargs="+", help=".npy/.npz files or directories of them")
    parser.add_argument("--output", required=True, help="directory for the Parquet files")
    parser.add_argument("--address", help="Ray cluster to join (auto, ray://HOST:10001); "
                                          "default: start a local Ray instance")
    parser.add_argument("--actors", type=int, default=2, help="actor processes (default 2)")
    parser.add_argument("--cpus-per-actor", type=int, default=1,
                        help="CPUs reserved per actor = cnnrun threads per session (default 1)")
    parser.add_argument("--batch-size", type=int, default=256, help="rows per batch (default 256)")
    parser.add_argument("--runtime", choices=sorted(PREDICTORS), default="cnnrun")
    args = parser.parse_args(argv)

    if not ray.is_initialized():  # a caller (a test, a notebook) may have started Ray already
        ray.init(address=args.address)
    ds = build_pipeline(args.model, args.shards, args.actors, args.cpus_per_actor,
                        args.batch_size, PREDICTORS[args.runtime])
    ds.write_parquet(os.path.abspath(args.output), ray_remote_args=IO_TASKS)
    print(f"predictions written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
