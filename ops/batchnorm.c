/* BatchNormalization, float32: y = (x - mean) / sqrt(var + epsilon) * scale + B per channel
 * (axis 1).
 *
 * Inference form (the usual case): mean and var are the inputs, and y is computed as
 * y = x * a[c] + b[c] with a = scale / sqrt(var + epsilon) and b = B - mean * a. With constant
 * parameters a and b are computed once in prepare; otherwise run recomputes them into the state's
 * buffers.
 *
 * training_mode = 1 (opsets 14-15): mean and var are the batch's own, over N and the spatial dims
 * (the population variance, divided by the count, not count - 1), and the optional outputs are
 * running_mean = input_mean * momentum + mean * (1 - momentum), and the same for var. It is
 * deterministic, so an inference runtime can compute it; see batchnorm_run_training.
 *
 * Folding a BatchNormalization into a preceding Conv or Gemm is only valid in inference form: a
 * training-mode node's statistics come from the data.
 *
 * Between convolutions (DenseNet's BatchNorm -> Relu -> Conv), the inference form reads and
 * writes oneDNN's NHWC as it is, with the channel innermost, and takes a following Relu, LeakyRelu
 * or Clip as a fused post-op. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "vec_math.h"

#define BN_PARALLEL_MIN 65536

typedef enum bn_activation { BN_NONE, BN_RELU, BN_CLIP } bn_activation;

typedef struct batchnorm_state {
    int64_t batch, channels, spatial;
    float epsilon;
    bool params_constant;
    int threads;
    float *a, *b; /* inference form: per-channel scale and shift, channels each (one allocation) */
    bool training;  /* training_mode = 1: statistics from the batch; a and b are not used */
    float momentum; /* training_mode = 1: weight of the input statistics in the running ones */
    bool channels_last; /* x (and y) in NHWC order: pixels of `channels` contiguous values */
    bn_activation act;  /* fused by the planner */
    float slope;        /* BN_RELU: 0 for Relu, alpha for LeakyRelu */
    float lo, hi;       /* BN_CLIP */
} batchnorm_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static const char *const param_names[] = {"scale", "B", "mean", "var"};

static const char *const running_names[] = {"running_mean", "running_var"};

/* training_mode exists from opset 14; any nonzero value means true. */
static cnnrun_status *batchnorm_training_mode(const cr_op_ctx *ctx, bool *training)
{
    int64_t mode = 0;
    if (ctx->opset >= 14) CR_TRY(cr_attr_int(ctx->node, "training_mode", 0, &mode));
    *training = mode != 0;
    return NULL;
}

static cnnrun_status *batchnorm_check_attrs(const cr_op_ctx *ctx, bool *training)
{
    CR_TRY(batchnorm_training_mode(ctx, training));
    if (ctx->opset < 9) {
        int64_t spatial;
        CR_TRY(cr_attr_int(ctx->node, "spatial", 1, &spatial));
        if (!spatial)
            return cr_op_unsupported_attr(ctx, "spatial", "spatial = 0 (per-element statistics) is not implemented");
    }
    if (*training) {
        if (ctx->n_out > 3)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "has %d outputs; training_mode = 1 defines Y, running_mean and running_var",
                               ctx->n_out);
        return NULL;
    }
    for (int i = 1; i < ctx->n_out; i++) {
        if (!ctx->out[i]) continue;
        /* Opsets 14-15 define the statistics outputs only in training mode. Earlier opsets declare
         * optional training statistics (saved mean and variance among them) that an inference
         * graph must not consume. */
        if (ctx->opset >= 14)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "output %d (%s) is used, but with training_mode = 0 only Y is defined", i,
                               i <= 2 ? running_names[i - 1] : "beyond the 3 outputs");
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "output %d (a training statistic) is used; only the inference form is supported", i);
    }
    return NULL;
}

static cnnrun_status *batchnorm_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 5, 5));
    /* Here rather than in prepare: whether the statistics outputs exist depends on the mode, and a
     * refused attribute should be the error the user sees. */
    bool training;
    CR_TRY(batchnorm_check_attrs(ctx, &training));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 2) {
        char sx[160];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input X must have rank >= 2 ([N, C, ...]); found %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    for (int i = 1; i < 5; i++) {
        const cr_tensor *p = ctx->in[i];
        if (p->dtype != CNNRUN_FLOAT32)
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input %s has dtype %s; supported: float32",
                               param_names[i - 1], cnnrun_dtype_name(p->dtype));
        if (p->rank != 1 || p->dims[0] != x->dims[1]) {
            char sp[160];
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %s has shape %s; expected [%lld] (the channels)",
                               param_names[i - 1], cr_shape_str(p->rank, p->dims, sp, sizeof sp),
                               (long long)x->dims[1]);
        }
    }
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (training)
        for (int i = 1; i < ctx->n_out && i <= 2; i++)
            if (ctx->out[i]) cr_set_output(ctx, i, ctx->in[i + 2]->dtype, 1, &x->dims[1]);
    return NULL;
}

