#!/usr/bin/python3
"""cnnrun against ONNX Runtime's CPU provider on the model zoo; writes BENCHMARKS.md.

    /usr/bin/python3 bench/run_benchmarks.py [--build DIR] [--models NAME...] [--batches N...]
        [--precisions P...] [--seq-len T] [--rounds R] [--runs N] [--warmup W] [--max-seconds S]
        [--threads N] [--wait-quiet S] [--out FILE] [--note TEXT]

Every model and batch is measured in R rounds; each round runs one cnnrun process
(DIR/cnnrun_bench) and one ONNX Runtime process (bench/ort_bench.js on onnxruntime-node), taking
turns at going first so that neither always meets the machine in the same state. Each process
loads the model, runs W warm-up runs (the first one timed apart) and then N timed runs. In the
first round a process stops early once S seconds of timed runs have passed (at least 3 runs); the
later rounds then run the smaller of the two counts, so both runtimes contribute the same number
of samples. Latencies are pooled over the rounds; load time, first run and peak memory are the
median over the rounds. Both runtimes' outputs on the same random input are compared in the
first round; a row whose outputs differ (max|a-b| / max|b| > 1e-4) is invalid and is not a speed
result.

The vision models are measured a second time with cnnrun in bfloat16 (cnnrun_bench --precision
bf16), again in alternating rounds against ONNX Runtime in float32: ONNX Runtime's CPU provider
has no bfloat16 mode of the kind, so float32 stays the reference. bfloat16 keeps 8 significant
bits, so these rows miss the 1e-4 tolerance by design; they report their accuracy loss instead
(max|a-b| / max|b| and top-1 agreement against ONNX Runtime's float32 output) and go to a table
of their own that no float32 goal counts. On a CPU without AVX-512 BF16 the session refuses
bfloat16 and the rows are skipped with a note. --precisions fp32 leaves them out.

Peak memory is the child's own ru_maxrss (wait4 in DIR/peak_rss, bench/peak_rss.c). Each runtime's baseline (the process with
its library loaded and no model: cnnrun_bench --baseline, node with onnxruntime-node required)
is measured too, and the memory comparison uses peak - baseline, since node alone takes tens of
MB that are not ONNX Runtime's doing.

Missing models are exported with tests/fixtures/make_zoo_models.py into
DIR/tests/fixtures/zoo (where ctest puts them); onnxruntime-node is installed with npm into
DIR/bench/node_modules when it is not there. Raw measurements go to DIR/bench/results.json.
"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import zlib

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402
import children  # noqa: E402
import cpu_load  # noqa: E402
import flops  # noqa: E402
import machine  # noqa: E402
import peaks  # noqa: E402
import report  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 14
VISION_MODELS = ["resnet50", "resnet18", "mobilenet_v2", "squeezenet1_1", "densenet121",
                 "efficientnet_b0", "shufflenet_v2_x1_0", "googlenet"]
SEQUENCE_MODELS = ["lstm_classifier", "conv1d_series"]
PRECISIONS = ["fp32", "bf16"]
# cnnrun's bfloat16 mode covers convolutions and pooling, so only the CNNs are measured in it.
BF16_MODELS = VISION_MODELS
BASELINE_REPEATS = 3
ORT_PACKAGE = "onnxruntime-node"
# OpenBLAS misdetects this CPU's core type without it; only cnnrun links OpenBLAS.
OPENBLAS_ENV = {"OPENBLAS_CORETYPE": "SkylakeX"}
# Variables that change how either runtime threads or dispatches, recorded when inherited.
RECORDED_ENV_PREFIXES = ("OMP_", "GOMP_", "KMP_", "OPENBLAS_", "ONEDNN_", "DNNL_", "MKL_",
                         "ORT_", "UV_THREADPOOL")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help="cnnrun build directory (holds cnnrun_bench; default: build)")
    p.add_argument("--models", nargs="+", default=VISION_MODELS + SEQUENCE_MODELS,
                   choices=VISION_MODELS + SEQUENCE_MODELS, metavar="NAME")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8], metavar="N")
    p.add_argument("--precisions", nargs="+", default=PRECISIONS, choices=PRECISIONS,
                   metavar="P", help="cnnrun precisions to measure: fp32 and/or bf16 (bf16 for "
                                     "the vision models only; default both)")
    p.add_argument("--seq-len", type=int, default=50, metavar="T",
                   help="time steps of the sequence models (default 50)")
    p.add_argument("--rounds", type=int, default=5, metavar="R")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="timed runs per process")
    p.add_argument("--warmup", type=int, default=2, metavar="W",
                   help="warm-up runs per process, the first (timed apart) included")
    p.add_argument("--max-seconds", type=float, default=3.0, metavar="S",
                   help="time limit of the first round's timed runs per process (0: none)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="before each process, wait up to S s for a second in which other "
                        "processes use < 15%% of the machine (default 0: do not wait)")
    p.add_argument("--out", default=os.path.join(REPO, "BENCHMARKS.md"), metavar="FILE")
    p.add_argument("--note", default="", help="a paragraph put at the top of the report")
    p.add_argument("--report-only", action="store_true",
                   help="measure nothing: rewrite the report from DIR/bench/results.json, with "
                        "FLOPs counted again (after a change to bench/flops.py or the report)")
    args = p.parse_args()
    if min(args.batches) < 1 or args.rounds < 1 or args.runs < 1 or args.warmup < 1:
        p.error("batches, rounds, runs and warm-up runs must be at least 1")
    args.build = os.path.abspath(args.build)
    return args


def log(text):
    print(text, flush=True)


# --- setup: the runtimes and the models ------------------------------------------------------

def ensure_onnxruntime(build):
    prefix = os.path.join(build, "bench")
    package = os.path.join(prefix, "node_modules", ORT_PACKAGE)
    if not os.path.exists(os.path.join(package, "package.json")):
        os.makedirs(prefix, exist_ok=True)
        log(f"installing {ORT_PACKAGE} into {prefix}/node_modules")
        # --ignore-scripts: the install script would download things; the package ships the
        # native library it needs for the CPU provider.
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--prefix", prefix, ORT_PACKAGE], check=True)
    return package


def model_path(build, name):
    return os.path.join(build, "tests", "fixtures", "zoo", f"{name}_opset{OPSET}", "model.onnx")


def ensure_models(build, names):
    missing = [n for n in names if not os.path.exists(model_path(build, n))]
    if missing:
        log(f"exporting {' '.join(missing)} with tests/fixtures/make_zoo_models.py")
        subprocess.run([sys.executable, os.path.join(REPO, "tests", "fixtures",
                                                     "make_zoo_models.py"),
                        os.path.join(build, "tests", "fixtures", "zoo"), "--only", *missing],
                       check=True)


def input_shapes(path, batch, steps):
    """{input name: shape} with the batch dim and any time dim bound; fixed dims kept."""
    model = onnx.load(path, load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    shapes = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = []
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                dims.append(dim.dim_value)
            elif dim.dim_param == "batch":
                dims.append(batch)
            elif dim.dim_param == "time":
                dims.append(steps)
            else:
                raise ValueError(f"{path}: input {value.name} has a free dim "
                                 f"{dim.dim_param!r} the benchmark does not know how to bind")
        shapes[value.name] = tuple(dims)
    return shapes


def write_inputs(workdir, name, shapes):
    """Random N(0, 1) float32 inputs, seeded per model and shape; returns the file paths."""
    paths = []
    for input_name, shape in shapes.items():
        seed = zlib.crc32(f"{name}/{input_name}/{shape}".encode())
        data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        path = os.path.join(workdir, f"input_{len(paths)}.npy")
        np.save(path, data)
        paths.append(path)
    return paths


# --- one model and batch ----------------------------------------------------------------------

class Runtime:
    """How to start one runtime's benchmark child."""

    def __init__(self, key, argv_prefix, env, launcher, takes_precision):
        self.key, self.argv_prefix, self.env = key, argv_prefix, env
        self.launcher = launcher  # peak_rss, which measures the child's own peak memory
        self.takes_precision = takes_precision  # ONNX Runtime always runs in float32

    def run(self, argv, extra_env=None):
        return children.run_child(self.launcher, argv, env={**self.env, **(extra_env or {})})

    def argv(self, model, inputs, args, runs, max_seconds, out_dir, precision="fp32"):
        argv = [*self.argv_prefix, model, *inputs, "--threads", str(args.threads),
                "--warmup", str(args.warmup), "--runs", str(runs),
                "--max-seconds", str(max_seconds)]
        if self.takes_precision:
            argv += ["--precision", precision]
        return argv + (["--out", out_dir] if out_dir else [])

    def baseline_argv(self):
        return [*self.argv_prefix, "--baseline"]


