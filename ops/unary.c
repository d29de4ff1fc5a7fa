/* Element-wise unary operators (Relu, Clip, Sigmoid, Tanh, LeakyRelu, Elu, Exp, the trigonometric
 * and hyperbolic functions, Round, IsInf, IsNaN, ...).
 *
 * One table row per operator: the ONNX name, its opset range, the float32 kernel and, where ONNX
 * allows integer inputs, the int64 and int32 kernels. Every kernel is a flat loop over the
 * elements, written so that GCC vectorises it; large tensors are split across the session's
 * threads. Input and output may be the same buffer (the planner may run these in place). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "float16.h"
#include "vec_math.h"
#include "op_util.h"

/* Below this many elements a parallel region costs more than it saves. */
#define UNARY_PARALLEL_MIN 65536

typedef struct unary_params {
    float alpha, beta;   /* LeakyRelu/Elu/HardSigmoid/Selu constants; Clip bounds */
    int64_t lo_i, hi_i;  /* Clip bounds for integer inputs */
    int threads;
} unary_params;

typedef void (*unary_f32_fn)(const float *x, float *y, int64_t n, const unary_params *p);
/* Integer inputs (rare: shape arithmetic, quantised data) go through one int64 function per
 * op, applied in a loop per storage type. */
typedef int64_t (*unary_int_fn)(int64_t v, const unary_params *p);

/* Defines name_suffix(x, y, n, p) computing y[i] = expr, where expr reads v = x[i]. */
#define UNARY_KERNEL(fname, type, expr)                                                            \
    CR_VECTOR_CLONES static void fname(const type *x, type *y, int64_t n, const unary_params *p)                    \
    {                                                                                              \
        (void)p;                                                                                   \
        _Pragma("omp parallel for simd num_threads(p->threads) if (n >= UNARY_PARALLEL_MIN)")     \
        for (int64_t i = 0; i < n; i++) {                                                          \
            type v = x[i];                                                                         \
            y[i] = (expr);                                                                         \
        }                                                                                          \
    }

static inline float softplus_f32(float v)
{
    /* log(1 + e^v) without overflow for large v. */
    return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

/* tanh from the vectorisable exp: 1 - 2/(e^2|x| + 1) loses relative accuracy to cancellation
 * near 0, so below |x| = 0.25 the odd Taylor series takes over (terms up to x^11 leave an error
 * under 1e-8 relative there). Measured over all floats: within 3.2e-7 relative of tanh. */
static inline float fast_tanhf(float v)
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

static inline float clamp01(float v)
{
    return cr_select_f32(v < 0.0f, 0.0f, cr_select_f32(v > 1.0f, 1.0f, v));
}

/* Integer negation and absolute value wrap at the minimum value (as two's complement hardware
 * does) instead of being undefined behaviour; the store into the narrower type wraps too. */
static int64_t relu_int(int64_t v, const unary_params *p) { (void)p; return v > 0 ? v : 0; }
static int64_t clip_int(int64_t v, const unary_params *p) { v = v < p->lo_i ? p->lo_i : v; return v > p->hi_i ? p->hi_i : v; }
static int64_t neg_int(int64_t v, const unary_params *p) { (void)p; return (int64_t)(0u - (uint64_t)v); }
static int64_t abs_int(int64_t v, const unary_params *p) { return v < 0 ? neg_int(v, p) : v; }
static int64_t sign_int(int64_t v, const unary_params *p) { (void)p; return v > 0 ? 1 : (v < 0 ? -1 : 0); }
/* The store into the element type keeps the low bits, which are the element's complement. */
static int64_t bitwise_not_int(int64_t v, const unary_params *p) { (void)p; return (int64_t)~(uint64_t)v; }

#define INT_LOOP(T)                                                                                \
    static void int_loop_##T(unary_int_fn op, const T *x, T *y, int64_t n, const unary_params *p)  \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) y[i] = (T)op((int64_t)x[i], p);                            \
    }
