/* Inputs, attributes and output shapes of LSTM, GRU and RNN (ONNX opsets 7-17). */
#include "rnn_common.h"

#include <ctype.h>
#include <string.h>

#include "op_util.h"

static const char *const kind_names[] = {"RNN", "GRU", "LSTM"};

/* ---------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------- */

typedef struct act_info {
    const char *name;
    cr_rnn_act_kind kind;
    int n_params;           /* how many of alpha, beta it takes from the attribute lists */
    float alpha, beta;      /* defaults, those of the ONNX operator of the same name */
} act_info;

static const act_info act_table[] = {
    {"Relu", CR_ACT_RELU, 0, 0.0f, 0.0f},
    {"Tanh", CR_ACT_TANH, 0, 0.0f, 0.0f},
    {"Sigmoid", CR_ACT_SIGMOID, 0, 0.0f, 0.0f},
    {"Affine", CR_ACT_AFFINE, 2, 1.0f, 0.0f},
    {"LeakyRelu", CR_ACT_LEAKY_RELU, 1, 0.01f, 0.0f},
    {"ThresholdedRelu", CR_ACT_THRESHOLDED_RELU, 1, 1.0f, 0.0f},
    {"ScaledTanh", CR_ACT_SCALED_TANH, 2, 1.0f, 1.0f},
    {"HardSigmoid", CR_ACT_HARD_SIGMOID, 2, 0.2f, 0.5f},
    {"Elu", CR_ACT_ELU, 1, 1.0f, 0.0f},
    {"Softsign", CR_ACT_SOFTSIGN, 0, 0.0f, 0.0f},
    {"Softplus", CR_ACT_SOFTPLUS, 0, 0.0f, 0.0f},
};

/* Exporters disagree on capitalisation ("tanh" vs "Tanh"); ONNX Runtime ignores case too. */
static bool same_name_ignoring_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

static const act_info *find_act(const char *name)
{
    for (size_t i = 0; i < sizeof act_table / sizeof *act_table; i++)
        if (same_name_ignoring_case(name, act_table[i].name)) return &act_table[i];
    return NULL;
}

static void set_default_acts(cr_rnn_params *p)
{
    static const cr_rnn_act_kind defaults[3][CR_RNN_MAX_ACTS] = {
        [CR_RNN_VANILLA] = {CR_ACT_TANH},
        [CR_RNN_GRU] = {CR_ACT_SIGMOID, CR_ACT_TANH},
        [CR_RNN_LSTM] = {CR_ACT_SIGMOID, CR_ACT_TANH, CR_ACT_TANH},
    };
    for (int d = 0; d < 2; d++)
        for (int a = 0; a < p->n_acts; a++)
            p->acts[d][a] = (cr_rnn_act){defaults[p->kind][a], 0.0f, 0.0f};
}

/* activations, activation_alpha, activation_beta. The alpha and beta lists are consumed in the
 * order of the activations, each function taking as many values as it has parameters (one for
 * LeakyRelu, two for HardSigmoid...), which is how ONNX Runtime reads them. A list that runs out
 * leaves the defaults of the ONNX operator of the same name, as the spec says (ONNX Runtime
 * differs for Affine, ScaledTanh and ThresholdedRelu, where it uses 0). */
static cnnrun_status *read_activations(const cr_op_ctx *ctx, cr_rnn_params *p)
{
    set_default_acts(p);
    const cr_attr *names = cr_node_attr(ctx->node, "activations");
    if (!names) return NULL;
    if (names->type != CR_ATTR_STRINGS)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'activations' must be a list of strings");
    size_t want = (size_t)p->n_acts * (size_t)p->num_dir;
    /* one direction's list for a bidirectional node applies to both directions */
    if (names->count != want && !(p->num_dir == 2 && names->count == (size_t)p->n_acts))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'activations' has %zu names; %s with %d direction(s) takes %zu",
                           names->count, kind_names[p->kind], p->num_dir, want);
    const float *alphas = NULL, *betas = NULL;
    size_t n_alpha = 0, n_beta = 0, next_alpha = 0, next_beta = 0;
    CR_TRY(cr_attr_floats(ctx->node, "activation_alpha", &alphas, &n_alpha));
    CR_TRY(cr_attr_floats(ctx->node, "activation_beta", &betas, &n_beta));
    for (size_t i = 0; i < names->count; i++) {
        const act_info *info = find_act(names->strings[i]);
        if (!info)
            return cr_op_unsupported_attr(ctx, "activations",
                                          "an activation is not one ONNX defines for recurrent ops "
                                          "(Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, "
                                          "ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)");
        cr_rnn_act act = {info->kind, info->alpha, info->beta};
        if (info->n_params >= 1 && next_alpha < n_alpha) act.alpha = alphas[next_alpha++];
        if (info->n_params >= 2 && next_beta < n_beta) act.beta = betas[next_beta++];
        p->acts[i / (size_t)p->n_acts][i % (size_t)p->n_acts] = act;
    }
    if (names->count < want)
        for (int a = 0; a < p->n_acts; a++) p->acts[1][a] = p->acts[0][a];
    return NULL;
}