def bench_case(name, batch, precision, args, runtimes, baselines):
    path = model_path(args.build, name)
    steps = args.seq_len if name in SEQUENCE_MODELS else None
    shapes = input_shapes(path, batch, steps)
    tag = f"{name}_b{batch}" + (f"_t{steps}" if steps else "") + \
        (f"_{precision}" if precision != "fp32" else "")
    workdir = os.path.join(args.build, "bench", "work", tag)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    # Seeded by model and shape only: a bfloat16 row gets the same input as its float32 row.
    inputs = write_inputs(workdir, name, shapes)
    row = {"model": name, "batch": batch, "steps": steps, "precision": precision, "tag": tag,
           "input_shapes": {k: list(v) for k, v in shapes.items()},
           "runs": {r.key: [] for r in runtimes}, "error": None}
    try:
        row["flops"], row["flops_by_op"] = flops.model_flops(path, shapes)
    except (flops.UnknownShape, ValueError) as e:
        row["flops"], row["flops_by_op"] = None, {}
        log(f"  {tag}: FLOPs not counted: {e}")

    runs, max_seconds = args.runs, args.max_seconds
    for round_index in range(args.rounds):
        order = runtimes if round_index % 2 == 0 else runtimes[::-1]
        for rt in order:
            out_dir = None
            if round_index == 0:
                out_dir = os.path.join(workdir, f"out_{rt.key}")
                os.makedirs(out_dir)
            argv = rt.argv(path, inputs, args, runs, max_seconds, out_dir, precision)
            waited = cpu_load.wait_until_quiet(args.wait_quiet)[0] if args.wait_quiet else 0.0
            try:
                result = rt.run(argv)
            except children.ChildFailed as e:
                row["error"] = f"{rt.key}: {e}"
                log(f"  {tag}: {row['error']}")
                return row
            rep = result.report
            row["runs"][rt.key].append({
                "latencies_ms": rep["latencies_ms"], "load_ms": rep["load_ms"],
                "first_run_ms": rep["first_run_ms"], "peak_rss": result.peak_rss_bytes,
                "wall_s": result.wall_s, "others_share": result.others_share,
                "waited_s": waited, "first": rt is order[0]})
        if round_index == 0:
            # Later rounds run as many as the slower runtime managed, so the sample counts match.
            counts = [len(row["runs"][rt.key][0]["latencies_ms"]) for rt in runtimes]
            runs, max_seconds = min(counts), 0
            for rt in runtimes:
                first = row["runs"][rt.key][0]
                first["latencies_ms"] = first["latencies_ms"][:runs]
            comparison = accuracy.compare_outputs(os.path.join(workdir, "out_cnnrun"),
                                                  os.path.join(workdir, "out_ort"))
            row["max_rel_diff"], row["top1"] = comparison.max_rel_diff, comparison.top1
            # bfloat16 is not held to float32's tolerance: its loss is the result reported.
            if precision == "fp32":
                row["error"] = accuracy.tolerance_problem(comparison)
            else:
                row["error"] = comparison.problem
    summarise(row, baselines)
    return row


