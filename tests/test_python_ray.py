#!/usr/bin/env python3
"""examples/ray_batch_inference.py on a local Ray instance with 2 CPUs, against a single process.

Run by ctest with the venv's Python (Ray, pyarrow from PyPI; see python/setup_venv.sh).
2,000 inputs of the bundled digits model in 8 shards of every kind the example reads (.npy;
.npz with the input under its name and an id array; .npz with one unnamed array), batches of
128 rows through 2 actors of 1 CPU each; every row's output must equal, bit for bit, what one
cnnrun session at 1 thread in this process gives for the same row, and so must its top-1 class.
Environment (set by ctest): CNNRUN_SOURCE, CNNRUN_LIBRARY, PYTHONPATH (python/ and examples/).
"""
import os
import tempfile
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import ray  # noqa: E402

import cnnrun  # noqa: E402
from checks import check, finish  # noqa: E402
import ray_batch_inference  # noqa: E402

SOURCE = os.environ["CNNRUN_SOURCE"]
MODEL = os.path.join(SOURCE, "models", "digits_cnn.onnx")
ROWS, SHARDS = 2000, 8



def make_shards(tmp):
    """Digit-like inputs (the bundled samples, shifted and noised), in shards of three kinds.
    Returns {row id: input} as the example will name the rows."""
    rng = np.random.default_rng(12)
    base = np.load(os.path.join(SOURCE, "models", "digits_batch8.npy"))
    x = (base[rng.integers(0, len(base), ROWS)] * rng.uniform(0.5, 1.5, (ROWS, 1, 1, 1))
         + rng.normal(0, 2.0, (ROWS, 1, 8, 8))).astype(np.float32)
    by_id = {}
    for k, part in enumerate(np.array_split(np.arange(ROWS), SHARDS)):
        rows = x[part]
        if k % 3 == 0:
            name = "shard%d.npy" % k
            np.save(os.path.join(tmp, name), rows)
            ids = ["%s:%d" % (name, i) for i in range(len(rows))]
        elif k % 3 == 1:
            ids = ["digit-%05d" % i for i in part]
            np.savez(os.path.join(tmp, "shard%d.npz" % k), image=rows, id=np.array(ids))
        else:
            name = "shard%d.npz" % k
            np.savez_compressed(os.path.join(tmp, name), pixels=rows)
            ids = ["%s:%d" % (name, i) for i in range(len(rows))]
        by_id.update(zip(ids, rows))
    return by_id


def main():
    with tempfile.TemporaryDirectory() as tmp:
        shards = os.path.join(tmp, "shards")
        os.mkdir(shards)
        inputs = make_shards(shards)
        ids = list(inputs)
        session = cnnrun.Model(MODEL).session(threads=1)
        reference = session.run(np.stack([inputs[i] for i in ids]))[0]

        start = time.perf_counter()
        # "local": a Ray of its own, never one another job left running on this machine.
        ray.init(address="local", num_cpus=2, include_dashboard=False,
                 object_store_memory=200 * 2**20, log_to_driver=False)
        started = time.perf_counter()
        out = os.path.join(tmp, "predictions")
        ray_batch_inference.main([MODEL, shards, "--output", out, "--actors", "2",
                                  "--cpus-per-actor", "1", "--batch-size", "128"])
        done = time.perf_counter()
        ray.shutdown()
        print("ray start %.1f s, pipeline %.1f s" % (started - start, done - started))

        files = sorted(f for f in os.listdir(out) if f.endswith(".parquet"))
        tables = [pq.read_table(os.path.join(out, f)) for f in files]
        got_ids = [i for t in tables for i in t.column("id").to_pylist()]
        outputs = np.concatenate([np.array(t.column("output").to_pylist(), dtype=np.float32)
                                  for t in tables])
        top1 = np.concatenate([t.column("top1").to_numpy() for t in tables])
        check("every input predicted once (%d rows in %d Parquet files)" % (len(got_ids), len(files)),
              sorted(got_ids) == sorted(ids) and len(files) > 1, (len(got_ids), len(set(got_ids))))
        index = {i: k for k, i in enumerate(ids)}
        order = [index[i] for i in got_ids if i in index]
        if len(order) == len(ids):
            mismatched = int(np.sum(np.any(outputs != reference[order], axis=1)))
            check("every output bit-identical to the single-process run", mismatched == 0,
                  "%d rows differ, max diff %g" % (mismatched, np.abs(outputs - reference[order]).max()))
            check("every top-1 class = the single-process run's",
                  np.array_equal(top1, reference[order].argmax(axis=1)))
            classes = np.bincount(top1, minlength=10)
            check("the inputs are not all one class", np.count_nonzero(classes) >= 3, classes)
    finish()


if __name__ == "__main__":
    main()
