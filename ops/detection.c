/* Detection heads: NonMaxSuppression and RoiAlign.
 *
 * NonMaxSuppression, per batch and class: the boxes scoring above score_threshold, by score
 * (ties: lower box index first), each kept when its IoU with every box kept before it is at most
 * iou_threshold, up to max_output_boxes_per_class. Boxes are corners [y1, x1, y2, x2] in any
 * order (center_point_box=0) or [x_center, y_center, width, height] (1). The output
 * [selected, 3] (batch, class, box) has a data-dependent length, so, as for NonZero, its inputs
 * must be known when the graph is planned; a detector whose boxes are computed while running is
 * refused with a message that says so.
 *
 * RoiAlign: for each region of interest, an output_height x output_width grid of bins, each the
 * average (mode avg) or maximum (mode max, as ONNX Runtime computes it: the largest weighted
 * corner over the samples) of sampling_ratio^2 bilinear samples (adaptive: ceil(roi size / bins)
 * when 0). half_pixel (opset 16's default) shifts coordinates by half a pixel;
 * output_half_pixel (the behaviour of opset 10) does not, and makes regions at least 1 x 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index_util.h"

/* ---- NonMaxSuppression ------------------------------------------------------------------------ */

typedef struct nms_params {
    int64_t batches, classes, boxes, max_out;
    float iou, score;
    bool has_score, center;
} nms_params;

static cnnrun_status *nms_params_of(const cr_op_ctx *ctx, nms_params *p)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 5));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 1, floats));
    const cr_tensor *b = ctx->in[0], *s = ctx->in[1];
    char sb[128], ss[128];
    if (b->rank != 3 || b->dims[2] != 4 || s->rank != 3 || s->dims[0] != b->dims[0] || s->dims[2] != b->dims[1])
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "expected boxes [B, N, 4] and scores [B, C, N]; found %s and %s",
                           cr_shape_str(b->rank, b->dims, sb, sizeof sb), cr_shape_str(s->rank, s->dims, ss, sizeof ss));
    int64_t center;
    CR_TRY(cr_attr_int(ctx->node, "center_point_box", 0, &center));
    if (center != 0 && center != 1) return cr_op_unsupported_attr(ctx, "center_point_box", "must be 0 or 1");
    p->center = center == 1;
    p->batches = b->dims[0];
    p->classes = s->dims[1];
    p->boxes = b->dims[1];
    p->max_out = 0;
    p->iou = 0.0f;
    p->has_score = false;
    for (int i = 0; i < 2; i++)
        if (!ctx->in[i]->data) {
            cr_note_missing_value(ctx, i);
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                               "the number of selected boxes sets the output shape, so boxes and scores must be known "
                               "when the graph is planned (constants or small graph inputs); here they are computed while running");
        }
    size_t n;
    if (ctx->n_in > 2 && ctx->in[2]) CR_TRY(cr_const_ints(ctx, 2, "max_output_boxes_per_class", &p->max_out, 1, &n));
    if (ctx->n_in > 3 && ctx->in[3]) CR_TRY(cr_const_floats(ctx, 3, "iou_threshold", &p->iou, 1, &n));
    if (ctx->n_in > 4 && ctx->in[4]) {
        CR_TRY(cr_const_floats(ctx, 4, "score_threshold", &p->score, 1, &n));
        p->has_score = n == 1;
    }
    if (p->max_out < 0) p->max_out = 0;
    if (p->max_out > p->boxes) p->max_out = p->boxes;
    return NULL;
}

/* Box i of a batch as corners y1 <= y2, x1 <= x2. */
static void box_corners(const float *b, bool center, float *y1, float *x1, float *y2, float *x2)
{
    if (center) {
        *x1 = b[0] - b[2] / 2.0f;
        *x2 = b[0] + b[2] / 2.0f;
        *y1 = b[1] - b[3] / 2.0f;
        *y2 = b[1] + b[3] / 2.0f;
    } else {
        *y1 = fminf(b[0], b[2]);
        *y2 = fmaxf(b[0], b[2]);
        *x1 = fminf(b[1], b[3]);
        *x2 = fmaxf(b[1], b[3]);
    }
}

