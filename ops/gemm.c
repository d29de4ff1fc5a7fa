/* Gemm and MatMul (ONNX opsets 1-22) on oneDNN inner product and matmul primitives.
 *
 * Gemm computes alpha * A' * B' + beta * C. oneDNN 2.6's matmul applies its output scale after the
 * bias, so alpha and beta are folded into the constant data instead: alpha into a constant B, beta
 * (divided by alpha when B is not constant) into a constant C used as the bias when it is constant
 * along rows. Any other C (varying along rows, where oneDNN 2.6 would use its slow reference
 * matmul, or known only at run time) is added by a plain loop after the primitive. The common
 * case, constant B and a bias per output column, runs as an inner product. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "op_util.h"

typedef struct gemm_state {
    bool empty;             /* no output elements */
    bool no_primitive;      /* K == 0: the product is zero */
    bool weights_const;
    cr_dnnl_prim prim;
    /* C added by a plain loop after the primitive (when not folded into a bias) */
    int post_c_input;       /* input index of C, or -1 */
    float post_beta;
    int64_t m, n;
    int64_t c_stride_m, c_stride_n; /* 0 along broadcast dims */
    size_t out_bytes;
} gemm_state;

/* ---------------------------------------------------------------------------------------------
 * Gemm
 * ------------------------------------------------------------------------------------------- */

typedef struct gemm_params {
    int64_t m, k, n;
    int64_t trans_a, trans_b;
    float alpha, beta;
    const cr_tensor *c;     /* NULL when omitted */
    int64_t c_rows, c_cols; /* C viewed as 2-D: each 1 or the full size */
} gemm_params;

static cnnrun_status *gemm_params_of(const cr_op_ctx *ctx, gemm_params *p)
{
    CR_TRY(cr_op_check_inputs(ctx, ctx->opset >= 11 ? 2 : 3, 3));
    CR_TRY(cr_require_f32(ctx));
    const cr_tensor *a = ctx->in[0], *b = ctx->in[1];
    p->c = ctx->n_in > 2 ? ctx->in[2] : NULL;
    CR_TRY(cr_attr_int(ctx->node, "transA", 0, &p->trans_a));
    CR_TRY(cr_attr_int(ctx->node, "transB", 0, &p->trans_b));
    CR_TRY(cr_attr_float(ctx->node, "alpha", 1.0f, &p->alpha));
    CR_TRY(cr_attr_float(ctx->node, "beta", 1.0f, &p->beta));
    char sa[128], sb[128], sc[128];
    cr_shape_str(a->rank, a->dims, sa, sizeof sa);
    cr_shape_str(b->rank, b->dims, sb, sizeof sb);
    if (a->rank != 2 || b->rank != 2)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "A %s and B %s must both be matrices", sa, sb);
    p->m = p->trans_a ? a->dims[1] : a->dims[0];
    p->k = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0];
    p->n = p->trans_b ? b->dims[0] : b->dims[1];
    if (kb != p->k)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "A %s (transA=%lld) and B %s (transB=%lld) disagree on the inner dimension: %lld vs %lld",
                           sa, (long long)p->trans_a, sb, (long long)p->trans_b, (long long)p->k,
                           (long long)kb);
    p->c_rows = p->c_cols = 1;
    if (p->c) {
        /* unidirectional broadcast of C to [M, N] (also what opsets < 7 allow with broadcast=1) */
        const cr_tensor *c = p->c;
        bool ok = c->rank <= 2;
        if (ok && c->rank >= 1) {
            p->c_cols = c->dims[c->rank - 1];
            ok = p->c_cols == 1 || p->c_cols == p->n;
        }
        if (ok && c->rank == 2) {
            p->c_rows = c->dims[0];
            ok = p->c_rows == 1 || p->c_rows == p->m;
        }
        if (!ok)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                               "C of shape %s cannot be broadcast to the output [%lld, %lld]",
                               cr_shape_str(c->rank, c->dims, sc, sizeof sc), (long long)p->m,
                               (long long)p->n);
    }
    return NULL;
}

static cnnrun_status *gemm_infer(cr_op_ctx *ctx)
{
    gemm_params p;
    CR_TRY(gemm_params_of(ctx, &p));
    int64_t dims[2] = {p.m, p.n};
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, 2, dims);
    return NULL;
}

