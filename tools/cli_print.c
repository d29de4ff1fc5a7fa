/* Output formatting for the cnnrun program: compact lines, %g numbers, errors on stderr. */
#include "cli_print.h"

#include "cli_args.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_VALUES 8
#define MAX_CLASSES 1000
#define NAME_COLUMN_MAX 40

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnrun: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("note: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Appends to buf without ever overrunning it; a long text is cut short. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...) CLI_PRINTF(4, 5);
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < size ? *used + (size_t)n : size - 1;
}

void cli_format_shape(char *buf, size_t size, int rank, const int64_t *shape,
                      const char *const *dim_names)
{
    size_t used = 0;
    if (size) buf[0] = '\0';
    if (rank < 0) {
        append(buf, size, &used, "(unknown shape)");
        return;
    }
    append(buf, size, &used, "[");
    for (int d = 0; d < rank && d < CNNRUN_MAX_RANK; d++) {
        const char *sep = d ? ", " : "";
        if (dim_names && dim_names[d]) append(buf, size, &used, "%s%s", sep, dim_names[d]);
        else if (shape[d] < 0) append(buf, size, &used, "%s?", sep);
        else append(buf, size, &used, "%s%lld", sep, (long long)shape[d]);
    }
    append(buf, size, &used, "]");
}

void cli_format_value_info(char *buf, size_t size, const cnnrun_value_info *info)
{
    char shape[256];
    cli_format_shape(shape, sizeof shape, info->rank, info->shape, info->dim_names);
    snprintf(buf, size, "%s %s", cnnrun_dtype_name(info->dtype), shape);
}

void cli_format_bytes(char *buf, size_t size, size_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%zu B", bytes);
        return;
    }
    double value = (double)bytes / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    snprintf(buf, size, "%.1f %s", value, units[unit]);
}

/* 52874 -> "52,874", as Keras prints parameter counts. */
static void format_count(char *buf, size_t size, int64_t count)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(count < 0 ? -count : count));
    size_t len = strlen(digits), used = 0;
    if (count < 0) append(buf, size, &used, "-");
    if (size) buf[used] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) append(buf, size, &used, ",");
        append(buf, size, &used, "%c", digits[i]);
    }
}

static int is_float(cnnrun_dtype dtype)
{
    return dtype == CNNRUN_FLOAT32 || dtype == CNNRUN_FLOAT64 || dtype == CNNRUN_FLOAT16 ||
           dtype == CNNRUN_BFLOAT16;
}

/* A 1-D or [1, K] float output with 2..1000 elements reads as one score per class. */
static int looks_like_class_scores(const cnnrun_tensor *t, size_t count)
{
    if (!is_float(t->dtype) || count < 2 || count > MAX_CLASSES) return 0;
    return t->rank == 1 || (t->rank == 2 && t->shape[0] == 1);
}

static void print_top_class(FILE *out, const cnnrun_tensor *t, size_t count)
{
    size_t best = 0;
    double best_value = -INFINITY, sum = 0;
    int probabilities = 1;
    for (size_t i = 0; i < count; i++) {
        double v = cli_tensor_value(t, i);
        if (isnan(v)) return; /* no honest argmax */
        if (v < 0 || v > 1) probabilities = 0;
        sum += v;
        if (v > best_value) {
            best_value = v;
            best = i;
        }
    }
    /* Only values that form a distribution are called p; anything else is a score. */
    if (fabs(sum - 1) > 1e-3) probabilities = 0;
    fprintf(out, "  top: class %zu (%s = %.7g)\n", best, probabilities ? "p" : "score", best_value);
}

