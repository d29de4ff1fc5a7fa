/* cnnrun: run an ONNX model from the shell.
 *
 *   cnnrun model.onnx input.npy [--expect ref.npy] [-o out.npy] [--summary] [--bench N] ...
 *
 * Built on the public API (cnnrun.h) alone: the program is the library's first client. The flow
 * is one straight line — parse, load, bind inputs, (summary), run, print, save, compare, bench —
 * and every step that fails prints "cnnrun: error: ..." and leaves through the one cleanup. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_args.h"
#include "cli_compare.h"
#include "cli_print.h"
#include "cnnrun.h"

#define WARMUP_RUNS 3

typedef struct cli_run {
    cli_options opts;
    cnnrun_model *model;
    cnnrun_session *session;
    size_t n_inputs, n_outputs;
    cnnrun_value_info *input_info, *output_info;
    cnnrun_arrays **input_files;   /* every array file read for inputs */
    size_t n_input_files;
    cnnrun_tensor *inputs;         /* one per graph input, pointing into input_files */
    const char **input_sources;    /* the file each input came from, for messages */
    void **converted;              /* float32 copies of float64 inputs, owned here */
    cnnrun_tensor *outputs;        /* session-owned data after the run */
    int have_inputs;
} cli_run;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints a library error and frees it. The file the error is about is named unless the library's
 * message already names it. */
static int report_status(cnnrun_status *status, const char *path)
{
    const char *message = cnnrun_status_message(status);
    if (path && !strstr(message, path)) cli_error("%s: %s", path, message);
    else cli_error("%s", message);
    cnnrun_status_free(status);
    return CLI_EXIT_ERROR;
}

static int find_info(const cnnrun_value_info *infos, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (infos[i].name && strcmp(infos[i].name, name) == 0) return (int)i;
    return -1;
}

/* "image, mask" for messages that list what would have been accepted. */
static void list_names(char *buf, size_t size, const cnnrun_value_info *infos, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                         infos[i].name ? infos[i].name : "?");
        if (w < 0) break;
        used += (size_t)w;
    }
    if (n == 0) snprintf(buf, size, "none");
}

static int load_model(cli_run *run)
{
    double t0 = now_ms();
    cnnrun_status *st = cnnrun_model_load(run->opts.model_path, &run->model);
    if (st) return report_status(st, run->opts.model_path);
    double t1 = now_ms();

    run->n_inputs = cnnrun_model_input_count(run->model);
    run->n_outputs = cnnrun_model_output_count(run->model);
    run->input_info = calloc(run->n_inputs + 1, sizeof *run->input_info);
    run->output_info = calloc(run->n_outputs + 1, sizeof *run->output_info);
    run->inputs = calloc(run->n_inputs + 1, sizeof *run->inputs);
    run->input_sources = calloc(run->n_inputs + 1, sizeof *run->input_sources);
    run->converted = calloc(run->n_inputs + 1, sizeof *run->converted);
    run->outputs = calloc(run->n_outputs + 1, sizeof *run->outputs);
    if (!run->input_info || !run->output_info || !run->inputs || !run->input_sources ||
        !run->converted || !run->outputs) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < run->n_inputs; i++)
        if ((st = cnnrun_model_input_info(run->model, i, &run->input_info[i])))
            return report_status(st, run->opts.model_path);
    for (size_t i = 0; i < run->n_outputs; i++)
        if ((st = cnnrun_model_output_info(run->model, i, &run->output_info[i])))
            return report_status(st, run->opts.model_path);

    cnnrun_session_options options = {
        .threads = run->opts.threads,
        .precision = run->opts.bf16 ? CNNRUN_PRECISION_BFLOAT16 : CNNRUN_PRECISION_FLOAT32,
        .max_memory = run->opts.max_memory,
        .conv_algorithm = run->opts.winograd ? CNNRUN_CONV_WINOGRAD : CNNRUN_CONV_DIRECT};
    if ((st = cnnrun_session_create(run->model, &options, &run->session)))
        return report_status(st, run->opts.model_path);
    double t2 = now_ms();

    if (run->opts.verbose) {
        char text[512];
        fprintf(stderr, "model: %s: %zu input(s), %zu output(s), loaded in %.3g ms\n",
                run->opts.model_path, run->n_inputs, run->n_outputs, t1 - t0);
        for (size_t i = 0; i < run->n_inputs; i++) {
            cli_format_value_info(text, sizeof text, &run->input_info[i]);
            fprintf(stderr, "  input  %s: %s\n", run->input_info[i].name, text);
        }
        for (size_t i = 0; i < run->n_outputs; i++) {
            cli_format_value_info(text, sizeof text, &run->output_info[i]);
            fprintf(stderr, "  output %s: %s\n", run->output_info[i].name, text);
        }
        char threads[32] = "auto";
        if (run->opts.threads) snprintf(threads, sizeof threads, "%d", run->opts.threads);
        fprintf(stderr, "session: created in %.3g ms (threads: %s; planned now if every input "
                        "shape is fixed)\n", t2 - t1, threads);
    }
    return CLI_EXIT_OK;
}

