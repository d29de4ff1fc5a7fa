/* Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) and the logical And, Or, Xor
 * with NumPy broadcasting, and the element-wise Not. Every output is bool (one byte, 0 or 1).
 *
 * Comparisons take every numeric dtype cnnrun has (float16 compared through float, which is
 * exact) and Equal also bool; the logical ops take bool and read any nonzero byte as true.
 * Broadcasting is the shared loop nest of broadcast.h; each (dtype, op) pair has a row kernel
 * with separate loops for contiguous, scalar-a and scalar-b rows so that each one vectorises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "float16.h"
#include "op_util.h"
#include "vec_math.h"

typedef enum cmp_kind { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE, LOGIC_AND, LOGIC_OR, LOGIC_XOR } cmp_kind;

typedef struct cmp_desc {
    const char *op_type;
    cmp_kind kind;
    bool legacy_broadcast; /* opsets before 7 broadcast only with broadcast=1 */
    const cnnrun_dtype *dtypes;
} cmp_desc;

static const cnnrun_dtype numbers[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, CNNRUN_INT8,
                                       CNNRUN_INT16,   CNNRUN_INT32,   CNNRUN_INT64,   CNNRUN_UINT8,
                                       CNNRUN_UINT16,  CNNRUN_UINT32,  CNNRUN_UINT64,  0};
static const cnnrun_dtype numbers_and_bool[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_FLOAT16, CNNRUN_INT8,
                                                CNNRUN_INT16,   CNNRUN_INT32,   CNNRUN_INT64,   CNNRUN_UINT8,
                                                CNNRUN_UINT16,  CNNRUN_UINT32,  CNNRUN_UINT64,  CNNRUN_BOOL, 0};
static const cnnrun_dtype bool_only[] = {CNNRUN_BOOL, 0};

static const cmp_desc descs[] = {
    {"Equal", CMP_EQ, true, numbers_and_bool}, {"Less", CMP_LT, true, numbers},
    {"Greater", CMP_GT, true, numbers},        {"LessOrEqual", CMP_LE, false, numbers},
    {"GreaterOrEqual", CMP_GE, false, numbers}, {"And", LOGIC_AND, true, bool_only},
    {"Or", LOGIC_OR, true, bool_only},         {"Xor", LOGIC_XOR, true, bool_only},
};

static const cmp_desc *desc_of(const char *op_type)
{
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
        if (strcmp(descs[i].op_type, op_type) == 0) return &descs[i];
    return NULL;
}

typedef struct cmp_state {
    cr_bcast_plan plan;
    cr_bcast_row_fn row;
    int threads;
} cmp_state;

/* What run hands the row kernels. */
typedef struct cmp_args {
    const void *a, *b;
    uint8_t *y;
} cmp_args;

/* B's shape as NumPy broadcasting should see it. Opsets 1-6: without broadcast=1 the shapes
 * must be equal; with it, B lines up with A from `axis` (default: the trailing axes), which
 * trailing ones express. */
static cnnrun_status *legacy_b_shape(const cr_op_ctx *ctx, int *rank_b, int64_t *dims_b)
{
    const cr_tensor *a = ctx->in[0], *b = ctx->in[1];
    int64_t broadcast, axis;
    CR_TRY(cr_attr_int(ctx->node, "broadcast", 0, &broadcast));
    *rank_b = b->rank;
    memcpy(dims_b, b->dims, sizeof b->dims);
    if (!broadcast) {
        if (!cr_shape_equal(a->rank, a->dims, b->rank, b->dims)) {
            char sa[96], sb[96];
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "inputs of shapes %s and %s differ and attribute 'broadcast' is 0 (opset %lld "
                               "broadcasts only when it is 1)",
                               cr_shape_str(a->rank, a->dims, sa, sizeof sa),
                               cr_shape_str(b->rank, b->dims, sb, sizeof sb), (long long)ctx->opset);
        }
        return NULL;
    }
    if (b->rank == 0) return NULL; /* a scalar lines up with anything */
    CR_TRY(cr_attr_int(ctx->node, "axis", a->rank - b->rank, &axis));
    int ax;
    CR_TRY(cr_normalize_axis(ctx, "axis", axis, a->rank > 0 ? a->rank : 1, &ax));
    if (ax + b->rank > a->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'axis' = %lld places B (rank %d) past the end of A (rank %d)",
                           (long long)axis, b->rank, a->rank);
    for (int i = b->rank; i < a->rank - ax; i++) dims_b[i] = 1;
    *rank_b = a->rank - ax;
    return NULL;
}

