/* cnnrun_bench: cnnrun's side of the speed benchmark (bench/run_benchmarks.py drives it).
 *
 *   cnnrun_bench MODEL.onnx INPUT.npy... [--threads N] [--precision fp32|bf16] [--warmup W]
 *                [--runs N] [--max-seconds S] [--out DIR]
 *   cnnrun_bench --baseline
 *
 * One process measures one model once, with the same protocol as bench/ort_bench.js:
 * load the model and create a session (timed: file to ready-to-run session), the first run
 * (timed apart: with dynamic input dims cnnrun plans the graph here), W-1 more warm-up runs,
 * then N timed runs — fewer if S seconds pass first, but at least three — and prints one JSON
 * line. Inputs are read before the clock starts and bound in the order of the graph inputs.
 * --out writes each output of the last run as DIR/<output name>.npy for the driver to compare.
 *
 * --precision bf16 sets cnnrun_session_options.precision to CNNRUN_PRECISION_BFLOAT16; on a CPU
 * without AVX-512 BF16 the session refuses it and this exits with the library's message (which
 * names bfloat16), so the driver can tell "not supported here" from a failure.
 *
 * --baseline loads nothing: the driver measures the peak memory of a process that has the
 * library loaded and nothing else, and subtracts it from the model runs' peaks.
 *
 * Public API only (cnnrun.h), like tools/ and examples/. Peak memory is not measured here: the
 * driver reads it from the child's rusage, the same way for both runtimes. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnnrun.h"

#define EXIT_USAGE 2
#define MIN_TIMED_RUNS 3
#define MAX_INPUTS 16

typedef struct bench_options {
    const char *model_path;
    const char *input_paths[MAX_INPUTS];
    size_t n_inputs;
    int threads;
    cnnrun_precision precision;
    int warmup;       /* runs before timing, the first run included */
    int runs;
    double max_seconds; /* 0: no time limit */
    const char *out_dir;
    int baseline;
} bench_options;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail_status(cnnrun_status *status, const char *what)
{
    fprintf(stderr, "cnnrun_bench: %s: %s\n", what, cnnrun_status_message(status));
    cnnrun_status_free(status);
    return EXIT_USAGE;
}

static int usage(const char *why, const char *what)
{
    fprintf(stderr, "cnnrun_bench: %s%s%s\n"
                    "usage: cnnrun_bench MODEL.onnx INPUT.npy... [--threads N] "
                    "[--precision fp32|bf16] [--warmup W] [--runs N] [--max-seconds S] "
                    "[--out DIR]\n"
                    "       cnnrun_bench --baseline\n", why, what ? ": " : "", what ? what : "");
    return EXIT_USAGE;
}

/* The names the CLI takes (tools/cli_args.c), so both tools are driven alike. */
static int parse_precision(const char *text, cnnrun_precision *out)
{
    if (strcmp(text, "fp32") == 0) *out = CNNRUN_PRECISION_FLOAT32;
    else if (strcmp(text, "bf16") == 0) *out = CNNRUN_PRECISION_BFLOAT16;
    else return -1;
    return 0;
}

static const char *precision_name(cnnrun_precision precision)
{
    return precision == CNNRUN_PRECISION_BFLOAT16 ? "bf16" : "fp32";
}

/* Strictly parsed numbers: a typo in the driver must not become a silent default. */
static int parse_int(const char *text, int min, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < min || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, bench_options *o)
{
    *o = (bench_options){.threads = 2, .warmup = 2, .runs = 10};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--baseline") == 0) {
            o->baseline = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (!o->model_path) o->model_path = arg;
            else if (o->n_inputs < MAX_INPUTS) o->input_paths[o->n_inputs++] = arg;
            else return usage("too many inputs", arg);
            continue;
        }
        if (!value) return usage("an option lacks its value", arg);
        i++;
        int bad = 0;
        if (strcmp(arg, "--threads") == 0) bad = parse_int(value, 0, &o->threads);
        else if (strcmp(arg, "--precision") == 0) bad = parse_precision(value, &o->precision);
        else if (strcmp(arg, "--warmup") == 0) bad = parse_int(value, 1, &o->warmup);
        else if (strcmp(arg, "--runs") == 0) bad = parse_int(value, 1, &o->runs);
        else if (strcmp(arg, "--out") == 0) o->out_dir = value;
        else if (strcmp(arg, "--max-seconds") == 0) {
            char *end;
            o->max_seconds = strtod(value, &end);
            bad = end == value || *end || o->max_seconds < 0;
        } else return usage("unknown option", arg);
        if (bad) return usage("bad value for", arg);
    }
    if (o->baseline) return 0;
    if (!o->model_path) return usage("no model given", NULL);
    return 0;
}

