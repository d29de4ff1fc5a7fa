/* GatherND and ScatterND: indexing by tuples of coordinates.
 *
 * The last axis of indices holds k coordinates into data's leading axes (after batch_dims shared
 * axes, GatherND only); each tuple names a slice of data's remaining axes, copied whole (one
 * memcpy per tuple for GatherND, parallel over tuples). Every coordinate is checked before
 * anything is read or written. ScatterND writes in tuple order on one thread, so that duplicate
 * tuples resolve in a defined order (ONNX leaves it undefined for reduction none). */
#include <stdlib.h>
#include <string.h>

#include "index_util.h"

#define GATHER_ND_PARALLEL_MIN_BYTES (1u << 20)

typedef struct nd_state {
    int batch_dims, k;
    int64_t batches;                  /* product of the batch axes */
    int64_t tuples;                   /* tuples per batch */
    int64_t slice;                    /* elements per slice */
    int64_t data_dims[CR_MAX_RANK];   /* the k indexed axes of data */
    int64_t data_strides[CR_MAX_RANK];/* their strides, in elements */
    int64_t batch_stride;             /* data elements per batch */
    size_t elem;
    cr_scatter_reduction reduction;
    int threads;
} nd_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static bool is_scatter(const cr_op_ctx *ctx)
{
    return strcmp(ctx->node->op_type, "ScatterND") == 0;
}

/* Checks the shapes and fills the state's geometry (s may be a local copy during infer). */
static cnnrun_status *nd_geometry(const cr_op_ctx *ctx, nd_state *s, int *out_rank, int64_t *out_dims)
{
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, 0};
    bool scatter = is_scatter(ctx);
    CR_TRY(cr_op_check_inputs(ctx, scatter ? 3 : 2, scatter ? 3 : 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "data dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    int64_t b = 0;
    if (!scatter) CR_TRY(cr_attr_int(ctx->node, "batch_dims", 0, &b));
    if (x->rank < 1 || idx->rank < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "data and indices need rank >= 1 (found %d and %d)", x->rank,
                           idx->rank);
    if (b < 0 || b >= idx->rank || b >= x->rank)
        return cr_op_unsupported_attr(ctx, "batch_dims", "must be in [0, min(rank of data, rank of indices) - 1]");
    int64_t k = idx->dims[idx->rank - 1];
    if (k < 1 || b + k > x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "the last axis of indices (%lld) must be between 1 and the data's rank %d minus batch_dims %lld",
                           (long long)k, x->rank, (long long)b);
    s->batch_dims = (int)b;
    s->k = (int)k;
    s->batches = 1;
    for (int d = 0; d < b; d++) {
        if (idx->dims[d] != x->dims[d])
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "batch axis %d differs: data %lld, indices %lld", d,
                               (long long)x->dims[d], (long long)idx->dims[d]);
        s->batches *= x->dims[d];
    }
    s->tuples = 1;
    for (int d = (int)b; d < idx->rank - 1; d++) s->tuples *= idx->dims[d];
    s->slice = 1;
    for (int d = (int)(b + k); d < x->rank; d++) s->slice *= x->dims[d];
    int64_t strides[CR_MAX_RANK];
    cr_strides(x->rank, x->dims, strides);
    for (int j = 0; j < k; j++) {
        s->data_dims[j] = x->dims[b + j];
        s->data_strides[j] = strides[b + j];
    }
    s->batch_stride = b > 0 ? strides[b - 1] : 0;
    s->elem = cnnrun_dtype_size(x->dtype);
    /* Gathered shape (and ScatterND's updates shape): indices[:-1] + data[b + k:]. */
    int r = 0;
    for (int d = 0; d < idx->rank - 1; d++) out_dims[r++] = idx->dims[d];
    for (int d = (int)(b + k); d < x->rank; d++) {
        if (r >= CR_MAX_RANK)
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the result rank exceeds the maximum %d", CR_MAX_RANK);
        out_dims[r++] = x->dims[d];
    }
    *out_rank = r;
    return NULL;
}

