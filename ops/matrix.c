/* Operators on the last two axes as matrices: Trilu (the triangle at or above/below diagonal k,
 * the causal masks of transformers), EyeLike (ones on diagonal k) and Det (the determinant). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

/* ---- Trilu ----------------------------------------------------------------------------------- */

static cnnrun_status *trilu_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype k_types[] = {CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, k_types));
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 2)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 2; it has rank %d", x->rank);
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    if (ctx->n_in > 1 && ctx->in[1] && cr_tensor_count(ctx->in[1]) != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "k must be a scalar; it has %lld elements",
                           (long long)cr_tensor_count(ctx->in[1]));
    int64_t upper;
    CR_TRY(cr_attr_int(ctx->node, "upper", 1, &upper));
    cr_set_output(ctx, 0, x->dtype, x->rank, x->dims);
    return NULL;
}

/* Row i keeps columns j with j - i >= k (upper) or j - i <= k (lower); the rest become zero,
 * whose bits are all zero in every dtype. */
static cnnrun_status *trilu_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int64_t upper, k = 0;
    CR_TRY(cr_attr_int(ctx->node, "upper", 1, &upper));
    if (ctx->n_in > 1 && ctx->in[1]) k = *(const int64_t *)ctx->in[1]->data;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t count = cr_tensor_count(x), mats = (rows > 0 && cols > 0) ? count / (rows * cols) : 0;
    size_t elem = cnnrun_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    /* Clamp k so that i + k cannot overflow; beyond the matrix it changes nothing. */
    if (k > cols) k = cols;
    if (k < -rows) k = -rows;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++) {
            size_t row = (size_t)((m * rows + i) * cols) * elem;
            /* Kept columns: [max(0, i + k), cols) for upper, [0, min(cols, i + k + 1)) for lower. */
            int64_t lo = upper ? i + k : 0, hi = upper ? cols : i + k + 1;
            lo = lo < 0 ? 0 : (lo > cols ? cols : lo);
            hi = hi < 0 ? 0 : (hi > cols ? cols : hi);
            if (hi < lo) hi = lo;
            memset(dst + row, 0, (size_t)lo * elem);
            if (dst != src) memcpy(dst + row + (size_t)lo * elem, src + row + (size_t)lo * elem, (size_t)(hi - lo) * elem);
            memset(dst + row + (size_t)hi * elem, 0, (size_t)(cols - hi) * elem);
        }
    return NULL;
}

/* ---- EyeLike --------------------------------------------------------------------------------- */

static cnnrun_status *eye_like_dtype(const cr_op_ctx *ctx, cnnrun_dtype *dt)
{
    int64_t code;
    CR_TRY(cr_attr_int(ctx->node, "dtype", (int64_t)ctx->in[0]->dtype, &code));
    switch (code) {
    case CNNRUN_FLOAT32: case CNNRUN_FLOAT64: case CNNRUN_INT8: case CNNRUN_INT16: case CNNRUN_INT32:
    case CNNRUN_INT64: case CNNRUN_UINT8: case CNNRUN_UINT16: case CNNRUN_UINT32: case CNNRUN_UINT64:
    case CNNRUN_BOOL:
        *dt = (cnnrun_dtype)code;
        return NULL;
    default: return cr_op_unsupported_attr(ctx, "dtype", "EyeLike makes float32/64, integer or bool tensors");
    }
}

static cnnrun_status *eye_like_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    const cr_tensor *x = ctx->in[0];
    if (x->rank != 2)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank 2; it has rank %d", x->rank);
    cnnrun_dtype dt = CNNRUN_FLOAT32;
    CR_TRY(eye_like_dtype(ctx, &dt));
    int64_t k;
    CR_TRY(cr_attr_int(ctx->node, "k", 0, &k));
    cr_set_output(ctx, 0, dt, 2, x->dims);
    return NULL;
}

