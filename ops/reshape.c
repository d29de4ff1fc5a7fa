/* Operators that only relabel the shape of their input: Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity and Dropout (inference). All are CR_OP_VIEW: output 0 is input 0's memory under the
 * new shape, so their work is all in infer. Only Dropout's optional mask output is computed.
 *
 * Shape and axes inputs (Reshape from opset 5, Squeeze/Unsqueeze from 13) must be known at plan
 * time; the planner folds the Shape→Gather→Unsqueeze→Concat chains that exporters produce. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

static cnnrun_status *check_count_preserved(const cr_op_ctx *ctx, int rank, const int64_t *dims)
{
    const cr_tensor *x = ctx->in[0];
    int64_t n_in, n_out;
    char sa[160], sb[160];
    if (!cr_shape_count(rank, dims, &n_out) || !cr_shape_count(x->rank, x->dims, &n_in) || n_in != n_out)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "cannot view input of shape %s as shape %s",
                           cr_shape_str(x->rank, x->dims, sa, sizeof sa), cr_shape_str(rank, dims, sb, sizeof sb));
    return NULL;
}

/* ---- Reshape ---------------------------------------------------------------------------- */

static cnnrun_status *reshape_infer(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int64_t spec[CR_MAX_RANK];
    size_t rank;
    int64_t allowzero = 0;
    if (ctx->opset < 5) {
        /* Opsets 1-4 give the shape as an attribute. */
        CR_TRY(cr_op_check_inputs(ctx, 1, 1));
        const int64_t *attr;
        CR_TRY(cr_attr_ints(ctx->node, "shape", &attr, &rank));
        if (!attr) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'shape' is missing");
        if (rank > CR_MAX_RANK)
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "target rank %zu exceeds the maximum %d", rank,
                               CR_MAX_RANK);
        memcpy(spec, attr, rank * sizeof *spec);
    } else {
        CR_TRY(cr_op_check_inputs(ctx, 2, 2));
        CR_TRY(cr_const_ints(ctx, 1, "shape", spec, CR_MAX_RANK, &rank));
        if (ctx->opset >= 14) CR_TRY(cr_attr_int(ctx->node, "allowzero", 0, &allowzero));
    }
    if (ctx->opset >= 5 && ctx->in[1]->rank != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input must be 1-D; it has rank %d",
                           ctx->in[1]->rank);
    int64_t dims[CR_MAX_RANK];
    int infer_at = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (size_t i = 0; i < rank; i++) {
        int64_t d = spec[i];
        if (d == -1) {
            if (infer_at >= 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape has more than one -1 (dims %d and %zu)",
                                   infer_at, i);
            infer_at = (int)i;
            continue;
        }
        if (d < -1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape has the invalid dim %lld at %zu",
                               (long long)d, i);
        if (d == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                   "shape dim %zu is 0 (copy the input dim) but the input has rank %d", i, x->rank);
            d = x->dims[i];
        }
        if (d == 0) has_zero = true;
        dims[i] = d;
        if (d != 0 && known > INT64_MAX / d)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the target shape's element count overflows");
        known *= d;
    }
    if (infer_at >= 0) {
        if (allowzero && has_zero)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "with allowzero=1 the shape may not hold both 0 and -1");
        int64_t n_in;
        if (!cr_shape_count(x->rank, x->dims, &n_in) || known == 0 || n_in % known != 0) {
            char sa[160];
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "cannot infer the -1 dim: the elements of input %s do not divide into blocks of %lld",
                               cr_shape_str(x->rank, x->dims, sa, sizeof sa), (long long)known);
        }
        dims[infer_at] = n_in / known;
    }
    CR_TRY(check_count_preserved(ctx, (int)rank, dims));
    cr_set_output(ctx, 0, x->dtype, (int)rank, dims);
    return NULL;
}

/* ---- Flatten ---------------------------------------------------------------------------- */

static cnnrun_status *flatten_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    const cr_tensor *x = ctx->in[0];
    int64_t axis;
    CR_TRY(cr_attr_int(ctx->node, "axis", 1, &axis));
    /* axis may equal rank (everything in the first dim); negative values count from 11 on. */
    int64_t lowest = ctx->opset >= 11 ? -(int64_t)x->rank : 0;
    if (axis < lowest || axis > x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute axis %lld is out of range [%lld, %d]",
                           (long long)axis, (long long)lowest, x->rank);
    if (axis < 0) axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) dims[i < axis ? 0 : 1] *= x->dims[i];
    cr_set_output(ctx, 0, x->dtype, 2, dims);
    return NULL;
}

