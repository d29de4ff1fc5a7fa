/* Element-wise operators with NumPy broadcasting: Add, Sub, Mul, Div, Pow, PRelu, Mod, BitShift
 * and BitwiseAnd/Or/Xor, and the variadic Max, Min, Sum and Mean, on float32, float64 and (where ONNX allows) the signed and
 * unsigned integers of 8 to 64 bits; Max and Min also on float16, which they compute exactly since
 * they only select an input (the arithmetic ops would round in float16, and are not offered).
 *
 * prepare reduces any broadcast to a loop nest (cr_broadcast_plan of broadcast.h, which the
 * comparisons and Where share): the output shape with each input's strides (0 along broadcast
 * axes), with adjacent axes merged wherever both inputs step through them the same way. After merging, the innermost axis is one of three loops — both inputs contiguous,
 * one side a scalar repeated along the row, or the other — so the per-channel case of a CNN
 * ([N,C,H,W] with [C,1,1]) runs as rows of H*W elements against one scalar each, and the
 * same-shape case is one flat loop. A variadic op is a chain of such steps: inputs 0 and 1 into
 * the output, then the output with each further input.
 *
 * Integer arithmetic wraps in two's complement instead of being undefined on overflow; integer
 * Div truncates toward zero as ONNX specifies, and a division by zero yields 0 rather than
 * trapping (the result is undefined in ONNX; cnnrun must not crash on it). The same holds for Mod
 * by zero; a BitShift by the type's width or more gives 0 (undefined in C, the bits all leave). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "float16.h"
#include "vec_math.h"
#include "op_util.h"

#define BINARY_PARALLEL_MIN 65536

typedef enum binary_kind {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MAX, BIN_MIN, BIN_PRELU, BIN_POW,
    BIN_MOD,       /* Mod: fmod=1 (truncated, sign of the dividend) or fmod=0 (floored, sign of the divisor), per attribute */
    BIN_MOD_TRUNC, /* the two kinds Mod resolves to in prepare */
    BIN_MOD_FLOOR,
    BIN_SHIFT,     /* BitShift: direction LEFT or RIGHT, per attribute */
    BIN_SHL,
    BIN_SHR,
    BIN_BAND,      /* BitwiseAnd, BitwiseOr, BitwiseXor (opset 18) */
    BIN_BOR,
    BIN_BXOR,
} binary_kind;

/* One broadcast step: y = a op b over the merged loop nest (input 0 is a, input 1 is b). */
typedef cr_bcast_plan bcast_plan;

typedef struct binary_state {
    binary_kind kind;
    bool mean;                   /* Mean: the sum divided by the input count */
    int threads;
    int n_steps;                 /* inputs - 1; 0 for a variadic op of one input (a copy) */
    bcast_plan steps[];
} binary_state;

typedef struct binary_desc {
    const char *op_type;
    binary_kind kind;
    bool variadic;
    bool legacy_broadcast;       /* opsets 1-6 broadcast by attribute */
    const cnnrun_dtype *dtypes;
} binary_desc;

static const cnnrun_dtype all_numbers[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT64, CNNRUN_INT32, CNNRUN_INT16,
                                           CNNRUN_INT8,    CNNRUN_UINT64,  CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};
static const cnnrun_dtype max_min_types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, CNNRUN_INT64,
                                             CNNRUN_INT32,   CNNRUN_INT16,   CNNRUN_INT8,    CNNRUN_UINT64,
                                             CNNRUN_UINT32,  CNNRUN_UINT16,  CNNRUN_UINT8,   0};
static const cnnrun_dtype float_types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, 0};
static const cnnrun_dtype pow_bases[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT64, CNNRUN_INT32, 0};
static const cnnrun_dtype mod_types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, CNNRUN_INT64,
                                         CNNRUN_INT32,   CNNRUN_INT16,   CNNRUN_INT8,    CNNRUN_UINT64,
                                         CNNRUN_UINT32,  CNNRUN_UINT16,  CNNRUN_UINT8,   0};
static const cnnrun_dtype unsigned_types[] = {CNNRUN_UINT64, CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};
static const cnnrun_dtype integer_types[] = {CNNRUN_INT64,  CNNRUN_INT32,  CNNRUN_INT16,  CNNRUN_INT8,
                                             CNNRUN_UINT64, CNNRUN_UINT32, CNNRUN_UINT16, CNNRUN_UINT8, 0};

