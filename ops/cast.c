/* Cast (opsets 1-22; `to` is a type name before opset 6, a TensorProto.DataType after) and
 * CastLike (opset 15: the target is input 1's dtype), between every dtype cnnrun has: float32,
 * float64, float16, bfloat16, int8-64, uint8-64 and bool. String and complex are refused.
 *
 * Conversions, with ONNX's undefined cases made defined so that no input is undefined behaviour
 * in C:
 *   float -> integer   truncates toward zero; NaN gives 0 and values beyond the target's range
 *                      saturate at its minimum or maximum (negative values give 0 for unsigned
 *                      targets).
 *   integer -> integer keeps the low bits (wraps), as NumPy's astype does.
 *   -> float16         rounds to nearest even from the exact source value (float16.h).
 *   -> float32         one rounding, directly from the source (int64 is not routed through
 *                      double, which could round twice).
 *   -> bfloat16        the source becomes float32 as above, then keeps its high 16 bits (rounds
 *                      toward zero, as ONNX 1.12's test suite defines FLOAT -> BFLOAT16; see
 *                      bfloat16.h), so Cast(x, BFLOAT16) == Cast(Cast(x, FLOAT), BFLOAT16) for
 *                      every source. NaN stays NaN, infinities stay infinite.
 *   bfloat16 ->        exact to float32 and float64, then as from any float.
 *   -> bool            nonzero (NaN too) is true; a bool source reads any nonzero byte as 1.
 *
 * Each (source, target) pair has its own straight loop, generated below, so the casts real
 * graphs run every inference (int64 <-> float32, bool -> float32, float32 <-> float16) vectorise
 * or at least run without per-element dispatch. Cast needs no state, so the planner folds casts
 * of constants (PyTorch's Shape -> Cast chains) with the same code. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bfloat16.h"
#include "float16.h"
#include "op_util.h"
#include "vec_math.h"

#define CAST_PARALLEL_MIN 65536
#define CAST_CHUNK 16384

/* The ONNX name of a type, also outside cnnrun_dtype (complex, float8, 4-bit). */
static const char *onnx_type_label(int t)
{
    return cnnrun_dtype_name((cnnrun_dtype)t);
}

static bool cast_supported(cnnrun_dtype dt)
{
    switch (dt) {
    case CNNRUN_FLOAT32: case CNNRUN_FLOAT64: case CNNRUN_FLOAT16: case CNNRUN_BFLOAT16:
    case CNNRUN_INT8: case CNNRUN_INT16: case CNNRUN_INT32: case CNNRUN_INT64: case CNNRUN_UINT8:
    case CNNRUN_UINT16: case CNNRUN_UINT32: case CNNRUN_UINT64: case CNNRUN_BOOL: return true;
    default: return false;
    }
}

static cnnrun_status *check_input_dtype(const cr_op_ctx *ctx, int input, const char *role)
{
    cnnrun_dtype dt = ctx->in[input]->dtype;
    if (cast_supported(dt)) return NULL;
    return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                       "%s has dtype %s (ONNX type %d), which cnnrun does not support; Cast converts between "
                       "float32, float64, float16, bfloat16, int8, int16, int32, int64, uint8, uint16, "
                       "uint32, uint64 and bool",
                       role, onnx_type_label((int)dt), (int)dt);
}

/* Type names of Cast-1..5's string attribute. */
static int onnx_type_from_name(const char *s)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",   "UINT16",    "INT16",
                                        "INT32",     "INT64",  "STRING", "BOOL",   "FLOAT16",   "DOUBLE",
                                        "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return 0;
}

