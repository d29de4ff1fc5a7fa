/* Quantized matrix products with NumPy's matmul broadcasting: MatMulInteger (opset 10 on) and
 * QLinearMatMul (opset 10 on).
 *
 *   MatMulInteger   y[int32] = (A - a_zero_point) @ (B - b_zero_point)
 *                   a_zero_point: scalar or one per row of A ([M]); b_zero_point: scalar or one
 *                   per column of B ([N]).
 *   QLinearMatMul   y = saturate(round(acc * a_scale * b_scale[n] / y_scale) + y_zero_point),
 *                   acc the MatMulInteger product; a's parameters per tensor or per row, b's
 *                   per tensor or per column; y uint8 or int8.
 *
 * When B is a constant matrix ([K, N], the weights of a quantized model, static or dynamic) and
 * A's zero point is one value, the product runs on oneDNN's int8 matmul: A viewed as [rows, K],
 * B shifted by its zero point(s) to int8 once at prepare (exact when the result stays in
 * [-128, 127], as for symmetric int8 weights; otherwise the C kernel runs), A's zero point a
 * run-time zero point read at each run (so DynamicQuantizeLinear's computed zero point works),
 * the requantisation per-column output scales and a destination zero point.
 * Otherwise: exact int32 sums in plain C, parallel over rows, B transposed once per run into a
 * [batch, N, K] int16 scratch copy with its zero point removed, so the inner loop is a
 * contiguous dot product the compiler vectorises. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_util.h"
#include "quant_util.h"

typedef struct qmm_roles {
    int a, b, a_zp, b_zp, a_scale, b_scale, y_scale, y_zp;
} qmm_roles;

static const qmm_roles qlinear_roles = {0, 3, 2, 5, 1, 4, 6, 7};
static const qmm_roles integer_roles = {0, 1, 2, 3, -1, -1, -1, -1};

typedef struct qmm_shape {
    int64_t m, k, n, batch;
    int batch_rank;
    int64_t batch_dims[CR_MAX_RANK];
    int64_t a_batch_stride[CR_MAX_RANK], b_batch_stride[CR_MAX_RANK]; /* 0 where broadcast */
    int out_rank;
    int64_t out_dims[CR_MAX_RANK];
} qmm_shape;

