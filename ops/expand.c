/* Expand (bidirectional broadcasting to a shape) and Tile (repetition), any dtype by element size.
 *
 * Expand: the input is read through per-axis strides that are 0 on broadcast axes. prepare drops
 * size-1 axes and merges neighbours that step uniformly (two broadcast axes merge too), so the
 * common per-channel case [1,C,1,1] -> [N,C,H,W] becomes N·C rows, each one value filled H·W
 * times; an expanded leading axis becomes rows copied whole with memcpy.
 *
 * Tile: every output row (all axes but the last) reads input row (i mod dim) on each axis; the
 * last axis is the input row written once and then doubled with memcpy until the row is full. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define MOVE_PARALLEL_MIN_BYTES (1u << 20) /* below this, a copy costs less than waking threads */

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *check_movable_dtype(const cr_op_ctx *ctx, cnnrun_dtype dtype)
{
    size_t es = cnnrun_dtype_size(dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(dtype));
    return NULL;
}

static cnnrun_status *check_output_size(const cr_op_ctx *ctx, cnnrun_dtype dtype, int rank, const int64_t *dims)
{
    size_t bytes;
    if (!cr_shape_bytes(dtype, rank, dims, &bytes)) {
        char s[160];
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output shape %s is larger than cnnrun allows",
                           cr_shape_str(rank, dims, s, sizeof s));
    }
    return NULL;
}

/* ---- Expand --------------------------------------------------------------------------------- */

typedef struct expand_state {
    int rank;                        /* merged outer axes */
    int64_t dims[CR_MAX_RANK];
    int64_t src_stride[CR_MAX_RANK]; /* input element stride of each outer axis (0: broadcast) */
    int64_t rows;
    int64_t inner_n;                 /* elements of the innermost run */
    bool inner_fill;                 /* the run repeats one input element */
    size_t elem;
    bool empty;
    int threads;
} expand_state;

static cnnrun_status *expand_shape(const cr_op_ctx *ctx, int *rank, int64_t *dims)
{
    const cr_tensor *x = ctx->in[0];
    int64_t shape[CR_MAX_RANK];
    size_t n;
    CR_TRY(cr_const_ints(ctx, 1, "shape", shape, CR_MAX_RANK, &n));
    if (ctx->in[1]->rank != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input must be 1-D; it has rank %d", ctx->in[1]->rank);
    for (size_t i = 0; i < n; i++)
        if (shape[i] < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the shape input has a negative dim %lld",
                               (long long)shape[i]);
    return cr_broadcast_shape(ctx, x->rank, x->dims, (int)n, shape, rank, dims);
}

static cnnrun_status *expand_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(check_movable_dtype(ctx, ctx->in[0]->dtype));
    int rank;
    int64_t dims[CR_MAX_RANK];
    CR_TRY(expand_shape(ctx, &rank, dims));
    CR_TRY(check_output_size(ctx, ctx->in[0]->dtype, rank, dims));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, rank, dims);
    return NULL;
}

static cnnrun_status *expand_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *y = ctx->out[0];
    expand_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    int64_t in_strides[CR_MAX_RANK];
    cr_strides(x->rank, x->dims, in_strides);
    int lead = y->rank - x->rank;
    int r = 0;
    for (int d = 0; d < y->rank; d++) {
        int64_t n = y->dims[d];
        if (n == 0) s->empty = true;
        if (n == 1) continue;
        int64_t st = d >= lead && x->dims[d - lead] != 1 ? in_strides[d - lead] : 0;
        /* This axis continues the previous one when the previous steps exactly over it. */
        if (r > 0 && s->src_stride[r - 1] == n * st) {
            s->dims[r - 1] *= n;
            s->src_stride[r - 1] = st;
            continue;
        }
        s->dims[r] = n;
        s->src_stride[r] = st;
        r++;
    }
    s->inner_n = 1;
    if (r > 0) {
        r--;
        s->inner_n = s->dims[r];
        s->inner_fill = s->src_stride[r] == 0;
    }
    s->rank = r;
    s->rows = 1;
    for (int i = 0; i < r; i++) s->rows *= s->dims[i];
    ctx->state = s;
    return NULL;
}

#define FILL_ROW(T)                                                                               \
    static void fill_row_##T(T *dst, T value, int64_t n)                                          \
    {                                                                                             \
        for (int64_t i = 0; i < n; i++) dst[i] = value;                                           \
    }
FILL_ROW(uint8_t)
FILL_ROW(uint16_t)
FILL_ROW(uint32_t)
FILL_ROW(uint64_t)

/* Writes n copies of the element at src (elem bytes) to dst. */
static void fill_elements(char *dst, const char *src, size_t elem, int64_t n)
{
    switch (elem) {
    case 1: fill_row_uint8_t((uint8_t *)dst, *(const uint8_t *)src, n); break;
    case 2: fill_row_uint16_t((uint16_t *)(void *)dst, *(const uint16_t *)(const void *)src, n); break;
    case 4: fill_row_uint32_t((uint32_t *)(void *)dst, *(const uint32_t *)(const void *)src, n); break;
    default: fill_row_uint64_t((uint64_t *)(void *)dst, *(const uint64_t *)(const void *)src, n); break;
    }
}

