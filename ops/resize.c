/* Resize (opsets 10–22) and Upsample (opsets 7–9).
 *
 * The sizes, scales and roi inputs decide the output shape, so they must be known when the graph
 * is planned. prepare turns them into one table per resized axis: for every output coordinate,
 * the source indices ("taps": 1 for nearest, 2 for linear, 4 for cubic) and their weights, and
 * whether the point falls outside the crop box (tf_crop_and_resize). run then needs no float
 * coordinate arithmetic:
 *   - nearest is one gather over all axes at once; an output row whose source row equals the one
 *     before it (integer upsampling of H) is a memcpy of the row already written;
 *   - linear and cubic are separable, so they run one pass per resized axis through scratch
 *     buffers, shrinking axes first so the intermediates stay small. For NCHW with H and W
 *     resized this is a W pass gathering along rows, then an H pass blending whole rows (which
 *     vectorises).
 * Coordinates follow the ONNX reference: the resized length in the transformation formulas is
 * input length × scale (not the floored output length), and for "sizes" the scale is
 * output / input. Upsample and Resize-10 use the asymmetric transformation and, for nearest,
 * floor (as Upsample-7 specifies and PyTorch computes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define RESIZE_PARALLEL_MIN 32768

typedef enum resize_mode { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } resize_mode;

typedef enum coord_mode {
    COORD_HALF_PIXEL,
    COORD_PYTORCH_HALF_PIXEL,
    COORD_ALIGN_CORNERS,
    COORD_ASYMMETRIC,
    COORD_TF_HALF_PIXEL_FOR_NN,
    COORD_TF_CROP_AND_RESIZE,
    COORD_HALF_PIXEL_SYMMETRIC
} coord_mode;

/* Resize-18's keep_aspect_ratio_policy for sizes: stretch to them, or scale every resized axis
 * by one factor so that the result fits in them (not_larger) or covers them (not_smaller). */
typedef enum aspect_policy { ASPECT_STRETCH, ASPECT_NOT_LARGER, ASPECT_NOT_SMALLER } aspect_policy;

typedef enum nearest_mode { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL } nearest_mode;

/* Everything the attributes and shape inputs say, read identically by infer and prepare. */
typedef struct resize_params {
    resize_mode mode;
    coord_mode coord;
    nearest_mode nearest;
    double cubic_a;
    bool exclude_outside;
    double extrapolation;
    int rank;
    int64_t out_dims[CR_MAX_RANK];
    double scale[CR_MAX_RANK];          /* used in the coordinate formulas */
    double roi_start[CR_MAX_RANK], roi_end[CR_MAX_RANK];
    /* Resize-18: the axes that scales, sizes and roi cover (all when n_axes == rank), the aspect
     * policy and antialias. */
    int n_axes;
    int axes[CR_MAX_RANK];
    aspect_policy aspect;
    double aspect_scale;                /* with not_larger/not_smaller: the one scale of the axes */
    bool antialias;
} resize_params;

typedef struct axis_table {
    int64_t in_len, out_len;
    int taps;
    int64_t *idx;                       /* out_len * taps source indices, clamped into range */
    float *w;                           /* out_len * taps weights */
    unsigned char *outside;             /* out_len flags: write the extrapolation value */
    bool identity;
} axis_table;

typedef struct resize_state {
    resize_mode mode;
    int rank;
    cnnrun_dtype dtype;
    size_t elem;
    int64_t in_dims[CR_MAX_RANK], out_dims[CR_MAX_RANK];
    axis_table axes[CR_MAX_RANK];
    bool any_outside;
    float extrapolation_f;
    uint64_t extrapolation_bits;        /* the extrapolation value in the tensor's dtype */
    int n_passes;                       /* linear/cubic: axes to resize, in pass order */
    int pass_axis[CR_MAX_RANK];
    int threads;
} resize_state;

static int op_threads(const cr_op_ctx *ctx)
{
    return ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
}

static bool input_present(const cr_op_ctx *ctx, int i)
{
    return i < ctx->n_in && ctx->in[i] && cr_tensor_count(ctx->in[i]) > 0;
}

/* Reads a float32/float64 constant input (at most max_count values). */
static cnnrun_status *const_floats(const cr_op_ctx *ctx, int input, const char *role, double *values,
                                   size_t max_count, size_t *count)
{
    const cr_tensor *t = ctx->in[input];
    if (!t->data) {
        cr_note_missing_value(ctx, input); /* a graph input: the planner keys the plan by it */
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "the %s input must be known when the graph is planned (a constant, a "
                           "graph input, or computed from shapes only)", role);
    }
    if (t->dtype != CNNRUN_FLOAT32 && t->dtype != CNNRUN_FLOAT64)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input must be float32 or float64, found %s",
                           role, cnnrun_dtype_name(t->dtype));
    int64_t n = cr_tensor_count(t);
    if (n < 0 || (size_t)n > max_count)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "the %s input has %lld values; at most %zu expected",
                           role, (long long)n, max_count);
    for (int64_t i = 0; i < n; i++)
        values[i] = t->dtype == CNNRUN_FLOAT32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
    *count = (size_t)n;
    return NULL;
}

