/* LSTM, GRU, SimpleRNN and Bidirectional as ONNX LSTM/GRU/RNN nodes in batch-major layout
 * (layout = 1, so Keras's (batch, time, features) needs no transpose), with the weights converted
 * at load: Keras gates i,f,c,o -> ONNX i,o,f,c for LSTM, GRU z,r,h kept, GRU's reset_after bias
 * split into ONNX's input and recurrent halves. */
#include <stdio.h>
#include <string.h>

#include "keras_lower.h"
#include "keras_lower_internal.h"
#include "weight_layout.h"

enum { RNN_SIMPLE, RNN_GRU, RNN_LSTM };
static const char *const onnx_op[] = {"RNN", "GRU", "LSTM"};
static const int gates[] = {1, 3, 4};

typedef struct rnn_cfg {
    int kind;
    int64_t units;
    bool use_bias, return_sequences, return_state, go_backwards, reset_after;
    const char *act, *rec_act;
} rnn_cfg;

static cnnrun_status *read_rnn_cfg(const cr_klayer *C, rnn_cfg *r)
{
    memset(r, 0, sizeof *r);
    r->kind = strcmp(C->class_name, "LSTM") == 0 ? RNN_LSTM : strcmp(C->class_name, "GRU") == 0 ? RNN_GRU
            : strcmp(C->class_name, "SimpleRNN") == 0 ? RNN_SIMPLE : -1;
    if (r->kind < 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "wrapped layer class '%s' is not supported", C->class_name);
    bool stateful, time_major;
    CR_TRY(cr_kcfg_int(C, "units", 0, &r->units));
    if (r->units <= 0 || r->units > (1 << 24)) return cr_kcfg_refuse(C, "units", "must be positive");
    CR_TRY(cr_kcfg_bool(C, "use_bias", true, &r->use_bias));
    CR_TRY(cr_kcfg_bool(C, "return_sequences", false, &r->return_sequences));
    CR_TRY(cr_kcfg_bool(C, "return_state", false, &r->return_state));
    CR_TRY(cr_kcfg_bool(C, "go_backwards", false, &r->go_backwards));
    CR_TRY(cr_kcfg_bool(C, "reset_after", true, &r->reset_after));
    CR_TRY(cr_kcfg_bool(C, "stateful", false, &stateful));
    CR_TRY(cr_kcfg_bool(C, "time_major", false, &time_major));
    if (stateful) return cr_kcfg_refuse(C, "stateful", "state kept between calls has no place in an inference graph");
    if (time_major) return cr_kcfg_refuse(C, "time_major", "only batch-major sequences are implemented");
    CR_TRY(cr_kcfg_string(C, "activation", "tanh", &r->act));
    CR_TRY(cr_kcfg_string(C, "recurrent_activation", "sigmoid", &r->rec_act));
    return NULL;
}

