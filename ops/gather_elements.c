/* GatherElements, ScatterElements and the deprecated Scatter (opsets 9-10, ScatterElements
 * without reduction): element-wise indexing along one axis.
 *
 * indices has the data's rank; each position m of indices names the data position m with its
 * axis coordinate replaced by the index (negative counting from the end). Every index is checked
 * against the axis before any element is read or written, so a bad index is an error naming it,
 * never an access outside the data. Gather reads rows of indices in parallel; Scatter writes in
 * index order on one thread, so that with duplicate indices the last update wins (reduction
 * none) and reductions apply in a defined order. */
#include <stdlib.h>
#include <string.h>

#include "index_util.h"

#define GATHER_ELEMENTS_PARALLEL_MIN 65536

typedef struct elements_state {
    int rank, axis;
    int64_t idims[CR_MAX_RANK];   /* shape of indices (and of updates / the gathered output) */
    int64_t dstrides[CR_MAX_RANK];/* row-major strides of data */
    int64_t axis_len;
    size_t elem;
    cr_scatter_reduction reduction;
    int threads;
} elements_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static bool is_scatter(const cr_op_ctx *ctx)
{
    return strncmp(ctx->node->op_type, "Scatter", 7) == 0;
}

static cnnrun_status *elements_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, CNNRUN_INT32, 0};
    bool scatter = is_scatter(ctx);
    CR_TRY(cr_op_check_inputs(ctx, scatter ? 3 : 2, scatter ? 3 : 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "data dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    if (x->rank < 1 || idx->rank != x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "indices must have the data's rank %d (at least 1); found rank %d",
                           x->rank, idx->rank);
    int64_t a;
    int axis;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, x->rank, &axis));
    char sx[128], si[128];
    for (int d = 0; d < x->rank; d++)
        if (d != axis && idx->dims[d] > x->dims[d])
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "indices of shape %s exceed data of shape %s on axis %d",
                               cr_shape_str(idx->rank, idx->dims, si, sizeof si),
                               cr_shape_str(x->rank, x->dims, sx, sizeof sx), d);
    if (scatter) {
        const cr_tensor *u = ctx->in[2];
        if (u->dtype != x->dtype || !cr_shape_equal(u->rank, u->dims, idx->rank, idx->dims))
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "updates (%s, shape %s) must have the data's dtype %s and the indices' shape %s",
                               cnnrun_dtype_name(u->dtype), cr_shape_str(u->rank, u->dims, sx, sizeof sx),
                               cnnrun_dtype_name(x->dtype), cr_shape_str(idx->rank, idx->dims, si, sizeof si));
        cr_scatter_reduction r = CR_SCATTER_NONE;
        if (strcmp(ctx->node->op_type, "ScatterElements") == 0)
            CR_TRY(cr_scatter_reduction_attr(ctx, x->dtype, &r));
        cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    } else {
        cr_set_output(ctx, 0, x->dtype, idx->rank, idx->dims);
    }
    return NULL;
}

static cnnrun_status *elements_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    elements_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    int64_t a;
    cnnrun_status *st = cr_attr_int(ctx->node, "axis", 0, &a);
    if (!st) st = cr_normalize_axis(ctx, "attribute axis", a, x->rank, &s->axis);
    if (!st && strcmp(ctx->node->op_type, "ScatterElements") == 0)
        st = cr_scatter_reduction_attr(ctx, x->dtype, &s->reduction);
    if (st) {
        free(s);
        return st;
    }
    s->rank = x->rank;
    memcpy(s->idims, idx->dims, sizeof s->idims);
    cr_strides(x->rank, x->dims, s->dstrides);
    s->axis_len = x->dims[s->axis];
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

/* The data offset of the row of indices that starts at flat position row * row_len, leaving out
 * the axis coordinate (the index supplies it). */
static int64_t row_base(const elements_state *s, int64_t row)
{
    int64_t base = 0;
    for (int d = s->rank - 2; d >= 0; d--) {
        int64_t c = row % s->idims[d];
        row /= s->idims[d];
        if (d != s->axis) base += c * s->dstrides[d];
    }
    return base;
}

static cnnrun_status *check_indices(const cr_op_ctx *ctx, const elements_state *s)
{
    const cr_tensor *idx = ctx->in[1];
    int64_t n = cr_tensor_count(idx);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = cr_index_at(idx, i);
        if (cr_index_wrap(v, s->axis_len) < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                               "index %lld (at position %lld) is out of range for axis %d of size %lld",
                               (long long)v, (long long)i, s->axis, (long long)s->axis_len);
    }
    return NULL;
}

