/* Slice and Split of any dtype (moved by element size).
 *
 * Slice: opsets 1-9 take starts/ends/axes as attributes; from 10 they are inputs, with steps
 * (negative steps walk backwards). Starts and ends are clamped as the spec says, so that out-of-
 * range values and INT64_MAX/INT64_MIN sentinels from exporters behave like Python slicing.
 * prepare turns the slice into a strided gather: a base byte offset, then for every kept output
 * axis a byte step in the input. Axes that step through the input uniformly are merged, so a
 * channel range of an NCHW tensor becomes [N] rows of one contiguous C'·H·W run, copied with
 * memcpy; only a non-unit step on the innermost axis needs an element loop.
 *
 * Split: [outer, axis, inner] seen as byte blocks, each output takes its block of every outer
 * index (Concat backwards). Sizes come from the 'split' attribute (opsets 2-12) or input
 * (13+), or from 18 num_outputs chunks; without them the axis is split evenly. */
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

/* ---- Slice ---------------------------------------------------------------------------------- */

/* What a slice reads on every input axis: output[i] = input[start + i * step], count values. */
typedef struct slice_axes {
    int64_t start[CR_MAX_RANK];
    int64_t step[CR_MAX_RANK];
    int64_t count[CR_MAX_RANK];
} slice_axes;

typedef struct slice_state {
    int rank;                        /* merged outer axes, >= 0 */
    int64_t dims[CR_MAX_RANK];       /* outer output dims */
    int64_t src_step[CR_MAX_RANK];   /* input byte step of each outer axis */
    int64_t rows;                    /* product of dims */
    int64_t base;                    /* input byte offset of the first element */
    int64_t inner_n;                 /* elements of the innermost run */
    int64_t inner_step;              /* input byte step inside the run */
    size_t elem;
    bool empty;
    int threads;
} slice_state;

/* Reads starts/ends/axes/steps (attributes before opset 10, inputs after). Unlisted axes are
 * taken whole. */
static cnnrun_status *slice_params(const cr_op_ctx *ctx, slice_axes *sa)
{
    const cr_tensor *x = ctx->in[0];
    int rank = x->rank;
    int64_t starts[CR_MAX_RANK], ends[CR_MAX_RANK], axes[CR_MAX_RANK], steps[CR_MAX_RANK];
    size_t n_starts, n_ends, n_axes = 0, n_steps = 0;
    bool have_axes = false, have_steps = false;
    if (ctx->opset < 10) {
        CR_TRY(cr_op_check_inputs(ctx, 1, 1));
        const int64_t *a;
        size_t n;
        const char *names[3] = {"starts", "ends", "axes"};
        int64_t *dst[3] = {starts, ends, axes};
        size_t *cnt[3] = {&n_starts, &n_ends, &n_axes};
        for (int k = 0; k < 3; k++) {
            CR_TRY(cr_attr_ints(ctx->node, names[k], &a, &n));
            if (!a && k < 2)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute '%s' is required", names[k]);
            if (n > CR_MAX_RANK)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute '%s' has %zu values for an input of rank %d",
                                   names[k], n, rank);
            if (a) memcpy(dst[k], a, n * sizeof *a);
            *cnt[k] = n;
            if (k == 2) have_axes = a != NULL;
        }
    } else {
        CR_TRY(cr_op_check_inputs(ctx, 3, 5));
        CR_TRY(cr_const_ints(ctx, 1, "starts", starts, CR_MAX_RANK, &n_starts));
        CR_TRY(cr_const_ints(ctx, 2, "ends", ends, CR_MAX_RANK, &n_ends));
        if (ctx->n_in > 3 && ctx->in[3]) {
            CR_TRY(cr_const_ints(ctx, 3, "axes", axes, CR_MAX_RANK, &n_axes));
            have_axes = true;
        }
        if (ctx->n_in > 4 && ctx->in[4]) {
            CR_TRY(cr_const_ints(ctx, 4, "steps", steps, CR_MAX_RANK, &n_steps));
            have_steps = true;
        }
    }
    if (n_starts != n_ends || (have_axes && n_axes != n_starts) || (have_steps && n_steps != n_starts))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "starts, ends, axes and steps must have the same length; found %zu, %zu, %zu, %zu",
                           n_starts, n_ends, have_axes ? n_axes : n_starts, have_steps ? n_steps : n_starts);
    if (n_starts > (size_t)rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%zu axes are sliced but the input has rank %d",
                           n_starts, rank);
    for (int d = 0; d < rank; d++) {
        sa->start[d] = 0;
        sa->step[d] = 1;
        sa->count[d] = x->dims[d];
    }
    bool seen[CR_MAX_RANK] = {false};
    for (size_t k = 0; k < n_starts; k++) {
        int axis;
        int64_t a = have_axes ? axes[k] : (int64_t)k;
        CR_TRY(cr_normalize_axis(ctx, "axis", a, rank, &axis));
        if (seen[axis]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d is sliced twice", axis);
        seen[axis] = true;
        int64_t dim = x->dims[axis], step = have_steps ? steps[k] : 1;
        if (step == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "step 0 on axis %d", axis);
        if (step == INT64_MIN) step = INT64_MIN + 1; /* so that -step exists; any count is <= 1 */
        int64_t start = starts[k], end = ends[k];
        if (start < 0) start = start < -dim ? -1 : start + dim;
        if (end < 0) end = end < -dim ? -1 : end + dim;
        int64_t count;
        if (step > 0) {
            start = start < 0 ? 0 : (start > dim ? dim : start);
            end = end < 0 ? 0 : (end > dim ? dim : end);
            count = end > start ? (end - start - 1) / step + 1 : 0;
        } else {
            start = start < 0 ? 0 : (start > dim - 1 ? dim - 1 : start);
            end = end < -1 ? -1 : (end > dim - 1 ? dim - 1 : end);
            count = start > end ? (start - end - 1) / -step + 1 : 0;
        }
        sa->start[axis] = count > 0 ? start : 0;
        sa->step[axis] = count > 1 ? step : 1;
        sa->count[axis] = count;
    }
    return NULL;
}

