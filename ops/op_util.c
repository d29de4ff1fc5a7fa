/* Helpers shared by operator implementations: errors that name the node, broadcasting, axes. */
#include "op_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cnnrun_status *cr_op_error(const cr_op_ctx *ctx, cnnrun_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cr_error(code, "node '%s' (%s, opset %lld): %s", ctx->node->name, ctx->node->op_type,
                    (long long)ctx->opset, msg);
}

cnnrun_status *cr_op_unsupported_attr(const cr_op_ctx *ctx, const char *attr, const char *why)
{
    return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "attribute '%s' is not supported: %s", attr, why);
}

cnnrun_status *cr_op_check_inputs(const cr_op_ctx *ctx, int min_inputs, int max_inputs)
{
    if (ctx->n_in < min_inputs || ctx->n_in > max_inputs)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected %d to %d inputs, found %d",
                           min_inputs, max_inputs, ctx->n_in);
    for (int i = 0; i < min_inputs; i++)
        if (!ctx->in[i])
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d is required but omitted", i);
    return NULL;
}

cnnrun_status *cr_op_check_dtype(const cr_op_ctx *ctx, int input, const cnnrun_dtype *allowed)
{
    if (input >= ctx->n_in || !ctx->in[input] || !allowed) return NULL;
    cnnrun_dtype dt = ctx->in[input]->dtype;
    for (const cnnrun_dtype *a = allowed; *a; a++)
        if (*a == dt) return NULL;
    char list[256] = "";
    for (const cnnrun_dtype *a = allowed; *a; a++) {
        strncat(list, a == allowed ? "" : ", ", sizeof list - strlen(list) - 1);
        strncat(list, cnnrun_dtype_name(*a), sizeof list - strlen(list) - 1);
    }
    return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input %d has dtype %s; supported: %s", input,
                       cnnrun_dtype_name(dt), list);
}

void cr_set_output(cr_op_ctx *ctx, int i, cnnrun_dtype dtype, int rank, const int64_t *dims)
{
    if (i >= ctx->n_out || !ctx->out[i]) return;
    cr_tensor *t = ctx->out[i];
    t->dtype = dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
}

cnnrun_status *cr_broadcast_shape(const cr_op_ctx *ctx, int rank_a, const int64_t *a, int rank_b,
                                  const int64_t *b, int *rank_out, int64_t *out)
{
    int r = rank_a > rank_b ? rank_a : rank_b;
    int64_t res[CR_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - rank_a), ib = i - (r - rank_b);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1) res[i] = da;
        else if (da == 1) res[i] = db;
        else {
            char sa[128], sb[128];
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "shapes %s and %s cannot be broadcast together (axis %d: %lld vs %lld)",
                               cr_shape_str(rank_a, a, sa, sizeof sa),
                               cr_shape_str(rank_b, b, sb, sizeof sb), i, (long long)da,
                               (long long)db);
        }
    }
    *rank_out = r;
    memcpy(out, res, (size_t)r * sizeof *out);
    return NULL;
}

cnnrun_status *cr_normalize_axis(const cr_op_ctx *ctx, const char *what, int64_t axis, int rank,
                                 int *out)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%s %lld is out of range for rank %d",
                           what, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return NULL;
}

cnnrun_status *cr_const_ints(const cr_op_ctx *ctx, int input, const char *role, int64_t *values,
                             size_t max_count, size_t *count)
{
    const cr_tensor *t = input < ctx->n_in ? ctx->in[input] : NULL;
    if (!t) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input is missing", role);
    if (!t->data) {
        cr_note_missing_value(ctx, input);
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "the %s input must be known when the graph is planned (a constant, a "
                           "graph input, or computed from shapes only)", role);
    }
    if (t->dtype != CNNRUN_INT64 && t->dtype != CNNRUN_INT32)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input must be int64 or int32, found %s",
                           role, cnnrun_dtype_name(t->dtype));
    int64_t n = cr_tensor_count(t);
    if (n < 0 || (size_t)n > max_count)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input has %lld values; at most %zu expected",
                           role, (long long)n, max_count);
    for (int64_t i = 0; i < n; i++)
        values[i] = t->dtype == CNNRUN_INT64 ? ((const int64_t *)t->data)[i]
                                             : ((const int32_t *)t->data)[i];
    *count = (size_t)n;
    return NULL;
}

