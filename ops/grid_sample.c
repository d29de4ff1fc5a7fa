/* GridSample (opsets 16-22, 4-D): samples X [N, C, H, W] at the normalised (x, y) positions of grid
 * [N, Ho, Wo, 2], -1 and 1 being the centres of the edge pixels (align_corners=1) or their outer
 * edges (0). Modes bilinear, nearest (halves to even) and bicubic (A = -0.75); padding zeros,
 * border (coordinates clamped) or reflection (mirrored at the edges, then clamped). The
 * arithmetic follows PyTorch's grid_sample, from which ONNX's expected values come; bicubic
 * applies the padding to each of the 16 taps rather than to the sampling point, as PyTorch does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

typedef enum gs_mode { GS_BILINEAR, GS_NEAREST, GS_BICUBIC } gs_mode;
typedef enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;

typedef struct gs_params {
    gs_mode mode;
    gs_pad pad;
    bool align;
} gs_params;

static cnnrun_status *gs_params_of(const cr_op_ctx *ctx, gs_params *p)
{
    const char *mode, *pad;
    int64_t align;
    CR_TRY(cr_attr_string(ctx->node, "mode", "bilinear", &mode));
    CR_TRY(cr_attr_string(ctx->node, "padding_mode", "zeros", &pad));
    CR_TRY(cr_attr_int(ctx->node, "align_corners", 0, &align));
    /* Opset 20 renames bilinear and bicubic to linear and cubic (and makes linear the default). */
    bool v20 = ctx->opset >= 20;
    if (v20 && !cr_node_attr(ctx->node, "mode")) mode = "linear";
    if (strcmp(mode, v20 ? "linear" : "bilinear") == 0) p->mode = GS_BILINEAR;
    else if (strcmp(mode, "nearest") == 0) p->mode = GS_NEAREST;
    else if (strcmp(mode, v20 ? "cubic" : "bicubic") == 0) p->mode = GS_BICUBIC;
    else return cr_op_unsupported_attr(ctx, "mode", v20 ? "expected linear, nearest or cubic"
                                                        : "expected bilinear, nearest or bicubic");
    if (strcmp(pad, "zeros") == 0) p->pad = GS_ZEROS;
    else if (strcmp(pad, "border") == 0) p->pad = GS_BORDER;
    else if (strcmp(pad, "reflection") == 0) p->pad = GS_REFLECTION;
    else return cr_op_unsupported_attr(ctx, "padding_mode", "expected zeros, border or reflection");
    if (align != 0 && align != 1) return cr_op_unsupported_attr(ctx, "align_corners", "must be 0 or 1");
    p->align = align == 1;
    return NULL;
}

static cnnrun_status *gs_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 1, floats));
    const cr_tensor *x = ctx->in[0], *g = ctx->in[1];
    char sx[128], sg[128];
    if (x->rank != 4 || g->rank != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
        return cr_op_error(ctx, x->rank > 4 ? CNNRUN_ERR_UNSUPPORTED : CNNRUN_ERR_INPUT_MISMATCH,
                           "expected X [N, C, H, W] and grid [N, Ho, Wo, 2] (volumetric sampling, opset 20, is not "
                           "implemented); found %s and %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx), cr_shape_str(g->rank, g->dims, sg, sizeof sg));
    gs_params p;
    CR_TRY(gs_params_of(ctx, &p));
    int64_t dims[4] = {x->dims[0], x->dims[1], g->dims[1], g->dims[2]};
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, 4, dims);
    return NULL;
}

static float unnormalize(float c, int64_t size, bool align)
{
    return align ? (c + 1.0f) / 2.0f * (float)(size - 1) : ((c + 1.0f) * (float)size - 1.0f) / 2.0f;
}

static float clip_coord(float c, int64_t size)
{
    return fminf((float)(size - 1), fmaxf(c, 0.0f));
}

