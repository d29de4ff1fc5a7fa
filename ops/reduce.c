/* Reductions (ReduceSum, ReduceMean, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum,
 * ReduceLogSumExp, ReduceMax, ReduceMin, ReduceProd) and ArgMax / ArgMin.
 *
 * Axes come from the `axes` attribute, or from the optional second input for ReduceSum from
 * opset 13 and for the others from opset 18; no axes means every axis, unless the input form's
 * noop_with_empty_axes is set, in which case each element is reduced on its own (a copy for
 * ReduceSum, x*x for ReduceSumSquare, and so on).
 *
 * Before running, the input shape is simplified: dims of size 1 are dropped and neighbouring
 * dims that are both reduced or both kept are merged. When the reduced dims then form one run,
 * the tensor is a view [outer, R, inner] and float32 takes fast paths: a vectorised reduction of
 * each contiguous row when inner = 1 (mean over H,W of NCHW), or lanes of neighbouring columns
 * accumulated row by row when inner > 1 (sum over C of NCHW). Other shapes, and the other dtypes,
 * walk the reduced index space with an odometer.
 *
 * Reductions over an empty set give the identity of the operation, as opset 18 specifies: 0 for
 * the sums, 1 for ReduceProd, -inf for ReduceMax, ReduceLogSum and ReduceLogSumExp, +inf for
 * ReduceMin (the dtype's lowest and highest values for integers), NaN for ReduceMean. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

/* Below this many input elements a parallel region costs more than it saves. */
#define REDUCE_PARALLEL_MIN 32768
/* Columns accumulated together when reducing along a strided axis; the accumulators live on
 * the stack. */
#define REDUCE_LANES 256

typedef enum reduce_kind {
    RK_SUM,
    RK_MEAN,
    RK_SUM_SQUARE,
    RK_L1,
    RK_L2,
    RK_LOG_SUM,
    RK_LOG_SUM_EXP,
    RK_MAX,
    RK_MIN,
    RK_PROD,
} reduce_kind;

typedef struct reduce_def {
    const char *op_type;
    reduce_kind kind;
    bool ints; /* integer data accepted: the result is exact in the input's dtype */
} reduce_def;

static const reduce_def reduce_defs[] = {
    {"ReduceSum", RK_SUM, true},
    {"ReduceMean", RK_MEAN, false},
    {"ReduceSumSquare", RK_SUM_SQUARE, true},
    {"ReduceL1", RK_L1, true},
    {"ReduceL2", RK_L2, false},
    {"ReduceLogSum", RK_LOG_SUM, false},
    {"ReduceLogSumExp", RK_LOG_SUM_EXP, false},
    {"ReduceMax", RK_MAX, true},
    {"ReduceMin", RK_MIN, true},
    {"ReduceProd", RK_PROD, true},
};

/* The input shape after dropping size-1 dims and merging neighbours of the same role. */
typedef struct reduce_layout {
    int groups;
    int64_t size[CR_MAX_RANK];
    int64_t stride[CR_MAX_RANK]; /* input elements between neighbours along the group */
    bool reduced[CR_MAX_RANK];
    int64_t out_count;           /* output elements */
    int64_t reduce_count;        /* input elements folded into each output element */
    bool single_run;             /* at most one reduced group: the view [outer, R, inner] holds */
    int64_t outer, inner;
} reduce_layout;

typedef struct reduce_state {
    reduce_kind kind;
    cnnrun_dtype dtype;
    reduce_layout layout;
    int threads;
} reduce_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static const reduce_def *reduce_find(const char *op_type)
{
    for (size_t i = 0; i < sizeof reduce_defs / sizeof *reduce_defs; i++)
        if (strcmp(reduce_defs[i].op_type, op_type) == 0) return &reduce_defs[i];
    return NULL;
}

static bool axes_from_input(const cr_op_ctx *ctx, const reduce_def *d)
{
    return d->kind == RK_SUM ? ctx->opset >= 13 : ctx->opset >= 18;
}

