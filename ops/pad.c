/* Pad in constant, reflect, edge and wrap modes, any dtype by element size (opsets 2-22).
 *
 * Opsets 2-10 give pads and the constant as attributes ('pads', 'value'); from 11 they are
 * inputs (pads must be known at plan time; the constant is read at run time); from 18 an optional
 * axes input says which axes the pads are for (the others get none), and 19 adds wrap mode.
 * Negative pads crop. Every output index o of an axis reads input index
 * o - pad_begin when it is inside the input; outside, constant mode writes the constant, edge mode
 * clamps, reflect mode mirrors (repeatedly when the pad is wider than the input, like NumPy) and
 * wrap mode repeats the input periodically.
 * prepare tabulates that source index for every index of every axis. run walks output rows (all
 * axes but the last): a row whose source is outside the input on some axis is all constant;
 * otherwise its middle is one memcpy and only the border columns go through the table. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define MOVE_PARALLEL_MIN_BYTES (1u << 20) /* below this, a copy costs less than waking threads */

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct pad_state {
    int rank;                          /* >= 1 */
    int64_t out_dims[CR_MAX_RANK];
    int64_t in_strides[CR_MAX_RANK];
    int64_t *src_index[CR_MAX_RANK];   /* per axis, per output index: input index or -1 */
    int64_t mid_begin, mid_end;        /* output columns of the last axis copied as one run */
    int64_t rows;
    pad_mode mode;
    size_t elem;
    bool empty;
    bool value_from_input;
    unsigned char value[8];            /* the constant (attribute form), in the output dtype */
    int threads;
    int64_t table[];                   /* storage of src_index */
} pad_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *pad_mode_attr(const cr_op_ctx *ctx, pad_mode *mode)
{
    const char *m;
    CR_TRY(cr_attr_string(ctx->node, "mode", "constant", &m));
    if (strcmp(m, "constant") == 0) *mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0) *mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0) *mode = PAD_EDGE;
    else if (strcmp(m, "wrap") == 0 && ctx->opset >= 19) *mode = PAD_WRAP;
    else return cr_op_unsupported_attr(ctx, "mode", "expected 'constant', 'reflect', 'edge' or (from opset 19) 'wrap'");
    return NULL;
}

/* Begin and end pads of every axis. */
static cnnrun_status *pad_amounts(const cr_op_ctx *ctx, int64_t *begin, int64_t *end)
{
    int rank = ctx->in[0]->rank;
    int64_t pads[2 * CR_MAX_RANK];
    size_t n;
    if (ctx->opset < 11) {
        const int64_t *attr;
        CR_TRY(cr_attr_ints(ctx->node, "pads", &attr, &n));
        if (!attr) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'pads' is required");
        if (n > 2 * CR_MAX_RANK)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'pads' has %zu values for rank %d", n, rank);
        memcpy(pads, attr, n * sizeof *attr);
    } else {
        CR_TRY(cr_const_ints(ctx, 1, "pads", pads, 2 * CR_MAX_RANK, &n));
    }
    if (ctx->opset >= 18 && ctx->n_in > 3 && ctx->in[3]) {
        /* pads holds begins then ends for the listed axes only. */
        int64_t axes[CR_MAX_RANK];
        size_t na;
        CR_TRY(cr_const_ints(ctx, 3, "axes", axes, CR_MAX_RANK, &na));
        if (n != 2 * na)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "pads has %zu values for %zu axes; %zu expected", n, na,
                               2 * na);
        for (int d = 0; d < rank; d++) begin[d] = end[d] = 0;
        bool seen[CR_MAX_RANK] = {false};
        for (size_t i = 0; i < na; i++) {
            int a;
            CR_TRY(cr_normalize_axis(ctx, "axes value", axes[i], rank, &a));
            if (seen[a]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d appears more than once in axes", a);
            seen[a] = true;
            begin[a] = pads[i];
            end[a] = pads[i + na];
        }
        return NULL;
    }
    if (n != 2 * (size_t)rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "pads has %zu values; %d expected (begin and end of %d axes)",
                           n, 2 * rank, rank);
    for (int d = 0; d < rank; d++) {
        begin[d] = pads[d];
        end[d] = pads[d + rank];
    }
    return NULL;
}

static cnnrun_status *pad_output_dims(const cr_op_ctx *ctx, const int64_t *begin, const int64_t *end,
                                      pad_mode mode, int64_t *dims)
{
    const cr_tensor *x = ctx->in[0];
    for (int d = 0; d < x->rank; d++) {
        int64_t in = x->dims[d];
        const int64_t limit = (int64_t)1 << 40;
        if (begin[d] < -limit || begin[d] > limit || end[d] < -limit || end[d] > limit)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "pads of axis %d (%lld, %lld) are out of range", d,
                               (long long)begin[d], (long long)end[d]);
        dims[d] = in + begin[d] + end[d];
        if (dims[d] < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "pads (%lld, %lld) crop axis %d of size %lld below zero",
                               (long long)begin[d], (long long)end[d], d, (long long)in);
        if (mode != PAD_CONSTANT && in == 0 && dims[d] > 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%s padding of axis %d needs a non-empty input axis",
                               mode == PAD_EDGE ? "edge" : mode == PAD_WRAP ? "wrap" : "reflect", d);
    }
    size_t bytes;
    if (!cr_shape_bytes(x->dtype, x->rank, dims, &bytes)) {
        char s[160];
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "output shape %s is larger than cnnrun allows",
                           cr_shape_str(x->rank, dims, s, sizeof s));
    }
    return NULL;
}