INT_LOOP(int8_t)
INT_LOOP(uint8_t)
INT_LOOP(int16_t)
INT_LOOP(uint16_t)
INT_LOOP(int32_t)
INT_LOOP(uint32_t)
INT_LOOP(int64_t)
INT_LOOP(uint64_t)

UNARY_KERNEL(relu_f32, float, v > 0.0f ? v : 0.0f)
/* Comparisons rather than fminf/fmaxf so that NaN passes through, as in NumPy's clip; when
 * min > max every element becomes max, as ONNX specifies. */
UNARY_KERNEL(clip_f32, float, (v < p->alpha ? p->alpha : v) > p->beta ? p->beta : (v < p->alpha ? p->alpha : v))
UNARY_KERNEL(sigmoid_f32, float, 1.0f / (1.0f + cr_fast_expf(-v)))
UNARY_KERNEL(tanh_f32, float, fast_tanhf(v))
UNARY_KERNEL(leaky_relu_f32, float, cr_select_f32(v >= 0.0f, v, p->alpha * v))
UNARY_KERNEL(elu_f32, float, v >= 0.0f ? v : p->alpha * expm1f(v))
UNARY_KERNEL(selu_f32, float, p->beta * (v > 0.0f ? v : p->alpha * expm1f(v)))
UNARY_KERNEL(exp_f32, float, cr_fast_expf(v))
UNARY_KERNEL(log_f32, float, logf(v))
UNARY_KERNEL(abs_f32, float, fabsf(v))
UNARY_KERNEL(neg_f32, float, -v)
UNARY_KERNEL(sqrt_f32, float, sqrtf(v))
UNARY_KERNEL(reciprocal_f32, float, 1.0f / v)
UNARY_KERNEL(floor_f32, float, floorf(v))
UNARY_KERNEL(ceil_f32, float, ceilf(v))
UNARY_KERNEL(erf_f32, float, erff(v))
UNARY_KERNEL(softplus_f32_k, float, softplus_f32(v))
UNARY_KERNEL(softsign_f32, float, v / (1.0f + fabsf(v)))
UNARY_KERNEL(hard_sigmoid_f32, float, clamp01(p->alpha * v + p->beta))
UNARY_KERNEL(celu_f32, float, cr_select_f32(v > 0.0f, v, p->alpha * expm1f(v / p->alpha)))
UNARY_KERNEL(thresholded_relu_f32, float, cr_select_f32(v > p->alpha, v, 0.0f))
UNARY_KERNEL(shrink_f32, float, cr_select_f32(v < -p->alpha, v + p->beta, cr_select_f32(v > p->alpha, v - p->beta, 0.0f)))
/* NaN stays NaN, as in NumPy. */
UNARY_KERNEL(sign_f32, float, v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : (v == v ? 0.0f : v)))
UNARY_KERNEL(hard_swish_f32, float, v * clamp01(v * (1.0f / 6.0f) + 0.5f))
/* The trigonometric and hyperbolic functions are libm's (correctly rounded or within an ulp or
 * two); outside their domains (asin of 2, acosh of 0.5) they give NaN as NumPy does. */
UNARY_KERNEL(sin_f32, float, sinf(v))
UNARY_KERNEL(cos_f32, float, cosf(v))
UNARY_KERNEL(tan_f32, float, tanf(v))
UNARY_KERNEL(asin_f32, float, asinf(v))
UNARY_KERNEL(acos_f32, float, acosf(v))
UNARY_KERNEL(atan_f32, float, atanf(v))
UNARY_KERNEL(sinh_f32, float, sinhf(v))
UNARY_KERNEL(cosh_f32, float, coshf(v))
UNARY_KERNEL(asinh_f32, float, asinhf(v))
UNARY_KERNEL(acosh_f32, float, acoshf(v))
UNARY_KERNEL(atanh_f32, float, atanhf(v))
/* Halves round to the even neighbour (ONNX, NumPy): nearbyint in the default rounding mode. */
UNARY_KERNEL(round_f32, float, nearbyintf(v))
/* Mish (opset 18): x * tanh(softplus(x)). Gelu (opset 20): x * Phi(x) with the exact normal CDF,
 * or its tanh approximation (approximate="tanh"). */
