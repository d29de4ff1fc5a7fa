/* What every layer's lowering shares: the two layout forms of a Keras tensor, config access with
 * errors that name the key, weight shape checks, and Keras's activation functions. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "keras_lower.h"

/* ---- layouts ---- */

static cnnrun_status *transpose(cr_klower *lw, const char *name, int x, int rank, const int *perm, int *y)
{
    int64_t p[CR_MAX_RANK];
    for (int i = 0; i < rank; i++) p[i] = perm[i];
    int node;
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/Transpose", name);
    CR_TRY(cr_gb_op(lw->gb, "Transpose", nm, &x, 1, &node, y));
    return cr_gb_attr_ints(lw->gb, node, "perm", p, rank);
}

cnnrun_status *cr_kt_keras(cr_klower *lw, const char *name, cr_kt *t, int *v)
{
    if (t->v < 0) {
        /* channels-first (N, C, s..) -> (N, s.., C) */
        int perm[CR_MAX_RANK] = {0};
        for (int d = 1; d < t->rank - 1; d++) perm[d] = d + 1;
        perm[t->rank - 1] = 1;
        CR_TRY(transpose(lw, name, t->v_cf, t->rank, perm, &t->v));
    }
    *v = t->v;
    return NULL;
}

cnnrun_status *cr_kt_cf(cr_klower *lw, const char *name, cr_kt *t, int *v)
{
    if (t->rank < 3) return cr_kt_keras(lw, name, t, v);
    if (t->v_cf < 0) {
        int perm[CR_MAX_RANK] = {0};
        perm[1] = t->rank - 1;
        for (int d = 2; d < t->rank; d++) perm[d] = d - 1;
        CR_TRY(transpose(lw, name, t->v, t->rank, perm, &t->v_cf));
    }
    *v = t->v_cf;
    return NULL;
}

/* ---- config ---- */

static cnnrun_status *wrong_type(const cr_klayer *L, const char *key, const char *want)
{
    (void)L;
    return cr_error(CNNRUN_ERR_INVALID_MODEL, "config '%s' should be %s", key, want);
}

cnnrun_status *cr_kcfg_int(const cr_klayer *L, const char *key, int64_t dflt, int64_t *out)
{
    json_t *j = json_object_get(L->config, key);
    *out = dflt;
    if (!j || json_is_null(j)) return NULL;
    if (json_is_array(j) && json_array_size(j) == 1) j = json_array_get(j, 0);
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return NULL;
    }
    if (json_is_real(j) && floor(json_real_value(j)) == json_real_value(j) && fabs(json_real_value(j)) < 1e15) {
        *out = (int64_t)json_real_value(j);
        return NULL;
    }
    return wrong_type(L, key, "an integer");
}

cnnrun_status *cr_kcfg_ints(const cr_klayer *L, const char *key, int n, int64_t dflt, int64_t *out)
{
    json_t *j = json_object_get(L->config, key);
    for (int i = 0; i < n; i++) out[i] = dflt;
    if (!j || json_is_null(j)) return NULL;
    if (json_is_integer(j)) {
        for (int i = 0; i < n; i++) out[i] = json_integer_value(j);
        return NULL;
    }
    if (!json_is_array(j) || (json_array_size(j) != (size_t)n && json_array_size(j) != 1))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "config '%s' should be an integer or a list of %d", key, n);
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(j, json_array_size(j) == 1 ? 0 : (size_t)i);
        if (!json_is_integer(e)) return wrong_type(L, key, "a list of integers");
        out[i] = json_integer_value(e);
    }
    return NULL;
}

cnnrun_status *cr_kcfg_float(const cr_klayer *L, const char *key, double dflt, double *out)
{
    json_t *j = json_object_get(L->config, key);
    *out = dflt;
    if (!j || json_is_null(j)) return NULL;
    if (!json_is_number(j)) return wrong_type(L, key, "a number");
    *out = json_number_value(j);
    return NULL;
}

cnnrun_status *cr_kcfg_bool(const cr_klayer *L, const char *key, bool dflt, bool *out)
{
    json_t *j = json_object_get(L->config, key);
    *out = dflt;
    if (!j || json_is_null(j)) return NULL;
    if (!json_is_boolean(j)) return wrong_type(L, key, "true or false");
    *out = json_is_true(j);
    return NULL;
}

