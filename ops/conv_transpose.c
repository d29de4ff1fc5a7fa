/* ConvTranspose (ONNX opsets 1-22; 22 only adds bfloat16): 1-D, 2-D and 3-D transposed
 * convolution with groups, dilations, strides, explicit, automatic or output_shape-derived
 * padding and output_padding, on a oneDNN deconvolution primitive.
 *
 * Geometry. Each input pixel i scatters its kernel onto "full" positions i*stride + k*dilation,
 * so the full extent is stride*(in-1) + (kernel-1)*dilation + 1. ONNX output index o is full
 * index o + pad_begin; the output ends pad_end - output_padding before the full extent's end (a
 * negative amount extends it with positions no input reaches, which hold only the bias). Pads
 * derived from output_shape or SAME_* may be negative on either side.
 *
 * oneDNN takes the geometry directly when pad_begin >= 0 and the end trim exceeds -stride (its
 * consistency rule for deconvolution). Otherwise the primitive computes only the part of the
 * output inside the full extent, into scratch, and run places it in an output filled with the
 * bias. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "op_util.h"

#define CT_MAX_SP 3
#define CT_ALIGN 64

typedef struct ct_geometry {
    int rank, nsp;
    int64_t batch, in_ch, out_ch, group;
    int64_t in[CT_MAX_SP], kernel[CT_MAX_SP], stride[CT_MAX_SP], dilation[CT_MAX_SP];
    int64_t full[CT_MAX_SP];  /* extent of the input's contributions */
    int64_t pad_l[CT_MAX_SP]; /* output index o is full index o + pad_l (may be negative) */
    int64_t trim_r[CT_MAX_SP]; /* full positions cut at the end: pad_end - output_padding */
    int64_t out[CT_MAX_SP];
} ct_geometry;

typedef enum ct_mode {
    CT_EMPTY,     /* the output has no elements */
    CT_BIAS_ONLY, /* no input position reaches the output: it holds the bias (or zeros) */
    CT_DIRECT,    /* the primitive writes the output */
    CT_WINDOW,    /* the primitive writes a window of the output into scratch, run places it */
} ct_mode;

typedef struct ct_state {
    ct_mode mode;
    cr_dnnl_prim prim;
    bool weights_const, has_bias, bias_const;
    int64_t planes;                  /* batch * out_ch */
    int64_t out_sp[CT_MAX_SP];       /* output spatial dims, padded to 3 with leading 1s */
    int64_t win_sp[CT_MAX_SP];       /* window spatial dims, likewise */
    int64_t win_at[CT_MAX_SP];       /* where the window starts in the output */
    size_t window_offset;            /* of the window buffer in scratch */
} ct_state;

/* Reads an int-list attribute of `count` values (absent: dflt each) within [min, 2^31]. */
static cnnrun_status *ct_read_ints(const cr_op_ctx *ctx, const char *name, size_t count,
                                   int64_t dflt, int64_t min, int64_t *out)
{
    const int64_t *v;
    size_t n;
    CR_TRY(cr_attr_ints(ctx->node, name, &v, &n));
    if (n == 0) {
        for (size_t i = 0; i < count; i++) out[i] = dflt;
        return NULL;
    }
    if (n != count)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute '%s' has %zu values, expected %zu", name, n, count);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < min || v[i] > ((int64_t)1 << 31))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute '%s' value %lld at position %zu is out of range [%lld, 2^31]",
                               name, (long long)v[i], i, (long long)min);
        out[i] = v[i];
    }
    return NULL;
}