static cnnrun_status *read_mode(const cr_op_ctx *ctx, resize_params *p)
{
    const char *mode;
    CR_TRY(cr_attr_string(ctx->node, "mode", "nearest", &mode));
    if (strcmp(mode, "nearest") == 0) p->mode = MODE_NEAREST;
    else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0) p->mode = MODE_LINEAR;
    else if (strcmp(mode, "cubic") == 0 && ctx->opset >= 11) p->mode = MODE_CUBIC;
    else return cr_op_unsupported_attr(ctx, "mode", "expected nearest, linear or (from opset 11) cubic");
    if (strcmp(mode, "bilinear") == 0 && strcmp(ctx->node->op_type, "Upsample") != 0)
        return cr_op_unsupported_attr(ctx, "mode", "'bilinear' belongs to Upsample-7 only");
    return NULL;
}

static cnnrun_status *read_resize11_attrs(const cr_op_ctx *ctx, resize_params *p)
{
    static const struct { const char *name; coord_mode mode; int opset_max; } coords[] = {
        {"half_pixel", COORD_HALF_PIXEL, 99},         {"pytorch_half_pixel", COORD_PYTORCH_HALF_PIXEL, 99},
        {"align_corners", COORD_ALIGN_CORNERS, 99},   {"asymmetric", COORD_ASYMMETRIC, 99},
        {"tf_crop_and_resize", COORD_TF_CROP_AND_RESIZE, 99},
        {"tf_half_pixel_for_nn", COORD_TF_HALF_PIXEL_FOR_NN, 12},
        {"half_pixel_symmetric", COORD_HALF_PIXEL_SYMMETRIC, 99},
    };
    static const struct { const char *name; nearest_mode mode; } nearests[] = {
        {"round_prefer_floor", NEAREST_ROUND_PREFER_FLOOR}, {"round_prefer_ceil", NEAREST_ROUND_PREFER_CEIL},
        {"floor", NEAREST_FLOOR}, {"ceil", NEAREST_CEIL},
    };
    const char *s;
    CR_TRY(cr_attr_string(ctx->node, "coordinate_transformation_mode", "half_pixel", &s));
    size_t i;
    for (i = 0; i < sizeof coords / sizeof *coords; i++)
        if (strcmp(s, coords[i].name) == 0 && ctx->opset <= coords[i].opset_max &&
            (coords[i].mode != COORD_HALF_PIXEL_SYMMETRIC || ctx->opset >= 19))
            break;
    if (i == sizeof coords / sizeof *coords)
        return cr_op_unsupported_attr(ctx, "coordinate_transformation_mode",
                                      "expected half_pixel, pytorch_half_pixel, align_corners, asymmetric, "
                                      "tf_crop_and_resize, (opsets 11-12) tf_half_pixel_for_nn or (from 19) "
                                      "half_pixel_symmetric");
    p->coord = coords[i].mode;
    CR_TRY(cr_attr_string(ctx->node, "nearest_mode", "round_prefer_floor", &s));
    for (i = 0; i < sizeof nearests / sizeof *nearests; i++)
        if (strcmp(s, nearests[i].name) == 0) break;
    if (i == sizeof nearests / sizeof *nearests)
        return cr_op_unsupported_attr(ctx, "nearest_mode", "expected round_prefer_floor, round_prefer_ceil, floor or ceil");
    p->nearest = nearests[i].mode;
    float f;
    int64_t v;
    CR_TRY(cr_attr_float(ctx->node, "cubic_coeff_a", -0.75f, &f));
    p->cubic_a = f;
    CR_TRY(cr_attr_int(ctx->node, "exclude_outside", 0, &v));
    if (v != 0 && v != 1) return cr_op_unsupported_attr(ctx, "exclude_outside", "expected 0 or 1");
    p->exclude_outside = v == 1;
    CR_TRY(cr_attr_float(ctx->node, "extrapolation_value", 0.0f, &f));
    p->extrapolation = f;
    p->n_axes = ctx->in[0]->rank;
    for (int d = 0; d < p->n_axes; d++) p->axes[d] = d;
    p->aspect = ASPECT_STRETCH;
    static const char *const later[] = {"antialias", "axes", "keep_aspect_ratio_policy"};
    if (ctx->opset < 18) {
        /* Opset 18 attributes, refused by name if a model carries them at an older opset. */
        for (i = 0; i < sizeof later / sizeof *later; i++)
            if (cr_node_attr(ctx->node, later[i]))
                return cr_op_unsupported_attr(ctx, later[i], "it belongs to Resize-18 and later");
        return NULL;
    }
    CR_TRY(cr_attr_int(ctx->node, "antialias", 0, &v));
    if (v != 0 && v != 1) return cr_op_unsupported_attr(ctx, "antialias", "expected 0 or 1");
    p->antialias = v == 1;
    CR_TRY(cr_attr_string(ctx->node, "keep_aspect_ratio_policy", "stretch", &s));
    if (strcmp(s, "stretch") == 0) p->aspect = ASPECT_STRETCH;
    else if (strcmp(s, "not_larger") == 0) p->aspect = ASPECT_NOT_LARGER;
    else if (strcmp(s, "not_smaller") == 0) p->aspect = ASPECT_NOT_SMALLER;
    else return cr_op_unsupported_attr(ctx, "keep_aspect_ratio_policy", "expected stretch, not_larger or not_smaller");
    const int64_t *axes;
    size_t n;
    CR_TRY(cr_attr_ints(ctx->node, "axes", &axes, &n));
    if (axes) {
        if (n > (size_t)ctx->in[0]->rank)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute axes has %zu values for rank %d", n,
                               ctx->in[0]->rank);
        bool seen[CR_MAX_RANK] = {false};
        for (size_t k = 0; k < n; k++) {
            CR_TRY(cr_normalize_axis(ctx, "attribute axes", axes[k], ctx->in[0]->rank, &p->axes[k]));
            if (seen[p->axes[k]])
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d appears more than once in axes", p->axes[k]);
            seen[p->axes[k]] = true;
        }
        p->n_axes = (int)n;
    }
    return NULL;
}

