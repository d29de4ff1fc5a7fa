/* Shape and Size: results that depend only on the input's shape, computed at plan time
 * (CR_OP_SHAPE_ONLY). run reads dims, never data. */
#include <string.h>

#include "op_util.h"

/* The [start, end) slice of the dims that Shape reports (opset 15): negative values count from
 * the end and both are clamped to [0, rank], as ONNX specifies. */
static cnnrun_status *shape_range(const cr_op_ctx *ctx, int *start, int *end)
{
    int rank = ctx->in[0]->rank;
    int64_t s = 0, e = rank;
    if (ctx->opset >= 15) {
        CR_TRY(cr_attr_int(ctx->node, "start", 0, &s));
        CR_TRY(cr_attr_int(ctx->node, "end", rank, &e));
    }
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : (s > rank ? rank : s);
    e = e < 0 ? 0 : (e > rank ? rank : e);
    *start = (int)s;
    *end = (int)(e > s ? e : s);
    return NULL;
}

static cnnrun_status *shape_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    int start, end;
    CR_TRY(shape_range(ctx, &start, &end));
    int64_t n = end - start;
    cr_set_output(ctx, 0, CNNRUN_INT64, 1, &n);
    return NULL;
}

static cnnrun_status *shape_run(cr_op_ctx *ctx)
{
    int start, end;
    CR_TRY(shape_range(ctx, &start, &end));
    int64_t *y = ctx->out[0]->data;
    for (int i = start; i < end; i++) y[i - start] = ctx->in[0]->dims[i];
    return NULL;
}

static cnnrun_status *size_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    int64_t n;
    if (!cr_shape_count(ctx->in[0]->rank, ctx->in[0]->dims, &n))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input's element count overflows");
    cr_set_output(ctx, 0, CNNRUN_INT64, 0, NULL);
    return NULL;
}

static cnnrun_status *size_run(cr_op_ctx *ctx)
{
    *(int64_t *)ctx->out[0]->data = cr_tensor_count(ctx->in[0]);
    return NULL;
}

/* Shape gained start/end in 15; 19 and 21 only add dtypes (22 is unchanged). */
static const cr_op op_shape = {
    .op_type = "Shape",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_SHAPE_ONLY,
    .infer = shape_infer,
    .run = shape_run,
};
static const cr_op op_size = {
    .op_type = "Size",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_SHAPE_ONLY,
    .infer = size_infer,
    .run = size_run,
};

const cr_op *const cr_ops_shape[] = {&op_shape, &op_size, NULL};
