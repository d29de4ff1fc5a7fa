/* Convolutions and pooling: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D,
 * Max/AveragePooling1D/2D/3D and the global poolings, lowered to channels-first ONNX nodes with
 * the kernels converted once at load (weight_layout.c). */
#include <stdio.h>
#include <string.h>

#include "keras_lower.h"
#include "keras_lower_internal.h"

/* Spatial rank from the class name's "1D"/"2D"/"3D". */
static int spatial_rank_of(const char *class_name)
{
    for (const char *p = class_name; p[0] && p[1]; p++)
        if (p[0] >= '1' && p[0] <= '3' && p[1] == 'D') return p[0] - '0';
    return 0;
}

typedef struct geom {
    int n;
    int64_t k[3], s[3], d[3], pb[3], pe[3];
    bool auto_same; /* 'same' over a free spatial dim: ONNX SAME_UPPER, decided at plan time */
} geom;

/* Kernel/pool size, strides, dilation and padding of the layer on input x; out_dims gets the
 * Keras output spatial dims (-1 when free). */
static cnnrun_status *read_geometry(const cr_klayer *L, const cr_kt *x, int n, bool pooling, geom *g,
                                    int64_t *out_dims)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    if (x->rank != n + 2)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects an input of rank %d, found rank %d", n + 2, x->rank);
    CR_TRY(cr_kcfg_ints(L, pooling ? "pool_size" : "kernel_size", n, 1, g->k));
    CR_TRY(cr_kcfg_ints(L, "strides", n, pooling ? -1 : 1, g->s));
    for (int i = 0; i < n; i++) if (g->s[i] < 0) g->s[i] = g->k[i]; /* pooling: strides None */
    if (!pooling) CR_TRY(cr_kcfg_ints(L, "dilation_rate", n, 1, g->d));
    else for (int i = 0; i < n; i++) g->d[i] = 1;
    for (int i = 0; i < n; i++)
        if (g->k[i] <= 0 || g->s[i] <= 0 || g->d[i] <= 0 || g->k[i] > (1 << 20) || g->d[i] > (1 << 20))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "kernel size, strides and dilation must be positive");
    const char *padding;
    CR_TRY(cr_kcfg_string(L, "padding", "valid", &padding));
    bool same = strcmp(padding, "same") == 0, causal = strcmp(padding, "causal") == 0;
    if (!same && !causal && strcmp(padding, "valid") != 0)
        return cr_kcfg_refuse(L, "padding", "expected valid, same or causal");
    if (causal && (n != 1 || pooling)) return cr_kcfg_refuse(L, "padding", "causal padding is for Conv1D only");
    for (int i = 0; i < n; i++) {
        int64_t in = x->shape[1 + i], span = (g->k[i] - 1) * g->d[i] + 1;
        if (causal) g->pb[i] = span - 1;
        else if (same && in >= 0) CR_TRY(cnnrun_same_padding(in, g->k[i], g->s[i], g->d[i], &g->pb[i], &g->pe[i]));
        else if (same) g->auto_same = true;
        if (in < 0) out_dims[i] = -1;
        else if (same) out_dims[i] = (in + g->s[i] - 1) / g->s[i];
        else {
            int64_t padded = in + g->pb[i] + g->pe[i];
            if (padded < span)
                return cr_error(CNNRUN_ERR_INVALID_MODEL,
                                "spatial dim %d of size %lld is smaller than the %s window %lld", i + 1,
                                (long long)in, pooling ? "pooling" : "kernel", (long long)span);
            out_dims[i] = (padded - span) / g->s[i] + 1;
        }
    }
    return NULL;
}

static cnnrun_status *geometry_attrs(cr_klower *lw, int node, const geom *g, bool dilations)
{
    int64_t pads[6];
    for (int i = 0; i < g->n; i++) {
        pads[i] = g->pb[i];
        pads[g->n + i] = g->pe[i];
    }
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "kernel_shape", g->k, g->n));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "strides", g->s, g->n));
    if (dilations) CR_TRY(cr_gb_attr_ints(lw->gb, node, "dilations", g->d, g->n));
    if (g->auto_same) return cr_gb_attr_string(lw->gb, node, "auto_pad", "SAME_UPPER");
    return cr_gb_attr_ints(lw->gb, node, "pads", pads, 2 * g->n);
}

