/* Normalisations computed from the data itself, on float32: InstanceNormalization,
 * LayerNormalization, GroupNormalization, LRN and MeanVarianceNormalization. (BatchNormalization, whose statistics are parameters, lives in
 * batchnorm.c.)
 *
 * InstanceNormalization: for each (n, c), mean and variance over the spatial dims, then
 *   y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c].
 * LayerNormalization (opset 17): the same over the trailing dims [axis, rank) of each row, then
 *   y = normalised * Scale + B with Scale and B broadcast to X; optional outputs Mean and
 *   InvStdDev have X's shape with the normalised dims set to 1.
 * LRN: y = x / (bias + alpha / size * square_sum) ^ beta, square_sum over the channels
 *   c - floor((size-1)/2) .. c + ceil((size-1)/2) clipped to the tensor.
 * GroupNormalization: the channels split into num_groups groups; mean and variance over each
 *   (n, group)'s channels and spatial dims, then y = scale * (x - mean) / sqrt(var + epsilon) + bias
 *   with scale and bias per group (opset 18) or per channel (opset 21).
 * MeanVarianceNormalization: y = (x - mean) / (sqrt(var) + 1e-9), mean and variance over `axes`
 *   (default [0, 2, 3]), the epsilon added after the root as ONNX's definition does.
 *
 * The variance is computed in a second pass over (x - mean) rather than as E[x²] - E[x]², which
 * loses every digit when the mean is large next to the spread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define NORM_PARALLEL_MIN 32768

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static void op_state_free(void *state)
{
    free(state);
}

/* Mean and 1 / sqrt(variance + epsilon) of n contiguous values. The sums are kept in double:
 * rows run to tens of thousands of elements (InstanceNormalization over 224x224), where float
 * sums drift enough to show in outputs near zero. */
static void row_moments(const float *x, int64_t n, float epsilon, float *mean_out, float *inv_std_out)
{
    double sum = 0.0;
    #pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) sum += x[i];
    double mean = sum / (double)n;
    float mean_f = (float)mean;
    double sq = 0.0;
    #pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - mean_f;
        sq += d * d;
    }
    *mean_out = mean_f;
    *inv_std_out = (float)(1.0 / sqrt(sq / (double)n + epsilon));
}

static cnnrun_status *check_float_input(const cr_op_ctx *ctx, int i, const char *role)
{
    if (i >= ctx->n_in || !ctx->in[i]) return NULL;
    if (ctx->in[i]->dtype != CNNRUN_FLOAT32)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input %s has dtype %s; supported: float32", role,
                           cnnrun_dtype_name(ctx->in[i]->dtype));
    return NULL;
}

/* ---- InstanceNormalization ------------------------------------------------------------------ */

typedef struct instnorm_state {
    int64_t channels, rows, spatial;
    float epsilon;
    int threads;
} instnorm_state;

static cnnrun_status *instnorm_infer(cr_op_ctx *ctx)
{
    static const char *const roles[] = {"input", "scale", "B"};
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    for (int i = 0; i < 3; i++) CR_TRY(check_float_input(ctx, i, roles[i]));
    const cr_tensor *x = ctx->in[0];
    char sx[160], sp[160];
    if (x->rank < 3)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input must have rank >= 3 ([N, C, D1, ...]); found %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    for (int i = 1; i < 3; i++) {
        const cr_tensor *p = ctx->in[i];
        if (p->rank != 1 || p->dims[0] != x->dims[1])
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %s has shape %s; expected [%lld] (the channels)",
                               roles[i], cr_shape_str(p->rank, p->dims, sp, sizeof sp), (long long)x->dims[1]);
    }
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    return NULL;
}

static cnnrun_status *instnorm_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int64_t rows;
    if (!cr_shape_count(2, x->dims, &rows))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the input's dims multiply beyond int64");
    instnorm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = cr_attr_float(ctx->node, "epsilon", 1e-5f, &s->epsilon);
    if (st) {
        free(s);
        return st;
    }
    s->channels = x->dims[1];
    s->rows = rows;
    s->spatial = cr_tensor_count(x) / (s->rows > 0 ? s->rows : 1);
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