static cnnrun_status *expand_run(cr_op_ctx *ctx)
{
    const expand_state *s = ctx->state;
    if (s->empty) return NULL;
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    size_t run_bytes = (size_t)s->inner_n * s->elem;
    size_t total = (size_t)s->rows * run_bytes;
    #pragma omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && s->rows > 1)
    for (int64_t row = 0; row < s->rows; row++) {
        int64_t off = 0, rest = row;
        for (int d = s->rank - 1; d >= 0; d--) {
            off += (rest % s->dims[d]) * s->src_stride[d];
            rest /= s->dims[d];
        }
        const char *src = x + (size_t)off * s->elem;
        char *dst = y + (size_t)row * run_bytes;
        if (s->inner_fill)
            fill_elements(dst, src, s->elem, s->inner_n);
        else
            memcpy(dst, src, run_bytes);
    }
    return NULL;
}

/* ---- Tile ----------------------------------------------------------------------------------- */

typedef struct tile_state {
    int rank;                         /* input rank, >= 1 */
    int64_t out_dims[CR_MAX_RANK];
    int64_t in_dims[CR_MAX_RANK];
    int64_t in_strides[CR_MAX_RANK];
    int64_t rows;                     /* output elements / last output dim */
    size_t elem;
    bool empty;
    int threads;
} tile_state;

static cnnrun_status *tile_shape(const cr_op_ctx *ctx, int64_t *dims)
{
    const cr_tensor *x = ctx->in[0];
    int64_t repeats[CR_MAX_RANK];
    size_t n;
    CR_TRY(cr_const_ints(ctx, 1, "repeats", repeats, CR_MAX_RANK, &n));
    if (n != (size_t)x->rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the repeats input has %zu values for an input of rank %d",
                           n, x->rank);
    for (int d = 0; d < x->rank; d++) {
        if (repeats[d] < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "repeats[%d] = %lld is negative", d, (long long)repeats[d]);
        if (repeats[d] > 0 && x->dims[d] > INT64_MAX / repeats[d])
            return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "repeating axis %d overflows", d);
        dims[d] = x->dims[d] * repeats[d];
    }
    return NULL;
}

static cnnrun_status *tile_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(check_movable_dtype(ctx, ctx->in[0]->dtype));
    const cr_tensor *x = ctx->in[0];
    if (x->rank == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 1");
    int64_t dims[CR_MAX_RANK];
    CR_TRY(tile_shape(ctx, dims));
    CR_TRY(check_output_size(ctx, x->dtype, x->rank, dims));
    cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    return NULL;
}

static cnnrun_status *tile_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *y = ctx->out[0];
    tile_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->rank = x->rank;
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    memcpy(s->out_dims, y->dims, sizeof s->out_dims);
    memcpy(s->in_dims, x->dims, sizeof s->in_dims);
    cr_strides(x->rank, x->dims, s->in_strides);
    s->rows = 1;
    for (int d = 0; d < x->rank; d++) {
        if (y->dims[d] == 0) s->empty = true;
        if (d < x->rank - 1) s->rows *= y->dims[d];
    }
    ctx->state = s;
    return NULL;
}

static cnnrun_status *tile_run(cr_op_ctx *ctx)
{
    const tile_state *s = ctx->state;
    if (s->empty) return NULL;
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    int last = s->rank - 1;
    size_t in_row = (size_t)s->in_dims[last] * s->elem;
    size_t out_row = (size_t)s->out_dims[last] * s->elem;
    size_t total = (size_t)s->rows * out_row;
    #pragma omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && s->rows > 1)
    for (int64_t row = 0; row < s->rows; row++) {
        int64_t off = 0, rest = row;
        for (int d = last - 1; d >= 0; d--) {
            off += (rest % s->out_dims[d]) % s->in_dims[d] * s->in_strides[d];
            rest /= s->out_dims[d];
        }
        char *dst = y + (size_t)row * out_row;
        memcpy(dst, x + (size_t)off * s->elem, in_row);
        for (size_t done = in_row; done < out_row;) {
            size_t n = done < out_row - done ? done : out_row - done;
            memcpy(dst + done, dst, n);
            done += n;
        }
    }
    return NULL;
}

static void free_state(void *state)
{
    free(state);
}

/* Expand: opset 8 on (13 adds dtypes). Tile: repeats input from opset 6 (opset 1 took tiles and
 * axis inputs instead). */
static const cr_op op_expand = {
    .op_type = "Expand",
    .domain = "",
    .opset_min = 8,
    .opset_max = 22,
    .infer = expand_infer,
    .prepare = expand_prepare,
    .run = expand_run,
    .destroy = free_state,
};
static const cr_op op_tile = {
    .op_type = "Tile",
    .domain = "",
    .opset_min = 6,
    .opset_max = 22,
    .infer = tile_infer,
    .prepare = tile_prepare,
    .run = tile_run,
    .destroy = free_state,
};

const cr_op *const cr_ops_expand[] = {&op_expand, &op_tile, NULL};
