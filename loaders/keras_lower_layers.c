/* The layer table, and the layers that are not convolutions or recurrences: Dense, Embedding,
 * BatchNormalization, activation layers, reshaping (Flatten, Reshape, Permute, padding, cropping,
 * upsampling), merges, and the layers that do nothing at inference. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "keras_lower.h"
#include "keras_lower_internal.h"

cnnrun_status *cr_kop(cr_klower *lw, const cr_klayer *L, const char *op, const int *inputs, int n_inputs,
                      int *node, int *y)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%.250s/%s", L->name, op);
    return cr_gb_op(lw->gb, op, nm, inputs, n_inputs, node, y);
}

cnnrun_status *cr_ktensor_copy(const cr_klayer *L, const cr_tensor *t, cr_tensor **out)
{
    CR_TRY(cr_kconst_new(L->name, t->rank, t->dims, out));
    memcpy((*out)->data, t->data, cr_tensor_bytes(t));
    return NULL;
}

cnnrun_status *cr_kweight_const(cr_klower *lw, const cr_klayer *L, int i, int rank, const int64_t *dims, int *v)
{
    cr_tensor *t, *c;
    CR_TRY(cr_kweight(L, i, rank, dims, &t));
    CR_TRY(cr_ktensor_copy(L, t, &c));
    return cr_gb_constant(lw->gb, L->name, c, true, v);
}

static const char *jstr_of(json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static void out_like(cr_kt *out, const cr_kt *x)
{
    *out = *x;
}

/* out = x in Keras's layout with a new shape, through a Reshape to (0, dims[1:]). */
static cnnrun_status *reshape_to(cr_klower *lw, const cr_klayer *L, cr_kt *x, int rank, const int64_t *shape,
                                 cr_kt *out)
{
    int64_t target[CR_MAX_RANK];
    target[0] = 0;
    for (int i = 1; i < rank; i++) target[i] = shape[i] < 0 ? -1 : shape[i];
    int in[2], node;
    CR_TRY(cr_kt_keras(lw, L->name, x, &in[0]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, target, rank, &in[1]));
    memset(out, 0, sizeof *out);
    CR_TRY(cr_kop(lw, L, "Reshape", in, 2, &node, &out->v));
    out->v_cf = -1;
    out->rank = rank;
    out->dtype = x->dtype;
    memcpy(out->shape, shape, (size_t)rank * sizeof *shape);
    return NULL;
}

static CR_KLOWER_FN(lower_identity)
{
    (void)lw;
    (void)L;
    (void)n_in;
    out_like(out, in[0]);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_dense)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t units, fan_in = x->shape[x->rank - 1];
    bool use_bias;
    CR_TRY(cr_kcfg_int(L, "units", 0, &units));
    CR_TRY(cr_kcfg_bool(L, "use_bias", true, &use_bias));
    if (units <= 0) return cr_kcfg_refuse(L, "units", "must be positive");
    if (fan_in <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the input's last dim is not fixed");
    CR_TRY(cr_kweights_count(L, use_bias ? 2 : 1));
    int in3[3] = {-1, -1, -1}, node;
    const int64_t kdims[2] = {fan_in, units};
    CR_TRY(cr_kt_keras(lw, L->name, x, &in3[0]));
    CR_TRY(cr_kweight_const(lw, L, 0, 2, kdims, &in3[1]));
    if (use_bias) CR_TRY(cr_kweight_const(lw, L, 1, 1, &units, &in3[2]));
    out_like(out, x);
    out->v_cf = -1;
    out->shape[x->rank - 1] = units;
    if (x->rank == 2) {
        CR_TRY(cr_kop(lw, L, "Gemm", in3, use_bias ? 3 : 2, &node, &out->v));
    } else {
        /* Dense on (N, .., features) acts on the last axis: MatMul broadcasts over the others */
        int mm;
        CR_TRY(cr_kop(lw, L, "MatMul", in3, 2, &node, &mm));
        out->v = mm;
        if (use_bias) {
            const int add_in[2] = {mm, in3[2]};
            CR_TRY(cr_kop(lw, L, "Add", add_in, 2, &node, &out->v));
        }
    }
    *n_out = 1;
    return cr_klower_layer_activation(lw, L, out);
}