static cnnrun_status *instnorm_run(cr_op_ctx *ctx)
{
    const instnorm_state *s = ctx->state;
    const float *x = ctx->in[0]->data, *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    float *y = ctx->out[0]->data;
    int64_t rows = s->rows, n = s->spatial;
    if (n == 0) return NULL;
    #pragma omp parallel for num_threads(s->threads) if (rows > 1 && rows * n >= NORM_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        int64_t c = r % s->channels;
        float mean, inv_std;
        row_moments(xr, n, s->epsilon, &mean, &inv_std);
        /* (x - mean) * a + B rather than x * a + (B - mean * a): when the mean is large next to
         * the spread, the folded form cancels two large terms and loses the small result. */
        float a = scale[c] * inv_std, b = bias[c];
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mean) * a + b;
    }
    return NULL;
}

/* ---- LayerNormalization --------------------------------------------------------------------- */

/* How Scale or B lines up with X: `span` is the number of elements one covers along X's flattened
 * trailing dims (n, the normalised size, when it varies only along the normalised dims; X's whole
 * size otherwise). `direct` when its data already have that layout (no broadcasting inside the
 * span), else run expands it into scratch. */
typedef struct ln_param {
    bool present, direct;
    int start;             /* first dim of X the span covers: the axis, or 0 */
    int64_t span;
    size_t scratch_offset; /* floats into the scratch, when expanded */
    int rank;
    int64_t dims[CR_MAX_RANK];
} ln_param;

typedef struct layernorm_state {
    int rank;
    int64_t dims[CR_MAX_RANK];
    int64_t outer, n;
    float epsilon;
    ln_param scale, bias;
    int threads;
} layernorm_state;

static cnnrun_status *layernorm_axis(const cr_op_ctx *ctx, int *axis)
{
    int64_t a;
    CR_TRY(cr_attr_int(ctx->node, "axis", -1, &a));
    const cr_tensor *x = ctx->in[0];
    if (x->rank == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input X is a scalar; it needs rank >= 1");
    return cr_normalize_axis(ctx, "attribute axis", a, x->rank, axis);
}

/* Checks that p broadcasts to X's shape without changing it (unidirectional broadcasting). */
static cnnrun_status *layernorm_check_param(const cr_op_ctx *ctx, int i, const char *role)
{
    if (i >= ctx->n_in || !ctx->in[i]) return NULL;
    CR_TRY(check_float_input(ctx, i, role));
    const cr_tensor *x = ctx->in[0], *p = ctx->in[i];
    bool ok = p->rank <= x->rank;
    for (int d = 0; ok && d < p->rank; d++) {
        int64_t pd = p->dims[p->rank - 1 - d], xd = x->dims[x->rank - 1 - d];
        ok = pd == xd || pd == 1;
    }
    if (!ok) {
        char sx[160], sp[160];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %s of shape %s does not broadcast to X's shape %s",
                           role, cr_shape_str(p->rank, p->dims, sp, sizeof sp),
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    return NULL;
}

static cnnrun_status *layernorm_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    CR_TRY(check_float_input(ctx, 0, "X"));
    CR_TRY(layernorm_check_param(ctx, 1, "Scale"));
    CR_TRY(layernorm_check_param(ctx, 2, "B"));
    if (ctx->n_out > 3)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected at most 3 outputs (Y, Mean, InvStdDev), found %d",
                           ctx->n_out);
    int axis;
    CR_TRY(layernorm_axis(ctx, &axis));
    int64_t stash;
    CR_TRY(cr_attr_int(ctx->node, "stash_type", 1, &stash));
    if (stash != 1) return cr_op_unsupported_attr(ctx, "stash_type", "only 1 (float32) is implemented");
    const cr_tensor *x = ctx->in[0];
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, x->rank, x->dims);
    int64_t stat_dims[CR_MAX_RANK];
    for (int d = 0; d < x->rank; d++) stat_dims[d] = d < axis ? x->dims[d] : 1;
    cr_set_output(ctx, 1, CNNRUN_FLOAT32, x->rank, stat_dims);
    cr_set_output(ctx, 2, CNNRUN_FLOAT32, x->rank, stat_dims);
    return NULL;
}