static int load_arrays(cli_run *run, const char *path, cnnrun_arrays **out)
{
    cnnrun_status *st = cnnrun_arrays_load(path, out);
    if (st) return report_status(st, path);
    run->input_files[run->n_input_files++] = *out;
    return CLI_EXIT_OK;
}

static int bind_input(cli_run *run, size_t index, const cnnrun_tensor *array, const char *path)
{
    if (run->input_sources[index]) {
        cli_error("input '%s' is given twice (by '%s' and '%s')", run->input_info[index].name,
                  run->input_sources[index], path);
        return CLI_EXIT_ERROR;
    }
    run->inputs[index] = *array;
    run->inputs[index].name = run->input_info[index].name;
    run->input_sources[index] = path;
    return CLI_EXIT_OK;
}

/* The next graph input that no file has claimed yet, or -1. */
static int next_unbound(const cli_run *run)
{
    for (size_t i = 0; i < run->n_inputs; i++)
        if (!run->input_sources[i]) return (int)i;
    return -1;
}

/* A single file that names every graph input (an .npz of "image", "mask", ...) binds by name. */
static int binds_by_name(const cli_run *run, const cnnrun_arrays *arrays)
{
    size_t n = cnnrun_arrays_count(arrays);
    if (n < 2 && run->n_inputs < 2) return 0;
    for (size_t i = 0; i < run->n_inputs; i++)
        if (!run->input_sources[i] && !cnnrun_arrays_find(arrays, run->input_info[i].name)) return 0;
    return 1;
}

static int collect_inputs(cli_run *run)
{
    const cli_options *o = &run->opts;
    char names[512];
    list_names(names, sizeof names, run->input_info, run->n_inputs);
    run->input_files = calloc(o->n_input_paths + o->n_named_inputs + 1, sizeof *run->input_files);
    if (!run->input_files) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    int rc;
    for (size_t k = 0; k < o->n_named_inputs; k++) {
        const cli_binding *b = &o->named_inputs[k];
        int index = find_info(run->input_info, run->n_inputs, b->name);
        if (index < 0) {
            cli_error("--input names '%s', which is not a model input (inputs: %s)", b->name, names);
            return CLI_EXIT_ERROR;
        }
        cnnrun_arrays *arrays;
        if ((rc = load_arrays(run, b->path, &arrays))) return rc;
        const cnnrun_tensor *array = cnnrun_arrays_find(arrays, b->name);
        if (!array && cnnrun_arrays_count(arrays) == 1) array = cnnrun_arrays_get(arrays, 0);
        if (!array) {
            cli_error("%s holds %zu arrays and none is named '%s'", b->path,
                      cnnrun_arrays_count(arrays), b->name);
            return CLI_EXIT_ERROR;
        }
        if ((rc = bind_input(run, (size_t)index, array, b->path))) return rc;
    }
    for (size_t k = 0; k < o->n_input_paths; k++) {
        const char *path = o->input_paths[k];
        cnnrun_arrays *arrays;
        if ((rc = load_arrays(run, path, &arrays))) return rc;
        size_t count = cnnrun_arrays_count(arrays);
        if (o->n_input_paths == 1 && binds_by_name(run, arrays)) {
            for (size_t i = 0; i < run->n_inputs; i++)
                if (!run->input_sources[i] &&
                    (rc = bind_input(run, i, cnnrun_arrays_find(arrays, run->input_info[i].name), path)))
                    return rc;
            continue;
        }
        int index = next_unbound(run);
        if (index < 0) {
            cli_error("the model takes %zu input(s) (%s), but more input files were given "
                      "(extra: %s)", run->n_inputs, names, path);
            return CLI_EXIT_ERROR;
        }
        if (count != 1) {
            cli_error("%s holds %zu arrays; give one array per input file, or one .npz whose "
                      "arrays are named after the inputs (%s)", path, count, names);
            return CLI_EXIT_ERROR;
        }
        if ((rc = bind_input(run, (size_t)index, cnnrun_arrays_get(arrays, 0), path))) return rc;
    }
    run->have_inputs = o->n_input_paths + o->n_named_inputs > 0;
    return CLI_EXIT_OK;
}