static void store_one(void *p, cnnrun_dtype dt)
{
    switch (dt) {
    case CNNRUN_FLOAT32: *(float *)p = 1.0f; break;
    case CNNRUN_FLOAT64: *(double *)p = 1.0; break;
    case CNNRUN_INT16: case CNNRUN_UINT16: *(uint16_t *)p = 1; break;
    case CNNRUN_INT32: case CNNRUN_UINT32: *(uint32_t *)p = 1; break;
    case CNNRUN_INT64: case CNNRUN_UINT64: *(uint64_t *)p = 1; break;
    default: *(uint8_t *)p = 1; break; /* int8, uint8, bool */
    }
}

static cnnrun_status *eye_like_run(cr_op_ctx *ctx)
{
    cr_tensor *y = ctx->out[0];
    int64_t k;
    CR_TRY(cr_attr_int(ctx->node, "k", 0, &k));
    int64_t rows = y->dims[0], cols = y->dims[1];
    size_t elem = cnnrun_dtype_size(y->dtype);
    memset(y->data, 0, cr_tensor_bytes(y));
    for (int64_t i = 0; i < rows; i++) {
        if (k >= cols - i || k < -i) continue; /* column i + k outside [0, cols) */
        store_one((char *)y->data + (size_t)(i * cols + i + k) * elem, y->dtype);
    }
    return NULL;
}

/* ---- Det ------------------------------------------------------------------------------------- */

static cnnrun_status *det_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
        char sx[128];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected [*, M, M] square matrices; found shape %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    cr_set_output(ctx, 0, x->dtype, x->rank - 2, x->dims);
    return NULL;
}

static cnnrun_status *det_prepare(cr_op_ctx *ctx)
{
    int64_t m = ctx->in[0]->dims[ctx->in[0]->rank - 1];
    ctx->scratch_bytes = (size_t)(m * m) * sizeof(double);
    return NULL;
}

/* LU decomposition with partial pivoting in double: the product of the pivots, negated per row
 * swap. */
static double det_lu(double *a, int64_t m)
{
    double det = 1.0;
    for (int64_t c = 0; c < m; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
        if (a[p * m + c] == 0.0) return 0.0;
        if (p != c) {
            for (int64_t j = 0; j < m; j++) {
                double t = a[c * m + j];
                a[c * m + j] = a[p * m + j];
                a[p * m + j] = t;
            }
            det = -det;
        }
        double piv = a[c * m + c];
        det *= piv;
        for (int64_t r = c + 1; r < m; r++) {
            double f = a[r * m + c] / piv;
            for (int64_t j = c + 1; j < m; j++) a[r * m + j] -= f * a[c * m + j];
        }
    }
    return det;
}

static cnnrun_status *det_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int64_t m = x->dims[x->rank - 1], count = cr_tensor_count(x), mats = m ? count / (m * m) : cr_tensor_count(ctx->out[0]);
    double *a = ctx->scratch;
    bool f32 = x->dtype == CNNRUN_FLOAT32;
    for (int64_t b = 0; b < mats; b++) {
        for (int64_t i = 0; i < m * m; i++)
            a[i] = f32 ? ((const float *)x->data)[b * m * m + i] : ((const double *)x->data)[b * m * m + i];
        double d = det_lu(a, m); /* the empty matrix's determinant is 1 */
        if (f32) ((float *)ctx->out[0]->data)[b] = (float)d;
        else ((double *)ctx->out[0]->data)[b] = d;
    }
    return NULL;
}

/* Trilu: opset 14. EyeLike: 9 (22 adds dtypes). Det: 11. None has changed since. EyeLike depends on
 * the input's shape only, so it is computed at plan time. */
static const cr_op op_trilu = {.op_type = "Trilu", .domain = "", .opset_min = 14, .opset_max = 22,
                               .infer = trilu_infer, .run = trilu_run};
static const cr_op op_eye_like = {.op_type = "EyeLike", .domain = "", .opset_min = 9, .opset_max = 22,
                                  .flags = CR_OP_SHAPE_ONLY, .infer = eye_like_infer, .run = eye_like_run};
static const cr_op op_det = {.op_type = "Det", .domain = "", .opset_min = 11, .opset_max = 22,
                             .infer = det_infer, .prepare = det_prepare, .run = det_run};

const cr_op *const cr_ops_matrix[] = {&op_trilu, &op_eye_like, &op_det, NULL};