static cnnrun_status *slice_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 5));
    CR_TRY(check_movable_dtype(ctx, ctx->in[0]->dtype));
    slice_axes sa;
    CR_TRY(slice_params(ctx, &sa));
    cr_set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, sa.count);
    return NULL;
}

static cnnrun_status *slice_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    slice_axes sa;
    CR_TRY(slice_params(ctx, &sa));
    slice_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    int64_t strides[CR_MAX_RANK];
    cr_strides(x->rank, x->dims, strides);
    int64_t es = (int64_t)s->elem;
    s->inner_n = 1;
    s->inner_step = es;
    /* Walk the axes from the innermost out: an axis joins the inner run while the run stays one
     * uniform stride, then joins the previous outer axis when the two step uniformly. */
    bool in_run = true;
    int r = 0;
    int64_t rev_dims[CR_MAX_RANK], rev_step[CR_MAX_RANK];
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t n = sa.count[d], step = sa.step[d] * strides[d] * es;
        s->base += sa.start[d] * strides[d] * es;
        if (n == 0) s->empty = true;
        if (n == 1) continue;
        if (in_run) {
            if (s->inner_n == 1) {
                s->inner_n = n;
                s->inner_step = step;
                continue;
            }
            if (step == s->inner_n * s->inner_step) {
                s->inner_n *= n;
                continue;
            }
            in_run = false;
        }
        if (r > 0 && step == rev_dims[r - 1] * rev_step[r - 1]) {
            rev_dims[r - 1] *= n;
            continue;
        }
        rev_dims[r] = n;
        rev_step[r] = step;
        r++;
    }
    s->rank = r;
    s->rows = 1;
    for (int i = 0; i < r; i++) {
        s->dims[i] = rev_dims[r - 1 - i];
        s->src_step[i] = rev_step[r - 1 - i];
        s->rows *= s->dims[i];
    }
    ctx->state = s;
    return NULL;
}

/* Input byte offset of outer row `row`. */
static int64_t slice_row_offset(const slice_state *s, int64_t row)
{
    int64_t off = s->base;
    for (int d = s->rank - 1; d >= 0; d--) {
        off += (row % s->dims[d]) * s->src_step[d];
        row /= s->dims[d];
    }
    return off;
}

