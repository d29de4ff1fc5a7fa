/* Selection by rank along one axis: TopK (the k largest or smallest values and their indices) and
 * Hardmax (a one-hot of the first maximum).
 *
 * TopK sees the input as [outer, n, inner]. Each of the outer * inner lines is copied into a
 * contiguous buffer of the thread, and the k best are kept in a binary heap whose root is the worst
 * kept (O(n log k), one pass), then ordered. Lines run in parallel. Order, as ONNX specifies: by
 * value, and among equal values the lower index first, for largest and smallest alike; a NaN
 * ranks above every number (as in NumPy's sort), so it comes first for largest and last for
 * smallest. sorted=0 allows any order; the result is then sorted all the same. k comes from an
 * input and sets the output shape, so it must be known when the graph is planned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define TOPK_PARALLEL_MIN 16384

typedef struct topk_state {
    int64_t outer, n, inner, k;
    bool largest;
    int threads;
    size_t line_bytes; /* scratch per thread */
} topk_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *topk_params(const cr_op_ctx *ctx, int *axis, int64_t *k, bool *largest)
{
    const cr_tensor *x = ctx->in[0];
    int64_t a, l, sorted;
    CR_TRY(cr_attr_int(ctx->node, "axis", -1, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, x->rank, axis));
    CR_TRY(cr_attr_int(ctx->node, "largest", 1, &l));
    CR_TRY(cr_attr_int(ctx->node, "sorted", 1, &sorted));
    *largest = l != 0;
    if (ctx->opset < 10) {
        CR_TRY(cr_attr_int(ctx->node, "k", 0, k));
    } else {
        size_t count;
        CR_TRY(cr_const_ints(ctx, 1, "k", k, 1, &count));
        if (count != 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "k must hold one value; it holds %zu", count);
    }
    if (*k < 0 || *k > x->dims[*axis])
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "k = %lld is outside [0, %lld], the size of axis %d",
                           (long long)*k, (long long)x->dims[*axis], *axis);
    return NULL;
}

static cnnrun_status *topk_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT32, CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, ctx->opset < 10 ? 1 : 2, ctx->opset < 10 ? 1 : 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, types));
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 1");
    int axis;
    int64_t k;
    bool largest;
    CR_TRY(topk_params(ctx, &axis, &k, &largest));
    int64_t dims[CR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    cr_set_output(ctx, 1, CNNRUN_INT64, x->rank, dims);
    return NULL;
}

static cnnrun_status *topk_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int axis;
    int64_t k;
    bool largest;
    CR_TRY(topk_params(ctx, &axis, &k, &largest));
    topk_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->outer = s->inner = 1;
    for (int d = 0; d < axis; d++) s->outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) s->inner *= x->dims[d];
    s->n = x->dims[axis];
    s->k = k;
    s->largest = largest;
    s->threads = op_threads(ctx);
    /* A line's values (8 bytes each at most) and the heap's indices. */
    s->line_bytes = ((size_t)s->n * 8 + (size_t)k * sizeof(int64_t) + 63) & ~(size_t)63;
    ctx->scratch_bytes = s->line_bytes * (size_t)s->threads;
    /* Without the indices output, the heap's indices go to scratch after the threads' lines. */
    if (ctx->n_out < 2 || !ctx->out[1]) ctx->scratch_bytes += (size_t)(s->outer * s->inner * k) * sizeof(int64_t);
    ctx->state = s;
    return NULL;
}

/* For one line: BETTER(i, j) says element i ranks before element j. The heap keeps the k best
 * with the worst at the root. */
