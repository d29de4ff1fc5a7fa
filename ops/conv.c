/* Conv (ONNX opsets 1-22; 22 only adds bfloat16): 1-D, 2-D and 3-D convolution with groups
 * (depthwise included), dilations, strides, explicit or automatic padding, on a oneDNN
 * convolution primitive. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "op_util.h"

typedef struct conv_geometry {
    int rank;             /* of X and W: 3, 4 or 5 */
    int64_t batch, in_ch, out_ch, group;
    cr_window win;
} conv_geometry;

typedef struct conv_state {
    cr_dnnl_prim prim;
    bool weights_const, has_bias, bias_const;
    bool empty; /* the output has no elements: nothing to compute */
} conv_state;

static cnnrun_status *conv_geometry_of(const cr_op_ctx *ctx, conv_geometry *g)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    CR_TRY(cr_require_f32(ctx));
    const cr_tensor *x = ctx->in[0], *w = ctx->in[1], *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    char sx[128], sw[128];
    cr_shape_str(x->rank, x->dims, sx, sizeof sx);
    cr_shape_str(w->rank, w->dims, sw, sizeof sw);
    if (x->rank < 3 || x->rank > 5)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "input X has shape %s; supported are 1-D, 2-D and 3-D convolutions (rank 3 to 5)", sx);
    if (w->rank != x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "weights W of shape %s do not have the rank of input X %s", sw, sx);
    int64_t group;
    CR_TRY(cr_attr_int(ctx->node, "group", 1, &group));
    if (group < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'group' = %lld must be positive",
                           (long long)group);
    g->rank = x->rank;
    g->batch = x->dims[0];
    g->in_ch = x->dims[1];
    g->out_ch = w->dims[0];
    g->group = group;
    if (w->dims[1] < 1 || w->dims[1] > INT64_MAX / group || w->dims[1] * group != g->in_ch)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "input X %s has %lld channels; weights W %s with group %lld need "
                           "group x W's dim 1 = %lld x %lld",
                           sx, (long long)g->in_ch, sw, (long long)group, (long long)group,
                           (long long)w->dims[1]);
    if (g->out_ch % group != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "weights W %s: %lld output channels are not divisible by group %lld", sw,
                           (long long)g->out_ch, (long long)group);
    int nsp = x->rank - 2;
    const int64_t *kernel_attr;
    size_t nk;
    CR_TRY(cr_attr_ints(ctx->node, "kernel_shape", &kernel_attr, &nk));
    if (nk != 0) {
        if (nk != (size_t)nsp || memcmp(kernel_attr, w->dims + 2, nk * sizeof *kernel_attr) != 0) {
            char sk[128];
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute 'kernel_shape' = %s does not match weights W %s",
                               cr_shape_str((int)nk, kernel_attr, sk, sizeof sk), sw);
        }
    }
    if (b && (b->rank != 1 || b->dims[0] != g->out_ch)) {
        char sb[128];
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "bias B has shape %s; expected [%lld] (one per output channel)",
                           cr_shape_str(b->rank, b->dims, sb, sizeof sb), (long long)g->out_ch);
    }
    return cr_window_init(ctx, nsp, x->dims + 2, w->dims + 2, true, false, &g->win);
}

static void conv_out_dims(const conv_geometry *g, int64_t *dims)
{
    dims[0] = g->batch;
    dims[1] = g->out_ch;
    for (int i = 0; i < g->win.nsp; i++) dims[2 + i] = g->win.out[i];
}

static cnnrun_status *conv_infer(cr_op_ctx *ctx)
{
    conv_geometry g;
    CR_TRY(conv_geometry_of(ctx, &g));
    int64_t dims[CR_MAX_RANK];
    conv_out_dims(&g, dims);
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, g.rank, dims);
    return NULL;
}

/* Whether a layer of a CNNRUN_CONV_WINOGRAD session is worth Winograd: 3x3, stride 1, no
 * dilation, no groups, float32, constant weights, and big enough. Measured on AVX-512 (oneDNN
 * 2.6, one thread, best of 15 runs, the layer alone): 0.26-0.67x the direct kernel's time from 32
 * channels and a 14x14 output up (ResNet's and VGG's 3x3 layers), but no gain on the 3-channel
 * stem (1.4x slower), 16 channels (0.99x) or a 7x7 output (0.97-1.12x), where the transforms
 * cost what the saved multiplies gain. */