static CR_KLOWER_FN(lower_embedding)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t input_dim, output_dim;
    bool mask_zero;
    CR_TRY(cr_kcfg_int(L, "input_dim", 0, &input_dim));
    CR_TRY(cr_kcfg_int(L, "output_dim", 0, &output_dim));
    CR_TRY(cr_kcfg_bool(L, "mask_zero", false, &mask_zero));
    if (mask_zero) return cr_kcfg_refuse(L, "mask_zero", "masks are not propagated to later layers");
    if (x->rank + 1 > CR_MAX_RANK) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the input's rank is too high");
    CR_TRY(cr_kweights_count(L, 1));
    int in2[2], node;
    const int64_t wdims[2] = {input_dim, output_dim};
    CR_TRY(cr_kweight_const(lw, L, 0, 2, wdims, &in2[0]));
    CR_TRY(cr_kt_keras(lw, L->name, x, &in2[1]));
    if (x->dtype != CNNRUN_INT32 && x->dtype != CNNRUN_INT64) {
        /* Keras casts float indices to int (truncation) */
        int cast;
        CR_TRY(cr_kop(lw, L, "Cast", &in2[1], 1, &node, &cast));
        CR_TRY(cr_gb_attr_int(lw->gb, node, "to", CNNRUN_INT64));
        in2[1] = cast;
    }
    out_like(out, x);
    out->dtype = CNNRUN_FLOAT32;
    out->v_cf = -1;
    out->rank = x->rank + 1;
    out->shape[x->rank] = output_dim;
    CR_TRY(cr_kop(lw, L, "Gather", in2, 2, &node, &out->v));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_batchnorm)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t axis;
    double eps;
    bool center, scale;
    CR_TRY(cr_kcfg_int(L, "axis", -1, &axis));
    CR_TRY(cr_kcfg_float(L, "epsilon", 1e-3, &eps));
    CR_TRY(cr_kcfg_bool(L, "center", true, &center));
    CR_TRY(cr_kcfg_bool(L, "scale", true, &scale));
    if (axis < 0) axis += x->rank;
    if (axis < 1 || axis >= x->rank) return cr_kcfg_refuse(L, "axis", "not an axis of the input other than the batch");
    int64_t c = x->shape[axis];
    if (c <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the normalised axis is not fixed");
    CR_TRY(cr_kweights_count(L, 2 + center + scale));
    cr_tensor *gamma = NULL, *beta = NULL, *mean, *var;
    int i = 0;
    if (scale) CR_TRY(cr_kweight(L, i++, 1, &c, &gamma));
    if (center) CR_TRY(cr_kweight(L, i++, 1, &c, &beta));
    CR_TRY(cr_kweight(L, i++, 1, &c, &mean));
    CR_TRY(cr_kweight(L, i++, 1, &c, &var));
    /* y = x * s + t, s = gamma / sqrt(var + eps), t = beta - mean * s; as an ONNX
     * BatchNormalization when the channel axis can be axis 1 (channels-first or rank 2), else as a
     * broadcast Mul and Add along the axis */
    int64_t bdims[CR_MAX_RANK];
    int brank = x->rank - axis;
    bool as_bn = axis == x->rank - 1 && (x->rank == 2 || x->v_cf >= 0);
    bdims[0] = c;
    for (int d = 1; d < brank; d++) bdims[d] = 1;
    cr_tensor *s, *t;
    CR_TRY(cr_kconst_new(L->name, as_bn ? 1 : brank, bdims, &s));
    cnnrun_status *st = cr_kconst_new(L->name, as_bn ? 1 : brank, bdims, &t);
    if (st) {
        cr_tensor_free(s);
        return st;
    }
    float *sv = s->data, *tv = t->data;
    const float *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
    const float *m = mean->data, *v = var->data;
    for (int64_t k = 0; k < c; k++) {
        double scl = (g ? g[k] : 1.0) / sqrt((double)v[k] + eps);
        sv[k] = (float)scl;
        tv[k] = (float)((b ? b[k] : 0.0) - m[k] * scl);
    }
    int sc, sh, node;
    st = cr_gb_constant(lw->gb, L->name, s, true, &sc);
    if (st) {
        cr_tensor_free(t);
        return st;
    }
    CR_TRY(cr_gb_constant(lw->gb, L->name, t, true, &sh));
    out_like(out, x);
    if (as_bn) {
        /* scale s, bias t, mean 0, var 1 - eps... exactness: use mean 0 and var 1 with epsilon 0 */
        cr_tensor *zero, *one;
        CR_TRY(cr_kconst_new(L->name, 1, &c, &zero));
        st = cr_kconst_new(L->name, 1, &c, &one);
        if (st) {
            cr_tensor_free(zero);
            return st;
        }
        for (int64_t k = 0; k < c; k++) {
            ((float *)zero->data)[k] = 0.0f;
            ((float *)one->data)[k] = 1.0f;
        }
        int in5[5];
        CR_TRY(cr_kt_cf(lw, L->name, x, &in5[0]));
        in5[1] = sc;
        in5[2] = sh;
        st = cr_gb_constant(lw->gb, L->name, zero, false, &in5[3]);
        if (st) {
            cr_tensor_free(one);
            return st;
        }
        CR_TRY(cr_gb_constant(lw->gb, L->name, one, false, &in5[4]));
        int y;
        CR_TRY(cr_kop(lw, L, "BatchNormalization", in5, 5, &node, &y));
        CR_TRY(cr_gb_attr_float(lw->gb, node, "epsilon", 0.0f));
        if (x->rank == 2) {
            out->v = y;
            out->v_cf = -1;
        } else {
            out->v = -1;
            out->v_cf = y;
        }
    } else {
        int in2[2], y;
        CR_TRY(cr_kt_keras(lw, L->name, x, &in2[0]));
        in2[1] = sc;
        CR_TRY(cr_kop(lw, L, "Mul", in2, 2, &node, &y));
        in2[0] = y;
        in2[1] = sh;
        CR_TRY(cr_kop(lw, L, "Add", in2, 2, &node, &out->v));
        out->v_cf = -1;
    }
    *n_out = 1;
    return NULL;
}

/* Applies an elementwise lowering to whichever form of x exists (channels-first preferred). */
static cnnrun_status *elementwise_form(cr_klower *lw, const cr_klayer *L, cr_kt *x, cr_kt *out, int *xv,
                                       int *channel_axis)
{
    out_like(out, x);
    if (x->v_cf >= 0 && x->rank >= 3) {
        *xv = x->v_cf;
        *channel_axis = 1;
        out->v = -1;
    } else {
        CR_TRY(cr_kt_keras(lw, L->name, x, xv));
        *channel_axis = x->rank - 1;
        out->v_cf = -1;
    }
    return NULL;
}

static void set_form(cr_kt *out, int y)
{
    if (out->v < 0) out->v_cf = y;
    else out->v = y;
}