def summarise(row, baselines):
    for key, runs in row["runs"].items():
        pooled = [x for run in runs for x in run["latencies_ms"]]
        round_medians = [statistics.median(run["latencies_ms"]) for run in runs]
        peak = statistics.median(run["peak_rss"] for run in runs)
        row[key] = {
            "median_ms": statistics.median(pooled), "min_ms": min(pooled),
            "samples": len(pooled), "round_medians_ms": round_medians,
            "load_ms": statistics.median(run["load_ms"] for run in runs),
            "first_run_ms": statistics.median(run["first_run_ms"] for run in runs),
            "peak_rss": peak, "attributable_rss": peak - baselines[key],
            "others_share": max(run["others_share"] for run in runs),
        }
    c = row["cnnrun"]
    if row["flops"]:
        c["gflops_per_s"] = row["flops"] / (c["median_ms"] * 1e6)


# --- the run ----------------------------------------------------------------------------------

def measure_peaks(args, program):
    """The machine's arithmetic peaks on 1 and args.threads threads, after waiting for a quiet
    machine when asked (a busy one only lowers them)."""
    if args.wait_quiet:
        cpu_load.wait_until_quiet(args.wait_quiet)
    measured = peaks.measure(program, args.threads)
    log("machine peaks (GFLOP/s): " + ", ".join(
        f"{kind} {v.get(str(args.threads), '?')}" for kind, v in measured.items() if isinstance(v, dict)))
    return measured


