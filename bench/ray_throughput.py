#!/usr/bin/env python3
"""Images per second through the Ray Data recipe with cnnrun vs ONNX Runtime's Python package,
and the Python binding's per-run overhead over the C API; writes a section of BENCHMARKS.md.

    ~/.cache/cnnrun-python-venv/bin/python bench/ray_throughput.py [--build DIR] [--models NAME...]
        [--images N] [--batch-size B] [--actors A] [--rounds R] [--overhead-runs N] [--out FILE]

(The venv is the one ./setup.sh makes: Ray, pyarrow, onnxruntime; the package and the example are
taken from this checkout, the library from DIR.)

Throughput: for each model (opset-14 zoo exports of ResNet-18 and MobileNetV2, made with
tests/fixtures/make_zoo_models.py into DIR/tests/fixtures/zoo when missing), N random
[3, 224, 224] images are written once as .npy shards of B images; then, R rounds, each runtime in
turn (taking turns at going first), examples/ray_batch_inference.py's pipeline runs over them on
a local Ray instance with 2 CPUs: A actors of 1 CPU each, one session of 1 thread per actor
(cnnrun's CnnrunPredictor, or OnnxruntimePredictor with intra_op_num_threads = 1), batches of B,
Parquet out. Same shards, same batches, same Ray; only the runtime inside the actor differs.
Reported, median over the rounds: end-to-end images/s (N / wall time of the whole pipeline, actor
start and model load included, which is what a job of N images gets), in-actor images/s
(N / (summed batch inference wall time / A): the runtime's share alone) and images per CPU second
(N / summed CPU time of the inference calls' thread: both runtimes compute in the calling thread
at 1 thread, so this is their cost, and the figure other jobs on a shared machine move least).
The two runtimes' outputs are compared row by row (max|a-b| / max|b| and top-1 agreement).

Overhead: the digits model at batch 1 and 1 thread, M runs each, in 3 alternating rounds:
build/cnnrun_bench (the C API's per-run latency) and session.run in this process
(time.perf_counter_ns around each call, NumPy in and out); the difference of the medians is what
Python adds per run (the issue's goal: at most 20 us).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "python"), os.path.join(REPO, "examples")]
# Ray's worker processes inherit the environment: they import cnnrun and the example from here.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [os.path.join(REPO, "python"), os.path.join(REPO, "examples"), os.environ.get("PYTHONPATH", "")])
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

BEGIN, END = "<!-- ray_throughput:begin -->", "<!-- ray_throughput:end -->"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(base):
    """base's predictor, also returning each row's share of its batch's inference time."""
    class Timed(base):
        def __call__(self, batch):
            start, start_cpu = time.perf_counter(), time.thread_time()
            result = super().__call__(batch)
            rows = len(batch["id"])
            result["seconds"] = np.full(rows, (time.perf_counter() - start) / rows)
            # Both sessions have one thread, which computes in the calling thread: its CPU time
            # is the inference's cost, which other jobs on the machine do not inflate.
            result["cpu_seconds"] = np.full(rows, (time.thread_time() - start_cpu) / rows)
            return result
    Timed.__name__ = Timed.__qualname__ = "Timed" + base.__name__
    return Timed


def ensure_models(build, names):
    zoo = os.path.join(build, "tests", "fixtures", "zoo")
    missing = [n for n in names if not os.path.isfile(os.path.join(zoo, n + "_opset14", "model.onnx"))]
    if missing:
        log("exporting %s with tests/fixtures/make_zoo_models.py" % " ".join(missing))
        subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tests", "fixtures", "make_zoo_models.py"),
                        zoo, "--only", *missing], check=True)
    return {n: os.path.join(zoo, n + "_opset14", "model.onnx") for n in names}