/* A Theano-trained kernel (legacy .h5 whose backend is "theano") reversed on its spatial axes, as
 * Keras 2 did when loading one (preprocess_weights_for_loading: Conv1D/2D/3D and Conv2DTranspose
 * kernels, through conv_utils.convert_kernel): Theano convolved, TF/ONNX correlate. w is in ONNX
 * layout (spatial axes last); replaced by the flipped copy. */
static cnnrun_status *flip_if_theano(cr_klower *lw, const cr_klayer *L, int n, cr_tensor **w)
{
    if (!lw->flip_kernels) return NULL;
    cr_tensor *f;
    CR_TRY(cr_kconst_new(L->name, (*w)->rank, (*w)->dims, &f));
    cnnrun_status *st = cnnrun_kernel_flip((*w)->data, n, (*w)->dims, f->data);
    if (st) {
        cr_tensor_free(f);
        return st;
    }
    cr_tensor_free(*w);
    *w = f;
    return NULL;
}

/* Conv(x_cf, W, B) with W already in ONNX layout (consumed), B optional (consumed). */
static cnnrun_status *emit_conv(cr_klower *lw, const cr_klayer *L, int x, cr_tensor *w, cr_tensor *b,
                                const geom *g, int64_t group, int *y)
{
    int in[3] = {x, -1, -1};
    cnnrun_status *st = cr_gb_constant(lw->gb, L->name, w, true, &in[1]);
    if (st) {
        cr_tensor_free(b);
        return st;
    }
    if (b) CR_TRY(cr_gb_constant(lw->gb, L->name, b, true, &in[2]));
    int node;
    CR_TRY(cr_kop(lw, L, "Conv", in, b ? 3 : 2, &node, y));
    CR_TRY(geometry_attrs(lw, node, g, true));
    return cr_gb_attr_int(lw->gb, node, "group", group);
}

/* The layer's bias (weight i, `filters` values) as a new tensor, or NULL without use_bias. */
static cnnrun_status *bias_copy(const cr_klayer *L, int i, int64_t filters, bool use_bias, cr_tensor **out)
{
    *out = NULL;
    if (!use_bias) return NULL;
    cr_tensor *b;
    CR_TRY(cr_kweight(L, i, 1, &filters, &b));
    return cr_ktensor_copy(L, b, out);
}

static void set_output(cr_kt *out, const cr_kt *x, int n, const int64_t *spatial, int64_t channels, int y_cf)
{
    memset(out, 0, sizeof *out);
    out->v = -1;
    out->v_cf = y_cf;
    out->rank = n + 2;
    out->dtype = CNNRUN_FLOAT32;
    out->shape[0] = x->shape[0];
    for (int i = 0; i < n; i++) out->shape[1 + i] = spatial[i];
    out->shape[n + 1] = channels;
}

static cnnrun_status *input_channels(const cr_kt *x, int64_t *c)
{
    *c = x->shape[x->rank - 1];
    if (*c <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the input's channel dim is not fixed");
    return NULL;
}

cnnrun_status *cr_klower_conv(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out, int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    geom g;
    int64_t spatial[3], filters, groups, c;
    bool use_bias;
    CR_TRY(cr_kcfg_channels_last(L));
    CR_TRY(read_geometry(L, in[0], n, false, &g, spatial));
    CR_TRY(cr_kcfg_int(L, "filters", 0, &filters));
    CR_TRY(cr_kcfg_int(L, "groups", 1, &groups));
    CR_TRY(cr_kcfg_bool(L, "use_bias", true, &use_bias));
    CR_TRY(input_channels(in[0], &c));
    if (filters <= 0 || groups <= 0 || c % groups || filters % groups)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "filters %lld and groups %lld do not fit %lld input channels",
                        (long long)filters, (long long)groups, (long long)c);
    CR_TRY(cr_kweights_count(L, use_bias ? 2 : 1));
    int64_t kdims[5];
    for (int i = 0; i < n; i++) kdims[i] = g.k[i];
    kdims[n] = c / groups;
    kdims[n + 1] = filters;
    cr_tensor *k, *w, *b;
    CR_TRY(cr_kweight(L, 0, n + 2, kdims, &k));
    int64_t wdims[5] = {filters, c / groups};
    for (int i = 0; i < n; i++) wdims[2 + i] = g.k[i];
    CR_TRY(cr_kconst_new(L->name, n + 2, wdims, &w));
    cnnrun_status *st = cnnrun_kernel_hwio_to_oihw(k->data, n, kdims, w->data);
    if (!st) st = flip_if_theano(lw, L, n, &w);
    if (!st) st = bias_copy(L, 1, filters, use_bias, &b);
    if (st) {
        cr_tensor_free(w);
        return st;
    }
    int x, y;
    CR_TRY(cr_kt_cf(lw, L->name, in[0], &x));
    CR_TRY(emit_conv(lw, L, x, w, b, &g, groups, &y));
    set_output(out, in[0], n, spatial, filters, y);
    *n_out = 1;
    return cr_klower_layer_activation(lw, L, out);
}