static cnnrun_status *nd_infer(cr_op_ctx *ctx)
{
    nd_state s;
    int rank;
    int64_t dims[CR_MAX_RANK];
    CR_TRY(nd_geometry(ctx, &s, &rank, dims));
    const cr_tensor *x = ctx->in[0];
    if (is_scatter(ctx)) {
        const cr_tensor *u = ctx->in[2];
        char su[128], se[128];
        if (u->dtype != x->dtype || !cr_shape_equal(u->rank, u->dims, rank, dims))
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "updates (%s, shape %s) must be %s of shape %s",
                               cnnrun_dtype_name(u->dtype), cr_shape_str(u->rank, u->dims, su, sizeof su),
                               cnnrun_dtype_name(x->dtype), cr_shape_str(rank, dims, se, sizeof se));
        cr_scatter_reduction r;
        CR_TRY(cr_scatter_reduction_attr(ctx, x->dtype, &r));
        cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    } else {
        if (!cr_shape_bytes(x->dtype, rank, dims, &(size_t){0}))
            return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is larger than cnnrun allows");
        cr_set_output(ctx, 0, x->dtype, rank, dims);
    }
    return NULL;
}

static cnnrun_status *nd_prepare(cr_op_ctx *ctx)
{
    nd_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    int rank;
    int64_t dims[CR_MAX_RANK];
    cnnrun_status *st = nd_geometry(ctx, s, &rank, dims);
    if (!st && is_scatter(ctx)) st = cr_scatter_reduction_attr(ctx, ctx->in[0]->dtype, &s->reduction);
    if (st) {
        free(s);
        return st;
    }
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

/* The data offset (in elements) of every tuple, written to offsets (batches * tuples entries,
 * the op's scratch), after checking each coordinate against its axis. */
static cnnrun_status *tuple_offsets(const cr_op_ctx *ctx, const nd_state *s, int64_t *offsets)
{
    const int64_t *idx = ctx->in[1]->data;
    for (int64_t bt = 0; bt < s->batches * s->tuples; bt++) {
        int64_t off = (bt / s->tuples) * s->batch_stride;
        for (int j = 0; j < s->k; j++) {
            int64_t v = idx[bt * s->k + j], p = cr_index_wrap(v, s->data_dims[j]);
            if (p < 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                                   "index %lld (tuple %lld, coordinate %d) is out of range for data axis %d of size %lld",
                                   (long long)v, (long long)bt, j, s->batch_dims + j, (long long)s->data_dims[j]);
            off += p * s->data_strides[j];
        }
        offsets[bt] = off;
    }
    return NULL;
}

static cnnrun_status *nd_scratch(cr_op_ctx *ctx)
{
    CR_TRY(nd_prepare(ctx));
    const nd_state *s = ctx->state;
    ctx->scratch_bytes = (size_t)(s->batches * s->tuples) * sizeof(int64_t);
    return NULL;
}

static cnnrun_status *gather_nd_run(cr_op_ctx *ctx)
{
    const nd_state *s = ctx->state;
    int64_t *offsets = ctx->scratch;
    CR_TRY(tuple_offsets(ctx, s, offsets));
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    size_t block = (size_t)s->slice * s->elem;
    int64_t n = s->batches * s->tuples;
    #pragma omp parallel for num_threads(s->threads) if ((size_t)n * block >= GATHER_ND_PARALLEL_MIN_BYTES)
    for (int64_t t = 0; t < n; t++) memcpy(y + (size_t)t * block, x + (size_t)offsets[t] * s->elem, block);
    return NULL;
}

static cnnrun_status *scatter_nd_run(cr_op_ctx *ctx)
{
    const nd_state *s = ctx->state;
    int64_t *offsets = ctx->scratch;
    CR_TRY(tuple_offsets(ctx, s, offsets));
    const cr_tensor *x = ctx->in[0];
    char *y = ctx->out[0]->data;
    if (y != (char *)x->data) memcpy(y, x->data, cr_tensor_bytes(x));
    const char *u = ctx->in[2]->data;
    size_t block = (size_t)s->slice * s->elem;
    for (int64_t t = 0; t < s->tuples; t++)
        cr_scatter_apply(s->reduction, x->dtype, s->elem, y + (size_t)offsets[t] * s->elem, u + (size_t)t * block, s->slice);
    return NULL;
}

static void nd_destroy(void *state)
{
    free(state);
}

/* GatherND: 11, batch_dims from 12, dtypes at 13. ScatterND: 11, reduction add/mul from 16,
 * max/min from 18. */
static const cr_op op_gather_nd = {
    .op_type = "GatherND", .domain = "", .opset_min = 11, .opset_max = 22,
    .infer = nd_infer, .prepare = nd_scratch, .run = gather_nd_run, .destroy = nd_destroy,
};
static const cr_op op_scatter_nd = {
    .op_type = "ScatterND", .domain = "", .opset_min = 11, .opset_max = 22,
    .infer = nd_infer, .prepare = nd_scratch, .run = scatter_nd_run, .destroy = nd_destroy,
};

const cr_op *const cr_ops_gather_nd[] = {&op_gather_nd, &op_scatter_nd, NULL};
