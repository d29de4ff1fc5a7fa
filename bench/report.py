"""BENCHMARKS.md from the driver's results: tables, goals, machine, environment, method.

Rows in float32 (the goals) and in cnnrun's optional bfloat16 go to separate tables: a bfloat16
row is judged by its speed and its accuracy loss, and counts toward no float32 goal."""
import os

import peaks

MB = 2 ** 20
# Above this share of the machine taken by other processes during a row, its latencies are suspect.
BUSY_LIMIT = 0.10

# (text, rows it applies to, the largest median ratio cnnrun/ORT that meets it)
SPEED_GOALS = [
    ("ResNet-50, batch 1: median ratio ≤ 0.5",
     lambda r, vision, seq: r["model"] == "resnet50" and r["batch"] == 1, 0.5),
    ("MobileNetV2, batch 1: median ratio ≤ 0.7",
     lambda r, vision, seq: r["model"] == "mobilenet_v2" and r["batch"] == 1, 0.7),
    ("Every other CNN and batch: median ratio ≤ 1.0",
     lambda r, vision, seq: r["model"] in vision and not (
         r["model"] in ("resnet50", "mobilenet_v2") and r["batch"] == 1), 1.0),
    ("LSTM and Conv1D sequence models: median ratio ≤ 1.0",
     lambda r, vision, seq: r["model"] in seq, 1.0),
]
# Judged on the bfloat16 rows against ONNX Runtime in float32; optional, apart from the above.
BF16_GOAL = ("Optional, bfloat16 (not a float32 goal): ResNet-50, batch 1, cnnrun bf16 median "
             "≤ 0.5 × ONNX Runtime float32", lambda r: r["model"] == "resnet50" and r["batch"] == 1,
             0.5)


def ms(x):
    if x is None:
        return "—"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def mb(x):
    return "—" if x is None else f"{x / MB:.0f}" if abs(x) >= 10 * MB else f"{x / MB:.1f}"


def cell(text, limit=240):
    """Text safe inside a Markdown table cell: one line, no bare pipes, not too long."""
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("|", "\\|")


def ratio(a, b):
    return a / b if a is not None and b else None


def measured(row):
    return "cnnrun" in row and "ort" in row


def valid(row):
    return measured(row) and not row["error"]


def precision(row):
    return row.get("precision", "fp32")  # results from before the bfloat16 rows have none


def case_name(row):
    return f"{row['model']} b{row['batch']}" + (f" T={row['steps']}" if row["steps"] else "") + \
        (f" {precision(row)}" if precision(row) != "fp32" else "")


def rel_diff_text(row):
    return "—" if row.get("max_rel_diff") is None else f"{row['max_rel_diff']:.1e}"


def top1_text(row):
    """Batch rows whose top class agrees with ONNX Runtime's, as a fraction and a share."""
    if not row.get("top1"):
        return "—"
    agree, total = row["top1"]
    return f"{agree}/{total} ({100 * agree / total:.0f}%)"


def spread(values):
    """Largest over smallest per-round median: 1.0 when every round agrees, a noise indicator."""
    if len(values) < 2 or min(values) <= 0:
        return None
    return max(values) / min(values)


def spread_text(value):
    if value is None:
        return "—"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def others_share(row):
    return max(row["cnnrun"]["others_share"], row["ort"]["others_share"])


def busy(row):
    return measured(row) and others_share(row) > BUSY_LIMIT


def progress_line(row):
    if not measured(row):
        return f"{case_name(row)}: FAILED: {row['error']}"
    c, o = row["cnnrun"], row["ort"]
    state = f"INVALID ({row['error']})" if row["error"] else \
        f"ratio {c['median_ms'] / o['median_ms']:.2f}"
    if precision(row) != "fp32" and not row["error"]:
        state += (f"; against ORT float32: max rel diff {rel_diff_text(row)}, top-1 "
                  f"{top1_text(row)}")
    return (f"{case_name(row)}: cnnrun {ms(c['median_ms'])} ms, ORT {ms(o['median_ms'])} ms "
            f"(medians of {c['samples']}), {state}; other processes took up to "
            f"{100 * others_share(row):.0f}% of the machine")