void cli_print_output(FILE *out, const char *name, const cnnrun_tensor *t)
{
    char shape[256];
    cli_format_shape(shape, sizeof shape, (int)t->rank, t->shape, NULL);
    fprintf(out, "%s: %s %s\n", name ? name : "(unnamed)", cnnrun_dtype_name(t->dtype), shape);
    size_t count = cnnrun_tensor_element_count(t);
    if (!cli_dtype_is_numeric(t->dtype) || count == SIZE_MAX) return;
    fputs("  [", out);
    size_t shown = count < PREVIEW_VALUES ? count : PREVIEW_VALUES;
    for (size_t i = 0; i < shown; i++)
        fprintf(out, "%s%.6g", i ? ", " : "", cli_tensor_value(t, i));
    if (shown < count) fprintf(out, ", ... (%zu values)", count);
    fputs("]\n", out);
    if (looks_like_class_scores(t, count)) print_top_class(out, t, count);
}

/* "(None, 25, 25, 10)", as Keras prints shapes. */
static void keras_shape(char *buf, size_t size, const cnnrun_layer_info *l)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < l->rank && used < size; d++) {
        if (l->shape[d] < 0) used += (size_t)snprintf(buf + used, size - used, "%sNone", d ? ", " : "");
        else used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)l->shape[d]);
    }
    if (used < size) snprintf(buf + used, size - used, l->rank == 1 ? ",)" : ")");
}

void cli_print_layer_summary(FILE *out, const cnnrun_model *model)
{
    size_t n = cnnrun_model_layer_count(model);
    int name_w = 12, shape_w = 12;
    char label[300], shape[256], count[32];
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        cnnrun_layer_info l;
        cnnrun_status *st = cnnrun_model_layer_info(model, i, &l);
        if (st) {
            cnnrun_status_free(st);
            continue;
        }
        snprintf(label, sizeof label, "%s (%s)", l.name, l.class_name);
        keras_shape(shape, sizeof shape, &l);
        if ((int)strlen(label) > name_w) name_w = (int)strlen(label);
        if ((int)strlen(shape) > shape_w) shape_w = (int)strlen(shape);
    }
    int line_w = name_w + shape_w + 4 + 12;
    fprintf(out, "%-*s  %-*s  %12s\n", name_w, "Layer (type)", shape_w, "Output Shape", "Param #");
    for (int i = 0; i < line_w; i++) fputc('-', out);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        cnnrun_layer_info l;
        cnnrun_status *st = cnnrun_model_layer_info(model, i, &l);
        if (st) {
            cnnrun_status_free(st);
            continue;
        }
        snprintf(label, sizeof label, "%s (%s)", l.name, l.class_name);
        keras_shape(shape, sizeof shape, &l);
        format_count(count, sizeof count, l.params);
        total += l.params;
        fprintf(out, "%-*s  %-*s  %12s\n", name_w, label, shape_w, shape, count);
    }
    for (int i = 0; i < line_w; i++) fputc('=', out);
    format_count(count, sizeof count, total);
    fprintf(out, "\nKeras params: %s\n", count);
}

