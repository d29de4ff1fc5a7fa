/* Concat of any dtype along one axis (negative axes from opset 11).
 *
 * Seen as [outer, axis * inner] byte blocks, concatenation interleaves each input's block of
 * every outer index; prepare computes the block sizes, run is memcpy. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define CONCAT_PARALLEL_MIN_BYTES (1u << 20)

typedef struct concat_state {
    int64_t outer;
    size_t out_block;     /* bytes of one outer index in the output */
    int n_in;
    int threads;
    size_t in_block[];    /* bytes of one outer index in each input */
} concat_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *concat_axis(const cr_op_ctx *ctx, int *axis)
{
    int64_t a;
    /* Opsets 1-3 default the axis to 1; from 4 it is required. */
    if (ctx->opset >= 4 && !cr_node_attr(ctx->node, "axis"))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'axis' is required");
    CR_TRY(cr_attr_int(ctx->node, "axis", 1, &a));
    if (ctx->opset < 11 && a < 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "negative axis %lld needs opset 11 or later", (long long)a);
    return cr_normalize_axis(ctx, "attribute axis", a, ctx->in[0]->rank, axis);
}

static cnnrun_status *concat_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, ctx->n_in));
    for (int i = 0; i < ctx->n_in; i++)
        if (!ctx->in[i]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d is omitted", i);
    const cr_tensor *first = ctx->in[0];
    if (cnnrun_dtype_size(first->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(first->dtype));
    int axis;
    CR_TRY(concat_axis(ctx, &axis));
    int64_t dims[CR_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    for (int i = 1; i < ctx->n_in; i++) {
        const cr_tensor *t = ctx->in[i];
        char sa[160], sb[160];
        if (t->dtype != first->dtype)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d has dtype %s; input 0 has %s", i,
                               cnnrun_dtype_name(t->dtype), cnnrun_dtype_name(first->dtype));
        bool same = t->rank == first->rank;
        for (int d = 0; same && d < t->rank; d++) same = d == axis || t->dims[d] == first->dims[d];
        if (!same)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "input %d has shape %s, which does not match input 0's %s outside axis %d", i,
                               cr_shape_str(t->rank, t->dims, sa, sizeof sa),
                               cr_shape_str(first->rank, first->dims, sb, sizeof sb), axis);
        if (dims[axis] > INT64_MAX - t->dims[axis])
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the concatenated axis overflows");
        dims[axis] += t->dims[axis];
    }
    if (!cr_shape_bytes(first->dtype, first->rank, dims, &(size_t){0}))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is larger than cnnrun allows");
    cr_set_output(ctx, 0, first->dtype, first->rank, dims);
    return NULL;
}

static cnnrun_status *concat_prepare(cr_op_ctx *ctx)
{
    int axis;
    CR_TRY(concat_axis(ctx, &axis));
    concat_state *s = calloc(1, sizeof *s + (size_t)ctx->n_in * sizeof s->in_block[0]);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    /* Inputs in NHWC (the convolutions' layout) concatenate along the channels in memory order:
     * the same block copies over the permuted dims, and the output keeps the layout. */
    const cr_tensor *y = ctx->out[0];
    int order[CR_MAX_RANK];
    int64_t dims[CR_MAX_RANK];
    int mem_axis = axis;
    memcpy(dims, y->dims, sizeof dims);
    if (cr_op_memory_order(ctx, order)) {
        cr_permute_dims(y->rank, y->dims, order, dims);
        for (int d = 0; d < y->rank; d++)
            if (order[d] == axis) mem_axis = d;
    }
    size_t es = cnnrun_dtype_size(y->dtype);
    size_t inner = es;
    s->outer = 1;
    for (int d = 0; d < mem_axis; d++) s->outer *= dims[d];
    for (int d = mem_axis + 1; d < y->rank; d++) inner *= (size_t)dims[d];
    s->out_block = inner * (size_t)dims[mem_axis];
    s->n_in = ctx->n_in;
    s->threads = op_threads(ctx);
    for (int i = 0; i < ctx->n_in; i++) s->in_block[i] = inner * (size_t)ctx->in[i]->dims[axis];
    ctx->state = s;
    return NULL;
}

static cnnrun_status *concat_run(cr_op_ctx *ctx)
{
    const concat_state *s = ctx->state;
    char *y = ctx->out[0]->data;
    size_t total = (size_t)s->outer * s->out_block;
    #pragma omp parallel for num_threads(s->threads) if (total >= CONCAT_PARALLEL_MIN_BYTES && s->outer > 1)
    for (int64_t o = 0; o < s->outer; o++) {
        char *dst = y + (size_t)o * s->out_block;
        for (int i = 0; i < s->n_in; i++) {
            if (s->in_block[i] == 0) continue;
            memcpy(dst, (const char *)ctx->in[i]->data + (size_t)o * s->in_block[i], s->in_block[i]);
            dst += s->in_block[i];
        }
    }
    return NULL;
}

static void concat_destroy(void *state)
{
    free(state);
}

/* Semantics fixed since opset 4 (axis required), negative axes from 11; 13+ adds dtypes. */
static const cr_op op_concat = {
    .op_type = "Concat",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_LAYOUT_AWARE,
    .infer = concat_infer,
    .prepare = concat_prepare,
    .run = concat_run,
    .destroy = concat_destroy,
};

const cr_op *const cr_ops_concat[] = {&op_concat, NULL};