static CR_KLOWER_FN(lower_activation_layer)
{
    (void)n_in;
    const char *act;
    int x, y, axis;
    CR_TRY(cr_kcfg_string(L, "activation", "linear", &act));
    CR_TRY(elementwise_form(lw, L, in[0], out, &x, &axis));
    CR_TRY(cr_klower_activation(lw, L, act, x, axis, &y));
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_relu_layer)
{
    (void)n_in;
    double max_value, slope, threshold;
    CR_TRY(cr_kcfg_float(L, "max_value", INFINITY, &max_value));
    CR_TRY(cr_kcfg_float(L, "negative_slope", 0.0, &slope));
    CR_TRY(cr_kcfg_float(L, "threshold", 0.0, &threshold));
    int x, y, axis, node;
    CR_TRY(elementwise_form(lw, L, in[0], out, &x, &axis));
    if (slope == 0.0 && threshold == 0.0) {
        CR_TRY(cr_kop(lw, L, "Relu", &x, 1, &node, &y));
    } else {
        /* x >= threshold ? x : slope * (x - threshold) */
        int thr, sl, d, neg, cond;
        CR_TRY(cr_gb_const_float(lw->gb, L->name, (float)threshold, &thr));
        CR_TRY(cr_gb_const_float(lw->gb, L->name, (float)slope, &sl));
        const int sub_in[2] = {x, thr};
        CR_TRY(cr_kop(lw, L, "Sub", sub_in, 2, &node, &d));
        const int mul_in[2] = {d, sl};
        CR_TRY(cr_kop(lw, L, "Mul", mul_in, 2, &node, &neg));
        CR_TRY(cr_kop(lw, L, "GreaterOrEqual", sub_in, 2, &node, &cond));
        const int where_in[3] = {cond, x, neg};
        CR_TRY(cr_kop(lw, L, "Where", where_in, 3, &node, &y));
    }
    if (isfinite(max_value)) {
        int mx, z;
        CR_TRY(cr_gb_const_float(lw->gb, L->name, (float)max_value, &mx));
        const int min_in[2] = {y, mx};
        CR_TRY(cr_kop(lw, L, "Min", min_in, 2, &node, &z));
        y = z;
    }
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_leaky_relu)
{
    (void)n_in;
    double alpha;
    /* Keras 2 and 3 both accept "negative_slope"; Keras 2 wrote "alpha" (default 0.3) */
    CR_TRY(cr_kcfg_float(L, "alpha", 0.3, &alpha));
    if (json_object_get(L->config, "negative_slope")) CR_TRY(cr_kcfg_float(L, "negative_slope", 0.3, &alpha));
    int x, y, axis, node;
    CR_TRY(elementwise_form(lw, L, in[0], out, &x, &axis));
    CR_TRY(cr_kop(lw, L, "LeakyRelu", &x, 1, &node, &y));
    CR_TRY(cr_gb_attr_float(lw->gb, node, "alpha", (float)alpha));
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_elu)
{
    (void)n_in;
    double alpha;
    CR_TRY(cr_kcfg_float(L, "alpha", 1.0, &alpha));
    int x, y, axis, node;
    CR_TRY(elementwise_form(lw, L, in[0], out, &x, &axis));
    CR_TRY(cr_kop(lw, L, "Elu", &x, 1, &node, &y));
    CR_TRY(cr_gb_attr_float(lw->gb, node, "alpha", (float)alpha));
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_softmax)
{
    (void)n_in;
    int64_t axis;
    CR_TRY(cr_kcfg_int(L, "axis", -1, &axis));
    cr_kt *x = in[0];
    if (axis < 0) axis += x->rank;
    if (axis < 1 || axis >= x->rank) return cr_kcfg_refuse(L, "axis", "not an axis of the input");
    int xv, node;
    CR_TRY(cr_kt_keras(lw, L->name, x, &xv));
    out_like(out, x);
    out->v_cf = -1;
    CR_TRY(cr_kop(lw, L, "Softmax", &xv, 1, &node, &out->v));
    CR_TRY(cr_gb_attr_int(lw->gb, node, "axis", axis));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_prelu)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t adims[CR_MAX_RANK];
    json_t *sa = json_object_get(L->config, "shared_axes");
    for (int d = 1; d < x->rank; d++) adims[d - 1] = x->shape[d];
    if (sa && json_is_array(sa)) {
        for (size_t i = 0; i < json_array_size(sa); i++) {
            json_t *e = json_array_get(sa, i);
            int64_t a = json_is_integer(e) ? json_integer_value(e) : 0;
            if (a < 1 || a >= x->rank) return cr_kcfg_refuse(L, "shared_axes", "not an axis of the input");
            adims[a - 1] = 1;
        }
    }
    for (int d = 0; d < x->rank - 1; d++)
        if (adims[d] <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "PReLU over a free dim that is not shared");
    CR_TRY(cr_kweights_count(L, 1));
    int in2[2], node;
    CR_TRY(cr_kt_keras(lw, L->name, x, &in2[0]));
    CR_TRY(cr_kweight_const(lw, L, 0, x->rank - 1, adims, &in2[1]));
    out_like(out, x);
    out->v_cf = -1;
    CR_TRY(cr_kop(lw, L, "PRelu", in2, 2, &node, &out->v));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_flatten)
{
    (void)n_in;
    CR_TRY(cr_kcfg_channels_last(L));
    cr_kt *x = in[0];
    int64_t shape[2] = {x->shape[0], 1};
    for (int d = 1; d < x->rank; d++) shape[1] = (shape[1] < 0 || x->shape[d] < 0) ? -1 : shape[1] * x->shape[d];
    /* Keras flattens in its own (channels-last) order: from the Keras form */
    CR_TRY(reshape_to(lw, L, x, 2, shape, out));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_reshape)
{
    (void)n_in;
    cr_kt *x = in[0];
    json_t *ts = json_object_get(L->config, "target_shape");
    if (!json_is_array(ts) || json_array_size(ts) + 1 > CR_MAX_RANK)
        return cr_kcfg_refuse(L, "target_shape", "expected a list of at most 7 dims");
    int rank = (int)json_array_size(ts) + 1;
    int64_t shape[CR_MAX_RANK] = {x->shape[0]}, known = 1, total = 1;
    int free_at = -1;
    for (int d = 1; d < x->rank; d++) total = (total < 0 || x->shape[d] < 0) ? -1 : total * x->shape[d];
    for (int d = 1; d < rank; d++) {
        json_t *e = json_array_get(ts, (size_t)d - 1);
        shape[d] = json_is_integer(e) ? json_integer_value(e) : -1;
        if (shape[d] == 0 || shape[d] < -1) return cr_kcfg_refuse(L, "target_shape", "dims must be positive or -1");
        if (shape[d] < 0) {
            if (free_at >= 0) return cr_kcfg_refuse(L, "target_shape", "only one dim may be -1");
            free_at = d;
        } else {
            known *= shape[d];
        }
    }
    if (total >= 0) {
        if (free_at >= 0) shape[free_at] = total % known ? -2 : total / known;
        if ((free_at >= 0 && shape[free_at] < 0) || (free_at < 0 && known != total))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "cannot reshape %lld values to the target shape", (long long)total);
    }
    CR_TRY(reshape_to(lw, L, x, rank, shape, out));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_permute)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t dims[CR_MAX_RANK], perm[CR_MAX_RANK] = {0};
    int n = x->rank - 1;
    CR_TRY(cr_kcfg_ints(L, "dims", n, 0, dims));
    bool seen[CR_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        if (dims[i] < 1 || dims[i] > n || seen[dims[i]]) return cr_kcfg_refuse(L, "dims", "not a permutation of the axes");
        seen[dims[i]] = true;
        perm[i + 1] = dims[i];
    }
    int xv, node;
    CR_TRY(cr_kt_keras(lw, L->name, x, &xv));
    out_like(out, x);
    out->v_cf = -1;
    for (int i = 1; i <= n; i++) out->shape[i] = x->shape[perm[i]];
    CR_TRY(cr_kop(lw, L, "Transpose", &xv, 1, &node, &out->v));
    CR_TRY(cr_gb_attr_ints(lw->gb, node, "perm", perm, x->rank));
    *n_out = 1;
    return NULL;
}

