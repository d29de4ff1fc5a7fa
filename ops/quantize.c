/* Linear quantization, as ONNX Runtime's quantization tools emit it:
 *
 *   QuantizeLinear (opsets 10-17)    y = saturate(round(x / y_scale) + y_zero_point), x float32
 *                                    (or int32 from opset 13), y uint8 or int8 (the zero point's
 *                                    dtype; uint8 without one). Opset 13 adds 'axis': a 1-D scale
 *                                    and zero point give one pair per slice along that axis.
 *   DequantizeLinear (opsets 10-17)  y = (x - x_zero_point) * x_scale in float32, x uint8, int8 or
 *                                    int32 (whose zero point must be 0); per-axis from opset 13.
 *   DynamicQuantizeLinear (11-17)    uint8 quantization with the scale and zero point computed
 *                                    from x's range (widened to include 0), as ONNX defines.
 *
 * Rounding is half to even and results saturate, as the specification says (quant_util.h). The
 * division by the scale is kept (not a multiplication by its inverse, which rounds differently). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "quant_util.h"

#define QUANT_PARALLEL_MIN 65536
#define QUANT_BLOCK 16384

cnnrun_status *cr_quant_param_count(const cr_op_ctx *ctx, int input, const char *role, int64_t channels,
                                    int64_t *count)
{
    const cr_tensor *t = ctx->in[input];
    if (!t) {
        *count = 1;
        return NULL;
    }
    int64_t n = cr_tensor_count(t);
    if (t->rank == 0 || (t->rank == 1 && n == 1)) {
        *count = 1;
        return NULL;
    }
    if (t->rank == 1 && n == channels) {
        *count = n;
        return NULL;
    }
    char s[128];
    return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                       "%s has shape %s; expected a scalar or a 1-D tensor of %lld values (one per channel)",
                       role, cr_shape_str(t->rank, t->dims, s, sizeof s), (long long)channels);
}

cnnrun_status *cr_quant_check_zero_point(const cr_op_ctx *ctx, int input, const char *role, int match)
{
    if (input >= ctx->n_in || !ctx->in[input]) return NULL;
    cnnrun_dtype dt = ctx->in[input]->dtype;
    if (dt != CNNRUN_UINT8 && dt != CNNRUN_INT8 && dt != CNNRUN_INT32)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "%s has dtype %s; supported: uint8, int8", role,
                           cnnrun_dtype_name(dt));
    if (match >= 0 && match < ctx->n_in && ctx->in[match] && ctx->in[match]->dtype != dt)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%s has dtype %s but input %d has dtype %s", role,
                           cnnrun_dtype_name(dt), match, cnnrun_dtype_name(ctx->in[match]->dtype));
    return NULL;
}

/* Slices of a per-axis operation: the tensor is [outer, channels, inner] around the axis. */
typedef struct axis_split {
    int64_t outer, channels, inner;
} axis_split;

/* Reads 'axis' (opset 13 on; earlier opsets are per-tensor only) and checks scale (input 1) and
 * zero point (input 2) against input 0. */
static cnnrun_status *quant_axis(const cr_op_ctx *ctx, const char *scale_role, const char *zp_role,
                                 axis_split *sp)
{
    const cr_tensor *x = ctx->in[0];
    int64_t axis = 1;
    if (ctx->opset >= 13) CR_TRY(cr_attr_int(ctx->node, "axis", 1, &axis));
    sp->outer = 1;
    sp->channels = 1;
    sp->inner = cr_tensor_count(x);
    int64_t ns = 1, nz = 1;
    bool per_axis = ctx->in[1]->rank == 1 && cr_tensor_count(ctx->in[1]) != 1;
    if (per_axis) {
        if (ctx->opset < 13)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "%s must be a scalar before opset 13 (per-axis quantization needs opset 13)",
                               scale_role);
        int a;
        CR_TRY(cr_normalize_axis(ctx, "axis", axis, x->rank, &a));
        sp->channels = x->dims[a];
        sp->outer = 1;
        for (int d = 0; d < a; d++) sp->outer *= x->dims[d];
        sp->inner = 1;
        for (int d = a + 1; d < x->rank; d++) sp->inner *= x->dims[d];
    }
    CR_TRY(cr_quant_param_count(ctx, 1, scale_role, sp->channels, &ns));
    if (ctx->n_in > 2 && ctx->in[2]) {
        CR_TRY(cr_quant_param_count(ctx, 2, zp_role, sp->channels, &nz));
        if (nz != ns)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "%s has %lld values but %s has %lld", zp_role,
                               (long long)nz, scale_role, (long long)ns);
    }
    if (ctx->in[1]->dtype != CNNRUN_FLOAT32)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "%s has dtype %s; supported: float32", scale_role,
                           cnnrun_dtype_name(ctx->in[1]->dtype));
    return NULL;
}