/* Keras activation name -> ONNX recurrent activation, with its alpha/beta (n_params of them). */
static cnnrun_status *rnn_activation(const cr_klower *lw, const char *keras, const char **onnx, float *alpha,
                                     float *beta, int *n_params)
{
    *n_params = 0;
    *alpha = *beta = 0.0f;
    static const struct { const char *keras, *onnx; } plain[] = {
        {"tanh", "Tanh"}, {"sigmoid", "Sigmoid"}, {"relu", "Relu"}, {"softsign", "Softsign"}, {"softplus", "Softplus"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(keras, plain[i].keras) == 0) {
            *onnx = plain[i].onnx;
            return NULL;
        }
    if (strcmp(keras, "hard_sigmoid") == 0) {
        *onnx = "HardSigmoid";
        *alpha = lw->keras_major >= 3 ? 1.0f / 6.0f : 0.2f;
        *beta = 0.5f;
        *n_params = 2;
        return NULL;
    }
    if (strcmp(keras, "linear") == 0) {
        *onnx = "Affine";
        *alpha = 1.0f;
        *n_params = 2;
        return NULL;
    }
    if (strcmp(keras, "elu") == 0) {
        *onnx = "Elu";
        *alpha = 1.0f;
        *n_params = 1;
        return NULL;
    }
    return cr_error(CNNRUN_ERR_UNSUPPORTED, "recurrent activation '%s' is not supported", keras);
}

/* ONNX's activations attribute: LSTM f, g, h = recurrent, activation, activation; GRU f, g;
 * RNN the activation; repeated per direction. */
static cnnrun_status *activation_attrs(cr_klower *lw, int node, const rnn_cfg *r, int num_dir)
{
    const char *names[6];
    float alphas[6], betas[6];
    int n = 0, na = 0, nb = 0;
    const char *keras[3] = {r->rec_act, r->act, r->act};
    int per_dir = r->kind == RNN_LSTM ? 3 : r->kind == RNN_GRU ? 2 : 1;
    if (r->kind == RNN_SIMPLE) keras[0] = r->act;
    for (int d = 0; d < num_dir; d++)
        for (int i = 0; i < per_dir; i++) {
            float a, b;
            int np;
            CR_TRY(rnn_activation(lw, keras[i], &names[n], &a, &b, &np));
            n++;
            if (np >= 1) alphas[na++] = a;
            if (np >= 2) betas[nb++] = b;
        }
    CR_TRY(cr_gb_attr_strings(lw->gb, node, "activations", names, n));
    if (na) CR_TRY(cr_gb_attr_floats(lw->gb, node, "activation_alpha", alphas, na));
    if (nb) CR_TRY(cr_gb_attr_floats(lw->gb, node, "activation_beta", betas, nb));
    return NULL;
}

/* Fills direction d of W (D, G*u, in), R (D, G*u, u), B (D, 2*G*u) from the layer's weights
 * first..first+2 (or first+1 without bias). */
static cnnrun_status *direction_weights(const cr_klayer *L, int first, const rnn_cfg *r, int64_t fan_in, int d,
                                        cr_tensor *W, cr_tensor *R, cr_tensor *B)
{
    int64_t u = r->units, g = gates[r->kind], gu = g * u;
    const int64_t kd[2] = {fan_in, gu}, rd[2] = {u, gu};
    cr_tensor *k, *rk, *b = NULL;
    CR_TRY(cr_kweight(L, first, 2, kd, &k));
    CR_TRY(cr_kweight(L, first + 1, 2, rd, &rk));
    float *w = (float *)W->data + d * gu * fan_in, *rr = (float *)R->data + d * gu * u;
    float *bb = (float *)B->data + d * 2 * gu;
    memset(bb, 0, (size_t)(2 * gu) * sizeof *bb);
    static const int transpose2[2] = {1, 0};
    if (r->kind == RNN_LSTM) {
        CR_TRY(cnnrun_lstm_weights_to_onnx(k->data, fan_in, u, CNNRUN_LSTM_KERAS, w));
        CR_TRY(cnnrun_lstm_weights_to_onnx(rk->data, u, u, CNNRUN_LSTM_KERAS, rr));
    } else {
        cr_permute_f32(k->data, 2, kd, transpose2, w);
        cr_permute_f32(rk->data, 2, rd, transpose2, rr);
    }
    if (!r->use_bias) return NULL;
    if (r->kind == RNN_GRU) {
        const int64_t bd2[2] = {2, gu};
        if (r->reset_after) CR_TRY(cr_kweight(L, first + 2, 2, bd2, &b));
        else CR_TRY(cr_kweight(L, first + 2, 1, &gu, &b));
        return cnnrun_gru_bias_to_onnx(b->data, u, r->reset_after, bb);
    }
    CR_TRY(cr_kweight(L, first + 2, 1, &gu, &b));
    if (r->kind == RNN_LSTM) return cnnrun_lstm_weights_to_onnx(b->data, 1, u, CNNRUN_LSTM_KERAS, bb);
    memcpy(bb, b->data, (size_t)u * sizeof *bb);
    return NULL;
}

/* The ONNX node for one or two directions; fwd and bwd are the configs (bwd NULL: one direction
 * whose weights start at 0). Its outputs Y, Y_h, Y_c go to y[0..2]. */
static cnnrun_status *emit_rnn(cr_klower *lw, const cr_klayer *L, cr_kt *x, const rnn_cfg *fwd, const rnn_cfg *bwd,
                               int *y)
{
    int64_t fan_in = x->shape[2], u = fwd->units, gu = gates[fwd->kind] * u;
    int num_dir = bwd ? 2 : 1;
    if (x->rank != 3) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects (batch, time, features), found rank %d", x->rank);
    if (fan_in <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the input's feature dim is not fixed");
    int per_dir = fwd->use_bias ? 3 : 2;
    CR_TRY(cr_kweights_count(L, per_dir * num_dir));
    const int64_t wd[3] = {num_dir, gu, fan_in}, rd[3] = {num_dir, gu, u}, bd[2] = {num_dir, 2 * gu};
    cr_tensor *W = NULL, *R = NULL, *B = NULL;
    cnnrun_status *st = cr_kconst_new(L->name, 3, wd, &W);
    if (!st) st = cr_kconst_new(L->name, 3, rd, &R);
    if (!st) st = cr_kconst_new(L->name, 2, bd, &B);
    if (!st) st = direction_weights(L, 0, fwd, fan_in, 0, W, R, B);
    if (!st && bwd) st = direction_weights(L, per_dir, bwd, fan_in, 1, W, R, B);
    int in[4] = {-1, -1, -1, -1};
    if (!st) st = cr_kt_keras(lw, L->name, x, &in[0]);
    if (st) {
        cr_tensor_free(W);
        cr_tensor_free(R);
        cr_tensor_free(B);
        return st;
    }
    st = cr_gb_constant(lw->gb, L->name, W, true, &in[1]);
    if (st) {
        cr_tensor_free(R);
        cr_tensor_free(B);
        return st;
    }
    st = cr_gb_constant(lw->gb, L->name, R, true, &in[2]);
    if (st) {
        cr_tensor_free(B);
        return st;
    }
    CR_TRY(cr_gb_constant(lw->gb, L->name, B, true, &in[3]));
    int n_out = fwd->kind == RNN_LSTM ? 3 : 2, node;
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/%s", L->name, onnx_op[fwd->kind]);
    for (int i = 0; i < n_out; i++) CR_TRY(cr_gb_temp(lw->gb, nm, &y[i]));
    CR_TRY(cr_gb_node(lw->gb, onnx_op[fwd->kind], nm, in, 4, y, n_out, &node));
    CR_TRY(cr_gb_attr_int(lw->gb, node, "hidden_size", u));
    CR_TRY(cr_gb_attr_int(lw->gb, node, "layout", 1));
    CR_TRY(cr_gb_attr_string(lw->gb, node, "direction", bwd ? "bidirectional" : fwd->go_backwards ? "reverse" : "forward"));
    if (fwd->kind == RNN_GRU) CR_TRY(cr_gb_attr_int(lw->gb, node, "linear_before_reset", fwd->reset_after));
    return activation_attrs(lw, node, fwd, num_dir);
}

/* A Keras tensor from value v (Keras layout) of the given shape. */
static void kt_set(cr_kt *t, int v, int rank, int64_t d0, int64_t d1, int64_t d2)
{
    memset(t, 0, sizeof *t);
    t->v = v;
    t->v_cf = -1;
    t->rank = rank;
    t->dtype = CNNRUN_FLOAT32;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
}

static cnnrun_status *reshape(cr_klower *lw, const cr_klayer *L, int x, const int64_t *target, int n, int *y)
{
    int in[2] = {x, -1}, node;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, target, n, &in[1]));
    return cr_kop(lw, L, "Reshape", in, 2, &node, y);
}