static cnnrun_status *cast_target(const cr_op_ctx *ctx, cnnrun_dtype *to)
{
    const cr_attr *a = cr_node_attr(ctx->node, "to");
    if (!a) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'to' is required but missing");
    int64_t t;
    char why[160];
    if (a->type == CR_ATTR_STRING) {
        t = onnx_type_from_name(a->s ? a->s : "");
        if (!t) {
            snprintf(why, sizeof why, "'%s' names no ONNX tensor type", a->s ? a->s : "");
            return cr_op_unsupported_attr(ctx, "to", why);
        }
    } else {
        CR_TRY(cr_attr_int(ctx->node, "to", 0, &t));
    }
    if (t < 1 || t > 16 || !cast_supported((cnnrun_dtype)t)) {
        snprintf(why, sizeof why, "target type %lld (%s) is not a dtype cnnrun supports", (long long)t,
                 t >= 1 && t <= 23 ? onnx_type_label((int)t) : "unknown");
        return cr_op_unsupported_attr(ctx, "to", why);
    }
    *to = (cnnrun_dtype)t;
    return NULL;
}

static cnnrun_status *cast_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(check_input_dtype(ctx, 0, "input"));
    cnnrun_dtype to = CNNRUN_DTYPE_UNDEFINED;
    CR_TRY(cast_target(ctx, &to));
    cr_set_output(ctx, 0, to, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *cast_like_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(check_input_dtype(ctx, 0, "input"));
    CR_TRY(check_input_dtype(ctx, 1, "target_type (input 1)"));
    cr_set_output(ctx, 0, ctx->in[1]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

/* ---- element conversions ------------------------------------------------------------------ */
/* Every source is read as one of three kinds — f (double, exact for every float source), i
 * (int64) or u (uint64) — and each target has a conversion from each kind. */

static inline int64_t trunc_signed(double d, int64_t lo, int64_t hi)
{
    if (d != d) return 0;
    if (d <= (double)lo) return lo;
    if (d >= (double)hi) return hi; /* for int64, (double)hi is 2^63: below it the cast is exact */
    return (int64_t)d;
}

static inline uint64_t trunc_unsigned(double d, uint64_t hi)
{
    if (!(d > 0.0)) return 0; /* NaN, zero and negatives */
    if (d >= (double)hi) return hi;
    return (uint64_t)d;
}

/* Narrowing integer conversions keep the low bits (C leaves the signed case to the
 * implementation; GCC and Clang define it as modulo 2^N, which is what we want). */
#define INT_TARGET(NAME, T, LO, HI)                                                                \
    static inline T NAME##_from_f(double d) { return (T)trunc_signed(d, LO, HI); }                 \
    static inline T NAME##_from_i(int64_t v) { return (T)v; }                                      \
    static inline T NAME##_from_u(uint64_t v) { return (T)v; }
#define UINT_TARGET(NAME, T, HI)                                                                   \
    static inline T NAME##_from_f(double d) { return (T)trunc_unsigned(d, HI); }                   \
    static inline T NAME##_from_i(int64_t v) { return (T)(uint64_t)v; }                            \
    static inline T NAME##_from_u(uint64_t v) { return (T)v; }

INT_TARGET(i8, int8_t, INT8_MIN, INT8_MAX)
INT_TARGET(i16, int16_t, INT16_MIN, INT16_MAX)
INT_TARGET(i32, int32_t, INT32_MIN, INT32_MAX)
INT_TARGET(i64, int64_t, INT64_MIN, INT64_MAX)
UINT_TARGET(u8, uint8_t, UINT8_MAX)
UINT_TARGET(u16, uint16_t, UINT16_MAX)
UINT_TARGET(u32, uint32_t, UINT32_MAX)
UINT_TARGET(u64, uint64_t, UINT64_MAX)

static inline float f32_from_f(double d) { return (float)d; }
static inline float f32_from_i(int64_t v) { return (float)v; }
static inline float f32_from_u(uint64_t v) { return (float)v; }
static inline double f64_from_f(double d) { return d; }
static inline double f64_from_i(int64_t v) { return (double)v; }
static inline double f64_from_u(uint64_t v) { return (double)v; }
/* Integers beyond 2^53 round on the way to double, but every such value is inf as a half. */
static inline uint16_t f16_from_f(double d) { return cr_half_from_double(d); }
static inline uint16_t f16_from_i(int64_t v) { return cr_half_from_double((double)v); }
static inline uint16_t f16_from_u(uint64_t v) { return cr_half_from_double((double)v); }
/* Through float32, as Cast to float32 converts, then truncated (bfloat16.h). */
static inline uint16_t bf16_from_f(double d) { return cr_bf16_from_float(f32_from_f(d)); }
static inline uint16_t bf16_from_i(int64_t v) { return cr_bf16_from_float(f32_from_i(v)); }
static inline uint16_t bf16_from_u(uint64_t v) { return cr_bf16_from_float(f32_from_u(v)); }
static inline uint8_t b8_from_f(double d) { return d != 0.0; }
static inline uint8_t b8_from_i(int64_t v) { return v != 0; }
static inline uint8_t b8_from_u(uint64_t v) { return v != 0; }

#define LOAD_F32(v) ((double)(v))
#define LOAD_F64(v) (v)
#define LOAD_F16(v) ((double)cr_half_to_float(v))
#define LOAD_BF16(v) ((double)cr_bf16_to_float(v))
#define LOAD_INT(v) ((int64_t)(v))
#define LOAD_UINT(v) ((uint64_t)(v))
#define LOAD_BOOL(v) ((uint64_t)((v) != 0))

typedef void (*cast_fn)(const void *x, void *y, int64_t n);

#define CAST_LOOP(SRC, ST, KIND, LOAD, DST, DT)                                                    \
    CR_VECTOR_CLONES static void cast_##SRC##_##DST(const void *xv, void *yv, int64_t n)                           \
    {                                                                                              \
        const ST *x = xv;                                                                          \
        DT *y = yv;                                                                                \
        for (int64_t i = 0; i < n; i++) y[i] = DST##_from_##KIND(LOAD(x[i]));                      \
    }

/* Targets in the order of target_index(). */
#define CAST_FROM(SRC, ST, KIND, LOAD)                                                             \
    CAST_LOOP(SRC, ST, KIND, LOAD, f32, float)                                                     \
    CAST_LOOP(SRC, ST, KIND, LOAD, f64, double)                                                    \
    CAST_LOOP(SRC, ST, KIND, LOAD, f16, uint16_t)                                                  \
    CAST_LOOP(SRC, ST, KIND, LOAD, i8, int8_t)                                                     \
    CAST_LOOP(SRC, ST, KIND, LOAD, i16, int16_t)                                                   \
    CAST_LOOP(SRC, ST, KIND, LOAD, i32, int32_t)                                                   \
    CAST_LOOP(SRC, ST, KIND, LOAD, i64, int64_t)                                                   \
    CAST_LOOP(SRC, ST, KIND, LOAD, u8, uint8_t)                                                    \
    CAST_LOOP(SRC, ST, KIND, LOAD, u16, uint16_t)                                                  \
    CAST_LOOP(SRC, ST, KIND, LOAD, u32, uint32_t)                                                  \
    CAST_LOOP(SRC, ST, KIND, LOAD, u64, uint64_t)                                                  \
    CAST_LOOP(SRC, ST, KIND, LOAD, b8, uint8_t)                                                    \
    CAST_LOOP(SRC, ST, KIND, LOAD, bf16, uint16_t)                                                 \
    static const cast_fn from_##SRC[] = {cast_##SRC##_f32, cast_##SRC##_f64, cast_##SRC##_f16,    \
                                         cast_##SRC##_i8,  cast_##SRC##_i16, cast_##SRC##_i32,    \
                                         cast_##SRC##_i64, cast_##SRC##_u8,  cast_##SRC##_u16,    \
                                         cast_##SRC##_u32, cast_##SRC##_u64, cast_##SRC##_b8,     \
                                         cast_##SRC##_bf16};

CAST_FROM(f32, float, f, LOAD_F32)
CAST_FROM(f64, double, f, LOAD_F64)
CAST_FROM(f16, uint16_t, f, LOAD_F16)
CAST_FROM(i8, int8_t, i, LOAD_INT)
CAST_FROM(i16, int16_t, i, LOAD_INT)
CAST_FROM(i32, int32_t, i, LOAD_INT)
CAST_FROM(i64, int64_t, i, LOAD_INT)
CAST_FROM(u8, uint8_t, u, LOAD_UINT)
CAST_FROM(u16, uint16_t, u, LOAD_UINT)
CAST_FROM(u32, uint32_t, u, LOAD_UINT)
CAST_FROM(u64, uint64_t, u, LOAD_UINT)
CAST_FROM(b8, uint8_t, u, LOAD_BOOL)
CAST_FROM(bf16, uint16_t, f, LOAD_BF16)

/* Position of a dtype in the tables above; -1 if Cast does not handle it. */
static int target_index(cnnrun_dtype dt)
{
    switch (dt) {
    case CNNRUN_FLOAT32: return 0;
    case CNNRUN_FLOAT64: return 1;
    case CNNRUN_FLOAT16: return 2;
    case CNNRUN_INT8: return 3;
    case CNNRUN_INT16: return 4;
    case CNNRUN_INT32: return 5;
    case CNNRUN_INT64: return 6;
    case CNNRUN_UINT8: return 7;
    case CNNRUN_UINT16: return 8;
    case CNNRUN_UINT32: return 9;
    case CNNRUN_UINT64: return 10;
    case CNNRUN_BOOL: return 11;
    case CNNRUN_BFLOAT16: return 12;
    default: return -1;
    }
}

static const cast_fn *const cast_tables[] = {from_f32, from_f64, from_f16, from_i8,  from_i16,
                                             from_i32, from_i64, from_u8,  from_u16, from_u32,
                                             from_u64, from_b8,  from_bf16};

static cnnrun_status *cast_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    cr_tensor *y = ctx->out[0];
    const int64_t n = cr_tensor_count(x);
    if (x->dtype == y->dtype && x->dtype != CNNRUN_BOOL) {
        if (x->data != y->data && n > 0) memcpy(y->data, x->data, cr_tensor_bytes(x));
        return NULL;
    }
    const int si = target_index(x->dtype), di = target_index(y->dtype);
    if (si < 0 || di < 0)
        return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "cast from %s to %s reached run",
                           cnnrun_dtype_name(x->dtype), cnnrun_dtype_name(y->dtype));
    const cast_fn fn = cast_tables[si][di];
    const size_t es = cnnrun_dtype_size(x->dtype), ed = cnnrun_dtype_size(y->dtype);
    const int64_t chunks = (n + CAST_CHUNK - 1) / CAST_CHUNK;
    const int threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
#pragma omp parallel for num_threads(threads) if (n >= CAST_PARALLEL_MIN)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * CAST_CHUNK, len = n - i0 < CAST_CHUNK ? n - i0 : CAST_CHUNK;
        fn((const char *)x->data + (size_t)i0 * es, (char *)y->data + (size_t)i0 * ed, len);
    }
    return NULL;
}

/* Cast: 1-5 name the target with a string, 6 switches to the enum, 9/13 add string (refused) and
 * bfloat16, 19 adds saturate, which only float8 targets read. */
static const cr_op op_cast = {
    .op_type = "Cast",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = cast_infer,
    .run = cast_run,
};
static const cr_op op_cast_like = {
    .op_type = "CastLike",
    .domain = "",
    .opset_min = 15,
    .opset_max = 22,
    .infer = cast_like_infer,
    .run = cast_run,
};

const cr_op *const cr_ops_cast[] = {&op_cast, &op_cast_like, NULL};
