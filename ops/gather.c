/* Gather of any dtype along any axis, with int32 or int64 indices (negative ones count from the
 * end, from opset 11).
 *
 * With data seen as [outer, N, inner], output element block (o, i) is data block (o, idx[i]):
 * one memcpy of inner elements, or a typed load for inner == 1 (the embedding-lookup and
 * Shape→Gather cases). Constant indices are checked once in prepare; indices that arrive at run
 * are checked there, since an out-of-range index must not read outside the data. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define GATHER_PARALLEL_MIN_BYTES (1u << 20)

typedef struct gather_state {
    int64_t outer, axis_len, inner, n_idx;
    size_t elem;
    bool indices_checked; /* constant indices, validated in prepare */
    int threads;
} gather_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *gather_axis(const cr_op_ctx *ctx, int *axis)
{
    int64_t a;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &a));
    return cr_normalize_axis(ctx, "attribute axis", a, ctx->in[0]->rank, axis);
}

static cnnrun_status *gather_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, CNNRUN_INT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "data dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    int axis;
    CR_TRY(gather_axis(ctx, &axis));
    int rank = x->rank - 1 + idx->rank;
    if (rank > CR_MAX_RANK)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the output rank %d exceeds the maximum %d", rank, CR_MAX_RANK);
    int64_t dims[CR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++) dims[r++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) dims[r++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++) dims[r++] = x->dims[i];
    if (!cr_shape_bytes(x->dtype, rank, dims, &(size_t){0}))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is larger than cnnrun allows");
    cr_set_output(ctx, 0, x->dtype, rank, dims);
    return NULL;
}

static inline int64_t index_at(const cr_tensor *idx, int64_t i)
{
    return idx->dtype == CNNRUN_INT64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
}

/* First index outside [-n, n), or -1 if all are valid. */
static int64_t find_bad_index(const cr_tensor *idx, int64_t count, int64_t n)
{
    for (int64_t i = 0; i < count; i++) {
        int64_t v = index_at(idx, i);
        if (v < -n || v >= n) return i;
    }
    return -1;
}

static cnnrun_status *bad_index_error(const cr_op_ctx *ctx, int64_t at, int64_t n)
{
    return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                       "index %lld (at position %lld) is out of range for an axis of size %lld",
                       (long long)index_at(ctx->in[1], at), (long long)at, (long long)n);
}

static cnnrun_status *gather_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    int axis;
    CR_TRY(gather_axis(ctx, &axis));
    gather_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->outer = 1;
    s->inner = 1;
    for (int i = 0; i < axis; i++) s->outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) s->inner *= x->dims[i];
    s->axis_len = x->dims[axis];
    s->n_idx = cr_tensor_count(idx);
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    if (idx->data) {
        int64_t bad = find_bad_index(idx, s->n_idx, s->axis_len);
        if (bad >= 0) {
            free(s);
            return bad_index_error(ctx, bad, x->dims[axis]);
        }
        s->indices_checked = true;
    }
    ctx->state = s;
    return NULL;
}

#define GATHER_SCALARS(T)                                                                          \
    static void gather_scalars_##T(const gather_state *s, const cr_tensor *idx, const T *x, T *y)  \
    {                                                                                              \
        for (int64_t o = 0; o < s->outer; o++) {                                                   \
            const T *xo = x + o * s->axis_len;                                                     \
            T *yo = y + o * s->n_idx;                                                              \
            for (int64_t i = 0; i < s->n_idx; i++) {                                               \
                int64_t v = index_at(idx, i);                                                      \
                yo[i] = xo[v < 0 ? v + s->axis_len : v];                                           \
            }                                                                                      \
        }                                                                                          \
    }

GATHER_SCALARS(uint8_t)
GATHER_SCALARS(uint16_t)
GATHER_SCALARS(uint32_t)
GATHER_SCALARS(uint64_t)

static cnnrun_status *gather_run(cr_op_ctx *ctx)
{
    const gather_state *s = ctx->state;
    const cr_tensor *idx = ctx->in[1];
    if (!s->indices_checked) {
        int64_t bad = find_bad_index(idx, s->n_idx, s->axis_len);
        if (bad >= 0) return bad_index_error(ctx, bad, s->axis_len);
    }
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    if (s->inner == 1) {
        switch (s->elem) {
        case 1: gather_scalars_uint8_t(s, idx, (const uint8_t *)x, (uint8_t *)y); return NULL;
        case 2: gather_scalars_uint16_t(s, idx, (const uint16_t *)x, (uint16_t *)y); return NULL;
        case 4: gather_scalars_uint32_t(s, idx, (const uint32_t *)x, (uint32_t *)y); return NULL;
        case 8: gather_scalars_uint64_t(s, idx, (const uint64_t *)x, (uint64_t *)y); return NULL;
        default: break;
        }
    }
    size_t block = (size_t)s->inner * s->elem;
    int64_t rows = s->outer * s->n_idx;
    size_t total = (size_t)rows * block;
    #pragma omp parallel for num_threads(s->threads) if (total >= GATHER_PARALLEL_MIN_BYTES)
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / s->n_idx, v = index_at(idx, r % s->n_idx);
        if (v < 0) v += s->axis_len;
        memcpy(y + (size_t)r * block, x + ((size_t)o * (size_t)s->axis_len + (size_t)v) * block, block);
    }
    return NULL;
}

static void gather_destroy(void *state)
{
    free(state);
}

/* Negative indices are defined from opset 11; accepting them earlier is harmless. 13+ adds
 * dtypes only. */
static const cr_op op_gather = {
    .op_type = "Gather",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = gather_infer,
    .prepare = gather_prepare,
    .run = gather_run,
    .destroy = gather_destroy,
};

const cr_op *const cr_ops_gather[] = {&op_gather, NULL};
