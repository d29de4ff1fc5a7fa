/* Quantization parameters of the quantized convolutions and matrix products (qconv.c,
 * qmatmul.c): a scale or zero point checked against the tensor it describes. */
#include "quant_util.h"

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
