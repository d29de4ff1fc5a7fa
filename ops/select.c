/* Operators whose output shape depends on the input's values: NonZero, Compress and Unique.
 *
 * cnnrun plans shapes before running, so these need their data inputs known at plan time: a
 * constant, a value computed from constants or shapes, or a small graph input (the session then
 * plans per input value, see missing_values in op.h). The planner then computes them while
 * planning. Data that is only known while running is refused with a message that says so. */
#include <stdlib.h>
#include <string.h>

#include "float16.h"
#include "op_util.h"

/* The values of input i, or an error that records the need (the planner may plan again with
 * the values of a graph input). */
static cnnrun_status *need_values(const cr_op_ctx *ctx, int i, const char *role)
{
    if (ctx->in[i]->data) return NULL;
    cr_note_missing_value(ctx, i);
    return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                       "the %s sets the output shape, so it must be known when the graph is planned (a constant, "
                       "computed from constants or shapes, or a small graph input); here it is computed while running",
                       role);
}

static bool is_nonzero(const cr_tensor *t, int64_t i)
{
    size_t elem = cnnrun_dtype_size(t->dtype);
    const char *p = (const char *)t->data + (size_t)i * elem;
    switch (t->dtype) {
    case CNNRUN_FLOAT32: return *(const float *)p != 0.0f;   /* -0 is zero, NaN is not */
    case CNNRUN_FLOAT64: return *(const double *)p != 0.0;
    case CNNRUN_FLOAT16: case CNNRUN_BFLOAT16: return (*(const uint16_t *)p & 0x7fffu) != 0;
    default:
        for (size_t b = 0; b < elem; b++)
            if (p[b]) return true;
        return false;
    }
}

/* ---- NonZero: [rank, count] int64 coordinates of the non-zero elements, in row-major order. -- */

static cnnrun_status *nonzero_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    const cr_tensor *x = ctx->in[0];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    CR_TRY(need_values(ctx, 0, "input"));
    int64_t n = cr_tensor_count(x), nnz = 0;
    for (int64_t i = 0; i < n; i++) nnz += is_nonzero(x, i);
    int64_t dims[2] = {x->rank, nnz};
    cr_set_output(ctx, 0, CNNRUN_INT64, 2, dims);
    return NULL;
}

static cnnrun_status *nonzero_run(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int64_t n = cr_tensor_count(x), nnz = ctx->out[0]->dims[1], k = 0;
    int64_t *y = ctx->out[0]->data;
    for (int64_t i = 0; i < n && k < nnz; i++) {
        if (!is_nonzero(x, i)) continue;
        for (int64_t rem = i, d = x->rank - 1; d >= 0; d--) {
            y[d * nnz + k] = rem % x->dims[d];
            rem /= x->dims[d];
        }
        k++;
    }
    return NULL;
}

/* The slices an optional `axis` attribute names: [outer, n, inner] around it, or, without the
 * attribute, the flattened input's n elements (axis -1). */
typedef struct axis_view {
    int axis;
    int64_t outer, n, inner;
} axis_view;

static cnnrun_status *optional_axis_view(const cr_op_ctx *ctx, axis_view *v)
{
    const cr_tensor *x = ctx->in[0];
    v->axis = -1;
    v->outer = v->inner = 1;
    v->n = cr_tensor_count(x);
    if (!cr_node_attr(ctx->node, "axis")) return NULL;
    int64_t a;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &a));
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, x->rank, &v->axis));
    for (int d = 0; d < v->axis; d++) v->outer *= x->dims[d];
    for (int d = v->axis + 1; d < x->rank; d++) v->inner *= x->dims[d];
    v->n = x->dims[v->axis];
    return NULL;
}

/* ---- Compress: the slices along axis (of the flattened input without axis) where condition is
 * true; a condition shorter than the axis leaves the rest out. ------------------------------- */

typedef struct compress_view {
    axis_view a;
    int64_t kept;
} compress_view;

static cnnrun_status *compress_view_of(const cr_op_ctx *ctx, compress_view *v)
{
    static const cnnrun_dtype bools[] = {CNNRUN_BOOL, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 1, bools));
    const cr_tensor *x = ctx->in[0], *c = ctx->in[1];
    if (cnnrun_dtype_size(x->dtype) == 0)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    if (c->rank != 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "condition must be 1-D; it has rank %d", c->rank);
    CR_TRY(optional_axis_view(ctx, &v->a));
    if (c->dims[0] > v->a.n)
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "condition has %lld entries for %lld slices",
                           (long long)c->dims[0], (long long)v->a.n);
    CR_TRY(need_values(ctx, 1, "condition"));
    v->kept = 0;
    for (int64_t j = 0; j < c->dims[0]; j++) v->kept += ((const uint8_t *)c->data)[j] != 0;
    return NULL;
}