bool cr_rnn_default_activations(const cr_rnn_params *p)
{
    for (int d = 0; d < p->num_dir; d++)
        for (int a = 0; a < p->n_acts; a++) {
            cr_rnn_act_kind k = p->acts[d][a].kind;
            switch (p->kind) {
            case CR_RNN_LSTM:
            case CR_RNN_GRU:
                if (k != (a == 0 ? CR_ACT_SIGMOID : CR_ACT_TANH)) return false;
                break;
            case CR_RNN_VANILLA:
                if (k != CR_ACT_RELU && k != CR_ACT_TANH && k != CR_ACT_SIGMOID) return false;
                if (k != p->acts[0][0].kind) return false;
                break;
            }
        }
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Attributes and inputs
 * ------------------------------------------------------------------------------------------- */

static cnnrun_status *read_bool_attr(const cr_op_ctx *ctx, const char *name, bool *out)
{
    int64_t v;
    CR_TRY(cr_attr_int(ctx->node, name, 0, &v));
    if (v != 0 && v != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute '%s' must be 0 or 1, found %lld",
                           name, (long long)v);
    *out = v == 1;
    return NULL;
}

static cnnrun_status *read_attributes(const cr_op_ctx *ctx, cr_rnn_params *p)
{
    const char *direction;
    CR_TRY(cr_attr_string(ctx->node, "direction", "forward", &direction));
    if (strcmp(direction, "forward") == 0) p->num_dir = 1;
    else if (strcmp(direction, "reverse") == 0) {
        p->num_dir = 1;
        p->reverse = true;
    } else if (strcmp(direction, "bidirectional") == 0) p->num_dir = 2;
    else
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'direction' = '%s'; expected forward, reverse or bidirectional",
                           direction);

    if (ctx->opset >= 14) CR_TRY(cr_attr_int(ctx->node, "layout", 0, &p->layout));
    else if (cr_node_attr(ctx->node, "layout"))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'layout' only exists from opset 14");
    if (p->layout != 0 && p->layout != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'layout' must be 0 or 1, found %lld",
                           (long long)p->layout);

    const cr_attr *clip = cr_node_attr(ctx->node, "clip");
    if (clip) {
        CR_TRY(cr_attr_float(ctx->node, "clip", 0.0f, &p->clip));
        if (!(p->clip > 0.0f))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute 'clip' must be a positive threshold, found %g", (double)p->clip);
        p->has_clip = true;
    }
    if (p->kind == CR_RNN_LSTM) CR_TRY(read_bool_attr(ctx, "input_forget", &p->input_forget));
    if (p->kind == CR_RNN_GRU) CR_TRY(read_bool_attr(ctx, "linear_before_reset", &p->linear_before_reset));
    return read_activations(ctx, p);
}

static cnnrun_status *check_shape(const cr_op_ctx *ctx, int input, const char *role, int rank,
                                  const int64_t *dims)
{
    const cr_tensor *t = ctx->in[input];
    if (cr_shape_equal(t->rank, t->dims, rank, dims)) return NULL;
    char found[128], want[128];
    return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "input %d (%s) has shape %s; expected %s",
                       input, role, cr_shape_str(t->rank, t->dims, found, sizeof found),
                       cr_shape_str(rank, dims, want, sizeof want));
}

static bool present(const cr_op_ctx *ctx, int input)
{
    return input < ctx->n_in && ctx->in[input] != NULL;
}