/* The depthwise part of DepthwiseConv and SeparableConv: a convolution with group = C. */
static cnnrun_status *depthwise(cr_klower *lw, const cr_klayer *L, cr_kt *x, const geom *g, int64_t mult,
                                int64_t c, cr_tensor *bias, int *y)
{
    int n = g->n;
    int64_t kdims[5], wdims[5] = {c * mult, 1};
    for (int i = 0; i < n; i++) kdims[i] = wdims[2 + i] = g->k[i];
    kdims[n] = c;
    kdims[n + 1] = mult;
    cr_tensor *k, *w;
    cnnrun_status *st = cr_kweight(L, 0, n + 2, kdims, &k);
    if (!st) st = cr_kconst_new(L->name, n + 2, wdims, &w);
    if (st) {
        cr_tensor_free(bias);
        return st;
    }
    st = cnnrun_kernel_depthwise_to_oihw(k->data, n, kdims, w->data);
    if (st) {
        cr_tensor_free(w);
        cr_tensor_free(bias);
        return st;
    }
    int xv;
    CR_TRY(cr_kt_cf(lw, L->name, x, &xv));
    return emit_conv(lw, L, xv, w, bias, g, c, y);
}

cnnrun_status *cr_klower_depthwise(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                   int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    geom g;
    int64_t spatial[3], mult, c;
    bool use_bias;
    CR_TRY(cr_kcfg_channels_last(L));
    CR_TRY(read_geometry(L, in[0], n, false, &g, spatial));
    CR_TRY(cr_kcfg_int(L, "depth_multiplier", 1, &mult));
    CR_TRY(cr_kcfg_bool(L, "use_bias", true, &use_bias));
    CR_TRY(input_channels(in[0], &c));
    if (mult <= 0) return cr_kcfg_refuse(L, "depth_multiplier", "must be positive");
    CR_TRY(cr_kweights_count(L, use_bias ? 2 : 1));
    cr_tensor *b;
    CR_TRY(bias_copy(L, 1, c * mult, use_bias, &b));
    int y;
    CR_TRY(depthwise(lw, L, in[0], &g, mult, c, b, &y));
    set_output(out, in[0], n, spatial, c * mult, y);
    *n_out = 1;
    return cr_klower_layer_activation(lw, L, out);
}

cnnrun_status *cr_klower_separable(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                   int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    geom g;
    int64_t spatial[3], mult, c, filters;
    bool use_bias;
    CR_TRY(cr_kcfg_channels_last(L));
    CR_TRY(read_geometry(L, in[0], n, false, &g, spatial));
    CR_TRY(cr_kcfg_int(L, "depth_multiplier", 1, &mult));
    CR_TRY(cr_kcfg_int(L, "filters", 0, &filters));
    CR_TRY(cr_kcfg_bool(L, "use_bias", true, &use_bias));
    CR_TRY(input_channels(in[0], &c));
    if (mult <= 0 || filters <= 0) return cr_error(CNNRUN_ERR_INVALID_MODEL, "filters and depth_multiplier must be positive");
    CR_TRY(cr_kweights_count(L, use_bias ? 3 : 2));
    int y_dw, y;
    CR_TRY(depthwise(lw, L, in[0], &g, mult, c, NULL, &y_dw));
    /* pointwise: a 1x1 convolution with the bias */
    int64_t pdims[5], wdims[5] = {filters, c * mult};
    for (int i = 0; i < n; i++) pdims[i] = wdims[2 + i] = 1;
    pdims[n] = c * mult;
    pdims[n + 1] = filters;
    cr_tensor *p, *w, *b;
    CR_TRY(cr_kweight(L, 1, n + 2, pdims, &p));
    CR_TRY(cr_kconst_new(L->name, n + 2, wdims, &w));
    cnnrun_status *st = cnnrun_kernel_hwio_to_oihw(p->data, n, pdims, w->data);
    if (!st) st = bias_copy(L, 2, filters, use_bias, &b);
    if (st) {
        cr_tensor_free(w);
        return st;
    }
    geom pg = {.n = n};
    for (int i = 0; i < n; i++) pg.k[i] = pg.s[i] = pg.d[i] = 1;
    CR_TRY(emit_conv(lw, L, y_dw, w, b, &pg, 1, &y));
    set_output(out, in[0], n, spatial, filters, y);
    *n_out = 1;
    return cr_klower_layer_activation(lw, L, out);
}