/* Resize-18: values given for p->axes only, spread over every axis (fill for the others). */
static void spread_over_axes(const resize_params *p, double *v, double fill)
{
    double given[CR_MAX_RANK];
    memcpy(given, v, (size_t)p->n_axes * sizeof *v);
    for (int d = 0; d < p->rank; d++) v[d] = fill;
    for (int k = 0; k < p->n_axes; k++) v[p->axes[k]] = given[k];
}

static cnnrun_status *check_scales(const cr_op_ctx *ctx, const double *scales, size_t n, int rank)
{
    if (n != (size_t)rank)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "scales has %zu values for an input of rank %d", n, rank);
    for (int d = 0; d < rank; d++)
        if (!(scales[d] > 0) || !isfinite(scales[d]))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "scale %g of axis %d is not a positive number",
                               scales[d], d);
    return NULL;
}

/* Resize-18 sizes for p->axes into sizes for every axis; with not_larger/not_smaller, one scale
 * (the smallest or largest of sizes / input over the axes) for all of them, which the coordinate
 * formulas then use, and the sizes rounded from it (halves up), as ONNX's reference does. */
static cnnrun_status *apply_sizes_policy(const cr_op_ctx *ctx, resize_params *p, int64_t *sizes)
{
    const cr_tensor *x = ctx->in[0];
    int64_t given[CR_MAX_RANK];
    memcpy(given, sizes, (size_t)p->n_axes * sizeof *sizes);
    for (int d = 0; d < p->rank; d++) sizes[d] = x->dims[d];
    if (p->aspect == ASPECT_STRETCH) {
        for (int k = 0; k < p->n_axes; k++) sizes[p->axes[k]] = given[k];
        return NULL;
    }
    double scale = p->aspect == ASPECT_NOT_LARGER ? INFINITY : 0.0;
    for (int k = 0; k < p->n_axes; k++) {
        int64_t in = x->dims[p->axes[k]];
        if (in <= 0) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "keep_aspect_ratio_policy needs non-empty axes");
        double r = (double)given[k] / (double)in;
        scale = p->aspect == ASPECT_NOT_LARGER ? fmin(scale, r) : fmax(scale, r);
    }
    for (int k = 0; k < p->n_axes; k++) sizes[p->axes[k]] = (int64_t)floor(scale * (double)x->dims[p->axes[k]] + 0.5);
    p->aspect_scale = scale;
    return NULL;
}

/* Input positions: Upsample-7 none (attribute), Upsample-9 and Resize-10 scales = 1, Resize-11+
 * roi = 1, scales = 2, sizes = 3. */
