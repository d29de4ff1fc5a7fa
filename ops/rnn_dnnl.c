/* The oneDNN 2.6 kernel of LSTM, GRU and RNN: one RNN primitive per node, weights and biases
 * reordered once at prepare into the layout the primitive picks.
 *
 * ONNX and oneDNN differ in ways that are taken care of here:
 * - gate order: ONNX LSTM i,o,f,c is oneDNN i,f,c~,o; GRU z,r,h is oneDNN u,r,o (the same);
 *   peepholes ONNX i,o,f are oneDNN i,f,o;
 * - bias: oneDNN takes one bias per gate (Wb + Rb), except lbr_gru (linear_before_reset = 1),
 *   whose fourth part is the candidate's Rb, which the reset gate scales;
 * - layout: ONNX Y is [T, D, N, H] (layout 0) where oneDNN writes [T, N, D*H]; with one direction
 *   they are the same memory, with two the output goes through scratch. Layout 1 ([N, T, D, H])
 *   is oneDNN's ntc as is. States are [D, N, H] (ldnc with L = 1) or, under layout 1, [N, D, H],
 *   which goes through scratch when D = 2. An LSTM given only one of initial_h / initial_c (or
 *   asked for only one of Y_h / Y_c) uses a zero (or discarded) scratch buffer for the other, as
 *   oneDNN takes them in pairs. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "op_util.h"
#include "rnn_common.h"

/* The memory a run binds: X, the states, the outputs. */
enum { ARG_SRC_LAYER, ARG_SRC_ITER, ARG_SRC_ITER_C, ARG_DST_LAYER, ARG_DST_ITER, ARG_DST_ITER_C, N_IO_ARGS };

static const int io_arg_ids[N_IO_ARGS] = {DNNL_ARG_SRC_LAYER, DNNL_ARG_SRC_ITER, DNNL_ARG_SRC_ITER_C,
                                          DNNL_ARG_DST_LAYER, DNNL_ARG_DST_ITER, DNNL_ARG_DST_ITER_C};

#define NO_SCRATCH ((size_t)-1)

struct cr_rnn_dnnl {
    cr_rnn_params p;
    cr_dnnl_prim prim;                 /* primitive, scratchpad, packed weights and biases */
    dnnl_memory_t io_mem[N_IO_ARGS];   /* NULL when the primitive does not take the argument */
    /* Byte offset in the scratch of a stand-in buffer for each argument, or NO_SCRATCH when the
     * argument is bound straight to the ONNX tensor. */
    size_t io_scratch[N_IO_ARGS];
    int n_args;
    dnnl_exec_arg_t args[CR_DNNL_MAX_ARGS + N_IO_ARGS];
};

bool cr_rnn_dnnl_applicable(const cr_op_ctx *ctx, const cr_rnn_params *p)
{
    bool weights_const = ctx->in[CR_RNN_W]->data && ctx->in[CR_RNN_R]->data &&
                         (!p->has_b || ctx->in[CR_RNN_B]->data) && (!p->has_p || ctx->in[CR_RNN_P]->data);
    return weights_const && cr_rnn_default_activations(p) && !p->has_clip && !p->input_forget &&
           p->seq > 0 && p->batch > 0 && p->input > 0;
}

/* ---------------------------------------------------------------------------------------------
 * Weights in oneDNN's gate order
 * ------------------------------------------------------------------------------------------- */

/* The ONNX gate that oneDNN's gate k holds. */
static int onnx_gate(const cr_rnn_params *p, int k)
{
    static const int lstm[4] = {0, 2, 3, 1}; /* oneDNN i, f, c~, o <- ONNX i, o, f, c */
    return p->kind == CR_RNN_LSTM ? lstm[k] : k;
}

