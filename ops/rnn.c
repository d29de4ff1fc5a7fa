/* LSTM, GRU and RNN (ONNX opsets 7-22; 22 only adds bfloat16): the op descriptors and the choice
 * of kernel.
 *
 * oneDNN's RNN primitives run the common case: weights known at plan time, the activations its
 * cells compute, no clip or input_forget, every sequence as long as X. Everything else, including
 * the ONNX test suite's cases (they feed W, R and B as graph inputs), runs on the plain-C kernel.
 * When sequence_lens is a run-time input, both kernels are prepared and each run picks oneDNN
 * only if every length is the full one. */
#include <limits.h>
#include <string.h>
#include <stdlib.h>

#include "op_util.h"
#include "rnn_common.h"

typedef struct rnn_state {
    cr_rnn_params p;
    cr_rnn_dnnl *dnnl;  /* NULL: the plain kernel runs every time */
    bool plain_ready;   /* the scratch covers the plain kernel */
} rnn_state;

static cnnrun_status *rnn_infer_kind(cr_op_ctx *ctx, cr_rnn_kind kind)
{
    cr_rnn_params p;
    CR_TRY(cr_rnn_params_of(ctx, kind, &p));
    cr_rnn_set_outputs(ctx, &p);
    return NULL;
}

static void rnn_destroy(void *state)
{
    rnn_state *s = state;
    if (!s) return;
    cr_rnn_dnnl_destroy(s->dnnl);
    free(s);
}

/* OpenBLAS takes int sizes. */
static cnnrun_status *check_blas_sizes(const cr_op_ctx *ctx, const cr_rnn_params *p)
{
    int64_t rows = p->seq * p->batch, cols = p->gates * p->hidden; /* bounded by params_of */
    if (rows > INT_MAX || cols > INT_MAX || p->input > INT_MAX || p->batch > INT_MAX)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "sizes beyond %d rows or columns are not supported (T*N = %lld, G*H = %lld, I = %lld)",
                           INT_MAX, (long long)rows, (long long)cols, (long long)p->input);
    return NULL;
}

static cnnrun_status *rnn_prepare_kind(cr_op_ctx *ctx, cr_rnn_kind kind)
{
    rnn_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the %s state", ctx->node->op_type);
    cnnrun_status *st = cr_rnn_params_of(ctx, kind, &s->p);
    if (!st) st = check_blas_sizes(ctx, &s->p);
    bool lens_known = !s->p.has_seq_lens || ctx->in[CR_RNN_SEQ_LENS]->data != NULL;
    bool full_lengths = true;
    if (!st && s->p.has_seq_lens && lens_known) {
        cr_rnn_io io;
        cr_rnn_io_of(ctx, &io);
        st = cr_rnn_check_seq_lens(ctx, &s->p, &io, &full_lengths);
    }
    size_t dnnl_scratch = 0, plain_scratch = 0;
    if (!st && full_lengths && cr_rnn_dnnl_applicable(ctx, &s->p))
        st = cr_rnn_dnnl_create(ctx, &s->p, &s->dnnl, &dnnl_scratch);
    if (!st && (!s->dnnl || !lens_known)) {
        if (!cr_rnn_reference_scratch(&s->p, &plain_scratch))
            st = cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the working memory of the %s is too large",
                             ctx->node->op_type);
        s->plain_ready = true;
    }
    if (st) {
        rnn_destroy(s);
        return st;
    }
    ctx->scratch_bytes = dnnl_scratch > plain_scratch ? dnnl_scratch : plain_scratch;
    ctx->state = s;
    return NULL;
}

static cnnrun_status *rnn_run(cr_op_ctx *ctx)
{
    rnn_state *s = ctx->state;
    cr_rnn_io io;
    cr_rnn_io_of(ctx, &io);
    bool full_lengths = true;
    if (s->p.has_seq_lens) CR_TRY(cr_rnn_check_seq_lens(ctx, &s->p, &io, &full_lengths));
    if (s->dnnl && (full_lengths || !s->plain_ready)) return cr_rnn_dnnl_run(ctx, s->dnnl, &io, ctx->scratch);
    cr_rnn_reference_run(&s->p, &io, ctx->scratch);
    return NULL;
}

