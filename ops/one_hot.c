/* OneHot: indices [d...] to a tensor with a new axis of `depth` at `axis` holding values[1] (on) at
 * the index and values[0] (off) elsewhere. Indices may be of any numeric type (floats are
 * truncated, as ONNX's reference does); a negative index counts from the end. An index outside
 * [-depth, depth) gives a line of off values, as the specification says, so no index can reach
 * outside the output. depth sets the output shape, so it must be known when the graph is
 * planned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

/* Element i of a numeric tensor as double (integers beyond 2^53 round, which for an index
 * only matters far outside any real depth). */
static double numeric_at(const cr_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case CNNRUN_FLOAT32: return ((const float *)t->data)[i];
    case CNNRUN_FLOAT64: return ((const double *)t->data)[i];
    case CNNRUN_INT8: return ((const int8_t *)t->data)[i];
    case CNNRUN_INT16: return ((const int16_t *)t->data)[i];
    case CNNRUN_INT32: return ((const int32_t *)t->data)[i];
    case CNNRUN_INT64: return (double)((const int64_t *)t->data)[i];
    case CNNRUN_UINT8: return ((const uint8_t *)t->data)[i];
    case CNNRUN_UINT16: return ((const uint16_t *)t->data)[i];
    case CNNRUN_UINT32: return ((const uint32_t *)t->data)[i];
    case CNNRUN_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

static const cnnrun_dtype numeric[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT8,   CNNRUN_INT16,
                                       CNNRUN_INT32,   CNNRUN_INT64,   CNNRUN_UINT8,  CNNRUN_UINT16,
                                       CNNRUN_UINT32,  CNNRUN_UINT64,  0};

static cnnrun_status *one_hot_depth(const cr_op_ctx *ctx, int64_t *depth)
{
    const cr_tensor *d = ctx->in[1];
    if (cr_tensor_count(d) != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "depth must hold one value; it has %lld",
                           (long long)cr_tensor_count(d));
    if (!d->data) {
        cr_note_missing_value(ctx, 1);
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "the depth input must be known when the graph is planned (a constant, a graph input, or computed from shapes only)");
    }
    double v = numeric_at(d, 0);
    if (!(v >= 1.0 && v < 1e12))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "depth %g must be a positive count", v);
    *depth = (int64_t)v;
    return NULL;
}

static cnnrun_status *one_hot_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    CR_TRY(cr_op_check_dtype(ctx, 0, numeric));
    CR_TRY(cr_op_check_dtype(ctx, 1, numeric));
    const cr_tensor *idx = ctx->in[0], *values = ctx->in[2];
    if (cr_tensor_count(values) != 2 || cnnrun_dtype_size(values->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "values must hold [off, on]; it has %lld elements",
                           (long long)cr_tensor_count(values));
    if (idx->rank + 1 > CR_MAX_RANK)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the output rank exceeds the maximum %d", CR_MAX_RANK);
    int64_t a, depth;
    int axis;
    CR_TRY(cr_attr_int(ctx->node, "axis", -1, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, idx->rank + 1, &axis));
    CR_TRY(one_hot_depth(ctx, &depth));
    int64_t dims[CR_MAX_RANK];
    for (int d = 0, s = 0; d <= idx->rank; d++) dims[d] = d == axis ? depth : idx->dims[s++];
    if (!cr_shape_bytes(values->dtype, idx->rank + 1, dims, &(size_t){0}))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is larger than cnnrun allows");
    cr_set_output(ctx, 0, values->dtype, idx->rank + 1, dims);
    return NULL;
}

static cnnrun_status *one_hot_run(cr_op_ctx *ctx)
{
    const cr_tensor *idx = ctx->in[0], *values = ctx->in[2];
    cr_tensor *y = ctx->out[0];
    int64_t a, depth;
    int axis;
    CR_TRY(cr_attr_int(ctx->node, "axis", -1, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, idx->rank + 1, &axis));
    CR_TRY(one_hot_depth(ctx, &depth));
    size_t elem = cnnrun_dtype_size(values->dtype);
    const char *off = values->data, *on = off + elem;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= idx->dims[d];
    for (int d = axis; d < idx->rank; d++) inner *= idx->dims[d];
    char *out = y->data;
    int64_t total = cr_tensor_count(y);
    for (int64_t i = 0; i < total; i++) memcpy(out + (size_t)i * elem, off, elem);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double v = numeric_at(idx, o * inner + in);
            if (!(v > -(double)depth - 1.0 && v < (double)depth)) continue;
            int64_t k = (int64_t)v; /* truncates toward zero */
            if (k < 0) k += depth;
            if (k < 0 || k >= depth) continue;
            memcpy(out + (size_t)((o * depth + k) * inner + in) * elem, on, elem);
        }
    return NULL;
}

/* Opset 9; 11 allows negative indices and axis. */
static const cr_op op_one_hot = {.op_type = "OneHot", .domain = "", .opset_min = 9, .opset_max = 22,
                                 .infer = one_hot_infer, .run = one_hot_run};

const cr_op *const cr_ops_one_hot[] = {&op_one_hot, NULL};