static cnnrun_status *qmm_shape_of(const cr_op_ctx *ctx, const qmm_roles *r, qmm_shape *sh)
{
    const cr_tensor *a = ctx->in[r->a], *b = cr_quant_input(ctx, r->b);
    if (!b) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input B is missing");
    static const cnnrun_dtype q8[] = {CNNRUN_UINT8, CNNRUN_INT8, 0};
    CR_TRY(cr_op_check_dtype(ctx, r->a, q8));
    CR_TRY(cr_op_check_dtype(ctx, r->b, q8));
    CR_TRY(cr_quant_check_zero_point(ctx, r->a_zp, "a_zero_point", r->a));
    CR_TRY(cr_quant_check_zero_point(ctx, r->b_zp, "b_zero_point", r->b));
    if (a->rank < 1 || b->rank < 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "inputs must have rank 1 or more");
    sh->m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    sh->k = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    sh->n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    char sa[128], sb[128];
    if (kb != sh->k)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "A %s and B %s: inner dimensions differ (%lld vs %lld)",
                           cr_shape_str(a->rank, a->dims, sa, sizeof sa), cr_shape_str(b->rank, b->dims, sb, sizeof sb),
                           (long long)sh->k, (long long)kb);
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    CR_TRY(cr_broadcast_shape(ctx, ra, a->dims, rb, b->dims, &sh->batch_rank, sh->batch_dims));
    /* element strides of each operand's batch dims, aligned right, 0 where broadcast */
    int64_t as = sh->m * sh->k, bs = sh->k * sh->n;
    sh->batch = 1;
    for (int d = sh->batch_rank - 1; d >= 0; d--) {
        int da = d - (sh->batch_rank - ra), db = d - (sh->batch_rank - rb);
        bool a_has = da >= 0 && a->dims[da] != 1, b_has = db >= 0 && b->dims[db] != 1;
        sh->a_batch_stride[d] = a_has ? as : 0;
        sh->b_batch_stride[d] = b_has ? bs : 0;
        if (da >= 0) as *= a->dims[da];
        if (db >= 0) bs *= b->dims[db];
        sh->batch *= sh->batch_dims[d];
    }
    sh->out_rank = 0;
    for (int d = 0; d < sh->batch_rank; d++) sh->out_dims[sh->out_rank++] = sh->batch_dims[d];
    if (a->rank > 1) sh->out_dims[sh->out_rank++] = sh->m;
    if (b->rank > 1) sh->out_dims[sh->out_rank++] = sh->n;
    int64_t cnt;
    if (r->a_zp >= 0 && cr_quant_input(ctx, r->a_zp)) CR_TRY(cr_quant_param_count(ctx, r->a_zp, "a_zero_point", sh->m, &cnt));
    if (r->b_zp >= 0 && cr_quant_input(ctx, r->b_zp)) CR_TRY(cr_quant_param_count(ctx, r->b_zp, "b_zero_point", sh->n, &cnt));
    if (r->y_scale >= 0) {
        static const cnnrun_dtype f32[] = {CNNRUN_FLOAT32, 0};
        CR_TRY(cr_op_check_dtype(ctx, r->a_scale, f32));
        CR_TRY(cr_op_check_dtype(ctx, r->b_scale, f32));
        CR_TRY(cr_op_check_dtype(ctx, r->y_scale, f32));
        CR_TRY(cr_quant_param_count(ctx, r->a_scale, "a_scale", sh->m, &cnt));
        CR_TRY(cr_quant_param_count(ctx, r->b_scale, "b_scale", sh->n, &cnt));
        CR_TRY(cr_quant_param_count(ctx, r->y_scale, "y_scale", 1, &cnt));
        if (cr_quant_input(ctx, r->y_zp)) {
            static const cnnrun_dtype q8o[] = {CNNRUN_UINT8, CNNRUN_INT8, 0};
            CR_TRY(cr_op_check_dtype(ctx, r->y_zp, q8o));
            CR_TRY(cr_quant_param_count(ctx, r->y_zp, "y_zero_point", 1, &cnt));
        }
    }
    return NULL;
}

static cnnrun_dtype qmm_out_type(const cr_op_ctx *ctx, const qmm_roles *r)
{
    if (r->y_scale < 0) return CNNRUN_INT32;
    const cr_tensor *zp = cr_quant_input(ctx, r->y_zp);
    return zp ? zp->dtype : CNNRUN_UINT8;
}

static cnnrun_status *qmm_infer(cr_op_ctx *ctx, const qmm_roles *r)
{
    qmm_shape sh;
    CR_TRY(qmm_shape_of(ctx, r, &sh));
    cr_set_output(ctx, 0, qmm_out_type(ctx, r), sh.out_rank, sh.out_dims);
    return NULL;
}

static cnnrun_status *qlinear_matmul_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 8, 8));
    return qmm_infer(ctx, &qlinear_roles);
}

static cnnrun_status *matmul_integer_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 4));
    return qmm_infer(ctx, &integer_roles);
}

typedef struct qmm_state {
    qmm_roles roles;
    bool use_dnnl;
    cr_dnnl_prim prim;
    int32_t zp_src, zp_dst; /* the memory of oneDNN's run-time zero points */
    bool has_zp_src;
} qmm_state;

static void qmm_destroy(void *state)
{
    qmm_state *s = state;
    if (!s) return;
    cr_dnnl_prim_destroy(&s->prim);
    free(s);
}

static bool const_or_absent(const cr_tensor *t)
{
    return !t || t->data;
}

