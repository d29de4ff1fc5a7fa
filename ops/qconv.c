/* Quantized convolutions: QLinearConv (opset 10 on) and ConvInteger (opset 10 on), 1-D to 3-D,
 * with groups, dilations, strides and padding as Conv has them.
 *
 *   ConvInteger   y[int32] = sum (x - x_zero_point) * (w - w_zero_point[oc])
 *   QLinearConv   y = saturate(round((acc + B[oc]) * x_scale * w_scale[oc] / y_scale) + y_zero_point)
 *                 with acc the ConvInteger sum; y is uint8 or int8 (y_zero_point's dtype).
 *
 * Padding reads x_zero_point (a real 0), so padded taps add nothing to acc.
 *
 * Two kernels. oneDNN's int8 convolution (VNNI on CPUs that have it) runs when the weights, the
 * scales and the zero points are constants of the model (as the quantization tools write them)
 * and the weights minus their zero point fit int8: oneDNN wants s8 weights with no zero point,
 * so uint8 weights (or int8 ones with a nonzero zero point) are shifted once at prepare, which
 * is exact whenever w - w_zero_point lies in [-128, 127] (always for symmetric int8 weights;
 * uint8 weights with zero point 128 too). x_zero_point and y_zero_point are oneDNN run-time zero
 * points, the requantisation its per-channel output scales, B its s32 bias (oneDNN 2.x applies
 * output scales to acc + bias, as QLinearConv does). oneDNN's int8 kernels want NHWC
 * activations: the op reorders its row-major input into scratch and the result back.
 * Otherwise (weights that are inputs, shifted weights out of int8 range, parameters that are not
 * constants) a plain C kernel computes the same formula exactly in int32. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "quant_util.h"

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

/* Input indices of each form. */
typedef struct qconv_roles {
    int x, w, x_zp, w_zp, x_scale, w_scale, y_scale, y_zp, bias; /* -1: absent in this form */
} qconv_roles;

static const qconv_roles qlinear_roles = {0, 3, 2, 5, 1, 4, 6, 7, 8};
static const qconv_roles integer_roles = {0, 1, 2, 3, -1, -1, -1, -1, -1};

/* Whether the oneDNN kernel can be made now: x's zero point may be computed (a run-time zero
 * point, as DynamicQuantizeLinear makes for ConvInteger); everything else must be constant. */
static bool roles_const(const cr_op_ctx *ctx, const qconv_roles *r)
{
    int idx[] = {r->w, r->w_zp, r->x_scale, r->w_scale, r->y_scale, r->y_zp};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) {
        const cr_tensor *t = cr_quant_input(ctx, idx[i]);
        if (t && !t->data) return false;
    }
    return true;
}

typedef struct qconv_geometry {
    int rank;
    int64_t batch, in_ch, out_ch, group;
    cr_window win;
} qconv_geometry;

typedef struct qconv_state {
    qconv_roles roles;
    qconv_geometry g;
    bool requant;        /* QLinearConv: uint8/int8 output; ConvInteger: int32 */
    bool empty;
    bool use_dnnl;
    cnnrun_dtype out_type;
    /* the oneDNN path */
    cr_dnnl_prim conv, to_nhwc, from_nhwc;
    bool reorder_in, reorder_out;
    size_t src_off, dst_off; /* of the NHWC copies in scratch */
    int32_t zp_src, zp_dst;
    bool has_zp_src;     /* x has a zero point that is not a constant 0: read at each run */
    /* fused activation (the planner's QDQ fusion: Relu between the convolution and the
     * QuantizeLinear), applied to the requantised real value in both kernels */
    bool relu;
    /* the reference path: per-output-channel requantisation multipliers */
    float *mult;
} qconv_state;