static const binary_desc descs[] = {
    {"Add", BIN_ADD, false, true, all_numbers},   {"Sub", BIN_SUB, false, true, all_numbers},
    {"Mul", BIN_MUL, false, true, all_numbers},   {"Div", BIN_DIV, false, true, all_numbers},
    {"Pow", BIN_POW, false, true, pow_bases},     {"PRelu", BIN_PRELU, false, false, float_types},
    {"Max", BIN_MAX, true, false, max_min_types}, {"Min", BIN_MIN, true, false, max_min_types},
    {"Sum", BIN_ADD, true, false, float_types},   {"Mean", BIN_ADD, true, false, float_types},
    {"Mod", BIN_MOD, false, false, mod_types},    {"BitShift", BIN_SHIFT, false, false, unsigned_types},
    {"BitwiseAnd", BIN_BAND, false, false, integer_types}, {"BitwiseOr", BIN_BOR, false, false, integer_types},
    {"BitwiseXor", BIN_BXOR, false, false, integer_types},
};

/* Mod and BitShift pick their kernel from an attribute. Mod of floats must be the truncated
 * remainder (fmod=1): ONNX leaves fmod=0 undefined for them. */
static cnnrun_status *resolve_kind(const cr_op_ctx *ctx, binary_kind *kind)
{
    if (*kind == BIN_MOD) {
        int64_t fmod;
        CR_TRY(cr_attr_int(ctx->node, "fmod", 0, &fmod));
        if (fmod != 0 && fmod != 1) return cr_op_unsupported_attr(ctx, "fmod", "must be 0 or 1");
        cnnrun_dtype dt = ctx->in[0]->dtype;
        bool is_float = dt == CNNRUN_FLOAT32 || dt == CNNRUN_FLOAT64 || dt == CNNRUN_FLOAT16;
        if (is_float && fmod == 0)
            return cr_op_unsupported_attr(ctx, "fmod", "floating-point inputs need fmod=1 (ONNX defines fmod=0 for integers only)");
        *kind = fmod ? BIN_MOD_TRUNC : BIN_MOD_FLOOR;
    } else if (*kind == BIN_SHIFT) {
        const char *dir;
        CR_TRY(cr_attr_string(ctx->node, "direction", "", &dir));
        if (strcmp(dir, "LEFT") == 0) *kind = BIN_SHL;
        else if (strcmp(dir, "RIGHT") == 0) *kind = BIN_SHR;
        else return cr_op_unsupported_attr(ctx, "direction", "must be \"LEFT\" or \"RIGHT\"");
    }
    return NULL;
}

static const binary_desc *desc_of(const char *op_type)
{
    for (size_t i = 0; i < sizeof descs / sizeof *descs; i++)
        if (strcmp(descs[i].op_type, op_type) == 0) return &descs[i];
    return NULL;
}

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
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

/* PRelu's slope as broadcasting should see it. Before opset 7 a 1-D slope of C values is one per
 * channel (axis 1), as the exporters of that time meant it. */
static void prelu_slope_shape(const cr_op_ctx *ctx, int *rank_s, int64_t *dims_s)
{
    const cr_tensor *x = ctx->in[0], *slope = ctx->in[1];
    *rank_s = slope->rank;
    memcpy(dims_s, slope->dims, sizeof slope->dims);
    if (ctx->opset < 7 && slope->rank == 1 && x->rank >= 2 && slope->dims[0] == x->dims[1] && slope->dims[0] != 1) {
        *rank_s = x->rank - 1;
        for (int i = 1; i < *rank_s; i++) dims_s[i] = 1;
    }
}

/* The shape input `i` takes in the broadcast: input 1's legacy forms, else its own. */
static cnnrun_status *operand_shape(const cr_op_ctx *ctx, const binary_desc *d, int i, int *rank, int64_t *dims)
{
    if (i == 1 && d->legacy_broadcast) return legacy_b_shape(ctx, rank, dims);
    if (i == 1 && d->kind == BIN_PRELU) {
        prelu_slope_shape(ctx, rank, dims);
        return NULL;
    }
    *rank = ctx->in[i]->rank;
    memcpy(dims, ctx->in[i]->dims, sizeof ctx->in[i]->dims);
    return NULL;
}