static void layernorm_plan_param(const cr_op_ctx *ctx, int i, int axis, int64_t n, ln_param *p,
                                 size_t *scratch_floats)
{
    const cr_tensor *x = ctx->in[0];
    memset(p, 0, sizeof *p);
    if (i >= ctx->n_in || !ctx->in[i]) return;
    const cr_tensor *t = ctx->in[i];
    p->present = true;
    p->rank = t->rank;
    memcpy(p->dims, t->dims, sizeof p->dims);
    int start = axis;
    for (int d = 0; d < t->rank; d++) /* a non-1 dim before axis: the parameter varies per row */
        if (t->dims[d] != 1 && x->rank - t->rank + d < axis) start = 0;
    p->start = start;
    p->span = start == 0 ? cr_tensor_count(x) : n;
    p->direct = true;
    for (int d = start; d < x->rank; d++) {
        int td = d - (x->rank - t->rank);
        int64_t dim = td >= 0 ? t->dims[td] : 1;
        if (dim != x->dims[d]) p->direct = false;
    }
    if (!p->direct) {
        p->scratch_offset = *scratch_floats;
        *scratch_floats += (size_t)p->span;
    }
}

static cnnrun_status *layernorm_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int axis;
    CR_TRY(layernorm_axis(ctx, &axis));
    layernorm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = cr_attr_float(ctx->node, "epsilon", 1e-5f, &s->epsilon);
    if (st) {
        free(s);
        return st;
    }
    s->rank = x->rank;
    memcpy(s->dims, x->dims, sizeof s->dims);
    s->outer = 1;
    s->n = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis) s->outer *= x->dims[d];
        else s->n *= x->dims[d];
    }
    size_t scratch_floats = 0;
    layernorm_plan_param(ctx, 1, axis, s->n, &s->scale, &scratch_floats);
    layernorm_plan_param(ctx, 2, axis, s->n, &s->bias, &scratch_floats);
    ctx->scratch_bytes = scratch_floats * sizeof(float);
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

/* Writes the parameter broadcast over X's trailing dims covering `span` elements into dst. */
static void layernorm_expand(const layernorm_state *s, const ln_param *p, const float *src, float *dst)
{
    int start = p->start;
    int64_t src_stride[CR_MAX_RANK] = {0}, idx[CR_MAX_RANK] = {0};
    int64_t st = 1;
    for (int d = s->rank - 1; d >= start; d--) {
        int td = d - (s->rank - p->rank);
        int64_t dim = td >= 0 ? p->dims[td] : 1;
        src_stride[d] = dim == 1 ? 0 : st;
        st *= dim;
    }
    int64_t off = 0;
    for (int64_t i = 0; i < p->span; i++) {
        dst[i] = src[off];
        for (int d = s->rank - 1; d >= start; d--) {
            off += src_stride[d];
            if (++idx[d] < s->dims[d]) break;
            off -= s->dims[d] * src_stride[d];
            idx[d] = 0;
        }
    }
}

