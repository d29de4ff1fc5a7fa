/* Pooling (ONNX opsets 1-22; 19 gives AveragePool dilations, 22 adds bfloat16): MaxPool,
 * AveragePool, GlobalAveragePool and GlobalMaxPool over 1 to 3 spatial dims, on a oneDNN pooling
 * primitive for float32. Two plain C paths cover what that primitive does not:
 *   - AveragePool with count_include_pad=1 whose ceil_mode windows reach past the explicit
 *     padding, where ONNX divides by the part of the window inside the padded input while oneDNN
 *     would divide by the whole kernel;
 *   - MaxPool's Indices output, and MaxPool and GlobalMaxPool on float64, float16 and (MaxPool
 *     from opset 12) int8 and uint8 (pool_plain.c). */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "op_util.h"
#include "pool_plain.h"

typedef enum pool_kind { POOL_MAX, POOL_AVG, POOL_GLOBAL_MAX, POOL_GLOBAL_AVG } pool_kind;

typedef struct pool_geometry {
    int rank;
    int64_t batch, channels;
    bool count_include_pad;
    bool column_major;       /* MaxPool's storage_order = 1: the layout Indices count in */
    cr_window win;
} pool_geometry;

typedef struct pool_state {
    bool empty;
    bool plain_avg;          /* the plain C paths (see the file comment) */
    bool plain_max;
    pool_geometry geo;       /* for plain_avg */
    cr_max_pool_plain max;   /* for plain_max */
    cr_dnnl_prim prim;
} pool_state;

static pool_kind kind_of(const cr_op_ctx *ctx)
{
    const char *t = ctx->node->op_type;
    if (strcmp(t, "MaxPool") == 0) return POOL_MAX;
    if (strcmp(t, "AveragePool") == 0) return POOL_AVG;
    if (strcmp(t, "GlobalMaxPool") == 0) return POOL_GLOBAL_MAX;
    return POOL_GLOBAL_AVG;
}

static bool wants_indices(const cr_op_ctx *ctx)
{
    return kind_of(ctx) == POOL_MAX && ctx->n_out > 1 && ctx->out[1];
}

/* MaxPool and GlobalMaxPool take float16, float32 and float64, MaxPool from opset 12 int8 and
 * uint8 too; the average pools float32 only (oneDNN's pooling). */
static cnnrun_status *check_dtype(const cr_op_ctx *ctx)
{
    pool_kind kind = kind_of(ctx);
    if (kind != POOL_MAX && kind != POOL_GLOBAL_MAX) return cr_require_f32(ctx);
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, 0};
    static const cnnrun_dtype floats_ints[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16,
                                               CNNRUN_INT8, CNNRUN_UINT8, 0};
    cnnrun_dtype dt = ctx->in[0]->dtype;
    if (kind == POOL_MAX && ctx->opset < 12 && (dt == CNNRUN_INT8 || dt == CNNRUN_UINT8))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "input 0 has dtype %s; MaxPool takes int8 and uint8 only from opset 12",
                           cnnrun_dtype_name(dt));
    return cr_op_check_dtype(ctx, 0, kind == POOL_MAX ? floats_ints : floats);
}

/* The first window (spatial dim and output position) whose taps all fall in the padding, which
 * pads below the kernel size still allow with dilations (kernel 2, dilation 4, pads 1 over 3
 * inputs: taps -1 and 3). Returns false if every window holds an input element. */
static bool find_empty_window(const cr_window *w, int *dim, int64_t *pos)
{
    for (int i = 0; i < w->nsp; i++)
        for (int64_t o = 0; o < w->out[i]; o++) {
            int64_t start = o * w->stride[i] - w->pad_l[i], d = w->dilation[i];
            int64_t first = start < 0 ? (-start + d - 1) / d : 0; /* first tap at or after 0 */
            if (first >= w->kernel[i] || start + first * d >= w->in[i]) {
                *dim = i;
                *pos = o;
                return true;
            }
        }
    return false;
}