/* Python's floor division, as the ONNX spec's padding formulas use it for negative totals. */
static int64_t floor_div2(int64_t a)
{
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static cnnrun_status *ct_check_shapes(const cr_op_ctx *ctx, ct_geometry *g)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    CR_TRY(cr_require_f32(ctx));
    const cr_tensor *x = ctx->in[0], *w = ctx->in[1], *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    char sx[128], sw[128];
    cr_shape_str(x->rank, x->dims, sx, sizeof sx);
    cr_shape_str(w->rank, w->dims, sw, sizeof sw);
    if (x->rank < 3 || x->rank > 5)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "input X has shape %s; supported are 1-D, 2-D and 3-D transposed "
                           "convolutions (rank 3 to 5)", sx);
    if (w->rank != x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "weights W of shape %s do not have the rank of input X %s", sw, sx);
    int64_t group;
    CR_TRY(cr_attr_int(ctx->node, "group", 1, &group));
    if (group < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'group' = %lld must be positive",
                           (long long)group);
    g->rank = x->rank;
    g->nsp = x->rank - 2;
    g->batch = x->dims[0];
    g->in_ch = x->dims[1];
    g->group = group;
    if (w->dims[0] != g->in_ch)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "input X %s has %lld channels but weights W %s (layout [C_in, C_out/group, "
                           "k...]) expect %lld", sx, (long long)g->in_ch, sw, (long long)w->dims[0]);
    if (g->in_ch % group != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "input X %s: %lld channels are not divisible by group %lld", sx,
                           (long long)g->in_ch, (long long)group);
    if (w->dims[1] > INT64_MAX / group)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "weights W %s with group %lld: too many "
                           "output channels", sw, (long long)group);
    g->out_ch = w->dims[1] * group;
    const int64_t *kernel_attr;
    size_t nk;
    CR_TRY(cr_attr_ints(ctx->node, "kernel_shape", &kernel_attr, &nk));
    if (nk != 0 &&
        (nk != (size_t)g->nsp || memcmp(kernel_attr, w->dims + 2, nk * sizeof *kernel_attr) != 0)) {
        char sk[128];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'kernel_shape' = %s does not match weights W %s",
                           cr_shape_str((int)nk, kernel_attr, sk, sizeof sk), sw);
    }
    if (b && (b->rank != 1 || b->dims[0] != g->out_ch)) {
        char sb[128];
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "bias B has shape %s; expected [%lld] (one per output channel)",
                           cr_shape_str(b->rank, b->dims, sb, sizeof sb), (long long)g->out_ch);
    }
    for (int i = 0; i < g->nsp; i++) {
        g->in[i] = x->dims[2 + i];
        g->kernel[i] = w->dims[2 + i];
        if (g->in[i] < 1 || g->kernel[i] < 1 || g->kernel[i] > ((int64_t)1 << 31))
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "input X %s and weights W %s: every spatial dim must be at least 1 "
                               "(and kernels at most 2^31)", sx, sw);
    }
    return NULL;
}

static cnnrun_status *ct_geometry_of(const cr_op_ctx *ctx, ct_geometry *g)
{
    memset(g, 0, sizeof *g);
    CR_TRY(ct_check_shapes(ctx, g));
    size_t nsp = (size_t)g->nsp;
    int64_t pads[2 * CT_MAX_SP], out_pad[CT_MAX_SP];
    CR_TRY(ct_read_ints(ctx, "strides", nsp, 1, 1, g->stride));
    CR_TRY(ct_read_ints(ctx, "dilations", nsp, 1, 1, g->dilation));
    CR_TRY(ct_read_ints(ctx, "pads", 2 * nsp, 0, 0, pads));
    CR_TRY(ct_read_ints(ctx, "output_padding", nsp, 0, 0, out_pad));

    const char *auto_pad;
    CR_TRY(cr_attr_string(ctx->node, "auto_pad", "NOTSET", &auto_pad));
    bool same_upper = strcmp(auto_pad, "SAME_UPPER") == 0;
    bool same_lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    bool valid = strcmp(auto_pad, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(auto_pad, "NOTSET") != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'auto_pad' = '%s'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                           auto_pad);

    /* output_shape names the spatial dims; some exporters give N and C too, which are implied. */
    const int64_t *out_shape;
    size_t n_out_shape;
    CR_TRY(cr_attr_ints(ctx->node, "output_shape", &out_shape, &n_out_shape));
    if (n_out_shape == nsp + 2) {
        out_shape += 2;
        n_out_shape = nsp;
    }
    if (n_out_shape != 0 && n_out_shape != nsp)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'output_shape' has %zu values, expected %zu (the spatial dims)",
                           n_out_shape, nsp);

    for (int i = 0; i < g->nsp; i++) {
        const int64_t limit = (int64_t)1 << 62;
        int64_t ek = (g->kernel[i] - 1) * g->dilation[i] + 1; /* both at most 2^31 */
        if (g->in[i] - 1 > (limit - ek) / g->stride[i])
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "the output size in spatial dim %d overflows", i);
        g->full[i] = g->stride[i] * (g->in[i] - 1) + ek;
        int64_t natural = g->full[i] + out_pad[i]; /* the output with no padding */
        int64_t pl, pr, out;
        if (n_out_shape != 0 || same_upper || same_lower) {
            if (n_out_shape != 0) {
                out = out_shape[i];
                if (out < 0 || out > limit)
                    return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                       "attribute 'output_shape' value %lld is out of range",
                                       (long long)out);
            } else {
                if (g->in[i] > limit / g->stride[i])
                    return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                                       "the output size in spatial dim %d overflows", i);
                out = g->in[i] * g->stride[i];
            }
            /* The spec's split: SAME_UPPER puts the odd pixel at the end, NOTSET and SAME_LOWER
             * at the beginning; a negative total extends the output (floor division). */
            int64_t total = natural - out;
            if (same_upper) {
                pl = floor_div2(total);
                pr = total - pl;
            } else {
                pr = floor_div2(total);
                pl = total - pr;
            }
        } else {
            pl = valid ? 0 : pads[i];
            pr = valid ? 0 : pads[nsp + i];
            out = natural - pl - pr;
            if (out < 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                   "pads %lld+%lld exceed the unpadded output size %lld in spatial dim %d",
                                   (long long)pl, (long long)pr, (long long)natural, i);
        }
        g->pad_l[i] = pl;
        g->trim_r[i] = pr - out_pad[i];
        g->out[i] = out;
    }
    return NULL;
}

