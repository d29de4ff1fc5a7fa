/* ReverseSequence: for each batch entry b, reverses the first sequence_lens[b] steps along
 * time_axis and copies the rest. batch_axis and time_axis are 0 and 1 in either order; a length
 * outside [0, time steps] is an error, never a read outside the input. */
#include <string.h>

#include "op_util.h"

static cnnrun_status *axes_of(const cr_op_ctx *ctx, int *batch, int *time)
{
    int64_t b, t;
    CR_TRY(cr_attr_int(ctx->node, "batch_axis", 1, &b));
    CR_TRY(cr_attr_int(ctx->node, "time_axis", 0, &t));
    if (!((b == 0 && t == 1) || (b == 1 && t == 0)))
        return cr_op_unsupported_attr(ctx, "batch_axis/time_axis", "must be 0 and 1, in either order");
    *batch = (int)b;
    *time = (int)t;
    return NULL;
}

static cnnrun_status *reverse_sequence_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, index_types));
    const cr_tensor *x = ctx->in[0], *lens = ctx->in[1];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    int batch, time;
    CR_TRY(axes_of(ctx, &batch, &time));
    if (x->rank < 2 || lens->rank != 1 || lens->dims[0] != x->dims[batch])
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "expected input of rank >= 2 and sequence_lens [%lld]",
                           x->rank >= 2 ? (long long)x->dims[batch] : 0LL);
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    return NULL;
}

static cnnrun_status *reverse_sequence_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    const int64_t *lens = ctx->in[1]->data;
    int batch, time;
    CR_TRY(axes_of(ctx, &batch, &time));
    int64_t nb = x->dims[batch], nt = x->dims[time], inner = 1;
    for (int d = 2; d < x->rank; d++) inner *= x->dims[d];
    for (int64_t b = 0; b < nb; b++)
        if (lens[b] < 0 || lens[b] > nt)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                               (long long)b, (long long)lens[b], (long long)nt);
    size_t block = (size_t)inner * cnnrun_dtype_size(x->dtype);
    /* Element (b, t) of the first two axes, in whichever order they come. */
    int64_t sb = batch == 0 ? nt : 1, st = time == 0 ? nb : 1;
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t t = 0; t < nt; t++) {
            int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
            memcpy(dst + (size_t)(b * sb + t * st) * block, src + (size_t)(b * sb + from * st) * block, block);
        }
    return NULL;
}

/* Opset 10, unchanged since. */
static const cr_op op_reverse_sequence = {.op_type = "ReverseSequence", .domain = "", .opset_min = 10, .opset_max = 22,
                                          .infer = reverse_sequence_infer, .run = reverse_sequence_run};

const cr_op *const cr_ops_reverse_sequence[] = {&op_reverse_sequence, NULL};