UNARY_KERNEL(mish_f32, float, v * tanhf(softplus_f32(v)))
UNARY_KERNEL(gelu_f32, float, 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)))
UNARY_KERNEL(gelu_tanh_f32, float, 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v))))

typedef enum unary_attrs {
    ATTRS_NONE,
    ATTRS_ALPHA,        /* alpha only (LeakyRelu, Elu) */
    ATTRS_ALPHA_BETA,   /* alpha and beta (HardSigmoid) */
    ATTRS_ALPHA_GAMMA,  /* Selu: alpha and gamma (gamma kept in beta) */
    ATTRS_LAMBD_BIAS,   /* Shrink: lambd (kept in alpha) and bias (in beta) */
    ATTRS_CLIP,         /* bounds from attributes (opset < 11) or inputs 1 and 2 */
    ATTRS_GELU,         /* approximate: "none" (f32) or "tanh" (gelu_tanh_f32) */
} unary_attrs;

typedef struct unary_kind {
    const char *op_type;
    int opset_min;
    unary_f32_fn f32;
    unary_int_fn ints; /* NULL when the op takes floats only */
    unary_attrs attrs;
    float alpha_default, beta_default;
} unary_kind;

typedef struct unary_state {
    const unary_kind *kind;
    unary_f32_fn f32;   /* the kind's float kernel, or the one an attribute picks (Gelu) */
    unary_params params;
    bool bounds_at_run; /* Clip with a bound input that is not constant: read it in run */
} unary_state;

static const unary_kind kinds[] = {
    {"Relu", 1, relu_f32, relu_int, ATTRS_NONE, 0, 0},
    {"Clip", 1, clip_f32, clip_int, ATTRS_CLIP, 0, 0},
    {"Sigmoid", 1, sigmoid_f32, NULL, ATTRS_NONE, 0, 0},
    {"Tanh", 1, tanh_f32, NULL, ATTRS_NONE, 0, 0},
    {"LeakyRelu", 1, leaky_relu_f32, NULL, ATTRS_ALPHA, 0.01f, 0},
    {"Elu", 1, elu_f32, NULL, ATTRS_ALPHA, 1.0f, 0},
    {"Selu", 1, selu_f32, NULL, ATTRS_ALPHA_GAMMA, 1.67326319217681884765625f,
     1.05070102214813232421875f},
    {"Exp", 1, exp_f32, NULL, ATTRS_NONE, 0, 0},
    {"Log", 1, log_f32, NULL, ATTRS_NONE, 0, 0},
    {"Abs", 1, abs_f32, abs_int, ATTRS_NONE, 0, 0},
    {"Neg", 1, neg_f32, neg_int, ATTRS_NONE, 0, 0},
    {"Sqrt", 1, sqrt_f32, NULL, ATTRS_NONE, 0, 0},
    {"Reciprocal", 1, reciprocal_f32, NULL, ATTRS_NONE, 0, 0},
    {"Floor", 1, floor_f32, NULL, ATTRS_NONE, 0, 0},
    {"Ceil", 1, ceil_f32, NULL, ATTRS_NONE, 0, 0},
    {"Erf", 9, erf_f32, NULL, ATTRS_NONE, 0, 0},
    {"Softplus", 1, softplus_f32_k, NULL, ATTRS_NONE, 0, 0},
    {"Softsign", 1, softsign_f32, NULL, ATTRS_NONE, 0, 0},
    {"HardSigmoid", 1, hard_sigmoid_f32, NULL, ATTRS_ALPHA_BETA, 0.2f, 0.5f},
    {"HardSwish", 14, hard_swish_f32, NULL, ATTRS_NONE, 0, 0},
    {"Sign", 9, sign_f32, sign_int, ATTRS_NONE, 0, 0},
    {"Celu", 12, celu_f32, NULL, ATTRS_ALPHA, 1.0f, 0},
    {"ThresholdedRelu", 10, thresholded_relu_f32, NULL, ATTRS_ALPHA, 1.0f, 0},
    {"Shrink", 9, shrink_f32, NULL, ATTRS_LAMBD_BIAS, 0.5f, 0.0f},
    {"Sin", 7, sin_f32, NULL, ATTRS_NONE, 0, 0},
    {"Cos", 7, cos_f32, NULL, ATTRS_NONE, 0, 0},
    {"Tan", 7, tan_f32, NULL, ATTRS_NONE, 0, 0},
    {"Asin", 7, asin_f32, NULL, ATTRS_NONE, 0, 0},
    {"Acos", 7, acos_f32, NULL, ATTRS_NONE, 0, 0},
    {"Atan", 7, atan_f32, NULL, ATTRS_NONE, 0, 0},
    {"Sinh", 9, sinh_f32, NULL, ATTRS_NONE, 0, 0},
    {"Cosh", 9, cosh_f32, NULL, ATTRS_NONE, 0, 0},
    {"Asinh", 9, asinh_f32, NULL, ATTRS_NONE, 0, 0},
    {"Acosh", 9, acosh_f32, NULL, ATTRS_NONE, 0, 0},
    {"Atanh", 9, atanh_f32, NULL, ATTRS_NONE, 0, 0},
    {"Round", 11, round_f32, NULL, ATTRS_NONE, 0, 0},
    {"Mish", 18, mish_f32, NULL, ATTRS_NONE, 0, 0},
    {"Gelu", 20, gelu_f32, NULL, ATTRS_GELU, 0, 0},
    {"BitwiseNot", 18, NULL, bitwise_not_int, ATTRS_NONE, 0, 0},
};

