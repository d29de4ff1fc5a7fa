/* BatchNormalization, inference form, float32: y = (x - mean) / sqrt(var + epsilon) * scale + B
 * per channel (axis 1), computed as y = x * a[c] + b[c] with a = scale / sqrt(var + epsilon) and
 * b = B - mean * a. With constant parameters (the usual case) a and b are computed once in
 * prepare; otherwise run recomputes them into the state's buffers.
 *
 * The planner normally folds a BatchNormalization that follows a Conv or Gemm into the weights;
 * this kernel serves the others and constant folding. Training mode is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define BN_PARALLEL_MIN 65536

typedef struct batchnorm_state {
    int64_t batch, channels, spatial;
    float epsilon;
    bool params_constant;
    int threads;
    float *a, *b; /* per-channel scale and shift, channels each (one allocation) */
} batchnorm_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static const char *const param_names[] = {"scale", "B", "mean", "var"};

static cnnrun_status *batchnorm_check_attrs(const cr_op_ctx *ctx)
{
    if (ctx->opset >= 14) {
        int64_t training;
        CR_TRY(cr_attr_int(ctx->node, "training_mode", 0, &training));
        if (training)
            return cr_op_unsupported_attr(ctx, "training_mode",
                                          "training_mode = 1 updates running statistics; cnnrun runs inference only");
    }
    if (ctx->opset < 9) {
        int64_t spatial;
        CR_TRY(cr_attr_int(ctx->node, "spatial", 1, &spatial));
        if (!spatial)
            return cr_op_unsupported_attr(ctx, "spatial", "spatial = 0 (per-element statistics) is not implemented");
    }
    /* Opsets before 14 declare optional outputs for the training statistics; an inference graph
     * must not consume them. */
    for (int i = 1; i < ctx->n_out; i++)
        if (ctx->out[i])
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                               "output %d (a training statistic) is used; only the inference form is supported", i);
    return NULL;
}

static cnnrun_status *batchnorm_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 5, 5));
    /* Here rather than in prepare: a training-mode node also has statistics outputs that infer
     * could not describe, and the refusal should be the error the user sees. */
    CR_TRY(batchnorm_check_attrs(ctx));
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

static cnnrun_status *batchnorm_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    batchnorm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = cr_attr_float(ctx->node, "epsilon", 1e-5f, &s->epsilon);
    if (st) {
        free(s);
        return st;
    }
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->spatial = 1;
    for (int i = 2; i < x->rank; i++) s->spatial *= x->dims[i];
    s->threads = op_threads(ctx);
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

static cnnrun_status *batchnorm_run(cr_op_ctx *ctx)
{
    batchnorm_state *s = ctx->state;
    if (!s->params_constant)
        compute_affine(s, ctx->in[1]->data, ctx->in[2]->data, ctx->in[3]->data, ctx->in[4]->data);
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    int64_t planes = s->batch * s->channels, n = s->spatial;
    const float *a = s->a, *b = s->b;
    #pragma omp parallel for num_threads(s->threads) if (planes * n >= BN_PARALLEL_MIN)
    for (int64_t p = 0; p < planes; p++) {
        int64_t c = p % s->channels;
        const float ac = a[c], bc = b[c];
        const float *xp = x + p * n;
        float *yp = y + p * n;
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) yp[i] = xp[i] * ac + bc;
    }
    return NULL;
}

/* 1-5 carry legacy attributes (is_test, spatial, consumed_inputs), 9 drops spatial, 14 adds
 * training_mode, 15 lets scale/B differ in dtype from the statistics (float32 only here). */
static const cr_op op_batchnorm = {"BatchNormalization", "", 1, 21, 0, batchnorm_infer, batchnorm_prepare,
                                   batchnorm_run, batchnorm_destroy};

const cr_op *const cr_ops_batchnorm[] = {&op_batchnorm, NULL};