static cnnrun_status *pool_geometry_of(const cr_op_ctx *ctx, pool_geometry *g)
{
    pool_kind kind = kind_of(ctx);
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(check_dtype(ctx));
    if (wants_indices(ctx) && ctx->opset < 8)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "the second output (Indices) only exists from opset 8");
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 3 || x->rank > 5) {
        char sx[128];
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "input X has shape %s; supported are 1 to 3 spatial dims (rank 3 to 5)",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    int nsp = x->rank - 2;
    g->rank = x->rank;
    g->batch = x->dims[0];
    g->channels = x->dims[1];
    g->count_include_pad = false;
    g->column_major = false;
    if (kind == POOL_GLOBAL_MAX || kind == POOL_GLOBAL_AVG) {
        /* no attributes: a window over the whole spatial extent */
        for (int i = 0; i < nsp; i++)
            if (x->dims[2 + i] < 1)
                return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                                   "input X has an empty spatial dim %d", i);
        return cr_window_init(ctx, nsp, x->dims + 2, x->dims + 2, false, false, &g->win);
    }

    const int64_t *kernel;
    size_t nk;
    CR_TRY(cr_attr_ints(ctx->node, "kernel_shape", &kernel, &nk));
    if (nk != (size_t)nsp)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'kernel_shape' has %zu values; the input has %d spatial dims",
                           nk, nsp);
    if (kind == POOL_AVG) {
        int64_t cip = 0;
        if (ctx->opset >= 7) CR_TRY(cr_attr_int(ctx->node, "count_include_pad", 0, &cip));
        else if (cr_node_attr(ctx->node, "count_include_pad"))
            return cr_op_unsupported_attr(ctx, "count_include_pad", "it only exists from opset 7");
        if (cip != 0 && cip != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute 'count_include_pad' must be 0 or 1, found %lld", (long long)cip);
        g->count_include_pad = cip == 1;
    } else {
        int64_t storage_order = 0;
        CR_TRY(cr_attr_int(ctx->node, "storage_order", 0, &storage_order));
        if (storage_order != 0 && storage_order != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute 'storage_order' must be 0 or 1, found %lld",
                               (long long)storage_order);
        g->column_major = storage_order == 1; /* only Indices depend on it */
    }
    /* dilations: MaxPool from opset 10, AveragePool from 19; ceil_mode from opset 10 */
    bool dilations = (kind == POOL_MAX && ctx->opset >= 10) || (kind == POOL_AVG && ctx->opset >= 19);
    CR_TRY(cr_window_init(ctx, nsp, x->dims + 2, kernel, dilations, ctx->opset >= 10, &g->win));
    /* A window wholly inside the padding has no value; ONNX Runtime refuses these pads too. */
    for (int i = 0; i < nsp; i++)
        if (g->win.pad_l[i] >= kernel[i] || g->win.pad_r[i] >= kernel[i])
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "pads %lld and %lld of spatial dim %d must be smaller than the "
                               "kernel size %lld",
                               (long long)g->win.pad_l[i], (long long)g->win.pad_r[i], i,
                               (long long)kernel[i]);
    int empty_dim;
    int64_t empty_pos;
    /* A max, or an average over the taps inside the input, of no element at all. */
    bool needs_element = kind == POOL_MAX || (kind == POOL_AVG && !g->count_include_pad);
    if (needs_element && find_empty_window(&g->win, &empty_dim, &empty_pos))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "window %lld of spatial dim %d lies wholly in the padding (kernel %lld, "
                           "dilation %lld, pads %lld and %lld, input size %lld): it has no element",
                           (long long)empty_pos, empty_dim, (long long)kernel[empty_dim],
                           (long long)g->win.dilation[empty_dim], (long long)g->win.pad_l[empty_dim],
                           (long long)g->win.pad_r[empty_dim], (long long)g->win.in[empty_dim]);
    return NULL;
}