void cli_print_summary(FILE *out, const cnnrun_summary *summary)
{
    size_t rows = cnnrun_summary_row_count(summary);
    int name_w = 4, op_w = 2, shape_w = 12;
    char shape[256], op[96], count[32];
    /* First pass: column widths, so that the table lines up whatever the names. */
    for (size_t i = 0; i < rows; i++) {
        const cnnrun_summary_row *row = cnnrun_summary_row_at(summary, i);
        if (!row) continue;
        int n = (int)strlen(row->node_name ? row->node_name : "");
        if (n > name_w) name_w = n > NAME_COLUMN_MAX ? NAME_COLUMN_MAX : n;
        snprintf(op, sizeof op, "%s%s", row->op_type ? row->op_type : "?", row->folded ? " (folded)" : "");
        if ((int)strlen(op) > op_w) op_w = (int)strlen(op);
        cli_format_shape(shape, sizeof shape, row->rank, row->shape, row->dim_names);
        if ((int)strlen(shape) > shape_w) shape_w = (int)strlen(shape);
    }
    int line_w = name_w + op_w + shape_w + 6 + 12;
    fprintf(out, "%-*s  %-*s  %-*s  %12s\n", name_w, "Node", op_w, "Op", shape_w, "Output shape",
            "Params");
    for (int i = 0; i < line_w; i++) fputc('-', out);
    fputc('\n', out);
    for (size_t i = 0; i < rows; i++) {
        const cnnrun_summary_row *row = cnnrun_summary_row_at(summary, i);
        if (!row) continue;
        const char *node = row->node_name ? row->node_name : "";
        snprintf(op, sizeof op, "%s%s", row->op_type ? row->op_type : "?", row->folded ? " (folded)" : "");
        cli_format_shape(shape, sizeof shape, row->rank, row->shape, row->dim_names);
        format_count(count, sizeof count, row->params);
        if ((int)strlen(node) > name_w) /* keep the end of a long name: it is the distinctive part */
            fprintf(out, "...%-*s", name_w - 3, node + strlen(node) - (size_t)(name_w - 3));
        else
            fprintf(out, "%-*s", name_w, node);
        fprintf(out, "  %-*s  %-*s  %12s\n", op_w, op, shape_w, shape, count);
    }
    for (int i = 0; i < line_w; i++) fputc('=', out);
    fputc('\n', out);
    char weights[32], arena[32];
    format_count(count, sizeof count, cnnrun_summary_total_params(summary));
    cli_format_bytes(weights, sizeof weights, cnnrun_summary_weight_bytes(summary));
    cli_format_bytes(arena, sizeof arena, cnnrun_summary_arena_bytes(summary));
    fprintf(out, "Total params: %s\nWeights: %s (%zu bytes)\nArena: %s (%zu bytes)", count,
            weights, cnnrun_summary_weight_bytes(summary), arena,
            cnnrun_summary_arena_bytes(summary));
    const char *bound = cnnrun_summary_free_dims(summary);
    fprintf(out, bound ? " with %s\n" : "\n", bound);
}

