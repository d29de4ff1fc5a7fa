/* Helpers shared by operator implementations. */
#ifndef CR_OP_UTIL_H
#define CR_OP_UTIL_H

#include "op.h"

/* An error prefixed with the node: "node 'conv1' (Conv, opset 13): <message>". */
cnnrun_status *cr_op_error(const cr_op_ctx *ctx, cnnrun_code code, const char *fmt, ...) CR_PRINTF(3, 4);

/* Refuses an attribute value: "node 'x' (Op, opset N): attribute 'name' = ... is not supported: why". */
cnnrun_status *cr_op_unsupported_attr(const cr_op_ctx *ctx, const char *attr, const char *why);

/* Checks the count of present inputs (min..max) and their dtypes are among allowed (0-terminated
 * list; NULL = any). */
cnnrun_status *cr_op_check_inputs(const cr_op_ctx *ctx, int min_inputs, int max_inputs);
cnnrun_status *cr_op_check_dtype(const cr_op_ctx *ctx, int input, const cnnrun_dtype *allowed);

/* Sets out[i]'s dtype and shape. */
void cr_set_output(cr_op_ctx *ctx, int i, cnnrun_dtype dtype, int rank, const int64_t *dims);

/* NumPy broadcasting of two shapes into out (rank = max of the two); error when incompatible. */
cnnrun_status *cr_broadcast_shape(const cr_op_ctx *ctx, int rank_a, const int64_t *a, int rank_b,
                                  const int64_t *b, int *rank_out, int64_t *out);

/* Maps axis in [-rank, rank) to [0, rank); error naming the attribute otherwise. */
cnnrun_status *cr_normalize_axis(const cr_op_ctx *ctx, const char *what, int64_t axis, int rank,
                                 int *out);

/* Reads an int32/int64 constant input as int64 values (at most max_count). Error if the input is
 * not constant at plan time, naming the input's role; the request is then recorded in
 * ctx->missing_values so that the planner can supply the values of graph inputs. */
cnnrun_status *cr_const_ints(const cr_op_ctx *ctx, int input, const char *role, int64_t *values,
                             size_t max_count, size_t *count);
/* The same for a float32/float64 input read as floats (e.g. Resize's scales). */
cnnrun_status *cr_const_floats(const cr_op_ctx *ctx, int input, const char *role, float *values,
                               size_t max_count, size_t *count);
/* Records that input's values were needed at plan time but are not known (see missing_values). */
void cr_note_missing_value(const cr_op_ctx *ctx, int input);

/* Layouts for ops of our own that loop over memory (CR_OP_LAYOUT_AWARE element-wise ops,
 * Concat, BatchNormalization). When some input arrives in a oneDNN layout that is a permutation
 * of its dims (NHWC), picks that memory order for output 0 (of the same rank) and checks that
 * every input reads row-major in it, broadcasting operands included; the op then works on dims
 * permuted by *order and output 0 gets that layout: returns true. Otherwise (all inputs
 * row-major, layouts not allowed, or an input that cannot be read in the order) asks the planner
 * for row-major copies of the inputs that need them and returns false: the op works on the
 * logical dims. */
bool cr_op_memory_order(cr_op_ctx *ctx, int *order);

/* Asks for input `input` to arrive laid out as `layout` (NULL: row-major), unless it already
 * does or layouts are not allowed. */
void cr_op_want_layout(cr_op_ctx *ctx, int input, const cr_layout *layout);

/* dims[order[i]] for i < rank: a shape in memory order. */
void cr_permute_dims(int rank, const int64_t *dims, const int *order, int64_t *out);

/* Row-major strides of a shape. */
void cr_strides(int rank, const int64_t *dims, int64_t *strides);

#endif