def measure_baselines(runtimes):
    baselines = {}
    for rt in runtimes:
        peaks = [rt.run(rt.baseline_argv()).peak_rss_bytes for _ in range(BASELINE_REPEATS)]
        baselines[rt.key] = statistics.median(peaks)
        log(f"baseline {rt.key}: {baselines[rt.key] / 2**20:.1f} MB "
            f"(median of {BASELINE_REPEATS})")
    return baselines


def verbose_run(args, cnnrun_rt, name, precision):
    """One cnnrun run of a model at batch 1 with ONEDNN_VERBOSE=1 (a ChildResult), whose lines
    say which ISA and kernels oneDNN chose; raises ChildFailed."""
    path = model_path(args.build, name)
    steps = args.seq_len if name in SEQUENCE_MODELS else None
    probe_dir = os.path.join(args.build, "bench", "work", f"onednn_verbose_{precision}")
    shutil.rmtree(probe_dir, ignore_errors=True)
    os.makedirs(probe_dir)
    inputs = write_inputs(probe_dir, name, input_shapes(path, 1, steps))
    return cnnrun_rt.run([*cnnrun_rt.argv_prefix, path, *inputs, "--threads", str(args.threads),
                          "--precision", precision, "--warmup", "1", "--runs", "1"],
                         extra_env={"ONEDNN_VERBOSE": "1"})


def probe_bf16(args, cnnrun_rt, name):
    """Whether cnnrun runs bfloat16 here: {"skipped": None or why not, "onednn": kernels seen}.

    Asked of the session itself, by one bfloat16 run of the model: it refuses bfloat16 on a CPU
    without AVX-512 BF16 (or when ONEDNN_MAX_CPU_ISA caps oneDNN below it) with a message naming
    bfloat16, which /proc/cpuinfo's flags alone would not catch. Any other failure is not a
    question of the CPU: the rows then run and report their own errors."""
    try:
        verbose = verbose_run(args, cnnrun_rt, name, "bf16")
    except children.ChildFailed as e:
        if "bfloat16" in str(e):
            # The library's own words, without cnnrun_bench's "... session: " prefix.
            line = next(x for x in str(e).splitlines() if "bfloat16" in x)
            reason = line.rsplit("session: ", 1)[-1]
            log(f"bf16 rows skipped: {reason}")
            return {"skipped": reason, "onednn": None, "probe": f"{name} batch 1"}
        log(f"bf16 probe failed (the rows will say why): {e}")
        return {"skipped": None, "onednn": None, "probe": f"{name} batch 1"}
    return {"skipped": None, "onednn": machine.onednn_from_verbose(verbose.stdout_lines),
            "probe": f"{name} batch 1"}


def describe(args, runtimes, library):
    """Machine, versions, environment; oneDNN's ISA from one verbose cnnrun run."""
    links_blas = machine.links_openblas(library)
    cnnrun_rt, ort_rt = runtimes
    verbose = verbose_run(args, cnnrun_rt, args.models[0], "fp32")
    ort_info = ort_rt.run(ort_rt.baseline_argv()).report
    commit, changed = machine.git_state(REPO)
    inherited = {k: v for k, v in os.environ.items() if k.startswith(RECORDED_ENV_PREFIXES)}
    return {
        "cpu": machine.cpu_description(), "system": machine.system_description(),
        "onednn": machine.onednn_from_verbose(verbose.stdout_lines),
        "onednn_probe": f"{args.models[0]} batch 1",
        "cnnrun_version": verbose.report["version"], "cnnrun_backend": verbose.report["backend"],
        "ort_version": ort_info["version"], "node_version": ort_info["node"],
        "commit": commit, "changed_files": changed, "links_openblas": links_blas,
        # Others may edit the tree after the build: the library's age says which state it has.
        "library_built": datetime.datetime.fromtimestamp(os.path.getmtime(library)).astimezone()
                         .strftime("%Y-%m-%d %H:%M %Z"),
        "env": {"cnnrun": OPENBLAS_ENV if links_blas else {}, "onnxruntime": {},
                "inherited": inherited},
    }