/* Reverses axis 1 (time): Keras's go_backwards sequences come out in the order processed. */
static cnnrun_status *reverse_time(cr_klower *lw, const cr_klayer *L, int x, int *y)
{
    static const int64_t start = -1, end = INT64_MIN, axis = 1, step = -1;
    int in[5] = {x}, node;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, &start, 1, &in[1]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, &end, 1, &in[2]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, &axis, 1, &in[3]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, &step, 1, &in[4]));
    return cr_kop(lw, L, "Slice", in, 5, &node, y);
}

cnnrun_status *cr_klower_rnn(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out, int *n_out)
{
    (void)n_in;
    rnn_cfg r;
    CR_TRY(read_rnn_cfg(L, &r));
    cr_kt *x = in[0];
    int y[3];
    CR_TRY(emit_rnn(lw, L, x, &r, NULL, y));
    static const int64_t seq[3] = {0, 0, -1}, last[2] = {0, -1};
    int v;
    if (r.return_sequences) {
        CR_TRY(reshape(lw, L, y[0], seq, 3, &v));
        if (r.go_backwards) CR_TRY(reverse_time(lw, L, v, &v));
        kt_set(&out[0], v, 3, x->shape[0], x->shape[1], r.units);
    } else {
        CR_TRY(reshape(lw, L, y[1], last, 2, &v));
        kt_set(&out[0], v, 2, x->shape[0], r.units, 0);
    }
    *n_out = 1;
    if (r.return_state) {
        for (int s = 1; s < (r.kind == RNN_LSTM ? 3 : 2); s++) {
            CR_TRY(reshape(lw, L, y[s], last, 2, &v));
            kt_set(&out[s], v, 2, x->shape[0], r.units, 0);
            (*n_out)++;
        }
    }
    return NULL;
}