static cnnrun_status *qconv_geometry_of(const cr_op_ctx *ctx, const qconv_roles *r, qconv_geometry *g)
{
    const cr_tensor *x = ctx->in[r->x], *w = cr_quant_input(ctx, r->w);
    if (!w) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the weights input is missing");
    static const cnnrun_dtype q8[] = {CNNRUN_UINT8, CNNRUN_INT8, 0};
    CR_TRY(cr_op_check_dtype(ctx, r->x, q8));
    CR_TRY(cr_op_check_dtype(ctx, r->w, q8));
    CR_TRY(cr_quant_check_zero_point(ctx, r->x_zp, "x_zero_point", r->x));
    CR_TRY(cr_quant_check_zero_point(ctx, r->w_zp, "w_zero_point", r->w));
    char sx[128], sw[128];
    cr_shape_str(x->rank, x->dims, sx, sizeof sx);
    cr_shape_str(w->rank, w->dims, sw, sizeof sw);
    if (x->rank < 3 || x->rank > 5)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "input x has shape %s; supported are 1-D, 2-D and 3-D convolutions (rank 3 to 5)", sx);
    if (w->rank != x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "weights w of shape %s do not have the rank of x %s",
                           sw, sx);
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
                           "x %s has %lld channels; weights w %s with group %lld need group x w's dim 1", sx,
                           (long long)g->in_ch, sw, (long long)group);
    if (g->out_ch % group != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "weights w %s: %lld output channels are not divisible by group %lld", sw,
                           (long long)g->out_ch, (long long)group);
    int nsp = x->rank - 2;
    const int64_t *kernel_attr;
    size_t nk;
    CR_TRY(cr_attr_ints(ctx->node, "kernel_shape", &kernel_attr, &nk));
    if (nk != 0 && (nk != (size_t)nsp || memcmp(kernel_attr, w->dims + 2, nk * sizeof *kernel_attr) != 0))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'kernel_shape' does not match weights w %s",
                           sw);
    int64_t n;
    if (r->x_zp >= 0 && cr_quant_input(ctx, r->x_zp))
        CR_TRY(cr_quant_param_count(ctx, r->x_zp, "x_zero_point", 1, &n));
    if (r->w_zp >= 0 && cr_quant_input(ctx, r->w_zp))
        CR_TRY(cr_quant_param_count(ctx, r->w_zp, "w_zero_point", g->out_ch, &n));
    if (r->x_scale >= 0) {
        static const cnnrun_dtype f32[] = {CNNRUN_FLOAT32, 0};
        CR_TRY(cr_op_check_dtype(ctx, r->x_scale, f32));
        CR_TRY(cr_op_check_dtype(ctx, r->w_scale, f32));
        CR_TRY(cr_op_check_dtype(ctx, r->y_scale, f32));
        CR_TRY(cr_quant_param_count(ctx, r->x_scale, "x_scale", 1, &n));
        CR_TRY(cr_quant_param_count(ctx, r->w_scale, "w_scale", g->out_ch, &n));
        CR_TRY(cr_quant_param_count(ctx, r->y_scale, "y_scale", 1, &n));
        if (cr_quant_input(ctx, r->y_zp)) {
            CR_TRY(cr_quant_check_zero_point(ctx, r->y_zp, "y_zero_point", -1));
            if (ctx->in[r->y_zp]->dtype == CNNRUN_INT32)
                return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "y_zero_point has dtype int32; supported: uint8, int8");
            CR_TRY(cr_quant_param_count(ctx, r->y_zp, "y_zero_point", 1, &n));
        }
        const cr_tensor *b = cr_quant_input(ctx, r->bias);
        if (b) {
            static const cnnrun_dtype i32[] = {CNNRUN_INT32, 0};
            CR_TRY(cr_op_check_dtype(ctx, r->bias, i32));
            if (b->rank != 1 || b->dims[0] != g->out_ch)
                return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "bias B must have shape [%lld]",
                                   (long long)g->out_ch);
        }
    }
    return cr_window_init(ctx, nsp, x->dims + 2, w->dims + 2, true, false, &g->win);
}

static void qconv_out_dims(const qconv_geometry *g, int64_t *dims)
{
    dims[0] = g->batch;
    dims[1] = g->out_ch;
    for (int i = 0; i < g->win.nsp; i++) dims[2 + i] = g->win.out[i];
}

static cnnrun_dtype qconv_out_type(const cr_op_ctx *ctx, const qconv_roles *r)
{
    if (r->y_scale < 0) return CNNRUN_INT32;
    const cr_tensor *zp = cr_quant_input(ctx, r->y_zp);
    return zp ? zp->dtype : CNNRUN_UINT8;
}

static cnnrun_status *qconv_infer_roles(cr_op_ctx *ctx, const qconv_roles *r)
{
    qconv_geometry g;
    CR_TRY(qconv_geometry_of(ctx, r, &g));
    int64_t dims[CR_MAX_RANK];
    qconv_out_dims(&g, dims);
    cr_set_output(ctx, 0, qconv_out_type(ctx, r), g.rank, dims);
    return NULL;
}

