/* Helpers for the operators that read indices from data (GatherElements, GatherND, the Scatter
 * family, OneHot, MaxUnpool): loading an index of either integer type, checking it against an
 * axis before anything is read or written through it, and the element-wise reductions that the
 * Scatter operators apply at their targets. */
#ifndef CR_INDEX_UTIL_H
#define CR_INDEX_UTIL_H

#include <stdint.h>
#include <string.h>

#include "op_util.h"

static inline int64_t cr_index_at(const cr_tensor *idx, int64_t i)
{
    return idx->dtype == CNNRUN_INT64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
}

/* Index v on an axis of n elements, negative counting from the end: the position, or -1 when v
 * is outside [-n, n). */
static inline int64_t cr_index_wrap(int64_t v, int64_t n)
{
    if (v < -n || v >= n) return -1;
    return v < 0 ? v + n : v;
}

typedef enum cr_scatter_reduction {
    CR_SCATTER_NONE,
    CR_SCATTER_ADD,
    CR_SCATTER_MUL,
    CR_SCATTER_MAX,
    CR_SCATTER_MIN,
} cr_scatter_reduction;

/* The attribute 'reduction' of ScatterElements and ScatterND: none, add, mul (opset 16), max and
 * min (opset 18); a reduction needs arithmetic, so it is offered for float32/64 and int32/64
 * only. */
cnnrun_status *cr_scatter_reduction_attr(const cr_op_ctx *ctx, cnnrun_dtype dtype, cr_scatter_reduction *out);

/* dst[i] = dst[i] (reduction) src[i] for n elements of dtype (size elem; any dtype for NONE). */
void cr_scatter_apply(cr_scatter_reduction r, cnnrun_dtype dtype, size_t elem, void *dst, const void *src, int64_t n);

#endif