static cnnrun_status *read_params(const cr_op_ctx *ctx, resize_params *p)
{
    memset(p, 0, sizeof *p);
    const cr_tensor *x = ctx->in[0];
    int rank = x->rank;
    p->rank = rank;
    p->n_axes = rank;
    for (int d = 0; d < rank; d++) p->axes[d] = d;
    p->coord = COORD_ASYMMETRIC;
    p->nearest = NEAREST_FLOOR;
    p->cubic_a = -0.75;
    CR_TRY(read_mode(ctx, p));
    bool upsample = strcmp(ctx->node->op_type, "Upsample") == 0;
    double scales[CR_MAX_RANK];
    size_t n_scales = 0;
    bool have_sizes = false;
    int64_t sizes[CR_MAX_RANK];
    if (upsample && ctx->opset < 9) {
        CR_TRY(cr_op_check_inputs(ctx, 1, 1));
        const float *attr;
        CR_TRY(cr_attr_floats(ctx->node, "scales", &attr, &n_scales));
        if (!attr) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute scales is required");
        if (n_scales > CR_MAX_RANK) n_scales = CR_MAX_RANK + 1;
        for (size_t i = 0; i < n_scales && i < CR_MAX_RANK; i++) scales[i] = attr[i];
    } else if (upsample || ctx->opset < 11) {
        CR_TRY(cr_op_check_inputs(ctx, 2, 2));
        CR_TRY(const_floats(ctx, 1, "scales", scales, CR_MAX_RANK, &n_scales));
    } else {
        CR_TRY(cr_op_check_inputs(ctx, 1, 4));
        CR_TRY(read_resize11_attrs(ctx, p));
        bool have_scales = input_present(ctx, 2);
        have_sizes = input_present(ctx, 3);
        if (have_scales == have_sizes)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "exactly one of the scales and sizes inputs must be given (non-empty); found %s",
                               have_scales ? "both" : "neither");
        if (have_scales) {
            CR_TRY(const_floats(ctx, 2, "scales", scales, CR_MAX_RANK, &n_scales));
            if (n_scales != (size_t)p->n_axes)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "scales has %zu values for %s %d", n_scales,
                                   p->n_axes == rank ? "an input of rank" : "the listed axes:", p->n_axes);
            spread_over_axes(p, scales, 1.0);
            n_scales = (size_t)rank;
        } else {
            size_t n;
            CR_TRY(cr_const_ints(ctx, 3, "sizes", sizes, CR_MAX_RANK, &n));
            if (n != (size_t)p->n_axes)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "sizes has %zu values for %s %d", n,
                                   p->n_axes == rank ? "an input of rank" : "the listed axes:", p->n_axes);
            CR_TRY(apply_sizes_policy(ctx, p, sizes));
        }
    }
    for (int d = 0; d < rank; d++) {
        p->roi_start[d] = 0;
        p->roi_end[d] = 1;
    }
    if (p->coord == COORD_TF_CROP_AND_RESIZE) {
        if (!input_present(ctx, 1))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "coordinate_transformation_mode tf_crop_and_resize needs the roi input");
        double roi[2 * CR_MAX_RANK];
        size_t n;
        CR_TRY(const_floats(ctx, 1, "roi", roi, 2 * CR_MAX_RANK, &n));
        if (n != 2 * (size_t)p->n_axes)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "roi has %zu values; expected %d (starts then ends)",
                               n, 2 * p->n_axes);
        if (p->n_axes != rank) {
            double ends[CR_MAX_RANK];
            memcpy(ends, roi + p->n_axes, (size_t)p->n_axes * sizeof *ends);
            spread_over_axes(p, roi, 0.0);
            spread_over_axes(p, ends, 1.0);
            memcpy(roi + rank, ends, (size_t)rank * sizeof *ends);
        }
        for (int d = 0; d < rank; d++) {
            if (!isfinite(roi[d]) || !isfinite(roi[rank + d]))
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                   "roi of axis %d is [%g, %g]; its start and end must be finite numbers", d,
                                   roi[d], roi[rank + d]);
            p->roi_start[d] = roi[d];
            p->roi_end[d] = roi[rank + d];
        }
    }
    if (have_sizes) {
        for (int d = 0; d < rank; d++) {
            if (sizes[d] < 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "sizes[%d] = %lld is negative", d,
                                   (long long)sizes[d]);
            if (x->dims[d] == 0 && sizes[d] > 0)
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d has no input values to resize to %lld",
                                   d, (long long)sizes[d]);
            p->out_dims[d] = sizes[d];
            p->scale[d] = x->dims[d] > 0 ? (double)sizes[d] / (double)x->dims[d] : 1.0;
        }
        if (p->aspect != ASPECT_STRETCH) {
            for (int d = 0; d < rank; d++) p->scale[d] = 1.0;
            for (int k = 0; k < p->n_axes; k++) p->scale[p->axes[k]] = p->aspect_scale;
        }
        return NULL;
    }
    CR_TRY(check_scales(ctx, scales, n_scales, rank));
    for (int d = 0; d < rank; d++) {
        double extent = p->coord == COORD_TF_CROP_AND_RESIZE ? p->roi_end[d] - p->roi_start[d] : 1.0;
        double len = floor((double)x->dims[d] * extent * scales[d]);
        if (!(len >= 0) || len > 9.0e15)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "axis %d: output length %g is out of range", d, len);
        p->out_dims[d] = (int64_t)len;
        p->scale[d] = scales[d];
    }
    return NULL;
}

static cnnrun_status *resize_infer(cr_op_ctx *ctx)
{
    if (ctx->n_in < 1 || !ctx->in[0])
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input X is required");
    resize_params p;
    CR_TRY(read_params(ctx, &p));
    const cr_tensor *x = ctx->in[0];
    size_t es = cnnrun_dtype_size(x->dtype);
    if (p.mode == MODE_NEAREST && es != 1 && es != 2 && es != 4 && es != 8)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input X has dtype %s, which mode nearest does not support",
                           cnnrun_dtype_name(x->dtype));
    if (p.mode != MODE_NEAREST && x->dtype != CNNRUN_FLOAT32)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "input X has dtype %s; mode %s supports float32 only",
                           cnnrun_dtype_name(x->dtype), p.mode == MODE_LINEAR ? "linear" : "cubic");
    cr_set_output(ctx, 0, x->dtype, x->rank, p.out_dims);
    return NULL;
}