def peak_share_text(row):
    peak = row["cnnrun"].get("peak")
    return f"{100 * peak['share']:.0f}%" if peak else "?"


def peaks_section(machine_peaks, threads):
    """The arithmetic peaks measured on this machine, which bound every row's GFLOP/s."""
    if not machine_peaks:
        return ["Not measured in this run (results from a harness without bench/machine_peak.c)."]
    lines = ["Register-only loops of one instruction kind (bench/machine_peak.c), best of 3 "
             "repetitions, measured before and after the rows (the higher figure kept). Every "
             "row's *share of peak* is its GFLOP/s over the peak of the arithmetic its kernels "
             "ran: float32 FMA for the float32 rows; for the bfloat16 rows AMX when oneDNN "
             "dispatched to it, else AVX-512 BF16. A row above 100% is **invalid**: its FLOP "
             "count or its time is wrong, or it was measured elsewhere.", "",
             f"| kind | 1 thread GFLOP/s | {threads} threads GFLOP/s |", "|---|---|---|"]
    for kind, value in machine_peaks.items():
        text = peaks.KIND_TEXT.get(kind, kind)
        if isinstance(value, str):
            lines.append(f"| {text} | {cell(value)} | — |")
        else:
            one, many = value.get("1"), value.get(str(threads))
            lines.append(f"| {text} | {one if one is not None else '—'} | "
                         f"{many if many is not None else '—'} |")
    return lines


