/* The plain-C kernel of LSTM, GRU and RNN: everything the ONNX spec allows (any activation, clip,
 * input_forget, per-entry sequence lengths, weights given at run), and the reference the oneDNN
 * kernel is checked against.
 *
 * Per direction, the input projection of every time step is one gemm ([T*N, I] x
 * [I, G*H]) with the biases folded in; each step then adds one recurrent gemm ([N, H] x [H, G*H])
 * and the element-wise gate arithmetic. A batch entry whose sequence is shorter stops updating its
 * state after its last step (its Y rows beyond are zero); in the reverse direction it starts from
 * its own last step, so its sequence is reversed within its own length. */
#include <math.h>
#include <string.h>

#include "gemm_kernels.h"
#include "rnn_common.h"
#include "vec_math.h"

/* The gate loops are serial: the gemms share the session's threads among themselves, and an
 * OpenMP fork per gate loop of every step costs more than the loop on small states. */

/* ---------------------------------------------------------------------------------------------
 * Activations, applied in place to a gate vector
 * ------------------------------------------------------------------------------------------- */

/* Sigmoid and tanh dominate the gate arithmetic; built on the vectorisable expf so that their
 * loops vectorise. e^-v overflowing to +inf for very negative v gives the right limit, 0. */
static inline float sigmoid(float v)
{
    return 1.0f / (1.0f + cr_fast_expf(-v));
}

/* 1 - 2/(e^2|v| + 1) cancels near 0, so below |v| = 0.25 the odd Taylor series of tanh (to x^11,
 * error under 1e-8 relative there) is used instead. */
static inline float fast_tanh(float v)
{
    float a = fabsf(v), a2 = a * a;
    float series = -1382.0f / 155925.0f;
    series = series * a2 + 62.0f / 2835.0f;
    series = series * a2 - 17.0f / 315.0f;
    series = series * a2 + 2.0f / 15.0f;
    series = series * a2 - 1.0f / 3.0f;
    series = (series * a2 + 1.0f) * v;
    float big = copysignf(1.0f - 2.0f / (cr_fast_expf(2.0f * a) + 1.0f), v);
    return cr_select_f32(a < 0.25f, series, big);
}

static inline float softplus(float v)
{
    return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

CR_VECTOR_CLONES static void activate(const cr_rnn_act *a, float *v, int64_t n)
{
    const float alpha = a->alpha, beta = a->beta;
    switch (a->kind) {
    case CR_ACT_RELU:
        for (int64_t i = 0; i < n; i++) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
        break;
    case CR_ACT_TANH:
        for (int64_t i = 0; i < n; i++) v[i] = fast_tanh(v[i]);
        break;
    case CR_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) v[i] = sigmoid(v[i]);
        break;
    case CR_ACT_AFFINE:
        for (int64_t i = 0; i < n; i++) v[i] = alpha * v[i] + beta;
        break;
    case CR_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) v[i] = v[i] >= 0.0f ? v[i] : alpha * v[i];
        break;
    case CR_ACT_THRESHOLDED_RELU:
        for (int64_t i = 0; i < n; i++) v[i] = v[i] >= alpha ? v[i] : 0.0f;
        break;
    case CR_ACT_SCALED_TANH:
        for (int64_t i = 0; i < n; i++) v[i] = alpha * fast_tanh(beta * v[i]);
        break;
    case CR_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            float s = alpha * v[i] + beta;
            v[i] = s < 0.0f ? 0.0f : (s > 1.0f ? 1.0f : s);
        }
        break;
    case CR_ACT_ELU:
        for (int64_t i = 0; i < n; i++) v[i] = v[i] >= 0.0f ? v[i] : alpha * (expf(v[i]) - 1.0f);
        break;
    case CR_ACT_SOFTSIGN:
        for (int64_t i = 0; i < n; i++) v[i] = v[i] / (1.0f + fabsf(v[i]));
        break;
    case CR_ACT_SOFTPLUS:
        for (int64_t i = 0; i < n; i++) v[i] = softplus(v[i]);
        break;
    }
}

/* clip applies to the input of every activation */
static void clip_then_activate(const cr_rnn_params *p, const cr_rnn_act *a, float *v, int64_t n)
{
    if (p->has_clip) {
        const float c = p->clip;
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < -c ? -c : (v[i] > c ? c : v[i]);
    }
    activate(a, v, n);
}

/* ---------------------------------------------------------------------------------------------
 * Scratch
 * ------------------------------------------------------------------------------------------- */