/* A heap copy of n floats of src times scale (freed by the caller). */
static float *scaled_copy(const float *src, int64_t n, float scale)
{
    if (n < 0 || (uint64_t)n > CR_MAX_TENSOR_BYTES / sizeof(float)) return NULL;
    float *dst = malloc((size_t)(n > 0 ? n : 1) * sizeof *dst);
    if (dst)
        for (int64_t i = 0; i < n; i++) dst[i] = src[i] * scale;
    return dst;
}

/* Adds a constant argument whose values are src * scale, laid out as user_md. */
static cnnrun_status *add_scaled_const(gemm_state *s, const cr_exec_env *env, int arg,
                                       const dnnl_memory_desc_t *user_md, const float *src,
                                       int64_t n, float scale)
{
    if (scale == 1.0f) return cr_dnnl_prim_shared_const_arg(&s->prim, env, arg, user_md, src);
    float *copy = scaled_copy(src, n, scale);
    if (!copy) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate %lld scaled weights", (long long)n);
    cnnrun_status *st = cr_dnnl_prim_const_arg(&s->prim, env, arg, user_md, copy);
    free(copy);
    return st;
}

/* The bias scale * C for a C constant along rows: one value per output column, as a vector [N]
 * (inner product) or a row [1, N] (matmul: the one bias broadcast oneDNN 2.6 runs on an optimised
 * kernel; the others fall back to its reference matmul). */
static cnnrun_status *add_row_bias(gemm_state *s, const cr_exec_env *env, const gemm_params *p,
                                   float scale, int rank)
{
    float *bias = malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof *bias);
    if (!bias) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the bias");
    const float *c = p->c->data;
    for (int64_t j = 0; j < p->n; j++) bias[j] = scale * c[p->c_cols == 1 ? 0 : j];
    int64_t dims[2] = {1, p->n};
    dnnl_memory_desc_t md;
    cnnrun_status *st = cr_dnnl_md_plain(&md, rank, dims + 2 - rank);
    if (!st) st = cr_dnnl_prim_const_arg(&s->prim, env, DNNL_ARG_BIAS, &md, bias);
    free(bias);
    return st;
}

/* Constant B, A not transposed, no C or a constant C per column: alpha*A*B' + bias. */
static cnnrun_status *gemm_build_inner_product(cr_op_ctx *ctx, const gemm_params *p, gemm_state *s)
{
    const cr_tensor *b = ctx->in[1];
    int64_t src_dims[2] = {p->m, p->k}, w_dims[2] = {p->n, p->k}, dst_dims[2] = {p->m, p->n};
    /* B is oi when transposed ([N, K]), else io ([K, N]) */
    int64_t w_strides[2] = {p->trans_b ? p->k : 1, p->trans_b ? 1 : p->n};
    dnnl_memory_desc_t src_md, w_md, w_user_md, b_md, dst_md;
    CR_TRY(cr_dnnl_md_plain(&src_md, 2, src_dims));
    CR_TRY(cr_dnnl_md_any(&w_md, 2, w_dims));
    CR_TRY(cr_dnnl_md_strided(&w_user_md, 2, w_dims, w_strides));
    CR_TRY(cr_dnnl_md_plain(&b_md, 1, &p->n));
    CR_TRY(cr_dnnl_md_plain(&dst_md, 2, dst_dims));
    dnnl_inner_product_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src_md,
                                                              &w_md, p->c ? &b_md : NULL, &dst_md),
                         "inner product descriptor initialisation"));
    dnnl_primitive_attr_t attr;
    CR_TRY(cr_dnnl_attr_with_post_ops(ctx, &attr));
    cnnrun_status *st = cr_dnnl_prim_create(&s->prim, ctx->env, &desc, attr, "inner product");
    dnnl_primitive_attr_destroy(attr);
    CR_TRY(st);
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    CR_TRY(add_scaled_const(s, ctx->env, DNNL_ARG_WEIGHTS, &w_user_md, b->data, p->n * p->k, p->alpha));
    if (p->c) CR_TRY(add_row_bias(s, ctx->env, p, p->beta, 1));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    return NULL;
}

/* Everything else on a matmul primitive; a C constant along rows is the bias, any other C is
 * added after. */