static void pool_out_dims(const pool_geometry *g, int64_t *dims)
{
    dims[0] = g->batch;
    dims[1] = g->channels;
    for (int i = 0; i < g->win.nsp; i++) dims[2 + i] = g->win.out[i];
}

static cnnrun_status *pool_infer(cr_op_ctx *ctx)
{
    pool_geometry g;
    CR_TRY(pool_geometry_of(ctx, &g));
    int64_t dims[CR_MAX_RANK];
    pool_out_dims(&g, dims);
    cr_set_output(ctx, 0, ctx->in[0]->dtype, g.rank, dims);
    if (wants_indices(ctx)) cr_set_output(ctx, 1, CNNRUN_INT64, g.rank, dims);
    return NULL;
}

static cnnrun_status *pool_build(cr_op_ctx *ctx, const pool_geometry *g, pool_state *s)
{
    pool_kind kind = kind_of(ctx);
    int64_t out_dims[CR_MAX_RANK];
    pool_out_dims(g, out_dims);
    /* The input is read in whatever layout it arrives in (the convolutions' NHWC); the output
     * takes the layout oneDNN picks for it, the same one. */
    dnnl_memory_desc_t src_md, dst_md;
    CR_TRY(cr_dnnl_input_md(ctx, 0, &src_md));
    if (ctx->layouts_allowed) CR_TRY(cr_dnnl_md_any_typed(&dst_md, g->rank, out_dims, src_md.data_type));
    else CR_TRY(cr_dnnl_md_plain(&dst_md, g->rank, out_dims));
    dnnl_dims_t strides, kernel, dilation, pad_l, pad_r;
    for (int i = 0; i < g->win.nsp; i++) {
        strides[i] = g->win.stride[i];
        kernel[i] = g->win.kernel[i];
        dilation[i] = g->win.dilation[i] - 1;
        pad_l[i] = g->win.pad_l[i];
        pad_r[i] = g->win.pad_r_dnnl[i];
    }
    dnnl_alg_kind_t alg = kind == POOL_MAX || kind == POOL_GLOBAL_MAX ? dnnl_pooling_max
                          : g->count_include_pad ? dnnl_pooling_avg_include_padding
                                                 : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_v2_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg, &src_md,
                                                           &dst_md, strides, kernel, dilation,
                                                           pad_l, pad_r),
                         "pooling descriptor initialisation"));
    CR_TRY(cr_dnnl_prim_create(&s->prim, ctx->env, &desc, NULL, "pooling"));
    cr_dnnl_set_output_layout(ctx, 0, cr_dnnl_prim_md(&s->prim, DNNL_ARG_DST));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    ctx->scratch_bytes = s->prim.scratch_bytes;
    return NULL;
}