/* ZeroPadding/Cropping's "padding"/"cropping" for n spatial axes: an int, n ints (symmetric), or
 * n pairs; 1-D: an int or one pair (begin, end). */
static cnnrun_status *read_pairs(const cr_klayer *L, const char *key, int n, int64_t *begin, int64_t *end)
{
    json_t *j = json_object_get(L->config, key);
    if (json_is_integer(j)) {
        for (int i = 0; i < n; i++) begin[i] = end[i] = json_integer_value(j);
        return NULL;
    }
    if (!json_is_array(j)) return cr_kcfg_refuse(L, key, "expected an int, or a list of ints or pairs");
    if (n == 1 && json_array_size(j) == 2 && json_is_integer(json_array_get(j, 0))) {
        begin[0] = json_integer_value(json_array_get(j, 0));
        end[0] = json_integer_value(json_array_get(j, 1));
    } else {
        if (json_array_size(j) != (size_t)n) return cr_kcfg_refuse(L, key, "one entry per spatial axis expected");
        for (int i = 0; i < n; i++) {
            json_t *e = json_array_get(j, (size_t)i);
            if (json_is_integer(e)) {
                begin[i] = end[i] = json_integer_value(e);
            } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_integer(json_array_get(e, 0)) &&
                       json_is_integer(json_array_get(e, 1))) {
                begin[i] = json_integer_value(json_array_get(e, 0));
                end[i] = json_integer_value(json_array_get(e, 1));
            } else {
                return cr_kcfg_refuse(L, key, "expected ints or pairs of ints");
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (begin[i] < 0 || end[i] < 0) return cr_kcfg_refuse(L, key, "sizes must not be negative");
    return NULL;
}

static int spatial_n(const cr_kt *x)
{
    return x->rank - 2;
}

/* The spatial axis i (0-based) of x in the form out describes. */
static int64_t spatial_axis(const cr_kt *form, int i)
{
    return form->v < 0 ? 2 + i : 1 + i;
}

static CR_KLOWER_FN(lower_zero_padding)
{
    (void)n_in;
    CR_TRY(cr_kcfg_channels_last(L));
    cr_kt *x = in[0];
    int n = spatial_n(x);
    int64_t b[3], e[3], pads[2 * CR_MAX_RANK] = {0};
    if (n < 1 || n > 3) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects a rank 3 to 5 input");
    CR_TRY(read_pairs(L, "padding", n, b, e));
    int xv, axis, node, in2[2];
    CR_TRY(elementwise_form(lw, L, x, out, &xv, &axis));
    for (int i = 0; i < n; i++) {
        int64_t a = spatial_axis(out, i);
        pads[a] = b[i];
        pads[x->rank + a] = e[i];
        if (x->shape[1 + i] >= 0) out->shape[1 + i] = x->shape[1 + i] + b[i] + e[i];
    }
    in2[0] = xv;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, pads, 2 * x->rank, &in2[1]));
    int y;
    CR_TRY(cr_kop(lw, L, "Pad", in2, 2, &node, &y));
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_cropping)
{
    (void)n_in;
    CR_TRY(cr_kcfg_channels_last(L));
    cr_kt *x = in[0];
    int n = spatial_n(x);
    int64_t b[3], e[3], starts[3], ends[3], axes[3];
    if (n < 1 || n > 3) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects a rank 3 to 5 input");
    CR_TRY(read_pairs(L, "cropping", n, b, e));
    int xv, axis, node, in4[4];
    CR_TRY(elementwise_form(lw, L, x, out, &xv, &axis));
    for (int i = 0; i < n; i++) {
        int64_t dim = x->shape[1 + i];
        if (dim >= 0 && b[i] + e[i] >= dim)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "cropping %lld+%lld of a dim of %lld leaves nothing",
                            (long long)b[i], (long long)e[i], (long long)dim);
        starts[i] = b[i];
        ends[i] = e[i] ? -e[i] : INT64_MAX;
        axes[i] = spatial_axis(out, i);
        if (dim >= 0) out->shape[1 + i] = dim - b[i] - e[i];
    }
    in4[0] = xv;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, starts, n, &in4[1]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, ends, n, &in4[2]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, axes, n, &in4[3]));
    int y;
    CR_TRY(cr_kop(lw, L, "Slice", in4, 4, &node, &y));
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_upsampling)
{
    (void)n_in;
    CR_TRY(cr_kcfg_channels_last(L));
    cr_kt *x = in[0];
    int n = spatial_n(x);
    int64_t size[3];
    const char *interp;
    if (n < 1 || n > 3) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects a rank 3 to 5 input");
    CR_TRY(cr_kcfg_ints(L, n == 1 ? "size" : "size", n, 2, size));
    CR_TRY(cr_kcfg_string(L, "interpolation", "nearest", &interp));
    bool bilinear = strcmp(interp, "bilinear") == 0;
    if (!bilinear && strcmp(interp, "nearest") != 0)
        return cr_kcfg_refuse(L, "interpolation", "only nearest and bilinear are implemented");
    int xv, axis, node;
    CR_TRY(elementwise_form(lw, L, x, out, &xv, &axis));
    int64_t dims[1] = {x->rank};
    cr_tensor *sc;
    cnnrun_status *st;
    sc = cr_tensor_new(CNNRUN_FLOAT32, 1, dims, &st);
    if (!sc) return st;
    float *s = sc->data;
    for (int d = 0; d < x->rank; d++) s[d] = 1.0f;
    for (int i = 0; i < n; i++) {
        if (size[i] <= 0) {
            cr_tensor_free(sc);
            return cr_kcfg_refuse(L, "size", "must be positive");
        }
        s[spatial_axis(out, i)] = (float)size[i];
        if (x->shape[1 + i] >= 0) out->shape[1 + i] = x->shape[1 + i] * size[i];
    }
    int in3[3] = {xv, -1, -1};
    CR_TRY(cr_gb_constant(lw->gb, L->name, sc, false, &in3[2]));
    int y;
    /* integer nearest upsampling repeats each pixel: source index floor(out / scale); bilinear is
     * TF2's tf.image.resize, which samples at half-pixel centres */
    CR_TRY(cr_kop(lw, L, "Resize", in3, 3, &node, &y));
    if (bilinear) {
        CR_TRY(cr_gb_attr_string(lw->gb, node, "mode", "linear"));
        CR_TRY(cr_gb_attr_string(lw->gb, node, "coordinate_transformation_mode", "half_pixel"));
    } else {
        CR_TRY(cr_gb_attr_string(lw->gb, node, "mode", "nearest"));
        CR_TRY(cr_gb_attr_string(lw->gb, node, "coordinate_transformation_mode", "asymmetric"));
        CR_TRY(cr_gb_attr_string(lw->gb, node, "nearest_mode", "floor"));
    }
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

/* Merges: every input in one form (channels-first if all have it), same rank. */
static cnnrun_status *merge_inputs(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, int *vals,
                                   bool *cf)
{
    if (n_in < 2) return cr_error(CNNRUN_ERR_INVALID_MODEL, "a merge layer needs at least 2 inputs, found %d", n_in);
    *cf = in[0]->rank >= 3;
    for (int i = 0; i < n_in; i++) {
        if (in[i]->rank != in[0]->rank)
            return cr_error(CNNRUN_ERR_UNSUPPORTED, "inputs of different ranks (%d and %d) are not supported",
                            in[0]->rank, in[i]->rank);
        if (in[i]->v_cf < 0) *cf = false;
    }
    for (int i = 0; i < n_in; i++)
        CR_TRY(*cf ? cr_kt_cf(lw, L->name, in[i], &vals[i]) : cr_kt_keras(lw, L->name, in[i], &vals[i]));
    return NULL;
}

static CR_KLOWER_FN(lower_merge)
{
    int vals[CR_KERAS_MAX_IO], node, y;
    bool cf;
    CR_TRY(merge_inputs(lw, L, in, n_in, vals, &cf));
    static const struct { const char *cls, *op; bool variadic; } ops[] = {
        {"Add", "Sum", true}, {"Subtract", "Sub", false}, {"Multiply", "Mul", false},
        {"Average", "Mean", true}, {"Maximum", "Max", true}, {"Minimum", "Min", true},
    };
    size_t k = 0;
    while (strcmp(ops[k].cls, L->class_name) != 0) k++;
    if (strcmp(L->class_name, "Subtract") == 0 && n_in != 2)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "Subtract takes exactly 2 inputs, found %d", n_in);
    if (ops[k].variadic) {
        CR_TRY(cr_kop(lw, L, n_in == 2 && k == 0 ? "Add" : ops[k].op, vals, n_in, &node, &y));
    } else {
        y = vals[0];
        for (int i = 1; i < n_in; i++) {
            const int pair[2] = {y, vals[i]};
            CR_TRY(cr_kop(lw, L, ops[k].op, pair, 2, &node, &y));
        }
    }
    out_like(out, in[0]);
    for (int d = 1; d < out->rank; d++)
        for (int i = 1; i < n_in; i++)
            if (out->shape[d] == 1 || out->shape[d] < 0) out->shape[d] = in[i]->shape[d];
    out->v = cf ? -1 : y;
    out->v_cf = cf ? y : -1;
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_concatenate)
{
    int vals[CR_KERAS_MAX_IO], node, y;
    bool cf;
    int64_t axis;
    CR_TRY(cr_kcfg_int(L, "axis", -1, &axis));
    CR_TRY(merge_inputs(lw, L, in, n_in, vals, &cf));
    int rank = in[0]->rank;
    if (axis < 0) axis += rank;
    if (axis < 1 || axis >= rank) return cr_kcfg_refuse(L, "axis", "not an axis of the inputs other than the batch");
    out_like(out, in[0]);
    out->shape[axis] = 0;
    for (int i = 0; i < n_in; i++)
        out->shape[axis] = (out->shape[axis] < 0 || in[i]->shape[axis] < 0) ? -1 : out->shape[axis] + in[i]->shape[axis];
    /* Keras axis a in channels-first form: the channel axis (last) becomes 1, spatial a -> a + 1 */
    int64_t onnx_axis = !cf ? axis : axis == rank - 1 ? 1 : axis + 1;
    CR_TRY(cr_kop(lw, L, "Concat", vals, n_in, &node, &y));
    CR_TRY(cr_gb_attr_int(lw->gb, node, "axis", onnx_axis));
    out->v = cf ? -1 : y;
    out->v_cf = cf ? y : -1;
    *n_out = 1;
    return NULL;
}