static cnnrun_status *check_dtypes(const cr_op_ctx *ctx)
{
    static const cnnrun_dtype f32_only[] = {CNNRUN_FLOAT32, CNNRUN_DTYPE_UNDEFINED};
    static const cnnrun_dtype lens[] = {CNNRUN_INT32, CNNRUN_INT64, CNNRUN_DTYPE_UNDEFINED};
    for (int i = 0; i < ctx->n_in; i++)
        CR_TRY(cr_op_check_dtype(ctx, i, i == CR_RNN_SEQ_LENS ? lens : f32_only));
    return NULL;
}

cnnrun_status *cr_rnn_params_of(const cr_op_ctx *ctx, cr_rnn_kind kind, cr_rnn_params *p)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->gates = kind == CR_RNN_LSTM ? 4 : kind == CR_RNN_GRU ? 3 : 1;
    p->n_acts = kind == CR_RNN_LSTM ? 3 : kind == CR_RNN_GRU ? 2 : 1;
    int max_in = kind == CR_RNN_LSTM ? 8 : 6, max_out = kind == CR_RNN_LSTM ? 3 : 2;
    if (ctx->opset < 7)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "%s is supported from opset 7 (earlier versions have 'output_sequence')",
                           kind_names[kind]);
    CR_TRY(cr_op_check_inputs(ctx, 3, max_in));
    if (ctx->n_out > max_out)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected at most %d outputs, found %d",
                           max_out, ctx->n_out);
    CR_TRY(check_dtypes(ctx));
    CR_TRY(read_attributes(ctx, p));

    const cr_tensor *x = ctx->in[CR_RNN_X], *w = ctx->in[CR_RNN_W], *r = ctx->in[CR_RNN_R];
    char sx[128], sw[128], sr[128];
    cr_shape_str(x->rank, x->dims, sx, sizeof sx);
    cr_shape_str(w->rank, w->dims, sw, sizeof sw);
    cr_shape_str(r->rank, r->dims, sr, sizeof sr);
    if (x->rank != 3 || w->rank != 3 || r->rank != 3)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "X %s, W %s and R %s must all have rank 3",
                           sx, sw, sr);
    p->seq = x->dims[p->layout == 0 ? 0 : 1];
    p->batch = x->dims[p->layout == 0 ? 1 : 0];
    p->input = x->dims[2];
    int64_t hidden;
    CR_TRY(cr_attr_int(ctx->node, "hidden_size", r->dims[2], &hidden));
    if (hidden < 1 || hidden > ((int64_t)1 << 24))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'hidden_size' = %lld is out of range",
                           (long long)hidden);
    p->hidden = hidden;
    const int64_t gh = p->gates * hidden, d = p->num_dir;
    if (w->dims[0] != d || r->dims[0] != d)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "W %s and R %s must have %lld direction(s) in dim 0 (direction attribute)",
                           sw, sr, (long long)d);
    const int64_t w_dims[3] = {d, gh, p->input}, r_dims[3] = {d, gh, hidden};
    CR_TRY(check_shape(ctx, CR_RNN_W, "W", 3, w_dims));
    CR_TRY(check_shape(ctx, CR_RNN_R, "R", 3, r_dims));
    /* T * N * G * H sized buffers are used: bound them before anything multiplies them */
    int64_t proj_dims[3] = {p->seq, p->batch, gh}, count;
    if (!cr_shape_count(3, proj_dims, &count) || (uint64_t)count > CR_MAX_TENSOR_BYTES / sizeof(float))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "X %s with hidden_size %lld is too large",
                           sx, (long long)hidden);

    p->has_b = present(ctx, CR_RNN_B);
    p->has_seq_lens = present(ctx, CR_RNN_SEQ_LENS);
    p->has_h0 = present(ctx, CR_RNN_H0);
    p->has_c0 = present(ctx, CR_RNN_C0);
    p->has_p = present(ctx, CR_RNN_P);
    if (p->has_b) {
        const int64_t b_dims[2] = {d, 2 * gh};
        CR_TRY(check_shape(ctx, CR_RNN_B, "B", 2, b_dims));
    }
    if (p->has_seq_lens) CR_TRY(check_shape(ctx, CR_RNN_SEQ_LENS, "sequence_lens", 1, &p->batch));
    const int64_t state_dims[3] = {p->layout == 0 ? d : p->batch, p->layout == 0 ? p->batch : d, hidden};
    if (p->has_h0) CR_TRY(check_shape(ctx, CR_RNN_H0, "initial_h", 3, state_dims));
    if (p->has_c0) CR_TRY(check_shape(ctx, CR_RNN_C0, "initial_c", 3, state_dims));
    if (p->has_p) {
        const int64_t p_dims[2] = {d, 3 * hidden};
        CR_TRY(check_shape(ctx, CR_RNN_P, "P", 2, p_dims));
    }
    p->has_y = ctx->n_out > CR_RNN_Y && ctx->out[CR_RNN_Y];
    p->has_y_h = ctx->n_out > CR_RNN_Y_H && ctx->out[CR_RNN_Y_H];
    p->has_y_c = ctx->n_out > CR_RNN_Y_C && ctx->out[CR_RNN_Y_C];
    return NULL;
}