static int check_all_bound(const cli_run *run)
{
    int index = next_unbound(run);
    if (index < 0) return CLI_EXIT_OK;
    char text[512];
    cli_format_value_info(text, sizeof text, &run->input_info[index]);
    if (!run->have_inputs)
        cli_error("no input files given; the model takes %zu input(s), the first is '%s' %s",
                  run->n_inputs, run->input_info[index].name, text);
    else
        cli_error("model input '%s' (%s) has no data: give one file per input, or --input %s=FILE",
                  run->input_info[index].name, text, run->input_info[index].name);
    return CLI_EXIT_ERROR;
}

/* A float64 array for a float32 input is what numpy writes by default: convert it, with a note. */
static int convert_to_float32(cli_run *run, size_t index)
{
    cnnrun_tensor *t = &run->inputs[index];
    size_t count = cnnrun_tensor_element_count(t);
    if (count == SIZE_MAX || count > SIZE_MAX / sizeof(float) || t->nbytes / sizeof(double) < count) {
        cli_error("input '%s' from %s: array too large or truncated", t->name,
                  run->input_sources[index]);
        return CLI_EXIT_ERROR;
    }
    float *converted = malloc(count ? count * sizeof(float) : 1);
    if (!converted) {
        cli_error("out of memory converting input '%s' to float32", t->name);
        return CLI_EXIT_ERROR;
    }
    const unsigned char *src = t->data;
    for (size_t i = 0; i < count; i++) {
        double v;
        memcpy(&v, src + i * sizeof v, sizeof v);
        /* An out-of-range double to float conversion is undefined in C; saturate to infinity. */
        if (isfinite(v) && fabs(v) > FLT_MAX) v = copysign(INFINITY, v);
        converted[i] = (float)v;
    }
    run->converted[index] = converted;
    t->data = converted;
    t->nbytes = count * sizeof(float);
    t->dtype = CNNRUN_FLOAT32;
    cli_note("input '%s' converted from float64 to float32", t->name);
    return CLI_EXIT_OK;
}

/* Checks each input against what the model declares, so that a mismatch is reported in terms of
 * the files the user gave (the library checks again at run time). */
