/* Quantization parameters shared by the quantized convolutions and matrix products (QLinearConv,
 * ConvInteger, QLinearMatMul, MatMulInteger): checking a scale / zero-point pair against the
 * tensor it describes, reading them as int32, and ONNX's rounding and saturation. */
#ifndef CR_QUANT_UTIL_H
#define CR_QUANT_UTIL_H

#include <stdint.h>

#include "op_util.h"

/* How many values a scale or zero-point tensor holds when it is valid: 1 (a scalar, or a 1-D
 * tensor of one element) or `channels` (a 1-D tensor, one value per channel of the quantized
 * axis). Anything else is refused, naming `role` and the expected shape. */
cnnrun_status *cr_quant_param_count(const cr_op_ctx *ctx, int input, const char *role, int64_t channels,
                                    int64_t *count);

/* Checks that input `input` (a zero point, optional: NULL passes) is uint8 or int8 (or, with
 * allow_int32, int32) and, if `match` >= 0, has the dtype of input `match`. */
cnnrun_status *cr_quant_check_zero_point(const cr_op_ctx *ctx, int input, const char *role, int match);

/* Input i, or NULL when it is omitted or beyond the node's inputs (optional inputs; a role
 * index of -1 is "absent in this form"). */
static inline const cr_tensor *cr_quant_input(const cr_op_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->n_in ? ctx->in[i] : NULL;
}

/* oneDNN's type for a quantized tensor: uint8, int8, else (the accumulators) int32. */
static inline dnnl_data_type_t cr_quant_dnnl_type(cnnrun_dtype dt)
{
    return dt == CNNRUN_UINT8 ? dnnl_u8 : dt == CNNRUN_INT8 ? dnnl_s8 : dnnl_s32;
}

/* Threads for a loop of our own. */
static inline int cr_quant_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

/* Value i of a zero point of dtype dt (uint8, int8 or int32) as int32; t NULL reads 0. */
static inline int32_t cr_quant_zp(const cr_tensor *t, int64_t i)
{
    if (!t) return 0;
    switch (t->dtype) {
    case CNNRUN_UINT8: return ((const uint8_t *)t->data)[i];
    case CNNRUN_INT8: return ((const int8_t *)t->data)[i];
    default: return ((const int32_t *)t->data)[i];
    }
}

/* The quantized range of an 8-bit dtype. */
static inline void cr_quant_range(cnnrun_dtype dt, int32_t *lo, int32_t *hi)
{
    *lo = dt == CNNRUN_INT8 ? -128 : 0;
    *hi = dt == CNNRUN_INT8 ? 127 : 255;
}

/* ONNX's quantization of one value v (already divided by the scale): round half to even, add
 * the zero point, saturate to [lo, hi]. NaN, which ONNX leaves undefined, gives the zero point
 * (the quantized zero). Branch-free so that loops over it vectorise with plain SSE2: v is clamped
 * to [lo - zp, hi - zp] first (the bounds are integers, so clamping before rounding is the same
 * as after), and then rounded by adding and subtracting 1.5 * 2^23, which leaves the integer
 * nearest to v, ties to even, in the default rounding mode for any |v| < 2^22. */
static inline int32_t cr_quantize_value(float v, int32_t zp, int32_t lo, int32_t hi)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float fl = (float)(lo - zp), fh = (float)(hi - zp);
    v = v == v ? v : 0.0f;
    v = v < fl ? fl : v;
    v = v > fh ? fh : v;
    v = (v + magic) - magic;
    return (int32_t)v + zp;
}

#endif