static cnnrun_status *binary_infer(cr_op_ctx *ctx)
{
    const binary_desc *d = desc_of(ctx->node->op_type);
    if (!d) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no element-wise kernel for this op");
    if (d->variadic) {
        CR_TRY(cr_op_check_inputs(ctx, 1, ctx->n_in > 0 ? ctx->n_in : 1));
        for (int i = 0; i < ctx->n_in; i++)
            if (!ctx->in[i]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d is omitted", i);
    } else {
        CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    }
    CR_TRY(cr_op_check_dtype(ctx, 0, d->dtypes));
    if (d->kind == BIN_POW) {
        CR_TRY(cr_op_check_dtype(ctx, 1, all_numbers));
    } else {
        for (int i = 1; i < ctx->n_in; i++)
            if (ctx->in[i]->dtype != ctx->in[0]->dtype)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input dtypes differ: input 0 is %s, input %d is %s",
                                   cnnrun_dtype_name(ctx->in[0]->dtype), i, cnnrun_dtype_name(ctx->in[i]->dtype));
    }
    int rank = ctx->in[0]->rank;
    int64_t dims[CR_MAX_RANK];
    memcpy(dims, ctx->in[0]->dims, sizeof dims);
    for (int i = 1; i < ctx->n_in; i++) {
        int rank_i;
        int64_t dims_i[CR_MAX_RANK];
        CR_TRY(operand_shape(ctx, d, i, &rank_i, dims_i));
        CR_TRY(cr_broadcast_shape(ctx, rank, dims, rank_i, dims_i, &rank, dims));
    }
    if (d->kind == BIN_PRELU && !cr_shape_equal(rank, dims, ctx->in[0]->rank, ctx->in[0]->dims)) {
        char sx[128], ss[128];
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "slope of shape %s does not broadcast to X's shape %s",
                           cr_shape_str(ctx->in[1]->rank, ctx->in[1]->dims, ss, sizeof ss),
                           cr_shape_str(ctx->in[0]->rank, ctx->in[0]->dims, sx, sizeof sx));
    }
    binary_kind kind = d->kind;
    CR_TRY(resolve_kind(ctx, &kind));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, rank, dims);
    return NULL;
}

static void make_plan(const cr_tensor *out, int rank_a, const int64_t *dims_a, int rank_b, const int64_t *dims_b,
                      bcast_plan *p)
{
    const int ranks[2] = {rank_a, rank_b};
    const int64_t *const dims[2] = {dims_a, dims_b};
    cr_broadcast_plan(p, out->rank, out->dims, 2, ranks, dims);
}

/* An operand's shape aligned to the right of a rank-`rank` output (leading dims of 1), then
 * taken in memory order. */
static void aligned_permuted(int rank, const int *order, int *rank_x, int64_t *dims_x)
{
    int64_t aligned[CR_MAX_RANK];
    int lead = rank - *rank_x;
    for (int d = 0; d < rank; d++) aligned[d] = d < lead ? 1 : dims_x[d - lead];
    cr_permute_dims(rank, aligned, order, dims_x);
    *rank_x = rank;
}