/* ---- QuantizeLinear ------------------------------------------------------------------------- */

static cnnrun_status *quantize_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    static const cnnrun_dtype xs[] = {CNNRUN_FLOAT32, CNNRUN_INT32, 0};
    CR_TRY(cr_op_check_dtype(ctx, 0, ctx->opset >= 13 ? xs : (const cnnrun_dtype[]){CNNRUN_FLOAT32, 0}));
    const cnnrun_dtype out_types[] = {CNNRUN_UINT8, CNNRUN_INT8, 0};
    CR_TRY(cr_op_check_dtype(ctx, 2, out_types));
    axis_split sp;
    CR_TRY(quant_axis(ctx, "y_scale", "y_zero_point", &sp));
    cnnrun_dtype out = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->dtype : CNNRUN_UINT8;
    cr_set_output(ctx, 0, out, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *quantize_run(cr_op_ctx *ctx)
{
    axis_split sp;
    CR_TRY(quant_axis(ctx, "y_scale", "y_zero_point", &sp));
    const cr_tensor *x = ctx->in[0], *zpt = ctx->n_in > 2 ? ctx->in[2] : NULL;
    const float *scale = ctx->in[1]->data;
    int per = sp.channels > 1;
    cnnrun_dtype dt = ctx->out[0]->dtype;
    int32_t lo, hi;
    cr_quant_range(dt, &lo, &hi);
    /* jobs: each row (one channel's slice) cut into blocks, so that a per-tensor operation, one
     * long row, still spreads over the threads */
    int64_t rows = sp.outer * sp.channels, blocks = (sp.inner + QUANT_BLOCK - 1) / QUANT_BLOCK;
    bool parallel = cr_tensor_count(x) >= QUANT_PARALLEL_MIN;
    #pragma omp parallel for num_threads(cr_quant_threads(ctx)) if (parallel)
    for (int64_t job = 0; job < rows * blocks; job++) {
        int64_t r = job / blocks, c = per ? r % sp.channels : 0;
        float s = scale[c];
        int32_t zp = cr_quant_zp(zpt, c);
        int64_t b = r * sp.inner + job % blocks * QUANT_BLOCK, e = b + QUANT_BLOCK;
        if (e > (r + 1) * sp.inner) e = (r + 1) * sp.inner;
        /* one straight loop per dtype pair, so that each vectorises */
        if (x->dtype == CNNRUN_INT32) {
            const int32_t *xi = x->data;
            for (int64_t i = b; i < e; i++) {
                int32_t q = cr_quantize_value((float)xi[i] / s, zp, lo, hi);
                if (dt == CNNRUN_INT8) ((int8_t *)ctx->out[0]->data)[i] = (int8_t)q;
                else ((uint8_t *)ctx->out[0]->data)[i] = (uint8_t)q;
            }
        } else if (dt == CNNRUN_INT8) {
            const float *xf = x->data;
            int8_t *y = ctx->out[0]->data;
            for (int64_t i = b; i < e; i++) y[i] = (int8_t)cr_quantize_value(xf[i] / s, zp, lo, hi);
        } else {
            const float *xf = x->data;
            uint8_t *y = ctx->out[0]->data;
            for (int64_t i = b; i < e; i++) y[i] = (uint8_t)cr_quantize_value(xf[i] / s, zp, lo, hi);
        }
    }
    return NULL;
}

/* ---- DequantizeLinear ----------------------------------------------------------------------- */

static cnnrun_status *dequantize_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    static const cnnrun_dtype xs[] = {CNNRUN_UINT8, CNNRUN_INT8, CNNRUN_INT32, 0};
    CR_TRY(cr_op_check_dtype(ctx, 0, xs));
    CR_TRY(cr_quant_check_zero_point(ctx, 2, "x_zero_point", 0));
    axis_split sp;
    CR_TRY(quant_axis(ctx, "x_scale", "x_zero_point", &sp));
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
    return NULL;
}

static cnnrun_status *dequantize_prepare(cr_op_ctx *ctx)
{
    /* int32 (a quantized bias) has no zero point: ONNX requires it to be 0. */
    const cr_tensor *zp = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (ctx->in[0]->dtype == CNNRUN_INT32 && zp && zp->data) {
        for (int64_t i = 0; i < cr_tensor_count(zp); i++)
            if (cr_quant_zp(zp, i) != 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                   "an int32 input must have a zero point of 0, found %d", (int)cr_quant_zp(zp, i));
    }
    return NULL;
}

