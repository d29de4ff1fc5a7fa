/* MaxUnpool: scatters pooled values back to the positions MaxPool's indices name (flat indices
 * into each [N, C, spatial...] input, as MaxPool's second output gives them), zeros elsewhere.
 * The unpooled spatial size is (in - 1) * stride - pads + kernel; the indices count in that shape
 * (flat over [N, C, spatial...]). A larger output_shape places each value at the same coordinates
 * of the larger output, as ONNX's reference does. Every index is checked before it is written. */
#include <string.h>

#include "op_util.h"

/* dims: the output's shape; natural (may be NULL): the unpooled shape before output_shape, in
 * which the indices count. */
static cnnrun_status *unpool_dims(const cr_op_ctx *ctx, int64_t *dims, int64_t *natural)
{
    const cr_tensor *x = ctx->in[0];
    int sp = x->rank - 2;
    const int64_t *k, *s, *pads;
    size_t nk, ns, np;
    CR_TRY(cr_attr_ints(ctx->node, "kernel_shape", &k, &nk));
    CR_TRY(cr_attr_ints(ctx->node, "strides", &s, &ns));
    CR_TRY(cr_attr_ints(ctx->node, "pads", &pads, &np));
    if ((int)nk != sp) return cr_op_unsupported_attr(ctx, "kernel_shape", "needs one value per spatial axis");
    if (ns && (int)ns != sp) return cr_op_unsupported_attr(ctx, "strides", "needs one value per spatial axis");
    if (np && (int)np != 2 * sp) return cr_op_unsupported_attr(ctx, "pads", "needs two values per spatial axis");
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < sp; d++) {
        int64_t st = ns ? s[d] : 1, pb = np ? pads[d] : 0, pe = np ? pads[d + sp] : 0;
        if (k[d] < 1 || st < 1 || pb < 0 || pe < 0) return cr_op_unsupported_attr(ctx, "kernel_shape/strides/pads", "must be positive");
        dims[2 + d] = (x->dims[2 + d] - 1) * st - pb - pe + k[d];
    }
    if (natural) memcpy(natural, dims, (size_t)x->rank * sizeof *dims);
    if (ctx->n_in > 2 && ctx->in[2]) {
        int64_t shape[CR_MAX_RANK];
        size_t n;
        CR_TRY(cr_const_ints(ctx, 2, "output_shape", shape, CR_MAX_RANK, &n));
        if ((int)n != x->rank || shape[0] != dims[0] || shape[1] != dims[1])
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "output_shape must have rank %d and keep N and C", x->rank);
        for (int d = 2; d < x->rank; d++) {
            if (shape[d] < dims[d])
                return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "output_shape axis %d (%lld) is smaller than the unpooled size %lld",
                                   d, (long long)shape[d], (long long)dims[d]);
            dims[d] = shape[d];
        }
    }
    return NULL;
}

static cnnrun_status *unpool_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 3));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    const cr_tensor *x = ctx->in[0], *idx = ctx->in[1];
    if (x->rank < 3 || !cr_shape_equal(x->rank, x->dims, idx->rank, idx->dims))
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "X must be [N, C, spatial...] and I of the same shape");
    int64_t dims[CR_MAX_RANK];
    CR_TRY(unpool_dims(ctx, dims, NULL));
    if (!cr_shape_bytes(CNNRUN_FLOAT32, x->rank, dims, &(size_t){0}))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is larger than cnnrun allows");
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, x->rank, dims);
    return NULL;
}

static cnnrun_status *unpool_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    const int64_t *idx = ctx->in[1]->data;
    cr_tensor *y = ctx->out[0];
    int64_t dims[CR_MAX_RANK], natural[CR_MAX_RANK], total = 1, n = cr_tensor_count(x);
    CR_TRY(unpool_dims(ctx, dims, natural));
    for (int d = 0; d < x->rank; d++) total *= natural[d];
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= total)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "index %lld (at position %lld) is outside the unpooled %lld elements",
                               (long long)idx[i], (long long)i, (long long)total);
    float *out = y->data;
    const float *in = x->data;
    memset(out, 0, cr_tensor_bytes(y));
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = idx[i], at = 0, stride = 1;
        for (int d = x->rank - 1; d >= 0; d--) {
            at += (rem % natural[d]) * stride;
            rem /= natural[d];
            stride *= y->dims[d];
        }
        out[at] = in[i];
    }
    return NULL;
}

/* Opset 9; 11 adds nothing to the semantics. */
static const cr_op op_max_unpool = {.op_type = "MaxUnpool", .domain = "", .opset_min = 9, .opset_max = 22,
                                    .infer = unpool_infer, .run = unpool_run};

const cr_op *const cr_ops_max_unpool[] = {&op_max_unpool, NULL};