def rewrite_report(args):
    """The report again from the last run's raw figures: FLOPs recounted, peaks re-judged."""
    with open(os.path.join(args.build, "bench", "results.json")) as f:
        results = json.load(f)
    for row in results["rows"]:
        try:
            row["flops"], row["flops_by_op"] = flops.model_flops(
                model_path(args.build, row["model"]), {k: tuple(v) for k, v in row["input_shapes"].items()})
        except (flops.UnknownShape, ValueError) as e:
            row["flops"], row["flops_by_op"] = None, {}
            log(f"  {row['tag']}: FLOPs not counted: {e}")
        if "cnnrun" in row and row["flops"]:
            row["cnnrun"]["gflops_per_s"] = row["flops"] / (row["cnnrun"]["median_ms"] * 1e6)
        peaks.judge_row(row, results["peaks"], results["args"]["threads"],
                        results["bf16"]["onednn"] if row.get("precision") == "bf16" else None)
    with open(os.path.join(args.build, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    text = report.markdown(results, VISION_MODELS, SEQUENCE_MODELS) + kept_sections(args.out)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"rewrote {args.out} from the run of {results['date']}")


def main():
    args = parse_args()
    if args.report_only:
        rewrite_report(args)
        return
    started = time.monotonic()
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    command = "/usr/bin/python3 " + shlex.join(
        [os.path.relpath(os.path.abspath(sys.argv[0]), REPO), *sys.argv[1:]])
    bench_program = os.path.join(args.build, "cnnrun_bench")
    launcher = os.path.join(args.build, "peak_rss")
    peak_program = os.path.join(args.build, "machine_peak")
    library = os.path.join(args.build, "libcnnrun.so")
    for program in (bench_program, launcher, peak_program):
        if not os.path.exists(program):
            sys.exit(f"{program} is missing: build first "
                     f"(cmake -S . -B {args.build} && cmake --build {args.build} -j2)")
    node = shutil.which("node")
    if not node:
        sys.exit("node (Node.js) is not on PATH")
    ort_package = ensure_onnxruntime(args.build)
    ensure_models(args.build, args.models)

    links_blas = machine.links_openblas(library)
    base_env = dict(os.environ)
    runtimes = [
        Runtime("cnnrun", [bench_program], {**base_env, **(OPENBLAS_ENV if links_blas else {})},
                launcher, takes_precision=True),
        Runtime("ort", [node, os.path.join(REPO, "bench", "ort_bench.js"), "--ort", ort_package],
                base_env, launcher, takes_precision=False),
    ]
    load_before = os.getloadavg()
    info = describe(args, runtimes, library)
    bf16_models = [n for n in args.models if n in BF16_MODELS] if "bf16" in args.precisions else []
    bf16 = probe_bf16(args, runtimes[0], bf16_models[0]) if bf16_models else \
        {"skipped": None, "onednn": None, "probe": None}
    baselines = measure_baselines(runtimes)
    peaks_before = measure_peaks(args, peak_program)

    rows = []
    for name in args.models:
        for batch in args.batches:
            # A model's precisions back to back, so both meet the machine in much the same state.
            for precision in args.precisions:
                if precision == "bf16" and (name not in bf16_models or bf16["skipped"]):
                    continue
                case_start = time.monotonic()
                row = bench_case(name, batch, precision, args, runtimes, baselines)
                rows.append(row)
                log(report.progress_line(row) + f"  [{time.monotonic() - case_start:.0f} s]")

    machine_peaks = peaks.combine(peaks_before, measure_peaks(args, peak_program))
    for row in rows:
        peaks.judge_row(row, machine_peaks, args.threads,
                        bf16["onednn"] if row.get("precision") == "bf16" else None)
    info["loadavg"] = {"before": load_before, "after": os.getloadavg()}
    elapsed = time.monotonic() - started
    results = {"date": date, "command": command, "elapsed_s": elapsed, "args": vars(args),
               "machine": info, "baselines": baselines, "bf16": bf16, "peaks": machine_peaks,
               "rows": rows}
    with open(os.path.join(args.build, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    # Read what other benchmarks keep in the file before opening it for writing truncates it.
    text = report.markdown(results, VISION_MODELS, SEQUENCE_MODELS) + kept_sections(args.out)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"wrote {args.out} ({elapsed / 60:.1f} min)")


def kept_sections(path):
    """Sections other benchmarks (bench/ray_throughput.py) keep in the same file, between their
    '<!-- NAME:begin -->' and '<!-- NAME:end -->' lines: carried over, not overwritten."""
    if not os.path.exists(path):
        return ""
    kept = []
    lines = open(path).read().splitlines(keepends=True)
    inside = False
    for line in lines:
        if line.startswith("<!-- ") and line.rstrip().endswith(":begin -->"):
            inside = True
            kept.append("\n")
        if inside:
            kept.append(line)
        if line.startswith("<!-- ") and line.rstrip().endswith(":end -->"):
            inside = False
    return "".join(kept)


if __name__ == "__main__":
    main()