static cnnrun_status *compress_infer(cr_op_ctx *ctx)
{
    compress_view v;
    CR_TRY(compress_view_of(ctx, &v));
    const cr_tensor *x = ctx->in[0];
    if (v.a.axis < 0) {
        cr_set_output(ctx, 0, x->dtype, 1, &v.kept);
    } else {
        int64_t dims[CR_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[v.a.axis] = v.kept;
        cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    }
    return NULL;
}

static cnnrun_status *compress_run(cr_op_ctx *ctx)
{
    compress_view v;
    CR_TRY(compress_view_of(ctx, &v));
    const cr_tensor *x = ctx->in[0], *c = ctx->in[1];
    size_t block = (size_t)v.a.inner * cnnrun_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    const uint8_t *cond = c->data;
    for (int64_t o = 0; o < v.a.outer; o++)
        for (int64_t j = 0; j < c->dims[0]; j++)
            if (cond[j]) {
                memcpy(dst, src + ((size_t)o * (size_t)v.a.n + (size_t)j) * block, block);
                dst += block;
            }
    return NULL;
}

/* ---- Unique ------------------------------------------------------------------------------------
 * Slices along axis (elements of the flattened input without axis) are compared element by
 * element. sorted=1 orders the unique slices ascending (lexicographically), sorted=0 keeps the
 * order of first occurrence. Outputs: the unique slices, the index of each one's first
 * occurrence, each input slice's position among them, and their counts. */

typedef struct unique_view {
    int axis;
    int64_t outer, n, inner;
    bool sorted;
} unique_view;

static int compare_values(const cr_tensor *x, int64_t a, int64_t b)
{
    switch (x->dtype) {
#define CMP(T) { T va = ((const T *)x->data)[a], vb = ((const T *)x->data)[b]; return va < vb ? -1 : (va > vb ? 1 : 0); }
    case CNNRUN_FLOAT32: CMP(float)
    case CNNRUN_FLOAT64: CMP(double)
    case CNNRUN_INT8: CMP(int8_t)
    case CNNRUN_INT16: CMP(int16_t)
    case CNNRUN_INT32: CMP(int32_t)
    case CNNRUN_INT64: CMP(int64_t)
    case CNNRUN_UINT8: case CNNRUN_BOOL: CMP(uint8_t)
    case CNNRUN_UINT16: CMP(uint16_t)
    case CNNRUN_UINT32: CMP(uint32_t)
    case CNNRUN_UINT64: CMP(uint64_t)
#undef CMP
    default: return 0;
    }
}

/* Slice j against slice k: -1, 0 or 1. */
static int compare_slices(const cr_tensor *x, const unique_view *v, int64_t j, int64_t k)
{
    for (int64_t o = 0; o < v->outer; o++)
        for (int64_t i = 0; i < v->inner; i++) {
            int c = compare_values(x, (o * v->n + j) * v->inner + i, (o * v->n + k) * v->inner + i);
            if (c) return c;
        }
    return 0;
}

static cnnrun_status *unique_view_of(const cr_op_ctx *ctx, unique_view *v)
{
    static const cnnrun_dtype types[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT8,   CNNRUN_INT16, CNNRUN_INT32,
                                         CNNRUN_INT64,   CNNRUN_UINT8,   CNNRUN_UINT16, CNNRUN_UINT32, CNNRUN_UINT64,
                                         CNNRUN_BOOL,    0};
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    CR_TRY(cr_op_check_dtype(ctx, 0, types));
    int64_t s;
    CR_TRY(cr_attr_int(ctx->node, "sorted", 1, &s));
    v->sorted = s != 0;
    axis_view a;
    CR_TRY(optional_axis_view(ctx, &a));
    v->axis = a.axis;
    v->outer = a.outer;
    v->n = a.n;
    v->inner = a.inner;
    return need_values(ctx, 0, "input");
}

/* Stable merge sort of order[0..n) by slice value (tmp: n entries). Equal slices keep index order,
 * so the first of each run is the first occurrence. */
static void sort_slices(const cr_tensor *x, const unique_view *v, int64_t *order, int64_t *tmp, int64_t n)
{
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) tmp[o++] = compare_slices(x, v, order[b], order[a]) < 0 ? order[b++] : order[a++];
            while (a < mid) tmp[o++] = order[a++];
            while (b < hi) tmp[o++] = order[b++];
        }
        memcpy(order, tmp, (size_t)n * sizeof *order);
    }
}

/* Fills first[u] (first occurrence of unique slice u, in output order), inverse[j] and count[u];
 * returns the number of unique slices. work: 2n entries. */