static int check_inputs(cli_run *run)
{
    for (size_t i = 0; i < run->n_inputs; i++) {
        const cnnrun_value_info *info = &run->input_info[i];
        cnnrun_tensor *t = &run->inputs[i];
        int dtype_ok = info->dtype == CNNRUN_DTYPE_UNDEFINED || info->dtype == t->dtype;
        int shape_ok = info->rank < 0 || (size_t)info->rank == t->rank;
        for (int d = 0; shape_ok && d < info->rank && d < CNNRUN_MAX_RANK; d++)
            if (info->shape[d] >= 0 && info->shape[d] != t->shape[d]) shape_ok = 0;
        if (!dtype_ok && shape_ok && info->dtype == CNNRUN_FLOAT32 && t->dtype == CNNRUN_FLOAT64) {
            int rc = convert_to_float32(run, i);
            if (rc) return rc;
            continue;
        }
        if (dtype_ok && shape_ok) continue;
        char expected[512], found[256];
        cli_format_value_info(expected, sizeof expected, info);
        cli_format_shape(found, sizeof found, (int)t->rank, t->shape, NULL);
        cli_error("input '%s' from %s: the model expects %s, found %s %s (%s mismatch)", info->name,
                  run->input_sources[i], expected, cnnrun_dtype_name(t->dtype), found,
                  !dtype_ok && !shape_ok ? "dtype and shape" : !dtype_ok ? "dtype" : "shape");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

static int print_summary(cli_run *run)
{
    cnnrun_summary *summary;
    cnnrun_status *st = cnnrun_session_summary(run->session, run->have_inputs ? run->inputs : NULL,
                                               run->have_inputs ? run->n_inputs : 0, &summary);
    if (st) return report_status(st, NULL);
    cli_print_summary(stdout, summary);
    cnnrun_summary_free(summary);
    return CLI_EXIT_OK;
}

static cnnrun_status *run_once(cli_run *run, cnnrun_tensor *outputs)
{
    /* data == NULL asks the session for its own output memory, on every run. */
    for (size_t i = 0; i < run->n_outputs; i++) {
        memset(&outputs[i], 0, sizeof outputs[i]);
        outputs[i].name = run->output_info[i].name;
    }
    return cnnrun_session_run(run->session, run->inputs, run->n_inputs, outputs, run->n_outputs);
}

static int run_model(cli_run *run)
{
    double t0 = now_ms();
    cnnrun_status *st = run_once(run, run->outputs);
    if (st) return report_status(st, NULL);
    if (run->opts.verbose)
        fprintf(stderr, "run: %.3g ms (a first run with new input shapes includes planning)\n",
                now_ms() - t0);
    for (size_t i = 0; i < run->n_outputs; i++)
        cli_print_output(stdout, run->output_info[i].name, &run->outputs[i]);
    return CLI_EXIT_OK;
}

/* Output names become file names: keep [A-Za-z0-9._-], never start with '.', never empty. */
static void sanitize_name(char *dst, size_t size, const char *name)
{
    size_t n = 0;
    for (const char *p = name ? name : ""; *p && n + 1 < size; p++) {
        char c = *p;
        int safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || (c == '.' && n > 0);
        dst[n++] = safe ? c : '_';
    }
    if (n == 0 && size > 1) dst[n++] = '_';
    dst[n] = '\0';
}

/* mkdir -p. */
static int make_directories(const char *path)
{
    size_t len = strlen(path);
    char *copy = malloc(len + 1);
    if (!copy) return ENOMEM;
    memcpy(copy, path, len + 1);
    int err = 0;
    for (size_t i = 1; i <= len && !err; i++) {
        if (copy[i] != '/' && copy[i] != '\0') continue;
        char saved = copy[i];
        copy[i] = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) err = errno;
        copy[i] = saved;
    }
    struct stat st;
    if (!err && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) err = ENOTDIR;
    free(copy);
    return err;
}

static int save_to_directory(cli_run *run, const char *dir)
{
    int err = make_directories(dir);
    if (err) {
        cli_error("cannot create directory %s: %s", dir, strerror(err));
        return CLI_EXIT_ERROR;
    }
    size_t dir_len = strlen(dir);
    const char *sep = dir[dir_len - 1] == '/' ? "" : "/";
    enum { NAME_MAX_LEN = 200 };
    char (*names)[NAME_MAX_LEN] = calloc(run->n_outputs + 1, sizeof *names);
    char *path = malloc(dir_len + NAME_MAX_LEN + 8);
    int rc = CLI_EXIT_OK;
    if (!names || !path) {
        cli_error("out of memory");
        rc = CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < run->n_outputs && !rc; i++) {
        sanitize_name(names[i], NAME_MAX_LEN - 24, run->output_info[i].name);
        /* Two names can sanitize alike ("a/b", "a:b"): the later one gets its index appended. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0) {
                size_t l = strlen(names[i]);
                snprintf(names[i] + l, NAME_MAX_LEN - l, "_%zu", i);
                break;
            }
        snprintf(path, dir_len + NAME_MAX_LEN + 8, "%s%s%s.npy", dir, sep, names[i]);
        cnnrun_status *st = cnnrun_npy_save(path, &run->outputs[i]);
        if (st) rc = report_status(st, path);
        else printf("saved %s to %s\n", run->output_info[i].name, path);
    }
    free(names);
    free(path);
    return rc;
}

static int save_outputs(cli_run *run)
{
    const char *path = run->opts.output_path;
    size_t len = strlen(path);
    struct stat st;
    if (path[len - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return save_to_directory(run, path);
    if (run->n_outputs != 1) {
        cli_error("the model has %zu outputs; -o %s saves one. Give a directory ending in '/' "
                  "(e.g. -o %s/) to save them all", run->n_outputs, path, path);
        return CLI_EXIT_ERROR;
    }
    cnnrun_status *status = cnnrun_npy_save(path, &run->outputs[0]);
    if (status) return report_status(status, path);
    printf("saved %s to %s\n", run->output_info[0].name, path);
    return CLI_EXIT_OK;
}

static int same_shape(const cnnrun_tensor *a, const cnnrun_tensor *b)
{
    if (a->rank != b->rank) return 0;
    for (size_t d = 0; d < a->rank && d < CNNRUN_MAX_RANK; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Compares one output; *failed is set when it is out of tolerance. */
static int compare_output(cli_run *run, size_t index, const cnnrun_tensor *ref, const char *path,
                          int *failed)
{
    const cnnrun_tensor *out = &run->outputs[index];
    const char *name = run->output_info[index].name;
    if (out->dtype != ref->dtype || !same_shape(out, ref)) {
        char out_shape[256], ref_shape[256];
        cli_format_shape(out_shape, sizeof out_shape, (int)out->rank, out->shape, NULL);
        cli_format_shape(ref_shape, sizeof ref_shape, (int)ref->rank, ref->shape, NULL);
        cli_error("output '%s' is %s %s, but the reference in %s is %s %s", name,
                  cnnrun_dtype_name(out->dtype), out_shape, path, cnnrun_dtype_name(ref->dtype),
                  ref_shape);
        return CLI_EXIT_ERROR;
    }
    if (!cli_dtype_is_numeric(out->dtype)) {
        cli_error("output '%s' is %s, which cannot be compared", name, cnnrun_dtype_name(out->dtype));
        return CLI_EXIT_ERROR;
    }
    cli_compare_result result;
    cli_compare_tensors(out, ref, run->opts.rtol, run->opts.atol, &result);
    cli_print_comparison(stdout, name, out, &result, run->opts.rtol, run->opts.atol);
    if (result.failures) *failed = 1;
    return CLI_EXIT_OK;
}

static int compare_file(cli_run *run, const cli_binding *b, int *failed)
{
    char names[512];
    list_names(names, sizeof names, run->output_info, run->n_outputs);
    if (run->n_outputs == 0) {
        cli_error("the model has no outputs to compare with %s", b->path);
        return CLI_EXIT_ERROR;
    }
    int target = -1;
    if (b->name && (target = find_info(run->output_info, run->n_outputs, b->name)) < 0) {
        cli_error("--expect names '%s', which is not a model output (outputs: %s)", b->name, names);
        return CLI_EXIT_ERROR;
    }
    cnnrun_arrays *arrays;
    cnnrun_status *st = cnnrun_arrays_load(b->path, &arrays);
    if (st) return report_status(st, b->path);
    size_t count = cnnrun_arrays_count(arrays);
    int rc = CLI_EXIT_OK;
    if (b->name) { /* --expect NAME=FILE: the array of that name, or the file's only array */
        const cnnrun_tensor *ref = cnnrun_arrays_find(arrays, b->name);
        if (!ref && count == 1) ref = cnnrun_arrays_get(arrays, 0);
        if (ref) rc = compare_output(run, (size_t)target, ref, b->path, failed);
        else {
            cli_error("%s holds %zu arrays and none is named '%s'", b->path, count, b->name);
            rc = CLI_EXIT_ERROR;
        }
    } else if (count == 1) { /* one array: the output of its name, else the first output */
        const cnnrun_tensor *ref = cnnrun_arrays_get(arrays, 0);
        int index = ref->name ? find_info(run->output_info, run->n_outputs, ref->name) : -1;
        rc = compare_output(run, index < 0 ? 0 : (size_t)index, ref, b->path, failed);
    } else { /* several arrays: each must name an output */
        for (size_t i = 0; i < count && !rc; i++) {
            const cnnrun_tensor *ref = cnnrun_arrays_get(arrays, i);
            int index = ref->name ? find_info(run->output_info, run->n_outputs, ref->name) : -1;
            if (index < 0) {
                cli_error("array '%s' in %s names no model output (outputs: %s)",
                          ref->name ? ref->name : "?", b->path, names);
                rc = CLI_EXIT_ERROR;
            } else {
                rc = compare_output(run, (size_t)index, ref, b->path, failed);
            }
        }
        if (count == 0) {
            cli_error("%s holds no arrays", b->path);
            rc = CLI_EXIT_ERROR;
        }
    }
    cnnrun_arrays_free(arrays);
    return rc;
}

static int compare_outputs(cli_run *run, int *failed)
{
    for (size_t k = 0; k < run->opts.n_expects; k++) {
        int rc = compare_file(run, &run->opts.expects[k], failed);
        if (rc) return rc;
    }
    return CLI_EXIT_OK;
}

static int bench(cli_run *run)
{
    size_t runs = (size_t)run->opts.bench_runs;
    size_t warmups = runs < WARMUP_RUNS ? runs : WARMUP_RUNS;
    double *latencies = malloc(runs * sizeof *latencies);
    cnnrun_tensor *outputs = calloc(run->n_outputs + 1, sizeof *outputs);
    int rc = CLI_EXIT_OK;
    if (!latencies || !outputs) {
        cli_error("out of memory for %zu benchmark runs", runs);
        rc = CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < warmups + runs && !rc; i++) {
        double t0 = now_ms();
        cnnrun_status *st = run_once(run, outputs);
        double t1 = now_ms();
        if (st) rc = report_status(st, NULL);
        else if (i >= warmups) latencies[i - warmups] = t1 - t0;
    }
    if (!rc) cli_print_bench(stdout, latencies, runs, warmups);
    free(latencies);
    free(outputs);
    return rc;
}

#define PROFILE_DEFAULT_RUNS 10

static int profile(cli_run *run)
{
    int runs = run->opts.bench_runs ? run->opts.bench_runs : PROFILE_DEFAULT_RUNS;
    cnnrun_profile *prof;
    cnnrun_status *st = cnnrun_session_profile(run->session, run->inputs, run->n_inputs, runs, &prof);
    if (st) return report_status(st, NULL);
    cli_print_profile(stdout, prof, runs);
    cnnrun_profile_free(prof);
    return CLI_EXIT_OK;
}

static int execute(cli_run *run)
{
    const cli_options *o = &run->opts;
    int rc;
    if ((rc = load_model(run))) return rc;
    if ((rc = collect_inputs(run))) return rc;
    int wants_run = run->have_inputs || run->n_inputs == 0;
    if (!wants_run && o->summary && !o->output_path && !o->n_expects && !o->bench_runs && !o->profile)
        return print_summary(run); /* --summary alone: describe the graph symbolically */
    if ((rc = check_all_bound(run))) return rc;
    if ((rc = check_inputs(run))) return rc;
    if (o->summary && (rc = print_summary(run))) return rc;
    if ((rc = run_model(run))) return rc;
    if (o->output_path && (rc = save_outputs(run))) return rc;
    int failed = 0;
    if ((rc = compare_outputs(run, &failed))) return rc;
    if (o->profile && (rc = profile(run))) return rc;
    else if (!o->profile && o->bench_runs && (rc = bench(run))) return rc;
    return failed ? CLI_EXIT_OUT_OF_TOLERANCE : CLI_EXIT_OK;
}

static void cleanup(cli_run *run)
{
    if (run->session) cnnrun_session_free(run->session);
    for (size_t i = 0; i < run->n_input_files; i++) cnnrun_arrays_free(run->input_files[i]);
    for (size_t i = 0; run->converted && i < run->n_inputs; i++) free(run->converted[i]);
    if (run->model) cnnrun_model_free(run->model);
    free(run->input_files);
    free(run->input_info);
    free(run->output_info);
    free(run->inputs);
    free(run->input_sources);
    free(run->converted);
    free(run->outputs);
    cli_options_free(&run->opts);
}

int main(int argc, char **argv)
{
    cli_run run;
    memset(&run, 0, sizeof run);
    char err[512];
    if (cli_parse_args(argc, argv, &run.opts, err, sizeof err) != 0) {
        cli_error("%s", err);
        fputs("Try 'cnnrun --help' for usage.\n", stderr);
        cli_options_free(&run.opts);
        return CLI_EXIT_ERROR;
    }
    int rc = CLI_EXIT_OK;
    if (run.opts.help) {
        cli_print_usage(stdout);
    } else if (run.opts.version) {
        printf("cnnrun %s\nbackend: %s\n", cnnrun_version(), cnnrun_backend_version());
    } else if (run.opts.list_ops) {
        rc = cli_print_op_table(stdout);
    } else {
        rc = execute(&run);
    }
    cleanup(&run);
    return rc;
}