/* The oneDNN int8 matmul for a constant 2-D B; false (nothing made) when it does not apply. */
static bool qmm_build_dnnl(cr_op_ctx *ctx, qmm_state *s, const qmm_shape *sh)
{
    const qmm_roles *r = &s->roles;
    const cr_tensor *a = ctx->in[r->a], *b = ctx->in[r->b];
    const cr_tensor *azp = cr_quant_input(ctx, r->a_zp), *bzp = cr_quant_input(ctx, r->b_zp);
    bool requant = r->y_scale >= 0;
    if (!b->data || b->rank != 2 || a->rank < 2 || (azp && cr_tensor_count(azp) != 1) || !const_or_absent(bzp))
        return false;
    if (requant && !(ctx->in[r->a_scale]->data && ctx->in[r->b_scale]->data && ctx->in[r->y_scale]->data &&
                     cr_tensor_count(ctx->in[r->a_scale]) == 1 && const_or_absent(cr_quant_input(ctx, r->y_zp))))
        return false;
    int64_t rows = sh->batch * sh->m, k = sh->k, n = sh->n;
    if (rows == 0 || k == 0 || n == 0) return false;
    int8_t *shifted = malloc((size_t)(k * n));
    float *mult = requant ? malloc((size_t)n * sizeof *mult) : NULL;
    bool ok = shifted && (!requant || mult);
    bool bzp_col = bzp && cr_tensor_count(bzp) > 1;
    for (int64_t i = 0; ok && i < k * n; i++) {
        int32_t v = cr_quant_zp(b, i) - cr_quant_zp(bzp, bzp_col ? i % n : 0);
        ok = v >= -128 && v <= 127;
        if (ok) shifted[i] = (int8_t)v;
    }
    cnnrun_status *st = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int64_t a_dims[2] = {rows, k}, b_dims[2] = {k, n}, y_dims[2] = {rows, n};
    dnnl_memory_desc_t a_md, b_md, b_user_md, y_md, zp_md;
    if (ok) {
        const cr_tensor *bs = requant ? ctx->in[r->b_scale] : NULL;
        if (requant) {
            float as = *(const float *)ctx->in[r->a_scale]->data, ys = *(const float *)ctx->in[r->y_scale]->data;
            for (int64_t c = 0; c < n; c++)
                mult[c] = as * ((const float *)bs->data)[cr_tensor_count(bs) > 1 ? c : 0] / ys;
        }
        s->has_zp_src = azp != NULL;
        s->zp_dst = requant ? cr_quant_zp(cr_quant_input(ctx, r->y_zp), 0) : 0;
        static const int32_t runtime_zp = DNNL_RUNTIME_S32_VAL;
        int64_t one = 1;
        st = cr_dnnl_md_plain_typed(&a_md, 2, a_dims, cr_quant_dnnl_type(a->dtype));
        if (!st) st = cr_dnnl_md_any_typed(&b_md, 2, b_dims, dnnl_s8);
        if (!st) st = cr_dnnl_md_plain_typed(&b_user_md, 2, b_dims, dnnl_s8);
        if (!st) st = cr_dnnl_md_plain_typed(&y_md, 2, y_dims, cr_quant_dnnl_type(ctx->out[0]->dtype));
        if (!st) st = cr_dnnl_md_plain_typed(&zp_md, 1, &one, dnnl_s32);
        if (!st) st = cr_dnnl_attr_create(&attr);
        if (!st && s->has_zp_src)
            st = cr_dnnl_check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &runtime_zp),
                               "source zero point");
        if (!st && requant)
            st = cr_dnnl_check(dnnl_primitive_attr_set_output_scales(attr, cr_tensor_count(bs) > 1 ? n : 1,
                                                                     cr_tensor_count(bs) > 1 ? 1 << 1 : 0, mult),
                               "output scales");
        if (!st && s->zp_dst != 0)
            st = cr_dnnl_check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &runtime_zp),
                               "destination zero point");
        dnnl_matmul_desc_t desc;
        if (!st) st = cr_dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &y_md), "int8 matmul descriptor");
        if (!st) st = cr_dnnl_prim_create(&s->prim, ctx->env, &desc, attr, "int8 matmul");
        if (!st) st = cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_SRC, NULL);
        if (!st) st = cr_dnnl_prim_const_arg(&s->prim, ctx->env, DNNL_ARG_WEIGHTS, &b_user_md, shifted);
        if (!st) st = cr_dnnl_prim_arg(&s->prim, ctx->env, DNNL_ARG_DST, NULL);
        if (!st && s->has_zp_src)
            st = cr_dnnl_prim_arg_md(&s->prim, ctx->env, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, &zp_md, &s->zp_src);
        if (!st && s->zp_dst != 0)
            st = cr_dnnl_prim_arg_md(&s->prim, ctx->env, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, &zp_md, &s->zp_dst);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    free(shifted);
    free(mult);
    if (!ok || st) { /* a combination oneDNN has no kernel for: the C kernel computes it */
        cnnrun_status_free(st);
        cr_dnnl_prim_destroy(&s->prim);
        return false;
    }
    ctx->scratch_bytes = s->prim.scratch_bytes;
    return true;
}

