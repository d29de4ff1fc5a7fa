/* Softmax and LogSoftmax on float32.
 *
 * Both opset semantics reduce to the same view of the tensor as [outer, n, inner], normalised
 * along n:
 *   opset 1-12: the input is coerced to 2-D at `axis` (default 1): outer = prod(dims[:axis]),
 *               n = prod(dims[axis:]), inner = 1;
 *   opset 13+:  along the single axis `axis` (default -1): n = dims[axis], inner = the product of
 *               the dims after it.
 * The max is subtracted before exponentiating, so large logits do not overflow. Output may
 * alias the input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec_math.h"
#include "op_util.h"

#define SOFTMAX_PARALLEL_MIN 32768
/* Lanes of the inner axis handled at once when normalising along a strided axis; the running
 * max and sum for them live on the stack. */
#define SOFTMAX_LANES 64

typedef struct softmax_state {
    bool log;
    int64_t outer, n, inner;
    int threads;
} softmax_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *softmax_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *softmax_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    bool coerce_2d = ctx->opset < 13;
    int64_t axis_attr;
    CR_TRY(cr_attr_int(ctx->node, "axis", coerce_2d ? 1 : -1, &axis_attr));
    int axis;
    if (x->rank == 0) {
        /* A scalar is a single-element row. */
        if (axis_attr != 0 && axis_attr != -1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute axis %lld is out of range for a scalar",
                               (long long)axis_attr);
        axis = 0;
    } else {
        CR_TRY(cr_normalize_axis(ctx, "attribute axis", axis_attr, x->rank, &axis));
    }
    softmax_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->log = strcmp(ctx->node->op_type, "LogSoftmax") == 0;
    s->threads = op_threads(ctx);
    s->outer = 1;
    s->n = 1;
    s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= x->dims[i];
        else if (i == axis || coerce_2d) s->n *= x->dims[i];
        else s->inner *= x->dims[i];
    }
    ctx->state = s;
    return NULL;
}

/* One contiguous row of n values. */
CR_VECTOR_CLONES static void softmax_row(const float *x, float *y, int64_t n, bool log_out)
{
    float mx = -INFINITY;
    #pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    if (log_out) {
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++) sum += cr_fast_expf(x[i] - mx);
        float shift = mx + logf(sum);
        for (int64_t i = 0; i < n; i++) y[i] = x[i] - shift;
    } else {
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++) {
            y[i] = cr_fast_expf(x[i] - mx);
            sum += y[i];
        }
        float inv = 1.0f / sum;
        for (int64_t i = 0; i < n; i++) y[i] *= inv;
    }
}

/* Up to SOFTMAX_LANES neighbouring columns of an [n, inner] block, normalised along n. */
CR_VECTOR_CLONES static void softmax_lanes(const float *x, float *y, int64_t n, int64_t inner, int lanes, bool log_out)
{
    float mx[SOFTMAX_LANES], sum[SOFTMAX_LANES];
    for (int k = 0; k < lanes; k++) {
        mx[k] = -INFINITY;
        sum[k] = 0.0f;
    }
    for (int64_t j = 0; j < n; j++)
        for (int k = 0; k < lanes; k++) mx[k] = x[j * inner + k] > mx[k] ? x[j * inner + k] : mx[k];
    if (log_out) {
        for (int64_t j = 0; j < n; j++)
            for (int k = 0; k < lanes; k++) sum[k] += cr_fast_expf(x[j * inner + k] - mx[k]);
        for (int k = 0; k < lanes; k++) mx[k] += logf(sum[k]);
        for (int64_t j = 0; j < n; j++)
            for (int k = 0; k < lanes; k++) y[j * inner + k] = x[j * inner + k] - mx[k];
    } else {
        for (int64_t j = 0; j < n; j++)
            for (int k = 0; k < lanes; k++) {
                float e = cr_fast_expf(x[j * inner + k] - mx[k]);
                y[j * inner + k] = e;
                sum[k] += e;
            }
        for (int k = 0; k < lanes; k++) sum[k] = 1.0f / sum[k];
        for (int64_t j = 0; j < n; j++)
            for (int k = 0; k < lanes; k++) y[j * inner + k] *= sum[k];
    }
}

static cnnrun_status *softmax_run(cr_op_ctx *ctx)
{
    const softmax_state *s = ctx->state;
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    int64_t total = s->outer * s->n * s->inner;
    if (total == 0) return NULL;
    if (s->inner == 1) {
        #pragma omp parallel for num_threads(s->threads) if (total >= SOFTMAX_PARALLEL_MIN)
        for (int64_t o = 0; o < s->outer; o++) softmax_row(x + o * s->n, y + o * s->n, s->n, s->log);
        return NULL;
    }
    int64_t blocks = (s->inner + SOFTMAX_LANES - 1) / SOFTMAX_LANES;
    #pragma omp parallel for collapse(2) num_threads(s->threads) if (total >= SOFTMAX_PARALLEL_MIN)
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t b = 0; b < blocks; b++) {
            int64_t k0 = b * SOFTMAX_LANES;
            int lanes = (int)(s->inner - k0 < SOFTMAX_LANES ? s->inner - k0 : SOFTMAX_LANES);
            int64_t base = o * s->n * s->inner + k0;
            softmax_lanes(x + base, y + base, s->n, s->inner, lanes, s->log);
        }
    return NULL;
}

static void softmax_destroy(void *state)
{
    free(state);
}

/* The axis semantics change at 13 (see above); later versions only add dtypes. */
static const cr_op op_softmax = {
    .op_type = "Softmax",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = softmax_infer,
    .prepare = softmax_prepare,
    .run = softmax_run,
    .destroy = softmax_destroy,
};
static const cr_op op_log_softmax = {
    .op_type = "LogSoftmax",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = softmax_infer,
    .prepare = softmax_prepare,
    .run = softmax_run,
    .destroy = softmax_destroy,
};

const cr_op *const cr_ops_softmax[] = {&op_softmax, &op_log_softmax, NULL};