/* Marks the reduced axes of a rank-`rank` input. */
static cnnrun_status *reduce_axes(const cr_op_ctx *ctx, const reduce_def *d, int rank, bool *reduced)
{
    int64_t axes[CR_MAX_RANK];
    size_t count = 0;
    int64_t noop = 0;
    if (axes_from_input(ctx, d)) {
        CR_TRY(cr_attr_int(ctx->node, "noop_with_empty_axes", 0, &noop));
        if (ctx->n_in > 1 && ctx->in[1]) CR_TRY(cr_const_ints(ctx, 1, "axes", axes, CR_MAX_RANK, &count));
    } else {
        const int64_t *a = NULL;
        CR_TRY(cr_attr_ints(ctx->node, "axes", &a, &count));
        if (count > CR_MAX_RANK)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute axes has %zu values; the input has rank %d",
                               count, rank);
        if (count) memcpy(axes, a, count * sizeof *axes);
    }
    for (int i = 0; i < rank; i++) reduced[i] = count == 0 && !noop;
    for (size_t i = 0; i < count; i++) {
        int ax;
        CR_TRY(cr_normalize_axis(ctx, "axes value", axes[i], rank, &ax));
        if (reduced[ax])
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d appears more than once in axes", ax);
        reduced[ax] = true;
    }
    return NULL;
}

static cnnrun_status *reduce_check_dtype(const cr_op_ctx *ctx, const reduce_def *d)
{
    static const cnnrun_dtype numbers[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT32, CNNRUN_INT64, 0};
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, 0};
    return cr_op_check_dtype(ctx, 0, d->ints ? numbers : floats);
}

static cnnrun_status *reduce_infer(cr_op_ctx *ctx)
{
    const reduce_def *d = reduce_find(ctx->node->op_type);
    if (!d) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no reduction kernel for this op");
    CR_TRY(cr_op_check_inputs(ctx, 1, axes_from_input(ctx, d) ? 2 : 1));
    CR_TRY(reduce_check_dtype(ctx, d));
    int64_t keepdims;
    CR_TRY(cr_attr_int(ctx->node, "keepdims", 1, &keepdims));
    const cr_tensor *x = ctx->in[0];
    bool reduced[CR_MAX_RANK];
    CR_TRY(reduce_axes(ctx, d, x->rank, reduced));
    int64_t dims[CR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!reduced[i]) dims[rank++] = x->dims[i];
        else if (keepdims) dims[rank++] = 1;
    }
    cr_set_output(ctx, 0, x->dtype, rank, dims);
    return NULL;
}

static cnnrun_status *reduce_layout_build(const cr_op_ctx *ctx, const cr_tensor *x, const bool *reduced,
                                          reduce_layout *L)
{
    int64_t kept_dims[CR_MAX_RANK], red_dims[CR_MAX_RANK];
    int n_kept = 0, n_red = 0;
    memset(L, 0, sizeof *L);
    for (int d = 0; d < x->rank; d++) {
        if (reduced[d]) red_dims[n_red++] = x->dims[d];
        else kept_dims[n_kept++] = x->dims[d];
        if (x->dims[d] == 1) continue;
        if (L->groups > 0 && L->reduced[L->groups - 1] == reduced[d]) {
            L->size[L->groups - 1] *= x->dims[d];
        } else {
            L->size[L->groups] = x->dims[d];
            L->reduced[L->groups] = reduced[d];
            L->groups++;
        }
    }
    /* With a zero dim the input is empty whatever the other dims claim, so the two products are
     * checked on their own before anything relies on them. */
    if (!cr_shape_count(n_kept, kept_dims, &L->out_count) || !cr_shape_count(n_red, red_dims, &L->reduce_count))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the input's dims multiply beyond int64");
    int64_t s = 1;
    for (int g = L->groups - 1; g >= 0; g--) {
        L->stride[g] = s;
        s *= L->size[g];
    }
    int red_groups = 0;
    L->outer = 1;
    L->inner = 1;
    for (int g = 0; g < L->groups; g++) {
        if (L->reduced[g]) red_groups++;
        else if (red_groups == 0) L->outer *= L->size[g];
        else L->inner *= L->size[g];
    }
    L->single_run = red_groups <= 1;
    return NULL;
}