/* ---- Squeeze / Unsqueeze ------------------------------------------------------------------ */

/* The axes: an attribute before opset 13, an input (optional for Squeeze) from 13. */
static cnnrun_status *read_axes(const cr_op_ctx *ctx, int64_t *axes, size_t *count, bool *given)
{
    *count = 0;
    *given = false;
    if (ctx->opset < 13) {
        CR_TRY(cr_op_check_inputs(ctx, 1, 1));
        const int64_t *attr;
        size_t n;
        CR_TRY(cr_attr_ints(ctx->node, "axes", &attr, &n));
        if (!attr) return NULL;
        if (n > CR_MAX_RANK)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute axes has %zu values; at most %d expected",
                               n, CR_MAX_RANK);
        memcpy(axes, attr, n * sizeof *axes);
        *count = n;
        *given = true;
        return NULL;
    }
    CR_TRY(cr_op_check_inputs(ctx, 1, 2));
    if (ctx->n_in < 2 || !ctx->in[1]) return NULL;
    CR_TRY(cr_const_ints(ctx, 1, "axes", axes, CR_MAX_RANK, count));
    *given = true;
    return NULL;
}

/* Normalises axes against rank and marks them; duplicates are an error. */
static cnnrun_status *mark_axes(const cr_op_ctx *ctx, const int64_t *axes, size_t count, int rank, bool *marked)
{
    for (int i = 0; i < rank; i++) marked[i] = false;
    for (size_t i = 0; i < count; i++) {
        int a;
        CR_TRY(cr_normalize_axis(ctx, "axes value", axes[i], rank, &a));
        if (marked[a]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d appears twice in axes", a);
        marked[a] = true;
    }
    return NULL;
}

static cnnrun_status *squeeze_infer(cr_op_ctx *ctx)
{
    int64_t axes[CR_MAX_RANK];
    size_t count;
    bool given;
    CR_TRY(read_axes(ctx, axes, &count, &given));
    const cr_tensor *x = ctx->in[0];
    bool marked[CR_MAX_RANK];
    CR_TRY(mark_axes(ctx, axes, count, x->rank, marked));
    int64_t dims[CR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (given && marked[i] && x->dims[i] != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "cannot squeeze axis %d of size %lld", i,
                               (long long)x->dims[i]);
        bool drop = given ? marked[i] : x->dims[i] == 1;
        if (!drop) dims[rank++] = x->dims[i];
    }
    cr_set_output(ctx, 0, x->dtype, rank, dims);
    return NULL;
}

static cnnrun_status *unsqueeze_infer(cr_op_ctx *ctx)
{
    int64_t axes[CR_MAX_RANK];
    size_t count;
    bool given;
    CR_TRY(read_axes(ctx, axes, &count, &given));
    if (!given) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axes are required");
    const cr_tensor *x = ctx->in[0];
    if ((size_t)x->rank + count > CR_MAX_RANK)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the output rank %zu exceeds the maximum %d",
                           (size_t)x->rank + count, CR_MAX_RANK);
    int rank = x->rank + (int)count;
    bool marked[CR_MAX_RANK];
    CR_TRY(mark_axes(ctx, axes, count, rank, marked));
    int64_t dims[CR_MAX_RANK];
    for (int i = 0, j = 0; i < rank; i++) dims[i] = marked[i] ? 1 : x->dims[j++];
    cr_set_output(ctx, 0, x->dtype, rank, dims);
    return NULL;
}

/* ---- Identity / Dropout ------------------------------------------------------------------- */

static cnnrun_status *identity_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static bool dropout_has_mask(const cr_op_ctx *ctx)
{
    return ctx->n_out > 1 && ctx->out[1];
}

static cnnrun_status *dropout_infer(cr_op_ctx *ctx)
{
    /* From opset 12, ratio and training_mode are inputs 1 and 2. */
    CR_TRY(cr_op_check_inputs(ctx, 1, ctx->opset >= 12 ? 3 : 1));
    const cr_tensor *x = ctx->in[0];
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    /* The mask is bool from opset 10 on, before that of the data's dtype. */
    if (dropout_has_mask(ctx)) cr_set_output(ctx, 1, ctx->opset >= 10 ? CNNRUN_BOOL : x->dtype, x->rank, x->dims);
    return NULL;
}