static bool conv_wants_winograd(const cr_op_ctx *ctx, const conv_geometry *g, bool bf16, bool weights_const)
{
    const cr_window *win = &g->win;
    return ctx->env->winograd && ctx->layouts_allowed && !bf16 && weights_const && win->nsp == 2 &&
           g->group == 1 && ctx->in[1]->dims[2] == 3 && ctx->in[1]->dims[3] == 3 && win->stride[0] == 1 &&
           win->stride[1] == 1 && win->dilation[0] == 1 && win->dilation[1] == 1 && g->in_ch >= 32 &&
           g->out_ch >= 32 && win->out[0] * win->out[1] >= 14 * 14;
}

/* Tries a Winograd primitive for the layer; false (and nothing made) where oneDNN has none for
 * it: a CPU without the kernels, or a fused sum whose addend's layout the kernels cannot write. */
static bool conv_try_winograd(cr_op_ctx *ctx, conv_state *s, const dnnl_memory_desc_t *src_md,
                              const dnnl_memory_desc_t *w_md, const dnnl_memory_desc_t *b_md,
                              const dnnl_memory_desc_t *dst_md, const dnnl_dims_t strides,
                              const dnnl_dims_t pad_l, const dnnl_dims_t pad_r)
{
    dnnl_convolution_desc_t desc;
    if (dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_winograd, src_md,
                                           w_md, s->has_bias ? b_md : NULL, dst_md, strides, pad_l,
                                           pad_r) != dnnl_success)
        return false;
    dnnl_primitive_attr_t attr;
    cnnrun_status *st = cr_dnnl_attr_with_post_ops(ctx, &attr);
    if (!st) {
        st = cr_dnnl_prim_create(&s->prim, ctx->env, &desc, attr, "Winograd convolution");
        dnnl_primitive_attr_destroy(attr);
    }
    if (!st) return true;
    cnnrun_status_free(st);
    cr_dnnl_prim_destroy(&s->prim); /* whatever a half-made primitive holds */
    return false;
}

/* Builds the primitive; errors are bare and the caller names the node. */
static cnnrun_status *conv_build(cr_op_ctx *ctx, const conv_geometry *g, conv_state *s)
{
    const cr_tensor *x = ctx->in[0], *w = ctx->in[1];
    const cr_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    int nsp = g->win.nsp;
    int64_t out_dims[CR_MAX_RANK];
    conv_out_dims(g, out_dims);

    /* Grouped weights are oneDNN's 5-D goihw view of the same row-major data. */
    int64_t wdims[CR_MAX_RANK + 1];
    int wrank = 0;
    if (g->group > 1) wdims[wrank++] = g->group;
    wdims[wrank++] = g->out_ch / g->group;
    wdims[wrank++] = g->in_ch / g->group;
    for (int i = 0; i < nsp; i++) wdims[wrank++] = w->dims[2 + i];

    /* With layouts allowed, oneDNN picks the activation layouts (NHWC on AVX-512) and the
     * planner reorders the input if it arrives otherwise; a fused sum writes into the addend,
     * whose layout is then the output's. A bfloat16 session runs the convolution on bfloat16
     * source, weights and destination (the bias stays float32). */
    bool bf16 = ctx->layouts_allowed && ctx->env->bf16 && s->weights_const;
    dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_md, w_md, w_user_md, b_md, dst_md;
    if (ctx->layouts_allowed) CR_TRY(cr_dnnl_md_any_typed(&src_md, x->rank, x->dims, type));
    else CR_TRY(cr_dnnl_md_plain(&src_md, x->rank, x->dims));
    if (ctx->sum_in) CR_TRY(cr_layout_md(ctx->sum_in, &dst_md));
    else if (ctx->layouts_allowed) CR_TRY(cr_dnnl_md_any_typed(&dst_md, g->rank, out_dims, type));
    else CR_TRY(cr_dnnl_md_plain(&dst_md, g->rank, out_dims));
    CR_TRY(cr_dnnl_md_plain(&w_user_md, wrank, wdims));
    if (s->weights_const) CR_TRY(cr_dnnl_md_any_typed(&w_md, wrank, wdims, type));
    else w_md = w_user_md;
    if (s->has_bias) CR_TRY(cr_dnnl_md_plain(&b_md, 1, &g->out_ch));

    dnnl_dims_t strides, dilates, pad_l, pad_r;
    for (int i = 0; i < nsp; i++) {
        strides[i] = g->win.stride[i];
        dilates[i] = g->win.dilation[i] - 1;
        pad_l[i] = g->win.pad_l[i];
        pad_r[i] = g->win.pad_r[i];
    }
    if (!conv_wants_winograd(ctx, g, bf16, s->weights_const) ||
        !conv_try_winograd(ctx, s, &src_md, &w_md, &b_md, &dst_md, strides, pad_l, pad_r)) {
        dnnl_convolution_desc_t desc;
        CR_TRY(cr_dnnl_check(dnnl_dilated_convolution_forward_desc_init(
                                 &desc, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_md,
                                 s->has_bias ? &b_md : NULL, &dst_md, strides, dilates, pad_l, pad_r),
                             "convolution descriptor initialisation"));
        dnnl_primitive_attr_t attr;
        CR_TRY(cr_dnnl_attr_with_post_ops(ctx, &attr));
        cnnrun_status *st = cr_dnnl_prim_create(&s->prim, ctx->env, &desc, attr, "convolution");
        dnnl_primitive_attr_destroy(attr);
        CR_TRY(st);
    }
    cr_dnnl_want_input(ctx, 0, cr_dnnl_prim_md(&s->prim, DNNL_ARG_SRC));
    cr_dnnl_set_output_layout(ctx, 0, cr_dnnl_prim_md(&s->prim, DNNL_ARG_DST));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    if (s->weights_const)
        CR_TRY(cr_dnnl_prim_shared_const_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS,
                                      &w_user_md, w->data));
    else CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, NULL));
    /* A constant bias is used where it lies: its data outlive the state. */
    if (s->has_bias)
        CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_BIAS, s->bias_const ? b->data : NULL));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    ctx->scratch_bytes = s->prim.scratch_bytes;
    return NULL;
}