static void ct_out_dims(const ct_geometry *g, int64_t *dims)
{
    dims[0] = g->batch;
    dims[1] = g->out_ch;
    for (int i = 0; i < g->nsp; i++) dims[2 + i] = g->out[i];
}

static cnnrun_status *ct_infer(cr_op_ctx *ctx)
{
    ct_geometry g;
    CR_TRY(ct_geometry_of(ctx, &g));
    int64_t dims[CR_MAX_RANK];
    ct_out_dims(&g, dims);
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, g.rank, dims);
    return NULL;
}

static size_t align_up(size_t n)
{
    return (n + CT_ALIGN - 1) / CT_ALIGN * CT_ALIGN;
}

/* Builds the primitive writing output spatial dims dst_sp with oneDNN paddings pad_l / pad_r;
 * errors are bare and the caller names the node. */
static cnnrun_status *ct_build(cr_op_ctx *ctx, const ct_geometry *g, const int64_t *dst_sp,
                               const int64_t *pad_l, const int64_t *pad_r, ct_state *s)
{
    const cr_tensor *x = ctx->in[0], *w = ctx->in[1];
    const cr_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    int nsp = g->nsp;
    int64_t dst_dims[CR_MAX_RANK];
    dst_dims[0] = g->batch;
    dst_dims[1] = g->out_ch;
    for (int i = 0; i < nsp; i++) dst_dims[2 + i] = dst_sp[i];

    /* oneDNN's weights are (g,) oc/g, ic/g, k...; ONNX stores [C_in, C_out/g, k...], i.e.
     * (g, ic/g, oc/g, k...) row-major: the same data seen through swapped strides. */
    int64_t ocg = g->out_ch / g->group, icg = g->in_ch / g->group, ksize = 1;
    for (int i = 0; i < nsp; i++) ksize *= g->kernel[i];
    int64_t wdims[CR_MAX_RANK + 1], wstrides[CR_MAX_RANK + 1];
    int wrank = 0;
    if (g->group > 1) {
        wdims[wrank] = g->group;
        wstrides[wrank++] = icg * ocg * ksize;
    }
    wdims[wrank] = ocg;
    wstrides[wrank++] = ksize;
    wdims[wrank] = icg;
    wstrides[wrank++] = ocg * ksize;
    int64_t kstride = ksize;
    for (int i = 0; i < nsp; i++) {
        kstride /= g->kernel[i];
        wdims[wrank] = g->kernel[i];
        wstrides[wrank++] = kstride;
    }

    dnnl_memory_desc_t src_md, w_md, w_user_md, b_md, dst_md;
    CR_TRY(cr_dnnl_md_plain(&src_md, x->rank, x->dims));
    CR_TRY(cr_dnnl_md_plain(&dst_md, g->rank, dst_dims));
    CR_TRY(cr_dnnl_md_strided(&w_user_md, wrank, wdims, wstrides));
    if (s->weights_const) CR_TRY(cr_dnnl_md_any(&w_md, wrank, wdims));
    else w_md = w_user_md;
    if (s->has_bias) CR_TRY(cr_dnnl_md_plain(&b_md, 1, &g->out_ch));

    dnnl_dims_t strides, dilates, dpad_l, dpad_r;
    for (int i = 0; i < nsp; i++) {
        strides[i] = g->stride[i];
        dilates[i] = g->dilation[i] - 1;
        dpad_l[i] = pad_l[i];
        dpad_r[i] = pad_r[i];
    }
    dnnl_deconvolution_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_dilated_deconvolution_forward_desc_init(
                             &desc, dnnl_forward_inference, dnnl_deconvolution_direct, &src_md,
                             &w_md, s->has_bias ? &b_md : NULL, &dst_md, strides, dilates, dpad_l,
                             dpad_r),
                         "deconvolution descriptor initialisation"));
    CR_TRY(cr_dnnl_prim_create(&s->prim, ctx->env, &desc, NULL, "deconvolution"));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    if (s->weights_const)
        CR_TRY(cr_dnnl_prim_shared_const_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, &w_user_md, w->data));
    else CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, NULL));
    /* A constant bias is used where it lies: its data outlive the state. */
    if (s->has_bias)
        CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_BIAS, s->bias_const ? b->data : NULL));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    return NULL;
}