static const unary_kind *unary_find(const char *op_type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(kinds[i].op_type, op_type) == 0) return &kinds[i];
    return NULL;
}

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *unary_check_dtype(const cr_op_ctx *ctx, const unary_kind *k)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    static const cnnrun_dtype numbers[] = {CNNRUN_FLOAT32, CNNRUN_INT64, CNNRUN_INT32, CNNRUN_INT16, CNNRUN_INT8,
                                           CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};
    static const cnnrun_dtype integers[] = {CNNRUN_INT64,  CNNRUN_INT32,  CNNRUN_INT16,  CNNRUN_INT8, CNNRUN_UINT64,
                                            CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};
    if (!k->f32) return cr_op_check_dtype(ctx, 0, integers); /* the bitwise ops */
    /* Clip's bounds were float attributes before opset 11, so its data were float only. */
    bool ints = k->ints && !(k->attrs == ATTRS_CLIP && ctx->opset < 11);
    return cr_op_check_dtype(ctx, 0, ints ? numbers : floats);
}

/* Clip's bound inputs (opset >= 11) are scalars of the data's dtype. */
static cnnrun_status *clip_check_bound(const cr_op_ctx *ctx, int i, const char *role)
{
    if (i >= ctx->n_in || !ctx->in[i]) return NULL;
    const cr_tensor *t = ctx->in[i];
    if (t->dtype != ctx->in[0]->dtype)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input has dtype %s; expected %s like the data",
                           role, cnnrun_dtype_name(t->dtype), cnnrun_dtype_name(ctx->in[0]->dtype));
    if (cr_tensor_count(t) != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input must be a scalar; it has %lld elements",
                           role, (long long)cr_tensor_count(t));
    return NULL;
}

static cnnrun_status *gelu_form(const cr_op_ctx *ctx, bool *tanh_form)
{
    const char *a;
    CR_TRY(cr_attr_string(ctx->node, "approximate", "none", &a));
    if (strcmp(a, "none") && strcmp(a, "tanh")) return cr_op_unsupported_attr(ctx, "approximate", "expected none or tanh");
    *tanh_form = strcmp(a, "tanh") == 0;
    return NULL;
}

