/* Shared by the indexing operators: the Scatter reductions (see index_util.h). */
#include "index_util.h"

cnnrun_status *cr_scatter_reduction_attr(const cr_op_ctx *ctx, cnnrun_dtype dtype, cr_scatter_reduction *out)
{
    const char *r;
    CR_TRY(cr_attr_string(ctx->node, "reduction", "none", &r));
    if (strcmp(r, "none") == 0) *out = CR_SCATTER_NONE;
    else if (strcmp(r, "add") == 0) *out = CR_SCATTER_ADD;
    else if (strcmp(r, "mul") == 0) *out = CR_SCATTER_MUL;
    else if (strcmp(r, "max") == 0 && ctx->opset >= 18) *out = CR_SCATTER_MAX;
    else if (strcmp(r, "min") == 0 && ctx->opset >= 18) *out = CR_SCATTER_MIN;
    else return cr_op_unsupported_attr(ctx, "reduction", "expected none, add or mul (max and min from opset 18)");
    if (*out != CR_SCATTER_NONE && dtype != CNNRUN_FLOAT32 && dtype != CNNRUN_FLOAT64 &&
        dtype != CNNRUN_INT32 && dtype != CNNRUN_INT64)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "attribute 'reduction' = '%s' on dtype %s is not supported (float32, float64, int32, int64)",
                           r, cnnrun_dtype_name(dtype));
    return NULL;
}

/* Integer sums and products wrap (through the unsigned type) instead of overflowing. */
#define APPLY(T, ADD, MUL)                                                                         \
    static void apply_##T(cr_scatter_reduction r, T *d, const T *s, int64_t n)                     \
    {                                                                                              \
        switch (r) {                                                                               \
        case CR_SCATTER_ADD: for (int64_t i = 0; i < n; i++) d[i] = ADD(d[i], s[i]); break;       \
        case CR_SCATTER_MUL: for (int64_t i = 0; i < n; i++) d[i] = MUL(d[i], s[i]); break;       \
        case CR_SCATTER_MAX: for (int64_t i = 0; i < n; i++) d[i] = s[i] > d[i] ? s[i] : d[i]; break; \
        case CR_SCATTER_MIN: for (int64_t i = 0; i < n; i++) d[i] = s[i] < d[i] ? s[i] : d[i]; break; \
        default: break;                                                                            \
        }                                                                                          \
    }
#define F_ADD(a, b) ((a) + (b))
#define F_MUL(a, b) ((a) * (b))
#define I32_ADD(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define I32_MUL(a, b) ((int32_t)((uint32_t)(a) * (uint32_t)(b)))
#define I64_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define I64_MUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
APPLY(float, F_ADD, F_MUL)
APPLY(double, F_ADD, F_MUL)
APPLY(int32_t, I32_ADD, I32_MUL)
APPLY(int64_t, I64_ADD, I64_MUL)

void cr_scatter_apply(cr_scatter_reduction r, cnnrun_dtype dtype, size_t elem, void *dst, const void *src, int64_t n)
{
    if (r == CR_SCATTER_NONE) {
        memmove(dst, src, (size_t)n * elem);
        return;
    }
    switch (dtype) {
    case CNNRUN_FLOAT32: apply_float(r, dst, src, n); break;
    case CNNRUN_FLOAT64: apply_double(r, dst, src, n); break;
    case CNNRUN_INT32: apply_int32_t(r, dst, src, n); break;
    case CNNRUN_INT64: apply_int64_t(r, dst, src, n); break;
    default: break; /* refused by cr_scatter_reduction_attr */
    }
}