static void compute_affine(batchnorm_state *s, const float *scale, const float *bias, const float *mean,
                           const float *var)
{
    for (int64_t c = 0; c < s->channels; c++) {
        float a = scale[c] / sqrtf(var[c] + s->epsilon);
        s->a[c] = a;
        s->b[c] = bias[c] - mean[c] * a;
    }
}

static void batchnorm_destroy(void *state)
{
    batchnorm_state *s = state;
    if (!s) return;
    free(s->a);
    free(s);
}

/* The post-op the planner fused: one Relu, LeakyRelu or Clip (the planner runs the nodes one by
 * one when this refuses). */
static cnnrun_status *batchnorm_post_ops(const cr_op_ctx *ctx, batchnorm_state *s)
{
    if (ctx->n_post == 0) return NULL;
    const cr_post_op *po = &ctx->post[0];
    if (ctx->n_post > 1 || s->training || po->kind != CR_POST_ELTWISE)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "these post-ops cannot be fused");
    if (po->alg == dnnl_eltwise_relu) {
        s->act = BN_RELU;
        s->slope = po->alpha;
    } else if (po->alg == dnnl_eltwise_clip) {
        s->act = BN_CLIP;
        s->lo = po->alpha;
        s->hi = po->beta;
    } else {
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "this post-op cannot be fused");
    }
    return NULL;
}

/* Whether x arrives with the channel innermost (NHWC): then y keeps that layout. Any other layout
 * than row-major is asked to arrive row-major. */
static bool batchnorm_channels_last(cr_op_ctx *ctx, bool training)
{
    const cr_tensor *x = ctx->in[0];
    if (!ctx->layouts_allowed || cr_layout_is_plain(x)) return false;
    /* bfloat16 activations are read as float32 in the same order */
    cr_tensor as_read = *x;
    cr_layout twin;
    if (cr_layout_f32_twin(x, &twin)) as_read.layout = &twin;
    int order[CR_MAX_RANK];
    if (!training && x->rank >= 3 && cr_layout_order(&as_read, order) && order[x->rank - 1] == 1 &&
        ctx->out[0]->layout) {
        if (as_read.layout == &twin) cr_op_want_layout(ctx, 0, &twin);
        *ctx->out[0]->layout = *as_read.layout;
        return true;
    }
    cr_op_want_layout(ctx, 0, NULL);
    return false;
}

static cnnrun_status *batchnorm_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    batchnorm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = cr_attr_float(ctx->node, "epsilon", 1e-5f, &s->epsilon);
    if (!st) st = batchnorm_training_mode(ctx, &s->training);
    if (!st && s->training) st = cr_attr_float(ctx->node, "momentum", 0.9f, &s->momentum);
    if (!st) st = batchnorm_post_ops(ctx, s);
    if (st) {
        free(s);
        return st;
    }
    s->channels_last = batchnorm_channels_last(ctx, s->training);
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->spatial = 1;
    for (int i = 2; i < x->rank; i++) s->spatial *= x->dims[i];
    s->threads = op_threads(ctx);
    if (s->training) { /* run computes everything from the batch */
        ctx->state = s;
        return NULL;
    }
    size_t c = (size_t)s->channels;
    s->a = malloc(2 * (c ? c : 1) * sizeof(float));
    if (!s->a) {
        free(s);
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for %zu channel parameters", c);
    }
    s->b = s->a + c;
    s->params_constant = true;
    for (int i = 1; i < 5; i++) s->params_constant = s->params_constant && ctx->in[i]->data;
    if (s->params_constant)
        compute_affine(s, ctx->in[1]->data, ctx->in[2]->data, ctx->in[3]->data, ctx->in[4]->data);
    ctx->state = s;
    return NULL;
}

/* Mean and population variance of channel c over the batch and the spatial dims. The sums are in
 * double, as normalization.c's are (a channel spans N x H x W values), and the variance is a
 * second pass over (x - mean)², which keeps its digits when the mean is large next to the
 * spread. An empty channel has no statistics: NaN, as NumPy's mean of nothing. */
static void channel_moments(const batchnorm_state *s, const float *x, int64_t c, double *mean_out,
                            double *var_out)
{
    const int64_t n = s->spatial;
    const double count = (double)s->batch * (double)n;
    if (count == 0) {
        *mean_out = *var_out = NAN;
        return;
    }
    double sum = 0.0;
    for (int64_t b = 0; b < s->batch; b++) {
        const float *xp = x + (b * s->channels + c) * n;
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++) sum += xp[i];
    }
    const double mean = sum / count;
    double sq = 0.0;
    for (int64_t b = 0; b < s->batch; b++) {
        const float *xp = x + (b * s->channels + c) * n;
        #pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < n; i++) {
            const double d = (double)xp[i] - mean;
            sq += d * d;
        }
    }
    *mean_out = mean;
    *var_out = sq / count;
}

/* training_mode = 1: one channel per iteration (statistics, then its Y, then its running
 * statistics), so channels are independent and need no buffer. Y is (x - mean) * a + B rather
 * than the inference form's folded x * a + (B - mean * a): the batch mean sits in the middle of
 * the data, and the folded form would cancel two large terms when the mean is large next to the
 * spread. */