static cnnrun_status *pad_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, ctx->opset < 11 ? 1 : 2, ctx->opset < 11 ? 1 : ctx->opset < 18 ? 3 : 4));
    const cr_tensor *x = ctx->in[0];
    size_t es = cnnrun_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    if (x->rank == 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must have rank >= 1");
    if (ctx->n_in > 2 && ctx->in[2]) {
        const cr_tensor *v = ctx->in[2];
        if (v->dtype != x->dtype)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "constant_value has dtype %s; the input has %s",
                               cnnrun_dtype_name(v->dtype), cnnrun_dtype_name(x->dtype));
        if (cr_tensor_count(v) != 1)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "constant_value must hold one value; it holds %lld",
                               (long long)cr_tensor_count(v));
    }
    pad_mode mode;
    int64_t begin[CR_MAX_RANK], end[CR_MAX_RANK], dims[CR_MAX_RANK];
    CR_TRY(pad_mode_attr(ctx, &mode));
    CR_TRY(pad_amounts(ctx, begin, end));
    CR_TRY(pad_output_dims(ctx, begin, end, mode, dims));
    cr_set_output(ctx, 0, x->dtype, x->rank, dims);
    /* No padding at all (PyTorch exports one before AveragePool): the output is the input. */
    bool none = true;
    for (int d = 0; d < x->rank; d++) none = none && begin[d] == 0 && end[d] == 0;
    ctx->identity = none;
    return NULL;
}

/* Input index read by output index o of an axis of size n that starts with `begin` pad values;
 * -1 for the constant. */
