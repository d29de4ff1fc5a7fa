/* Tensor generators: ConstantOfShape (opset 9 on) and Range (opset 11 on).
 *
 * ConstantOfShape fills a shape that must be known at plan time with the one value of its
 * 'value' tensor attribute (float32 0 when absent); an empty shape gives a scalar.
 * Range's output length depends on the values of its inputs, so all three must be known at plan
 * time (constants, or graph inputs whose values the planner then keys the plan on): the planner
 * folds the node, and run only executes during folding. The i-th value is
 * start + i·delta (computed in the dtype, as numpy.arange does), length
 * max(ceil((limit - start) / delta), 0). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define FILL_PARALLEL_MIN_BYTES (1u << 20)
#define RANGE_MAX_COUNT ((int64_t)1 << 34)

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

/* ---- ConstantOfShape ------------------------------------------------------------------------ */

typedef struct fill_state {
    int64_t count;
    size_t elem;
    unsigned char value[8];
    int threads;
} fill_state;

static cnnrun_status *constant_value(const cr_op_ctx *ctx, cnnrun_dtype *dtype, unsigned char *value)
{
    memset(value, 0, 8);
    *dtype = CNNRUN_FLOAT32;
    const cr_attr *a = cr_node_attr(ctx->node, "value");
    if (!a) return NULL;
    if (a->type != CR_ATTR_TENSOR || !a->t)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'value' must be a tensor");
    const cr_tensor *t = a->t;
    if (cr_tensor_count(t) != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'value' must hold one element; it holds %lld",
                           (long long)cr_tensor_count(t));
    size_t es = cnnrun_dtype_size(t->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "attribute 'value' has dtype %s, which is not supported",
                           cnnrun_dtype_name(t->dtype));
    *dtype = t->dtype;
    memcpy(value, t->data, es);
    return NULL;
}

static cnnrun_status *read_shape(const cr_op_ctx *ctx, int *rank, int64_t *dims)
{
    size_t n;
    CR_TRY(cr_const_ints(ctx, 0, "shape", dims, CR_MAX_RANK, &n));
    if (ctx->in[0]->rank != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input must be 1-D; it has rank %d", ctx->in[0]->rank);
    if (ctx->in[0]->dtype != CNNRUN_INT64)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input must be int64; found %s",
                           cnnrun_dtype_name(ctx->in[0]->dtype));
    for (size_t i = 0; i < n; i++)
        if (dims[i] < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input has a negative dim %lld",
                               (long long)dims[i]);
    *rank = (int)n;
    return NULL;
}

static cnnrun_status *constant_of_shape_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    cnnrun_dtype dtype;
    unsigned char value[8];
    CR_TRY(constant_value(ctx, &dtype, value));
    int rank = 0;
    int64_t dims[CR_MAX_RANK];
    CR_TRY(read_shape(ctx, &rank, dims));
    size_t bytes;
    if (!cr_shape_bytes(dtype, rank, dims, &bytes)) {
        char s[160];
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output shape %s is larger than cnnrun allows",
                           cr_shape_str(rank, dims, s, sizeof s));
    }
    cr_set_output(ctx, 0, dtype, rank, dims);
    return NULL;
}