cnnrun_status *cr_klower_bidirectional(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                       int *n_out)
{
    (void)n_in;
    json_t *inner = json_object_get(L->config, "layer");
    json_t *back = json_object_get(L->config, "backward_layer");
    if (!json_is_object(inner) || !json_is_string(json_object_get(inner, "class_name")) ||
        !json_is_object(json_object_get(inner, "config")))
        return cr_kcfg_refuse(L, "layer", "expected the wrapped layer's class_name and config");
    cr_klayer F = {.name = L->name, .class_name = json_string_value(json_object_get(inner, "class_name")),
                   .config = json_object_get(inner, "config"), .w = L->w};
    rnn_cfg fwd, bwd;
    CR_TRY(read_rnn_cfg(&F, &fwd));
    bwd = fwd;
    bwd.go_backwards = true;
    if (json_is_object(back) && json_is_object(json_object_get(back, "config"))) {
        cr_klayer Bk = F;
        Bk.class_name = json_is_string(json_object_get(back, "class_name"))
                            ? json_string_value(json_object_get(back, "class_name")) : "";
        Bk.config = json_object_get(back, "config");
        CR_TRY(read_rnn_cfg(&Bk, &bwd));
        if (bwd.kind != fwd.kind || bwd.units != fwd.units || bwd.use_bias != fwd.use_bias ||
            bwd.reset_after != fwd.reset_after || strcmp(bwd.act, fwd.act) != 0 ||
            strcmp(bwd.rec_act, fwd.rec_act) != 0 || !bwd.go_backwards)
            return cr_kcfg_refuse(L, "backward_layer", "a backward layer unlike the forward one is not implemented");
    }
    if (fwd.go_backwards) return cr_kcfg_refuse(L, "layer", "a wrapped layer with go_backwards is not implemented");
    if (fwd.return_state) return cr_kcfg_refuse(L, "layer", "return_state in Bidirectional is not implemented");
    const char *merge;
    CR_TRY(cr_kcfg_string(L, "merge_mode", "none", &merge));
    cr_kt *x = in[0];
    int y[3];
    CR_TRY(emit_rnn(lw, L, x, &fwd, &bwd, y));
    /* Y is (N, T, 2, H) with the backward outputs back in input order, as Keras's; Y_h (N, 2, H) */
    int src = fwd.return_sequences ? y[0] : y[1], dir_axis = fwd.return_sequences ? 2 : 1;
    int64_t n = x->shape[0], t = x->shape[1], u = fwd.units;
    int v, node;
    if (strcmp(merge, "concat") == 0) {
        static const int64_t seq[3] = {0, 0, -1}, last[2] = {0, -1};
        CR_TRY(reshape(lw, L, src, fwd.return_sequences ? seq : last, fwd.return_sequences ? 3 : 2, &v));
        u *= 2;
    } else if (strcmp(merge, "sum") == 0 || strcmp(merge, "mul") == 0 || strcmp(merge, "ave") == 0) {
        const char *op = merge[0] == 's' ? "ReduceSum" : merge[0] == 'm' ? "ReduceProd" : "ReduceMean";
        const int64_t axis = dir_axis;
        if (merge[0] == 's') {
            /* ReduceSum takes its axes as an input from opset 13 */
            int in2[2] = {src, -1};
            CR_TRY(cr_gb_const_ints(lw->gb, L->name, &axis, 1, &in2[1]));
            CR_TRY(cr_kop(lw, L, op, in2, 2, &node, &v));
        } else {
            CR_TRY(cr_kop(lw, L, op, &src, 1, &node, &v));
            CR_TRY(cr_gb_attr_ints(lw->gb, node, "axes", &axis, 1));
        }
        CR_TRY(cr_gb_attr_int(lw->gb, node, "keepdims", 0));
    } else if (strcmp(merge, "none") == 0) {
        for (int d = 0; d < 2; d++) {
            int in2[2] = {src, -1};
            cnnrun_status *st;
            cr_tensor *idx = cr_tensor_new(CNNRUN_INT64, 0, NULL, &st);
            if (!idx) return st;
            *(int64_t *)idx->data = d;
            CR_TRY(cr_gb_constant(lw->gb, L->name, idx, false, &in2[1]));
            CR_TRY(cr_kop(lw, L, "Gather", in2, 2, &node, &v));
            CR_TRY(cr_gb_attr_int(lw->gb, node, "axis", dir_axis));
            if (fwd.return_sequences) kt_set(&out[d], v, 3, n, t, u);
            else kt_set(&out[d], v, 2, n, u, 0);
        }
        *n_out = 2;
        return NULL;
    } else {
        return cr_kcfg_refuse(L, "merge_mode", "expected concat, sum, mul, ave or null");
    }
    if (fwd.return_sequences) kt_set(&out[0], v, 3, n, t, u);
    else kt_set(&out[0], v, 2, n, u, 0);
    *n_out = 1;
    return NULL;
}