/* Mirrors c into [twice_low / 2, twice_high / 2]. */
static float reflect_coord(float c, int64_t twice_low, int64_t twice_high)
{
    if (twice_low == twice_high) return 0.0f;
    float lo = (float)twice_low / 2.0f, span = (float)(twice_high - twice_low) / 2.0f;
    c = fabsf(c - lo);
    float extra = fmodf(c, span);
    int64_t flips = (int64_t)floorf(c / span);
    return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

static float pad_coord(float c, int64_t size, const gs_params *p)
{
    if (p->pad == GS_BORDER) return clip_coord(c, size);
    if (p->pad == GS_REFLECTION) {
        c = p->align ? reflect_coord(c, 0, 2 * (size - 1)) : reflect_coord(c, -1, 2 * size - 1);
        return clip_coord(c, size);
    }
    return c;
}

static float pixel(const float *m, int64_t h, int64_t w, int64_t y, int64_t x)
{
    return (y >= 0 && y < h && x >= 0 && x < w) ? m[y * w + x] : 0.0f;
}

static float cubic1(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }
static float cubic2(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }

static void cubic_coeffs(float t, float *c)
{
    const float a = -0.75f;
    c[0] = cubic2(t + 1.0f, a);
    c[1] = cubic1(t, a);
    c[2] = cubic1(1.0f - t, a);
    c[3] = cubic2(2.0f - t, a);
}

static float sample(const float *m, int64_t h, int64_t w, float gx, float gy, const gs_params *p)
{
    float ix = unnormalize(gx, w, p->align), iy = unnormalize(gy, h, p->align);
    if (p->mode == GS_BICUBIC) {
        float x0 = floorf(ix), y0 = floorf(iy), cx[4], cy[4], acc = 0.0f;
        cubic_coeffs(ix - x0, cx);
        cubic_coeffs(iy - y0, cy);
        for (int j = 0; j < 4; j++) {
            float row = 0.0f;
            for (int i = 0; i < 4; i++) {
                float xx = pad_coord(x0 - 1.0f + (float)i, w, p), yy = pad_coord(y0 - 1.0f + (float)j, h, p);
                row += cx[i] * pixel(m, h, w, (int64_t)floorf(yy), (int64_t)floorf(xx));
            }
            acc += cy[j] * row;
        }
        return acc;
    }
    ix = pad_coord(ix, w, p);
    iy = pad_coord(iy, h, p);
    if (!isfinite(ix) || !isfinite(iy) || fabsf(ix) > 1e15f || fabsf(iy) > 1e15f) return 0.0f;
    if (p->mode == GS_NEAREST) return pixel(m, h, w, (int64_t)nearbyintf(iy), (int64_t)nearbyintf(ix));
    float x0 = floorf(ix), y0 = floorf(iy), tx = ix - x0, ty = iy - y0;
    int64_t xi = (int64_t)x0, yi = (int64_t)y0;
    return pixel(m, h, w, yi, xi) * (1.0f - tx) * (1.0f - ty) + pixel(m, h, w, yi, xi + 1) * tx * (1.0f - ty) +
           pixel(m, h, w, yi + 1, xi) * (1.0f - tx) * ty + pixel(m, h, w, yi + 1, xi + 1) * tx * ty;
}

static cnnrun_status *gs_run(cr_op_ctx *ctx)
{
    gs_params p;
    CR_TRY(gs_params_of(ctx, &p));
    const cr_tensor *x = ctx->in[0], *g = ctx->in[1];
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3], ho = g->dims[1], wo = g->dims[2];
    const float *grid = g->data, *in = x->data;
    float *out = ctx->out[0]->data;
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *m = in + (b * c + ch) * h * w;
            float *o = out + (b * c + ch) * ho * wo;
            const float *gb = grid + b * ho * wo * 2;
            for (int64_t i = 0; i < ho * wo; i++) o[i] = sample(m, h, w, gb[2 * i], gb[2 * i + 1], &p);
        }
    return NULL;
}

/* Opset 16 (4-D); 20 renames the modes and extends it to N-D (refused beyond 4-D here); 22 adds
 * dtypes. */
static const cr_op op_grid_sample = {.op_type = "GridSample", .domain = "", .opset_min = 16, .opset_max = 22,
                                     .infer = gs_infer, .run = gs_run};

const cr_op *const cr_ops_grid_sample[] = {&op_grid_sample, NULL};