def speed_table(rows):
    out = ["| model | batch | input | GFLOP | cnnrun median ms | cnnrun min ms | "
           "ORT median ms | ORT min ms | ratio median | ratio min | cnnrun GFLOP/s | "
           "share of peak | samples | round spread cnnrun / ORT | others' CPU | "
           "outputs max rel diff |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shapes = "; ".join("×".join(map(str, s)) for s in r["input_shapes"].values())
        gflop = f"{r['flops'] / 1e9:.3g}" if r.get("flops") else "?"
        if not measured(r):
            out.append(f"| {r['model']} | {r['batch']} | {shapes} | {gflop} | "
                       f"**failed**: {cell(r['error'])} |||||||||||")
            continue
        c, o = r["cnnrun"], r["ort"]
        if r["error"]:
            rmed = rmin = "**invalid**"
        else:
            rmed = f"**{ratio(c['median_ms'], o['median_ms']):.2f}**"
            rmin = f"{ratio(c['min_ms'], o['min_ms']):.2f}"
        gps = f"{c['gflops_per_s']:.1f}" if c.get("gflops_per_s") else "?"
        noise = " / ".join(spread_text(spread(x["round_medians_ms"])) for x in (c, o))
        others = f"{100 * others_share(r):.0f}%" + (" †" if busy(r) else "")
        diff = rel_diff_text(r)
        if r["error"]:
            diff += f" ({cell(r['error'])})"
        out.append(f"| {r['model']} | {r['batch']} | {shapes} | {gflop} | {ms(c['median_ms'])} | "
                   f"{ms(c['min_ms'])} | {ms(o['median_ms'])} | {ms(o['min_ms'])} | {rmed} | "
                   f"{rmin} | {gps} | {peak_share_text(r)} | {c['samples']} | {noise} | {others} | "
                   f"{diff} |")
    return out


def load_memory_table(rows):
    out = ["| model | batch | load ms cnnrun | load ms ORT | first run ms cnnrun | "
           "first run ms ORT | peak RSS MB cnnrun | peak RSS MB ORT | "
           "model-attributable MB cnnrun | model-attributable MB ORT |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not measured(r):
            continue
        c, o = r["cnnrun"], r["ort"]
        out.append(f"| {r['model']} | {r['batch']} | {ms(c['load_ms'])} | {ms(o['load_ms'])} | "
                   f"{ms(c['first_run_ms'])} | {ms(o['first_run_ms'])} | {mb(c['peak_rss'])} | "
                   f"{mb(o['peak_rss'])} | {mb(c['attributable_rss'])} | "
                   f"{mb(o['attributable_rss'])} |")
    return out


def bf16_table(rows, fp32_rows):
    """The bfloat16 rows: speed against ONNX Runtime float32 and against cnnrun's own float32
    row of the same model and batch, and how far the outputs moved."""
    fp32_median = {(r["model"], r["batch"]): r["cnnrun"]["median_ms"]
                   for r in fp32_rows if valid(r)}
    out = ["| model | batch | cnnrun bf16 median ms | cnnrun bf16 min ms | ORT f32 median ms | "
           "ORT f32 min ms | ratio median | ratio min | cnnrun f32 median ms | bf16 speed-up "
           "over cnnrun f32 | cnnrun GFLOP/s | share of peak | samples | round spread cnnrun / "
           "ORT | others' CPU | max rel diff vs ORT f32 | top-1 agreement |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not measured(r):
            out.append(f"| {r['model']} | {r['batch']} | **failed**: {cell(r['error'])} "
                       "|||||||||||||||")
            continue
        c, o = r["cnnrun"], r["ort"]
        if r["error"]:  # outputs that could not be compared (shape, NaN), or above the peak
            rmed = rmin = "**invalid**"
        else:
            rmed = f"**{ratio(c['median_ms'], o['median_ms']):.2f}**"
            rmin = f"{ratio(c['min_ms'], o['min_ms']):.2f}"
        f32 = fp32_median.get((r["model"], r["batch"]))
        speedup = f"{f32 / c['median_ms']:.2f}×" if f32 else "—"
        gps = f"{c['gflops_per_s']:.1f}" if c.get("gflops_per_s") else "?"
        noise = " / ".join(spread_text(spread(x["round_medians_ms"])) for x in (c, o))
        others = f"{100 * others_share(r):.0f}%" + (" †" if busy(r) else "")
        diff = rel_diff_text(r) + (f" ({cell(r['error'])})" if r["error"] else "")
        out.append(f"| {r['model']} | {r['batch']} | {ms(c['median_ms'])} | {ms(c['min_ms'])} | "
                   f"{ms(o['median_ms'])} | {ms(o['min_ms'])} | {rmed} | {rmin} | {ms(f32)} | "
                   f"{speedup} | {gps} | {peak_share_text(r)} | {c['samples']} | {noise} | "
                   f"{others} | {diff} | {top1_text(r)} |")
    return out


def bf16_section(rows, fp32_rows, bf16):
    lines = [
        "cnnrun's optional bfloat16 mode (`--precision bf16`, "
        "`cnnrun_session_options.precision = CNNRUN_PRECISION_BFLOAT16`) runs convolutions, "
        "their fused post-ops and pooling in bfloat16 on AVX-512 BF16/AMX, everything else in "
        "float32. bfloat16 keeps 8 significant bits: it is several times faster, but on the zoo's "
        "random-weight models the outputs move by 1–13% of their largest magnitude and the top "
        "class can change for some inputs. ONNX Runtime's CPU provider has no equivalent mode, so "
        "the reference is ONNX Runtime in **float32**, measured in alternating rounds with each "
        "bfloat16 row exactly like the float32 rows, on the same input. *max rel diff* = "
        "max|cnnrun bf16 − ORT f32| / max|ORT f32|; *top-1 agreement* = the batch rows whose "
        "argmax is the same in both. These rows are not held to the 1e-4 tolerance and do not "
        "count toward the float32 goals; *cnnrun f32* is the float32 row of the same model and "
        "batch above.", ""]
    if bf16.get("skipped"):
        return lines + [f"**Skipped:** the session refused bfloat16 on this machine (the CPU "
                        f"lacks AVX-512 BF16, or oneDNN is capped below it): "
                        f"{cell(bf16['skipped'], 400)}"]
    if not rows:
        return lines + ["Not measured in this run (`--precisions` without bf16, or no vision "
                        "model in `--models`)."]
    lines += bf16_table(rows, fp32_rows)
    dnn = bf16.get("onednn")
    if dnn:
        impls = ", ".join(f"{prim} {impl} ×{n}" for n, prim, impl in dnn["implementations"])
        lines += ["", f"oneDNN implementations that ran in a bfloat16 run of {bf16['probe']} "
                      f"(ONEDNN_VERBOSE=1): {impls or 'none reported'}"]
    return lines


def judge(rows, value_of, limit_of, describe_value):
    """Goal status over rows: met only if every row is valid and within its limit."""
    if not rows:
        return "not measured in this run", ""
    misses, values = 0, []
    for r in rows:
        if not valid(r):
            misses += 1
            values.append(f"{case_name(r)} {'invalid' if measured(r) else 'failed'}")
            continue
        misses += value_of(r) > limit_of(r)
        values.append(f"{case_name(r)} {describe_value(r)}")
    values = ", ".join(values)
    if misses:
        return f"**not met** ({len(rows) - misses} of {len(rows)} rows)", values
    return f"met ({len(rows)} of {len(rows)} rows)", values


def ratio_goal_line(text, chosen, limit):
    status, values = judge(chosen, lambda r: r["cnnrun"]["median_ms"] / r["ort"]["median_ms"],
                           lambda r: limit,
                           lambda r: f"{r['cnnrun']['median_ms'] / r['ort']['median_ms']:.2f}")
    return f"| {text} | {status} | {values} |"


def bf16_goal_line(rows, bf16):
    text, selects, limit = BF16_GOAL
    if bf16.get("skipped"):
        return f"| {text} | skipped: the CPU lacks AVX-512 BF16 | — |"
    return ratio_goal_line(text, [r for r in rows if selects(r)], limit)


def goals_table(rows, vision, seq, bf16_rows, bf16):
    """The float32 goals on the float32 rows, then the optional bfloat16 line on its own rows."""
    out = ["| goal | status | measured |", "|---|---|---|"]
    for text, selects, limit in SPEED_GOALS:
        out.append(ratio_goal_line(text, [r for r in rows if selects(r, vision, seq)], limit))

    def ready(x):
        return x["load_ms"] + x["first_run_ms"]
    status, values = judge(rows, lambda r: ready(r["cnnrun"]), lambda r: ready(r["ort"]),
                           lambda r: f"{ms(ready(r['cnnrun']))} vs {ms(ready(r['ort']))} ms")
    out.append("| Load time ≤ ONNX Runtime's, judged on time to first output (load + first run, "
               f"since cnnrun plans dynamic shapes at the first run) | {status} | {values} |")
    status, values = judge(rows, lambda r: r["cnnrun"]["attributable_rss"],
                           lambda r: r["ort"]["attributable_rss"],
                           lambda r: f"{mb(r['cnnrun']['attributable_rss'])} vs "
                                     f"{mb(r['ort']['attributable_rss'])} MB")
    out.append(f"| Peak memory ≤ ONNX Runtime's (model-attributable: peak − baseline) | "
               f"{status} | {values} |")
    out.append(bf16_goal_line(bf16_rows, bf16))
    return out


def machine_section(m, baselines):
    cpu, system, dnn = m["cpu"], m["system"], m["onednn"]
    changed = m["changed_files"]
    tree = f"commit {m['commit']}"
    if changed:
        tree += (f", with uncommitted changes in {len(changed)} tracked files at run time "
                 f"({', '.join(changed[:12])}{', …' if len(changed) > 12 else ''}); the build "
                 "measured is whatever was compiled from that tree")
    impls = ", ".join(f"{prim} {impl} ×{n}" for n, prim, impl in dnn["implementations"])
    before, after = m["loadavg"]["before"], m["loadavg"]["after"]
    return [
        f"- CPU: {cpu['model']}; {cpu['logical_cpus']} logical CPUs"
        + (f", {cpu['physical_cores']} physical cores" if cpu["physical_cores"] else "")
        + f"; flags {' '.join(cpu['isa_flags'])}",
        f"- oneDNN: {dnn['version']}, ISA dispatched: **{dnn['isa']}** ({dnn['runtime']}); "
        f"read from oneDNN's info lines of one cnnrun run of {m['onednn_probe']} with "
        "ONEDNN_VERBOSE=1",
        f"- oneDNN implementations that ran in that probe: {impls or 'none reported'}",
        f"- ONNX Runtime: onnxruntime-node {m['ort_version']} (its bundled libonnxruntime, CPU "
        f"provider) on Node.js {m['node_version']}",
        f"- cnnrun {m['cnnrun_version']} ({m['cnnrun_backend']}), {tree}; libcnnrun.so built "
        f"{m['library_built']}, "
        + ("links OpenBLAS" if m["links_openblas"] else "does not link OpenBLAS"),
        f"- {system['os']}, Linux {system['kernel']}, {system['memory_gb']:.0f} GB RAM",
        f"- Baseline peak RSS (process with the runtime loaded, no model): cnnrun "
        f"{mb(baselines['cnnrun'])} MB, ONNX Runtime under node {mb(baselines['ort'])} MB",
        f"- Load average (1, 5, 15 min) before the run {before[0]:.2f}, {before[1]:.2f}, "
        f"{before[2]:.2f}; after {after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f} (other work on "
        "the machine shows here and in the round spread)",
    ]


def environment_section(env):
    def fmt(d):
        return ", ".join(f"`{k}={v}`" for k, v in sorted(d.items())) or "nothing"
    return [
        f"- cnnrun child: {fmt(env['cnnrun'])} added"
        + (" (libcnnrun.so still links OpenBLAS)" if env["cnnrun"] else ""),
        f"- ONNX Runtime child: {fmt(env['onnxruntime'])} added",
        f"- Inherited by both from the driver's environment (threading/dispatch variables): "
        f"{fmt(env['inherited'])}",
    ]


def method_section(args):
    return [
        f"- Each model and batch: {args['rounds']} rounds; each round one cnnrun process "
        "(`cnnrun_bench`) and one ONNX Runtime process (`bench/ort_bench.js`), alternating which "
        "goes first. Each process loads the model, runs "
        f"{args['warmup']} warm-up runs (the first timed apart as *first run*), then the timed "
        f"runs: up to {args['runs']} in the first round (stopping after "
        f"{args['max_seconds']:g} s of timed runs, at least 3), and in later rounds the smaller of "
        "the two runtimes' first-round counts, so both contribute the same number of samples. "
        "Latencies are pooled over the rounds (*samples*); *round spread* is the largest over "
        "the smallest per-round median (1.00× when the rounds agree), a noise indicator. *Others' CPU*: the largest share "
        "of the machine (all CPUs) that other processes used while one of the row's processes "
        "ran — /proc/stat busy time minus the child's own CPU time; above "
        f"{100 * BUSY_LIMIT:.0f}% the row is marked †."
        + (f" Before each process the driver waited up to {args['wait_quiet']:g} s for a quiet "
           "second (< 15% busy)." if args.get("wait_quiet") else ""),
        f"- Threads: cnnrun `cnnrun_session_options.threads = {args['threads']}`; ONNX Runtime "
        f"`graphOptimizationLevel: 'all'`, `intraOpNumThreads: {args['threads']}`, "
        "`interOpNumThreads: 1`, `executionMode: 'sequential'`, CPU provider, other options at "
        "their defaults.",
        "- Input: one N(0, 1) float32 array per model and shape, the same file for both; the "
        "vision models take [N, 3, 224, 224], lstm_classifier [B, T, 16], conv1d_series "
        f"[B, 6, T] with T = {args['seq_len']}. Models: the opset-14 exports of "
        "tests/fixtures/make_zoo_models.py (dynamic batch/time axes, random weights).",
        "- Outputs of the first round are compared: max|cnnrun − ORT| / max|ORT| must be ≤ 1e-4, "
        "else the row is **invalid** and is not a speed result.",
        "- bfloat16 rows (unless `--precisions fp32`): the vision models again with "
        "`cnnrun_bench --precision bf16`, each right after the float32 row of the same model and "
        "batch, with its own rounds of cnnrun and ONNX Runtime (float32) processes as above and "
        "the same input file. Their outputs are compared the same way but not held to the "
        "tolerance (only outputs that cannot be compared, by shape or non-finite values, make "
        "one invalid); top-1 agreement is counted over the rows of the last axis (the classes). "
        "Before them one bfloat16 run asks the session whether this CPU supports it.",
        "- *Load*: file to ready-to-run session (cnnrun_model_load + cnnrun_session_create; "
        "ORT InferenceSession.create), first run excluded and shown apart; median over rounds. "
        "cnnrun plans a model with dynamic dims at its first run, so the load goal is judged on "
        "load + first run.",
        "- *Peak RSS*: ru_maxrss of each child alone (wait4 in bench/peak_rss.c, a small "
        "launcher: started straight from the Python driver, a child's ru_maxrss would include "
        "the driver's memory, which Linux carries across exec), median over rounds; "
        "*model-attributable* = peak − the runtime's baseline process (cnnrun_bench --baseline; "
        "node with onnxruntime-node loaded). Both figures include the input array, and whatever "
        "each runtime holds while it reads the model file (file buffer, protobuf, packed "
        "weights) if that is its high-water mark.",
        "- *GFLOP*: counted from the ONNX graph at the benchmarked shape with onnx.shape_inference: "
        "Conv 2·N·Cout·(Cin/group)·(output position, kernel tap) pairs inside the input (the "
        "multiply-adds a direct kernel does: zero padding excluded), ConvTranspose "
        "2·N·Cin·∏(in spatial)·(Cout/group)·∏(kernel), Gemm/MatMul "
        "2·M·N·K, LSTM/GRU/RNN gate matmuls 2·dirs·T·B·gates·H·(I+H); bias, normalisation, "
        "activations, pooling and other elementwise ops are not counted. cnnrun GFLOP/s = "
        "GFLOP / cnnrun's median latency.",
    ]


def markdown(results, vision, seq):
    m, args = results["machine"], results["args"]
    rows = [r for r in results["rows"] if precision(r) == "fp32"]
    bf16_rows = [r for r in results["rows"] if precision(r) == "bf16"]
    bf16 = results.get("bf16") or {}
    lines = ["# Benchmarks: cnnrun against ONNX Runtime (CPU)", ""]
    if args.get("note"):
        lines += [f"> {args['note']}", ""]
    lines += [f"Generated {results['date']} in {results['elapsed_s'] / 60:.1f} min on "
              f"{m['cpu']['model']} ({m['cpu']['logical_cpus']} logical CPUs; peaks and details "
              "under *Machine*) by:", "",
              f"    {results['command']}", "",
              "Ratio = cnnrun / ONNX Runtime latency: below 1 means cnnrun is faster.", ""]
    flagged = [case_name(r) for r in results["rows"] if busy(r)]
    if flagged:
        lines += [f"**Noise warning:** other processes took more than {100 * BUSY_LIMIT:.0f}% of "
                  f"the machine while {len(flagged)} of {len(results['rows'])} rows ran (marked † under "
                  "*others' CPU*): their latencies, and ratios, are not trustworthy. Rerun them "
                  "on a quiet machine (`--wait-quiet 60` waits for one before each process).", ""]
    lines += ["## Latency", ""]
    if rows:
        lines += speed_table(rows)
        lines += ["", "## Load time and memory", ""]
        lines += load_memory_table(rows)
    else:
        lines += ["No float32 rows in this run (`--precisions` without fp32)."]
    lines += ["", "## bfloat16 (optional)", ""]
    lines += bf16_section(bf16_rows, rows, bf16)
    lines += ["", "## Goals", ""]
    lines += goals_table(rows, vision, seq, bf16_rows, bf16)
    lines += ["", "## Machine", ""]
    lines += machine_section(m, results["baselines"])
    lines += ["", "### Arithmetic peaks", ""]
    lines += peaks_section(results.get("peaks"), args["threads"])
    lines += ["", "## Environment", ""]
    lines += environment_section(m["env"])
    lines += ["", "## Method", ""]
    lines += method_section(args)
    lines += ["", f"Raw measurements: `{os.path.join(os.path.relpath(args['build']), 'bench', 'results.json')}`"
              " (per process latencies, load times and peaks).", ""]
    return "\n".join(lines)
