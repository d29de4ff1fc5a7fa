/* DepthToSpace (DCR and CRD modes) and SpaceToDepth on 4-D NCHW tensors, any dtype by element size.
 *
 * With block b and C' = C / b², DepthToSpace writes
 *   y[n, c', h·b + i, w·b + j] = x[n, ch, h, w],  ch = (i·b + j)·C' + c'  (DCR, the default)
 *                                                  ch = c'·b² + i·b + j   (CRD, PixelShuffle)
 * and SpaceToDepth is the DCR inverse: y[n, (i·b + j)·C + c, h, w] = x[n, c, h·b + i, w·b + j].
 * Both walk rows of the spatial side (one input or output row of width W·b per (n, c, h, i)); in
 * each, the b interleaved columns j each move W elements read or written with stride b. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define MOVE_PARALLEL_MIN_BYTES (1u << 20) /* below this, a copy costs less than waking threads */

typedef struct depth_space_state {
    int64_t n, c, h, w;        /* the depth side: [N, C, H, W] with C = C' * b * b */
    int64_t block;
    bool crd;
    bool to_space;             /* DepthToSpace (else SpaceToDepth) */
    size_t elem;
    int threads;
} depth_space_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static cnnrun_status *read_block(const cr_op_ctx *ctx, int64_t *block)
{
    if (!cr_node_attr(ctx->node, "blocksize"))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'blocksize' is required");
    CR_TRY(cr_attr_int(ctx->node, "blocksize", 0, block));
    if (*block < 1 || *block > (1 << 16))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "blocksize %lld is out of range [1, 65536]",
                           (long long)*block);
    return NULL;
}

static cnnrun_status *read_mode(const cr_op_ctx *ctx, bool *crd)
{
    *crd = false;
    if (ctx->opset < 11) return NULL; /* DCR only before opset 11 */
    const char *mode;
    CR_TRY(cr_attr_string(ctx->node, "mode", "DCR", &mode));
    if (strcmp(mode, "CRD") == 0) *crd = true;
    else if (strcmp(mode, "DCR") != 0) return cr_op_unsupported_attr(ctx, "mode", "must be 'DCR' or 'CRD'");
    return NULL;
}

static cnnrun_status *check_input(const cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    const cr_tensor *x = ctx->in[0];
    size_t es = cnnrun_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "dtype %s is not supported", cnnrun_dtype_name(x->dtype));
    if (x->rank != 4)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the input must be 4-D [N, C, H, W]; it has rank %d", x->rank);
    return NULL;
}

static cnnrun_status *depth_to_space_infer(cr_op_ctx *ctx)
{
    CR_TRY(check_input(ctx));
    const cr_tensor *x = ctx->in[0];
    int64_t b;
    bool crd;
    CR_TRY(read_block(ctx, &b));
    CR_TRY(read_mode(ctx, &crd));
    if (x->dims[1] % (b * b) != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%lld channels are not a multiple of blocksize² = %lld",
                           (long long)x->dims[1], (long long)(b * b));
    if (x->dims[2] > INT64_MAX / b || x->dims[3] > INT64_MAX / b)
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output dims overflow");
    int64_t dims[4] = {x->dims[0], x->dims[1] / (b * b), x->dims[2] * b, x->dims[3] * b};
    cr_set_output(ctx, 0, x->dtype, 4, dims);
    return NULL;
}

static cnnrun_status *space_to_depth_infer(cr_op_ctx *ctx)
{
    CR_TRY(check_input(ctx));
    const cr_tensor *x = ctx->in[0];
    int64_t b;
    CR_TRY(read_block(ctx, &b));
    if (x->dims[2] % b != 0 || x->dims[3] % b != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "spatial dims %lld x %lld are not multiples of blocksize %lld",
                           (long long)x->dims[2], (long long)x->dims[3], (long long)b);
    if (x->dims[1] > INT64_MAX / (b * b))
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "the output channels overflow");
    int64_t dims[4] = {x->dims[0], x->dims[1] * b * b, x->dims[2] / b, x->dims[3] / b};
    cr_set_output(ctx, 0, x->dtype, 4, dims);
    return NULL;
}