static float box_iou(const float *a, const float *b, bool center)
{
    float ay1, ax1, ay2, ax2, by1, bx1, by2, bx2;
    box_corners(a, center, &ay1, &ax1, &ay2, &ax2);
    box_corners(b, center, &by1, &bx1, &by2, &bx2);
    float ih = fminf(ay2, by2) - fmaxf(ay1, by1), iw = fminf(ax2, bx2) - fmaxf(ax1, bx1);
    if (ih <= 0.0f || iw <= 0.0f) return 0.0f;
    float inter = ih * iw, uni = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

/* Selects for every batch and class; writes triples to out (if not NULL) and returns the count.
 * order and kept: boxes entries each. */
static int64_t nms_select(const cr_op_ctx *ctx, const nms_params *p, int64_t *order, int64_t *kept, int64_t *out)
{
    const float *boxes = ctx->in[0]->data, *scores = ctx->in[1]->data;
    int64_t total = 0;
    for (int64_t b = 0; b < p->batches; b++)
        for (int64_t c = 0; c < p->classes; c++) {
            const float *sc = scores + (b * p->classes + c) * p->boxes;
            const float *bx = boxes + b * p->boxes * 4;
            int64_t n = 0;
            for (int64_t i = 0; i < p->boxes; i++)
                if (!p->has_score || sc[i] > p->score) order[n++] = i;
            /* Insertion sort by score, descending; stable, so equal scores keep index order. */
            for (int64_t i = 1; i < n; i++)
                for (int64_t k = i; k > 0 && sc[order[k]] > sc[order[k - 1]]; k--) {
                    int64_t t = order[k]; order[k] = order[k - 1]; order[k - 1] = t;
                }
            int64_t n_kept = 0;
            for (int64_t i = 0; i < n && n_kept < p->max_out; i++) {
                bool keep = true;
                for (int64_t k = 0; k < n_kept && keep; k++)
                    keep = box_iou(bx + order[i] * 4, bx + kept[k] * 4, p->center) <= p->iou;
                if (!keep) continue;
                kept[n_kept++] = order[i];
                if (out) {
                    out[total * 3] = b;
                    out[total * 3 + 1] = c;
                    out[total * 3 + 2] = order[i];
                }
                total++;
            }
        }
    return total;
}

static cnnrun_status *nms_infer(cr_op_ctx *ctx)
{
    nms_params p;
    CR_TRY(nms_params_of(ctx, &p));
    int64_t *work = malloc((size_t)(2 * p.boxes + 1) * sizeof *work); /* plan time only */
    if (!work) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for %lld boxes", (long long)p.boxes);
    int64_t dims[2] = {nms_select(ctx, &p, work, work + p.boxes, NULL), 3};
    free(work);
    cr_set_output(ctx, 0, CNNRUN_INT64, 2, dims);
    return NULL;
}

static cnnrun_status *nms_prepare(cr_op_ctx *ctx)
{
    nms_params p;
    CR_TRY(nms_params_of(ctx, &p));
    ctx->scratch_bytes = (size_t)(2 * p.boxes + 1) * sizeof(int64_t);
    return NULL;
}

static cnnrun_status *nms_run(cr_op_ctx *ctx)
{
    nms_params p;
    CR_TRY(nms_params_of(ctx, &p));
    int64_t *work = ctx->scratch;
    nms_select(ctx, &p, work, work + p.boxes, ctx->out[0]->data);
    return NULL;
}

/* ---- RoiAlign --------------------------------------------------------------------------------- */

typedef struct roi_params {
    int64_t out_h, out_w, sampling;
    float scale;
    bool half_pixel, max_mode;
} roi_params;

static cnnrun_status *roi_params_of(const cr_op_ctx *ctx, roi_params *p)
{
    const char *mode, *ctm;
    CR_TRY(cr_attr_string(ctx->node, "mode", "avg", &mode));
    CR_TRY(cr_attr_string(ctx->node, "coordinate_transformation_mode", ctx->opset >= 16 ? "half_pixel" : "output_half_pixel", &ctm));
    CR_TRY(cr_attr_int(ctx->node, "output_height", 1, &p->out_h));
    CR_TRY(cr_attr_int(ctx->node, "output_width", 1, &p->out_w));
    CR_TRY(cr_attr_int(ctx->node, "sampling_ratio", 0, &p->sampling));
    CR_TRY(cr_attr_float(ctx->node, "spatial_scale", 1.0f, &p->scale));
    if (strcmp(mode, "avg") && strcmp(mode, "max")) return cr_op_unsupported_attr(ctx, "mode", "expected avg or max");
    if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
        return cr_op_unsupported_attr(ctx, "coordinate_transformation_mode", "expected half_pixel or output_half_pixel");
    if (p->out_h < 1 || p->out_w < 1 || p->out_h > 65536 || p->out_w > 65536 || p->sampling < 0 || p->sampling > 1024)
        return cr_op_unsupported_attr(ctx, "output_height/output_width/sampling_ratio", "out of range");
    p->max_mode = strcmp(mode, "max") == 0;
    p->half_pixel = strcmp(ctm, "half_pixel") == 0;
    return NULL;
}

static cnnrun_status *roi_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    static const cnnrun_dtype index_types[] = {CNNRUN_INT64, 0};
    CR_TRY(cr_op_check_inputs(ctx, 3, 3));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 1, floats));
    CR_TRY(cr_op_check_dtype(ctx, 2, index_types));
    const cr_tensor *x = ctx->in[0], *r = ctx->in[1], *bi = ctx->in[2];
    char sx[128], sr[128], sb[128];
    if (x->rank != 4 || r->rank != 2 || r->dims[1] != 4 || bi->rank != 1 || bi->dims[0] != r->dims[0])
        return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "expected X [N, C, H, W], rois [R, 4], batch_indices [R]; found %s, %s, %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx), cr_shape_str(r->rank, r->dims, sr, sizeof sr),
                           cr_shape_str(bi->rank, bi->dims, sb, sizeof sb));
    roi_params p;
    CR_TRY(roi_params_of(ctx, &p));
    int64_t dims[4] = {r->dims[0], x->dims[1], p.out_h, p.out_w};
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, 4, dims);
    return NULL;
}

