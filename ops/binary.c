/* Element-wise arithmetic with NumPy broadcasting: Add, Sub, Mul, Div on float32, float64 and the
 * signed and unsigned integers of 8 to 64 bits.
 *
 * prepare reduces any broadcast to a loop nest: the output shape with each input's strides
 * (0 along broadcast axes), with adjacent axes merged wherever both inputs step through them the
 * same way. After merging, the innermost axis is one of three loops — both inputs contiguous,
 * one side a scalar repeated along the row, or the other — so the per-channel case of a CNN
 * ([N,C,H,W] with [C,1,1]) runs as rows of H*W elements against one scalar each, and the
 * same-shape case is one flat loop.
 *
 * Integer arithmetic wraps in two's complement instead of being undefined on overflow; integer
 * Div truncates toward zero as ONNX specifies, and a division by zero yields 0 rather than
 * trapping (the result is undefined in ONNX; cnnrun must not crash on it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define BINARY_PARALLEL_MIN 65536

typedef enum binary_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } binary_kind;

typedef struct binary_state {
    binary_kind kind;
    int rank;                    /* of the merged loop nest, >= 1 */
    int64_t dims[CR_MAX_RANK];
    int64_t stride_a[CR_MAX_RANK];
    int64_t stride_b[CR_MAX_RANK];
    int64_t count;               /* output elements */
    int threads;
} binary_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static binary_kind kind_of(const char *op_type)
{
    if (strcmp(op_type, "Sub") == 0) return BIN_SUB;
    if (strcmp(op_type, "Mul") == 0) return BIN_MUL;
    if (strcmp(op_type, "Div") == 0) return BIN_DIV;
    return BIN_ADD;
}

/* B's shape as NumPy broadcasting should see it. Before opset 7, B broadcasts only when the
 * attribute broadcast=1, and then it lines up with A starting at `axis` (default: trailing
 * alignment, which is NumPy's rule); the shape is padded with trailing ones to say so. */
static cnnrun_status *legacy_b_shape(const cr_op_ctx *ctx, int *rank_b, int64_t *dims_b)
{
    const cr_tensor *a = ctx->in[0], *b = ctx->in[1];
    *rank_b = b->rank;
    memcpy(dims_b, b->dims, sizeof b->dims);
    if (ctx->opset >= 7) return NULL;
    int64_t broadcast, axis;
    CR_TRY(cr_attr_int(ctx->node, "broadcast", 0, &broadcast));
    if (!broadcast) {
        if (!cr_shape_equal(a->rank, a->dims, b->rank, b->dims)) {
            char sa[128], sb[128];
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "shapes %s and %s differ and the attribute broadcast is 0",
                               cr_shape_str(a->rank, a->dims, sa, sizeof sa),
                               cr_shape_str(b->rank, b->dims, sb, sizeof sb));
        }
        return NULL;
    }
    if (!cr_node_attr(ctx->node, "axis")) return NULL;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &axis));
    int start;
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", axis, a->rank, &start));
    if (start + b->rank > a->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "B of rank %d does not fit in A of rank %d from axis %d", b->rank, a->rank, start);
    for (int i = b->rank; i < a->rank - start; i++) dims_b[i] = 1;
    *rank_b = a->rank - start;
    return NULL;
}

static cnnrun_status *binary_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype numbers[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT64, CNNRUN_INT32, CNNRUN_INT16,
                                           CNNRUN_INT8,    CNNRUN_UINT64,  CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, numbers));
    if (ctx->in[1]->dtype != ctx->in[0]->dtype)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input dtypes differ: %s and %s",
                           cnnrun_dtype_name(ctx->in[0]->dtype), cnnrun_dtype_name(ctx->in[1]->dtype));
    int rank_b, rank;
    int64_t dims_b[CR_MAX_RANK], dims[CR_MAX_RANK];
    CR_TRY(legacy_b_shape(ctx, &rank_b, dims_b));
    CR_TRY(cr_broadcast_shape(ctx, ctx->in[0]->rank, ctx->in[0]->dims, rank_b, dims_b, &rank, dims));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, rank, dims);
    return NULL;
}

/* Strides of an input in the output's index space: 0 along axes where it broadcasts. */
static void broadcast_strides(int rank_out, const int64_t *out_dims, int rank_in, const int64_t *in_dims,
                              int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank_out - 1; i >= 0; i--) {
        int j = i - (rank_out - rank_in);
        int64_t d = j >= 0 ? in_dims[j] : 1;
        strides[i] = (d == 1 && out_dims[i] != 1) ? 0 : s;
        s *= d;
    }
}