static cnnrun_status *binary_prepare(cr_op_ctx *ctx)
{
    const binary_desc *d = desc_of(ctx->node->op_type);
    if (!d) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no element-wise kernel for this op");
    int n_steps = ctx->n_in - 1;
    binary_state *s = calloc(1, sizeof *s + (size_t)n_steps * sizeof s->steps[0]);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->kind = d->kind;
    cnnrun_status *kst = resolve_kind(ctx, &s->kind);
    if (kst) {
        free(s);
        return kst;
    }
    s->mean = strcmp(d->op_type, "Mean") == 0;
    s->threads = op_threads(ctx);
    s->n_steps = n_steps;
    /* Between the convolutions of a network (a residual Add, a squeeze-excitation Mul) inputs
     * arrive in oneDNN's NHWC: the loops then run in memory order over permuted dims, and the
     * output keeps the layout. The broadcast forms of opsets 1-6 run on row-major data. */
    int order[CR_MAX_RANK];
    bool permuted = false;
    if (ctx->opset >= 7 || !d->legacy_broadcast) permuted = cr_op_memory_order(ctx, order);
    else for (int k = 0; k < ctx->n_in; k++) cr_op_want_layout(ctx, k, NULL);
    cr_tensor out = *ctx->out[0];
    if (permuted) cr_permute_dims(out.rank, ctx->out[0]->dims, order, out.dims);
    for (int i = 1; i < ctx->n_in; i++) {
        int rank_a, rank_b;
        int64_t dims_a[CR_MAX_RANK], dims_b[CR_MAX_RANK];
        cnnrun_status *st = operand_shape(ctx, d, i, &rank_b, dims_b);
        if (st) {
            free(s);
            return st;
        }
        /* Step 1 reads input 0; later steps read the output they accumulate into. */
        const cr_tensor *a = i == 1 ? ctx->in[0] : ctx->out[0];
        rank_a = a->rank;
        memcpy(dims_a, a->dims, sizeof dims_a);
        if (permuted) {
            aligned_permuted(out.rank, order, &rank_a, dims_a);
            aligned_permuted(out.rank, order, &rank_b, dims_b);
        }
        make_plan(&out, rank_a, dims_a, rank_b, dims_b, &s->steps[i - 1]);
    }
    ctx->state = s;
    return NULL;
}

/* The integer operations on unsigned values (at least 32 bits wide, so that narrow types do not
 * promote to a signed int that could overflow), so that overflow wraps instead of being
 * undefined. */
#define INT_OPS(T, U)                                                                              \
    static inline T T##_band(T a, T b) { return (T)(a & b); }                                      \
    static inline T T##_bor(T a, T b) { return (T)(a | b); }                                       \
    static inline T T##_bxor(T a, T b) { return (T)(a ^ b); }                                      \
    static inline T T##_add(T a, T b) { return (T)((U)a + (U)b); }                                 \
    static inline T T##_sub(T a, T b) { return (T)((U)a - (U)b); }                                 \
    static inline T T##_mul(T a, T b) { return (T)((U)a * (U)b); }                                 \
    static inline T T##_max(T a, T b) { return a > b ? a : b; }                                    \
    static inline T T##_min(T a, T b) { return a < b ? a : b; }

#define SIGNED_DIV(T, U)                                                                           \
    static inline T T##_div(T a, T b)                                                              \
    {                                                                                              \
        if (b == 0) return 0;                                                                      \
        if (b == -1) return (T)(0u - (U)a); /* MIN / -1 would trap */                              \
        return (T)(a / b);                                                                         \
    }

#define UNSIGNED_DIV(T)                                                                            \
    static inline T T##_div(T a, T b) { return b == 0 ? 0 : (T)(a / b); }

/* Remainders: truncated (C's %, sign of a) and floored (Python's %, sign of b). MIN % -1 is 0
 * mathematically but traps in C, hence the b == -1 case. */
#define SIGNED_MOD(T)                                                                              \
    static inline T T##_modt(T a, T b) { return (b == 0 || b == -1) ? 0 : (T)(a % b); }           \
    static inline T T##_modf(T a, T b)                                                             \
    {                                                                                              \
        T r = T##_modt(a, b);                                                                      \
        return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;                                  \
    }

#define UNSIGNED_MOD(T)                                                                            \
    static inline T T##_modt(T a, T b) { return b == 0 ? 0 : (T)(a % b); }                         \
    static inline T T##_modf(T a, T b) { return T##_modt(a, b); }                                  \
    static inline T T##_shl(T a, T b) { return b >= sizeof(T) * 8 ? 0 : (T)((uint64_t)a << b); }   \
    static inline T T##_shr(T a, T b) { return b >= sizeof(T) * 8 ? 0 : (T)(a >> b); }

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
SIGNED_MOD(int8_t)
SIGNED_MOD(int16_t)
SIGNED_MOD(int32_t)
SIGNED_MOD(int64_t)
UNSIGNED_MOD(uint8_t)
UNSIGNED_MOD(uint16_t)
UNSIGNED_MOD(uint32_t)
UNSIGNED_MOD(uint64_t)