static void conv_destroy(void *state)
{
    conv_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static cnnrun_status *conv_prepare(cr_op_ctx *ctx)
{
    conv_geometry g;
    CR_TRY(conv_geometry_of(ctx, &g));
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the Conv state");
    const cr_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    s->weights_const = ctx->in[1]->data != NULL;
    s->has_bias = b != NULL;
    s->bias_const = b && b->data;
    int64_t out_dims[CR_MAX_RANK], count;
    conv_out_dims(&g, out_dims);
    if (!cr_shape_count(g.rank, out_dims, &count)) {
        conv_destroy(s);
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output shape overflows");
    }
    ctx->scratch_bytes = 0;
    if (count == 0 || g.in_ch == 0) {
        s->empty = true;
        if (count != 0) {
            conv_destroy(s);
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input X has no channels");
        }
    } else {
        cnnrun_status *st = conv_build(ctx, &g, s);
        if (st) {
            conv_destroy(s);
            return cr_dnnl_node_error(ctx, st);
        }
    }
    ctx->state = s;
    return NULL;
}

static cnnrun_status *conv_run(cr_op_ctx *ctx)
{
    conv_state *s = ctx->state;
    if (s->empty) return NULL;
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[0]->data);
    if (!s->weights_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_WEIGHTS, ctx->in[1]->data);
    if (s->has_bias && !s->bias_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_BIAS, ctx->in[2]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, ctx->out[0]->data);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    return st ? cr_dnnl_node_error(ctx, st) : NULL;
}

static const char *conv_describe(const void *state)
{
    const conv_state *s = state;
    return s->empty ? NULL : cr_dnnl_prim_impl(&s->prim);
}

/* 2 x output elements x (input channels per group x kernel size) */
static double conv_flops(const cr_op_ctx *ctx)
{
    const cr_tensor *w = ctx->in[1];
    double per_output = 2.0;
    for (int d = 1; d < w->rank; d++) per_output *= (double)w->dims[d];
    return per_output * (double)cr_tensor_count(ctx->out[0]);
}

static const cr_op conv_op = {
    .op_type = "Conv",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_LAYOUT_AWARE | CR_OP_FUSES_ELTWISE | CR_OP_FUSES_SUM,
    .infer = conv_infer,
    .prepare = conv_prepare,
    .run = conv_run,
    .destroy = conv_destroy,
    .describe = conv_describe,
    .flops = conv_flops,
};

const cr_op *const cr_ops_conv[] = {&conv_op, NULL};