static CR_KLOWER_FN(lower_rescaling)
{
    (void)n_in;
    json_t *js = json_object_get(L->config, "scale"), *jo = json_object_get(L->config, "offset");
    if ((js && !json_is_number(js)) || (jo && !json_is_number(jo) && !json_is_null(jo)))
        return cr_kcfg_refuse(L, "scale", "only scalar scale and offset are implemented");
    double scale, offset;
    CR_TRY(cr_kcfg_float(L, "scale", 1.0, &scale));
    CR_TRY(cr_kcfg_float(L, "offset", 0.0, &offset));
    int x, axis, node, c, y;
    CR_TRY(elementwise_form(lw, L, in[0], out, &x, &axis));
    CR_TRY(cr_gb_const_float(lw->gb, L->name, (float)scale, &c));
    const int mul_in[2] = {x, c};
    CR_TRY(cr_kop(lw, L, "Mul", mul_in, 2, &node, &y));
    if (offset != 0.0) {
        int o, z;
        CR_TRY(cr_gb_const_float(lw->gb, L->name, (float)offset, &o));
        const int add_in[2] = {y, o};
        CR_TRY(cr_kop(lw, L, "Add", add_in, 2, &node, &z));
        y = z;
    }
    set_form(out, y);
    *n_out = 1;
    return NULL;
}