cnnrun_status *cr_klower_pool(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out, int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    geom g;
    int64_t spatial[3];
    CR_TRY(cr_kcfg_channels_last(L));
    CR_TRY(read_geometry(L, in[0], n, true, &g, spatial));
    int x, y, node;
    CR_TRY(cr_kt_cf(lw, L->name, in[0], &x));
    /* TF's 'same' average pooling divides by the cells inside the input: ONNX's default
     * count_include_pad = 0 */
    CR_TRY(cr_kop(lw, L, strncmp(L->class_name, "Max", 3) == 0 ? "MaxPool" : "AveragePool", &x, 1, &node, &y));
    CR_TRY(geometry_attrs(lw, node, &g, false));
    set_output(out, in[0], n, spatial, in[0]->shape[n + 1], y);
    *n_out = 1;
    return NULL;
}

cnnrun_status *cr_klower_global_pool(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                     int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    bool keepdims, is_max = strncmp(L->class_name, "GlobalMax", 9) == 0;
    CR_TRY(cr_kcfg_channels_last(L));
    CR_TRY(cr_kcfg_bool(L, "keepdims", false, &keepdims));
    cr_kt *x = in[0];
    if (x->rank != n + 2)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects an input of rank %d, found rank %d", n + 2, x->rank);
    memset(out, 0, sizeof *out);
    out->dtype = CNNRUN_FLOAT32;
    out->shape[0] = x->shape[0];
    int y, node;
    if (x->v_cf >= 0) {
        /* channels-first: GlobalPool gives (N, C, 1..); a flattening Reshape when not keepdims */
        CR_TRY(cr_kop(lw, L, is_max ? "GlobalMaxPool" : "GlobalAveragePool", &x->v_cf, 1, &node, &y));
        if (keepdims) {
            out->v = -1;
            out->v_cf = y;
            out->rank = n + 2;
            for (int i = 0; i < n; i++) out->shape[1 + i] = 1;
            out->shape[n + 1] = x->shape[n + 1];
        } else {
            static const int64_t flat[2] = {0, -1};
            int in2[2] = {y, -1};
            CR_TRY(cr_gb_const_ints(lw->gb, L->name, flat, 2, &in2[1]));
            CR_TRY(cr_kop(lw, L, "Reshape", in2, 2, &node, &out->v));
            out->v_cf = -1;
            out->rank = 2;
            out->shape[1] = x->shape[n + 1];
        }
    } else {
        /* Keras layout: reduce the spatial axes 1..n */
        int64_t axes[3];
        for (int i = 0; i < n; i++) axes[i] = 1 + i;
        CR_TRY(cr_kop(lw, L, is_max ? "ReduceMax" : "ReduceMean", &x->v, 1, &node, &y));
        CR_TRY(cr_gb_attr_ints(lw->gb, node, "axes", axes, n));
        CR_TRY(cr_gb_attr_int(lw->gb, node, "keepdims", keepdims));
        out->v = y;
        out->v_cf = -1;
        out->rank = keepdims ? n + 2 : 2;
        for (int i = 0; keepdims && i < n; i++) out->shape[1 + i] = 1;
        out->shape[out->rank - 1] = x->shape[n + 1];
    }
    *n_out = 1;
    return NULL;
}

/* Conv1DTranspose/Conv2DTranspose/Conv3DTranspose. Keras's output length (deconv_output_length):
 * without output_padding, 'valid' gives in*s + max(k_eff - s, 0) and 'same' in*s; TF's 'same'
 * crops what the forward 'same' convolution pads, the odd cell at the end. ONNX ConvTranspose
 * gives s*(in - 1) + k_eff + output_padding - pads, so k_eff < s needs output_padding s - k_eff. */