#define STRIDED_ROW(T)                                                                            \
    static void strided_row_##T(const char *src, int64_t step, int64_t n, T *dst)                 \
    {                                                                                             \
        for (int64_t i = 0; i < n; i++) dst[i] = *(const T *)(const void *)(src + i * step);      \
    }
STRIDED_ROW(uint8_t)
STRIDED_ROW(uint16_t)
STRIDED_ROW(uint32_t)
STRIDED_ROW(uint64_t)

static cnnrun_status *slice_run(cr_op_ctx *ctx)
{
    const slice_state *s = ctx->state;
    if (s->empty) return NULL;
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    size_t run_bytes = (size_t)s->inner_n * s->elem;
    bool contiguous = s->inner_step == (int64_t)s->elem;
    size_t total = (size_t)s->rows * run_bytes;
    #pragma omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && s->rows > 1)
    for (int64_t row = 0; row < s->rows; row++) {
        const char *src = x + slice_row_offset(s, row);
        char *dst = y + (size_t)row * run_bytes;
        if (contiguous) {
            memcpy(dst, src, run_bytes);
            continue;
        }
        switch (s->elem) {
        case 1: strided_row_uint8_t(src, s->inner_step, s->inner_n, (uint8_t *)dst); break;
        case 2: strided_row_uint16_t(src, s->inner_step, s->inner_n, (uint16_t *)(void *)dst); break;
        case 4: strided_row_uint32_t(src, s->inner_step, s->inner_n, (uint32_t *)(void *)dst); break;
        default: strided_row_uint64_t(src, s->inner_step, s->inner_n, (uint64_t *)(void *)dst); break;
        }
    }
    return NULL;
}

/* ---- Split ---------------------------------------------------------------------------------- */

typedef struct split_state {
    int64_t outer;
    size_t in_block;     /* bytes of one outer index in the input */
    int n_out;
    int threads;
    size_t out_block[];  /* bytes of one outer index in each output (0 for an omitted output) */
} split_state;

/* The axis and each output's size along it. */
static cnnrun_status *split_params(const cr_op_ctx *ctx, int *axis, int64_t *sizes)
{
    const cr_tensor *x = ctx->in[0];
    int64_t a;
    CR_TRY(cr_attr_int(ctx->node, "axis", 0, &a));
    /* Negative axes are only documented from opset 11, but exporters wrote them earlier (PyTorch's
     * GLU at opset 6) and their meaning is unambiguous. */
    CR_TRY(cr_normalize_axis(ctx, "attribute axis", a, x->rank, axis));
    int64_t dim = x->dims[*axis];
    int n = ctx->n_out;
    size_t count = 0;
    bool given = false;
    if (ctx->opset < 13) {
        const int64_t *attr;
        CR_TRY(cr_attr_ints(ctx->node, "split", &attr, &count));
        if (attr) {
            if (count != (size_t)n)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'split' has %zu values for %d outputs",
                                   count, n);
            memcpy(sizes, attr, count * sizeof *attr);
            given = true;
        }
    } else if (ctx->n_in > 1 && ctx->in[1]) {
        CR_TRY(cr_const_ints(ctx, 1, "split", sizes, (size_t)n, &count));
        if (count != (size_t)n)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the split input has %zu values for %d outputs", count, n);
        given = true;
    }
    int64_t num_outputs = 0;
    if (ctx->opset >= 18) CR_TRY(cr_attr_int(ctx->node, "num_outputs", 0, &num_outputs));
    if (num_outputs && given)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the split input and attribute 'num_outputs' are both given");
    if (num_outputs) {
        /* Chunks of ceil(dim / num_outputs), the last one smaller (opset 18). */
        if (num_outputs != n)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'num_outputs' is %lld but the node has %d outputs",
                               (long long)num_outputs, n);
        int64_t chunk = (dim + n - 1) / n;
        if (chunk * (n - 1) > dim)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "axis %d of size %lld cannot be split into %d chunks of %lld and a last, smaller one",
                               *axis, (long long)dim, n, (long long)chunk);
        for (int i = 0; i < n; i++) sizes[i] = i < n - 1 ? chunk : dim - chunk * (n - 1);
        return NULL;
    }
    if (!given) {
        if (dim % n != 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "axis %d of size %lld cannot be split evenly into %d outputs", *axis, (long long)dim, n);
        for (int i = 0; i < n; i++) sizes[i] = dim / n;
        return NULL;
    }
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || sizes[i] > dim)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "split size %lld for output %d is out of range [0, %lld]",
                               (long long)sizes[i], i, (long long)dim);
        sum += sizes[i];
    }
    if (sum != dim)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "split sizes add up to %lld but axis %d has size %lld",
                           (long long)sum, *axis, (long long)dim);
    return NULL;
}