/* Picks the mode and builds what it needs. */
static cnnrun_status *ct_plan(cr_op_ctx *ctx, const ct_geometry *g, ct_state *s)
{
    int nsp = g->nsp;
    int64_t out_dims[CR_MAX_RANK], count;
    ct_out_dims(g, out_dims);
    if (!cr_shape_count(g->rank, out_dims, &count))
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "the output shape overflows");
    if (count == 0) {
        s->mode = CT_EMPTY;
        return NULL;
    }
    s->planes = g->batch * g->out_ch; /* at most count */
    for (int i = 0; i < CT_MAX_SP; i++) s->out_sp[i] = s->win_sp[i] = 1;
    for (int i = 0; i < nsp; i++) s->out_sp[CT_MAX_SP - nsp + i] = g->out[i];

    bool direct = true, reached = g->in_ch > 0;
    int64_t win_l[CT_MAX_SP], win_r[CT_MAX_SP], win_n[CT_MAX_SP];
    for (int i = 0; i < nsp; i++) {
        if (g->pad_l[i] < 0 || g->trim_r[i] <= -g->stride[i]) direct = false;
        /* the output's intersection with the full extent, in full coordinates */
        int64_t begin = g->pad_l[i] > 0 ? g->pad_l[i] : 0;
        int64_t end = g->pad_l[i] + g->out[i];
        if (end > g->full[i]) end = g->full[i];
        if (end <= begin) reached = false;
        win_l[i] = begin;
        win_r[i] = g->full[i] - end;
        win_n[i] = end - begin;
    }
    if (!reached) {
        s->mode = CT_BIAS_ONLY;
        return NULL;
    }
    if (direct) {
        s->mode = CT_DIRECT;
        CR_TRY(ct_build(ctx, g, g->out, g->pad_l, g->trim_r, s));
        ctx->scratch_bytes = s->prim.scratch_bytes;
        return NULL;
    }
    s->mode = CT_WINDOW;
    int64_t win_dims[CR_MAX_RANK];
    size_t win_bytes;
    win_dims[0] = g->batch;
    win_dims[1] = g->out_ch;
    for (int i = 0; i < nsp; i++) {
        win_dims[2 + i] = win_n[i];
        s->win_sp[CT_MAX_SP - nsp + i] = win_n[i];
        s->win_at[CT_MAX_SP - nsp + i] = win_l[i] - g->pad_l[i];
    }
    if (!cr_shape_bytes(CNNRUN_FLOAT32, g->rank, win_dims, &win_bytes))
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "the output window is too large");
    CR_TRY(ct_build(ctx, g, win_n, win_l, win_r, s));
    s->window_offset = align_up(s->prim.scratch_bytes);
    ctx->scratch_bytes = s->window_offset + win_bytes;
    return NULL;
}