static cnnrun_status *cmp_shapes(const cr_op_ctx *ctx, int *rank, int64_t *dims, int *rank_b, int64_t *dims_b)
{
    const cmp_desc *d = desc_of(ctx->node->op_type);
    *rank_b = ctx->in[1]->rank;
    memcpy(dims_b, ctx->in[1]->dims, sizeof ctx->in[1]->dims);
    if (d->legacy_broadcast && ctx->opset < 7) CR_TRY(legacy_b_shape(ctx, rank_b, dims_b));
    return cr_broadcast_shape(ctx, ctx->in[0]->rank, ctx->in[0]->dims, *rank_b, dims_b, rank, dims);
}

static cnnrun_status *cmp_infer(cr_op_ctx *ctx)
{
    const cmp_desc *d = desc_of(ctx->node->op_type);
    if (!d) return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "no comparison kernel for this op");
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, d->dtypes));
    if (ctx->in[1]->dtype != ctx->in[0]->dtype)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "inputs have dtypes %s and %s; they must be the same",
                           cnnrun_dtype_name(ctx->in[0]->dtype), cnnrun_dtype_name(ctx->in[1]->dtype));
    int rank, rank_b;
    int64_t dims[CR_MAX_RANK], dims_b[CR_MAX_RANK];
    CR_TRY(cmp_shapes(ctx, &rank, dims, &rank_b, dims_b));
    cr_set_output(ctx, 0, CNNRUN_BOOL, rank, dims);
    return NULL;
}

/* ---- row kernels ------------------------------------------------------------------------- */

#define LOAD_PLAIN(v) (v)
#define LOAD_HALF(v) cr_half_to_float(v)

#define OP_EQ(x, y) ((x) == (y))
#define OP_LT(x, y) ((x) < (y))
#define OP_GT(x, y) ((x) > (y))
#define OP_LE(x, y) ((x) <= (y))
#define OP_GE(x, y) ((x) >= (y))
#define OP_AND(x, y) (((x) != 0) & ((y) != 0))
#define OP_OR(x, y) (((x) != 0) | ((y) != 0))
#define OP_XOR(x, y) (((x) != 0) ^ ((y) != 0))

#define ROW_KERNEL(NAME, T, LOAD, OP)                                                              \
    CR_VECTOR_CLONES static void NAME(const void *user, const int64_t *off, const int64_t *step, int64_t o, int64_t n) \
    {                                                                                              \
        const cmp_args *u = user;                                                                  \
        const T *a = (const T *)u->a + off[0], *b = (const T *)u->b + off[1];                      \
        uint8_t *y = u->y + o;                                                                     \
        if (step[0] && step[1]) {                                                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)OP(LOAD(a[i]), LOAD(b[i])); \
        } else if (step[0]) {                                                                      \
            const T bv = b[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)OP(LOAD(a[i]), LOAD(bv)); \
        } else if (step[1]) {                                                                      \
            const T av = a[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)OP(LOAD(av), LOAD(b[i])); \
        } else {                                                                                   \
            memset(y, OP(LOAD(a[0]), LOAD(b[0])) ? 1 : 0, (size_t)n);                              \
        }                                                                                          \
    }