/* Scratch of the C kernel: B's batches transposed to [N, K] int16 with the zero point removed. */
static cnnrun_status *qmm_prepare(cr_op_ctx *ctx, const qmm_roles *r)
{
    qmm_shape sh;
    CR_TRY(qmm_shape_of(ctx, r, &sh));
    qmm_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the matmul state");
    s->roles = *r;
    ctx->state = s;
    if (qmm_build_dnnl(ctx, s, &sh)) {
        s->use_dnnl = true;
        return NULL;
    }
    size_t b_count = (size_t)cr_tensor_count(ctx->in[r->b]);
    if (b_count > CR_MAX_TENSOR_BYTES / 2)
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "B is too large to transpose");
    ctx->scratch_bytes = b_count * sizeof(int16_t);
    return NULL;
}

static cnnrun_status *qlinear_matmul_prepare(cr_op_ctx *ctx)
{
    return qmm_prepare(ctx, &qlinear_roles);
}

static cnnrun_status *matmul_integer_prepare(cr_op_ctx *ctx)
{
    return qmm_prepare(ctx, &integer_roles);
}

static cnnrun_status *qmm_run_dnnl(cr_op_ctx *ctx, qmm_state *s)
{
    if (s->has_zp_src) s->zp_src = cr_quant_zp(ctx->in[s->roles.a_zp], 0);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_SRC, ctx->in[s->roles.a]->data);
    cr_dnnl_prim_set(&s->prim, DNNL_ARG_DST, ctx->out[0]->data);
    cnnrun_status *st = cr_dnnl_prim_execute(&s->prim, ctx->env, ctx->scratch);
    return st ? cr_dnnl_node_error(ctx, st) : NULL;
}

