/* What the recurrent operators LSTM, GRU and RNN (ONNX opsets 7-17) share: reading and checking
 * their inputs and attributes into one parameter block, the output shapes, and the addressing of
 * ONNX's tensors under both layouts. The two kernels (rnn_reference.c: plain C on oneDNN's sgemm, the
 * reference for everything; rnn_dnnl.c: oneDNN's RNN primitives for the common case) and the
 * dispatch (rnn.c) build on this. */
#ifndef CR_RNN_COMMON_H
#define CR_RNN_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

typedef enum cr_rnn_kind { CR_RNN_VANILLA, CR_RNN_GRU, CR_RNN_LSTM } cr_rnn_kind;

/* Input and output positions, as ONNX numbers them (LSTM has all; GRU and RNN stop at H0, Y_h). */
enum { CR_RNN_X, CR_RNN_W, CR_RNN_R, CR_RNN_B, CR_RNN_SEQ_LENS, CR_RNN_H0, CR_RNN_C0, CR_RNN_P };
enum { CR_RNN_Y, CR_RNN_Y_H, CR_RNN_Y_C };

/* The activation functions the ONNX recurrent operators name, with their alpha/beta. */
typedef enum cr_rnn_act_kind {
    CR_ACT_RELU,
    CR_ACT_TANH,
    CR_ACT_SIGMOID,
    CR_ACT_AFFINE,
    CR_ACT_LEAKY_RELU,
    CR_ACT_THRESHOLDED_RELU,
    CR_ACT_SCALED_TANH,
    CR_ACT_HARD_SIGMOID,
    CR_ACT_ELU,
    CR_ACT_SOFTSIGN,
    CR_ACT_SOFTPLUS,
} cr_rnn_act_kind;

typedef struct cr_rnn_act {
    cr_rnn_act_kind kind;
    float alpha, beta;
} cr_rnn_act;

#define CR_RNN_MAX_ACTS 3 /* per direction: LSTM f,g,h; GRU f,g; RNN f */

typedef struct cr_rnn_params {
    cr_rnn_kind kind;
    int gates;                 /* 4 (LSTM), 3 (GRU), 1 (RNN) */
    int n_acts;                /* activations per direction */
    int num_dir;               /* 1 or 2 */
    bool reverse;              /* direction = "reverse" (one direction, run backwards) */
    int64_t layout;            /* 0: X [T, N, I]; 1: X [N, T, I] (opset 14) */
    int64_t seq, batch, input, hidden; /* T, N, I, H */
    cr_rnn_act acts[2][CR_RNN_MAX_ACTS];
    bool has_clip;
    float clip;
    bool input_forget;         /* LSTM */
    bool linear_before_reset;  /* GRU */
    /* which optional inputs and outputs are present */
    bool has_b, has_seq_lens, has_h0, has_c0, has_p;
    bool has_y, has_y_h, has_y_c;
} cr_rnn_params;

/* Reads and checks the node's inputs (count, dtypes, shapes) and attributes. Everything an ONNX
 * model may legally say is accepted; dtypes other than float32 are refused as unsupported. */
cnnrun_status *cr_rnn_params_of(const cr_op_ctx *ctx, cr_rnn_kind kind, cr_rnn_params *p);

/* Sets the dtype and shape of every present output. */
void cr_rnn_set_outputs(cr_op_ctx *ctx, const cr_rnn_params *p);

/* True when every activation is the one oneDNN's cell of this kind computes: LSTM
 * Sigmoid,Tanh,Tanh; GRU Sigmoid,Tanh; RNN the same one of Relu/Tanh/Sigmoid in each direction. */
bool cr_rnn_default_activations(const cr_rnn_params *p);

/* The tensors of one run. */
typedef struct cr_rnn_io {
    const float *x, *w, *r, *b, *h0, *c0, *p; /* b, h0, c0, p NULL when omitted */
    const void *seq_lens;                     /* int32 or int64, NULL when omitted */
    bool seq_lens_i64;
    float *y, *y_h, *y_c;                     /* NULL when omitted */
} cr_rnn_io;

void cr_rnn_io_of(const cr_op_ctx *ctx, cr_rnn_io *io);

/* Length of batch entry n's sequence (T without sequence_lens). */
int64_t cr_rnn_seq_len(const cr_rnn_params *p, const cr_rnn_io *io, int64_t n);

/* Checks that every sequence length lies in [0, T]; sets *all_full when all equal T. */
cnnrun_status *cr_rnn_check_seq_lens(const cr_op_ctx *ctx, const cr_rnn_params *p,
                                     const cr_rnn_io *io, bool *all_full);

/* The plain-C kernel (rnn_reference.c): every attribute, sequence_lens, weights known only at run.
 * Scratch: what run needs (false if the size overflows). */
bool cr_rnn_reference_scratch(const cr_rnn_params *p, size_t *bytes);
/* Sequence lengths must have passed cr_rnn_check_seq_lens. scratch is 64-byte aligned. */
void cr_rnn_reference_run(const cr_rnn_params *p, const cr_rnn_io *io, void *scratch);

/* The oneDNN kernel (rnn_dnnl.c) for constant weights, the activations oneDNN's cells compute, no
 * clip and no input_forget, every sequence of full length. */
typedef struct cr_rnn_dnnl cr_rnn_dnnl;
bool cr_rnn_dnnl_applicable(const cr_op_ctx *ctx, const cr_rnn_params *p);
/* Creates the primitive and packs the weights; *scratch_bytes is what run needs. */
cnnrun_status *cr_rnn_dnnl_create(const cr_op_ctx *ctx, const cr_rnn_params *p, cr_rnn_dnnl **out,
                                  size_t *scratch_bytes);
cnnrun_status *cr_rnn_dnnl_run(const cr_op_ctx *ctx, cr_rnn_dnnl *k, const cr_rnn_io *io,
                               void *scratch);
void cr_rnn_dnnl_destroy(cr_rnn_dnnl *k);
/* oneDNN's name for the implementation the kernel runs on. */
const char *cr_rnn_dnnl_impl(const cr_rnn_dnnl *k);

/* Element offsets into ONNX's tensors under the node's layout. */
static inline int64_t cr_rnn_x_row(const cr_rnn_params *p, int64_t t, int64_t n)
{
    return p->layout == 0 ? t * p->batch + n : n * p->seq + t;
}

static inline int64_t cr_rnn_y_offset(const cr_rnn_params *p, int64_t t, int d, int64_t n)
{
    return p->layout == 0 ? ((t * p->num_dir + d) * p->batch + n) * p->hidden
                          : ((n * p->seq + t) * p->num_dir + d) * p->hidden;
}

/* initial_h, initial_c, Y_h, Y_c: [D, N, H] (layout 0) or [N, D, H] (layout 1) */
static inline int64_t cr_rnn_state_offset(const cr_rnn_params *p, int d, int64_t n)
{
    return p->layout == 0 ? (d * p->batch + n) * p->hidden : (n * p->num_dir + d) * p->hidden;
}

#endif