static cnnrun_status *layernorm_run(cr_op_ctx *ctx)
{
    const layernorm_state *s = ctx->state;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    float *mean_out = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : NULL;
    float *inv_out = ctx->n_out > 2 && ctx->out[2] ? ctx->out[2]->data : NULL;
    const float *scale = ctx->in[1]->data;
    const float *bias = s->bias.present ? ctx->in[2]->data : NULL;
    if (!s->scale.direct) {
        float *e = (float *)ctx->scratch + s->scale.scratch_offset;
        layernorm_expand(s, &s->scale, scale, e);
        scale = e;
    }
    if (bias && !s->bias.direct) {
        float *e = (float *)ctx->scratch + s->bias.scratch_offset;
        layernorm_expand(s, &s->bias, bias, e);
        bias = e;
    }
    int64_t outer = s->outer, n = s->n;
    bool scale_per_row = s->scale.span != n, bias_per_row = bias && s->bias.span != n;
    #pragma omp parallel for num_threads(s->threads) if (outer > 1 && outer * n >= NORM_PARALLEL_MIN)
    for (int64_t o = 0; o < outer; o++) {
        const float *xr = x + o * n;
        float *yr = y + o * n;
        const float *sc = scale + (scale_per_row ? o * n : 0);
        float mean, inv_std;
        row_moments(xr, n, s->epsilon, &mean, &inv_std);
        if (bias) {
            const float *bi = bias + (bias_per_row ? o * n : 0);
            #pragma omp simd
            for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - mean) * inv_std * sc[j] + bi[j];
        } else {
            #pragma omp simd
            for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - mean) * inv_std * sc[j];
        }
        if (mean_out) mean_out[o] = mean;
        if (inv_out) inv_out[o] = inv_std;
    }
    return NULL;
}

/* ---- LRN ------------------------------------------------------------------------------------ */

typedef struct lrn_state {
    int64_t batch, channels, spatial;
    int64_t before, after; /* channels summed below and above c */
    float alpha_over_size, beta, bias;
    int threads;
} lrn_state;

static cnnrun_status *lrn_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(check_float_input(ctx, 0, "X"));
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 3) {
        char sx[160];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input must have rank >= 3 ([N, C, D1, ...]); found %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    return NULL;
}

static cnnrun_status *lrn_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    if (!cr_node_attr(ctx->node, "size"))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the required attribute 'size' is missing");
    int64_t size;
    float alpha, beta, bias;
    CR_TRY(cr_attr_int(ctx->node, "size", 1, &size));
    CR_TRY(cr_attr_float(ctx->node, "alpha", 1e-4f, &alpha));
    CR_TRY(cr_attr_float(ctx->node, "beta", 0.75f, &beta));
    CR_TRY(cr_attr_float(ctx->node, "bias", 1.0f, &bias));
    if (size < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute size is %lld; expected >= 1", (long long)size);
    int64_t rows;
    if (!cr_shape_count(2, x->dims, &rows))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the input's dims multiply beyond int64");
    lrn_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->spatial = rows > 0 ? cr_tensor_count(x) / rows : 0;
    s->before = (size - 1) / 2;
    s->after = size / 2; /* ceil((size - 1) / 2) */
    s->alpha_over_size = alpha / (float)size;
    s->beta = beta;
    s->bias = bias;
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

static cnnrun_status *lrn_run(cr_op_ctx *ctx)
{
    const lrn_state *s = ctx->state;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    int64_t C = s->channels, n = s->spatial, rows = s->batch * C;
    #pragma omp parallel for num_threads(s->threads) if (rows > 1 && rows * n >= NORM_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r % C, first = r - c;
        int64_t lo = c - s->before < 0 ? 0 : c - s->before;
        int64_t hi = c + s->after > C - 1 ? C - 1 : c + s->after;
        float *yr = y + r * n;
        /* The output row holds the square sum until the last step turns it into y. */
        memset(yr, 0, (size_t)n * sizeof *yr);
        for (int64_t k = lo; k <= hi; k++) {
            const float *xk = x + (first + k) * n;
            #pragma omp simd
            for (int64_t i = 0; i < n; i++) yr[i] += xk[i] * xk[i];
        }
        const float *xr = x + r * n;
        float k = s->bias, a = s->alpha_over_size;
        if (s->beta == 0.75f) {
            /* AlexNet's and GoogLeNet's beta: t^-0.75 = r * sqrt(r) with r = 1 / sqrt(t), which
             * vectorises where powf does not. */
            #pragma omp simd
            for (int64_t i = 0; i < n; i++) {
                float rs = 1.0f / sqrtf(k + a * yr[i]);
                yr[i] = xr[i] * rs * sqrtf(rs);
            }
        } else {
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * powf(k + a * yr[i], -s->beta);
        }
    }
    return NULL;
}