/* Normalization with adapted (stored) statistics: (x - mean) / max(sqrt(variance), 1e-7), Keras's
 * backend epsilon, along the last axis. */
static CR_KLOWER_FN(lower_normalization)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t axis;
    bool invert;
    CR_TRY(cr_kcfg_int(L, "axis", -1, &axis));
    CR_TRY(cr_kcfg_bool(L, "invert", false, &invert));
    if (invert) return cr_kcfg_refuse(L, "invert", "the inverse normalisation is not implemented");
    json_t *m = json_object_get(L->config, "mean");
    if (m && !json_is_null(m)) return cr_kcfg_refuse(L, "mean", "statistics given in the config are not implemented");
    if (axis < 0) axis += x->rank;
    if (axis != x->rank - 1) return cr_kcfg_refuse(L, "axis", "only the last axis is implemented");
    int64_t c = x->shape[axis];
    if (c <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the normalised axis is not fixed");
    CR_TRY(cr_kweights_count(L, 3));
    cr_tensor *mean, *var, *s, *t;
    CR_TRY(cr_kweight(L, 0, 1, &c, &mean));
    CR_TRY(cr_kweight(L, 1, 1, &c, &var));
    CR_TRY(cr_kconst_new(L->name, 1, &c, &s));
    cnnrun_status *st = cr_kconst_new(L->name, 1, &c, &t);
    if (st) {
        cr_tensor_free(s);
        return st;
    }
    for (int64_t k = 0; k < c; k++) {
        double sd = sqrt((double)((float *)var->data)[k]);
        float scale = (float)(1.0 / (sd > 1e-7 ? sd : 1e-7));
        ((float *)s->data)[k] = scale;
        ((float *)t->data)[k] = -((float *)mean->data)[k] * scale;
    }
    int in2[2], node, sc, sh, y;
    st = cr_gb_constant(lw->gb, L->name, s, true, &sc);
    if (st) {
        cr_tensor_free(t);
        return st;
    }
    CR_TRY(cr_gb_constant(lw->gb, L->name, t, true, &sh));
    CR_TRY(cr_kt_keras(lw, L->name, x, &in2[0]));
    in2[1] = sc;
    CR_TRY(cr_kop(lw, L, "Mul", in2, 2, &node, &y));
    in2[0] = y;
    in2[1] = sh;
    out_like(out, x);
    out->v_cf = -1;
    CR_TRY(cr_kop(lw, L, "Add", in2, 2, &node, &out->v));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_layer_norm)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t axis;
    double eps;
    bool center, scale, rms;
    CR_TRY(cr_kcfg_int(L, "axis", -1, &axis));
    CR_TRY(cr_kcfg_float(L, "epsilon", 1e-3, &eps));
    CR_TRY(cr_kcfg_bool(L, "center", true, &center));
    CR_TRY(cr_kcfg_bool(L, "scale", true, &scale));
    CR_TRY(cr_kcfg_bool(L, "rms_scaling", false, &rms));
    if (rms) return cr_kcfg_refuse(L, "rms_scaling", "RMS normalisation is not implemented");
    if (axis < 0) axis += x->rank;
    if (axis != x->rank - 1) return cr_kcfg_refuse(L, "axis", "only the last axis is implemented");
    int64_t c = x->shape[axis];
    if (c <= 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the normalised axis is not fixed");
    CR_TRY(cr_kweights_count(L, center + scale));
    int in3[3], node, i = 0;
    CR_TRY(cr_kt_keras(lw, L->name, x, &in3[0]));
    for (int k = 0; k < 2; k++) {
        bool present = k == 0 ? scale : center;
        if (present) {
            CR_TRY(cr_kweight_const(lw, L, i++, 1, &c, &in3[1 + k]));
            continue;
        }
        cr_tensor *t;
        CR_TRY(cr_kconst_new(L->name, 1, &c, &t));
        for (int64_t j = 0; j < c; j++) ((float *)t->data)[j] = k == 0 ? 1.0f : 0.0f;
        CR_TRY(cr_gb_constant(lw->gb, L->name, t, false, &in3[1 + k]));
    }
    out_like(out, x);
    out->v_cf = -1;
    CR_TRY(cr_kop(lw, L, "LayerNormalization", in3, 3, &node, &out->v));
    CR_TRY(cr_gb_attr_int(lw->gb, node, "axis", -1));
    CR_TRY(cr_gb_attr_float(lw->gb, node, "epsilon", (float)eps));
    *n_out = 1;
    return NULL;
}

