/* Where(condition, X, Y): X where the condition is true, else Y, all three broadcast together
 * (PyTorch exports masked_fill and torch.where as Where with a [N,1,W]-like mask against a
 * full tensor or a scalar). The selection only moves elements, so any dtype is handled by its
 * element size; the condition is bool and any nonzero byte counts as true. */
#include <stdint.h>
#include <stdlib.h>

#include "broadcast.h"
#include "op_util.h"
#include "vec_math.h"

typedef struct where_state {
    cr_bcast_plan plan;
    cr_bcast_row_fn row;
    int threads;
} where_state;

typedef struct where_args {
    const uint8_t *cond;
    const void *x, *y;
    void *out;
} where_args;

static cnnrun_status *where_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype bools[] = {CNNRUN_BOOL, 0};
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    CR_TRY(cr_op_check_dtype(ctx, 0, bools));
    const cnnrun_dtype dt = ctx->in[1]->dtype;
    if (ctx->in[2]->dtype != dt)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "X and Y have dtypes %s and %s; they must be the same",
                           cnnrun_dtype_name(dt), cnnrun_dtype_name(ctx->in[2]->dtype));
    if (dt == CNNRUN_STRING || cnnrun_dtype_size(dt) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "X and Y have dtype %s (ONNX type %d), which cnnrun does "
                           "not support", dt == 16 ? "bfloat16" : cnnrun_dtype_name(dt), (int)dt);
    int rank = ctx->in[0]->rank;
    int64_t dims[CR_MAX_RANK];
    for (int i = 0; i < rank; i++) dims[i] = ctx->in[0]->dims[i];
    for (int k = 1; k < 3; k++)
        CR_TRY(cr_broadcast_shape(ctx, rank, dims, ctx->in[k]->rank, ctx->in[k]->dims, &rank, dims));
    cr_set_output(ctx, 0, dt, rank, dims);
    return NULL;
}

/* One row per element size. The steps are 0 or 1: the flat case and a scalar X or Y (masked_fill)
 * get their own loops so that they vectorise. */
#define WHERE_ROW(T)                                                                               \
    CR_VECTOR_CLONES static void where_row_##T(const void *user, const int64_t *off, const int64_t *step, int64_t o, int64_t n) \
    {                                                                                              \
        const where_args *u = user;                                                                \
        const uint8_t *c = u->cond + off[0];                                                       \
        const T *x = (const T *)u->x + off[1], *y = (const T *)u->y + off[2];                      \
        T *out = (T *)u->out + o;                                                                  \
        const int64_t sc = step[0], sx = step[1], sy = step[2];                                    \
        if (sc && sx && sy) {                                                                      \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) out[i] = c[i] ? x[i] : y[i];       \
        } else if (sc && sx && !sy) { /* masked_fill: Y a scalar */                                \
            const T yv = y[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) out[i] = c[i] ? x[i] : yv;         \
        } else if (sc && !sx && sy) {                                                              \
            const T xv = x[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) out[i] = c[i] ? xv : y[i];         \
        } else if (!sc) {                                                                          \
            const T *src = c[0] ? x : y;                                                           \
            const int64_t ss = c[0] ? sx : sy;                                                     \
            for (int64_t i = 0; i < n; i++) out[i] = src[i * ss];                                  \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) out[i] = c[i] ? x[i * sx] : y[i * sy];                 \
        }                                                                                          \
    }

WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

static cnnrun_status *where_prepare(cr_op_ctx *ctx)
{
    cr_bcast_row_fn row = NULL;
    switch (cnnrun_dtype_size(ctx->out[0]->dtype)) {
    case 1: row = where_row_uint8_t; break;
    case 2: row = where_row_uint16_t; break;
    case 4: row = where_row_uint32_t; break;
    case 8: row = where_row_uint64_t; break;
    default:
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported",
                           cnnrun_dtype_name(ctx->out[0]->dtype));
    }
    where_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    int ranks[3];
    const int64_t *dims[3];
    for (int k = 0; k < 3; k++) {
        ranks[k] = ctx->in[k]->rank;
        dims[k] = ctx->in[k]->dims;
    }
    cr_broadcast_plan(&s->plan, ctx->out[0]->rank, ctx->out[0]->dims, 3, ranks, dims);
    s->row = row;
    s->threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
    ctx->state = s;
    return NULL;
}

static cnnrun_status *where_run(cr_op_ctx *ctx)
{
    const where_state *s = ctx->state;
    const where_args args = {ctx->in[0]->data, ctx->in[1]->data, ctx->in[2]->data, ctx->out[0]->data};
    cr_broadcast_run(&s->plan, s->threads, s->row, &args);
    return NULL;
}

static void where_destroy(void *state)
{
    free(state);
}

/* 9 introduces Where, 16 only adds bfloat16. */
static const cr_op op_where = {
    .op_type = "Where",
    .domain = "",
    .opset_min = 9,
    .opset_max = 22,
    .infer = where_infer,
    .prepare = where_prepare,
    .run = where_run,
    .destroy = where_destroy,
};

const cr_op *const cr_ops_where[] = {&op_where, NULL};