/* ---- GroupNormalization --------------------------------------------------------------------- */

static cnnrun_status *groupnorm_params(const cr_op_ctx *ctx, int64_t *groups, float *epsilon)
{
    CR_TRY(cr_attr_int(ctx->node, "num_groups", 0, groups));
    CR_TRY(cr_attr_float(ctx->node, "epsilon", 1e-5f, epsilon));
    int64_t stash;
    CR_TRY(cr_attr_int(ctx->node, "stash_type", 1, &stash));
    if (stash != 1) return cr_op_unsupported_attr(ctx, "stash_type", "statistics are computed in float32 (1)");
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 2) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "X must be [N, C, ...]");
    int64_t c = x->dims[1];
    if (*groups < 1 || c % *groups != 0)
        return cr_op_unsupported_attr(ctx, "num_groups", "must be positive and divide the channel count");
    /* Opset 18 gives scale and bias per group, 21 per channel. */
    int64_t per = ctx->opset >= 21 ? c : *groups;
    for (int i = 1; i <= 2; i++)
        if (ctx->in[i]->rank != 1 || ctx->in[i]->dims[0] != per)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "%s must have %lld values (one per %s at opset %lld)",
                               i == 1 ? "scale" : "bias", (long long)per, ctx->opset >= 21 ? "channel" : "group",
                               (long long)ctx->opset);
    return NULL;
}

static cnnrun_status *groupnorm_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    CR_TRY(check_float_input(ctx, 0, "X"));
    CR_TRY(check_float_input(ctx, 1, "scale"));
    CR_TRY(check_float_input(ctx, 2, "bias"));
    int64_t groups;
    float eps;
    CR_TRY(groupnorm_params(ctx, &groups, &eps));
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *groupnorm_run(cr_op_ctx *ctx)
{
    int64_t groups;
    float eps;
    CR_TRY(groupnorm_params(ctx, &groups, &eps));
    const cr_tensor *x = ctx->in[0];
    const float *xv = x->data, *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    float *y = ctx->out[0]->data;
    int64_t n = x->dims[0], c = x->dims[1], spatial = 1;
    for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
    int64_t cpg = c / groups, len = cpg * spatial;
    bool per_channel = ctx->opset >= 21;
    for (int64_t b = 0; b < n; b++)
        for (int64_t g = 0; g < groups; g++) {
            const float *xg = xv + (b * c + g * cpg) * spatial;
            float *yg = y + (b * c + g * cpg) * spatial;
            float mean = 0.0f, inv_std = 0.0f;
            if (len > 0) row_moments(xg, len, eps, &mean, &inv_std);
            for (int64_t k = 0; k < cpg; k++) {
                int64_t p = per_channel ? g * cpg + k : g;
                float a = scale[p] * inv_std, sh = bias[p] - a * mean;
                for (int64_t i = 0; i < spatial; i++) yg[k * spatial + i] = xg[k * spatial + i] * a + sh;
            }
        }
    return NULL;
}

/* ---- MeanVarianceNormalization ------------------------------------------------------------ */

/* Which axes are reduced (bit d for axis d). */
static cnnrun_status *mvn_axes(const cr_op_ctx *ctx, unsigned *mask)
{
    static const int64_t dflt[] = {0, 2, 3};
    const int64_t *axes;
    size_t n;
    CR_TRY(cr_attr_ints(ctx->node, "axes", &axes, &n));
    if (!axes) {
        axes = dflt;
        n = 3;
    }
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        int a;
        CR_TRY(cr_normalize_axis(ctx, "attribute axes", axes[i], ctx->in[0]->rank, &a));
        *mask |= 1u << a;
    }
    return NULL;
}