static cnnrun_status *prepare_common(cr_op_ctx *ctx, bool to_space)
{
    depth_space_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    cnnrun_status *st = read_block(ctx, &s->block);
    if (!st && to_space) st = read_mode(ctx, &s->crd);
    if (st) {
        free(s);
        return st;
    }
    const cr_tensor *depth = to_space ? ctx->in[0] : ctx->out[0];
    s->n = depth->dims[0];
    s->c = depth->dims[1];
    s->h = depth->dims[2];
    s->w = depth->dims[3];
    s->to_space = to_space;
    s->elem = cnnrun_dtype_size(depth->dtype);
    s->threads = op_threads(ctx);
    ctx->state = s;
    return NULL;
}

static cnnrun_status *depth_to_space_prepare(cr_op_ctx *ctx)
{
    return prepare_common(ctx, true);
}

static cnnrun_status *space_to_depth_prepare(cr_op_ctx *ctx)
{
    return prepare_common(ctx, false);
}

/* One spatial row (n, c', h, i) of width W·b against the b depth rows it interleaves: when
 * to_space the depth rows are read and the spatial row written, else the reverse. */
#define MOVE_ROWS(T)                                                                              \
    static void move_##T(const depth_space_state *s, const T *x, T *y)                            \
    {                                                                                             \
        int64_t b = s->block, w = s->w, h = s->h;                                                 \
        int64_t cs = s->c / (b * b); /* channels of the spatial side */                           \
        int64_t rows = s->n * cs * h * b;                                                         \
        size_t total = (size_t)rows * (size_t)(w * b) * sizeof(T);                                \
        _Pragma("omp parallel for num_threads(s->threads) if (total >= MOVE_PARALLEL_MIN_BYTES && rows > 1)") \
        for (int64_t r = 0; r < rows; r++) {                                                      \
            int64_t i = r % b, hh = (r / b) % h, c = (r / (b * h)) % cs, n = r / (b * h * cs);    \
            int64_t spatial_off = ((n * cs + c) * h * b + hh * b + i) * w * b;                    \
            for (int64_t j = 0; j < b; j++) {                                                     \
                int64_t ch = s->to_space && s->crd ? c * b * b + i * b + j : (i * b + j) * cs + c;\
                int64_t depth_off = ((n * s->c + ch) * h + hh) * w;                               \
                if (s->to_space) {                                                                \
                    const T *src = x + depth_off;                                                 \
                    T *dst = y + spatial_off + j;                                                 \
                    for (int64_t k = 0; k < w; k++) dst[k * b] = src[k];                          \
                } else {                                                                          \
                    const T *src = x + spatial_off + j;                                           \
                    T *dst = y + depth_off;                                                       \
                    for (int64_t k = 0; k < w; k++) dst[k] = src[k * b];                          \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }
MOVE_ROWS(uint8_t)
MOVE_ROWS(uint16_t)
MOVE_ROWS(uint32_t)
MOVE_ROWS(uint64_t)

static cnnrun_status *depth_space_run(cr_op_ctx *ctx)
{
    const depth_space_state *s = ctx->state;
    const void *x = ctx->in[0]->data;
    void *y = ctx->out[0]->data;
    switch (s->elem) {
    case 1: move_uint8_t(s, x, y); break;
    case 2: move_uint16_t(s, x, y); break;
    case 4: move_uint32_t(s, x, y); break;
    default: move_uint64_t(s, x, y); break;
    }
    return NULL;
}

static void free_state(void *state)
{
    free(state);
}

/* DepthToSpace: DCR only in opsets 1-10, 'mode' from 11. SpaceToDepth: unchanged from opset 1
 * (13 adds dtypes). */
static const cr_op op_depth_to_space = {
    .op_type = "DepthToSpace",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = depth_to_space_infer,
    .prepare = depth_to_space_prepare,
    .run = depth_space_run,
    .destroy = free_state,
};
static const cr_op op_space_to_depth = {
    .op_type = "SpaceToDepth",
    .domain = "",
    .opset_min = 1,
    .opset_max = 22,
    .infer = space_to_depth_infer,
    .prepare = space_to_depth_prepare,
    .run = depth_space_run,
    .destroy = free_state,
};

const cr_op *const cr_ops_depth_space[] = {&op_depth_to_space, &op_space_to_depth, NULL};