cnnrun_status *cr_kcfg_string(const cr_klayer *L, const char *key, const char *dflt, const char **out)
{
    json_t *j = json_object_get(L->config, key);
    *out = dflt;
    if (!j || json_is_null(j)) return NULL;
    if (!json_is_string(j)) return wrong_type(L, key, "a string (a custom object is not supported)");
    *out = json_string_value(j);
    return NULL;
}

cnnrun_status *cr_kcfg_refuse(const cr_klayer *L, const char *key, const char *why)
{
    json_t *j = json_object_get(L->config, key);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    cnnrun_status *st = cr_error(CNNRUN_ERR_UNSUPPORTED, "config '%s' = %s is not supported (%s)", key,
                                 text ? text : "(missing)", why);
    free(text);
    return st;
}

cnnrun_status *cr_kcfg_channels_last(const cr_klayer *L)
{
    const char *df;
    CR_TRY(cr_kcfg_string(L, "data_format", "channels_last", &df));
    if (strcmp(df, "channels_last") != 0)
        return cr_kcfg_refuse(L, "data_format", "only channels_last layers are implemented");
    return NULL;
}

/* ---- weights ---- */

cnnrun_status *cr_kweights_count(const cr_klayer *L, int n)
{
    if (L->w->n != n)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "the file holds %d weight(s) for this layer; its config needs %d",
                        L->w->n, n);
    return NULL;
}

cnnrun_status *cr_kweight(const cr_klayer *L, int i, int rank, const int64_t *dims, cr_tensor **out)
{
    if (i >= L->w->n)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "weight %d is missing (the file holds %d for this layer)",
                        i, L->w->n);
    cr_tensor *t = L->w->t[i];
    if (!cr_shape_equal(t->rank, t->dims, rank, dims)) {
        char a[160], b[160];
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "weight %d ('%s') has shape %s, but the layer's config needs %s", i, L->w->names[i],
                        cr_shape_str(t->rank, t->dims, a, sizeof a), cr_shape_str(rank, dims, b, sizeof b));
    }
    *out = t;
    return NULL;
}

cnnrun_status *cr_kconst_new(const char *name, int rank, const int64_t *dims, cr_tensor **out)
{
    cnnrun_status *st;
    *out = cr_tensor_new(CNNRUN_FLOAT32, rank, dims, &st);
    return st ? cr_error_prefix(st, "%s", name) : NULL;
}

/* ---- activations ---- */

static cnnrun_status *unary(cr_klower *lw, const char *op, const char *name, int x, int *y, int *node)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/%s", name, op);
    return cr_gb_op(lw->gb, op, nm, &x, 1, node, y);
}

static cnnrun_status *binary(cr_klower *lw, const char *op, const char *name, int a, int b, int *y)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/%s", name, op);
    const int in[2] = {a, b};
    return cr_gb_op(lw->gb, op, nm, in, 2, NULL, y);
}

/* Clip(x, lo, hi) with constant bounds; hi = INFINITY for none. */
static cnnrun_status *clip(cr_klower *lw, const char *name, int x, float lo, float hi, int *y)
{
    int in[3] = {x, -1, -1};
    CR_TRY(cr_gb_const_float(lw->gb, name, lo, &in[1]));
    if (isfinite(hi)) CR_TRY(cr_gb_const_float(lw->gb, name, hi, &in[2]));
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/Clip", name);
    return cr_gb_op(lw->gb, "Clip", nm, in, isfinite(hi) ? 3 : 2, NULL, y);
}

/* x * f(x) for swish-like activations. */
static cnnrun_status *times_x(cr_klower *lw, const char *name, int x, int fx, int *y)
{
    return binary(lw, "Mul", name, x, fx, y);
}