#define CMP_KERNELS(SUF, T, LOAD)                                                                  \
    ROW_KERNEL(row_eq_##SUF, T, LOAD, OP_EQ)                                                       \
    ROW_KERNEL(row_lt_##SUF, T, LOAD, OP_LT)                                                       \
    ROW_KERNEL(row_gt_##SUF, T, LOAD, OP_GT)                                                       \
    ROW_KERNEL(row_le_##SUF, T, LOAD, OP_LE)                                                       \
    ROW_KERNEL(row_ge_##SUF, T, LOAD, OP_GE)                                                       \
    static const cr_bcast_row_fn rows_##SUF[] = {row_eq_##SUF, row_lt_##SUF, row_gt_##SUF,        \
                                                 row_le_##SUF, row_ge_##SUF};

CMP_KERNELS(f32, float, LOAD_PLAIN)
CMP_KERNELS(f64, double, LOAD_PLAIN)
CMP_KERNELS(f16, uint16_t, LOAD_HALF)
CMP_KERNELS(i8, int8_t, LOAD_PLAIN)
CMP_KERNELS(i16, int16_t, LOAD_PLAIN)
CMP_KERNELS(i32, int32_t, LOAD_PLAIN)
CMP_KERNELS(i64, int64_t, LOAD_PLAIN)
CMP_KERNELS(u8, uint8_t, LOAD_PLAIN)
CMP_KERNELS(u16, uint16_t, LOAD_PLAIN)
CMP_KERNELS(u32, uint32_t, LOAD_PLAIN)
CMP_KERNELS(u64, uint64_t, LOAD_PLAIN)
ROW_KERNEL(row_and, uint8_t, LOAD_PLAIN, OP_AND)
ROW_KERNEL(row_or, uint8_t, LOAD_PLAIN, OP_OR)
ROW_KERNEL(row_xor, uint8_t, LOAD_PLAIN, OP_XOR)
/* bool Equal: compare truth values, not bytes */
ROW_KERNEL(row_eq_bool, uint8_t, LOAD_PLAIN, !OP_XOR)

static cr_bcast_row_fn row_kernel(cmp_kind k, cnnrun_dtype dt)
{
    switch (k) {
    case LOGIC_AND: return row_and;
    case LOGIC_OR: return row_or;
    case LOGIC_XOR: return row_xor;
    default: break;
    }
    switch (dt) {
    case CNNRUN_FLOAT32: return rows_f32[k];
    case CNNRUN_FLOAT64: return rows_f64[k];
    case CNNRUN_FLOAT16: return rows_f16[k];
    case CNNRUN_INT8: return rows_i8[k];
    case CNNRUN_INT16: return rows_i16[k];
    case CNNRUN_INT32: return rows_i32[k];
    case CNNRUN_INT64: return rows_i64[k];
    case CNNRUN_UINT8: return rows_u8[k];
    case CNNRUN_UINT16: return rows_u16[k];
    case CNNRUN_UINT32: return rows_u32[k];
    case CNNRUN_UINT64: return rows_u64[k];
    case CNNRUN_BOOL: return k == CMP_EQ ? row_eq_bool : NULL;
    default: return NULL;
    }
}

static cnnrun_status *cmp_prepare(cr_op_ctx *ctx)
{
    const cmp_desc *d = desc_of(ctx->node->op_type);
    int rank, rank_b;
    int64_t dims[CR_MAX_RANK], dims_b[CR_MAX_RANK];
    CR_TRY(cmp_shapes(ctx, &rank, dims, &rank_b, dims_b));
    cr_bcast_row_fn row = row_kernel(d->kind, ctx->in[0]->dtype);
    if (!row)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported",
                           cnnrun_dtype_name(ctx->in[0]->dtype));
    cmp_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    const int ranks[2] = {ctx->in[0]->rank, rank_b};
    const int64_t *const in_dims[2] = {ctx->in[0]->dims, dims_b};
    cr_broadcast_plan(&s->plan, ctx->out[0]->rank, ctx->out[0]->dims, 2, ranks, in_dims);
    s->row = row;
    s->threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
    ctx->state = s;
    return NULL;
}

static cnnrun_status *cmp_run(cr_op_ctx *ctx)
{
    const cmp_state *s = ctx->state;
    const cmp_args args = {ctx->in[0]->data, ctx->in[1]->data, ctx->out[0]->data};
    cr_broadcast_run(&s->plan, s->threads, s->row, &args);
    return NULL;
}

static void cmp_destroy(void *state)
{
    free(state);
}

/* ---- Not ----------------------------------------------------------------------------------- */

static cnnrun_status *not_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, bool_only));
    cr_set_output(ctx, 0, CNNRUN_BOOL, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *not_run(cr_op_ctx *ctx)
{
    const uint8_t *x = ctx->in[0]->data;
    uint8_t *y = ctx->out[0]->data;
    const int64_t n = cr_tensor_count(ctx->in[0]);
    const int threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
#pragma omp parallel for simd num_threads(threads) if (n >= CR_BCAST_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] == 0;
    return NULL;
}

/* Opsets: Equal/Less/Greater 1 (legacy broadcast), 7 (NumPy broadcasting), then 9/11/13 only
 * widen the dtypes; LessOrEqual/GreaterOrEqual from 12; And/Or/Xor 1 and 7; Not 1. */
#define CMP_OP(var, name, min)                                                                     \
    static const cr_op var = { \
        .op_type = name, \
        .domain = "", \
        .opset_min = min, \
        .opset_max = 22, \
        .infer = cmp_infer, \
        .prepare = cmp_prepare, \
        .run = cmp_run, \
        .destroy = cmp_destroy, \
    };
CMP_OP(op_equal, "Equal", 1)
CMP_OP(op_less, "Less", 1)
CMP_OP(op_greater, "Greater", 1)
CMP_OP(op_less_equal, "LessOrEqual", 12)
CMP_OP(op_greater_equal, "GreaterOrEqual", 12)
CMP_OP(op_and, "And", 1)
CMP_OP(op_or, "Or", 1)
CMP_OP(op_xor, "Xor", 1)
static const cr_op op_not = {
    .op_type = "Not",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = not_infer,
    .run = not_run,
};

const cr_op *const cr_ops_compare[] = {&op_equal, &op_less,  &op_greater, &op_less_equal, &op_greater_equal,
                                       &op_and,   &op_or,    &op_xor,     &op_not,        NULL};