static int64_t unique_compute(const cr_tensor *x, const unique_view *v, int64_t *first, int64_t *inverse,
                              int64_t *count, int64_t *work)
{
    int64_t n = v->n, *order = work, *tmp = work + n, u = 0;
    for (int64_t j = 0; j < n; j++) order[j] = j;
    sort_slices(x, v, order, tmp, n);
    /* Runs of equal slices: the first element of each run is its first occurrence. */
    for (int64_t r = 0; r < n; r++) {
        if (r == 0 || compare_slices(x, v, order[r - 1], order[r]) != 0) first[u++] = order[r];
        tmp[order[r]] = u - 1; /* sorted rank of each slice's unique value */
    }
    if (!v->sorted) {
        /* Renumber by first occurrence: sort the unique values' first indices. */
        int64_t *pos = order; /* reuse: pos[sorted rank] = output position */
        int64_t *by_first = count; /* temporary, overwritten below */
        for (int64_t i = 0; i < u; i++) by_first[i] = i;
        for (int64_t i = 1; i < u; i++) /* insertion sort of ranks by first index */
            for (int64_t k = i; k > 0 && first[by_first[k - 1]] > first[by_first[k]]; k--) {
                int64_t t = by_first[k]; by_first[k] = by_first[k - 1]; by_first[k - 1] = t;
            }
        for (int64_t i = 0; i < u; i++) pos[by_first[i]] = i;
        int64_t *first_sorted = inverse; /* inverse is rewritten below */
        for (int64_t i = 0; i < u; i++) first_sorted[i] = first[i];
        for (int64_t i = 0; i < u; i++) first[pos[i]] = first_sorted[i];
        for (int64_t j = 0; j < n; j++) tmp[j] = pos[tmp[j]];
    }
    for (int64_t i = 0; i < u; i++) count[i] = 0;
    for (int64_t j = 0; j < n; j++) {
        inverse[j] = tmp[j];
        count[tmp[j]]++;
    }
    return u;
}

static cnnrun_status *unique_prepare(cr_op_ctx *ctx)
{
    unique_view v;
    CR_TRY(unique_view_of(ctx, &v));
    ctx->scratch_bytes = (size_t)(5 * v.n + 1) * sizeof(int64_t);
    return NULL;
}

static cnnrun_status *unique_infer(cr_op_ctx *ctx)
{
    unique_view v;
    CR_TRY(unique_view_of(ctx, &v));
    const cr_tensor *x = ctx->in[0];
    int64_t *work = malloc((size_t)(5 * v.n + 1) * sizeof *work); /* plan time only */
    if (!work) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for %lld slices", (long long)v.n);
    int64_t u = unique_compute(x, &v, work, work + v.n, work + 2 * v.n, work + 3 * v.n);
    free(work);
    if (v.axis < 0) {
        cr_set_output(ctx, 0, x->dtype, 1, &u);
    } else {
        int64_t dims[CR_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[v.axis] = u;
        cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    }
    cr_set_output(ctx, 1, CNNRUN_INT64, 1, &u);
    cr_set_output(ctx, 2, CNNRUN_INT64, 1, &v.n);
    cr_set_output(ctx, 3, CNNRUN_INT64, 1, &u);
    return NULL;
}

static cnnrun_status *unique_run(cr_op_ctx *ctx)
{
    unique_view v;
    CR_TRY(unique_view_of(ctx, &v));
    const cr_tensor *x = ctx->in[0];
    int64_t *work = ctx->scratch, *first = work, *inverse = work + v.n, *count = work + 2 * v.n;
    int64_t u = unique_compute(x, &v, first, inverse, count, work + 3 * v.n);
    size_t block = (size_t)v.inner * cnnrun_dtype_size(x->dtype);
    char *y = ctx->out[0]->data;
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < u; i++)
            memcpy(y + ((size_t)o * (size_t)u + (size_t)i) * block,
                   (const char *)x->data + ((size_t)o * (size_t)v.n + (size_t)first[i]) * block, block);
    if (ctx->n_out > 1 && ctx->out[1]) memcpy(ctx->out[1]->data, first, (size_t)u * sizeof(int64_t));
    if (ctx->n_out > 2 && ctx->out[2]) memcpy(ctx->out[2]->data, inverse, (size_t)v.n * sizeof(int64_t));
    if (ctx->n_out > 3 && ctx->out[3]) memcpy(ctx->out[3]->data, count, (size_t)u * sizeof(int64_t));
    return NULL;
}

/* NonZero: 9 (13 adds dtypes). Compress: 9, negative axis from 11. Unique: 11. */
static const cr_op op_nonzero = {.op_type = "NonZero", .domain = "", .opset_min = 9, .opset_max = 22,
                                 .infer = nonzero_infer, .run = nonzero_run};
static const cr_op op_compress = {.op_type = "Compress", .domain = "", .opset_min = 9, .opset_max = 22,
                                  .infer = compress_infer, .run = compress_run};
static const cr_op op_unique = {.op_type = "Unique", .domain = "", .opset_min = 11, .opset_max = 22,
                                .infer = unique_infer, .prepare = unique_prepare, .run = unique_run};

const cr_op *const cr_ops_select[] = {&op_nonzero, &op_compress, &op_unique, NULL};