static cnnrun_status *lstm_infer(cr_op_ctx *ctx) { return rnn_infer_kind(ctx, CR_RNN_LSTM); }
static cnnrun_status *gru_infer(cr_op_ctx *ctx) { return rnn_infer_kind(ctx, CR_RNN_GRU); }
static cnnrun_status *vanilla_infer(cr_op_ctx *ctx) { return rnn_infer_kind(ctx, CR_RNN_VANILLA); }
static cnnrun_status *lstm_prepare(cr_op_ctx *ctx) { return rnn_prepare_kind(ctx, CR_RNN_LSTM); }
static cnnrun_status *gru_prepare(cr_op_ctx *ctx) { return rnn_prepare_kind(ctx, CR_RNN_GRU); }
static cnnrun_status *vanilla_prepare(cr_op_ctx *ctx) { return rnn_prepare_kind(ctx, CR_RNN_VANILLA); }

/* The oneDNN kernel when it runs (it may yield to the plain one for short sequence_lens). */
static const char *rnn_describe(const void *state)
{
    const rnn_state *s = state;
    return s->dnnl ? cr_rnn_dnnl_impl(s->dnnl) : NULL;
}

/* The gate matrix products: per step, direction and batch row, gates x H outputs over I + H. */
static double rnn_flops(const cr_op_ctx *ctx)
{
    const rnn_state *s = ctx->state;
    const cr_rnn_params *p = &s->p;
    return 2.0 * (double)p->seq * (double)p->batch * (double)p->num_dir * (double)p->gates *
           (double)p->hidden * (double)(p->input + p->hidden);
}

/* Below this many FLOPs per time step (one direction), a step is shorter than what two threads
 * spend meeting at its barriers: a 2-layer LSTM of 32 units over 50 steps runs 4x faster on one
 * thread than on two (0.065 vs 0.27 ms). */
#define RNN_STEP_FLOPS_TO_SHARE (4.0 * 1024 * 1024)

static int rnn_threads(const cr_op_ctx *ctx)
{
    const char *t = ctx->node->op_type;
    cr_rnn_kind kind = strcmp(t, "LSTM") == 0 ? CR_RNN_LSTM : strcmp(t, "GRU") == 0 ? CR_RNN_GRU : CR_RNN_VANILLA;
    cr_rnn_params p;
    cnnrun_status *st = cr_rnn_params_of(ctx, kind, &p);
    if (st) {
        cnnrun_status_free(st); /* prepare reports it */
        return 0;
    }
    double per_step = 2.0 * (double)p.batch * (double)p.gates * (double)p.hidden * (double)(p.input + p.hidden);
    return per_step < RNN_STEP_FLOPS_TO_SHARE ? 1 : 0;
}

static const cr_op lstm_op = {
    .op_type = "LSTM",
    .domain = "",
    .opset_min = 7,
    .opset_max = 22,
    .infer = lstm_infer,
    .prepare = lstm_prepare,
    .run = rnn_run,
    .destroy = rnn_destroy,
    .describe = rnn_describe,
    .flops = rnn_flops,
    .threads = rnn_threads,
    .flags = CR_OP_OPTIONAL_OUTPUT0,
};

static const cr_op gru_op = {
    .op_type = "GRU",
    .domain = "",
    .opset_min = 7,
    .opset_max = 22,
    .infer = gru_infer,
    .prepare = gru_prepare,
    .run = rnn_run,
    .destroy = rnn_destroy,
    .describe = rnn_describe,
    .flops = rnn_flops,
    .threads = rnn_threads,
    .flags = CR_OP_OPTIONAL_OUTPUT0,
};

static const cr_op vanilla_rnn_op = {
    .op_type = "RNN",
    .domain = "",
    .opset_min = 7,
    .opset_max = 22,
    .infer = vanilla_infer,
    .prepare = vanilla_prepare,
    .run = rnn_run,
    .destroy = rnn_destroy,
    .describe = rnn_describe,
    .flops = rnn_flops,
    .threads = rnn_threads,
    .flags = CR_OP_OPTIONAL_OUTPUT0,
};

const cr_op *const cr_ops_rnn[] = {&lstm_op, &gru_op, &vanilla_rnn_op, NULL};