static cnnrun_status *binary_prepare(cr_op_ctx *ctx)
{
    int rank_b;
    int64_t dims_b[CR_MAX_RANK];
    CR_TRY(legacy_b_shape(ctx, &rank_b, dims_b));
    const cr_tensor *out = ctx->out[0];
    int64_t sa[CR_MAX_RANK], sb[CR_MAX_RANK];
    broadcast_strides(out->rank, out->dims, ctx->in[0]->rank, ctx->in[0]->dims, sa);
    broadcast_strides(out->rank, out->dims, rank_b, dims_b, sb);

    binary_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->kind = kind_of(ctx->node->op_type);
    s->threads = op_threads(ctx);
    s->count = cr_tensor_count(out);
    /* Merge axis i into the previous one when both inputs are contiguous across the pair (or
     * both broadcast along it); axes of size 1 vanish. */
    int r = 0;
    for (int i = 0; i < out->rank; i++) {
        int64_t d = out->dims[i];
        if (d == 1) continue;
        if (r > 0) {
            int64_t pd = s->dims[r - 1];
            bool a_joins = s->stride_a[r - 1] == sa[i] * d;
            bool b_joins = s->stride_b[r - 1] == sb[i] * d;
            if (a_joins && b_joins) {
                s->dims[r - 1] = pd * d;
                s->stride_a[r - 1] = sa[i];
                s->stride_b[r - 1] = sb[i];
                continue;
            }
        }
        s->dims[r] = d;
        s->stride_a[r] = sa[i];
        s->stride_b[r] = sb[i];
        r++;
    }
    if (r == 0) { /* a single element */
        s->dims[0] = 1;
        s->stride_a[0] = s->stride_b[0] = 1;
        r = 1;
    }
    s->rank = r;
    ctx->state = s;
    return NULL;
}

/* The integer operations on unsigned values (at least 32 bits wide, so that narrow types do not
 * promote to a signed int that could overflow), so that overflow wraps instead of being
 * undefined. */
#define INT_OPS(T, U)                                                                              \
    static inline T T##_add(T a, T b) { return (T)((U)a + (U)b); }                                 \
    static inline T T##_sub(T a, T b) { return (T)((U)a - (U)b); }                                 \
    static inline T T##_mul(T a, T b) { return (T)((U)a * (U)b); }

#define SIGNED_DIV(T, U)                                                                           \
    static inline T T##_div(T a, T b)                                                              \
    {                                                                                              \
        if (b == 0) return 0;                                                                      \
        if (b == -1) return (T)(0u - (U)a); /* MIN / -1 would trap */                              \
        return (T)(a / b);                                                                         \
    }

#define UNSIGNED_DIV(T)                                                                            \
    static inline T T##_div(T a, T b) { return b == 0 ? 0 : (T)(a / b); }

INT_OPS(int8_t, uint32_t)
INT_OPS(int16_t, uint32_t)
INT_OPS(int32_t, uint32_t)
INT_OPS(int64_t, uint64_t)
INT_OPS(uint8_t, uint32_t)
INT_OPS(uint16_t, uint32_t)
INT_OPS(uint32_t, uint32_t)
INT_OPS(uint64_t, uint64_t)
SIGNED_DIV(int8_t, uint32_t)
SIGNED_DIV(int16_t, uint32_t)
SIGNED_DIV(int32_t, uint32_t)
SIGNED_DIV(int64_t, uint64_t)
UNSIGNED_DIV(uint8_t)
UNSIGNED_DIV(uint16_t)
UNSIGNED_DIV(uint32_t)
UNSIGNED_DIV(uint64_t)

#define FLOAT_OPS(T)                                                                               \
    static inline T T##_add(T a, T b) { return a + b; }                                            \
    static inline T T##_sub(T a, T b) { return a - b; }                                            \
    static inline T T##_mul(T a, T b) { return a * b; }                                            \
    static inline T T##_div(T a, T b) { return a / b; }

FLOAT_OPS(float)
FLOAT_OPS(double)

/* One innermost row: n outputs from a and b advancing by their strides (0 or 1). The three
 * stride cases get their own loops so that each vectorises. */
