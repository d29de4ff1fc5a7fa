/* The planner's layout conversion step: a oneDNN reorder from input 0's layout to output 0's
 * (row-major to NHWC before the first convolution, a blocked layout back to row-major before an
 * op that is not layout-aware or a graph output). Not an ONNX operator: the planner inserts it
 * on edges whose two ends disagree. */
#include <stdlib.h>

#include "dnnl_util.h"
#include "op_util.h"

typedef struct reorder_state {
    cr_dnnl_prim prim;
} reorder_state;

static void reorder_destroy(void *state)
{
    reorder_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static cnnrun_status *reorder_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *y = ctx->out[0];
    if (x->dtype != CNNRUN_FLOAT32 || y->dtype != CNNRUN_FLOAT32)
        return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "layout reorders are for float32 tensors, found %s",
                           cnnrun_dtype_name(x->dtype));
    reorder_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the reorder state");
    dnnl_memory_desc_t src_md, dst_md;
    cnnrun_status *st = cr_layout_md(x, &src_md);
    if (!st) st = cr_layout_md(y, &dst_md);
    if (!st) st = cr_dnnl_reorder_create(&s->prim, ctx->env, &src_md, &dst_md);
    if (st) {
        reorder_destroy(s);
        return cr_dnnl_node_error(ctx, st);
    }
    ctx->scratch_bytes = s->prim.scratch_bytes;
    ctx->state = s;
    return NULL;
}

static cnnrun_status *reorder_run(cr_op_ctx *ctx)
{
    reorder_state *s = ctx->state;
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_FROM, ctx->in[0]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_TO, ctx->out[0]->data);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    return st ? cr_dnnl_node_error(ctx, st) : NULL;
}

static cnnrun_status *reorder_infer(cr_op_ctx *ctx)
{
    /* the planner sets the output: same dtype and shape as the input, another layout */
    (void)ctx;
    return NULL;
}

static const char *reorder_describe(const void *state)
{
    return cr_dnnl_prim_impl(&((const reorder_state *)state)->prim);
}

const cr_op cr_layout_reorder_op = {
    .op_type = "Reorder",
    .domain = "cnnrun",
    .opset_min = 1,
    .opset_max = 1,
    .flags = CR_OP_LAYOUT_AWARE,
    .infer = reorder_infer,
    .prepare = reorder_prepare,
    .run = reorder_run,
    .destroy = reorder_destroy,
    .describe = reorder_describe,
};