static cnnrun_status *reduce_prepare(cr_op_ctx *ctx)
{
    const reduce_def *d = reduce_find(ctx->node->op_type);
    if (!d) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no reduction kernel for this op");
    bool reduced[CR_MAX_RANK];
    CR_TRY(reduce_axes(ctx, d, ctx->in[0]->rank, reduced));
    reduce_layout layout;
    CR_TRY(reduce_layout_build(ctx, ctx->in[0], reduced, &layout));
    reduce_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->kind = d->kind;
    s->dtype = ctx->in[0]->dtype;
    s->layout = layout;
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

/* ---- float32 over contiguous rows (inner = 1) ------------------------------------------------ */

/* The shift subtracted before exponentiating in ReduceLogSumExp: the maximum, unless that is
 * infinite (all -inf, or an empty set), where exp(x - max) would be NaN. */
static inline float lse_shift_f32(float mx)
{
    return isfinite(mx) ? mx : 0.0f;
}

static float row_max_f32(const float *x, int64_t n)
{
    float m = -INFINITY;
    #pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float row_min_f32(const float *x, int64_t n)
{
    float m = INFINITY;
    #pragma omp simd reduction(min : m)
    for (int64_t i = 0; i < n; i++) m = x[i] < m ? x[i] : m;
    return m;
}

static float row_reduce_f32(reduce_kind kind, const float *x, int64_t n)
{
    float acc = 0.0f;
    switch (kind) {
    case RK_SUM:
    case RK_MEAN:
    case RK_LOG_SUM:
        #pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < n; i++) acc += x[i];
        break;
    case RK_SUM_SQUARE:
    case RK_L2:
        #pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < n; i++) acc += x[i] * x[i];
        break;
    case RK_L1:
        #pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < n; i++) acc += fabsf(x[i]);
        break;
    case RK_LOG_SUM_EXP: {
        float shift = lse_shift_f32(row_max_f32(x, n));
        #pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < n; i++) acc += expf(x[i] - shift);
        return shift + logf(acc);
    }
    case RK_MAX: return row_max_f32(x, n);
    case RK_MIN: return row_min_f32(x, n);
    case RK_PROD:
        acc = 1.0f;
        #pragma omp simd reduction(* : acc)
        for (int64_t i = 0; i < n; i++) acc *= x[i];
        break;
    }
    switch (kind) {
    case RK_MEAN: return acc / (float)n;
    case RK_L2: return sqrtf(acc);
    case RK_LOG_SUM: return logf(acc);
    default: return acc;
    }
}

static void reduce_rows_f32(const reduce_state *s, const float *x, float *y)
{
    const reduce_layout *L = &s->layout;
    int64_t outer = L->outer, n = L->reduce_count;
    #pragma omp parallel for num_threads(s->threads) if (outer > 1 && outer * n >= REDUCE_PARALLEL_MIN)
    for (int64_t o = 0; o < outer; o++) y[o] = row_reduce_f32(s->kind, x + o * n, n);
}

/* ---- float32 along a strided axis (inner > 1) ----------------------------------------------- */

/* Runs `update` (which reads v, the input, and updates acc[k]) over n rows of `lanes` columns
 * spaced `stride` apart. */
#define LANES_LOOP(update)                                                                         \
    for (int64_t r = 0; r < n; r++) {                                                              \
        const float *row = x + r * stride;                                                         \
        _Pragma("omp simd")                                                                        \
        for (int k = 0; k < lanes; k++) {                                                          \
            float v = row[k];                                                                      \
            update;                                                                                \
        }                                                                                          \
    }

/* Reduces `lanes` neighbouring columns of an [n, stride] block along n into y[0..lanes). */
static void lanes_reduce_f32(reduce_kind kind, const float *x, int64_t n, int64_t stride, int lanes, float *y)
{
    float acc[REDUCE_LANES], shift[REDUCE_LANES];
    float init = kind == RK_MAX ? -INFINITY : kind == RK_MIN ? INFINITY : kind == RK_PROD ? 1.0f : 0.0f;
    for (int k = 0; k < lanes; k++) acc[k] = init;
    switch (kind) {
    case RK_SUM:
    case RK_MEAN:
    case RK_LOG_SUM: LANES_LOOP(acc[k] += v) break;
    case RK_SUM_SQUARE:
    case RK_L2: LANES_LOOP(acc[k] += v * v) break;
    case RK_L1: LANES_LOOP(acc[k] += fabsf(v)) break;
    case RK_MAX: LANES_LOOP(acc[k] = v > acc[k] ? v : acc[k]) break;
    case RK_MIN: LANES_LOOP(acc[k] = v < acc[k] ? v : acc[k]) break;
    case RK_PROD: LANES_LOOP(acc[k] *= v) break;
    case RK_LOG_SUM_EXP:
        for (int k = 0; k < lanes; k++) shift[k] = -INFINITY;
        LANES_LOOP(shift[k] = v > shift[k] ? v : shift[k])
        for (int k = 0; k < lanes; k++) shift[k] = lse_shift_f32(shift[k]);
        LANES_LOOP(acc[k] += expf(v - shift[k]))
        break;
    }
    float count = (float)n;
    for (int k = 0; k < lanes; k++) {
        switch (kind) {
        case RK_MEAN: y[k] = acc[k] / count; break;
        case RK_L2: y[k] = sqrtf(acc[k]); break;
        case RK_LOG_SUM: y[k] = logf(acc[k]); break;
        case RK_LOG_SUM_EXP: y[k] = shift[k] + logf(acc[k]); break;
        default: y[k] = acc[k]; break;
        }
    }
}

#undef LANES_LOOP

static void reduce_columns_f32(const reduce_state *s, const float *x, float *y)
{
    const reduce_layout *L = &s->layout;
    int64_t outer = L->outer, n = L->reduce_count, inner = L->inner;
    int64_t blocks = (inner + REDUCE_LANES - 1) / REDUCE_LANES;
    #pragma omp parallel for collapse(2) num_threads(s->threads) \
        if (outer * blocks > 1 && outer * n * inner >= REDUCE_PARALLEL_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t b = 0; b < blocks; b++) {
            int64_t k0 = b * REDUCE_LANES;
            int lanes = (int)(inner - k0 < REDUCE_LANES ? inner - k0 : REDUCE_LANES);
            lanes_reduce_f32(s->kind, x + o * n * inner + k0, n, inner, lanes, y + o * inner + k0);
        }
}

/* ---- any layout, any dtype: an odometer over the reduced groups ------------------------------ */

/* Input offset of the first element that output element `index` reduces. */
static int64_t reduce_base_offset(const reduce_layout *L, int64_t index)
{
    int64_t base = 0;
    for (int g = L->groups - 1; g >= 0; g--)
        if (!L->reduced[g]) {
            base += (index % L->size[g]) * L->stride[g];
            index /= L->size[g];
        }
    return base;
}

/* Moves (idx, offset) to the next element of the reduced index space. */
static inline int64_t odometer_next(const reduce_layout *L, int64_t *idx, int64_t off)
{
    for (int g = L->groups - 1; g >= 0; g--) {
        if (!L->reduced[g]) continue;
        off += L->stride[g];
        if (++idx[g] < L->size[g]) return off;
        off -= L->size[g] * L->stride[g];
        idx[g] = 0;
    }
    return off;
}

/* Floating-point data, accumulated in double. */
#define DEFINE_REDUCE_GENERIC_FLOAT(T, sfx)                                                         \
    static T reduce_one_##sfx(reduce_kind kind, const reduce_layout *L, const T *x, int64_t base)  \
    {                                                                                              \
        int64_t idx[CR_MAX_RANK] = {0}, off = base, n = L->reduce_count;                           \
        double shift = 0.0;                                                                        \
        if (kind == RK_LOG_SUM_EXP) {                                                              \
            double mx = -INFINITY;                                                                 \
            for (int64_t t = 0; t < n; t++, off = odometer_next(L, idx, off))                      \
                mx = x[off] > mx ? x[off] : mx;                                                    \
            shift = isfinite(mx) ? mx : 0.0;                                                       \
            off = base;                                                                            \
        }                                                                                          \
        double acc = kind == RK_MAX ? -INFINITY : kind == RK_MIN ? INFINITY : kind == RK_PROD ? 1.0 : 0.0; \
        for (int64_t t = 0; t < n; t++, off = odometer_next(L, idx, off)) {                        \
            double v = x[off];                                                                     \
            switch (kind) {                                                                        \
            case RK_SUM: case RK_MEAN: case RK_LOG_SUM: acc += v; break;                           \
            case RK_SUM_SQUARE: case RK_L2: acc += v * v; break;                                   \
            case RK_L1: acc += fabs(v); break;                                                     \
            case RK_LOG_SUM_EXP: acc += exp(v - shift); break;                                     \
            case RK_MAX: acc = v > acc ? v : acc; break;                                           \
            case RK_MIN: acc = v < acc ? v : acc; break;                                           \
            case RK_PROD: acc *= v; break;                                                         \
            }                                                                                      \
        }                                                                                          \
        switch (kind) {                                                                            \
        case RK_MEAN: acc /= (double)n; break;                                                     \
        case RK_L2: acc = sqrt(acc); break;                                                        \
        case RK_LOG_SUM: acc = log(acc); break;                                                    \
        case RK_LOG_SUM_EXP: acc = shift + log(acc); break;                                        \
        default: break;                                                                            \
        }                                                                                          \
        return (T)acc;                                                                             \
    }

/* Integer data, accumulated in 64 bits with two's complement wrap-around (as integer hardware
 * and NumPy do) rather than undefined overflow. */
#define DEFINE_REDUCE_GENERIC_INT(T, sfx, T_MIN, T_MAX)                                             \
    static T reduce_one_##sfx(reduce_kind kind, const reduce_layout *L, const T *x, int64_t base)  \
    {                                                                                              \
        int64_t idx[CR_MAX_RANK] = {0}, off = base, n = L->reduce_count;                           \
        uint64_t acc = kind == RK_PROD ? 1u : 0u;                                                  \
        int64_t best = kind == RK_MAX ? (int64_t)(T_MIN) : (int64_t)(T_MAX);                       \
        for (int64_t t = 0; t < n; t++, off = odometer_next(L, idx, off)) {                        \
            int64_t v = x[off];                                                                    \
            uint64_t u = (uint64_t)v;                                                              \
            switch (kind) {                                                                        \
            case RK_SUM: acc += u; break;                                                          \
            case RK_SUM_SQUARE: acc += u * u; break;                                               \
            case RK_L1: acc += v < 0 ? 0u - u : u; break;                                          \
            case RK_PROD: acc *= u; break;                                                         \
            case RK_MAX: best = v > best ? v : best; break;                                        \
            case RK_MIN: best = v < best ? v : best; break;                                        \
            default: break;                                                                        \
            }                                                                                      \
        }                                                                                          \
        if (kind == RK_MAX || kind == RK_MIN) return (T)best;                                      \
        return (T)acc;                                                                             \
    }

DEFINE_REDUCE_GENERIC_FLOAT(float, f32)
DEFINE_REDUCE_GENERIC_FLOAT(double, f64)
DEFINE_REDUCE_GENERIC_INT(int32_t, i32, INT32_MIN, INT32_MAX)
DEFINE_REDUCE_GENERIC_INT(int64_t, i64, INT64_MIN, INT64_MAX)

#define DEFINE_REDUCE_GENERIC(T, sfx)                                                              \
    static void reduce_generic_##sfx(const reduce_state *s, const T *x, T *y)                      \
    {                                                                                              \
        const reduce_layout *L = &s->layout;                                                       \
        int64_t m = L->out_count;                                                                  \
        _Pragma("omp parallel for num_threads(s->threads) if (m > 1 && m * L->reduce_count >= REDUCE_PARALLEL_MIN)") \
        for (int64_t i = 0; i < m; i++) y[i] = reduce_one_##sfx(s->kind, L, x, reduce_base_offset(L, i)); \
    }

DEFINE_REDUCE_GENERIC(float, f32)
DEFINE_REDUCE_GENERIC(double, f64)
DEFINE_REDUCE_GENERIC(int32_t, i32)
DEFINE_REDUCE_GENERIC(int64_t, i64)

static cnnrun_status *reduce_run(cr_op_ctx *ctx)
{
    const reduce_state *s = ctx->state;
    const void *x = ctx->in[0]->data;
    void *y = ctx->out[0]->data;
    if (s->layout.out_count == 0) return NULL;
    switch (s->dtype) {
    case CNNRUN_FLOAT32:
        if (s->layout.single_run && s->layout.inner == 1) reduce_rows_f32(s, x, y);
        else if (s->layout.single_run) reduce_columns_f32(s, x, y);
        else reduce_generic_f32(s, x, y);
        break;
    case CNNRUN_FLOAT64: reduce_generic_f64(s, x, y); break;
    case CNNRUN_INT32: reduce_generic_i32(s, x, y); break;
    case CNNRUN_INT64: reduce_generic_i64(s, x, y); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(s->dtype));
    }
    return NULL;
}

static void op_state_free(void *state)
{
    free(state);
}

/* ---- ArgMax / ArgMin ------------------------------------------------------------------------ */

typedef struct arg_state {
    bool is_max;
    bool last; /* select_last_index: ties go to the highest index */
    cnnrun_dtype dtype;
    int64_t outer, n, inner;
    int threads;
} arg_state;

static cnnrun_status *arg_attrs(const cr_op_ctx *ctx, int *axis, int64_t *keepdims, int64_t *last)
{
    int64_t axis_attr;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &axis_attr));
    CR_TRY(cr_attr_int(ctx->node, "keepdims", 1, keepdims));
    CR_TRY(cr_attr_int(ctx->node, "select_last_index", 0, last));
    const cr_tensor *x = ctx->in[0];
    if (x->rank == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input is a scalar; an axis is needed");
    return cr_normalize_axis(ctx, "attribute axis", axis_attr, x->rank, axis);
}