static cnnrun_status *qlinear_conv_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 8, 9));
    return qconv_infer_roles(ctx, &qlinear_roles);
}

static cnnrun_status *conv_integer_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 4));
    return qconv_infer_roles(ctx, &integer_roles);
}

static void cr_qconv_destroy(void *state)
{
    qconv_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->conv);
    cr_dnnl_prim_destroy(&s->to_nhwc);
    cr_dnnl_prim_destroy(&s->from_nhwc);
    free(s->mult);
    free(s);
}

/* The weights minus their zero point as int8, or false when some value leaves int8's range. */
static bool shifted_weights(const cr_op_ctx *ctx, const qconv_state *s, int8_t *out)
{
    const cr_tensor *w = ctx->in[s->roles.w], *wzp = cr_quant_input(ctx, s->roles.w_zp);
    int64_t per_oc = cr_tensor_count(w) / s->g.out_ch;
    bool per_channel = wzp && cr_tensor_count(wzp) > 1;
    for (int64_t oc = 0; oc < s->g.out_ch; oc++) {
        int32_t zp = cr_quant_zp(wzp, per_channel ? oc : 0);
        for (int64_t i = oc * per_oc; i < (oc + 1) * per_oc; i++) {
            int32_t v = cr_quant_zp(w, i) - zp;
            if (v < -128 || v > 127) return false;
            out[i] = (int8_t)v;
        }
    }
    return true;
}

/* A reorder between the row-major user layout and the layout the convolution picked, or none
 * (*needed false) when they are the same. */
static cnnrun_status *maybe_reorder(cr_dnnl_prim *p, const cr_exec_env *env, const dnnl_memory_desc_t *from,
                                    const dnnl_memory_desc_t *to, bool *needed)
{
    *needed = !dnnl_memory_desc_equal(from, to);
    return *needed ? cr_dnnl_reorder_create(p, env, from, to) : NULL;
}