/* Regions of the scratch, in floats, each rounded up to 64 bytes. */
typedef struct ref_layout {
    size_t proj, rec, h, c, rh, bias, total;
} ref_layout;

static bool round_add(size_t *total, size_t *offset, int64_t floats)
{
    if (floats < 0) return false;
    size_t n = ((size_t)floats + 15) / 16 * 16;
    if (n > CR_MAX_TENSOR_BYTES / sizeof(float) || *total > CR_MAX_TENSOR_BYTES / sizeof(float) - n)
        return false;
    *offset = *total;
    *total += n;
    return true;
}

static bool ref_layout_of(const cr_rnn_params *p, ref_layout *l)
{
    const int64_t gh = p->gates * p->hidden, nh = p->batch * p->hidden;
    int64_t proj_dims[3] = {p->seq, p->batch, gh}, proj, rec;
    int64_t rec_dims[2] = {p->batch, gh};
    if (!cr_shape_count(3, proj_dims, &proj) || !cr_shape_count(2, rec_dims, &rec)) return false;
    l->total = 0;
    return round_add(&l->total, &l->proj, proj) && round_add(&l->total, &l->rec, rec) &&
           round_add(&l->total, &l->h, nh) && round_add(&l->total, &l->c, nh) &&
           round_add(&l->total, &l->rh, nh) && round_add(&l->total, &l->bias, gh);
}