static cnnrun_status *arg_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype numbers[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT32, CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, numbers));
    int axis;
    int64_t keepdims, last;
    CR_TRY(arg_attrs(ctx, &axis, &keepdims, &last));
    const cr_tensor *x = ctx->in[0];
    if (x->dims[axis] == 0) {
        /* An index into nothing: acceptable only when there is no output element to hold one. */
        bool no_output = false;
        for (int i = 0; i < x->rank; i++)
            if (i != axis && x->dims[i] == 0) no_output = true;
        if (!no_output)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d has size 0: there is no index to return", axis);
    }
    int64_t dims[CR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis) dims[rank++] = x->dims[i];
        else if (keepdims) dims[rank++] = 1;
    }
    cr_set_output(ctx, 0, CNNRUN_INT64, rank, dims);
    return NULL;
}

static cnnrun_status *arg_prepare(cr_op_ctx *ctx)
{
    int axis;
    int64_t keepdims, last;
    CR_TRY(arg_attrs(ctx, &axis, &keepdims, &last));
    if (last && ctx->opset < 12)
        return cr_op_unsupported_attr(ctx, "select_last_index", "it exists from opset 12");
    const cr_tensor *x = ctx->in[0];
    int64_t outer, inner;
    if (!cr_shape_count(axis, x->dims, &outer) || !cr_shape_count(x->rank - axis - 1, x->dims + axis + 1, &inner))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the input's dims multiply beyond int64");
    arg_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->is_max = strcmp(ctx->node->op_type, "ArgMax") == 0;
    s->last = last != 0;
    s->dtype = x->dtype;
    s->outer = outer;
    s->n = x->dims[axis];
    s->inner = inner;
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

/* The index of the extreme value along n (spaced `stride` apart), by the comparison `better`
 * (strict for the first index among ties, non-strict for the last). */
#define ARG_SCAN(T, better)                                                                           \
    for (int64_t j = 1; j < n; j++) {                                                              \
        T v = x[j * stride];                                                                       \
        if (better) {                                                                              \
            best = v;                                                                              \
            at = j;                                                                                \
        }                                                                                          \
    }

#define DEFINE_ARG(T, sfx)                                                                         \
    static int64_t arg_one_##sfx(const T *x, int64_t n, int64_t stride, bool is_max, bool last)    \
    {                                                                                              \
        T best = x[0];                                                                             \
        int64_t at = 0;                                                                            \
        if (is_max && last) ARG_SCAN(T, v >= best)                                                    \
        else if (is_max) ARG_SCAN(T, v > best)                                                        \
        else if (last) ARG_SCAN(T, v <= best)                                                         \
        else ARG_SCAN(T, v < best)                                                                    \
        return at;                                                                                 \
    }                                                                                              \
    static void arg_run_##sfx(const arg_state *s, const T *x, int64_t *y)                          \
    {                                                                                              \
        int64_t outer = s->outer, n = s->n, inner = s->inner;                                      \
        _Pragma("omp parallel for collapse(2) num_threads(s->threads) if (outer * n * inner >= REDUCE_PARALLEL_MIN)") \
        for (int64_t o = 0; o < outer; o++)                                                        \
            for (int64_t k = 0; k < inner; k++)                                                    \
                y[o * inner + k] = arg_one_##sfx(x + o * n * inner + k, n, inner, s->is_max, s->last); \
    }

DEFINE_ARG(float, f32)
DEFINE_ARG(double, f64)
DEFINE_ARG(int32_t, i32)
DEFINE_ARG(int64_t, i64)

#undef ARG_SCAN

/* float32 along a strided axis (ArgMax over the channels of a segmentation map): neighbouring
 * columns are scanned together, row by row, so the loads are contiguous and vectorise. */
#define ARG_LANES(better)                                                                          \
    for (int64_t j = 1; j < n; j++) {                                                              \
        const float *row = x + j * stride;                                                         \
        _Pragma("omp simd")                                                                        \
        for (int k = 0; k < lanes; k++) {                                                          \
            float v = row[k];                                                                      \
            bool take = (better);                                                                  \
            best[k] = take ? v : best[k];                                                          \
            at[k] = take ? j : at[k];                                                              \
        }                                                                                          \
    }

static void arg_lanes_f32(const float *x, int64_t n, int64_t stride, int lanes, bool is_max, bool last,
                          int64_t *y)
{
    float best[REDUCE_LANES];
    int64_t at[REDUCE_LANES];
    for (int k = 0; k < lanes; k++) {
        best[k] = x[k];
        at[k] = 0;
    }
    if (is_max && last) ARG_LANES(v >= best[k])
    else if (is_max) ARG_LANES(v > best[k])
    else if (last) ARG_LANES(v <= best[k])
    else ARG_LANES(v < best[k])
    memcpy(y, at, (size_t)lanes * sizeof *y);
}

#undef ARG_LANES

static void arg_columns_f32(const arg_state *s, const float *x, int64_t *y)
{
    int64_t outer = s->outer, n = s->n, inner = s->inner;
    int64_t blocks = (inner + REDUCE_LANES - 1) / REDUCE_LANES;
    #pragma omp parallel for collapse(2) num_threads(s->threads) \
        if (outer * blocks > 1 && outer * n * inner >= REDUCE_PARALLEL_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t b = 0; b < blocks; b++) {
            int64_t k0 = b * REDUCE_LANES;
            int lanes = (int)(inner - k0 < REDUCE_LANES ? inner - k0 : REDUCE_LANES);
            arg_lanes_f32(x + o * n * inner + k0, n, inner, lanes, s->is_max, s->last, y + o * inner + k0);
        }
}

static cnnrun_status *arg_run(cr_op_ctx *ctx)
{
    const arg_state *s = ctx->state;
    const void *x = ctx->in[0]->data;
    int64_t *y = ctx->out[0]->data;
    if (s->outer == 0 || s->inner == 0) return NULL;
    switch (s->dtype) {
    case CNNRUN_FLOAT32:
        if (s->inner > 1) arg_columns_f32(s, x, y);
        else arg_run_f32(s, x, y);
        break;
    case CNNRUN_FLOAT64: arg_run_f64(s, x, y); break;
    case CNNRUN_INT32: arg_run_i32(s, x, y); break;
    case CNNRUN_INT64: arg_run_i64(s, x, y); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(s->dtype));
    }
    return NULL;
}