static cnnrun_status *qconv_build_dnnl(cr_op_ctx *ctx, qconv_state *s, const float *mult)
{
    const qconv_geometry *g = &s->g;
    const qconv_roles *r = &s->roles;
    const cr_tensor *x = ctx->in[r->x], *w = ctx->in[r->w], *b = cr_quant_input(ctx, r->bias);
    int nsp = g->win.nsp;
    int64_t out_dims[CR_MAX_RANK];
    qconv_out_dims(g, out_dims);
    int64_t wdims[CR_MAX_RANK + 1];
    int wrank = 0;
    if (g->group > 1) wdims[wrank++] = g->group;
    wdims[wrank++] = g->out_ch / g->group;
    wdims[wrank++] = g->in_ch / g->group;
    for (int i = 0; i < nsp; i++) wdims[wrank++] = w->dims[2 + i];

    dnnl_data_type_t src_type = cr_quant_dnnl_type(x->dtype), dst_type = cr_quant_dnnl_type(s->out_type);
    dnnl_memory_desc_t src_md, src_user_md, w_md, w_user_md, b_md, dst_md, dst_user_md;
    CR_TRY(cr_dnnl_md_any_typed(&src_md, g->rank, x->dims, src_type));
    CR_TRY(cr_dnnl_md_any_typed(&dst_md, g->rank, out_dims, dst_type));
    CR_TRY(cr_dnnl_md_any_typed(&w_md, wrank, wdims, dnnl_s8));
    CR_TRY(cr_dnnl_md_plain_typed(&src_user_md, g->rank, x->dims, src_type));
    CR_TRY(cr_dnnl_md_plain_typed(&dst_user_md, g->rank, out_dims, dst_type));
    CR_TRY(cr_dnnl_md_plain_typed(&w_user_md, wrank, wdims, dnnl_s8));
    if (b) CR_TRY(cr_dnnl_md_plain_typed(&b_md, 1, &g->out_ch, dnnl_s32));

    dnnl_dims_t strides, dilates, pad_l, pad_r;
    for (int i = 0; i < nsp; i++) {
        strides[i] = g->win.stride[i];
        dilates[i] = g->win.dilation[i] - 1;
        pad_l[i] = g->win.pad_l[i];
        pad_r[i] = g->win.pad_r[i];
    }
    dnnl_convolution_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_dilated_convolution_forward_desc_init(
                             &desc, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_md,
                             b ? &b_md : NULL, &dst_md, strides, dilates, pad_l, pad_r),
                         "int8 convolution descriptor initialisation"));
    dnnl_primitive_attr_t attr;
    CR_TRY(cr_dnnl_attr_create(&attr));
    static const int32_t runtime_zp = DNNL_RUNTIME_S32_VAL;
    cnnrun_status *st = NULL;
    if (s->has_zp_src)
        st = cr_dnnl_check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &runtime_zp),
                           "source zero point");
    if (!st && s->requant) {
        st = cr_dnnl_check(dnnl_primitive_attr_set_output_scales(attr, g->out_ch, 1 << 1, mult), "output scales");
        if (!st && s->zp_dst != 0)
            st = cr_dnnl_check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &runtime_zp),
                               "destination zero point");
        if (!st && s->relu) {
            dnnl_post_ops_t ops;
            st = cr_dnnl_check(dnnl_post_ops_create(&ops), "post-op creation");
            if (!st) {
                st = cr_dnnl_check(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f),
                                   "post-op creation");
                if (!st) st = cr_dnnl_check(dnnl_primitive_attr_set_post_ops(attr, ops), "post-op creation");
                dnnl_post_ops_destroy(ops);
            }
        }
    }
    if (!st) st = cr_dnnl_prim_create(&s->conv, ctx->env, &desc, attr, "int8 convolution");
    dnnl_primitive_attr_destroy(attr);
    CR_TRY(st);

    /* Weights: shifted to int8, packed once into the primitive's layout. */
    int64_t wcount = cr_tensor_count(w);
    int8_t *shifted = malloc((size_t)wcount);
    if (!shifted) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate %lld bytes of weights", (long long)wcount);
    shifted_weights(ctx, s, shifted);
    st = cr_dnnl_prim_arg(&s->conv, ctx->env, DNNL_ARG_SRC, NULL);
    if (!st) st = cr_dnnl_prim_const_arg(&s->conv, ctx->env, DNNL_ARG_WEIGHTS, &w_user_md, shifted);
    free(shifted);
    CR_TRY(st);
    if (b) CR_TRY(cr_dnnl_prim_arg(&s->conv, ctx->env, DNNL_ARG_BIAS, b->data));
    CR_TRY(cr_dnnl_prim_arg(&s->conv, ctx->env, DNNL_ARG_DST, NULL));
    dnnl_memory_desc_t zp_md;
    int64_t one = 1;
    CR_TRY(cr_dnnl_md_plain_typed(&zp_md, 1, &one, dnnl_s32));
    if (s->has_zp_src)
        CR_TRY(cr_dnnl_prim_arg_md(&s->conv, ctx->env, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, &zp_md, &s->zp_src));
    if (s->requant && s->zp_dst != 0)
        CR_TRY(cr_dnnl_prim_arg_md(&s->conv, ctx->env, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, &zp_md, &s->zp_dst));

    const dnnl_memory_desc_t *src_chosen = cr_dnnl_prim_md(&s->conv, DNNL_ARG_SRC);
    const dnnl_memory_desc_t *dst_chosen = cr_dnnl_prim_md(&s->conv, DNNL_ARG_DST);
    CR_TRY(maybe_reorder(&s->to_nhwc, ctx->env, &src_user_md, src_chosen, &s->reorder_in));
    CR_TRY(maybe_reorder(&s->from_nhwc, ctx->env, dst_chosen, &dst_user_md, &s->reorder_out));
    /* scratch: [shared scratchpad | source copy | destination copy] */
    size_t pad = s->conv.scratch_bytes;
    if (s->to_nhwc.scratch_bytes > pad) pad = s->to_nhwc.scratch_bytes;
    if (s->from_nhwc.scratch_bytes > pad) pad = s->from_nhwc.scratch_bytes;
    s->src_off = ALIGN64(pad);
    s->dst_off = s->src_off + (s->reorder_in ? ALIGN64(dnnl_memory_desc_get_size(src_chosen)) : 0);
    ctx->scratch_bytes = s->dst_off + (s->reorder_out ? ALIGN64(dnnl_memory_desc_get_size(dst_chosen)) : 0);
    return NULL;
}