static cnnrun_status *gemm_build_matmul(cr_op_ctx *ctx, const gemm_params *p, gemm_state *s)
{
    const cr_tensor *b = ctx->in[1];
    int64_t a_dims[2] = {p->m, p->k}, w_dims[2] = {p->k, p->n}, dst_dims[2] = {p->m, p->n};
    int64_t a_strides[2] = {p->trans_a ? 1 : p->k, p->trans_a ? p->m : 1};
    int64_t w_strides[2] = {p->trans_b ? 1 : p->n, p->trans_b ? p->k : 1};
    int64_t bias_dims[2] = {1, p->n};
    bool bias = p->c && p->c->data && p->c_rows == 1 && (s->weights_const || p->alpha != 0.0f);
    dnnl_memory_desc_t a_md, w_md, w_user_md, bias_md, dst_md;
    CR_TRY(cr_dnnl_md_strided(&a_md, 2, a_dims, a_strides));
    CR_TRY(cr_dnnl_md_strided(&w_user_md, 2, w_dims, w_strides));
    if (s->weights_const) CR_TRY(cr_dnnl_md_any(&w_md, 2, w_dims));
    else w_md = w_user_md;
    CR_TRY(cr_dnnl_md_plain(&bias_md, 2, bias_dims));
    CR_TRY(cr_dnnl_md_plain(&dst_md, 2, dst_dims));
    dnnl_matmul_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &w_md, bias ? &bias_md : NULL, &dst_md),
                         "matmul descriptor initialisation"));
    dnnl_primitive_attr_t attr;
    CR_TRY(cr_dnnl_attr_with_post_ops(ctx, &attr));
    cnnrun_status *st = NULL;
    if (!s->weights_const && p->alpha != 1.0f)
        st = cr_dnnl_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &p->alpha),
                           "setting the output scale");
    if (!st) st = cr_dnnl_prim_create(&s->prim, ctx->env, &desc, attr, "matmul");
    dnnl_primitive_attr_destroy(attr);
    CR_TRY(st);
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    if (s->weights_const)
        CR_TRY(add_scaled_const(s, ctx->env, DNNL_ARG_WEIGHTS, &w_user_md, b->data, p->k * p->n, p->alpha));
    else
        CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, NULL));
    if (bias) {
        /* the output scale alpha, if any, also multiplies the bias */
        CR_TRY(add_row_bias(s, ctx->env, p, s->weights_const ? p->beta : p->beta / p->alpha, 2));
    } else if (p->c) {
        s->post_c_input = 2;
    }
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    return NULL;
}

static void gemm_destroy(void *state)
{
    gemm_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static cnnrun_status *gemm_prepare(cr_op_ctx *ctx)
{
    gemm_params p;
    CR_TRY(gemm_params_of(ctx, &p));
    gemm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the Gemm state");
    s->post_c_input = -1;
    s->post_beta = p.beta;
    s->m = p.m;
    s->n = p.n;
    s->c_stride_m = p.c_rows == 1 ? 0 : p.c_cols;
    s->c_stride_n = p.c_cols == 1 ? 0 : 1;
    s->weights_const = ctx->in[1]->data != NULL;
    ctx->scratch_bytes = 0;
    int64_t dims[2] = {p.m, p.n};
    cnnrun_status *st = NULL;
    if (!cr_shape_bytes(CNNRUN_FLOAT32, 2, dims, &s->out_bytes))
        st = cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output [%lld, %lld] is too large",
                         (long long)p.m, (long long)p.n);
    else if (p.m == 0 || p.n == 0) s->empty = true;
    else if (p.k == 0) {
        s->no_primitive = true;
        if (p.c) s->post_c_input = 2;
    } else {
        bool per_column_c = !p.c || (p.c->data && p.c_rows == 1);
        if (s->weights_const && !p.trans_a && per_column_c) st = gemm_build_inner_product(ctx, &p, s);
        else st = gemm_build_matmul(ctx, &p, s);
        if (st) st = cr_dnnl_node_error(ctx, st);
        ctx->scratch_bytes = s->prim.scratch_bytes;
    }
    /* A fused activation must follow the whole Gemm, C included: only when C is the bias. */
    if (!st && ctx->n_post > 0 && (s->empty || s->no_primitive || s->post_c_input >= 0))
        st = cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "post-ops need C to be a bias of the primitive");
    if (st) {
        gemm_destroy(s);
        return st;
    }
    ctx->state = s;
    return NULL;
}