/* One bilinear sample of a [H, W] map at (y, x), weighted corners as ONNX's reference takes them;
 * points more than a pixel outside give 0. With max_mode, the largest weighted corner instead. */
static float roi_sample(const float *m, int64_t h, int64_t w, float y, float x, bool max_mode)
{
    if (y < -1.0f || y > (float)h || x < -1.0f || x > (float)w) return 0.0f;
    if (y <= 0.0f) y = 0.0f;
    if (x <= 0.0f) x = 0.0f;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= h - 1) { y0 = y1 = h - 1; y = (float)y0; } else y1 = y0 + 1;
    if (x0 >= w - 1) { x0 = x1 = w - 1; x = (float)x0; } else x1 = x0 + 1;
    float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    float a = hy * hx * m[y0 * w + x0], b = hy * lx * m[y0 * w + x1], c = ly * hx * m[y1 * w + x0], d = ly * lx * m[y1 * w + x1];
    if (max_mode) return fmaxf(fmaxf(a, b), fmaxf(c, d));
    return a + b + c + d;
}

static cnnrun_status *roi_run(cr_op_ctx *ctx)
{
    roi_params p;
    CR_TRY(roi_params_of(ctx, &p));
    const cr_tensor *x = ctx->in[0], *r = ctx->in[1], *bi = ctx->in[2];
    int64_t n = x->dims[0], ch = x->dims[1], h = x->dims[2], w = x->dims[3], rois = r->dims[0];
    const float *rv = r->data;
    const int64_t *bv = bi->data;
    for (int64_t i = 0; i < rois; i++)
        if (bv[i] < 0 || bv[i] >= n)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "batch index %lld of region %lld is outside [0, %lld)",
                               (long long)bv[i], (long long)i, (long long)n);
    float *y = ctx->out[0]->data;
    float off = p.half_pixel ? 0.5f : 0.0f;
    for (int64_t i = 0; i < rois; i++) {
        float sw = rv[i * 4] * p.scale - off, sh = rv[i * 4 + 1] * p.scale - off;
        float rw = rv[i * 4 + 2] * p.scale - off - sw, rh = rv[i * 4 + 3] * p.scale - off - sh;
        if (!p.half_pixel) {
            rw = fmaxf(rw, 1.0f);
            rh = fmaxf(rh, 1.0f);
        }
        float bh = rh / (float)p.out_h, bw = rw / (float)p.out_w;
        int64_t gh = p.sampling > 0 ? p.sampling : (int64_t)ceilf(rh / (float)p.out_h);
        int64_t gw = p.sampling > 0 ? p.sampling : (int64_t)ceilf(rw / (float)p.out_w);
        if (gh < 1) gh = 1;
        if (gw < 1) gw = 1;
        if (gh > 1024) gh = 1024; /* a huge region on a tiny grid: bound the work */
        if (gw > 1024) gw = 1024;
        float count = (float)(gh * gw);
        for (int64_t c = 0; c < ch; c++) {
            const float *m = (const float *)x->data + (bv[i] * ch + c) * h * w;
            float *yo = y + ((i * ch + c) * p.out_h) * p.out_w;
            for (int64_t ph = 0; ph < p.out_h; ph++)
                for (int64_t pw = 0; pw < p.out_w; pw++) {
                    float acc = p.max_mode ? -INFINITY : 0.0f;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        float yy = sh + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            float xx = sw + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw;
                            float v = roi_sample(m, h, w, yy, xx, p.max_mode);
                            acc = p.max_mode ? fmaxf(acc, v) : acc + v;
                        }
                    }
                    yo[ph * p.out_w + pw] = p.max_mode ? acc : acc / count;
                }
        }
    }
    return NULL;
}

/* NonMaxSuppression: 10 (11 adds nothing to the semantics). RoiAlign: 10; 16 adds
 * coordinate_transformation_mode (default half_pixel), whose absence below 16 means
 * output_half_pixel. */
static const cr_op op_nms = {.op_type = "NonMaxSuppression", .domain = "", .opset_min = 10, .opset_max = 22,
                             .infer = nms_infer, .prepare = nms_prepare, .run = nms_run};
static const cr_op op_roi_align = {.op_type = "RoiAlign", .domain = "", .opset_min = 10, .opset_max = 22,
                                   .infer = roi_infer, .run = roi_run};

const cr_op *const cr_ops_detection[] = {&op_nms, &op_roi_align, NULL};