static cnnrun_status *cr_qconv_prepare_roles(cr_op_ctx *ctx, const qconv_roles *r, bool relu)
{
    qconv_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the convolution state");
    s->roles = *r;
    s->relu = relu;
    cnnrun_status *st = qconv_geometry_of(ctx, r, &s->g);
    if (st) {
        cr_qconv_destroy(s);
        return st;
    }
    s->requant = r->y_scale >= 0;
    s->out_type = qconv_out_type(ctx, r);
    ctx->scratch_bytes = 0;
    int64_t out_dims[CR_MAX_RANK], count;
    qconv_out_dims(&s->g, out_dims);
    s->empty = !cr_shape_count(s->g.rank, out_dims, &count) || count == 0 || s->g.in_ch == 0;
    if (s->requant) {
        s->mult = malloc((size_t)s->g.out_ch * sizeof *s->mult);
        if (!s->mult) {
            cr_qconv_destroy(s);
            return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the requantisation scales");
        }
    }
    ctx->state = s;
    if (s->empty || !roles_const(ctx, r)) return NULL;
    /* Everything the oneDNN path needs is known now. */
    const cr_tensor *xzp = cr_quant_input(ctx, r->x_zp);
    s->has_zp_src = xzp && (!xzp->data || cr_quant_zp(xzp, 0) != 0);
    if (xzp && xzp->data) s->zp_src = cr_quant_zp(xzp, 0);
    if (s->requant) {
        s->zp_dst = cr_quant_zp(cr_quant_input(ctx, r->y_zp), 0);
        const cr_tensor *ws = ctx->in[r->w_scale];
        float xs = *(const float *)ctx->in[r->x_scale]->data, ys = *(const float *)ctx->in[r->y_scale]->data;
        for (int64_t oc = 0; oc < s->g.out_ch; oc++)
            s->mult[oc] = xs * ((const float *)ws->data)[cr_tensor_count(ws) > 1 ? oc : 0] / ys;
    }
    int8_t *probe = malloc((size_t)cr_tensor_count(ctx->in[r->w]));
    bool fits = probe && shifted_weights(ctx, s, probe);
    free(probe);
    const cr_tensor *b = cr_quant_input(ctx, r->bias);
    if (!fits || (b && !b->data)) return NULL;
    st = qconv_build_dnnl(ctx, s, s->mult);
    if (st) { /* a combination oneDNN has no kernel for: the reference kernel computes it */
        cnnrun_status_free(st);
        cr_dnnl_prim_destroy(&s->conv);
        cr_dnnl_prim_destroy(&s->to_nhwc);
        cr_dnnl_prim_destroy(&s->from_nhwc);
        ctx->scratch_bytes = 0;
        return NULL;
    }
    s->use_dnnl = true;
    return NULL;
}

static cnnrun_status *qlinear_conv_prepare(cr_op_ctx *ctx)
{
    return cr_qconv_prepare_roles(ctx, &qlinear_roles, false);
}

static cnnrun_status *conv_integer_prepare(cr_op_ctx *ctx)
{
    return cr_qconv_prepare_roles(ctx, &integer_roles, false);
}

static cnnrun_status *qconv_run_dnnl(cr_op_ctx *ctx, qconv_state *s)
{
    char *scratch = ctx->scratch;
    if (s->has_zp_src) s->zp_src = cr_quant_zp(ctx->in[s->roles.x_zp], 0);
    void *src = ctx->in[s->roles.x]->data, *dst = ctx->out[0]->data;
    if (s->reorder_in) {
        cr_dnnl_prim_set(&s->to_nhwc, DNNL_ARG_FROM, src);
        cr_dnnl_prim_set(&s->to_nhwc, DNNL_ARG_TO, scratch + s->src_off);
        CR_TRY(cr_dnnl_prim_execute(&s->to_nhwc, ctx->env, scratch));
        src = scratch + s->src_off;
    }
    cr_dnnl_prim_set(&s->conv, DNNL_ARG_SRC, src);
    cr_dnnl_prim_set(&s->conv, DNNL_ARG_DST, s->reorder_out ? scratch + s->dst_off : dst);
    CR_TRY(cr_dnnl_prim_execute(&s->conv, ctx->env, scratch));
    if (s->reorder_out) {
        cr_dnnl_prim_set(&s->from_nhwc, DNNL_ARG_FROM, scratch + s->dst_off);
        cr_dnnl_prim_set(&s->from_nhwc, DNNL_ARG_TO, dst);
        CR_TRY(cr_dnnl_prim_execute(&s->from_nhwc, ctx->env, scratch));
    }
    return NULL;
}

