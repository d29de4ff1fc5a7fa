/* Transpose of any dtype (moved as 1-, 2-, 4- or 8-byte elements).
 *
 * prepare drops axes of size 1 and merges input axes that stay neighbours in the output, so
 * NCHW→NHWC becomes [N, C, HW]→[N, HW, C]. run then picks one of three loops:
 *   - the innermost output axis is contiguous in the input: copy runs of elements with memcpy;
 *   - the two innermost output axes are a plain 2-D transpose (the NCHW↔NHWC case): copy in
 *     square tiles so that reads and writes both stay in cache;
 *   - otherwise a strided gather per output row. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define TRANSPOSE_PARALLEL_MIN 65536
#define TRANSPOSE_TILE 32

typedef struct transpose_state {
    int rank;                           /* merged, >= 1 */
    int64_t dims[CR_MAX_RANK];          /* output dims */
    int64_t in_stride[CR_MAX_RANK];     /* input stride (elements) of each output axis */
    int64_t count;
    size_t elem;                        /* bytes per element */
    int threads;
} transpose_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *read_perm(const cr_op_ctx *ctx, int *perm)
{
    int rank = ctx->in[0]->rank;
    const int64_t *attr;
    size_t n;
    CR_TRY(cr_attr_ints(ctx->node, "perm", &attr, &n));
    if (!attr) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return NULL;
    }
    if (n != (size_t)rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute perm has %zu values for an input of rank %d",
                           n, rank);
    bool seen[CR_MAX_RANK] = {false};
    for (int i = 0; i < rank; i++) {
        int a;
        CR_TRY(cr_normalize_axis(ctx, "perm value", attr[i], rank, &a));
        if (seen[a]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute perm repeats axis %d", a);
        seen[a] = true;
        perm[i] = a;
    }
    return NULL;
}

static cnnrun_status *transpose_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    const cr_tensor *x = ctx->in[0];
    size_t es = cnnrun_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    int perm[CR_MAX_RANK];
    CR_TRY(read_perm(ctx, perm));
    int64_t dims[CR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = x->dims[perm[i]];
    cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    return NULL;
}

static cnnrun_status *transpose_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int perm[CR_MAX_RANK];
    CR_TRY(read_perm(ctx, perm));
    int64_t strides[CR_MAX_RANK];
    cr_strides(x->rank, x->dims, strides);
    transpose_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    s->count = cr_tensor_count(x);
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t d = x->dims[perm[i]], st = strides[perm[i]];
        if (d == 1) continue;
        /* Output axis i continues the previous one when it steps the input just as fast. */
        if (r > 0 && s->in_stride[r - 1] == st * d) {
            s->dims[r - 1] *= d;
            s->in_stride[r - 1] = st;
            continue;
        }
        s->dims[r] = d;
        s->in_stride[r] = st;
        r++;
    }
    if (r == 0) {
        s->dims[0] = 1;
        s->in_stride[0] = 1;
        r = 1;
    }
    s->rank = r;
    ctx->state = s;
    return NULL;
}

/* Input offset (elements) of output row `row` over the axes before `last`. */
static int64_t row_offset(const transpose_state *s, int64_t row, int last)
{
    int64_t off = 0;
    for (int d = last - 1; d >= 0; d--) {
        off += (row % s->dims[d]) * s->in_stride[d];
        row /= s->dims[d];
    }
    return off;
}

/* Copies rows whose innermost axis is contiguous in the input. */
static void copy_rows(const transpose_state *s, const char *x, char *y)
{
    int last = s->rank - 1;
    size_t row_bytes = (size_t)s->dims[last] * s->elem;
    int64_t rows = s->count / s->dims[last];
    #pragma omp parallel for num_threads(s->threads) if (s->count >= TRANSPOSE_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        memcpy(y + (size_t)r * row_bytes, x + (size_t)row_offset(s, r, last) * s->elem, row_bytes);
}