static int64_t pad_source(int64_t o, int64_t begin, int64_t n, pad_mode mode)
{
    int64_t i = o - begin;
    if (i >= 0 && i < n) return i;
    if (mode == PAD_CONSTANT) return -1;
    if (mode == PAD_WRAP) {
        int64_t m = i % n;
        return m < 0 ? m + n : m;
    }
    if (mode == PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
    /* Mirror without repeating the edge: the pattern has period 2(n-1). */
    int64_t period = 2 * (n - 1);
    int64_t m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

/* Converts the float attribute 'value' of opsets 2-10 to the input dtype. */
static void constant_from_attr(cnnrun_dtype dtype, float v, unsigned char *out)
{
    union {
        float f32; double f64; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16;
        int32_t i32; uint32_t u32; int64_t i64; uint64_t u64;
    } u;
    memset(&u, 0, sizeof u);
    switch (dtype) {
    case CNNRUN_FLOAT32: u.f32 = v; break;
    case CNNRUN_FLOAT64: u.f64 = v; break;
    case CNNRUN_INT8: u.i8 = (int8_t)v; break;
    case CNNRUN_UINT8: u.u8 = (uint8_t)v; break;
    case CNNRUN_BOOL: u.u8 = v != 0.0f; break;
    case CNNRUN_INT16: u.i16 = (int16_t)v; break;
    case CNNRUN_UINT16: u.u16 = (uint16_t)v; break;
    case CNNRUN_INT32: u.i32 = (int32_t)v; break;
    case CNNRUN_UINT32: u.u32 = (uint32_t)v; break;
    case CNNRUN_INT64: u.i64 = (int64_t)v; break;
    case CNNRUN_UINT64: u.u64 = (uint64_t)v; break;
    default: break; /* float16, bfloat16: refused in prepare unless the value is 0 */
    }
    memcpy(out, &u, 8);
}

static cnnrun_status *pad_prepare(cr_op_ctx *ctx)
{
    const cr_tensor *x = ctx->in[0], *y = ctx->out[0];
    pad_mode mode;
    int64_t begin[CR_MAX_RANK], end[CR_MAX_RANK];
    CR_TRY(pad_mode_attr(ctx, &mode));
    CR_TRY(pad_amounts(ctx, begin, end));
    float value = 0.0f;
    if (ctx->opset < 11) {
        CR_TRY(cr_attr_float(ctx->node, "value", 0.0f, &value));
        bool sixteen_bit_float = x->dtype == CNNRUN_FLOAT16 || x->dtype == CNNRUN_BFLOAT16;
        if (sixteen_bit_float && value != 0.0f && mode == PAD_CONSTANT)
            return cr_op_unsupported_attr(ctx, "value",
                                          "a non-zero constant for float16 or bfloat16 data is not implemented");
    }
    size_t table = 0;
    for (int d = 0; d < y->rank; d++) table += (size_t)y->dims[d];
    if (table > SIZE_MAX / sizeof(int64_t) - sizeof(pad_state))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the pad tables are too large");
    pad_state *s = calloc(1, sizeof *s + table * sizeof s->table[0]);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the pad tables");
    s->rank = y->rank;
    s->mode = mode;
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    s->value_from_input = ctx->opset >= 11 && ctx->n_in > 2 && ctx->in[2];
    constant_from_attr(x->dtype, value, s->value);
    memcpy(s->out_dims, y->dims, sizeof s->out_dims);
    cr_strides(x->rank, x->dims, s->in_strides);
    int64_t *next = s->table;
    s->rows = 1;
    for (int d = 0; d < y->rank; d++) {
        s->src_index[d] = next;
        for (int64_t o = 0; o < y->dims[d]; o++) next[o] = pad_source(o, begin[d], x->dims[d], mode);
        next += y->dims[d];
        if (y->dims[d] == 0) s->empty = true;
        if (d < y->rank - 1) s->rows *= y->dims[d];
    }
    /* The middle run of the last axis: output columns reading input columns in order. */
    int last = y->rank - 1;
    int64_t in_last = x->dims[last];
    s->mid_begin = begin[last] > 0 ? begin[last] : 0;
    s->mid_end = begin[last] + in_last < y->dims[last] ? begin[last] + in_last : y->dims[last];
    if (s->mid_end < s->mid_begin) s->mid_end = s->mid_begin;
    ctx->state = s;
    return NULL;
}

#define PAD_ROW(T)                                                                                \
    static void pad_row_##T(const pad_state *s, const T *src, T *dst, T value, bool constant_row) \
    {                                                                                             \
        int64_t n = s->out_dims[s->rank - 1];                                                     \
        if (constant_row) {                                                                       \
            for (int64_t o = 0; o < n; o++) dst[o] = value;                                       \
            return;                                                                               \
        }                                                                                         \
        const int64_t *map = s->src_index[s->rank - 1];                                           \
        for (int64_t o = 0; o < s->mid_begin; o++) dst[o] = map[o] < 0 ? value : src[map[o]];     \
        if (s->mid_end > s->mid_begin)                                                            \
            memcpy(dst + s->mid_begin, src + map[s->mid_begin],                                   \
                   (size_t)(s->mid_end - s->mid_begin) * sizeof(T));                              \
        for (int64_t o = s->mid_end; o < n; o++) dst[o] = map[o] < 0 ? value : src[map[o]];       \
    }
PAD_ROW(uint8_t)
PAD_ROW(uint16_t)
PAD_ROW(uint32_t)
PAD_ROW(uint64_t)

static cnnrun_status *pad_run(cr_op_ctx *ctx)
{
    const pad_state *s = ctx->state;
    if (s->empty) return NULL;
    unsigned char value[8];
    memcpy(value, s->value, sizeof value);
    if (s->value_from_input) memcpy(value, ctx->in[2]->data, s->elem);
    const char *x = ctx->in[0]->data;
    char *y = ctx->out[0]->data;
    int last = s->rank - 1;
    size_t out_row = (size_t)s->out_dims[last] * s->elem;
    size_t total = (size_t)s->rows * out_row;
    #pragma omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && s->rows > 1)
    for (int64_t row = 0; row < s->rows; row++) {
        int64_t off = 0, rest = row;
        bool constant_row = false;
        for (int d = last - 1; d >= 0; d--) {
            int64_t i = s->src_index[d][rest % s->out_dims[d]];
            rest /= s->out_dims[d];
            if (i < 0) constant_row = true;
            else off += i * s->in_strides[d];
        }
        const char *src = x + (size_t)off * s->elem;
        char *dst = y + (size_t)row * out_row;
        switch (s->elem) {
        case 1: pad_row_uint8_t(s, (const uint8_t *)src, (uint8_t *)dst, value[0], constant_row); break;
        case 2: {
            uint16_t v;
            memcpy(&v, value, sizeof v);
            pad_row_uint16_t(s, (const uint16_t *)(const void *)src, (uint16_t *)(void *)dst, v, constant_row);
            break;
        }
        case 4: {
            uint32_t v;
            memcpy(&v, value, sizeof v);
            pad_row_uint32_t(s, (const uint32_t *)(const void *)src, (uint32_t *)(void *)dst, v, constant_row);
            break;
        }
        default: {
            uint64_t v;
            memcpy(&v, value, sizeof v);
            pad_row_uint64_t(s, (const uint64_t *)(const void *)src, (uint64_t *)(void *)dst, v, constant_row);
            break;
        }
        }
    }
    return NULL;
}

static void pad_destroy(void *state)
{
    free(state);
}

/* Opset 1 named the attribute 'paddings' and is not implemented. Opsets 2-10: attributes; 11-17:
 * inputs; 18 adds the axes input and 19 'wrap' mode (both implemented); 21 adds dtypes. */
static const cr_op op_pad = {
    .op_type = "Pad",
    .domain = "",
    .opset_min = 2,
    .opset_max = 22,
    .infer = pad_infer,
    .prepare = pad_prepare,
    .run = pad_run,
    .destroy = pad_destroy,
};

const cr_op *const cr_ops_pad[] = {&op_pad, NULL};