/* The plain C kernel: exact int32 sums, then the requantisation of QLinearConv. */
static void qconv_run_reference(cr_op_ctx *ctx, qconv_state *s)
{
    const qconv_geometry *g = &s->g;
    const qconv_roles *r = &s->roles;
    const cr_tensor *x = ctx->in[r->x], *w = ctx->in[r->w];
    const cr_tensor *xzp = cr_quant_input(ctx, r->x_zp), *wzp = cr_quant_input(ctx, r->w_zp);
    const cr_tensor *b = cr_quant_input(ctx, r->bias);
    int32_t zx = cr_quant_zp(xzp, 0), zy = 0, lo = 0, hi = 0;
    bool wzp_per = wzp && cr_tensor_count(wzp) > 1;
    if (s->requant) {
        /* The parameters may be computed values: the multipliers are made here. */
        const cr_tensor *ws = ctx->in[r->w_scale];
        float xs = *(const float *)ctx->in[r->x_scale]->data, ys = *(const float *)ctx->in[r->y_scale]->data;
        for (int64_t oc = 0; oc < g->out_ch; oc++)
            s->mult[oc] = xs * ((const float *)ws->data)[cr_tensor_count(ws) > 1 ? oc : 0] / ys;
        zy = cr_quant_zp(cr_quant_input(ctx, r->y_zp), 0);
        cr_quant_range(s->out_type, &lo, &hi);
    }
    /* Spatial dims padded to 3 so one loop nest serves 1-D to 3-D. */
    int64_t in_sp[3] = {1, 1, 1}, out_sp[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1},
            pl[3] = {0, 0, 0};
    int off = 3 - g->win.nsp;
    for (int i = 0; i < g->win.nsp; i++) {
        in_sp[off + i] = g->win.in[i];
        out_sp[off + i] = g->win.out[i];
        k[off + i] = g->win.kernel[i];
        st[off + i] = g->win.stride[i];
        dl[off + i] = g->win.dilation[i];
        pl[off + i] = g->win.pad_l[i];
    }
    int64_t icg = g->in_ch / g->group, ocg = g->out_ch / g->group;
    int64_t in_plane = in_sp[0] * in_sp[1] * in_sp[2], out_plane = out_sp[0] * out_sp[1] * out_sp[2];
    int64_t wk = k[0] * k[1] * k[2];
    int64_t jobs = g->batch * g->out_ch;
    #pragma omp parallel for num_threads(cr_quant_threads(ctx))
    for (int64_t job = 0; job < jobs; job++) {
        int64_t n = job / g->out_ch, oc = job % g->out_ch, grp = oc / ocg;
        int32_t zw = cr_quant_zp(wzp, wzp_per ? oc : 0);
        int64_t wbase = oc * icg * wk;
        for (int64_t o = 0; o < out_plane; o++) {
            int64_t od = o / (out_sp[1] * out_sp[2]), oh = o / out_sp[2] % out_sp[1], ow = o % out_sp[2];
            int64_t acc = 0;
            for (int64_t ic = 0; ic < icg; ic++) {
                int64_t xbase = (n * g->in_ch + grp * icg + ic) * in_plane;
                for (int64_t kd = 0; kd < k[0]; kd++) {
                    int64_t id = od * st[0] - pl[0] + kd * dl[0];
                    if (id < 0 || id >= in_sp[0]) continue;
                    for (int64_t kh = 0; kh < k[1]; kh++) {
                        int64_t ih = oh * st[1] - pl[1] + kh * dl[1];
                        if (ih < 0 || ih >= in_sp[1]) continue;
                        for (int64_t kw = 0; kw < k[2]; kw++) {
                            int64_t iw = ow * st[2] - pl[2] + kw * dl[2];
                            if (iw < 0 || iw >= in_sp[2]) continue;
                            int32_t xv = cr_quant_zp(x, xbase + (id * in_sp[1] + ih) * in_sp[2] + iw) - zx;
                            int32_t wv = cr_quant_zp(w, wbase + ((ic * k[0] + kd) * k[1] + kh) * k[2] + kw) - zw;
                            acc += (int64_t)xv * wv;
                        }
                    }
                }
            }
            int64_t yi = (n * g->out_ch + oc) * out_plane + o;
            if (!s->requant) {
                ((int32_t *)ctx->out[0]->data)[yi] = (int32_t)acc;
                continue;
            }
            if (b) acc += ((const int32_t *)b->data)[oc];
            float v = (float)acc * s->mult[oc];
            if (s->relu && v < 0.0f) v = 0.0f;
            int32_t q = cr_quantize_value(v, zy, lo, hi);
            if (s->out_type == CNNRUN_INT8) ((int8_t *)ctx->out[0]->data)[yi] = (int8_t)q;
            else ((uint8_t *)ctx->out[0]->data)[yi] = (uint8_t)q;
        }
    }
}