/* Max and Min propagate NaN from either side, as NumPy's maximum and minimum do. */
#define FLOAT_OPS(T)                                                                               \
    static inline T T##_add(T a, T b) { return a + b; }                                            \
    static inline T T##_sub(T a, T b) { return a - b; }                                            \
    static inline T T##_mul(T a, T b) { return a * b; }                                            \
    static inline T T##_div(T a, T b) { return a / b; }                                            \
    static inline T T##_max(T a, T b) { return (a > b || a != a) ? a : b; }                        \
    static inline T T##_min(T a, T b) { return (a < b || a != a) ? a : b; }

FLOAT_OPS(float)
FLOAT_OPS(double)

/* float16 Max and Min on the raw bits: the result is one of the inputs, so nothing rounds. Apart
 * from NaN, halves order like sign-magnitude integers (+0 and -0 both map to 0, equal as floats);
 * NaN propagates exactly as in FLOAT_OPS (a's if a is NaN, else b's), with its payload. */
typedef uint16_t half;
static inline int32_t half_order(half h) { return h & 0x8000u ? -(int32_t)(h & 0x7fffu) : (int32_t)h; }
static inline bool half_is_nan(half h) { return (h & 0x7fffu) > 0x7c00u; }
static inline half half_max(half a, half b)
{
    return (half_is_nan(a) || (!half_is_nan(b) && half_order(a) > half_order(b))) ? a : b;
}
static inline half half_min(half a, half b)
{
    return (half_is_nan(a) || (!half_is_nan(b) && half_order(a) < half_order(b))) ? a : b;
}

/* Through a mask select so that the loop vectorises (see vec_math.h). */
static inline float float_prelu(float a, float b) { return cr_select_f32(a < 0.0f, a * b, a); }
static inline double double_prelu(double a, double b) { return a < 0.0 ? a * b : a; }
static inline float float_pow(float a, float b) { return powf(a, b); }
static inline float float_modt(float a, float b) { return fmodf(a, b); }
static inline double double_modt(double a, double b) { return fmod(a, b); }
/* The remainder of two halves is exact in float, and exact again as a half. */
static inline half half_modt(half a, half b)
{
    return cr_half_from_double(fmodf(cr_half_to_float(a), cr_half_to_float(b)));
}
static inline double double_pow(double a, double b) { return pow(a, b); }

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

/* The float loops are compiled for several vector ISAs (vec_math.h); the integer ones, rare and
 * memory-bound, once. */
#define NEST_ATTR_float CR_VECTOR_CLONES
#define NEST_ATTR_double CR_VECTOR_CLONES
#define NEST_ATTR_int8_t
#define NEST_ATTR_int16_t
#define NEST_ATTR_int32_t
#define NEST_ATTR_int64_t
#define NEST_ATTR_uint8_t
#define NEST_ATTR_uint16_t
#define NEST_ATTR_uint32_t
#define NEST_ATTR_uint64_t
#define NEST_ATTR_half

/* Runs a loop nest: rows of the innermost axis, the outer axes flattened into a row index. A
 * long single row (the same-shape and scalar cases) is split into chunks across threads. */
