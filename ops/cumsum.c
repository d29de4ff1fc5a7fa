/* CumSum: running sums along one axis (given as an input), optionally exclusive (each output
 * leaves out its own element) and reversed (sums run from the end).
 *
 * The tensor is seen as [outer, n, inner]. With inner > 1 the recurrence y[j] = y[j-1] + x[j]
 * runs over whole rows of inner elements, which vectorise; with inner == 1 it is a plain prefix
 * sum per line. Independent lines (the axes before the summed one) run in parallel. Integer sums
 * wrap instead of overflowing. The axis may change at run (it is an
 * input), so the view is computed there. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

/* Below this many elements one thread does it faster than waking another. */
#define CUMSUM_PARALLEL_MIN 65536

static cnnrun_status *cumsum_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT32, CNNRUN_INT64,
                                         CNNRUN_UINT32,  CNNRUN_UINT64,  0};
    static const cnnrun_dtype axis_types[] = {CNNRUN_INT32, CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, types));
    CR_TRY(cr_op_check_dtype(ctx, 1, axis_types));
    if (ctx->in[0]->rank < 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 1");
    if (cr_tensor_count(ctx->in[1]) != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis must be a scalar; it has %lld elements",
                           (long long)cr_tensor_count(ctx->in[1]));
    int64_t v;
    CR_TRY(cr_attr_int(ctx->node, "exclusive", 0, &v));
    CR_TRY(cr_attr_int(ctx->node, "reverse", 0, &v));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

/* Lines of n elements step `step` apart in memory (inner * direction); rows of `inner`. */
#define CUMSUM_KERNEL(T, U)                                                                        \
    static void cumsum_##T(const T *x, T *y, int64_t outer, int64_t n, int64_t inner, bool excl,   \
                           bool rev, int threads)                                                  \
    {                                                                                              \
        _Pragma("omp parallel for num_threads(threads) if (outer > 1 && outer * n * inner >= CUMSUM_PARALLEL_MIN)") \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            const T *xo = x + o * n * inner;                                                       \
            T *yo = y + o * n * inner;                                                             \
            for (int64_t s = 0; s < n; s++) {                                                      \
                int64_t j = rev ? n - 1 - s : s, prev = rev ? j + 1 : j - 1;                       \
                T *row = yo + j * inner;                                                           \
                if (s == 0) {                                                                      \
                    for (int64_t i = 0; i < inner; i++) row[i] = excl ? (T)0 : xo[j * inner + i];  \
                    continue;                                                                      \
                }                                                                                  \
                const T *prow = yo + prev * inner;                                                 \
                const T *xs = xo + (excl ? prev : j) * inner;                                      \
                _Pragma("omp simd")                                                                \
                for (int64_t i = 0; i < inner; i++) row[i] = (T)((U)prow[i] + (U)xs[i]);           \
            }                                                                                      \
        }                                                                                          \
    }
CUMSUM_KERNEL(float, float)
CUMSUM_KERNEL(double, double)
CUMSUM_KERNEL(int32_t, uint32_t)
CUMSUM_KERNEL(int64_t, uint64_t)
CUMSUM_KERNEL(uint32_t, uint32_t)
CUMSUM_KERNEL(uint64_t, uint64_t)

static cnnrun_status *cumsum_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *a = ctx->in[1];
    int64_t av = a->dtype == CNNRUN_INT64 ? *(const int64_t *)a->data : *(const int32_t *)a->data;
    int axis;
    CR_TRY(cr_normalize_axis(ctx, "the axis input", av, x->rank, &axis));
    int64_t excl, rev;
    CR_TRY(cr_attr_int(ctx->node, "exclusive", 0, &excl));
    CR_TRY(cr_attr_int(ctx->node, "reverse", 0, &rev));
    int64_t outer = 1, inner = 1, n = x->dims[axis];
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    /* The output is its own buffer (only view ops share an input's bytes), so an exclusive sum
     * never reads an element it has overwritten. */
    void *y = ctx->out[0]->data;
    int threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
    switch (x->dtype) {
    case CNNRUN_FLOAT32: cumsum_float(x->data, y, outer, n, inner, excl, rev, threads); break;
    case CNNRUN_FLOAT64: cumsum_double(x->data, y, outer, n, inner, excl, rev, threads); break;
    case CNNRUN_INT32: cumsum_int32_t(x->data, y, outer, n, inner, excl, rev, threads); break;
    case CNNRUN_INT64: cumsum_int64_t(x->data, y, outer, n, inner, excl, rev, threads); break;
    case CNNRUN_UINT32: cumsum_uint32_t(x->data, y, outer, n, inner, excl, rev, threads); break;
    case CNNRUN_UINT64: cumsum_uint64_t(x->data, y, outer, n, inner, excl, rev, threads); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(x->dtype));
    }
    return NULL;
}

/* Opset 11; 14 adds dtypes (bfloat16, float16), which are not offered here. */
static const cr_op op_cumsum = {.op_type = "CumSum", .domain = "", .opset_min = 11, .opset_max = 22,
                                .infer = cumsum_infer, .run = cumsum_run};

const cr_op *const cr_ops_cumsum[] = {&op_cumsum, NULL};