/* Data offset of element j of a row: the row's base, j along the last axis unless that is the
 * indexed axis, and the index along the axis. */
static inline int64_t element_offset(const elements_state *s, int64_t base, int64_t j, int64_t v)
{
    int last = s->rank - 1;
    if (v < 0) v += s->axis_len;
    return base + (s->axis == last ? 0 : j * s->dstrides[last]) + v * s->dstrides[s->axis];
}

#define GATHER_ROWS(T)                                                                             \
    static void gather_##T(const elements_state *s, const cr_tensor *idx, const T *x, T *y)        \
    {                                                                                              \
        int64_t row_len = s->idims[s->rank - 1];                                                   \
        int64_t count = cr_tensor_count(idx);                                                      \
        int64_t rows = row_len ? count / row_len : 0;                                              \
        _Pragma("omp parallel for num_threads(s->threads) if (count >= GATHER_ELEMENTS_PARALLEL_MIN)") \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            int64_t base = row_base(s, r);                                                         \
            for (int64_t j = 0; j < row_len; j++)                                                  \
                y[r * row_len + j] = x[element_offset(s, base, j, cr_index_at(idx, r * row_len + j))]; \
        }                                                                                          \
    }
GATHER_ROWS(uint8_t)
GATHER_ROWS(uint16_t)
GATHER_ROWS(uint32_t)
GATHER_ROWS(uint64_t)

static cnnrun_status *gather_elements_run(cr_op_ctx *ctx)
{
    const elements_state *s = ctx->state;
    const cr_tensor *idx = ctx->in[1];
    CR_TRY(check_indices(ctx, s));
    const void *x = ctx->in[0]->data;
    void *y = ctx->out[0]->data;
    switch (s->elem) {
    case 1: gather_uint8_t(s, idx, x, y); break;
    case 2: gather_uint16_t(s, idx, x, y); break;
    case 4: gather_uint32_t(s, idx, x, y); break;
    case 8: gather_uint64_t(s, idx, x, y); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "element size %zu reached run", s->elem);
    }
    return NULL;
}

static cnnrun_status *scatter_elements_run(cr_op_ctx *ctx)
{
    const elements_state *s = ctx->state;
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1], *u = ctx->in[2];
    CR_TRY(check_indices(ctx, s));
    char *y = ctx->out[0]->data;
    if (y != x->data) memcpy(y, x->data, cr_tensor_bytes(x));
    const char *upd = u->data;
    int64_t row_len = s->idims[s->rank - 1], count = cr_tensor_count(idx);
    int64_t rows = row_len ? count / row_len : 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = row_base(s, r);
        for (int64_t j = 0; j < row_len; j++) {
            int64_t i = r * row_len + j;
            int64_t off = element_offset(s, base, j, cr_index_at(idx, i));
            cr_scatter_apply(s->reduction, x->dtype, s->elem, y + (size_t)off * s->elem, upd + (size_t)i * s->elem, 1);
        }
    }
    return NULL;
}

static void elements_destroy(void *state)
{
    free(state);
}

/* GatherElements: opset 11 (negative indices), 13 adds dtypes. ScatterElements: 11; 16 adds
 * reduction add/mul, 18 max/min (refused below 18 by the attribute reader). */
static const cr_op op_gather_elements = {
    .op_type = "GatherElements", .domain = "", .opset_min = 11, .opset_max = 22,
    .infer = elements_infer, .prepare = elements_prepare, .run = gather_elements_run, .destroy = elements_destroy,
};
static const cr_op op_scatter_elements = {
    .op_type = "ScatterElements", .domain = "", .opset_min = 11, .opset_max = 22,
    .infer = elements_infer, .prepare = elements_prepare, .run = scatter_elements_run, .destroy = elements_destroy,
};
static const cr_op op_scatter = {
    .op_type = "Scatter", .domain = "", .opset_min = 9, .opset_max = 10,
    .infer = elements_infer, .prepare = elements_prepare, .run = scatter_elements_run, .destroy = elements_destroy,
};

const cr_op *const cr_ops_gather_elements[] = {&op_gather_elements, &op_scatter_elements, &op_scatter, NULL};