cnnrun_status *cr_klower_activation(cr_klower *lw, const cr_klayer *L, const char *act, int x,
                                    int channel_axis, int *y)
{
    const char *name = L->name;
    int node, t, u;
    static const struct { const char *keras, *onnx; } plain[] = {
        {"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"softplus", "Softplus"},
        {"softsign", "Softsign"}, {"elu", "Elu"}, {"selu", "Selu"}, {"exponential", "Exp"},
    };
    if (strcmp(act, "linear") == 0) {
        *y = x;
        return NULL;
    }
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(act, plain[i].keras) == 0) return unary(lw, plain[i].onnx, name, x, y, &node);
    if (strcmp(act, "softmax") == 0 || strcmp(act, "log_softmax") == 0) {
        CR_TRY(unary(lw, act[0] == 's' ? "Softmax" : "LogSoftmax", name, x, y, &node));
        return cr_gb_attr_int(lw->gb, node, "axis", channel_axis);
    }
    if (strcmp(act, "relu6") == 0) return clip(lw, name, x, 0.0f, 6.0f, y);
    if (strcmp(act, "hard_sigmoid") == 0) {
        /* Keras 2 (and tfjs): clip(0.2x + 0.5); Keras 3: clip(x/6 + 0.5) */
        CR_TRY(unary(lw, "HardSigmoid", name, x, y, &node));
        CR_TRY(cr_gb_attr_float(lw->gb, node, "alpha", lw->keras_major >= 3 ? 1.0f / 6.0f : 0.2f));
        return cr_gb_attr_float(lw->gb, node, "beta", 0.5f);
    }
    if (strcmp(act, "hard_silu") == 0 || strcmp(act, "hard_swish") == 0)
        return unary(lw, "HardSwish", name, x, y, &node); /* x * clip(x/6 + 0.5), Keras 3's */
    if (strcmp(act, "swish") == 0 || strcmp(act, "silu") == 0) {
        CR_TRY(unary(lw, "Sigmoid", name, x, &t, &node));
        return times_x(lw, name, x, t, y);
    }
    if (strcmp(act, "mish") == 0) {
        CR_TRY(unary(lw, "Softplus", name, x, &t, &node));
        CR_TRY(unary(lw, "Tanh", name, t, &u, &node));
        return times_x(lw, name, x, u, y);
    }
    if (strcmp(act, "leaky_relu") == 0) {
        CR_TRY(unary(lw, "LeakyRelu", name, x, y, &node));
        return cr_gb_attr_float(lw->gb, node, "alpha", 0.2f); /* Keras's default negative_slope */
    }
    if (strcmp(act, "gelu") == 0) {
        /* Keras's activation "gelu" is the exact form, 0.5 x (1 + erf(x / sqrt 2)) */
        int c, e, s, one, half;
        CR_TRY(cr_gb_const_float(lw->gb, name, 0.70710678118654752f, &c));
        CR_TRY(binary(lw, "Mul", name, x, c, &s));
        CR_TRY(unary(lw, "Erf", name, s, &e, &node));
        CR_TRY(cr_gb_const_float(lw->gb, name, 1.0f, &one));
        CR_TRY(binary(lw, "Add", name, e, one, &t));
        CR_TRY(cr_gb_const_float(lw->gb, name, 0.5f, &half));
        CR_TRY(binary(lw, "Mul", name, x, half, &u));
        return binary(lw, "Mul", name, u, t, y);
    }
    return cr_error(CNNRUN_ERR_UNSUPPORTED, "activation '%s' is not supported", act);
}

cnnrun_status *cr_klower_layer_activation(cr_klower *lw, const cr_klayer *L, cr_kt *out)
{
    const char *act;
    CR_TRY(cr_kcfg_string(L, "activation", "linear", &act));
    if (strcmp(act, "linear") == 0) return NULL;
    /* on the channels-first form when the layer made it (softmax then along axis 1) */
    if (out->v_cf >= 0 && out->rank >= 3) {
        int y;
        CR_TRY(cr_klower_activation(lw, L, act, out->v_cf, 1, &y));
        out->v_cf = y;
        out->v = -1;
        return NULL;
    }
    int x, y;
    CR_TRY(cr_kt_keras(lw, L->name, out, &x));
    CR_TRY(cr_klower_activation(lw, L, act, x, out->rank - 1, &y));
    out->v = y;
    out->v_cf = -1;
    return NULL;
}