static cnnrun_status *mvn_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    unsigned mask;
    CR_TRY(mvn_axes(ctx, &mask));
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

/* The group (an index over the kept axes) of every element is computed on the fly; scratch
 * holds two doubles per group: the sum, then the mean, and the sum of squared deviations. */
static int64_t mvn_groups(const cr_tensor *x, unsigned mask)
{
    int64_t g = 1;
    for (int d = 0; d < x->rank; d++)
        if (!(mask & (1u << d))) g *= x->dims[d];
    return g;
}

static cnnrun_status *mvn_prepare(cr_op_ctx *ctx)
{
    unsigned mask;
    CR_TRY(mvn_axes(ctx, &mask));
    ctx->scratch_bytes = (size_t)(2 * mvn_groups(ctx->in[0], mask)) * sizeof(double);
    return NULL;
}

static int64_t mvn_group_of(const cr_tensor *x, unsigned mask, int64_t i)
{
    int64_t g = 0, mul = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t c = i % x->dims[d];
        i /= x->dims[d];
        if (!(mask & (1u << d))) {
            g += c * mul;
            mul *= x->dims[d];
        }
    }
    return g;
}

static cnnrun_status *mvn_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    unsigned mask;
    CR_TRY(mvn_axes(ctx, &mask));
    int64_t groups = mvn_groups(x, mask), n = cr_tensor_count(x), per = groups ? n / groups : 0;
    double *mean = ctx->scratch, *dev = mean + groups;
    const float *xv = x->data;
    float *y = ctx->out[0]->data;
    for (int64_t g = 0; g < groups; g++) mean[g] = dev[g] = 0.0;
    for (int64_t i = 0; i < n; i++) mean[mvn_group_of(x, mask, i)] += xv[i];
    for (int64_t g = 0; g < groups; g++) mean[g] /= (double)per;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = mvn_group_of(x, mask, i);
        double d = xv[i] - mean[g];
        dev[g] += d * d;
    }
    for (int64_t g = 0; g < groups; g++) dev[g] = sqrt(dev[g] / (double)per) + 1e-9;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = mvn_group_of(x, mask, i);
        y[i] = (float)((xv[i] - mean[g]) / dev[g]);
    }
    return NULL;
}

/* InstanceNormalization and LRN keep their semantics from opsets 6 and 1 (the opset-1
 * InstanceNormalization attribute consumed_inputs is a legacy optimisation hint); later versions
 * add dtypes only. LayerNormalization enters the default domain at 17. */
static const cr_op op_instnorm = {
    .op_type = "InstanceNormalization",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = instnorm_infer,
    .prepare = instnorm_prepare,
    .run = instnorm_run,
    .destroy = op_state_free,
};
static const cr_op op_layernorm = {
    .op_type = "LayerNormalization",
    .domain = "",
    .opset_min = 17,
    .opset_max = 22,
    .infer = layernorm_infer,
    .prepare = layernorm_prepare,
    .run = layernorm_run,
    .destroy = op_state_free,
};
static const cr_op op_lrn = {
    .op_type = "LRN",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = lrn_infer,
    .prepare = lrn_prepare,
    .run = lrn_run,
    .destroy = op_state_free,
};

/* GroupNormalization: 18 (scale and bias per group), 21 (per channel, stash_type). */
static const cr_op op_groupnorm = {
    .op_type = "GroupNormalization",
    .domain = "",
    .opset_min = 18,
    .opset_max = 22,
    .infer = groupnorm_infer,
    .run = groupnorm_run,
};

/* MeanVarianceNormalization: opset 9 (13 adds dtypes). */
static const cr_op op_mvn = {
    .op_type = "MeanVarianceNormalization",
    .domain = "",
    .opset_min = 9,
    .opset_max = 22,
    .infer = mvn_infer,
    .prepare = mvn_prepare,
    .run = mvn_run,
};

const cr_op *const cr_ops_normalization[] = {&op_instnorm, &op_layernorm, &op_lrn, &op_mvn, &op_groupnorm, NULL};