bool cr_rnn_reference_scratch(const cr_rnn_params *p, size_t *bytes)
{
    ref_layout l;
    if (!ref_layout_of(p, &l)) return false;
    *bytes = l.total * sizeof(float);
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * One direction
 * ------------------------------------------------------------------------------------------- */

typedef struct dir_ctx {
    const cr_rnn_params *p;
    const cr_rnn_io *io;
    int d;
    bool backwards;
    const float *w, *r, *wb, *rb, *peep; /* this direction's slices (wb, rb, peep may be NULL) */
    const cr_rnn_act *acts;
    float *proj, *rec, *h, *c, *rh, *bias;
} dir_ctx;

/* proj[row] = X[row] * W^T + the biases that add outside the gates' non-linear parts: Wb and Rb,
 * except the GRU candidate's Rb under linear_before_reset (it is scaled by the reset gate). */
static void project_inputs(const dir_ctx *dc)
{
    const cr_rnn_params *p = dc->p;
    const int64_t gh = p->gates * p->hidden, rows = p->seq * p->batch;
    for (int64_t j = 0; j < gh; j++) {
        float b = dc->wb ? dc->wb[j] : 0.0f;
        bool rb_outside = !(p->kind == CR_RNN_GRU && p->linear_before_reset && j >= 2 * p->hidden);
        if (dc->rb && rb_outside) b += dc->rb[j];
        dc->bias[j] = b;
    }
    if (rows == 0) return;
    if (p->input > 0)
        cr_sgemm(false, true, rows, gh, p->input, dc->io->x, p->input, dc->w, p->input, dc->proj, gh);
    else memset(dc->proj, 0, (size_t)(rows * gh) * sizeof(float));
    float *proj = dc->proj;
    const float *bias = dc->bias;
    for (int64_t row = 0; row < rows; row++)
        for (int64_t j = 0; j < gh; j++) proj[row * gh + j] += bias[j];
}

/* rec[:, col0 : col0 + cols] = state * R[col0 : col0 + cols]^T */
static void recurrent_gemm(const dir_ctx *dc, const float *state, int64_t col0, int64_t cols)
{
    const cr_rnn_params *p = dc->p;
    const int64_t gh = p->gates * p->hidden;
    cr_sgemm(false, true, p->batch, cols, p->hidden, state, p->hidden, dc->r + col0 * p->hidden, p->hidden,
             dc->rec + col0, gh);
}

/* The time index batch entry n reads at step s, or -1 when its sequence has ended. */
static int64_t time_of(const dir_ctx *dc, int64_t s, int64_t n)
{
    int64_t len = cr_rnn_seq_len(dc->p, dc->io, n);
    if (s >= len) return -1;
    return dc->backwards ? len - 1 - s : s;
}

static void write_y(const dir_ctx *dc, int64_t t, int64_t n, const float *h)
{
    if (dc->io->y)
        memcpy(dc->io->y + cr_rnn_y_offset(dc->p, t, dc->d, n), h, (size_t)dc->p->hidden * sizeof(float));
}

static void lstm_cell(const dir_ctx *dc, int64_t t, int64_t n)
{
    const cr_rnn_params *p = dc->p;
    const int64_t hs = p->hidden;
    const float *pre = dc->proj + cr_rnn_x_row(p, t, n) * 4 * hs;
    float *g = dc->rec + n * 4 * hs, *c = dc->c + n * hs, *h = dc->h + n * hs;
    for (int64_t j = 0; j < 4 * hs; j++) g[j] += pre[j];
    float *gi = g, *go = g + hs, *gf = g + 2 * hs, *gc = g + 3 * hs; /* ONNX order i, o, f, c */
    const float *pi = dc->peep, *po = dc->peep ? dc->peep + hs : NULL, *pf = dc->peep ? dc->peep + 2 * hs : NULL;
    if (pi)
        for (int64_t j = 0; j < hs; j++) gi[j] += pi[j] * c[j];
    clip_then_activate(p, &dc->acts[0], gi, hs);
    if (p->input_forget) {
        for (int64_t j = 0; j < hs; j++) gf[j] = 1.0f - gi[j];
    } else {
        if (pf)
            for (int64_t j = 0; j < hs; j++) gf[j] += pf[j] * c[j];
        clip_then_activate(p, &dc->acts[0], gf, hs);
    }
    clip_then_activate(p, &dc->acts[1], gc, hs);
    for (int64_t j = 0; j < hs; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (po)
        for (int64_t j = 0; j < hs; j++) go[j] += po[j] * c[j];
    clip_then_activate(p, &dc->acts[0], go, hs);
    /* h(C) sees the clipped cell state; the state itself is kept unclipped */
    for (int64_t j = 0; j < hs; j++) gc[j] = c[j];
    clip_then_activate(p, &dc->acts[2], gc, hs);
    for (int64_t j = 0; j < hs; j++) h[j] = go[j] * gc[j];
    write_y(dc, t, n, h);
}

/* GRU, first half: the update and reset gates, and r (.) H for the candidate's gemm. */
static void gru_gates(const dir_ctx *dc, int64_t t, int64_t n)
{
    const cr_rnn_params *p = dc->p;
    const int64_t hs = p->hidden;
    const float *pre = dc->proj + cr_rnn_x_row(p, t, n) * 3 * hs;
    float *g = dc->rec + n * 3 * hs;
    for (int64_t j = 0; j < 2 * hs; j++) g[j] += pre[j];
    clip_then_activate(p, &dc->acts[0], g, 2 * hs);
    if (!p->linear_before_reset) {
        const float *r = g + hs, *h = dc->h + n * hs;
        float *rh = dc->rh + n * hs;
        for (int64_t j = 0; j < hs; j++) rh[j] = r[j] * h[j];
    }
}

/* GRU, second half: the candidate and the new state. */
static void gru_update(const dir_ctx *dc, int64_t t, int64_t n)
{
    const cr_rnn_params *p = dc->p;
    const int64_t hs = p->hidden;
    const float *pre = dc->proj + cr_rnn_x_row(p, t, n) * 3 * hs + 2 * hs;
    float *g = dc->rec + n * 3 * hs, *h = dc->h + n * hs;
    const float *z = g, *r = g + hs;
    float *cand = g + 2 * hs;
    if (p->linear_before_reset) {
        for (int64_t j = 0; j < hs; j++)
            cand[j] = pre[j] + r[j] * (cand[j] + (dc->rb ? dc->rb[2 * hs + j] : 0.0f));
    } else {
        for (int64_t j = 0; j < hs; j++) cand[j] += pre[j];
    }
    clip_then_activate(p, &dc->acts[1], cand, hs);
    for (int64_t j = 0; j < hs; j++) h[j] = (1.0f - z[j]) * cand[j] + z[j] * h[j];
    write_y(dc, t, n, h);
}

static void rnn_cell(const dir_ctx *dc, int64_t t, int64_t n)
{
    const cr_rnn_params *p = dc->p;
    const int64_t hs = p->hidden;
    const float *pre = dc->proj + cr_rnn_x_row(p, t, n) * hs;
    float *g = dc->rec + n * hs, *h = dc->h + n * hs;
    for (int64_t j = 0; j < hs; j++) g[j] += pre[j];
    clip_then_activate(p, &dc->acts[0], g, hs);
    memcpy(h, g, (size_t)hs * sizeof(float));
    write_y(dc, t, n, h);
}

typedef void (*cell_fn)(const dir_ctx *dc, int64_t t, int64_t n);

/* Runs fn on every batch entry still inside its sequence at step s. */
static void for_active(const dir_ctx *dc, int64_t s, cell_fn fn)
{
    const int64_t batch = dc->p->batch;
    for (int64_t n = 0; n < batch; n++) {
        int64_t t = time_of(dc, s, n);
        if (t >= 0) fn(dc, t, n);
    }
}

static void load_state(const dir_ctx *dc, const float *init, float *state)
{
    const cr_rnn_params *p = dc->p;
    for (int64_t n = 0; n < p->batch; n++) {
        float *dst = state + n * p->hidden;
        if (init) memcpy(dst, init + cr_rnn_state_offset(p, dc->d, n), (size_t)p->hidden * sizeof(float));
        else memset(dst, 0, (size_t)p->hidden * sizeof(float));
    }
}

/* Y_h / Y_c: the state after each entry's last step; zero for an empty sequence (as ONNX Runtime
 * gives). */
static void store_state(const dir_ctx *dc, const float *state, float *out)
{
    const cr_rnn_params *p = dc->p;
    if (!out) return;
    for (int64_t n = 0; n < p->batch; n++) {
        float *dst = out + cr_rnn_state_offset(p, dc->d, n);
        if (cr_rnn_seq_len(p, dc->io, n) == 0) memset(dst, 0, (size_t)p->hidden * sizeof(float));
        else memcpy(dst, state + n * p->hidden, (size_t)p->hidden * sizeof(float));
    }
}

static void zero_y_beyond_lengths(const dir_ctx *dc)
{
    const cr_rnn_params *p = dc->p;
    if (!dc->io->y) return;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t t = cr_rnn_seq_len(p, dc->io, n); t < p->seq; t++)
            memset(dc->io->y + cr_rnn_y_offset(p, t, dc->d, n), 0, (size_t)p->hidden * sizeof(float));
}

static void run_direction(const dir_ctx *dc)
{
    const cr_rnn_params *p = dc->p;
    const int64_t hs = p->hidden, gh = p->gates * hs;
    project_inputs(dc);
    load_state(dc, dc->io->h0, dc->h);
    if (p->kind == CR_RNN_LSTM) load_state(dc, dc->io->c0, dc->c);
    zero_y_beyond_lengths(dc);
    if (p->batch > 0) {
        /* entries that have ended keep a zero r (.) H row, so the gemm reads defined values */
        memset(dc->rh, 0, (size_t)(p->batch * hs) * sizeof(float));
        for (int64_t s = 0; s < p->seq; s++) {
            switch (p->kind) {
            case CR_RNN_LSTM:
                recurrent_gemm(dc, dc->h, 0, gh);
                for_active(dc, s, lstm_cell);
                break;
            case CR_RNN_GRU:
                recurrent_gemm(dc, dc->h, 0, p->linear_before_reset ? gh : 2 * hs);
                for_active(dc, s, gru_gates);
                if (!p->linear_before_reset) recurrent_gemm(dc, dc->rh, 2 * hs, hs);
                for_active(dc, s, gru_update);
                break;
            case CR_RNN_VANILLA:
                recurrent_gemm(dc, dc->h, 0, gh);
                for_active(dc, s, rnn_cell);
                break;
            }
        }
    }
    store_state(dc, dc->h, dc->io->y_h);
    if (p->kind == CR_RNN_LSTM) store_state(dc, dc->c, dc->io->y_c);
}

void cr_rnn_reference_run(const cr_rnn_params *p, const cr_rnn_io *io, void *scratch)
{
    ref_layout l;
    if (!ref_layout_of(p, &l)) return; /* prepare checked the same sizes */
    float *base = scratch;
    const int64_t gh = p->gates * p->hidden;
    for (int d = 0; d < p->num_dir; d++) {
        dir_ctx dc = {
            .p = p,
            .io = io,
            .d = d,
            .backwards = p->reverse || d == 1,
            .w = io->w + d * gh * p->input,
            .r = io->r + d * gh * p->hidden,
            .wb = io->b ? io->b + d * 2 * gh : NULL,
            .rb = io->b ? io->b + d * 2 * gh + gh : NULL,
            .peep = io->p ? io->p + d * 3 * p->hidden : NULL,
            .acts = p->acts[d],
            .proj = base + l.proj,
            .rec = base + l.rec,
            .h = base + l.h,
            .c = base + l.c,
            .rh = base + l.rh,
            .bias = base + l.bias,
        };
        run_direction(&dc);
    }
}