#define TRANSPOSE_KERNELS(T)                                                                        \
    /* Batches of [rows, cols] output matrices read from [cols, ld >= rows] input blocks (the row \
     * axis is contiguous in the input). */                                                     \
    static void tiles_##T(const transpose_state *s, const T *x, T *y)                               \
    {                                                                                               \
        int last = s->rank - 1;                                                                     \
        int64_t rows = s->dims[last - 1], cols = s->dims[last], ld = s->in_stride[last];            \
        int64_t batches = s->count / (rows * cols);                                                 \
        int64_t row_tiles = (rows + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;                           \
        _Pragma("omp parallel for collapse(2) num_threads(s->threads) if (s->count >= TRANSPOSE_PARALLEL_MIN)") \
        for (int64_t b = 0; b < batches; b++)                                                       \
            for (int64_t rt = 0; rt < row_tiles; rt++) {                                            \
                const T *xb = x + row_offset(s, b, last - 1);                                       \
                T *yb = y + b * rows * cols;                                                        \
                int64_t r0 = rt * TRANSPOSE_TILE;                                                   \
                int64_t r1 = r0 + TRANSPOSE_TILE < rows ? r0 + TRANSPOSE_TILE : rows;               \
                for (int64_t c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {                             \
                    int64_t c1 = c0 + TRANSPOSE_TILE < cols ? c0 + TRANSPOSE_TILE : cols;           \
                    for (int64_t r = r0; r < r1; r++)                                               \
                        for (int64_t c = c0; c < c1; c++) yb[r * cols + c] = xb[c * ld + r];        \
                }                                                                                   \
            }                                                                                       \
    }                                                                                               \
    static void gather_##T(const transpose_state *s, const T *x, T *y)                              \
    {                                                                                               \
        int last = s->rank - 1;                                                                     \
        int64_t n = s->dims[last], st = s->in_stride[last];                                         \
        int64_t rows = s->count / n;                                                                \
        _Pragma("omp parallel for num_threads(s->threads) if (s->count >= TRANSPOSE_PARALLEL_MIN)") \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const T *xr = x + row_offset(s, r, last);                                               \
            T *yr = y + r * n;                                                                      \
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i * st];                                     \
        }                                                                                           \
    }                                                                                               \
    static void transpose_##T(const transpose_state *s, const T *x, T *y)                           \
    {                                                                                               \
        int last = s->rank - 1;                                                                     \
        if (last >= 1 && s->in_stride[last - 1] == 1)                                            \
            tiles_##T(s, x, y);                                                                     \
        else                                                                                        \
            gather_##T(s, x, y);                                                                    \
    }

TRANSPOSE_KERNELS(uint8_t)
TRANSPOSE_KERNELS(uint16_t)
TRANSPOSE_KERNELS(uint32_t)
TRANSPOSE_KERNELS(uint64_t)

static cnnrun_status *transpose_run(cr_op_ctx *ctx)
{
    const transpose_state *s = ctx->state;
    const void *x = ctx->in[0]->data;
    void *y = ctx->out[0]->data;
    if (s->count == 0) return NULL;
    if (s->in_stride[s->rank - 1] == 1) {
        copy_rows(s, x, y);
        return NULL;
    }
    switch (s->elem) {
    case 1: transpose_uint8_t(s, x, y); break;
    case 2: transpose_uint16_t(s, x, y); break;
    case 4: transpose_uint32_t(s, x, y); break;
    case 8: transpose_uint64_t(s, x, y); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "element size %zu reached run", s->elem);
    }
    return NULL;
}

static void transpose_destroy(void *state)
{
    free(state);
}

/* Unchanged in meaning from opset 1 to 22 (later versions add dtypes). */
static const cr_op op_transpose = {
    .op_type = "Transpose",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = transpose_infer,
    .prepare = transpose_prepare,
    .run = transpose_run,
    .destroy = transpose_destroy,
};

const cr_op *const cr_ops_transpose[] = {&op_transpose, NULL};