static cnnrun_status *dequantize_run(cr_op_ctx *ctx)
{
    axis_split sp;
    CR_TRY(quant_axis(ctx, "x_scale", "x_zero_point", &sp));
    const cr_tensor *x = ctx->in[0], *zpt = ctx->n_in > 2 ? ctx->in[2] : NULL;
    const float *scale = ctx->in[1]->data;
    int per = sp.channels > 1;
    float *y = ctx->out[0]->data;
    /* jobs: each row (one channel's slice) cut into blocks, so that a per-tensor operation, one
     * long row, still spreads over the threads */
    int64_t rows = sp.outer * sp.channels, blocks = (sp.inner + QUANT_BLOCK - 1) / QUANT_BLOCK;
    bool parallel = cr_tensor_count(x) >= QUANT_PARALLEL_MIN;
    #pragma omp parallel for num_threads(cr_quant_threads(ctx)) if (parallel)
    for (int64_t job = 0; job < rows * blocks; job++) {
        int64_t r = job / blocks, c = per ? r % sp.channels : 0;
        float s = scale[c];
        int32_t zp = cr_quant_zp(zpt, c);
        int64_t b = r * sp.inner + job % blocks * QUANT_BLOCK, e = b + QUANT_BLOCK;
        if (e > (r + 1) * sp.inner) e = (r + 1) * sp.inner;
        switch (x->dtype) {
        case CNNRUN_UINT8:
            for (int64_t i = b; i < e; i++) y[i] = (float)(((const uint8_t *)x->data)[i] - zp) * s;
            break;
        case CNNRUN_INT8:
            for (int64_t i = b; i < e; i++) y[i] = (float)(((const int8_t *)x->data)[i] - zp) * s;
            break;
        default: /* int32: zp is 0; subtracting in int64 keeps any int32 exact before rounding */
            for (int64_t i = b; i < e; i++) y[i] = (float)((int64_t)((const int32_t *)x->data)[i] - zp) * s;
            break;
        }
    }
    return NULL;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------------ */

static cnnrun_status *dynamic_quantize_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, (const cnnrun_dtype[]){CNNRUN_FLOAT32, 0}));
    cr_set_output(ctx, 0, CNNRUN_UINT8, ctx->in[0]->rank, ctx->in[0]->dims);
    cr_set_output(ctx, 1, CNNRUN_FLOAT32, 0, NULL);
    cr_set_output(ctx, 2, CNNRUN_UINT8, 0, NULL);
    return NULL;
}

static cnnrun_status *dynamic_quantize_run(cr_op_ctx *ctx)
{
    const float *x = ctx->in[0]->data;
    int64_t n = cr_tensor_count(ctx->in[0]);
    /* The range always includes 0, so that 0 is exactly representable. */
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
    }
    float scale = (mx - mn) / 255.0f;
    int32_t zp = 0;
    /* An all-zero input has no range: ONNX divides by zero there; scale 0 and zero point 0
     * dequantize back to the zeros it holds. */
    if (scale > 0.0f) zp = cr_quantize_value(0.0f - mn / scale, 0, 0, 255);
    uint8_t *y = ctx->out[0]->data;
    bool parallel = n >= QUANT_PARALLEL_MIN;
    #pragma omp parallel for num_threads(cr_quant_threads(ctx)) if (parallel)
    for (int64_t i = 0; i < n; i++)
        y[i] = (uint8_t)(scale > 0.0f ? cr_quantize_value(x[i] / scale, zp, 0, 255) : 0);
    if (ctx->n_out > 1 && ctx->out[1]) *(float *)ctx->out[1]->data = scale;
    if (ctx->n_out > 2 && ctx->out[2]) *(uint8_t *)ctx->out[2]->data = (uint8_t)zp;
    return NULL;
}

static const cr_op quantize_op = {
    .op_type = "QuantizeLinear", .domain = "", .opset_min = 10, .opset_max = 17,
    .infer = quantize_infer, .run = quantize_run,
};
static const cr_op dequantize_op = {
    .op_type = "DequantizeLinear", .domain = "", .opset_min = 10, .opset_max = 17,
    .infer = dequantize_infer, .prepare = dequantize_prepare, .run = dequantize_run,
};
static const cr_op dynamic_quantize_op = {
    .op_type = "DynamicQuantizeLinear", .domain = "", .opset_min = 11, .opset_max = 17,
    .infer = dynamic_quantize_infer, .run = dynamic_quantize_run,
};

const cr_op *const cr_ops_quantize[] = {&quantize_op, &dequantize_op, &dynamic_quantize_op, NULL};