/* Training-mode dropout is random unless its ratio is 0, when it keeps everything (the mask all
 * true), as in inference. A ratio that is not known yet (at_plan) counts as non-zero. */
static cnnrun_status *dropout_check_training(const cr_op_ctx *ctx, bool at_plan)
{
    const cr_tensor *t = ctx->in[2];
    if (!*(const uint8_t *)t->data) return NULL;
    double ratio = 0.5;
    const cr_tensor *r = ctx->n_in > 1 ? ctx->in[1] : NULL;
    if (r) {
        if (!r->data || cr_tensor_count(r) != 1) ratio = at_plan ? 1.0 : 0.5;
        else if (r->dtype == CNNRUN_FLOAT32) ratio = *(const float *)r->data;
        else if (r->dtype == CNNRUN_FLOAT64) ratio = *(const double *)r->data;
    }
    if (ratio != 0.0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "training_mode is true with a non-zero ratio: random dropout is not supported by an "
                           "inference runtime");
    return NULL;
}

static cnnrun_status *dropout_prepare(cr_op_ctx *ctx)
{
    if (ctx->opset < 7) {
        int64_t is_test;
        CR_TRY(cr_attr_int(ctx->node, "is_test", 0, &is_test));
        /* An inference runtime computes the test-time function whatever is_test says; exporters
         * of that era left it at 0 in inference graphs. */
        (void)is_test;
    }
    if (ctx->opset >= 12 && ctx->n_in > 2 && ctx->in[2]) {
        const cr_tensor *t = ctx->in[2];
        if (t->dtype != CNNRUN_BOOL || cr_tensor_count(t) != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "training_mode must be a bool scalar; found %s",
                               cnnrun_dtype_name(t->dtype));
        /* Known now: refuse at once. Fed at run: dropout_run checks it. */
        if (t->data) CR_TRY(dropout_check_training(ctx, true));
    }
    if (dropout_has_mask(ctx) && !cr_shape_bytes(ctx->out[1]->dtype, ctx->out[1]->rank, ctx->out[1]->dims,
                                                 &(size_t){0}))
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the mask output's dtype %s is not supported",
                           cnnrun_dtype_name(ctx->out[1]->dtype));
    return NULL;
}

/* The mask of inference-mode dropout keeps everything: all true (or all 1). */
static cnnrun_status *dropout_run(cr_op_ctx *ctx)
{
    if (ctx->opset >= 12 && ctx->n_in > 2 && ctx->in[2]) CR_TRY(dropout_check_training(ctx, false));
    if (!dropout_has_mask(ctx)) return NULL;
    cr_tensor *m = ctx->out[1];
    int64_t n = cr_tensor_count(m);
    switch (m->dtype) {
    case CNNRUN_BOOL:
    case CNNRUN_UINT8:
    case CNNRUN_INT8: memset(m->data, 1, (size_t)n); break;
    case CNNRUN_FLOAT32:
        for (int64_t i = 0; i < n; i++) ((float *)m->data)[i] = 1.0f;
        break;
    case CNNRUN_FLOAT64:
        for (int64_t i = 0; i < n; i++) ((double *)m->data)[i] = 1.0;
        break;
    default:
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the mask output's dtype %s is not supported",
                           cnnrun_dtype_name(m->dtype));
    }
    return NULL;
}

/* Later versions (up to 22) only add dtypes. */
static const cr_op op_reshape = {
    .op_type = "Reshape",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = reshape_infer,
};
static const cr_op op_flatten = {
    .op_type = "Flatten",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = flatten_infer,
};
static const cr_op op_squeeze = {
    .op_type = "Squeeze",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = squeeze_infer,
};
static const cr_op op_unsqueeze = {
    .op_type = "Unsqueeze",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = unsqueeze_infer,
};
static const cr_op op_identity = {
    .op_type = "Identity",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = identity_infer,
};
static const cr_op op_dropout = {
    .op_type = "Dropout",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_VIEW,
    .infer = dropout_infer,
    .prepare = dropout_prepare,
    .run = dropout_run,
};

const cr_op *const cr_ops_reshape[] = {&op_reshape, &op_flatten, &op_squeeze, &op_unsqueeze,
                                       &op_identity, &op_dropout, NULL};