/* Source coordinate of output coordinate x along one axis; *outside when tf_crop_and_resize
 * places it beyond the input. */
static double source_coord(const resize_params *p, int d, int64_t in_len, int64_t xo, bool *outside)
{
    double x = (double)xo, s = p->scale[d];
    double len = (double)in_len * s;
    double c;
    *outside = false;
    switch (p->coord) {
    case COORD_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case COORD_HALF_PIXEL_SYMMETRIC: {
        /* Opset 19: half_pixel re-centred for the output length's rounding. */
        double adjustment = (double)p->out_dims[d] / len, center = (double)in_len / 2.0;
        return center * (1.0 - adjustment) + (x + 0.5) / s - 0.5;
    }
    case COORD_PYTORCH_HALF_PIXEL: return len > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case COORD_ALIGN_CORNERS: return len == 1 ? 0.0 : x * (double)(in_len - 1) / (len - 1);
    case COORD_ASYMMETRIC: return x / s;
    case COORD_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case COORD_TF_CROP_AND_RESIZE:
        if (len > 1)
            c = p->roi_start[d] * (double)(in_len - 1) +
                x * (p->roi_end[d] - p->roi_start[d]) * (double)(in_len - 1) / (len - 1);
        else
            c = 0.5 * (p->roi_start[d] + p->roi_end[d]) * (double)(in_len - 1);
        *outside = c < 0 || c > (double)(in_len - 1);
        return c;
    }
    return x;
}