/* W or R ([D, G*H, cols] in ONNX) permuted to oneDNN's gate order and packed. */
static cnnrun_status *add_weights(cr_rnn_dnnl *k, const cr_exec_env *env, int arg, const float *src,
                                  int64_t cols)
{
    const cr_rnn_params *p = &k->p;
    const int64_t hs = p->hidden, g = p->gates, d = p->num_dir;
    float *buf = malloc((size_t)(d * g * hs * cols) * sizeof *buf);
    if (!buf) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the weights copy");
    for (int64_t dir = 0; dir < d; dir++)
        for (int gate = 0; gate < g; gate++)
            memcpy(buf + (dir * g + gate) * hs * cols, src + (dir * g + onnx_gate(p, gate)) * hs * cols,
                   (size_t)(hs * cols) * sizeof *buf);
    /* ONNX's [G*H, cols] per direction is oneDNN's ldgoi: dims (l, d, i, g, o) */
    const int64_t dims[5] = {1, d, cols, g, hs};
    const int64_t strides[5] = {d * g * hs * cols, g * hs * cols, 1, hs * cols, cols};
    dnnl_memory_desc_t md;
    cnnrun_status *st = cr_dnnl_md_strided(&md, 5, dims, strides);
    if (!st) st = cr_dnnl_prim_const_arg(&k->prim, env, arg, &md, buf);
    free(buf);
    return st;
}

/* Biases per direction and oneDNN gate: Wb + Rb, or for lbr_gru u, r: Wb + Rb; o: Wb; u': Rb. */
static cnnrun_status *add_bias(cr_rnn_dnnl *k, const cr_exec_env *env, const float *b)
{
    const cr_rnn_params *p = &k->p;
    const int64_t hs = p->hidden, g = p->gates, d = p->num_dir;
    const bool lbr = p->kind == CR_RNN_GRU && p->linear_before_reset;
    const int64_t parts = lbr ? 4 : g;
    float *buf = calloc((size_t)(d * parts * hs), sizeof *buf);
    if (!buf) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the bias");
    if (b)
        for (int64_t dir = 0; dir < d; dir++) {
            const float *wb = b + dir * 2 * g * hs, *rb = wb + g * hs;
            float *dst = buf + dir * parts * hs;
            for (int gate = 0; gate < g; gate++) {
                int q = onnx_gate(p, gate);
                bool rb_here = !(lbr && gate == 2);
                for (int64_t j = 0; j < hs; j++)
                    dst[gate * hs + j] = wb[q * hs + j] + (rb_here ? rb[q * hs + j] : 0.0f);
            }
            if (lbr)
                for (int64_t j = 0; j < hs; j++) dst[3 * hs + j] = rb[2 * hs + j];
        }
    const int64_t dims[4] = {1, d, parts, hs};
    dnnl_memory_desc_t md;
    cnnrun_status *st = cr_dnnl_md_plain(&md, 4, dims);
    if (!st) st = cr_dnnl_prim_const_arg(&k->prim, env, DNNL_ARG_BIAS, &md, buf);
    free(buf);
    return st;
}