void cr_rnn_set_outputs(cr_op_ctx *ctx, const cr_rnn_params *p)
{
    const int64_t d = p->num_dir;
    if (p->has_y) {
        int64_t y0[4] = {p->seq, d, p->batch, p->hidden}, y1[4] = {p->batch, p->seq, d, p->hidden};
        cr_set_output(ctx, CR_RNN_Y, CNNRUN_FLOAT32, 4, p->layout == 0 ? y0 : y1);
    }
    int64_t s0[3] = {d, p->batch, p->hidden}, s1[3] = {p->batch, d, p->hidden};
    if (p->has_y_h) cr_set_output(ctx, CR_RNN_Y_H, CNNRUN_FLOAT32, 3, p->layout == 0 ? s0 : s1);
    if (p->has_y_c) cr_set_output(ctx, CR_RNN_Y_C, CNNRUN_FLOAT32, 3, p->layout == 0 ? s0 : s1);
}

/* ---------------------------------------------------------------------------------------------
 * Run-time tensors
 * ------------------------------------------------------------------------------------------- */

static const void *in_data(const cr_op_ctx *ctx, int input)
{
    return present(ctx, input) ? ctx->in[input]->data : NULL;
}

static float *out_data(const cr_op_ctx *ctx, int output)
{
    return output < ctx->n_out && ctx->out[output] ? ctx->out[output]->data : NULL;
}

void cr_rnn_io_of(const cr_op_ctx *ctx, cr_rnn_io *io)
{
    io->x = in_data(ctx, CR_RNN_X);
    io->w = in_data(ctx, CR_RNN_W);
    io->r = in_data(ctx, CR_RNN_R);
    io->b = in_data(ctx, CR_RNN_B);
    io->seq_lens = in_data(ctx, CR_RNN_SEQ_LENS);
    io->seq_lens_i64 = io->seq_lens && ctx->in[CR_RNN_SEQ_LENS]->dtype == CNNRUN_INT64;
    io->h0 = in_data(ctx, CR_RNN_H0);
    io->c0 = in_data(ctx, CR_RNN_C0);
    io->p = in_data(ctx, CR_RNN_P);
    io->y = out_data(ctx, CR_RNN_Y);
    io->y_h = out_data(ctx, CR_RNN_Y_H);
    io->y_c = out_data(ctx, CR_RNN_Y_C);
}

int64_t cr_rnn_seq_len(const cr_rnn_params *p, const cr_rnn_io *io, int64_t n)
{
    if (!io->seq_lens) return p->seq;
    return io->seq_lens_i64 ? ((const int64_t *)io->seq_lens)[n] : ((const int32_t *)io->seq_lens)[n];
}

cnnrun_status *cr_rnn_check_seq_lens(const cr_op_ctx *ctx, const cr_rnn_params *p,
                                     const cr_rnn_io *io, bool *all_full)
{
    *all_full = true;
    for (int64_t n = 0; n < p->batch; n++) {
        int64_t len = cr_rnn_seq_len(p, io, n);
        if (len < 0 || len > p->seq)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "sequence_lens[%lld] = %lld is outside [0, %lld] (the sequence length of X)",
                               (long long)n, (long long)len, (long long)p->seq);
        if (len != p->seq) *all_full = false;
    }
    return NULL;
}