static cnnrun_status *qmm_run(cr_op_ctx *ctx, const qmm_roles *r)
{
    qmm_state *s = ctx->state;
    if (s && s->use_dnnl) return qmm_run_dnnl(ctx, s);
    qmm_shape sh;
    CR_TRY(qmm_shape_of(ctx, r, &sh));
    const cr_tensor *a = ctx->in[r->a], *b = ctx->in[r->b];
    const cr_tensor *azp = cr_quant_input(ctx, r->a_zp), *bzp = cr_quant_input(ctx, r->b_zp);
    bool azp_row = azp && cr_tensor_count(azp) > 1, bzp_col = bzp && cr_tensor_count(bzp) > 1;
    int16_t *bt = ctx->scratch;
    int64_t b_mats = cr_tensor_count(b) / (sh.k * sh.n > 0 ? sh.k * sh.n : 1);
    for (int64_t bm = 0; bm < b_mats && sh.k * sh.n > 0; bm++)
        for (int64_t kk = 0; kk < sh.k; kk++)
            for (int64_t nn = 0; nn < sh.n; nn++)
                bt[(bm * sh.n + nn) * sh.k + kk] =
                    (int16_t)(cr_quant_zp(b, (bm * sh.k + kk) * sh.n + nn) - cr_quant_zp(bzp, bzp_col ? nn : 0));
    bool requant = r->y_scale >= 0;
    const float *as = NULL, *bs = NULL;
    float ys = 1.0f;
    int32_t zy = 0, lo = 0, hi = 0;
    bool as_row = false, bs_col = false;
    cnnrun_dtype out_type = ctx->out[0]->dtype;
    if (requant) {
        as = ctx->in[r->a_scale]->data;
        bs = ctx->in[r->b_scale]->data;
        as_row = cr_tensor_count(ctx->in[r->a_scale]) > 1;
        bs_col = cr_tensor_count(ctx->in[r->b_scale]) > 1;
        ys = *(const float *)ctx->in[r->y_scale]->data;
        zy = cr_quant_zp(cr_quant_input(ctx, r->y_zp), 0);
        cr_quant_range(out_type, &lo, &hi);
    }
    int64_t rows = sh.batch * sh.m;
    #pragma omp parallel for num_threads(cr_quant_threads(ctx)) if (rows * sh.n * sh.k > 65536)
    for (int64_t row = 0; row < rows; row++) {
        int64_t bi = row / sh.m, mm = row % sh.m;
        /* batch offsets of A and B for output batch bi */
        int64_t aoff = 0, boff = 0, rem = bi;
        for (int d = sh.batch_rank - 1; d >= 0; d--) {
            int64_t idx = rem % sh.batch_dims[d];
            rem /= sh.batch_dims[d];
            aoff += idx * sh.a_batch_stride[d];
            boff += idx * sh.b_batch_stride[d];
        }
        int32_t za = cr_quant_zp(azp, azp_row ? mm : 0);
        int16_t arow[4096];
        const int16_t *bmat = bt + boff; /* [N, K] at the same element offset as B's [K, N] */
        for (int64_t nn = 0; nn < sh.n; nn++) {
            int64_t acc = 0;
            for (int64_t k0 = 0; k0 < sh.k; k0 += 4096) {
                int64_t kn = sh.k - k0 < 4096 ? sh.k - k0 : 4096;
                for (int64_t kk = 0; kk < kn; kk++)
                    arow[kk] = (int16_t)(cr_quant_zp(a, aoff + mm * sh.k + k0 + kk) - za);
                int32_t part = 0;
                const int16_t *bk = bmat + nn * sh.k + k0;
                for (int64_t kk = 0; kk < kn; kk++) part += (int32_t)arow[kk] * bk[kk];
                acc += part;
            }
            int64_t yi = row * sh.n + nn;
            if (!requant) {
                ((int32_t *)ctx->out[0]->data)[yi] = (int32_t)acc;
                continue;
            }
            float mult = as[as_row ? mm : 0] * bs[bs_col ? nn : 0] / ys;
            int32_t q = cr_quantize_value((float)acc * mult, zy, lo, hi);
            if (out_type == CNNRUN_INT8) ((int8_t *)ctx->out[0]->data)[yi] = (int8_t)q;
            else ((uint8_t *)ctx->out[0]->data)[yi] = (uint8_t)q;
        }
    }
    return NULL;
}

static cnnrun_status *qlinear_matmul_run(cr_op_ctx *ctx)
{
    return qmm_run(ctx, &qlinear_roles);
}

static cnnrun_status *matmul_integer_run(cr_op_ctx *ctx)
{
    return qmm_run(ctx, &integer_roles);
}

static const char *qmm_describe(const void *state)
{
    const qmm_state *s = state;
    return s->use_dnnl ? cr_dnnl_prim_impl(&s->prim) : "int8 reference (plain C)";
}

static double qmm_flops(const cr_op_ctx *ctx)
{
    const cr_tensor *a = ctx->in[0];
    return 2.0 * (double)cr_tensor_count(ctx->out[0]) * (double)a->dims[a->rank - 1];
}

static const cr_op qlinear_matmul_op = {
    .op_type = "QLinearMatMul", .domain = "", .opset_min = 10, .opset_max = CR_OPSET_MAX,
    .infer = qlinear_matmul_infer, .prepare = qlinear_matmul_prepare, .run = qlinear_matmul_run,
    .destroy = qmm_destroy, .describe = qmm_describe, .flops = qmm_flops,
};
static const cr_op matmul_integer_op = {
    .op_type = "MatMulInteger", .domain = "", .opset_min = 10, .opset_max = CR_OPSET_MAX,
    .infer = matmul_integer_infer, .prepare = matmul_integer_prepare, .run = matmul_integer_run,
    .destroy = qmm_destroy, .describe = qmm_describe, .flops = qmm_flops,
};

const cr_op *const cr_ops_qmatmul[] = {&qlinear_matmul_op, &matmul_integer_op, NULL};