static cnnrun_status *cr_qconv_run(cr_op_ctx *ctx)
{
    qconv_state *s = ctx->state;
    if (s->empty) return NULL;
    if (s->use_dnnl) {
        cnnrun_status *st = qconv_run_dnnl(ctx, s);
        return st ? cr_dnnl_node_error(ctx, st) : NULL;
    }
    qconv_run_reference(ctx, s);
    return NULL;
}

static const char *cr_qconv_describe(const void *state)
{
    const qconv_state *s = state;
    if (s->empty) return NULL;
    return s->use_dnnl ? cr_dnnl_prim_impl(&s->conv) : "int8 reference (plain C)";
}

/* 2 x output elements x (input channels per group x kernel size): integer multiply-adds. */
static double qconv_flops_of(const cr_op_ctx *ctx, const cr_tensor *w)
{
    double per_output = 2.0;
    for (int d = 1; d < w->rank; d++) per_output *= (double)w->dims[d];
    return per_output * (double)cr_tensor_count(ctx->out[0]);
}

static double qlinear_conv_flops(const cr_op_ctx *ctx)
{
    return qconv_flops_of(ctx, ctx->in[qlinear_roles.w]);
}

static double conv_integer_flops(const cr_op_ctx *ctx)
{
    return qconv_flops_of(ctx, ctx->in[integer_roles.w]);
}

static const cr_op qlinear_conv_op = {
    .op_type = "QLinearConv", .domain = "", .opset_min = 10, .opset_max = CR_OPSET_MAX,
    .infer = qlinear_conv_infer, .prepare = qlinear_conv_prepare, .run = cr_qconv_run,
    .destroy = cr_qconv_destroy, .describe = cr_qconv_describe, .flops = qlinear_conv_flops,
};
static const cr_op conv_integer_op = {
    .op_type = "ConvInteger", .domain = "", .opset_min = 10, .opset_max = CR_OPSET_MAX,
    .infer = conv_integer_infer, .prepare = conv_integer_prepare, .run = cr_qconv_run,
    .destroy = cr_qconv_destroy, .describe = cr_qconv_describe, .flops = conv_integer_flops,
};

static cnnrun_status *qdq_conv_prepare(cr_op_ctx *ctx)
{
    return cr_qconv_prepare_roles(ctx, &qlinear_roles, false);
}

static cnnrun_status *qdq_conv_relu_prepare(cr_op_ctx *ctx)
{
    return cr_qconv_prepare_roles(ctx, &qlinear_roles, true);
}

/* Not in the registry: the planner makes these steps for the QDQ pattern. */
const cr_op cr_qdq_conv_op = {
    .op_type = "QLinearConv", .domain = "", .opset_min = 1, .opset_max = CR_OPSET_MAX,
    .infer = qlinear_conv_infer, .prepare = qdq_conv_prepare, .run = cr_qconv_run,
    .destroy = cr_qconv_destroy, .describe = cr_qconv_describe, .flops = qlinear_conv_flops,
};
const cr_op cr_qdq_conv_relu_op = {
    .op_type = "QLinearConv", .domain = "", .opset_min = 1, .opset_max = CR_OPSET_MAX,
    .infer = qlinear_conv_infer, .prepare = qdq_conv_relu_prepare, .run = cr_qconv_run,
    .destroy = cr_qconv_destroy, .describe = cr_qconv_describe, .flops = qlinear_conv_flops,
};

const cr_op *const cr_ops_qconv[] = {&qlinear_conv_op, &conv_integer_op, NULL};