static void ct_destroy(void *state)
{
    ct_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static cnnrun_status *ct_prepare(cr_op_ctx *ctx)
{
    ct_geometry g;
    CR_TRY(ct_geometry_of(ctx, &g));
    ct_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the ConvTranspose state");
    const cr_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    s->weights_const = ctx->in[1]->data != NULL;
    s->has_bias = b != NULL;
    s->bias_const = b && b->data;
    ctx->scratch_bytes = 0;
    cnnrun_status *st = ct_plan(ctx, &g, s);
    if (st) {
        ct_destroy(s);
        return cr_dnnl_node_error(ctx, st);
    }
    ctx->state = s;
    return NULL;
}

/* Every output plane set to its channel's bias (zeros without one). */
static void ct_fill_bias(const cr_op_ctx *ctx, const ct_state *s, float *y, const float *bias,
                         int64_t out_ch)
{
    int64_t plane = s->out_sp[0] * s->out_sp[1] * s->out_sp[2];
#pragma omp parallel for if (s->planes * plane > 65536) num_threads(ctx->env->threads)
    for (int64_t p = 0; p < s->planes; p++) {
        float v = bias ? bias[p % out_ch] : 0.0f;
        float *dst = y + p * plane;
        for (int64_t j = 0; j < plane; j++) dst[j] = v;
    }
}

/* Copies the window computed into scratch to its place in the output. */
static void ct_place_window(const cr_op_ctx *ctx, const ct_state *s, float *y, const float *win)
{
    const int64_t *o = s->out_sp, *w = s->win_sp, *at = s->win_at;
    int64_t out_plane = o[0] * o[1] * o[2], win_plane = w[0] * w[1] * w[2];
    int64_t rows = s->planes * w[0] * w[1];
#pragma omp parallel for if (s->planes * win_plane > 65536) num_threads(ctx->env->threads)
    for (int64_t r = 0; r < rows; r++) {
        int64_t p = r / (w[0] * w[1]), d = r / w[1] % w[0], h = r % w[1];
        const float *src = win + p * win_plane + (d * w[1] + h) * w[2];
        float *dst = y + p * out_plane + ((d + at[0]) * o[1] + h + at[1]) * o[2] + at[2];
        memcpy(dst, src, (size_t)w[2] * sizeof *dst);
    }
}

static cnnrun_status *ct_run(cr_op_ctx *ctx)
{
    ct_state *s = ctx->state;
    float *y = ctx->out[0]->data;
    const float *bias = s->has_bias ? ctx->in[2]->data : NULL;
    int64_t out_ch = ctx->out[0]->dims[1];
    switch (s->mode) {
    case CT_EMPTY:
        return NULL;
    case CT_BIAS_ONLY:
        ct_fill_bias(ctx, s, y, bias, out_ch);
        return NULL;
    case CT_DIRECT:
    case CT_WINDOW:
        break;
    }
    float *dst = s->mode == CT_DIRECT ? y : (float *)((char *)ctx->scratch + s->window_offset);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[0]->data);
    if (!s->weights_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_WEIGHTS, ctx->in[1]->data);
    if (s->has_bias && !s->bias_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_BIAS, ctx->in[2]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, dst);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    if (st) return cr_dnnl_node_error(ctx, st);
    if (s->mode == CT_WINDOW) {
        ct_fill_bias(ctx, s, y, bias, out_ch);
        ct_place_window(ctx, s, y, dst);
    }
    return NULL;
}

static const char *ct_describe(const void *state)
{
    const ct_state *s = state;
    return s->mode == CT_BIAS_ONLY ? NULL : cr_dnnl_prim_impl(&s->prim);
}

/* Every input element meets every kernel tap of its group's output channels:
 * 2 x input elements x (output channels per group x kernel size); W is [C_in, C_out/group, k...]. */
static double ct_flops(const cr_op_ctx *ctx)
{
    const cr_tensor *w = ctx->in[1];
    double per_input = 2.0;
    for (int d = 1; d < w->rank; d++) per_input *= (double)w->dims[d];
    return per_input * (double)cr_tensor_count(ctx->in[0]);
}

static const cr_op conv_transpose_op = {
    .op_type = "ConvTranspose",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = ct_infer,
    .prepare = ct_prepare,
    .run = ct_run,
    .destroy = ct_destroy,
    .describe = ct_describe,
    .flops = ct_flops,
};

const cr_op *const cr_ops_conv_transpose[] = {&conv_transpose_op, NULL};