/* Opset 11 allows negative axes, 13 moves ReduceSum's axes to an input, 18 the others', and
 * later versions only add dtypes; every form is handled above. */
#define REDUCE_OP(var, name)                                                                       \
    static const cr_op var = { \
        .op_type = name, \
        .domain = "", \
        .opset_min = 1, \
        .opset_max = 22, \
        .infer = reduce_infer, \
        .prepare = reduce_prepare, \
        .run = reduce_run, \
        .destroy = op_state_free, \
    };

REDUCE_OP(op_reduce_sum, "ReduceSum")
REDUCE_OP(op_reduce_mean, "ReduceMean")
REDUCE_OP(op_reduce_sum_square, "ReduceSumSquare")
REDUCE_OP(op_reduce_l1, "ReduceL1")
REDUCE_OP(op_reduce_l2, "ReduceL2")
REDUCE_OP(op_reduce_log_sum, "ReduceLogSum")
REDUCE_OP(op_reduce_log_sum_exp, "ReduceLogSumExp")
REDUCE_OP(op_reduce_max, "ReduceMax")
REDUCE_OP(op_reduce_min, "ReduceMin")
REDUCE_OP(op_reduce_prod, "ReduceProd")

static const cr_op op_argmax = {
    .op_type = "ArgMax",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = arg_infer,
    .prepare = arg_prepare,
    .run = arg_run,
    .destroy = op_state_free,
};
static const cr_op op_argmin = {
    .op_type = "ArgMin",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = arg_infer,
    .prepare = arg_prepare,
    .run = arg_run,
    .destroy = op_state_free,
};

const cr_op *const cr_ops_reduce[] = {
    &op_reduce_sum, &op_reduce_mean, &op_reduce_sum_square,  &op_reduce_l1,  &op_reduce_l2,
    &op_reduce_log_sum, &op_reduce_log_sum_exp, &op_reduce_max, &op_reduce_min, &op_reduce_prod,
    &op_argmax,     &op_argmin,      NULL,
};