static cnnrun_status *gemm_run(cr_op_ctx *ctx)
{
    gemm_state *s = ctx->state;
    if (s->empty) return NULL;
    float *y = ctx->out[0]->data;
    if (s->no_primitive) memset(y, 0, s->out_bytes);
    else {
        cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[0]->data);
        if (!s->weights_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_WEIGHTS, ctx->in[1]->data);
        cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, y);
        cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
        if (st) return cr_dnnl_node_error(ctx, st);
    }
    if (s->post_c_input >= 0) {
        const float *c = ctx->in[s->post_c_input]->data;
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++)
                y[i * s->n + j] += s->post_beta * c[i * s->c_stride_m + j * s->c_stride_n];
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * MatMul: NumPy matmul semantics (batch dims broadcast, 1-D operands promoted then dropped)
 * ------------------------------------------------------------------------------------------- */

typedef struct matmul_shapes {
    int rank;                       /* of the operands as given to oneDNN, >= 2 */
    int64_t a[CR_MAX_RANK], b[CR_MAX_RANK], y[CR_MAX_RANK];
    int out_rank;                   /* of the ONNX output (1-D operands drop their dim) */
    int64_t out[CR_MAX_RANK];
    int64_t k;
} matmul_shapes;

static cnnrun_status *matmul_shapes_of(const cr_op_ctx *ctx, matmul_shapes *sh)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_require_f32(ctx));
    const cr_tensor *a = ctx->in[0], *b = ctx->in[1];
    char sa[128], sb[128];
    cr_shape_str(a->rank, a->dims, sa, sizeof sa);
    cr_shape_str(b->rank, b->dims, sb, sizeof sb);
    if (a->rank < 1 || b->rank < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "A %s and B %s must have rank 1 or more", sa, sb);
    /* 1-D A is a row [1, K]; 1-D B a column [K, 1] */
    int64_t am[CR_MAX_RANK + 1], bm[CR_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    if (ar == 1) {
        am[0] = 1;
        am[1] = a->dims[0];
        ar = 2;
    } else memcpy(am, a->dims, (size_t)ar * sizeof *am);
    if (br == 1) {
        bm[0] = b->dims[0];
        bm[1] = 1;
        br = 2;
    } else memcpy(bm, b->dims, (size_t)br * sizeof *bm);
    int64_t m = am[ar - 2], k = am[ar - 1], kb = bm[br - 2], n = bm[br - 1];
    if (k != kb)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "A %s and B %s disagree on the inner dimension: %lld vs %lld", sa, sb,
                           (long long)k, (long long)kb);
    int batch_rank;
    int64_t batch[CR_MAX_RANK];
    cnnrun_status *st = cr_broadcast_shape(ctx, ar - 2, am, br - 2, bm, &batch_rank, batch);
    if (st) {
        cnnrun_status_free(st);
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                           "the batch dims of A %s and B %s cannot be broadcast together", sa, sb);
    }
    sh->rank = batch_rank + 2;
    sh->k = k;
    for (int i = 0; i < batch_rank; i++) {
        int ia = i - (batch_rank - (ar - 2)), ib = i - (batch_rank - (br - 2));
        sh->a[i] = ia >= 0 ? am[ia] : 1;
        sh->b[i] = ib >= 0 ? bm[ib] : 1;
        sh->y[i] = batch[i];
        sh->out[i] = batch[i];
    }
    sh->a[batch_rank] = m;
    sh->a[batch_rank + 1] = k;
    sh->b[batch_rank] = k;
    sh->b[batch_rank + 1] = n;
    sh->y[batch_rank] = m;
    sh->y[batch_rank + 1] = n;
    sh->out_rank = batch_rank;
    if (a->rank > 1) sh->out[sh->out_rank++] = m;
    if (b->rank > 1) sh->out[sh->out_rank++] = n;
    return NULL;
}

static cnnrun_status *matmul_infer(cr_op_ctx *ctx)
{
    matmul_shapes sh;
    CR_TRY(matmul_shapes_of(ctx, &sh));
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, sh.out_rank, sh.out);
    return NULL;
}