static cnnrun_status *unary_infer(cr_op_ctx *ctx)
{
    const unary_kind *k = unary_find(ctx->node->op_type);
    if (!k) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no unary kernel for this op");
    bool clip_inputs = k->attrs == ATTRS_CLIP && ctx->opset >= 11;
    CR_TRY(cr_op_check_inputs(ctx, 1, clip_inputs ? 3 : 1));
    CR_TRY(unary_check_dtype(ctx, k));
    if (clip_inputs) {
        CR_TRY(clip_check_bound(ctx, 1, "min"));
        CR_TRY(clip_check_bound(ctx, 2, "max"));
    }
    if (k->attrs == ATTRS_GELU) {
        bool tanh_form;
        CR_TRY(gelu_form(ctx, &tanh_form));
    }
    cr_set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

/* Reads a scalar bound of Clip as both float and integer. */
static void clip_read_bound(const cr_tensor *t, float *f, int64_t *i)
{
    switch (t->dtype) {
    case CNNRUN_FLOAT32: *f = *(const float *)t->data; break;
    case CNNRUN_INT64: *i = *(const int64_t *)t->data; break;
    case CNNRUN_INT32: *i = *(const int32_t *)t->data; break;
    case CNNRUN_INT16: *i = *(const int16_t *)t->data; break;
    case CNNRUN_INT8: *i = *(const int8_t *)t->data; break;
    case CNNRUN_UINT32: *i = *(const uint32_t *)t->data; break;
    case CNNRUN_UINT16: *i = *(const uint16_t *)t->data; break;
    case CNNRUN_UINT8: *i = *(const uint8_t *)t->data; break;
    default: break;
    }
}

/* The range of an integer dtype: Clip's bounds when an input is omitted. */
static void int_dtype_range(cnnrun_dtype dt, int64_t *lo, int64_t *hi)
{
    switch (dt) {
    case CNNRUN_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case CNNRUN_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case CNNRUN_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case CNNRUN_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case CNNRUN_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case CNNRUN_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    default: *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

static void clip_bounds_from_inputs(const cr_op_ctx *ctx, unary_params *p)
{
    p->alpha = -INFINITY;
    p->beta = INFINITY;
    int_dtype_range(ctx->in[0]->dtype, &p->lo_i, &p->hi_i);
    if (ctx->n_in > 1 && ctx->in[1]) clip_read_bound(ctx->in[1], &p->alpha, &p->lo_i);
    if (ctx->n_in > 2 && ctx->in[2]) clip_read_bound(ctx->in[2], &p->beta, &p->hi_i);
}

static cnnrun_status *unary_prepare(cr_op_ctx *ctx)
{
    const unary_kind *k = unary_find(ctx->node->op_type);
    if (!k) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no unary kernel for this op");
    /* Element by element, any float32 layout without padding will do (bfloat16 activations are
     * read as float32 in their order): the output takes the layout the input is read in. */
    cr_layout twin;
    if (ctx->layouts_allowed && !cr_layout_is_plain(ctx->in[0])) {
        if (cr_layout_dense(ctx->in[0]) && ctx->out[0]->layout) {
            *ctx->out[0]->layout = *ctx->in[0]->layout;
        } else if (cr_layout_f32_twin(ctx->in[0], &twin) && ctx->out[0]->layout) {
            cr_op_want_layout(ctx, 0, &twin);
            *ctx->out[0]->layout = twin;
        } else {
            cr_op_want_layout(ctx, 0, NULL);
        }
    }
    unary_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->kind = k;
    s->f32 = k->f32;
    s->params.threads = op_threads(ctx);
    s->params.alpha = k->alpha_default;
    s->params.beta = k->beta_default;
    cnnrun_status *st = NULL;
    bool tanh_form = false;
    switch (k->attrs) {
    case ATTRS_NONE: break;
    case ATTRS_GELU:
        st = gelu_form(ctx, &tanh_form);
        if (!st && tanh_form) s->f32 = gelu_tanh_f32;
        break;
    case ATTRS_ALPHA: st = cr_attr_float(ctx->node, "alpha", k->alpha_default, &s->params.alpha); break;
    case ATTRS_ALPHA_BETA:
        st = cr_attr_float(ctx->node, "alpha", k->alpha_default, &s->params.alpha);
        if (!st) st = cr_attr_float(ctx->node, "beta", k->beta_default, &s->params.beta);
        break;
    case ATTRS_ALPHA_GAMMA:
        st = cr_attr_float(ctx->node, "alpha", k->alpha_default, &s->params.alpha);
        if (!st) st = cr_attr_float(ctx->node, "gamma", k->beta_default, &s->params.beta);
        break;
    case ATTRS_LAMBD_BIAS:
        st = cr_attr_float(ctx->node, "lambd", k->alpha_default, &s->params.alpha);
        if (!st) st = cr_attr_float(ctx->node, "bias", k->beta_default, &s->params.beta);
        break;
    case ATTRS_CLIP:
        if (ctx->opset < 11) {
            /* Before opset 11 the bounds are float attributes and the data float only. */
            st = cr_attr_float(ctx->node, "min", -FLT_MAX, &s->params.alpha);
            if (!st) st = cr_attr_float(ctx->node, "max", FLT_MAX, &s->params.beta);
        } else {
            bool lo_const = ctx->n_in < 2 || !ctx->in[1] || ctx->in[1]->data;
            bool hi_const = ctx->n_in < 3 || !ctx->in[2] || ctx->in[2]->data;
            s->bounds_at_run = !(lo_const && hi_const);
            if (!s->bounds_at_run) clip_bounds_from_inputs(ctx, &s->params);
        }
        break;
    }
    if (st) {
        free(s);
        return st;
    }
    ctx->state = s;
    return NULL;
}

static cnnrun_status *unary_run(cr_op_ctx *ctx)
{
    const unary_state *s = ctx->state;
    unary_params p = s->params;
    if (s->bounds_at_run) clip_bounds_from_inputs(ctx, &p);
    const cr_tensor *x = ctx->in[0];
    cr_tensor *y = ctx->out[0];
    int64_t n = cr_tensor_count(x);
    switch (x->dtype) {
    case CNNRUN_FLOAT32: s->f32(x->data, y->data, n, &p); break;
    case CNNRUN_UINT64: int_loop_uint64_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_INT64: int_loop_int64_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_INT32: int_loop_int32_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_INT16: int_loop_int16_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_INT8: int_loop_int8_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_UINT32: int_loop_uint32_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_UINT16: int_loop_uint16_t(s->kind->ints, x->data, y->data, n, &p); break;
    case CNNRUN_UINT8: int_loop_uint8_t(s->kind->ints, x->data, y->data, n, &p); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(x->dtype));
    }
    return NULL;
}

static void unary_destroy(void *state)
{
    free(state);
}

#define UNARY_OP(var, name, min)                                                                   \
    static const cr_op var = { \
        .op_type = name, \
        .domain = "", \
        .opset_min = min, \
        .opset_max = 22, \
        .flags = CR_OP_LAYOUT_AWARE, \
        .infer = unary_infer, \
        .prepare = unary_prepare, \
        .run = unary_run, \
        .destroy = unary_destroy, \
    };

/* Versions after 17 only widen the accepted dtypes, so the semantics here hold up to opset 22. */
UNARY_OP(op_relu, "Relu", 1)
UNARY_OP(op_clip, "Clip", 1)
UNARY_OP(op_sigmoid, "Sigmoid", 1)
UNARY_OP(op_tanh, "Tanh", 1)
UNARY_OP(op_leaky_relu, "LeakyRelu", 1)
UNARY_OP(op_elu, "Elu", 1)
UNARY_OP(op_selu, "Selu", 1)
UNARY_OP(op_exp, "Exp", 1)
UNARY_OP(op_log, "Log", 1)
UNARY_OP(op_abs, "Abs", 1)
UNARY_OP(op_neg, "Neg", 1)
UNARY_OP(op_sqrt, "Sqrt", 1)
UNARY_OP(op_reciprocal, "Reciprocal", 1)
UNARY_OP(op_floor, "Floor", 1)
UNARY_OP(op_ceil, "Ceil", 1)
UNARY_OP(op_erf, "Erf", 9)
UNARY_OP(op_softplus, "Softplus", 1)
UNARY_OP(op_softsign, "Softsign", 1)
UNARY_OP(op_hard_sigmoid, "HardSigmoid", 1)
UNARY_OP(op_hard_swish, "HardSwish", 14)
UNARY_OP(op_sign, "Sign", 9)
UNARY_OP(op_celu, "Celu", 12)
UNARY_OP(op_thresholded_relu, "ThresholdedRelu", 10)
UNARY_OP(op_shrink, "Shrink", 9)
UNARY_OP(op_sin, "Sin", 7)
UNARY_OP(op_cos, "Cos", 7)
UNARY_OP(op_tan, "Tan", 7)
UNARY_OP(op_asin, "Asin", 7)
UNARY_OP(op_acos, "Acos", 7)
UNARY_OP(op_atan, "Atan", 7)
UNARY_OP(op_sinh, "Sinh", 9)
UNARY_OP(op_cosh, "Cosh", 9)
UNARY_OP(op_asinh, "Asinh", 9)
UNARY_OP(op_acosh, "Acosh", 9)
UNARY_OP(op_atanh, "Atanh", 9)
UNARY_OP(op_round, "Round", 11)
UNARY_OP(op_mish, "Mish", 18)
UNARY_OP(op_gelu, "Gelu", 20)
UNARY_OP(op_bitwise_not, "BitwiseNot", 18)

/* IsInf and IsNaN: float16, float32 or float64 in, bool out. */
static cnnrun_status *float_class_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    int64_t v;
    if (strcmp(ctx->node->op_type, "IsInf") == 0) {
        CR_TRY(cr_attr_int(ctx->node, "detect_negative", 1, &v));
        CR_TRY(cr_attr_int(ctx->node, "detect_positive", 1, &v));
    }
    cr_set_output(ctx, 0, CNNRUN_BOOL, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *float_class_run(cr_op_ctx *ctx)
{
    int64_t neg = 1, pos = 1;
    bool inf = strcmp(ctx->node->op_type, "IsInf") == 0;
    if (inf) {
        CR_TRY(cr_attr_int(ctx->node, "detect_negative", 1, &neg));
        CR_TRY(cr_attr_int(ctx->node, "detect_positive", 1, &pos));
    }
    int64_t n = cr_tensor_count(ctx->in[0]);
    uint8_t *y = ctx->out[0]->data;
    cnnrun_dtype dt = ctx->in[0]->dtype;
    const float *xf = ctx->in[0]->data;
    const double *xd = ctx->in[0]->data;
    const uint16_t *xh = ctx->in[0]->data;
    for (int64_t i = 0; i < n; i++) {
        double v = dt == CNNRUN_FLOAT32 ? (double)xf[i] : dt == CNNRUN_FLOAT64 ? xd[i] : (double)cr_half_to_float(xh[i]);
        y[i] = inf ? (uint8_t)((isinf(v) && (v > 0 ? pos : neg)) != 0) : (uint8_t)(isnan(v) != 0);
    }
    return NULL;
}

static const cr_op op_is_inf = {.op_type = "IsInf", .domain = "", .opset_min = 10, .opset_max = 22,
                                .infer = float_class_infer, .run = float_class_run};
static const cr_op op_is_nan = {.op_type = "IsNaN", .domain = "", .opset_min = 9, .opset_max = 22,
                                .infer = float_class_infer, .run = float_class_run};

const cr_op *const cr_ops_unary[] = {
    &op_relu,  &op_clip,  &op_sigmoid, &op_tanh,       &op_leaky_relu, &op_elu,
    &op_selu,  &op_exp,   &op_log,     &op_abs,        &op_neg,        &op_sqrt,
    &op_reciprocal, &op_floor, &op_ceil, &op_erf,      &op_softplus,   &op_softsign,
    &op_hard_sigmoid, &op_hard_swish, &op_sign,
    &op_celu, &op_thresholded_relu, &op_shrink,
    &op_sin, &op_cos, &op_tan, &op_asin, &op_acos, &op_atan,
    &op_sinh, &op_cosh, &op_asinh, &op_acosh, &op_atanh, &op_round,
    &op_is_inf, &op_is_nan, &op_mish, &op_gelu, &op_bitwise_not, NULL,
};