static CR_KLOWER_FN(lower_repeat_vector)
{
    (void)n_in;
    cr_kt *x = in[0];
    int64_t n;
    CR_TRY(cr_kcfg_int(L, "n", 1, &n));
    if (n <= 0) return cr_kcfg_refuse(L, "n", "must be positive");
    if (x->rank != 2) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects (batch, features), found rank %d", x->rank);
    const int64_t shape[3] = {x->shape[0], 1, x->shape[1]}, reps[3] = {1, n, 1};
    cr_kt col;
    CR_TRY(reshape_to(lw, L, x, 3, shape, &col));
    int in2[2] = {col.v, -1}, node;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, reps, 3, &in2[1]));
    out_like(out, &col);
    out->shape[1] = n;
    CR_TRY(cr_kop(lw, L, "Tile", in2, 2, &node, &out->v));
    *n_out = 1;
    return NULL;
}

/* TimeDistributed(layer): the wrapped layer on (batch*time, ...), then time split off again. */
static const struct layer_entry *find_layer(const char *class_name);

static CR_KLOWER_FN(lower_time_distributed)
{
    (void)n_in;
    cr_kt *x = in[0];
    json_t *inner = json_object_get(L->config, "layer");
    const char *cls = jstr_of(inner, "class_name");
    if (!cls || !json_is_object(json_object_get(inner, "config")))
        return cr_kcfg_refuse(L, "layer", "expected the wrapped layer's class_name and config");
    if (x->rank < 3) return cr_error(CNNRUN_ERR_INVALID_MODEL, "expects (batch, time, ...), found rank %d", x->rank);
    if (x->shape[1] < 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "TimeDistributed over a free time axis is not implemented");
    for (int d = 2; d < x->rank; d++)
        if (x->shape[d] < 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "TimeDistributed over free feature dims is not implemented");
    if (strcmp(cls, "TimeDistributed") == 0 || strcmp(cls, "Bidirectional") == 0 || !find_layer(cls))
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "TimeDistributed wraps a '%s', which is not supported here", cls);
    /* (N, T, d..) -> (N*T, d..) */
    int64_t merged[CR_MAX_RANK];
    merged[0] = -1;
    for (int d = 2; d < x->rank; d++) merged[d - 1] = x->shape[d];
    int xv, node, in2[2];
    CR_TRY(cr_kt_keras(lw, L->name, x, &xv));
    in2[0] = xv;
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, merged, x->rank - 1, &in2[1]));
    cr_kt flat = {.v_cf = -1, .rank = x->rank - 1, .dtype = x->dtype};
    memcpy(flat.shape, merged, sizeof merged);
    flat.shape[0] = x->shape[0] < 0 ? -1 : x->shape[0] * x->shape[1];
    CR_TRY(cr_kop(lw, L, "Reshape", in2, 2, &node, &flat.v));
    cr_klayer W = {.name = L->name, .class_name = cls, .config = json_object_get(inner, "config"), .w = L->w};
    cr_kt *flat_ptr = &flat, y;
    int n_y;
    CR_TRY(cr_keras_lower_layer(lw, &W, &flat_ptr, 1, &y, &n_y));
    if (n_y != 1) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the wrapped layer has %d outputs", n_y);
    int64_t split[CR_MAX_RANK] = {-1, x->shape[1]};
    if (y.rank + 1 > CR_MAX_RANK) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the output's rank is too high");
    for (int d = 1; d < y.rank; d++) {
        if (y.shape[d] < 0) return cr_error(CNNRUN_ERR_UNSUPPORTED, "the wrapped layer's output has free dims");
        split[d + 1] = y.shape[d];
    }
    CR_TRY(cr_kt_keras(lw, L->name, &y, &in2[0]));
    CR_TRY(cr_gb_const_ints(lw->gb, L->name, split, y.rank + 1, &in2[1]));
    memset(out, 0, sizeof *out);
    out->v_cf = -1;
    out->rank = y.rank + 1;
    out->dtype = y.dtype;
    memcpy(out->shape, split, sizeof split);
    out->shape[0] = x->shape[0];
    CR_TRY(cr_kop(lw, L, "Reshape", in2, 2, &node, &out->v));
    *n_out = 1;
    return NULL;
}