/* Peepholes: ONNX P [D, 3H] as i, o, f; oneDNN [1, D, 3, H] as i, f, o. */
static cnnrun_status *add_peepholes(cr_rnn_dnnl *k, const cr_exec_env *env, const float *src)
{
    const int64_t hs = k->p.hidden, d = k->p.num_dir;
    static const int from[3] = {0, 2, 1};
    float *buf = malloc((size_t)(d * 3 * hs) * sizeof *buf);
    if (!buf) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the peepholes");
    for (int64_t dir = 0; dir < d; dir++)
        for (int part = 0; part < 3; part++)
            memcpy(buf + (dir * 3 + part) * hs, src + (dir * 3 + from[part]) * hs, (size_t)hs * sizeof *buf);
    const int64_t dims[4] = {1, d, 3, hs};
    dnnl_memory_desc_t md;
    cnnrun_status *st = cr_dnnl_md_plain(&md, 4, dims);
    if (!st) st = cr_dnnl_prim_const_arg(&k->prim, env, DNNL_ARG_WEIGHTS_PEEPHOLE, &md, buf);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Descriptors
 * ------------------------------------------------------------------------------------------- */

typedef struct rnn_mds {
    dnnl_memory_desc_t io[N_IO_ARGS];
    bool used[N_IO_ARGS];
    dnnl_memory_desc_t w_layer, w_iter, peephole, bias;
} rnn_mds;

static cnnrun_status *make_mds(cr_rnn_dnnl *k, rnn_mds *m)
{
    const cr_rnn_params *p = &k->p;
    const int64_t t = p->seq, n = p->batch, in = p->input, hs = p->hidden, d = p->num_dir;
    const bool lstm = p->kind == CR_RNN_LSTM, lbr = p->kind == CR_RNN_GRU && p->linear_before_reset;
    memset(m, 0, sizeof *m);

    const int64_t src_dims[3] = {t, n, in};
    const int64_t src_strides[3] = {p->layout == 0 ? n * in : in, p->layout == 0 ? in : t * in, 1};
    CR_TRY(cr_dnnl_md_strided(&m->io[ARG_SRC_LAYER], 3, src_dims, src_strides));
    m->used[ARG_SRC_LAYER] = true;

    /* Y straight from oneDNN when its [T, N, D*H] (tnc, or ntc under layout 1) is ONNX's Y */
    const int64_t dst_dims[3] = {t, n, d * hs};
    const bool y_direct = p->has_y && (p->layout == 1 || d == 1);
    const int64_t dst_strides[3] = {p->layout == 1 && y_direct ? d * hs : n * d * hs,
                                    p->layout == 1 && y_direct ? t * d * hs : d * hs, 1};
    CR_TRY(cr_dnnl_md_strided(&m->io[ARG_DST_LAYER], 3, dst_dims, dst_strides));
    m->used[ARG_DST_LAYER] = true;

    const int64_t state_dims[4] = {1, d, n, hs};
    m->used[ARG_SRC_ITER] = p->has_h0 || (lstm && p->has_c0);
    m->used[ARG_SRC_ITER_C] = lstm && m->used[ARG_SRC_ITER];
    m->used[ARG_DST_ITER] = p->has_y_h || (lstm && p->has_y_c);
    m->used[ARG_DST_ITER_C] = lstm && m->used[ARG_DST_ITER];
    for (int a = ARG_SRC_ITER; a < N_IO_ARGS; a++)
        if (a != ARG_DST_LAYER && m->used[a]) CR_TRY(cr_dnnl_md_plain(&m->io[a], 4, state_dims));

    const int64_t wl_dims[5] = {1, d, in, p->gates, hs}, wi_dims[5] = {1, d, hs, p->gates, hs};
    const int64_t bias_dims[4] = {1, d, lbr ? 4 : p->gates, hs}, peep_dims[4] = {1, d, 3, hs};
    CR_TRY(cr_dnnl_md_any(&m->w_layer, 5, wl_dims));
    CR_TRY(cr_dnnl_md_any(&m->w_iter, 5, wi_dims));
    CR_TRY(cr_dnnl_md_plain(&m->bias, 4, bias_dims));
    if (p->has_p) CR_TRY(cr_dnnl_md_plain(&m->peephole, 4, peep_dims));
    return NULL;
}

static const dnnl_memory_desc_t *md_if(const rnn_mds *m, int a)
{
    return m->used[a] ? &m->io[a] : NULL;
}

static cnnrun_status *init_desc(const cr_rnn_dnnl *k, const rnn_mds *m, dnnl_rnn_desc_t *desc)
{
    const cr_rnn_params *p = &k->p;
    dnnl_rnn_direction_t dir = p->num_dir == 2 ? dnnl_bidirectional_concat
                               : p->reverse    ? dnnl_unidirectional_right2left
                                               : dnnl_unidirectional_left2right;
    const dnnl_memory_desc_t *src = &m->io[ARG_SRC_LAYER], *dst = &m->io[ARG_DST_LAYER];
    dnnl_status_t s;
    switch (p->kind) {
    case CR_RNN_LSTM:
        s = dnnl_lstm_forward_desc_init_v2(desc, dnnl_forward_inference, dir, src, md_if(m, ARG_SRC_ITER),
                                           md_if(m, ARG_SRC_ITER_C), &m->w_layer, &m->w_iter,
                                           p->has_p ? &m->peephole : NULL, &m->bias, dst,
                                           md_if(m, ARG_DST_ITER), md_if(m, ARG_DST_ITER_C), 0);
        break;
    case CR_RNN_GRU:
        s = (p->linear_before_reset ? dnnl_lbr_gru_forward_desc_init : dnnl_gru_forward_desc_init)(
            desc, dnnl_forward_inference, dir, src, md_if(m, ARG_SRC_ITER), &m->w_layer, &m->w_iter,
            &m->bias, dst, md_if(m, ARG_DST_ITER), 0);
        break;
    case CR_RNN_VANILLA:
    default: {
        cr_rnn_act_kind a = p->acts[0][0].kind;
        dnnl_alg_kind_t alg = a == CR_ACT_RELU ? dnnl_eltwise_relu
                              : a == CR_ACT_SIGMOID ? dnnl_eltwise_logistic
                                                    : dnnl_eltwise_tanh;
        s = dnnl_vanilla_rnn_forward_desc_init(desc, dnnl_forward_inference, alg, dir, src,
                                               md_if(m, ARG_SRC_ITER), &m->w_layer, &m->w_iter, &m->bias,
                                               dst, md_if(m, ARG_DST_ITER), 0, 0.0f, 0.0f);
        break;
    }
    }
    return cr_dnnl_check(s, "RNN descriptor initialisation");
}

/* ---------------------------------------------------------------------------------------------
 * Scratch stand-ins
 * ------------------------------------------------------------------------------------------- */

static size_t round64(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

/* Decides which arguments go through scratch and where. */
static void plan_scratch(cr_rnn_dnnl *k, const rnn_mds *m, size_t *total)
{
    const cr_rnn_params *p = &k->p;
    const bool lstm = p->kind == CR_RNN_LSTM;
    /* a state tensor can be bound directly when present and laid out as ldnc */
    const bool state_plain = p->layout == 0 || p->num_dir == 1;
    bool direct[N_IO_ARGS] = {
        [ARG_SRC_LAYER] = true,
        [ARG_SRC_ITER] = p->has_h0 && state_plain,
        [ARG_SRC_ITER_C] = lstm && p->has_c0 && state_plain,
        [ARG_DST_LAYER] = p->has_y && (p->layout == 1 || p->num_dir == 1),
        [ARG_DST_ITER] = p->has_y_h && state_plain,
        [ARG_DST_ITER_C] = lstm && p->has_y_c && state_plain,
    };
    size_t off = round64(k->prim.scratch_bytes);
    for (int a = 0; a < N_IO_ARGS; a++) {
        k->io_scratch[a] = NO_SCRATCH;
        if (!m->used[a] || direct[a]) continue;
        k->io_scratch[a] = off;
        off += round64(dnnl_memory_desc_get_size(&m->io[a]));
    }
    *total = off;
}

static cnnrun_status *build(cr_rnn_dnnl *k, const cr_op_ctx *ctx, size_t *scratch_bytes)
{
    const cr_rnn_params *p = &k->p;
    rnn_mds m;
    dnnl_rnn_desc_t desc;
    CR_TRY(make_mds(k, &m));
    CR_TRY(init_desc(k, &m, &desc));
    CR_TRY(cr_dnnl_prim_create(&k->prim, ctx->env, &desc, NULL, ctx->node->op_type));
    CR_TRY(add_weights(k, ctx->env, DNNL_ARG_WEIGHTS_LAYER, ctx->in[CR_RNN_W]->data, p->input));
    CR_TRY(add_weights(k, ctx->env, DNNL_ARG_WEIGHTS_ITER, ctx->in[CR_RNN_R]->data, p->hidden));
    CR_TRY(add_bias(k, ctx->env, p->has_b ? ctx->in[CR_RNN_B]->data : NULL));
    if (p->has_p) CR_TRY(add_peepholes(k, ctx->env, ctx->in[CR_RNN_P]->data));
    for (int i = 0; i < k->prim.n_args; i++) k->args[k->n_args++] = k->prim.args[i];
    for (int a = 0; a < N_IO_ARGS; a++) {
        if (!m.used[a]) continue;
        CR_TRY(cr_dnnl_check(dnnl_memory_create(&k->io_mem[a], &m.io[a], ctx->env->engine, DNNL_MEMORY_NONE),
                             "memory creation"));
        k->args[k->n_args].arg = io_arg_ids[a];
        k->args[k->n_args].memory = k->io_mem[a];
        k->n_args++;
    }
    plan_scratch(k, &m, scratch_bytes);
    return NULL;
}

cnnrun_status *cr_rnn_dnnl_create(const cr_op_ctx *ctx, const cr_rnn_params *p, cr_rnn_dnnl **out,
                                  size_t *scratch_bytes)
{
    *out = NULL;
    cr_rnn_dnnl *k = calloc(1, sizeof *k);
    if (!k) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the oneDNN RNN state");
    k->p = *p;
    cnnrun_status *st = build(k, ctx, scratch_bytes);
    if (st) {
        cr_rnn_dnnl_destroy(k);
        return cr_dnnl_node_error(ctx, st);
    }
    *out = k;
    return NULL;
}

void cr_rnn_dnnl_destroy(cr_rnn_dnnl *k)
{
    if (!k) return;
    for (int a = 0; a < N_IO_ARGS; a++)
        if (k->io_mem[a]) dnnl_memory_destroy(k->io_mem[a]);
    cr_dnnl_prim_destroy(&k->prim);
    free(k);
}

/* ---------------------------------------------------------------------------------------------
 * Run
 * ------------------------------------------------------------------------------------------- */

/* ONNX state [D, N, H] or [N, D, H] -> ldnc [D, N, H]; zeros when absent. */
static void state_in(const cr_rnn_params *p, const float *src, float *dst)
{
    for (int d = 0; d < p->num_dir; d++)
        for (int64_t n = 0; n < p->batch; n++) {
            float *row = dst + (d * p->batch + n) * p->hidden;
            if (src) memcpy(row, src + cr_rnn_state_offset(p, d, n), (size_t)p->hidden * sizeof(float));
            else memset(row, 0, (size_t)p->hidden * sizeof(float));
        }
}

static void state_out(const cr_rnn_params *p, const float *src, float *dst)
{
    if (!dst) return;
    for (int d = 0; d < p->num_dir; d++)
        for (int64_t n = 0; n < p->batch; n++)
            memcpy(dst + cr_rnn_state_offset(p, d, n), src + (d * p->batch + n) * p->hidden,
                   (size_t)p->hidden * sizeof(float));
}

/* oneDNN's [T, N, D*H] -> ONNX Y [T, D, N, H] */
static void y_out(const cr_rnn_params *p, const float *src, float *y)
{
    if (!y) return;
    for (int64_t t = 0; t < p->seq; t++)
        for (int64_t n = 0; n < p->batch; n++)
            for (int d = 0; d < p->num_dir; d++)
                memcpy(y + cr_rnn_y_offset(p, t, d, n), src + ((t * p->batch + n) * p->num_dir + d) * p->hidden,
                       (size_t)p->hidden * sizeof(float));
}

cnnrun_status *cr_rnn_dnnl_run(const cr_op_ctx *ctx, cr_rnn_dnnl *k, const cr_rnn_io *io, void *scratch)
{
    const cr_rnn_params *p = &k->p;
    void *direct[N_IO_ARGS] = {(void *)io->x, (void *)io->h0, (void *)io->c0, io->y, io->y_h, io->y_c};
    float *buf[N_IO_ARGS];
    for (int a = 0; a < N_IO_ARGS; a++) {
        buf[a] = k->io_scratch[a] == NO_SCRATCH ? direct[a] : (float *)((char *)scratch + k->io_scratch[a]);
        if (k->io_mem[a]) dnnl_memory_set_data_handle(k->io_mem[a], buf[a]);
    }
    if (k->io_scratch[ARG_SRC_ITER] != NO_SCRATCH) state_in(p, io->h0, buf[ARG_SRC_ITER]);
    if (k->io_scratch[ARG_SRC_ITER_C] != NO_SCRATCH) state_in(p, io->c0, buf[ARG_SRC_ITER_C]);
    if (k->prim.scratch_bytes > 0) cr_dnnl_prim_set(&k->prim, DNNL_ARG_SCRATCHPAD, scratch);
    cnnrun_status *st = cr_dnnl_check(dnnl_primitive_execute(k->prim.prim, ctx->env->stream, k->n_args, k->args),
                                      "RNN primitive execution");
    if (!st) st = cr_dnnl_check(dnnl_stream_wait(ctx->env->stream), "stream wait");
    if (st) return cr_dnnl_node_error(ctx, st);
    if (k->io_scratch[ARG_DST_LAYER] != NO_SCRATCH) y_out(p, buf[ARG_DST_LAYER], io->y);
    if (k->io_scratch[ARG_DST_ITER] != NO_SCRATCH) state_out(p, buf[ARG_DST_ITER], io->y_h);
    if (k->io_scratch[ARG_DST_ITER_C] != NO_SCRATCH) state_out(p, buf[ARG_DST_ITER_C], io->y_c);
    return NULL;
}

const char *cr_rnn_dnnl_impl(const cr_rnn_dnnl *k)
{
    return cr_dnnl_prim_impl(&k->prim);
}