static cnnrun_status *constant_of_shape_prepare(cr_op_ctx *ctx)
{
    fill_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_dtype dtype;
    cnnrun_status *st = constant_value(ctx, &dtype, s->value);
    if (st) {
        free(s);
        return st;
    }
    s->elem = cnnrun_dtype_size(dtype);
    s->count = cr_tensor_count(ctx->out[0]);
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

#define FILL(T)                                                                                   \
    static void fill_##T(T *dst, int64_t n, const unsigned char *bytes, int threads)              \
    {                                                                                             \
        T v;                                                                                      \
        memcpy(&v, bytes, sizeof v);                                                              \
        size_t total = (size_t)n * sizeof v;                                                      \
        _Pragma("omp parallel for num_threads(threads) if (total >= FILL_PARALLEL_MIN_BYTES)")    \
        for (int64_t i = 0; i < n; i++) dst[i] = v;                                               \
    }
FILL(uint8_t)
FILL(uint16_t)
FILL(uint32_t)
FILL(uint64_t)

static cnnrun_status *constant_of_shape_run(cr_op_ctx *ctx)
{
    const fill_state *s = ctx->state;
    void *y = ctx->out[0]->data;
    switch (s->elem) {
    case 1: fill_uint8_t(y, s->count, s->value, s->threads); break;
    case 2: fill_uint16_t(y, s->count, s->value, s->threads); break;
    case 4: fill_uint32_t(y, s->count, s->value, s->threads); break;
    default: fill_uint64_t(y, s->count, s->value, s->threads); break;
    }
    return NULL;
}

/* ---- Range ---------------------------------------------------------------------------------- */

/* The scalar value of input i as a double (exact for every int32 and for int64 up to 2^53; int64
 * lengths are computed in integers below). */
static double scalar_as_double(const cr_tensor *t)
{
    switch (t->dtype) {
    case CNNRUN_FLOAT32: return ((const float *)t->data)[0];
    case CNNRUN_FLOAT64: return ((const double *)t->data)[0];
    case CNNRUN_INT16: return ((const int16_t *)t->data)[0];
    case CNNRUN_INT32: return ((const int32_t *)t->data)[0];
    default: return (double)((const int64_t *)t->data)[0];
    }
}

static cnnrun_status *range_count(const cr_op_ctx *ctx, int64_t *count)
{
    static const char *const roles[3] = {"start", "limit", "delta"};
    cnnrun_dtype dtype = ctx->in[0]->dtype;
    for (int i = 0; i < 3; i++) {
        const cr_tensor *t = ctx->in[i];
        if (t->dtype != dtype)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input has dtype %s; start has %s", roles[i],
                               cnnrun_dtype_name(t->dtype), cnnrun_dtype_name(dtype));
        if (cr_tensor_count(t) != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input must be a scalar; it has %lld values",
                               roles[i], (long long)cr_tensor_count(t));
    }
    /* Every unknown bound is noted, so that the planner can supply them all in one re-plan. */
    int unknown = -1;
    for (int i = 2; i >= 0; i--)
        if (!ctx->in[i]->data) {
            cr_note_missing_value(ctx, i);
            unknown = i;
        }
    if (unknown >= 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "the %s input must be known when the graph is planned (the output length "
                           "depends on its value)", roles[unknown]);
    if (dtype == CNNRUN_INT64) {
        int64_t start = ((const int64_t *)ctx->in[0]->data)[0], limit = ((const int64_t *)ctx->in[1]->data)[0];
        int64_t delta = ((const int64_t *)ctx->in[2]->data)[0];
        if (delta == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "delta is 0");
        /* Compared in long double so that limit - start cannot overflow. */
        long double span = (long double)limit - (long double)start;
        long double n = ceill(span / (long double)delta);
        *count = n > 0 ? (n > (long double)RANGE_MAX_COUNT ? RANGE_MAX_COUNT + 1 : (int64_t)n) : 0;
    } else {
        double start = scalar_as_double(ctx->in[0]), limit = scalar_as_double(ctx->in[1]);
        double delta = scalar_as_double(ctx->in[2]);
        if (delta == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "delta is 0");
        double n = ceil((limit - start) / delta);
        if (n != n) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the length of the range is not a number");
        *count = n > 0 ? (n > (double)RANGE_MAX_COUNT ? RANGE_MAX_COUNT + 1 : (int64_t)n) : 0;
    }
    if (*count > RANGE_MAX_COUNT)
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the range has more than %lld values",
                           (long long)RANGE_MAX_COUNT);
    return NULL;
}

static cnnrun_status *range_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    static const cnnrun_dtype allowed[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT16, CNNRUN_INT32,
                                           CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_dtype(ctx, 0, allowed));
    int64_t count;
    CR_TRY(range_count(ctx, &count));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, 1, &count);
    return NULL;
}

static cnnrun_status *range_run(cr_op_ctx *ctx)
{
    cr_tensor *y = ctx->out[0];
    int64_t n = y->dims[0];
    void *start = ctx->in[0]->data, *delta = ctx->in[2]->data;
    switch (y->dtype) {
    case CNNRUN_FLOAT32: {
        float s = *(const float *)start, d = *(const float *)delta;
        for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = s + (float)i * d;
        break;
    }
    case CNNRUN_FLOAT64: {
        double s = *(const double *)start, d = *(const double *)delta;
        for (int64_t i = 0; i < n; i++) ((double *)y->data)[i] = s + (double)i * d;
        break;
    }
    case CNNRUN_INT16: {
        int16_t s = *(const int16_t *)start, d = *(const int16_t *)delta;
        for (int64_t i = 0; i < n; i++) ((int16_t *)y->data)[i] = (int16_t)(s + i * d);
        break;
    }
    case CNNRUN_INT32: {
        int32_t s = *(const int32_t *)start, d = *(const int32_t *)delta;
        for (int64_t i = 0; i < n; i++) ((int32_t *)y->data)[i] = (int32_t)(s + i * d);
        break;
    }
    default: {
        int64_t s = *(const int64_t *)start, d = *(const int64_t *)delta;
        for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = s + i * d;
        break;
    }
    }
    return NULL;
}

static void free_state(void *state)
{
    free(state);
}

/* ConstantOfShape: opset 9 on (20 adds dtypes). Range: opset 11 on. */
static const cr_op op_constant_of_shape = {
    .op_type = "ConstantOfShape",
    .domain = "",
    .opset_min = 9,
    .opset_max = 22,
    .infer = constant_of_shape_infer,
    .prepare = constant_of_shape_prepare,
    .run = constant_of_shape_run,
    .destroy = free_state,
};
static const cr_op op_range = {
    .op_type = "Range",
    .domain = "",
    .opset_min = 11,
    .opset_max = 22,
    .infer = range_infer,
    .run = range_run,
};

const cr_op *const cr_ops_generate[] = {&op_constant_of_shape, &op_range, NULL};
