/* Everything the cnnrun program prints: errors and notes, output previews, the summary table,
 * comparison lines and the benchmark report. */
#ifndef CLI_PRINT_H
#define CLI_PRINT_H

#include <stddef.h>
#include <stdio.h>

#include "cli_compare.h"
#include "cnnrun.h"

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* "cnnrun: error: ..." and "note: ..." on stderr. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
void cli_note(const char *fmt, ...) CLI_PRINTF(1, 2);

/* "[batch, 1, 8, 8]": dims with a name show the name; a free dim without one shows "?".
 * dim_names may be NULL. rank < 0 (undeclared) gives "(unknown shape)". */
void cli_format_shape(char *buf, size_t size, int rank, const int64_t *shape,
                      const char *const *dim_names);
/* "float32 [batch, 1, 8, 8]" for what a model declares. */
void cli_format_value_info(char *buf, size_t size, const cnnrun_value_info *info);
/* "1.5 KiB", "3.2 MiB". */
void cli_format_bytes(char *buf, size_t size, size_t bytes);

/* Name, dtype, shape, the first values and, for a class score vector, the top class. */
void cli_print_output(FILE *out, const char *name, const cnnrun_tensor *tensor);
/* Keras models: the layers as Keras's model.summary() shows them (name (class), output shape with
 * None for free dims, parameter count), then the totals. */
void cli_print_layer_summary(FILE *out, const cnnrun_model *model);

void cli_print_summary(FILE *out, const cnnrun_summary *summary);
void cli_print_comparison(FILE *out, const char *name, const cnnrun_tensor *tensor,
                          const cli_compare_result *result, double rtol, double atol);
/* Sorts latencies_ms in place and prints median, min, max and runs per second. */
void cli_print_bench(FILE *out, double *latencies_ms, size_t runs, size_t warmups);

/* The kernels of a profiled run, slowest first: node, op (+ fused post-ops), output shape and
 * layout, oneDNN's implementation, ms, share of the run, GFLOP/s; then the run's total and the
 * layout reorders it needed. */
void cli_print_profile(FILE *out, const cnnrun_profile *profile, int runs);

/* The supported operators as a Markdown table sorted by name: "| Conv | 1–17 |". Returns an exit
 * code. The README's operator table is this output (a test keeps the two equal). */
int cli_print_op_table(FILE *f);

#endif