static int64_t clamp_index(int64_t i, int64_t len)
{
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

static int64_t nearest_index(const resize_params *p, double c)
{
    double f = floor(c), frac = c - f;
    if (frac == 0) return (int64_t)f;
    switch (p->nearest) {
    case NEAREST_ROUND_PREFER_FLOOR: return (int64_t)f + (frac > 0.5);
    case NEAREST_ROUND_PREFER_CEIL: return (int64_t)f + (frac >= 0.5);
    case NEAREST_FLOOR: return (int64_t)f;
    case NEAREST_CEIL: return (int64_t)f + 1;
    }
    return (int64_t)f;
}

/* Keys' cubic convolution weights of the four neighbours floor(c)-1 .. floor(c)+2 at offset r. */
static void cubic_weights(double r, double a, double *w)
{
    double t0 = r + 1, t1 = r, t2 = 1 - r, t3 = 2 - r;
    w[0] = ((a * t0 - 5 * a) * t0 + 8 * a) * t0 - 4 * a;
    w[1] = ((a + 2) * t1 - (a + 3)) * t1 * t1 + 1;
    w[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    w[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

/* Taps per output point: 1 for nearest, 2 for linear, 4 for cubic; with antialias on an axis
 * that shrinks (scale < 1), the filter widens by 1 / scale (ONNX's reference: the kernel is
 * evaluated at (index - coordinate) * scale over floor(-support / scale) + 1 .. and normalised).
 * *first is the offset of the first tap from floor(coordinate). */
static int axis_taps(const resize_params *p, int d, int64_t *first)
{
    if (p->mode == MODE_NEAREST) {
        *first = 0;
        return 1;
    }
    double support = p->mode == MODE_LINEAR ? 1.0 : 2.0;
    double scale = p->antialias && p->scale[d] < 1.0 ? p->scale[d] : 1.0;
    *first = (int64_t)floor(-support / scale) + 1;
    return (int)(2 - 2 * *first);
}

/* Resize kernels at distance t (in input pixels times the antialias scale). */
static double linear_kernel(double t)
{
    t = fabs(t);
    return t < 1 ? 1 - t : 0;
}

static double cubic_kernel(double t, double a)
{
    t = fabs(t);
    if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0;
}

/* Antialiased linear/cubic resizing widens the filter to this many taps at most (a shrink by
 * more than ~1/1000 along one axis). */
#define RESIZE_MAX_TAPS 4096

static cnnrun_status *build_axis(const cr_op_ctx *ctx, const resize_params *p, int d, int64_t in_len, axis_table *t)
{
    t->in_len = in_len;
    t->out_len = p->out_dims[d];
    int64_t first;
    t->taps = axis_taps(p, d, &first);
    if (t->taps > RESIZE_MAX_TAPS)
        return cr_op_unsupported_attr(ctx, "antialias", "the scale shrinks an axis too far for an antialiasing filter");
    double scale = p->antialias && p->scale[d] < 1.0 ? p->scale[d] : 1.0;
    bool widened = t->taps > (p->mode == MODE_LINEAR ? 2 : 4) || (p->antialias && p->mode != MODE_NEAREST);
    size_t n = (size_t)(t->out_len > 0 ? t->out_len : 1);
    t->idx = malloc(n * (size_t)t->taps * sizeof *t->idx);
    t->w = malloc(n * (size_t)t->taps * sizeof *t->w);
    t->outside = calloc(n, 1);
    double *wd = malloc((size_t)t->taps * sizeof *wd);
    int64_t *raw = malloc((size_t)t->taps * sizeof *raw);
    if (!t->idx || !t->w || !t->outside || !wd || !raw) {
        free(wd);
        free(raw);
        return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the resize tables of axis %d", d);
    }
    t->identity = t->out_len == in_len;
    for (int64_t x = 0; x < t->out_len; x++) {
        bool outside;
        double c = source_coord(p, d, in_len, x, &outside);
        /* A far-off coordinate (a large roi, a tiny scale) must still convert to an integer: beyond
         * 2^52 doubles have no fraction, and every tap there is clamped to the edge anyway. */
        if (!(c >= -0x1p52)) c = -0x1p52;
        else if (c > 0x1p52) c = 0x1p52;
        int64_t *idx = t->idx + x * t->taps;
        float *w = t->w + x * t->taps;
        wd[0] = 1;
        if (p->mode == MODE_NEAREST) {
            raw[0] = nearest_index(p, c);
        } else {
            double f = floor(c);
            int64_t base = (int64_t)f;
            if (widened) {
                double sum = 0;
                for (int k = 0; k < t->taps; k++) {
                    raw[k] = base + first + k;
                    double dist = ((double)raw[k] - c) * scale;
                    wd[k] = p->mode == MODE_LINEAR ? linear_kernel(dist) : cubic_kernel(dist, p->cubic_a);
                    sum += wd[k];
                }
                for (int k = 0; k < t->taps; k++) wd[k] = sum != 0 ? wd[k] / sum : 0;
            } else if (p->mode == MODE_LINEAR) {
                raw[0] = base;
                raw[1] = base + 1;
                wd[0] = 1 - (c - f);
                wd[1] = c - f;
            } else {
                for (int k = 0; k < 4; k++) raw[k] = base - 1 + k;
                cubic_weights(c - f, p->cubic_a, wd);
            }
            if (p->exclude_outside) {
                double sum = 0;
                for (int k = 0; k < t->taps; k++) {
                    if (raw[k] < 0 || raw[k] >= in_len) wd[k] = 0;
                    sum += wd[k];
                }
                for (int k = 0; k < t->taps; k++) wd[k] = sum != 0 ? wd[k] / sum : 0;
            }
        }
        double own = 0;
        bool others = false;
        for (int k = 0; k < t->taps; k++) {
            idx[k] = clamp_index(raw[k], in_len);
            w[k] = (float)wd[k];
            if (idx[k] == x) own += wd[k];
            else if (wd[k] != 0) others = true;
        }
        t->outside[x] = outside;
        if (outside || others || own != 1) t->identity = false;
    }
    free(wd);
    free(raw);
    return NULL;
}

static void resize_destroy(void *state)
{
    resize_state *s = state;
    if (!s) return;
    for (int d = 0; d < s->rank; d++) {
        free(s->axes[d].idx);
        free(s->axes[d].w);
        free(s->axes[d].outside);
    }
    free(s);
}

/* The extrapolation value as the tensor's bytes. */
static cnnrun_status *extrapolation_bits(const cr_op_ctx *ctx, double v, cnnrun_dtype dt, uint64_t *bits)
{
    union { float f; double d; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
            int64_t i64; uint64_t u64; } u;
    u.u64 = 0;
    switch (dt) {
    case CNNRUN_FLOAT32: u.f = (float)v; break;
    case CNNRUN_FLOAT64: u.d = v; break;
    case CNNRUN_INT8: u.i8 = (int8_t)v; break;
    case CNNRUN_UINT8: case CNNRUN_BOOL: u.u8 = (uint8_t)v; break;
    case CNNRUN_INT16: u.i16 = (int16_t)v; break;
    case CNNRUN_UINT16: u.u16 = (uint16_t)v; break;
    case CNNRUN_INT32: u.i32 = (int32_t)v; break;
    case CNNRUN_UINT32: u.u32 = (uint32_t)v; break;
    case CNNRUN_INT64: u.i64 = (int64_t)v; break;
    case CNNRUN_UINT64: u.u64 = (uint64_t)v; break;
    default:
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "tf_crop_and_resize extrapolation is not supported for dtype %s", cnnrun_dtype_name(dt));
    }
    *bits = u.u64;
    return NULL;
}

static cnnrun_status *resize_prepare(cr_op_ctx *ctx)
{
    resize_params p;
    CR_TRY(read_params(ctx, &p));
    const cr_tensor *x = ctx->in[0];
    resize_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->mode = p.mode;
    s->rank = x->rank;
    s->dtype = x->dtype;
    s->elem = cnnrun_dtype_size(x->dtype);
    s->threads = op_threads(ctx);
    s->extrapolation_f = (float)p.extrapolation;
    cnnrun_status *st = NULL;
    for (int d = 0; d < x->rank && !st; d++) {
        s->in_dims[d] = x->dims[d];
        s->out_dims[d] = p.out_dims[d];
        st = build_axis(ctx, &p, d, x->dims[d], &s->axes[d]);
        for (int64_t i = 0; !st && i < s->axes[d].out_len; i++)
            if (s->axes[d].outside[i]) s->any_outside = true;
    }
    if (!st && s->any_outside) st = extrapolation_bits(ctx, p.extrapolation, s->dtype, &s->extrapolation_bits);
    if (st) {
        resize_destroy(s);
        return st;
    }
    if (p.mode != MODE_NEAREST) {
        /* Shrinking axes first keeps the intermediates small; among equals, the innermost first
         * (its pass is the row gather, cheapest on the smaller tensor). */
        int n = 0;
        for (int d = x->rank - 1; d >= 0; d--)
            if (!s->axes[d].identity) s->pass_axis[n++] = d;
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0; j--) {
                const axis_table *a = &s->axes[s->pass_axis[j - 1]], *b = &s->axes[s->pass_axis[j]];
                if ((double)b->out_len * (double)a->in_len >= (double)a->out_len * (double)b->in_len) break;
                int tmp = s->pass_axis[j];
                s->pass_axis[j] = s->pass_axis[j - 1];
                s->pass_axis[j - 1] = tmp;
            }
        s->n_passes = n;
        /* Two ping-pong buffers hold the intermediates (all but the last pass's result). */
        int64_t dims[CR_MAX_RANK], largest = 0;
        memcpy(dims, s->in_dims, sizeof dims);
        for (int i = 0; i + 1 < n; i++) {
            dims[s->pass_axis[i]] = s->out_dims[s->pass_axis[i]];
            int64_t c;
            if (!cr_shape_count(s->rank, dims, &c) || c > (int64_t)(CR_MAX_TENSOR_BYTES / sizeof(float))) {
                resize_destroy(s);
                return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "intermediate resize buffer too large");
            }
            if (c > largest) largest = c;
        }
        size_t one = ((size_t)largest * sizeof(float) + 63) & ~(size_t)63;
        ctx->scratch_bytes = n > 2 ? 2 * one : one;
    }
    ctx->state = s;
    return NULL;
}

/* ---- nearest: one gather over all axes ---- */

#define NEAREST_KERNEL(T)                                                                          \
    static void nearest_rows_##T(const resize_state *s, const T *x, T *y, int64_t r0, int64_t r1)   \
    {                                                                                              \
        int last = s->rank - 1;                                                                    \
        const axis_table *lt = &s->axes[last];                                                     \
        int64_t in_stride[CR_MAX_RANK];                                                            \
        cr_strides(s->rank, s->in_dims, in_stride);                                                \
        T extra;                                                                                   \
        memcpy(&extra, &s->extrapolation_bits, sizeof extra);                                      \
        int64_t prev_base = -1;                                                                    \
        for (int64_t r = r0; r < r1; r++) {                                                        \
            T *yr = y + r * lt->out_len;                                                           \
            int64_t base = 0, rest = r;                                                            \
            bool outside = false;                                                                  \
            for (int d = last - 1; d >= 0; d--) {                                                  \
                const axis_table *t = &s->axes[d];                                                 \
                int64_t o = rest % t->out_len;                                                     \
                rest /= t->out_len;                                                                \
                base += t->idx[o] * in_stride[d];                                                  \
                outside |= t->outside[o] != 0;                                                     \
            }                                                                                      \
            if (outside) {                                                                         \
                for (int64_t j = 0; j < lt->out_len; j++) yr[j] = extra;                           \
                prev_base = -1;                                                                    \
                continue;                                                                          \
            }                                                                                      \
            if (base == prev_base) {                                                               \
                memcpy(yr, yr - lt->out_len, (size_t)lt->out_len * sizeof(T));                    \
                continue;                                                                          \
            }                                                                                      \
            const T *xr = x + base;                                                                \
            if (s->any_outside)                                                                    \
                for (int64_t j = 0; j < lt->out_len; j++) yr[j] = lt->outside[j] ? extra : xr[lt->idx[j]]; \
            else                                                                                   \
                for (int64_t j = 0; j < lt->out_len; j++) yr[j] = xr[lt->idx[j]];                  \
            prev_base = base;                                                                      \
        }                                                                                          \
    }

NEAREST_KERNEL(uint8_t)
NEAREST_KERNEL(uint16_t)
NEAREST_KERNEL(uint32_t)
NEAREST_KERNEL(uint64_t)

static void nearest_run(const resize_state *s, const void *x, void *y, int64_t rows, int64_t count)
{
    int threads = count >= RESIZE_PARALLEL_MIN ? s->threads : 1;
    /* Contiguous row ranges per thread, so a repeated row is copied from one this thread wrote. */
    #pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t nt = 1, t = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
        switch (s->elem) {
        case 1: nearest_rows_uint8_t(s, x, y, r0, r1); break;
        case 2: nearest_rows_uint16_t(s, x, y, r0, r1); break;
        case 4: nearest_rows_uint32_t(s, x, y, r0, r1); break;
        default: nearest_rows_uint64_t(s, x, y, r0, r1); break;
        }
    }
}