cnnrun_status *cr_const_floats(const cr_op_ctx *ctx, int input, const char *role, float *values,
                               size_t max_count, size_t *count)
{
    const cr_tensor *t = input < ctx->n_in ? ctx->in[input] : NULL;
    if (!t) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input is missing", role);
    if (!t->data) {
        cr_note_missing_value(ctx, input);
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "the %s input must be known when the graph is planned (a constant, a "
                           "graph input, or computed from shapes only)", role);
    }
    if (t->dtype != CNNRUN_FLOAT32 && t->dtype != CNNRUN_FLOAT64)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input must be float32 or float64, found %s",
                           role, cnnrun_dtype_name(t->dtype));
    int64_t n = cr_tensor_count(t);
    if (n < 0 || (size_t)n > max_count)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input has %lld values; at most %zu expected",
                           role, (long long)n, max_count);
    for (int64_t i = 0; i < n; i++)
        values[i] = t->dtype == CNNRUN_FLOAT32 ? ((const float *)t->data)[i]
                                               : (float)((const double *)t->data)[i];
    *count = (size_t)n;
    return NULL;
}

void cr_note_missing_value(const cr_op_ctx *ctx, int input)
{
    /* Contexts live in the planner's own memory and are never defined const; the helpers take
     * const pointers only because reading inputs does not change the op. */
    if (input >= 0 && input < 32) ((cr_op_ctx *)ctx)->missing_values |= 1u << input;
}

/* Input k as the op will read it: in the layout it asked for, if it asked. */
static const cr_tensor *as_read(const cr_op_ctx *ctx, int k, cr_tensor *tmp)
{
    if (!ctx->want || !ctx->want[k].set) return ctx->in[k];
    *tmp = *ctx->in[k];
    tmp->layout = (cr_layout *)&ctx->want[k].layout;
    return tmp;
}

bool cr_op_memory_order(cr_op_ctx *ctx, int *order)
{
    cr_tensor *y = ctx->out[0];
    bool any_layout = false;
    for (int k = 0; k < ctx->n_in; k++) any_layout |= ctx->in[k] && !cr_layout_is_plain(ctx->in[k]);
    if (!ctx->layouts_allowed || !any_layout || !y || y->rank < 1) return false;
    /* bfloat16 activations (a bfloat16 session) are read as float32 in the same order */
    for (int k = 0; k < ctx->n_in; k++) {
        cr_layout twin;
        if (ctx->in[k] && cr_layout_f32_twin(ctx->in[k], &twin)) cr_op_want_layout(ctx, k, &twin);
    }
    /* the order of an input of the output's shape, else of one of its rank (Concat's inputs) */
    cr_tensor tmp;
    bool found = false;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (int k = 0; k < ctx->n_in && !found; k++) {
            const cr_tensor *t = ctx->in[k] ? as_read(ctx, k, &tmp) : NULL;
            if (t && !cr_layout_is_plain(t) && t->rank == y->rank &&
                (pass == 1 || cr_shape_equal(t->rank, t->dims, y->rank, y->dims)))
                found = cr_layout_order(t, order);
        }
    for (int k = 0; found && k < ctx->n_in; k++)
        if (ctx->in[k]) found = cr_layout_row_major_in(as_read(ctx, k, &tmp), y->rank, order);
    if (found && y->layout) {
        cnnrun_status *st = cr_layout_set_order(y->layout, y->rank, y->dims, order);
        if (!st) {
            if (cr_layout_is_plain(y)) y->layout->plain = true;
            return true;
        }
        cnnrun_status_free(st);
        y->layout->plain = true;
    }
    for (int k = 0; k < ctx->n_in; k++)
        if (ctx->in[k]) {
            if (ctx->want) ctx->want[k].set = false;
            cr_op_want_layout(ctx, k, NULL);
        }
    return false;
}

void cr_op_want_layout(cr_op_ctx *ctx, int input, const cr_layout *layout)
{
    cr_layout want = layout ? *layout : (cr_layout){.plain = true};
    if (!ctx->layouts_allowed || !ctx->want || !ctx->in[input] || cr_layout_same(ctx->in[input], &want))
        return;
    ctx->want[input] = (cr_layout_want){.set = true, .layout = want};
}

void cr_permute_dims(int rank, const int64_t *dims, const int *order, int64_t *out)
{
    for (int i = 0; i < rank; i++) out[i] = dims[order[i]];
}

void cr_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}