void cli_print_comparison(FILE *out, const char *name, const cnnrun_tensor *tensor,
                          const cli_compare_result *r, double rtol, double atol)
{
    char index[128];
    cli_format_index(index, sizeof index, tensor, r->worst_index);
    fprintf(out, "%s: %s  max abs err %.3g, max rel err %.3g", name, r->failures ? "FAIL" : "PASS",
            r->max_abs_err, r->max_rel_err);
    if (r->count)
        fprintf(out, ", worst at %s: %.9g vs expected %.9g", index, r->worst_out, r->worst_ref);
    if (r->failures)
        fprintf(out, "; %zu of %zu elements out of tolerance (rtol %g, atol %g)", r->failures,
                r->count, rtol, atol);
    fputc('\n', out);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void cli_print_bench(FILE *out, double *latencies_ms, size_t runs, size_t warmups)
{
    if (runs == 0) return;
    double total = 0;
    for (size_t i = 0; i < runs; i++) total += latencies_ms[i];
    qsort(latencies_ms, runs, sizeof *latencies_ms, compare_doubles);
    double median = runs % 2 ? latencies_ms[runs / 2]
                             : (latencies_ms[runs / 2 - 1] + latencies_ms[runs / 2]) / 2;
    fprintf(out, "bench: %zu runs after %zu warm-up: median %.4g ms, min %.4g ms, max %.4g ms, "
                 "%.1f runs/s\n",
            runs, warmups, median, latencies_ms[0], latencies_ms[runs - 1],
            total > 0 ? (double)runs * 1000.0 / total : INFINITY);
}

static int by_time_desc(const void *a, const void *b)
{
    double x = (*(const cnnrun_profile_row *const *)a)->ms, y = (*(const cnnrun_profile_row *const *)b)->ms;
    return (x < y) - (x > y);
}

void cli_print_profile(FILE *out, const cnnrun_profile *profile, int runs)
{
    size_t n = cnnrun_profile_row_count(profile);
    const cnnrun_profile_row **rows = calloc(n + 1, sizeof *rows);
    if (!rows) {
        cli_error("out of memory printing the profile");
        return;
    }
    double kernels_ms = 0.0, reorder_ms = 0.0;
    int name_w = 4, op_w = 2, shape_w = 5, layout_w = 6, kernel_w = 6;
    char shape[128], op[160];
    for (size_t i = 0; i < n; i++) {
        rows[i] = cnnrun_profile_row_at(profile, i);
        kernels_ms += rows[i]->ms;
        if (strcmp(rows[i]->op_type, "Reorder") == 0) reorder_ms += rows[i]->ms;
        int w = (int)strlen(rows[i]->node_name);
        if (w > name_w) name_w = w > NAME_COLUMN_MAX ? NAME_COLUMN_MAX : w;
        snprintf(op, sizeof op, "%s%s%s", rows[i]->op_type, rows[i]->fused ? "+" : "",
                 rows[i]->fused ? rows[i]->fused : "");
        if ((int)strlen(op) > op_w) op_w = (int)strlen(op);
        cli_format_shape(shape, sizeof shape, rows[i]->rank, rows[i]->shape, NULL);
        if ((int)strlen(shape) > shape_w) shape_w = (int)strlen(shape);
        if ((int)strlen(rows[i]->kernel) > kernel_w) kernel_w = (int)strlen(rows[i]->kernel);
        if (rows[i]->layout && (int)strlen(rows[i]->layout) > layout_w) layout_w = (int)strlen(rows[i]->layout);
    }
    qsort(rows, n, sizeof *rows, by_time_desc);
    double total = cnnrun_profile_total_ms(profile);
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %9s  %6s  %8s\n", name_w, "node", op_w, "op", shape_w,
            "shape", layout_w, "layout", kernel_w, "kernel", "ms", "share", "GFLOP/s");
    for (size_t i = 0; i < n; i++) {
        const cnnrun_profile_row *r = rows[i];
        snprintf(op, sizeof op, "%s%s%s", r->op_type, r->fused ? "+" : "", r->fused ? r->fused : "");
        cli_format_shape(shape, sizeof shape, r->rank, r->shape, NULL);
        char gflops[32] = "";
        if (r->flops > 0 && r->ms > 0) snprintf(gflops, sizeof gflops, "%.1f", r->flops / r->ms / 1e6);
        fprintf(out, "%-*.*s  %-*s  %-*s  %-*s  %-*s  %9.3f  %5.1f%%  %8s\n", name_w, NAME_COLUMN_MAX,
                r->node_name, op_w, op, shape_w, shape, layout_w, r->layout ? r->layout : "", kernel_w, r->kernel,
                r->ms, total > 0 ? 100.0 * r->ms / total : 0.0, gflops);
    }
    double flops = 0.0;
    for (size_t i = 0; i < n; i++) flops += rows[i]->flops;
    fprintf(out, "total: %.3f ms per run (mean of %d), kernels %.3f ms, %.1f GFLOP/s overall\n", total,
            runs, kernels_ms, total > 0 ? flops / total / 1e6 : 0.0);
    fprintf(out, "layout reorders: %zu, %.3f ms per run\n", cnnrun_profile_reorder_count(profile), reorder_ms);
    free(rows);
}

static int by_op_name(const void *a, const void *b)
{
    const cnnrun_op_info *x = a, *y = b;
    int c = strcmp(x->op_type, y->op_type);
    return c ? c : strcmp(x->domain, y->domain);
}

int cli_print_op_table(FILE *f)
{
    size_t n = cnnrun_supported_op_count();
    cnnrun_op_info *ops = calloc(n ? n : 1, sizeof *ops);
    if (!ops) {
        cli_error("out of memory listing operators");
        return CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) cnnrun_supported_op(i, &ops[i]);
    qsort(ops, n, sizeof *ops, by_op_name);
    fprintf(f, "| operator | opsets |\n|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        /* One op may have several implementations for different opset ranges: one row each. */
        fprintf(f, "| %s%s%s | %d–%d |\n", ops[i].domain[0] ? ops[i].domain : "",
                ops[i].domain[0] ? "." : "", ops[i].op_type, ops[i].opset_min, ops[i].opset_max);
    }
    free(ops);
    return CLI_EXIT_OK;
}