/* ---- linear / cubic: one separable pass per resized axis ---- */

/* x viewed as [outer, in_len, inner] → y as [outer, out_len, inner] along table t. */
static void interpolate_pass(const resize_state *s, const axis_table *t, int64_t outer, int64_t inner,
                             const float *x, float *y)
{
    int64_t lines = outer * t->out_len;
    int taps = t->taps;
    float extra = s->extrapolation_f;
    bool par = lines * inner * taps >= RESIZE_PARALLEL_MIN;
    if (inner == 1) {
        #pragma omp parallel for num_threads(s->threads) if (par)
        for (int64_t o = 0; o < outer; o++) {
            const float *xr = x + o * t->in_len;
            float *yr = y + o * t->out_len;
            for (int64_t j = 0; j < t->out_len; j++) {
                const int64_t *idx = t->idx + j * taps;
                const float *w = t->w + j * taps;
                float acc = 0;
                for (int k = 0; k < taps; k++) acc += w[k] * xr[idx[k]];
                yr[j] = t->outside[j] ? extra : acc;
            }
        }
        return;
    }
    #pragma omp parallel for num_threads(s->threads) if (par)
    for (int64_t l = 0; l < lines; l++) {
        int64_t o = l / t->out_len, j = l % t->out_len;
        float *yr = y + l * inner;
        if (t->outside[j]) {
            for (int64_t i = 0; i < inner; i++) yr[i] = extra;
            continue;
        }
        const int64_t *idx = t->idx + j * taps;
        const float *w = t->w + j * taps;
        const float *xb = x + o * t->in_len * inner;
        if (taps == 2) {
            const float *a = xb + idx[0] * inner, *b = xb + idx[1] * inner;
            float wa = w[0], wb = w[1];
            for (int64_t i = 0; i < inner; i++) yr[i] = wa * a[i] + wb * b[i];
        } else if (taps != 4) { /* an antialiasing filter: accumulate tap by tap */
            for (int64_t i = 0; i < inner; i++) yr[i] = 0;
            for (int k = 0; k < taps; k++) {
                const float *a = xb + idx[k] * inner;
                float wk = w[k];
                for (int64_t i = 0; i < inner; i++) yr[i] += wk * a[i];
            }
        } else {
            const float *a = xb + idx[0] * inner, *b = xb + idx[1] * inner;
            const float *c = xb + idx[2] * inner, *e = xb + idx[3] * inner;
            float wa = w[0], wb = w[1], wc = w[2], we = w[3];
            for (int64_t i = 0; i < inner; i++) yr[i] = wa * a[i] + wb * b[i] + wc * c[i] + we * e[i];
        }
    }
}