static cnnrun_status *split_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, ctx->opset >= 13 ? 2 : 1));
    CR_TRY(check_movable_dtype(ctx, ctx->in[0]->dtype));
    if (ctx->n_out < 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "Split needs at least one output");
    int64_t *sizes = malloc((size_t)ctx->n_out * sizeof *sizes);
    if (!sizes) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the split sizes");
    int axis;
    cnnrun_status *st = split_params(ctx, &axis, sizes);
    const cr_tensor *x = ctx->in[0];
    for (int i = 0; !st && i < ctx->n_out; i++) {
        int64_t dims[CR_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i];
        cr_set_output(ctx, i, x->dtype, x->rank, dims);
    }
    free(sizes);
    return st;
}

static cnnrun_status *split_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0];
    int axis = 0;
    int64_t *sizes = malloc((size_t)ctx->n_out * sizeof *sizes);
    if (!sizes) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the split sizes");
    cnnrun_status *st = split_params(ctx, &axis, sizes);
    if (st) {
        free(sizes);
        return st;
    }
    split_state *s = calloc(1, sizeof *s + (size_t)ctx->n_out * sizeof s->out_block[0]);
    if (!s) {
        free(sizes);
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    }
    size_t inner = cnnrun_dtype_size(x->dtype);
    s->outer = 1;
    for (int d = 0; d < axis; d++) s->outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    s->in_block = inner * (size_t)x->dims[axis];
    s->n_out = ctx->n_out;
    s->threads = op_threads(ctx);
    for (int i = 0; i < ctx->n_out; i++) s->out_block[i] = inner * (size_t)sizes[i];
    free(sizes);
    ctx->state = s;
    return NULL;
}

static cnnrun_status *split_run(cr_op_ctx *ctx)
{
    const split_state *s = ctx->state;
    const char *x = ctx->in[0]->data;
    size_t total = (size_t)s->outer * s->in_block;
    #pragma omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && s->outer > 1)
    for (int64_t o = 0; o < s->outer; o++) {
        const char *src = x + (size_t)o * s->in_block;
        for (int i = 0; i < s->n_out; i++) {
            size_t b = s->out_block[i];
            if (b && ctx->out[i]) memcpy((char *)ctx->out[i]->data + (size_t)o * b, src, b);
            src += b;
        }
    }
    return NULL;
}

static void free_state(void *state)
{
    free(state);
}

/* Slice: attribute form up to opset 9, input form (with steps) from 10; later versions only add
 * dtypes. Split: 'split' attribute in opsets 2-12, an input from 13, or from 18 the attribute
 * num_outputs (ceil-sized chunks); later versions add dtypes. */
static const cr_op op_slice_attrs = {
    .op_type = "Slice",
    .domain = "",
    .opset_min = 1,
    .opset_max = 9,
    .infer = slice_infer,
    .prepare = slice_prepare,
    .run = slice_run,
    .destroy = free_state,
};
static const cr_op op_slice = {
    .op_type = "Slice",
    .domain = "",
    .opset_min = 10,
    .opset_max = 22,
    .infer = slice_infer,
    .prepare = slice_prepare,
    .run = slice_run,
    .destroy = free_state,
};
static const cr_op op_split = {
    .op_type = "Split",
    .domain = "",
    .opset_min = 2,
    .opset_max = 22,
    .infer = split_infer,
    .prepare = split_prepare,
    .run = split_run,
    .destroy = free_state,
};

const cr_op *const cr_ops_slice[] = {&op_slice_attrs, &op_slice, &op_split, NULL};