#define NEST_KERNEL(T, OP)                                                                         \
    ROW_KERNEL(T, OP)                                                                              \
    NEST_ATTR_##T static void nest_##T##_##OP(const bcast_plan *p, int threads, const T *a, const T *b, T *y)    \
    {                                                                                              \
        int last = p->rank - 1;                                                                    \
        int64_t n = p->dims[last], sa = p->strides[0][last], sb = p->strides[1][last];                 \
        if (n == 0 || p->count == 0) return;                                                       \
        int64_t rows = p->count / n;                                                               \
        if (rows == 1) {                                                                           \
            const int64_t chunk = 16384;                                                           \
            int64_t chunks = (n + chunk - 1) / chunk;                                              \
            _Pragma("omp parallel for num_threads(threads) if (n >= BINARY_PARALLEL_MIN)")        \
            for (int64_t c = 0; c < chunks; c++) {                                                 \
                int64_t i0 = c * chunk, len = n - i0 < chunk ? n - i0 : chunk;                     \
                row_##T##_##OP(a + i0 * sa, sa, b + i0 * sb, sb, y + i0, len);                     \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        _Pragma("omp parallel for num_threads(threads) if (p->count >= BINARY_PARALLEL_MIN)")     \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            int64_t rem = r, oa = 0, ob = 0;                                                       \
            for (int d = last - 1; d >= 0; d--) {                                                  \
                int64_t idx = rem % p->dims[d];                                                    \
                rem /= p->dims[d];                                                                 \
                oa += idx * p->strides[0][d];                                                        \
                ob += idx * p->strides[1][d];                                                        \
            }                                                                                      \
            row_##T##_##OP(a + oa, sa, b + ob, sb, y + r * n, n);                                  \
        }                                                                                          \
    }

#define COMMON_KERNELS(T)                                                                          \
    NEST_KERNEL(T, add) NEST_KERNEL(T, sub) NEST_KERNEL(T, mul) NEST_KERNEL(T, div)                \
    NEST_KERNEL(T, max) NEST_KERNEL(T, min)

/* Runs one step of kind k on type T; false if the kind has no kernel for T. */
#define TYPE_DISPATCH(T, EXTRA)                                                                    \
    static bool step_##T(binary_kind k, const bcast_plan *p, int threads, const void *a,          \
                         const void *b, void *y)                                                   \
    {                                                                                              \
        switch (k) {                                                                               \
        case BIN_ADD: nest_##T##_add(p, threads, a, b, y); return true;                            \
        case BIN_SUB: nest_##T##_sub(p, threads, a, b, y); return true;                            \
        case BIN_MUL: nest_##T##_mul(p, threads, a, b, y); return true;                            \
        case BIN_DIV: nest_##T##_div(p, threads, a, b, y); return true;                            \
        case BIN_MAX: nest_##T##_max(p, threads, a, b, y); return true;                            \
        case BIN_MIN: nest_##T##_min(p, threads, a, b, y); return true;                            \
        EXTRA                                                                                      \
        default: return false;                                                                     \
        }                                                                                          \
    }

#define FLOAT_EXTRA(T)                                                                             \
    case BIN_PRELU: nest_##T##_prelu(p, threads, a, b, y); return true;                            \
    case BIN_POW: nest_##T##_pow(p, threads, a, b, y); return true;                                \
    case BIN_MOD_TRUNC: nest_##T##_modt(p, threads, a, b, y); return true;

#define SIGNED_EXTRA(T)                                                                            \
    case BIN_MOD_TRUNC: nest_##T##_modt(p, threads, a, b, y); return true;                         \
    case BIN_MOD_FLOOR: nest_##T##_modf(p, threads, a, b, y); return true;                         \
    case BIN_BAND: nest_##T##_band(p, threads, a, b, y); return true;                              \
    case BIN_BOR: nest_##T##_bor(p, threads, a, b, y); return true;                                \
    case BIN_BXOR: nest_##T##_bxor(p, threads, a, b, y); return true;

#define UNSIGNED_EXTRA(T)                                                                          \
    SIGNED_EXTRA(T)                                                                                \
    case BIN_SHL: nest_##T##_shl(p, threads, a, b, y); return true;                                \
    case BIN_SHR: nest_##T##_shr(p, threads, a, b, y); return true;

COMMON_KERNELS(float)
NEST_KERNEL(float, prelu)
NEST_KERNEL(float, pow)
NEST_KERNEL(float, modt)
TYPE_DISPATCH(float, FLOAT_EXTRA(float))
COMMON_KERNELS(double)
NEST_KERNEL(double, prelu)
NEST_KERNEL(double, pow)
NEST_KERNEL(double, modt)
TYPE_DISPATCH(double, FLOAT_EXTRA(double))
#define INT_KERNELS(T)                                                                             \
    COMMON_KERNELS(T) NEST_KERNEL(T, modt) NEST_KERNEL(T, modf) NEST_KERNEL(T, band) NEST_KERNEL(T, bor) \
    NEST_KERNEL(T, bxor)
