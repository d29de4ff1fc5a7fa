/* The loss functions that exported evaluation graphs contain: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss (opset 12/13), on float32 scores of shape [N, C, d1, ...] with int32 or
 * int64 class targets of shape [N, d1, ...] and optional per-class weights [C].
 *
 * Per element, loss = -w[t] * logp[n, t, d] (w = 1 without weights), 0 where t == ignore_index.
 * reduction none keeps that shape; sum adds it up; mean divides the sum by the sum of the weights
 * of the elements not ignored (as ONNX and PyTorch do; all ignored gives 0/0 = NaN, as they do).
 * SoftmaxCrossEntropyLoss takes logp = LogSoftmax(scores) over C, and returns it as its optional
 * second output. Sums run in double. A target outside [0, C) that is not ignore_index is an error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index_util.h"

typedef enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction;

typedef struct loss_state {
    loss_reduction reduction;
    bool has_ignore;
    int64_t ignore_index;
    int64_t n, c, d;   /* scores seen as [n, c, d] */
    bool softmax;
} loss_state;

static cnnrun_status *loss_attrs(const cr_op_ctx *ctx, loss_state *s)
{
    const char *r;
    CR_TRY(cr_attr_string(ctx->node, "reduction", "mean", &r));
    if (strcmp(r, "none") == 0) s->reduction = LOSS_NONE;
    else if (strcmp(r, "sum") == 0) s->reduction = LOSS_SUM;
    else if (strcmp(r, "mean") == 0) s->reduction = LOSS_MEAN;
    else return cr_op_unsupported_attr(ctx, "reduction", "expected none, sum or mean");
    s->has_ignore = cr_node_attr(ctx->node, "ignore_index") != NULL;
    CR_TRY(cr_attr_int(ctx->node, "ignore_index", 0, &s->ignore_index));
    s->softmax = strcmp(ctx->node->op_type, "SoftmaxCrossEntropyLoss") == 0;
    const cr_tensor *x = ctx->in[0];
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->d = 1;
    for (int i = 2; i < x->rank; i++) s->d *= x->dims[i];
    return NULL;
}

static cnnrun_status *loss_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, CNNRUN_INT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    CR_TRY(cr_op_check_dtype(ctx, 2, floats));
    const cr_tensor *x = ctx->in[0], *t = ctx->in[1];
    char sx[128], st[128];
    bool ok = x->rank >= 2 && t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int i = 2; ok && i < x->rank; i++) ok = t->dims[i - 1] == x->dims[i];
    if (!ok)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "target of shape %s does not match scores [N, C, d...] of shape %s",
                           cr_shape_str(t->rank, t->dims, st, sizeof st), cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    if (ctx->n_in > 2 && ctx->in[2] && (ctx->in[2]->rank != 1 || ctx->in[2]->dims[0] != x->dims[1]))
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "weight of shape %s must be [C] = [%lld]",
                           cr_shape_str(ctx->in[2]->rank, ctx->in[2]->dims, st, sizeof st), (long long)x->dims[1]);
    loss_state s;
    CR_TRY(loss_attrs(ctx, &s));
    if (s.reduction == LOSS_NONE) cr_set_output(ctx, 0, CNNRUN_FLOAT32, t->rank, t->dims);
    else cr_set_output(ctx, 0, CNNRUN_FLOAT32, 0, NULL);
    if (ctx->n_out > 1) {
        if (!s.softmax) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "NegativeLogLikelihoodLoss has one output");
        cr_set_output(ctx, 1, CNNRUN_FLOAT32, x->rank, x->dims);
    }
    return NULL;
}

static cnnrun_status *loss_prepare(cr_op_ctx *ctx)
{
    loss_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = loss_attrs(ctx, s);
    if (st) {
        free(s);
        return st;
    }
    /* SoftmaxCrossEntropyLoss without its log_prob output computes it in scratch. */
    bool own_logp = s->softmax && (ctx->n_out < 2 || !ctx->out[1]);
    if (own_logp) ctx->scratch_bytes = cr_tensor_bytes(ctx->in[0]);
    ctx->state = s;
    return NULL;
}

/* logp = log_softmax(x) over axis 1 of [n, c, d]. */
static void log_softmax_axis1(const loss_state *s, const float *x, float *logp)
{
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t k = 0; k < s->d; k++) {
            const float *xi = x + i * s->c * s->d + k;
            float *li = logp + i * s->c * s->d + k;
            float m = -INFINITY;
            for (int64_t j = 0; j < s->c; j++) m = xi[j * s->d] > m ? xi[j * s->d] : m;
            double sum = 0.0;
            for (int64_t j = 0; j < s->c; j++) sum += exp((double)xi[j * s->d] - m);
            float lse = (float)(m + log(sum));
            for (int64_t j = 0; j < s->c; j++) li[j * s->d] = xi[j * s->d] - lse;
        }
}

static cnnrun_status *loss_run(cr_op_ctx *ctx)
{
    const loss_state *s = ctx->state;
    const cr_tensor *t = ctx->in[1];
    const float *w = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL;
    const float *logp = ctx->in[0]->data;
    if (s->softmax) {
        float *lp = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : ctx->scratch;
        log_softmax_axis1(s, ctx->in[0]->data, lp);
        logp = lp;
    }
    float *out = ctx->out[0]->data;
    double total = 0.0, weight_sum = 0.0;
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t k = 0; k < s->d; k++) {
            int64_t e = i * s->d + k, cls = cr_index_at(t, e);
            float l = 0.0f;
            if (!(s->has_ignore && cls == s->ignore_index)) {
                if (cls < 0 || cls >= s->c)
                    return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                                       "target %lld (at position %lld) is not a class in [0, %lld) nor ignore_index",
                                       (long long)cls, (long long)e, (long long)s->c);
                float wt = w ? w[cls] : 1.0f;
                l = -wt * logp[(i * s->c + cls) * s->d + k];
                weight_sum += wt;
            }
            if (s->reduction == LOSS_NONE) out[e] = l;
            else total += l;
        }
    if (s->reduction == LOSS_SUM) out[0] = (float)total;
    else if (s->reduction == LOSS_MEAN) out[0] = (float)(total / weight_sum);
    return NULL;
}

static void loss_destroy(void *state)
{
    free(state);
}

/* Opset 12 introduced both; 13 adds dtypes (bfloat16), which cnnrun does not take here. */
static const cr_op op_nll = {
    .op_type = "NegativeLogLikelihoodLoss", .domain = "", .opset_min = 12, .opset_max = 22,
    .infer = loss_infer, .prepare = loss_prepare, .run = loss_run, .destroy = loss_destroy,
};
static const cr_op op_sce = {
    .op_type = "SoftmaxCrossEntropyLoss", .domain = "", .opset_min = 12, .opset_max = 22,
    .infer = loss_infer, .prepare = loss_prepare, .run = loss_run, .destroy = loss_destroy,
};

const cr_op *const cr_ops_loss[] = {&op_nll, &op_sce, NULL};
