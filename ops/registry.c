/* The op registry: every operator family's table of descriptors. A family file exports a
 * NULL-terminated array `cr_ops_<family>`; adding a family means one line here. */
#include <string.h>

#include "op.h"

extern const cr_op *const cr_ops_conv[];
extern const cr_op *const cr_ops_conv_transpose[];
extern const cr_op *const cr_ops_pool[];
extern const cr_op *const cr_ops_gemm[];
extern const cr_op *const cr_ops_batchnorm[];
extern const cr_op *const cr_ops_unary[];
extern const cr_op *const cr_ops_binary[];
extern const cr_op *const cr_ops_softmax[];
extern const cr_op *const cr_ops_reshape[];
extern const cr_op *const cr_ops_transpose[];
extern const cr_op *const cr_ops_concat[];
extern const cr_op *const cr_ops_shape[];
extern const cr_op *const cr_ops_gather[];
extern const cr_op *const cr_ops_normalization[];
extern const cr_op *const cr_ops_reduce[];
extern const cr_op *const cr_ops_rnn[];
extern const cr_op *const cr_ops_slice[];
extern const cr_op *const cr_ops_expand[];
extern const cr_op *const cr_ops_pad[];
extern const cr_op *const cr_ops_generate[];
extern const cr_op *const cr_ops_depth_space[];
extern const cr_op *const cr_ops_resize[];
extern const cr_op *const cr_ops_einsum[];
extern const cr_op *const cr_ops_compare[];
extern const cr_op *const cr_ops_where[];
extern const cr_op *const cr_ops_cast[];
extern const cr_op *const cr_ops_gather_elements[];
extern const cr_op *const cr_ops_gather_nd[];
extern const cr_op *const cr_ops_loss[];
extern const cr_op *const cr_ops_matrix[];
extern const cr_op *const cr_ops_topk[];
extern const cr_op *const cr_ops_cumsum[];
extern const cr_op *const cr_ops_one_hot[];
extern const cr_op *const cr_ops_spectral[];
extern const cr_op *const cr_ops_select[];
extern const cr_op *const cr_ops_detection[];
extern const cr_op *const cr_ops_reverse_sequence[];
extern const cr_op *const cr_ops_max_unpool[];
extern const cr_op *const cr_ops_grid_sample[];
extern const cr_op *const cr_ops_quantize[];
/* int8 quantized convolutions and matrix products (QOperator models; QDQ ones are fused) */
extern const cr_op *const cr_ops_qconv[];
extern const cr_op *const cr_ops_qmatmul[];

static const cr_op *const *const families[] = {
    cr_ops_conv,    cr_ops_pool,      cr_ops_gemm,   cr_ops_batchnorm,
    cr_ops_unary,   cr_ops_binary,    cr_ops_softmax, cr_ops_reshape,
    cr_ops_transpose, cr_ops_concat,  cr_ops_shape,  cr_ops_gather,
    cr_ops_normalization, cr_ops_reduce,
    cr_ops_rnn,
    cr_ops_slice, cr_ops_expand, cr_ops_pad, cr_ops_generate, cr_ops_depth_space,
    cr_ops_resize, cr_ops_einsum,
    cr_ops_conv_transpose,
    cr_ops_compare, cr_ops_where, cr_ops_cast,
    cr_ops_gather_elements, cr_ops_gather_nd, cr_ops_loss, cr_ops_matrix,
    cr_ops_topk, cr_ops_cumsum, cr_ops_one_hot, cr_ops_spectral,
    cr_ops_select, cr_ops_detection, cr_ops_reverse_sequence, cr_ops_max_unpool,
    cr_ops_grid_sample, cr_ops_quantize,
    cr_ops_qconv, cr_ops_qmatmul,
};

size_t cr_op_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const cr_op *const *op = families[f]; *op; op++) n++;
    return n;
}

const cr_op *cr_op_at(size_t index)
{
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const cr_op *const *op = families[f]; *op; op++)
            if (index-- == 0) return *op;
    return NULL;
}

const cr_op *cr_op_find(const char *domain, const char *op_type, int64_t opset)
{
    const char *dom = (domain && strcmp(domain, "ai.onnx") != 0) ? domain : "";
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const cr_op *const *op = families[f]; *op; op++)
            if (strcmp((*op)->op_type, op_type) == 0 && strcmp((*op)->domain, dom) == 0 &&
                opset >= (*op)->opset_min && opset <= (*op)->opset_max)
                return *op;
    return NULL;
}