def read_predictions(directory):
    tables = [pq.read_table(os.path.join(directory, f)) for f in sorted(os.listdir(directory))
              if f.endswith(".parquet")]
    ids = [i for t in tables for i in t.column("id").to_pylist()]
    out = np.concatenate([np.array(t.column("output").to_pylist(), dtype=np.float32) for t in tables])
    seconds = sum(float(t.column("seconds").to_numpy().sum()) for t in tables)
    cpu_seconds = sum(float(t.column("cpu_seconds").to_numpy().sum()) for t in tables)
    order = np.argsort(ids)
    return [ids[k] for k in order], out[order], seconds, cpu_seconds


def throughput(args, models):
    import ray
    import ray_batch_inference as recipe
    predictors = {"cnnrun": timed(recipe.CnnrunPredictor),
                  "onnxruntime": timed(recipe.OnnxruntimePredictor)}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=1024 * 2**20)
    rows = []
    try:
        for name, path in models.items():
            with tempfile.TemporaryDirectory() as tmp:
                shards = os.path.join(tmp, "shards")
                os.mkdir(shards)
                rng = np.random.default_rng(3)
                for k in range(0, args.images, args.batch_size):
                    n = min(args.batch_size, args.images - k)
                    np.save(os.path.join(shards, "shard%04d.npy" % k),
                            rng.standard_normal((n, 3, 224, 224), dtype=np.float32))
                runs = {r: [] for r in predictors}
                outputs = {}
                for rnd in range(args.rounds):
                    order = list(predictors) if rnd % 2 == 0 else list(predictors)[::-1]
                    for runtime in order:
                        out = os.path.join(tmp, "%s_%d" % (runtime, rnd))
                        start = time.perf_counter()
                        recipe.build_pipeline(path, [shards], args.actors, 1, args.batch_size,
                                              predictors[runtime]).write_parquet(
                            out, ray_remote_args=recipe.IO_TASKS)
                        wall = time.perf_counter() - start
                        ids, values, seconds, cpu_seconds = read_predictions(out)
                        if len(ids) != args.images:
                            raise SystemExit("%s %s: %d rows out of %d" % (name, runtime, len(ids), args.images))
                        outputs[runtime] = values
                        inside = args.images / (seconds / args.actors)
                        per_cpu = args.images / cpu_seconds
                        runs[runtime].append({"wall_s": wall, "end_to_end_ips": args.images / wall,
                                              "in_actor_ips": inside, "per_cpu_second": per_cpu})
                        log("%s %s round %d: %.1f s, %.1f images/s end to end, %.1f in the actors, "
                            "%.1f per CPU second" % (name, runtime, rnd + 1, wall, args.images / wall,
                                                     inside, per_cpu))
                a, b = outputs["cnnrun"], outputs["onnxruntime"]
                rows.append({
                    "model": name, "images": args.images, "batch": args.batch_size,
                    "runs": runs,
                    "max_rel_diff": float(np.abs(a - b).max() / np.abs(b).max()),
                    "top1_agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
                })
    finally:
        ray.shutdown()
    return rows


def overhead(args):
    import cnnrun
    model_path = os.path.join(REPO, "models", "digits_cnn.onnx")
    sample = os.path.join(REPO, "models", "digit_sample.npy")
    session = cnnrun.Model(model_path).session(threads=1)
    x = np.load(sample)
    c_medians, py_medians = [], []
    for rnd in range(3):
        proc = subprocess.run([os.path.join(args.build, "cnnrun_bench"), model_path, sample,
                               "--threads", "1", "--warmup", "100", "--runs", str(args.overhead_runs)],
                              capture_output=True, text=True, check=True)
        c_medians.append(statistics.median(json.loads(proc.stdout)["latencies_ms"]) * 1e3)
        for _ in range(100):
            session.run(x)
        times = []
        for _ in range(args.overhead_runs):
            t = time.perf_counter_ns()
            session.run(x)
            times.append(time.perf_counter_ns() - t)
        py_medians.append(statistics.median(times) / 1e3)
        log("overhead round %d: C %.2f us, Python %.2f us" % (rnd + 1, c_medians[-1], py_medians[-1]))
    return {"c_us": statistics.median(c_medians), "python_us": statistics.median(py_medians),
            "c_rounds_us": c_medians, "python_rounds_us": py_medians}