/* Version strings go into JSON; escape what JSON requires. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_versions(void)
{
    printf("\"runtime\":\"cnnrun\",\"version\":");
    print_json_string(cnnrun_version());
    printf(",\"backend\":");
    print_json_string(cnnrun_backend_version());
}

typedef struct bench_state {
    cnnrun_model *model;
    cnnrun_session *session;
    cnnrun_arrays *files[MAX_INPUTS];
    cnnrun_tensor inputs[MAX_INPUTS];
    cnnrun_tensor *outputs;
    size_t n_outputs;
    double *latencies;
} bench_state;

static void free_state(bench_state *s)
{
    cnnrun_session_free(s->session);
    cnnrun_model_free(s->model);
    for (size_t i = 0; i < MAX_INPUTS; i++) cnnrun_arrays_free(s->files[i]);
    free(s->outputs);
    free(s->latencies);
}

static int read_inputs(const bench_options *o, bench_state *s)
{
    for (size_t i = 0; i < o->n_inputs; i++) {
        cnnrun_status *st = cnnrun_arrays_load(o->input_paths[i], &s->files[i]);
        if (st) return fail_status(st, o->input_paths[i]);
        const cnnrun_tensor *array = cnnrun_arrays_get(s->files[i], 0);
        if (!array) {
            fprintf(stderr, "cnnrun_bench: %s holds no array\n", o->input_paths[i]);
            return EXIT_USAGE;
        }
        s->inputs[i] = *array;
        s->inputs[i].name = NULL; /* bound by position: the order of the graph inputs */
    }
    return 0;
}

/* Asks for every output, left in the session's memory: no copy inside the timed runs. */
static int prepare_outputs(bench_state *s)
{
    s->n_outputs = cnnrun_model_output_count(s->model);
    s->outputs = calloc(s->n_outputs + 1, sizeof *s->outputs);
    if (!s->outputs) {
        fprintf(stderr, "cnnrun_bench: out of memory\n");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < s->n_outputs; i++) {
        cnnrun_value_info info;
        cnnrun_status *st = cnnrun_model_output_info(s->model, i, &info);
        if (st) return fail_status(st, "output info");
        s->outputs[i].name = info.name;
    }
    return 0;
}

static cnnrun_status *run_once(const bench_options *o, bench_state *s)
{
    for (size_t i = 0; i < s->n_outputs; i++) s->outputs[i].data = NULL;
    return cnnrun_session_run(s->session, s->inputs, o->n_inputs, s->outputs, s->n_outputs);
}

static int save_outputs(const bench_options *o, const bench_state *s)
{
    for (size_t i = 0; i < s->n_outputs; i++) {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s.npy", o->out_dir, s->outputs[i].name);
        if (n < 0 || (size_t)n >= sizeof path) {
            fprintf(stderr, "cnnrun_bench: output path too long\n");
            return EXIT_USAGE;
        }
        cnnrun_status *st = cnnrun_npy_save(path, &s->outputs[i]);
        if (st) return fail_status(st, path);
    }
    return 0;
}

static int bench(const bench_options *o, bench_state *s)
{
    int rc;
    if ((rc = read_inputs(o, s))) return rc;
    s->latencies = malloc((size_t)o->runs * sizeof *s->latencies);
    if (!s->latencies) return usage("out of memory for the latencies", NULL);

    double t0 = now_ms();
    cnnrun_status *st = cnnrun_model_load(o->model_path, &s->model);
    if (st) return fail_status(st, o->model_path);
    double t1 = now_ms();
    cnnrun_session_options options = {.threads = o->threads, .precision = o->precision};
    if ((st = cnnrun_session_create(s->model, &options, &s->session)))
        return fail_status(st, "session");
    double t2 = now_ms();
    if ((rc = prepare_outputs(s))) return rc;

    double first_run_ms = 0;
    for (int i = 0; i < o->warmup; i++) {
        double start = now_ms();
        if ((st = run_once(o, s))) return fail_status(st, "run");
        if (i == 0) first_run_ms = now_ms() - start;
    }
    int timed = 0;
    double timed_start = now_ms();
    while (timed < o->runs) {
        double start = now_ms();
        if ((st = run_once(o, s))) return fail_status(st, "run");
        double end = now_ms();
        s->latencies[timed++] = end - start;
        if (o->max_seconds > 0 && timed >= MIN_TIMED_RUNS &&
            end - timed_start >= o->max_seconds * 1e3)
            break;
    }
    if (o->out_dir && (rc = save_outputs(o, s))) return rc;

    printf("{");
    print_versions();
    printf(",\"precision\":\"%s\",\"threads\":%d,\"model_load_ms\":%.4f,\"session_create_ms\":%.4f,\"load_ms\":%.4f,"
           "\"first_run_ms\":%.4f,\"warmup_runs\":%d,\"latencies_ms\":[",
           precision_name(o->precision), o->threads, t1 - t0, t2 - t1, t2 - t0, first_run_ms, o->warmup);
    for (int i = 0; i < timed; i++) printf("%s%.4f", i ? "," : "", s->latencies[i]);
    printf("]}\n");
    return 0;
}

int main(int argc, char **argv)
{
    bench_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc;
    if (o.baseline) {
        printf("{");
        print_versions();
        printf(",\"baseline\":true}\n");
        return 0;
    }
    bench_state s = {0};
    rc = bench(&o, &s);
    free_state(&s);
    return rc;
}