cnnrun_status *cr_klower_conv_transpose(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                        int *n_out)
{
    (void)n_in;
    int n = spatial_rank_of(L->class_name);
    cr_kt *x = in[0];
    int64_t k[3], s[3], d[3], op[3], pads[6], outp[3], spatial[3], filters, c;
    bool use_bias;
    const char *padding;
    CR_TRY(cr_kcfg_channels_last(L));
    if (x->rank != n + 2)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects an input of rank %d, found rank %d", n + 2, x->rank);
    CR_TRY(cr_kcfg_ints(L, "kernel_size", n, 1, k));
    CR_TRY(cr_kcfg_ints(L, "strides", n, 1, s));
    CR_TRY(cr_kcfg_ints(L, "dilation_rate", n, 1, d));
    CR_TRY(cr_kcfg_ints(L, "output_padding", n, -1, op));
    CR_TRY(cr_kcfg_string(L, "padding", "valid", &padding));
    CR_TRY(cr_kcfg_int(L, "filters", 0, &filters));
    CR_TRY(cr_kcfg_bool(L, "use_bias", true, &use_bias));
    CR_TRY(input_channels(x, &c));
    bool same = strcmp(padding, "same") == 0;
    if (!same && strcmp(padding, "valid") != 0) return cr_kcfg_refuse(L, "padding", "expected valid or same");
    if (filters <= 0) return cr_kcfg_refuse(L, "filters", "must be positive");
    for (int i = 0; i < n; i++) {
        if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0 || k[i] > (1 << 20) || s[i] > (1 << 20) || d[i] > (1 << 20))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "kernel size, strides and dilation must be positive");
        if (same && op[i] >= 0)
            return cr_kcfg_refuse(L, "output_padding", "output_padding with padding 'same' is not implemented");
        if (op[i] >= s[i] && op[i] >= d[i])
            return cr_kcfg_refuse(L, "output_padding", "must be smaller than the stride or the dilation");
        int64_t ke = (k[i] - 1) * d[i] + 1, total = same && ke > s[i] ? ke - s[i] : 0;
        pads[i] = total / 2;
        pads[n + i] = total - total / 2;
        outp[i] = op[i] >= 0 ? op[i] : ke < s[i] ? s[i] - ke : 0;
        int64_t len = x->shape[1 + i];
        spatial[i] = len < 0 ? -1 : s[i] * (len - 1) + ke + outp[i] - total;
    }
    CR_TRY(cr_kweights_count(L, use_bias ? 2 : 1));
    int64_t kdims[5], wdims[5] = {c, filters};
    for (int i = 0; i < n; i++) kdims[i] = wdims[2 + i] = k[i];
    kdims[n] = filters;
    kdims[n + 1] = c;
    cr_tensor *kw, *w, *b;
    CR_TRY(cr_kweight(L, 0, n + 2, kdims, &kw));
    CR_TRY(cr_kconst_new(L->name, n + 2, wdims, &w));
    cnnrun_status *st = cnnrun_kernel_transposed_to_onnx(kw->data, n, kdims, w->data);
    if (!st && n == 2) st = flip_if_theano(lw, L, n, &w);
    if (!st) st = bias_copy(L, 1, filters, use_bias, &b);
    if (st) {
        cr_tensor_free(w);
        return st;
    }
    int inputs[3] = {-1, -1, -1}, node, y;
    st = cr_gb_constant(lw->gb, L->name, w, true, &inputs[1]);
    if (st) {
        cr_tensor_free(b);
        return st;
    }
    if (b) CR_TRY(cr_gb_constant(lw->gb, L->name, b, true, &inputs[2]));
    CR_TRY(cr_kt_cf(lw, L->name, x, &inputs[0]));
    CR_TRY(cr_kop(lw, L, "ConvTranspose", inputs, b ? 3 : 2, &node, &y));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "kernel_shape", k, n));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "strides", s, n));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "dilations", d, n));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "pads", pads, 2 * n));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "output_padding", outp, n));
    set_output(out, x, n, spatial, filters, y);
    *n_out = 1;
    return cr_klower_layer_activation(lw, L, out);
}