def report(args, rows, over, minutes):
    import onnxruntime
    import ray
    import cnnrun
    lines = [BEGIN, "", "## Ray Data batch inference (Python)", "",
             "Generated %s in %.1f min by `bench/ray_throughput.py` (Python %s, Ray %s, cnnrun %s on "
             "%s, onnxruntime %s). **Shared, noisy machine** (%d cores used by several jobs at "
             "once; 1-minute load average %.1f before, %.1f after): one run, figures are "
             "indicative; the ratio, from alternating rounds on the same machine, is the figure "
             "to read." % (
                 datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), minutes,
                 platform.python_version(), ray.__version__, cnnrun.__version__, cnnrun.backend_version,
                 onnxruntime.__version__, os.cpu_count(), args.load[0], args.load[1]), "",
             "examples/ray_batch_inference.py over %d random 3×224×224 images in .npy shards of %d, "
             "local Ray with 2 CPUs, %d actors × 1 CPU, one session of 1 thread per actor, batches "
             "of %d, Parquet out; median of %d rounds, runtimes taking turns. *End to end* = images "
             "/ wall time of the whole pipeline (actor start and model load included); *in actors* "
             "= images / (summed batch inference wall time / actors); *per CPU s* = images / CPU "
             "time of the inference calls (both sessions compute in the calling thread), the figure "
             "least moved by other jobs. Ratio = cnnrun / onnxruntime: above 1 means cnnrun is "
             "faster." % (
                 args.images, args.batch_size, args.actors, args.batch_size, args.rounds), "",
             "| model | metric | cnnrun img/s | onnxruntime img/s | ratio |",
             "|---|---|---|---|---|"]
    metrics = (("end_to_end_ips", "end to end"), ("in_actor_ips", "in actors"),
               ("per_cpu_second", "per CPU s"))
    agreement = []
    for r in rows:
        for key, label in metrics:
            c = statistics.median(run[key] for run in r["runs"]["cnnrun"])
            o = statistics.median(run[key] for run in r["runs"]["onnxruntime"])
            lines.append("| %s | %s | %.1f | %.1f | **%.2f** |" % (r["model"], label, c, o, c / o))
        agreement.append("%s max|a-b|/max|b| %.1e, top-1 agreement %.0f%%" % (
            r["model"], r["max_rel_diff"], 100 * r["top1_agreement"]))
    lines += ["", "Outputs, cnnrun against onnxruntime: " + "; ".join(agreement) + "."]
    lines += ["", "Python per-run overhead on the digits model (batch 1, 1 thread, %d runs × 3 rounds, "
              "medians): C API (`cnnrun_bench`) %.1f µs, `session.run` from Python %.1f µs: "
              "**+%.1f µs** per run (goal ≤ 20 µs; ratio %.2f)." % (
                  args.overhead_runs, over["c_us"], over["python_us"], over["python_us"] - over["c_us"],
                  over["python_us"] / over["c_us"]), "", END]
    return "\n".join(lines) + "\n"


def write_section(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--actors", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--overhead-runs", type=int, default=3000)
    p.add_argument("--out", default=os.path.join(REPO, "BENCHMARKS.md"))
    args = p.parse_args()
    args.build = os.path.abspath(args.build)
    os.environ.setdefault("CNNRUN_LIBRARY", os.path.join(args.build, "libcnnrun.so"))
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    over = overhead(args)
    rows = throughput(args, ensure_models(args.build, args.models))
    args.load = (load_before, os.getloadavg()[0])
    section = report(args, rows, over, (time.perf_counter() - start) / 60)
    os.makedirs(os.path.join(args.build, "bench"), exist_ok=True)
    with open(os.path.join(args.build, "bench", "ray_throughput.json"), "w") as f:
        json.dump({"throughput": rows, "overhead": over}, f, indent=1)
    write_section(args.out, section)
    print(section)


if __name__ == "__main__":
    main()