#define TOPK_KERNEL(T, IS_NAN)                                                                     \
    static inline bool better_##T(const T *v, int64_t i, int64_t j, bool largest)                  \
    {                                                                                              \
        T a = v[i], b = v[j];                                                                      \
        bool an = IS_NAN(a), bn = IS_NAN(b);                                                       \
        if (an || bn) {                                                                            \
            if (an && bn) return i < j;                                                            \
            return largest ? an : bn; /* NaN ranks highest */                                      \
        }                                                                                          \
        if (a != b) return largest ? a > b : a < b;                                                \
        return i < j;                                                                              \
    }                                                                                              \
    static void sift_##T(const T *v, int64_t *h, int64_t size, int64_t at, bool largest)           \
    {                                                                                              \
        for (;;) {                                                                                 \
            int64_t l = 2 * at + 1, r = l + 1, worst = at;                                         \
            if (l < size && better_##T(v, h[worst], h[l], largest)) worst = l;                     \
            if (r < size && better_##T(v, h[worst], h[r], largest)) worst = r;                     \
            if (worst == at) return;                                                               \
            int64_t t = h[at]; h[at] = h[worst]; h[worst] = t;                                     \
            at = worst;                                                                            \
        }                                                                                          \
    }                                                                                              \
    static void line_##T(const topk_state *s, const T *v, int64_t *h, T *vals, int64_t *idx,       \
                         int64_t stride)                                                           \
    {                                                                                              \
        int64_t size = 0;                                                                          \
        for (int64_t i = 0; i < s->n && s->k > 0; i++) {                                           \
            if (size < s->k) {                                                                     \
                h[size++] = i;                                                                     \
                for (int64_t c = size - 1; c > 0;) { /* sift up: worse goes to the root */       \
                    int64_t p = (c - 1) / 2;                                                       \
                    if (!better_##T(v, h[p], h[c], s->largest)) break;                             \
                    int64_t t = h[p]; h[p] = h[c]; h[c] = t;                                       \
                    c = p;                                                                         \
                }                                                                                  \
            } else if (better_##T(v, i, h[0], s->largest)) {                                       \
                h[0] = i;                                                                          \
                sift_##T(v, h, size, 0, s->largest);                                               \
            }                                                                                      \
        }                                                                                          \
        /* Pop the worst first into the last free slot: the result comes out best first. */       \
        for (int64_t out = size - 1; out >= 0; out--) {                                            \
            vals[out * stride] = v[h[0]];                                                          \
            idx[out * stride] = h[0];                                                              \
            h[0] = h[--size];                                                                      \
            sift_##T(v, h, size, 0, s->largest);                                                   \
        }                                                                                          \
    }                                                                                              \
    static void topk_##T(const topk_state *s, const T *x, T *vals, int64_t *idx, char *scratch)     \
    {                                                                                              \
        int64_t lines = s->outer * s->inner;                                                       \
        _Pragma("omp parallel for num_threads(s->threads) if (lines * s->n >= TOPK_PARALLEL_MIN)") \
        for (int64_t l = 0; l < lines; l++) {                                                      \
            int t = omp_thread_num();                                                              \
            T *buf = (T *)(scratch + (size_t)t * s->line_bytes);                                    \
            int64_t *heap = (int64_t *)((char *)buf + (size_t)s->n * 8);                            \
            int64_t o = l / s->inner, in = l % s->inner;                                           \
            const T *src = x + o * s->n * s->inner + in;                                           \
            /* A line along the last axis is read in place; a strided one is gathered first. */   \
            if (s->inner > 1) for (int64_t i = 0; i < s->n; i++) buf[i] = src[i * s->inner];       \
            int64_t base = o * s->k * s->inner + in;                                               \
            line_##T(s, s->inner > 1 ? buf : src, heap, vals + base, idx + base, s->inner);        \
        }                                                                                          \
    }

#ifdef _OPENMP
#include <omp.h>
static inline int omp_thread_num(void) { return omp_get_thread_num(); }
#else
static inline int omp_thread_num(void) { return 0; }
#endif

#define FLOAT_NAN(a) ((a) != (a))
#define NO_NAN(a) ((void)(a), false)
TOPK_KERNEL(float, FLOAT_NAN)
TOPK_KERNEL(double, FLOAT_NAN)
TOPK_KERNEL(int32_t, NO_NAN)
TOPK_KERNEL(int64_t, NO_NAN)

static cnnrun_status *topk_run(cr_op_ctx *ctx)
{
    const topk_state *s = ctx->state;
    const void *x = ctx->in[0]->data;
    void *vals = ctx->out[0]->data;
    int64_t *idx = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data
                                                  : (int64_t *)((char *)ctx->scratch + s->line_bytes * (size_t)s->threads);
    switch (ctx->in[0]->dtype) {
    case CNNRUN_FLOAT32: topk_float(s, x, vals, idx, ctx->scratch); break;
    case CNNRUN_FLOAT64: topk_double(s, x, vals, idx, ctx->scratch); break;
    case CNNRUN_INT32: topk_int32_t(s, x, vals, idx, ctx->scratch); break;
    case CNNRUN_INT64: topk_int64_t(s, x, vals, idx, ctx->scratch); break;
    default: break;
    }
    return NULL;
}

static void topk_destroy(void *state)
{
    free(state);
}

/* ---- Hardmax --------------------------------------------------------------------------------- */

/* As Softmax: opsets 1-12 coerce the input to 2-D at axis (default 1), 13+ work along one axis
 * (default -1). Either way the view is [outer, n, inner]. */
static cnnrun_status *hardmax_view(const cr_op_ctx *ctx, int64_t *outer, int64_t *n, int64_t *inner)
{
    const cr_tensor *x = ctx->in[0];
    bool coerce = ctx->opset < 13;
    int64_t a;
    int axis;
    CR_TRY(cr_attr_int(ctx->node, "axis", coerce ? 1 : -1, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, x->rank, &axis));
    *outer = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    *n = 1;
    *inner = 1;
    for (int d = axis; d < x->rank; d++) {
        if (d == axis || coerce) *n *= x->dims[d];
        else *inner *= x->dims[d];
    }
    return NULL;
}

static cnnrun_status *hardmax_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    if (ctx->in[0]->rank < 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 1");
    int64_t o, n, i;
    CR_TRY(hardmax_view(ctx, &o, &n, &i));
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

/* The first maximum of each line gets 1 (NaN counts as the maximum, as in NumPy's argmax). */
static cnnrun_status *hardmax_run(cr_op_ctx *ctx)
{
    int64_t outer, n, inner;
    CR_TRY(hardmax_view(ctx, &outer, &n, &inner));
    const float *x = ctx->in[0]->data;
    float *y = ctx->out[0]->data;
    int64_t count = outer * n * inner;
    int64_t *best = ctx->scratch;
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        for (int64_t in = 0; in < inner; in++) best[in] = 0;
        for (int64_t j = 1; j < n; j++)
            for (int64_t in = 0; in < inner; in++) {
                float b = xo[best[in] * inner + in], v = xo[j * inner + in];
                if (b == b && (v > b || v != v)) best[in] = j;
            }
        for (int64_t j = 0; j < n * inner && count; j++) y[o * n * inner + j] = 0.0f;
        for (int64_t in = 0; in < inner && n > 0; in++) y[o * n * inner + best[in] * inner + in] = 1.0f;
    }
    return NULL;
}

static cnnrun_status *hardmax_prepare(cr_op_ctx *ctx)
{
    int64_t o, n, i;
    CR_TRY(hardmax_view(ctx, &o, &n, &i));
    ctx->scratch_bytes = (size_t)i * sizeof(int64_t);
    return NULL;
}

/* TopK: opset 1 (k attribute), 10 (k input), 11 (negative axis, largest, sorted). Hardmax: 1 and 13. */
static const cr_op op_topk = {.op_type = "TopK", .domain = "", .opset_min = 1, .opset_max = 22,
                              .infer = topk_infer, .prepare = topk_prepare, .run = topk_run, .destroy = topk_destroy};
static const cr_op op_hardmax = {.op_type = "Hardmax", .domain = "", .opset_min = 1, .opset_max = 22,
                                 .infer = hardmax_infer, .prepare = hardmax_prepare, .run = hardmax_run};

const cr_op *const cr_ops_topk[] = {&op_topk, &op_hardmax, NULL};