#define SIGNED_TYPE(T) INT_KERNELS(T) TYPE_DISPATCH(T, SIGNED_EXTRA(T))
#define UNSIGNED_TYPE(T) INT_KERNELS(T) NEST_KERNEL(T, shl) NEST_KERNEL(T, shr) TYPE_DISPATCH(T, UNSIGNED_EXTRA(T))
SIGNED_TYPE(int8_t)
SIGNED_TYPE(int16_t)
SIGNED_TYPE(int32_t)
SIGNED_TYPE(int64_t)
UNSIGNED_TYPE(uint8_t)
UNSIGNED_TYPE(uint16_t)
UNSIGNED_TYPE(uint32_t)
UNSIGNED_TYPE(uint64_t)
NEST_KERNEL(half, max)
NEST_KERNEL(half, min)
NEST_KERNEL(half, modt)

static bool step_half(binary_kind k, const bcast_plan *p, int threads, const void *a, const void *b, void *y)
{
    switch (k) {
    case BIN_MAX: nest_half_max(p, threads, a, b, y); return true;
    case BIN_MIN: nest_half_min(p, threads, a, b, y); return true;
    case BIN_MOD_TRUNC: nest_half_modt(p, threads, a, b, y); return true;
    default: return false; /* refused by the dtype lists */
    }
}

static bool run_step(cnnrun_dtype dt, binary_kind k, const bcast_plan *p, int threads, const void *a,
                     const void *b, void *y)
{
    switch (dt) {
    case CNNRUN_FLOAT32: return step_float(k, p, threads, a, b, y);
    case CNNRUN_FLOAT64: return step_double(k, p, threads, a, b, y);
    case CNNRUN_FLOAT16: return step_half(k, p, threads, a, b, y);
    case CNNRUN_INT8: return step_int8_t(k, p, threads, a, b, y);
    case CNNRUN_INT16: return step_int16_t(k, p, threads, a, b, y);
    case CNNRUN_INT32: return step_int32_t(k, p, threads, a, b, y);
    case CNNRUN_INT64: return step_int64_t(k, p, threads, a, b, y);
    case CNNRUN_UINT8: return step_uint8_t(k, p, threads, a, b, y);
    case CNNRUN_UINT16: return step_uint16_t(k, p, threads, a, b, y);
    case CNNRUN_UINT32: return step_uint32_t(k, p, threads, a, b, y);
    case CNNRUN_UINT64: return step_uint64_t(k, p, threads, a, b, y);
    default: return false;
    }
}

/* ---- Pow with mixed dtypes (an integer base, or an exponent of another type) ---------------- */

static double load_as_double(const void *data, cnnrun_dtype dt, int64_t i)
{
    switch (dt) {
    case CNNRUN_FLOAT32: return ((const float *)data)[i];
    case CNNRUN_FLOAT64: return ((const double *)data)[i];
    case CNNRUN_INT8: return ((const int8_t *)data)[i];
    case CNNRUN_INT16: return ((const int16_t *)data)[i];
    case CNNRUN_INT32: return ((const int32_t *)data)[i];
    case CNNRUN_INT64: return (double)((const int64_t *)data)[i];
    case CNNRUN_UINT8: return ((const uint8_t *)data)[i];
    case CNNRUN_UINT16: return ((const uint16_t *)data)[i];
    case CNNRUN_UINT32: return ((const uint32_t *)data)[i];
    case CNNRUN_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0.0;
    }
}

/* Integer results are truncated toward zero; values outside the type (or NaN) become 0 rather
 * than an undefined conversion. */
static void store_from_double(void *data, cnnrun_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case CNNRUN_FLOAT32: ((float *)data)[i] = (float)v; break;
    case CNNRUN_FLOAT64: ((double *)data)[i] = v; break;
    case CNNRUN_INT32: ((int32_t *)data)[i] = (v > -2147483649.0 && v < 2147483648.0) ? (int32_t)v : 0; break;
    case CNNRUN_INT64:
        ((int64_t *)data)[i] = (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : 0;
        break;
    default: break;
    }
}

static void pow_mixed(const bcast_plan *p, const cr_tensor *a, const cr_tensor *b, cr_tensor *y)
{
    int last = p->rank - 1;
    int64_t n = p->dims[last], sa = p->strides[0][last], sb = p->strides[1][last];
    if (n == 0 || p->count == 0) return;
    for (int64_t r = 0; r < p->count / n; r++) {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = last - 1; d >= 0; d--) {
            int64_t idx = rem % p->dims[d];
            rem /= p->dims[d];
            oa += idx * p->strides[0][d];
            ob += idx * p->strides[1][d];
        }
        for (int64_t i = 0; i < n; i++)
            store_from_double(y->data, y->dtype, r * n + i,
                              pow(load_as_double(a->data, a->dtype, oa + i * sa),
                                  load_as_double(b->data, b->dtype, ob + i * sb)));
    }
}