static cnnrun_status *batchnorm_run_training(cr_op_ctx *ctx)
{
    const batchnorm_state *s = ctx->state;
    const float *x = ctx->in[0]->data, *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    const float *input_mean = ctx->in[3]->data, *input_var = ctx->in[4]->data;
    float *y = ctx->out[0]->data;
    float *running_mean = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : NULL;
    float *running_var = ctx->n_out > 2 && ctx->out[2] ? ctx->out[2]->data : NULL;
    const int64_t channels = s->channels, n = s->spatial;
    const double momentum = s->momentum;
    const bool parallel = channels > 1 && s->batch * channels * n >= BN_PARALLEL_MIN;
    #pragma omp parallel for num_threads(s->threads) if (parallel)
    for (int64_t c = 0; c < channels; c++) {
        double mean, var;
        channel_moments(s, x, c, &mean, &var);
        const float mean_f = (float)mean, bc = bias[c];
        const float a = (float)((double)scale[c] / sqrt(var + (double)s->epsilon));
        for (int64_t b = 0; b < s->batch; b++) {
            const float *xp = x + (b * channels + c) * n;
            float *yp = y + (b * channels + c) * n;
            #pragma omp simd
            for (int64_t i = 0; i < n; i++) yp[i] = (xp[i] - mean_f) * a + bc;
        }
        if (running_mean) running_mean[c] = (float)(input_mean[c] * momentum + mean * (1.0 - momentum));
        if (running_var) running_var[c] = (float)(input_var[c] * momentum + var * (1.0 - momentum));
    }
    return NULL;
}

/* The fused activation over n outputs, computed as the Relu, LeakyRelu and Clip ops compute it
 * (unary.c), so that fusing changes no result. Vector loops, compiled for each ISA. */
CR_VECTOR_CLONES static void activate_row(bn_activation act, float slope, float lo, float hi, float *y, int64_t n)
{
    if (act == BN_RELU && slope == 0.0f) {
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    } else if (act == BN_RELU) {
        for (int64_t i = 0; i < n; i++) y[i] = cr_select_f32(y[i] >= 0.0f, y[i], slope * y[i]);
    } else if (act == BN_CLIP) {
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] < lo ? lo : y[i];
            y[i] = v > hi ? hi : v;
        }
    }
}

/* y = x * a + b for one pixel of NHWC data (a, b per channel) ... */
CR_VECTOR_CLONES static void affine_channels(const float *restrict x, float *restrict y, const float *restrict a,
                                             const float *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * a[i] + b[i];
}

/* ... and for one channel plane of NCHW data (a, b scalars). */
CR_VECTOR_CLONES static void affine_plane(const float *restrict x, float *restrict y, float a, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

static cnnrun_status *batchnorm_run(cr_op_ctx *ctx)
{
    batchnorm_state *s = ctx->state;
    if (s->training) return batchnorm_run_training(ctx);
    if (!s->params_constant)
        compute_affine(s, ctx->in[1]->data, ctx->in[2]->data, ctx->in[3]->data, ctx->in[4]->data);
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    const float *a = s->a, *b = s->b;
    int64_t count = s->batch * s->channels * s->spatial;
    if (s->channels_last) {
        /* a pixel is `channels` contiguous values */
        int64_t pixels = s->batch * s->spatial, c_n = s->channels;
        #pragma omp parallel for num_threads(s->threads) if (count >= BN_PARALLEL_MIN)
        for (int64_t p = 0; p < pixels; p++) {
            affine_channels(x + p * c_n, y + p * c_n, a, b, c_n);
            if (s->act != BN_NONE) activate_row(s->act, s->slope, s->lo, s->hi, y + p * c_n, c_n);
        }
        return NULL;
    }
    int64_t planes = s->batch * s->channels, n = s->spatial;
    #pragma omp parallel for num_threads(s->threads) if (count >= BN_PARALLEL_MIN)
    for (int64_t p = 0; p < planes; p++) {
        int64_t c = p % s->channels;
        affine_plane(x + p * n, y + p * n, a[c], b[c], n);
        if (s->act != BN_NONE) activate_row(s->act, s->slope, s->lo, s->hi, y + p * n, n);
    }
    return NULL;
}

/* 1-5 carry legacy attributes (is_test, spatial, consumed_inputs), 9 drops spatial, 14 adds
 * training_mode (and makes the outputs Y, running_mean, running_var), 15 lets scale/B differ in
 * dtype from the statistics (float32 only here). */
static const cr_op op_batchnorm = {
    .op_type = "BatchNormalization",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_LAYOUT_AWARE | CR_OP_FUSES_ELTWISE,
    .infer = batchnorm_infer,
    .prepare = batchnorm_prepare,
    .run = batchnorm_run,
    .destroy = batchnorm_destroy,
};

const cr_op *const cr_ops_batchnorm[] = {&op_batchnorm, NULL};