static cnnrun_status *matmul_build(cr_op_ctx *ctx, const matmul_shapes *sh, gemm_state *s)
{
    dnnl_memory_desc_t a_md, w_md, w_user_md, y_md;
    CR_TRY(cr_dnnl_md_plain(&a_md, sh->rank, sh->a));
    CR_TRY(cr_dnnl_md_plain(&w_user_md, sh->rank, sh->b));
    if (s->weights_const) CR_TRY(cr_dnnl_md_any(&w_md, sh->rank, sh->b));
    else w_md = w_user_md;
    CR_TRY(cr_dnnl_md_plain(&y_md, sh->rank, sh->y));
    dnnl_matmul_desc_t desc;
    CR_TRY(cr_dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &w_md, NULL, &y_md),
                         "matmul descriptor initialisation"));
    CR_TRY(cr_dnnl_prim_create(&s->prim, ctx->env, &desc, NULL, "matmul"));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL));
    if (s->weights_const)
        CR_TRY(cr_dnnl_prim_shared_const_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, &w_user_md, ctx->in[1]->data));
    else CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, NULL));
    CR_TRY(cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL));
    return NULL;
}

static cnnrun_status *matmul_prepare(cr_op_ctx *ctx)
{
    matmul_shapes sh;
    CR_TRY(matmul_shapes_of(ctx, &sh));
    gemm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the MatMul state");
    s->post_c_input = -1;
    s->weights_const = ctx->in[1]->data != NULL;
    ctx->scratch_bytes = 0;
    cnnrun_status *st = NULL;
    if (!cr_shape_bytes(CNNRUN_FLOAT32, sh.rank, sh.y, &s->out_bytes))
        st = cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output is too large");
    else if (s->out_bytes == 0) s->empty = true;
    else if (sh.k == 0) s->no_primitive = true;
    else {
        st = matmul_build(ctx, &sh, s);
        if (st) st = cr_dnnl_node_error(ctx, st);
        ctx->scratch_bytes = s->prim.scratch_bytes;
    }
    if (st) {
        gemm_destroy(s);
        return st;
    }
    ctx->state = s;
    return NULL;
}

static cnnrun_status *matmul_run(cr_op_ctx *ctx)
{
    gemm_state *s = ctx->state;
    if (s->empty) return NULL;
    if (s->no_primitive) {
        memset(ctx->out[0]->data, 0, s->out_bytes);
        return NULL;
    }
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[0]->data);
    if (!s->weights_const) cr_dnnl_prim_set(&s->prim, DNNL_ARG_WEIGHTS, ctx->in[1]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, ctx->out[0]->data);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    return st ? cr_dnnl_node_error(ctx, st) : NULL;
}

static const char *gemm_describe(const void *state)
{
    const gemm_state *s = state;
    return s->empty || s->no_primitive ? NULL : cr_dnnl_prim_impl(&s->prim);
}

/* 2 x output elements x the inner dimension */
static double gemm_flops(const cr_op_ctx *ctx)
{
    int64_t trans_a = 0;
    cnnrun_status *st = cr_attr_int(ctx->node, "transA", 0, &trans_a);
    if (st) cnnrun_status_free(st);
    const cr_tensor *a = ctx->in[0];
    return 2.0 * (double)cr_tensor_count(ctx->out[0]) * (double)a->dims[trans_a ? 0 : 1];
}

static double matmul_flops(const cr_op_ctx *ctx)
{
    const cr_tensor *a = ctx->in[0];
    return 2.0 * (double)cr_tensor_count(ctx->out[0]) * (double)a->dims[a->rank - 1];
}

static const cr_op gemm_op = {
    .op_type = "Gemm",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .flags = CR_OP_FUSES_ELTWISE,
    .infer = gemm_infer,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .destroy = gemm_destroy,
    .describe = gemm_describe,
    .flops = gemm_flops,
};

static const cr_op matmul_op = {
    .op_type = "MatMul",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = matmul_infer,
    .prepare = matmul_prepare,
    .run = matmul_run,
    .destroy = gemm_destroy,
    .describe = gemm_describe,
    .flops = matmul_flops,
};

const cr_op *const cr_ops_gemm[] = {&gemm_op, &matmul_op, NULL};