static void pool_destroy(void *state)
{
    pool_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static cnnrun_status *pool_prepare(cr_op_ctx *ctx)
{
    pool_geometry g;
    CR_TRY(pool_geometry_of(ctx, &g));
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the pooling state");
    s->geo = g;
    int64_t out_dims[CR_MAX_RANK], count;
    pool_out_dims(&g, out_dims);
    ctx->scratch_bytes = 0;
    if (!cr_shape_count(g.rank, out_dims, &count)) {
        pool_destroy(s);
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output shape overflows");
    }
    pool_kind kind = kind_of(ctx);
    bool plain_avg = kind == POOL_AVG && g.count_include_pad && g.win.ceil_extended;
    bool plain_max = (kind == POOL_MAX || kind == POOL_GLOBAL_MAX) &&
                     (wants_indices(ctx) || ctx->in[0]->dtype != CNNRUN_FLOAT32);
    if (plain_avg || plain_max) cr_op_want_layout(ctx, 0, NULL); /* the plain C kernels read row-major data */
    if (count == 0) s->empty = true;
    else if (plain_avg)
        s->plain_avg = true;
    else if (plain_max) {
        s->plain_max = true;
        cnnrun_status *st = cr_max_pool_plain_init(ctx, &g.win, g.batch, g.channels, ctx->in[0]->dtype,
                                                   g.column_major, &s->max);
        if (st) {
            pool_destroy(s);
            return st;
        }
    } else {
        cnnrun_status *st = pool_build(ctx, &g, s);
        if (st) {
            pool_destroy(s);
            return cr_dnnl_node_error(ctx, st);
        }
    }
    ctx->state = s;
    return NULL;
}

/* Average pooling whose divisor is the window clipped to the explicitly padded input. */
static void plain_avg_pool(const pool_geometry *g, const float *x, float *y)
{
    /* viewed as 3 spatial dims, the missing leading ones of size 1 */
    int64_t in[3], out[3], k[3], s[3], pl[3], pr[3];
    int lead = 3 - g->win.nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        bool real = j >= 0;
        in[i] = real ? g->win.in[j] : 1;
        out[i] = real ? g->win.out[j] : 1;
        k[i] = real ? g->win.kernel[j] : 1;
        s[i] = real ? g->win.stride[j] : 1;
        pl[i] = real ? g->win.pad_l[j] : 0;
        pr[i] = real ? g->win.pad_r[j] : 0;
    }
    int64_t planes = g->batch * g->channels;
    int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
#pragma omp parallel for
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in_plane;
        float *yp = y + p * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++) {
                    int64_t o[3] = {o0, o1, o2}, lo[3], hi[3], divisor = 1;
                    for (int d = 0; d < 3; d++) {
                        int64_t start = o[d] * s[d] - pl[d];
                        int64_t end = start + k[d];
                        if (end > in[d] + pr[d]) end = in[d] + pr[d];
                        divisor *= end - start;
                        lo[d] = start < 0 ? 0 : start;
                        hi[d] = end > in[d] ? in[d] : end;
                    }
                    float sum = 0.0f;
                    for (int64_t i0 = lo[0]; i0 < hi[0]; i0++)
                        for (int64_t i1 = lo[1]; i1 < hi[1]; i1++)
                            for (int64_t i2 = lo[2]; i2 < hi[2]; i2++)
                                sum += xp[(i0 * in[1] + i1) * in[2] + i2];
                    yp[(o0 * out[1] + o1) * out[2] + o2] = sum / (float)divisor;
                }
    }
}

static cnnrun_status *pool_run(cr_op_ctx *ctx)
{
    pool_state *s = ctx->state;
    if (s->empty) return NULL;
    if (s->plain_avg) {
        plain_avg_pool(&s->geo, ctx->in[0]->data, ctx->out[0]->data);
        return NULL;
    }
    if (s->plain_max) {
        int64_t *indices = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : NULL;
        cr_max_pool_plain_run(&s->max, ctx->in[0]->data, ctx->out[0]->data, indices);
        return NULL;
    }
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[0]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, ctx->out[0]->data);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    return st ? cr_dnnl_node_error(ctx, st) : NULL;
}

static const char *pool_describe(const void *state)
{
    const pool_state *s = state;
    return s->empty || s->plain_avg || s->plain_max ? NULL : cr_dnnl_prim_impl(&s->prim);
}

#define POOL_OP(var, name)                                                                         \
    static const cr_op var = {                                                                     \
        .op_type = name,                                                                           \
        .domain = "",                                                                              \
        .opset_min = 1,                                                                            \
        .opset_max = 22,                                                                           \
        .infer = pool_infer,                                                                       \
        .flags = CR_OP_LAYOUT_AWARE,                                                               \
        .prepare = pool_prepare,                                                                   \
        .run = pool_run,                                                                           \
        .destroy = pool_destroy,                                                                   \
        .describe = pool_describe,                                                                 \
    }

POOL_OP(max_pool_op, "MaxPool");
POOL_OP(average_pool_op, "AveragePool");
POOL_OP(global_average_pool_op, "GlobalAveragePool");
POOL_OP(global_max_pool_op, "GlobalMaxPool");

const cr_op *const cr_ops_pool[] = {&max_pool_op, &average_pool_op, &global_average_pool_op,
                                    &global_max_pool_op, NULL};