static cnnrun_status *binary_run(cr_op_ctx *ctx)
{
    const binary_state *s = ctx->state;
    cr_tensor *out = ctx->out[0];
    cnnrun_dtype dt = out->dtype;
    if (s->n_steps == 0) {
        if (out->data != ctx->in[0]->data) memcpy(out->data, ctx->in[0]->data, cr_tensor_bytes(out));
        return NULL;
    }
    if (s->kind == BIN_POW && (ctx->in[1]->dtype != dt || (dt != CNNRUN_FLOAT32 && dt != CNNRUN_FLOAT64))) {
        pow_mixed(&s->steps[0], ctx->in[0], ctx->in[1], out);
        return NULL;
    }
    for (int i = 0; i < s->n_steps; i++) {
        const void *a = i == 0 ? ctx->in[0]->data : out->data;
        if (!run_step(dt, s->kind, &s->steps[i], s->threads, a, ctx->in[i + 1]->data, out->data))
            return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(dt));
    }
    if (s->mean) {
        int64_t n = s->steps[0].count;
        double inv = 1.0 / (s->n_steps + 1);
        if (dt == CNNRUN_FLOAT32)
            for (int64_t i = 0; i < n; i++) ((float *)out->data)[i] *= (float)inv;
        else
            for (int64_t i = 0; i < n; i++) ((double *)out->data)[i] *= inv;
    }
    return NULL;
}

static void binary_destroy(void *state)
{
    free(state);
}

/* Opsets 1-6 of Add/Sub/Mul/Div/Pow broadcast by attribute (handled above), 7+ like NumPy; the
 * variadic ops broadcast from 8 (before, their inputs had one shape, which broadcasting
 * accepts too); later versions only add dtypes. */
#define BINARY_OP(var, name)                                                                       \
    static const cr_op var = { \
        .op_type = name, \
        .domain = "", \
        .opset_min = 1, \
        .opset_max = 22, \
        .flags = CR_OP_LAYOUT_AWARE, \
        .infer = binary_infer, \
        .prepare = binary_prepare, \
        .run = binary_run, \
        .destroy = binary_destroy, \
    };
BINARY_OP(op_add, "Add")
BINARY_OP(op_sub, "Sub")
BINARY_OP(op_mul, "Mul")
BINARY_OP(op_div, "Div")
BINARY_OP(op_pow, "Pow")
BINARY_OP(op_prelu, "PRelu")
BINARY_OP(op_max, "Max")
BINARY_OP(op_min, "Min")
BINARY_OP(op_sum, "Sum")
BINARY_OP(op_mean, "Mean")

/* Mod (opset 10), BitShift (11) and the bitwise ops (18) have not changed since. */
#define BINARY_OP_FROM(var, name, min)                                                             \
    static const cr_op var = {.op_type = name, .domain = "", .opset_min = min, .opset_max = 22,      \
                              .flags = CR_OP_LAYOUT_AWARE, .infer = binary_infer,                   \
                              .prepare = binary_prepare, .run = binary_run, .destroy = binary_destroy};
BINARY_OP_FROM(op_mod, "Mod", 10)
BINARY_OP_FROM(op_bit_shift, "BitShift", 11)
BINARY_OP_FROM(op_bitwise_and, "BitwiseAnd", 18)
BINARY_OP_FROM(op_bitwise_or, "BitwiseOr", 18)
BINARY_OP_FROM(op_bitwise_xor, "BitwiseXor", 18)

const cr_op *const cr_ops_binary[] = {&op_add, &op_sub, &op_mul, &op_div, &op_pow,
                                      &op_prelu, &op_max, &op_min, &op_sum, &op_mean,
                                      &op_mod,   &op_bit_shift, &op_bitwise_and, &op_bitwise_or,
                                      &op_bitwise_xor, NULL};