#define ROW_KERNEL(T, OP)                                                                          \
    static void row_##T##_##OP(const T *a, int64_t sa, const T *b, int64_t sb, T *y, int64_t n)    \
    {                                                                                              \
        if (sa && sb) {                                                                            \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = T##_##OP(a[i], b[i]);       \
        } else if (sa) {                                                                           \
            const T bv = b[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = T##_##OP(a[i], bv);         \
        } else if (sb) {                                                                           \
            const T av = a[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = T##_##OP(av, b[i]);         \
        } else {                                                                                   \
            const T v = T##_##OP(a[0], b[0]);                                                      \
            for (int64_t i = 0; i < n; i++) y[i] = v;                                              \
        }                                                                                          \
    }

/* Runs the loop nest: rows of the innermost axis, the outer axes flattened into a row index.
 * A long single row (the same-shape and scalar cases) is split into chunks across threads. */
#define NEST_KERNEL(T, OP)                                                                         \
    ROW_KERNEL(T, OP)                                                                              \
    static void nest_##T##_##OP(const binary_state *s, const T *a, const T *b, T *y)               \
    {                                                                                              \
        int last = s->rank - 1;                                                                    \
        int64_t n = s->dims[last], sa = s->stride_a[last], sb = s->stride_b[last];                 \
        int64_t rows = s->count / (n ? n : 1);                                                     \
        if (n == 0 || s->count == 0) return;                                                       \
        if (rows == 1) {                                                                           \
            const int64_t chunk = 16384;                                                           \
            int64_t chunks = (n + chunk - 1) / chunk;                                              \
            _Pragma("omp parallel for num_threads(s->threads) if (n >= BINARY_PARALLEL_MIN)")     \
            for (int64_t c = 0; c < chunks; c++) {                                                 \
                int64_t i0 = c * chunk, len = n - i0 < chunk ? n - i0 : chunk;                     \
                row_##T##_##OP(a + i0 * sa, sa, b + i0 * sb, sb, y + i0, len);                     \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        _Pragma("omp parallel for num_threads(s->threads) if (s->count >= BINARY_PARALLEL_MIN)")  \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            int64_t rem = r, oa = 0, ob = 0;                                                       \
            for (int d = last - 1; d >= 0; d--) {                                                  \
                int64_t idx = rem % s->dims[d];                                                    \
                rem /= s->dims[d];                                                                 \
                oa += idx * s->stride_a[d];                                                        \
                ob += idx * s->stride_b[d];                                                        \
            }                                                                                      \
            row_##T##_##OP(a + oa, sa, b + ob, sb, y + r * n, n);                                  \
        }                                                                                          \
    }

#define TYPE_KERNELS(T)                                                                            \
    NEST_KERNEL(T, add) NEST_KERNEL(T, sub) NEST_KERNEL(T, mul) NEST_KERNEL(T, div)                \
    static void run_##T(const binary_state *s, const void *a, const void *b, void *y)              \
    {                                                                                              \
        switch (s->kind) {                                                                         \
        case BIN_ADD: nest_##T##_add(s, a, b, y); break;                                           \
        case BIN_SUB: nest_##T##_sub(s, a, b, y); break;                                           \
        case BIN_MUL: nest_##T##_mul(s, a, b, y); break;                                           \
        case BIN_DIV: nest_##T##_div(s, a, b, y); break;                                           \
        }                                                                                          \
    }

TYPE_KERNELS(float)
TYPE_KERNELS(double)
TYPE_KERNELS(int8_t)
TYPE_KERNELS(int16_t)
TYPE_KERNELS(int32_t)
TYPE_KERNELS(int64_t)
TYPE_KERNELS(uint8_t)
TYPE_KERNELS(uint16_t)
TYPE_KERNELS(uint32_t)
TYPE_KERNELS(uint64_t)

static cnnrun_status *binary_run(cr_op_ctx *ctx)
{
    const binary_state *s = ctx->state;
    const void *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    void *y = ctx->out[0]->data;
    switch (ctx->in[0]->dtype) {
    case CNNRUN_FLOAT32: run_float(s, a, b, y); break;
    case CNNRUN_FLOAT64: run_double(s, a, b, y); break;
    case CNNRUN_INT8: run_int8_t(s, a, b, y); break;
    case CNNRUN_INT16: run_int16_t(s, a, b, y); break;
    case CNNRUN_INT32: run_int32_t(s, a, b, y); break;
    case CNNRUN_INT64: run_int64_t(s, a, b, y); break;
    case CNNRUN_UINT8: run_uint8_t(s, a, b, y); break;
    case CNNRUN_UINT16: run_uint16_t(s, a, b, y); break;
    case CNNRUN_UINT32: run_uint32_t(s, a, b, y); break;
    case CNNRUN_UINT64: run_uint64_t(s, a, b, y); break;
    default:
        return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run",
                           cnnrun_dtype_name(ctx->in[0]->dtype));
    }
    return NULL;
}

static void binary_destroy(void *state)
{
    free(state);
}

/* Opsets 1-6 broadcast by attribute (handled above), 7+ like NumPy; later versions only add
 * dtypes. */
static const cr_op op_add = {"Add", "", 1, 21, 0, binary_infer, binary_prepare, binary_run, binary_destroy};
static const cr_op op_sub = {"Sub", "", 1, 21, 0, binary_infer, binary_prepare, binary_run, binary_destroy};
static const cr_op op_mul = {"Mul", "", 1, 21, 0, binary_infer, binary_prepare, binary_run, binary_destroy};
static const cr_op op_div = {"Div", "", 1, 21, 0, binary_infer, binary_prepare, binary_run, binary_destroy};

const cr_op *const cr_ops_binary[] = {&op_add, &op_sub, &op_mul, &op_div, NULL};