static void interpolate_run(const resize_state *s, const float *x, float *y, void *scratch, size_t scratch_bytes)
{
    int64_t dims[CR_MAX_RANK];
    memcpy(dims, s->in_dims, sizeof dims);
    /* With one pass there are no intermediates and no scratch (NULL: no offset into it). */
    float *buf[2] = {scratch, scratch ? (float *)((char *)scratch + scratch_bytes / 2) : NULL};
    const float *src = x;
    for (int i = 0; i < s->n_passes; i++) {
        int d = s->pass_axis[i];
        int64_t outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= dims[k];
        for (int k = d + 1; k < s->rank; k++) inner *= dims[k];
        float *dst = i + 1 == s->n_passes ? y : buf[i % 2];
        interpolate_pass(s, &s->axes[d], outer, inner, src, dst);
        dims[d] = s->out_dims[d];
        src = dst;
    }
}

static cnnrun_status *resize_run(cr_op_ctx *ctx)
{
    const resize_state *s = ctx->state;
    const cr_tensor *x = ctx->in[0];
    cr_tensor *y = ctx->out[0];
    int64_t count = cr_tensor_count(y);
    if (count == 0) return NULL;
    if (s->rank == 0) {
        memcpy(y->data, x->data, s->elem);
        return NULL;
    }
    if (s->mode == MODE_NEAREST) {
        nearest_run(s, x->data, y->data, count / s->out_dims[s->rank - 1], count);
        return NULL;
    }
    if (s->n_passes == 0) {
        memcpy(y->data, x->data, (size_t)count * s->elem);
        return NULL;
    }
    interpolate_run(s, x->data, y->data, ctx->scratch, ctx->scratch_bytes);
    return NULL;
}

/* Resize-10 is Upsample-9 renamed (scales input, asymmetric coordinates); Resize-11 adds roi,
 * sizes, cubic and the coordinate/nearest modes; 13 makes roi and scales optional and drops
 * tf_half_pixel_for_nn; 18 adds axes, keep_aspect_ratio_policy and antialias (a filter widened by
 * 1 / scale on shrinking axes, linear and cubic), 19 half_pixel_symmetric. */
static const cr_op op_resize = {
    .op_type = "Resize",
    .domain = "",
    .opset_min = 10,
    .opset_max = 22,
    .infer = resize_infer,
    .prepare = resize_prepare,
    .run = resize_run,
    .destroy = resize_destroy,
};
static const cr_op op_upsample = {
    .op_type = "Upsample",
    .domain = "",
    .opset_min = 7,
    .opset_max = 9,
    .infer = resize_infer,
    .prepare = resize_prepare,
    .run = resize_run,
    .destroy = resize_destroy,
};

const cr_op *const cr_ops_resize[] = {&op_resize, &op_upsample, NULL};