typedef struct layer_entry {
    const char *class_name;
    cr_klower_fn fn;
} layer_entry;

static const layer_entry layer_table[] = {
    {"Dense", lower_dense},
    {"Conv1D", cr_klower_conv}, {"Conv2D", cr_klower_conv}, {"Conv3D", cr_klower_conv},
    {"DepthwiseConv1D", cr_klower_depthwise}, {"DepthwiseConv2D", cr_klower_depthwise},
    {"SeparableConv1D", cr_klower_separable}, {"SeparableConv2D", cr_klower_separable},
    {"MaxPooling1D", cr_klower_pool}, {"MaxPooling2D", cr_klower_pool}, {"MaxPooling3D", cr_klower_pool},
    {"AveragePooling1D", cr_klower_pool}, {"AveragePooling2D", cr_klower_pool},
    {"AveragePooling3D", cr_klower_pool},
    {"GlobalAveragePooling1D", cr_klower_global_pool}, {"GlobalAveragePooling2D", cr_klower_global_pool},
    {"GlobalAveragePooling3D", cr_klower_global_pool}, {"GlobalMaxPooling1D", cr_klower_global_pool},
    {"GlobalMaxPooling2D", cr_klower_global_pool}, {"GlobalMaxPooling3D", cr_klower_global_pool},
    {"BatchNormalization", lower_batchnorm},
    {"Activation", lower_activation_layer}, {"ReLU", lower_relu_layer}, {"LeakyReLU", lower_leaky_relu},
    {"ELU", lower_elu}, {"Softmax", lower_softmax}, {"PReLU", lower_prelu},
    {"Flatten", lower_flatten}, {"Reshape", lower_reshape}, {"Permute", lower_permute},
    {"ZeroPadding1D", lower_zero_padding}, {"ZeroPadding2D", lower_zero_padding},
    {"ZeroPadding3D", lower_zero_padding},
    {"Cropping1D", lower_cropping}, {"Cropping2D", lower_cropping}, {"Cropping3D", lower_cropping},
    {"UpSampling1D", lower_upsampling}, {"UpSampling2D", lower_upsampling}, {"UpSampling3D", lower_upsampling},
    {"Add", lower_merge}, {"Subtract", lower_merge}, {"Multiply", lower_merge}, {"Average", lower_merge},
    {"Maximum", lower_merge}, {"Minimum", lower_merge}, {"Concatenate", lower_concatenate},
    {"Embedding", lower_embedding},
    {"Conv1DTranspose", cr_klower_conv_transpose}, {"Conv2DTranspose", cr_klower_conv_transpose},
    {"Conv3DTranspose", cr_klower_conv_transpose},
    {"Rescaling", lower_rescaling}, {"LayerNormalization", lower_layer_norm},
    {"Normalization", lower_normalization},
    {"RepeatVector", lower_repeat_vector}, {"TimeDistributed", lower_time_distributed},
    {"LSTM", cr_klower_rnn}, {"GRU", cr_klower_rnn}, {"SimpleRNN", cr_klower_rnn},
    {"Bidirectional", cr_klower_bidirectional},
    /* identity at inference */
    {"Dropout", lower_identity}, {"SpatialDropout1D", lower_identity}, {"SpatialDropout2D", lower_identity},
    {"SpatialDropout3D", lower_identity}, {"GaussianNoise", lower_identity}, {"GaussianDropout", lower_identity},
    {"AlphaDropout", lower_identity}, {"ActivityRegularization", lower_identity},
};

static const struct layer_entry *find_layer(const char *class_name)
{
    for (size_t i = 0; i < sizeof layer_table / sizeof *layer_table; i++)
        if (strcmp(layer_table[i].class_name, class_name) == 0) return &layer_table[i];
    return NULL;
}

bool cr_keras_layer_known(const char *class_name)
{
    return find_layer(class_name) != NULL;
}

cnnrun_status *cr_keras_lower_layer(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out,
                                    int *n_out)
{
    const layer_entry *e = find_layer(L->class_name);
    if (!e) return cr_error(CNNRUN_ERR_UNSUPPORTED, "this layer class is not supported");
    if (n_in < 1) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the layer is called without inputs");
    bool merge = e->fn == lower_merge || e->fn == lower_concatenate;
    if (!merge && n_in != 1)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "the layer is called on %d inputs; it takes one", n_in);
    if (!merge && in[0]->dtype != CNNRUN_FLOAT32 && e->fn != lower_embedding)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "the layer's input is not float32");
    return e->fn(lw, L, in, n_in, out, n_out);
}
