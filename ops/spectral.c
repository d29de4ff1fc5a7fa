/* Signal processing (opset 17; DFT's axis becomes an input at 20): the window generators
 * HannWindow, HammingWindow and BlackmanWindow, the discrete Fourier transforms DFT and STFT, and
 * MelWeightMatrix.
 *
 * Complex tensors are ONNX's: a last axis of 2 (real, imaginary); a real input has a last axis of
 * 1. The transforms are direct sums over the frame in double with twiddles from a table indexed
 * by (k * n) mod N, O(N^2) per line: exact to float32 rounding, and fast enough for the frame
 * lengths of audio front-ends (hundreds of samples), though not an FFT for long signals. Window
 * and DFT lengths set output shapes, so those inputs must be known when the graph is planned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"

#define CR_PI 3.14159265358979323846

/* A scalar integer input known at plan time (a window size, a frame length, a bin count). */
static cnnrun_status *scalar_int(const cr_op_ctx *ctx, int input, const char *role, int64_t *v)
{
    size_t n;
    CR_TRY(cr_const_ints(ctx, input, role, v, 1, &n));
    if (n != 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%s must hold one value", role);
    return NULL;
}

static cnnrun_status *output_float_dtype(const cr_op_ctx *ctx, cnnrun_dtype *dt)
{
    int64_t code;
    CR_TRY(cr_attr_int(ctx->node, "output_datatype", CNNRUN_FLOAT32, &code));
    if (code != CNNRUN_FLOAT32 && code != CNNRUN_FLOAT64)
        return cr_op_unsupported_attr(ctx, "output_datatype", "float32 (1) and float64 (11) are supported");
    *dt = (cnnrun_dtype)code;
    return NULL;
}

static void store_real(cr_tensor *y, int64_t i, double v)
{
    if (y->dtype == CNNRUN_FLOAT64) ((double *)y->data)[i] = v;
    else ((float *)y->data)[i] = (float)v;
}

/* ---- Windows ----------------------------------------------------------------------------------
 * w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1. */

static cnnrun_status *window_infer(cr_op_ctx *ctx)
{
    CR_TRY(cr_op_check_inputs(ctx, 1, 1));
    int64_t size, periodic;
    CR_TRY(scalar_int(ctx, 0, "size", &size));
    if (size < 0 || size > ((int64_t)1 << 32))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "window size %lld is out of range", (long long)size);
    CR_TRY(cr_attr_int(ctx->node, "periodic", 1, &periodic));
    cnnrun_dtype dt = CNNRUN_FLOAT32;
    CR_TRY(output_float_dtype(ctx, &dt));
    cr_set_output(ctx, 0, dt, 1, &size);
    return NULL;
}

static cnnrun_status *window_run(cr_op_ctx *ctx)
{
    const char *op = ctx->node->op_type;
    double a0 = 0.5, a1 = 0.5, a2 = 0.0; /* Hann */
    if (strcmp(op, "HammingWindow") == 0) {
        a0 = 25.0 / 46.0;
        a1 = 1.0 - a0;
    } else if (strcmp(op, "BlackmanWindow") == 0) {
        a0 = 0.42;
        a1 = 0.5;
        a2 = 0.08;
    }
    int64_t periodic;
    CR_TRY(cr_attr_int(ctx->node, "periodic", 1, &periodic));
    cr_tensor *y = ctx->out[0];
    int64_t size = y->dims[0];
    double denom = periodic ? (double)size : (double)(size - 1);
    for (int64_t n = 0; n < size; n++) {
        double t = denom > 0 ? (double)n / denom : 0.0;
        store_real(y, n, a0 - a1 * cos(2.0 * CR_PI * t) + a2 * cos(4.0 * CR_PI * t));
    }
    return NULL;
}

/* ---- DFT core -----------------------------------------------------------------------------------
 * out[k] = sum_n in[n] e^(-+2 pi i k n / N) (/ N when inverse), for k < bins, n < len (the input
 * zero-padded or cut to N). Input and output lines are strided; complex values are pairs. */

typedef struct dft_line {
    int64_t len, n_fft, bins;
    bool in_complex, inverse;
    const double *cos_t, *sin_t; /* cos and sin of 2 pi j / n_fft, j < n_fft */
} dft_line;

static void dft_compute(const dft_line *d, const float *in, int64_t in_stride, const float *window, float *out,
                        int64_t out_stride)
{
    int64_t len = d->len < d->n_fft ? d->len : d->n_fft;
    double sign = d->inverse ? 1.0 : -1.0, scale = d->inverse ? 1.0 / (double)d->n_fft : 1.0;
    for (int64_t k = 0; k < d->bins; k++) {
        double re = 0.0, im = 0.0;
        int64_t j = 0; /* (k * n) mod n_fft, stepped without overflow */
        for (int64_t n = 0; n < len; n++) {
            const float *v = in + n * in_stride;
            double w = window ? window[n] : 1.0;
            double xr = v[0] * w, xi = d->in_complex ? v[1] * w : 0.0;
            double c = d->cos_t[j], s = sign * d->sin_t[j];
            re += xr * c - xi * s;
            im += xr * s + xi * c;
            j += k;
            if (j >= d->n_fft) j %= d->n_fft;
        }
        out[k * out_stride] = (float)(re * scale);
        out[k * out_stride + 1] = (float)(im * scale);
    }
}

static size_t twiddle_bytes(int64_t n_fft)
{
    return (size_t)(2 * n_fft) * sizeof(double);
}

static void fill_twiddles(double *t, int64_t n_fft)
{
    for (int64_t j = 0; j < n_fft; j++) {
        t[j] = cos(2.0 * CR_PI * (double)j / (double)n_fft);
        t[n_fft + j] = sin(2.0 * CR_PI * (double)j / (double)n_fft);
    }
}

/* ---- DFT --------------------------------------------------------------------------------------- */

typedef struct dft_params {
    int axis;
    int64_t n_fft, bins;
    bool inverse, onesided;
} dft_params;

static cnnrun_status *dft_params_of(const cr_op_ctx *ctx, dft_params *p)
{
    const cr_tensor *x = ctx->in[0];
    if (x->rank < 3 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2)) {
        char sx[128];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected [batch, ..., 1 or 2] (real or complex); found %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    int64_t a, inv, one;
    if (ctx->opset >= 20) {
        /* Opset 20 moves axis to an optional scalar input (default -2, the last signal axis). */
        a = -2;
        if (ctx->n_in > 2 && ctx->in[2]) CR_TRY(scalar_int(ctx, 2, "axis", &a));
    } else {
        CR_TRY(cr_attr_int(ctx->node, "axis", 1, &a));
    }
    CR_TRY(cr_attr_int(ctx->node, "inverse", 0, &inv));
    CR_TRY(cr_attr_int(ctx->node, "onesided", 0, &one));
    /* The signal axes are 1 .. rank - 2; negative axes count over the whole rank. */
    if (a < 0) a += x->rank;
    if (a < 1 || a > x->rank - 2)
        return cr_op_unsupported_attr(ctx, "axis", "must name a signal axis (1 to rank - 2)");
    p->axis = (int)a;
    p->inverse = inv != 0;
    p->onesided = one != 0;
    if (p->inverse && p->onesided)
        return cr_op_unsupported_attr(ctx, "onesided", "an inverse one-sided transform is not supported");
    p->n_fft = x->dims[a];
    if (ctx->n_in > 1 && ctx->in[1]) CR_TRY(scalar_int(ctx, 1, "dft_length", &p->n_fft));
    if (p->onesided && x->dims[x->rank - 1] == 2)
        return cr_op_unsupported_attr(ctx, "onesided", "a one-sided transform needs a real input");
    if (p->n_fft < 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT, "dft_length %lld must be positive", (long long)p->n_fft);
    p->bins = p->onesided ? p->n_fft / 2 + 1 : p->n_fft;
    return NULL;
}

static cnnrun_status *dft_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 1, ctx->opset >= 20 ? 3 : 2));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    dft_params p;
    CR_TRY(dft_params_of(ctx, &p));
    int64_t dims[CR_MAX_RANK];
    memcpy(dims, ctx->in[0]->dims, sizeof dims);
    dims[p.axis] = p.bins;
    dims[ctx->in[0]->rank - 1] = 2;
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, ctx->in[0]->rank, dims);
    return NULL;
}

static cnnrun_status *dft_prepare(cr_op_ctx *ctx)
{
    dft_params p;
    CR_TRY(dft_params_of(ctx, &p));
    ctx->scratch_bytes = twiddle_bytes(p.n_fft);
    return NULL;
}

static cnnrun_status *dft_run(cr_op_ctx *ctx)
{
    dft_params p;
    CR_TRY(dft_params_of(ctx, &p));
    const cr_tensor *x = ctx->in[0];
    double *tw = ctx->scratch;
    fill_twiddles(tw, p.n_fft);
    int64_t comp = x->dims[x->rank - 1];
    dft_line d = {.len = x->dims[p.axis], .n_fft = p.n_fft, .bins = p.bins, .in_complex = comp == 2,
                  .inverse = p.inverse, .cos_t = tw, .sin_t = tw + p.n_fft};
    /* Lines along the axis: [outer, len, inner] values of `comp` floats in, [outer, bins, inner] pairs out. */
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < p.axis; i++) outer *= x->dims[i];
    for (int i = p.axis + 1; i < x->rank - 1; i++) inner *= x->dims[i];
    const float *in = x->data;
    float *out = ctx->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            dft_compute(&d, in + (o * d.len * inner + i) * comp, inner * comp, NULL,
                        out + (o * p.bins * inner + i) * 2, inner * 2);
    return NULL;
}

/* ---- STFT -------------------------------------------------------------------------------------- */

typedef struct stft_params {
    int64_t step, frame_len, frames, bins;
} stft_params;

static cnnrun_status *stft_params_of(const cr_op_ctx *ctx, stft_params *p)
{
    const cr_tensor *x = ctx->in[0];
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2)) {
        char sx[128];
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "expected a signal [batch, length, 1 or 2]; found %s",
                           cr_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    int64_t one;
    CR_TRY(cr_attr_int(ctx->node, "onesided", 1, &one));
    CR_TRY(scalar_int(ctx, 1, "frame_step", &p->step));
    const cr_tensor *w = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (w && w->rank != 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "window must be 1-D");
    if (ctx->n_in > 3 && ctx->in[3]) {
        CR_TRY(scalar_int(ctx, 3, "frame_length", &p->frame_len));
        if (w && w->dims[0] != p->frame_len)
            return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH, "window length %lld differs from frame_length %lld",
                               (long long)w->dims[0], (long long)p->frame_len);
    } else if (w) {
        p->frame_len = w->dims[0];
    } else {
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "either window or frame_length must be given");
    }
    if (p->step < 1 || p->frame_len < 1 || p->frame_len > x->dims[1])
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                           "frame_step %lld and frame_length %lld must be positive, the frame at most the signal length %lld",
                           (long long)p->step, (long long)p->frame_len, (long long)x->dims[1]);
    if (one && x->dims[2] == 2)
        return cr_op_unsupported_attr(ctx, "onesided", "a one-sided transform needs a real signal");
    p->frames = (x->dims[1] - p->frame_len) / p->step + 1;
    p->bins = one ? p->frame_len / 2 + 1 : p->frame_len;
    return NULL;
}

static cnnrun_status *stft_infer(cr_op_ctx *ctx)
{
    static const cnnrun_dtype floats[] = {CNNRUN_FLOAT32, 0};
    CR_TRY(cr_op_check_inputs(ctx, 2, 4));
    CR_TRY(cr_op_check_dtype(ctx, 0, floats));
    CR_TRY(cr_op_check_dtype(ctx, 2, floats));
    stft_params p;
    CR_TRY(stft_params_of(ctx, &p));
    int64_t dims[4] = {ctx->in[0]->dims[0], p.frames, p.bins, 2};
    cr_set_output(ctx, 0, CNNRUN_FLOAT32, 4, dims);
    return NULL;
}

static cnnrun_status *stft_prepare(cr_op_ctx *ctx)
{
    stft_params p;
    CR_TRY(stft_params_of(ctx, &p));
    ctx->scratch_bytes = twiddle_bytes(p.frame_len);
    return NULL;
}

static cnnrun_status *stft_run(cr_op_ctx *ctx)
{
    stft_params p;
    CR_TRY(stft_params_of(ctx, &p));
    const cr_tensor *x = ctx->in[0];
    const float *window = ctx->n_in > 2 && ctx->in[2] ? ctx->in[2]->data : NULL;
    double *tw = ctx->scratch;
    fill_twiddles(tw, p.frame_len);
    int64_t comp = x->dims[2], len = x->dims[1];
    dft_line d = {.len = p.frame_len, .n_fft = p.frame_len, .bins = p.bins, .in_complex = comp == 2,
                  .inverse = false, .cos_t = tw, .sin_t = tw + p.frame_len};
    const float *in = x->data;
    float *out = ctx->out[0]->data;
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t f = 0; f < p.frames; f++)
            dft_compute(&d, in + (b * len + f * p.step) * comp, comp, window,
                        out + ((b * p.frames + f) * p.bins) * 2, 2);
    return NULL;
}

/* ---- MelWeightMatrix ------------------------------------------------------------------------------
 * Triangular filters between num_mel_bins + 2 points spaced evenly on the mel scale
 * (2595 log10(1 + f / 700)) from lower_edge_hertz to upper_edge_hertz, each mapped to the DFT bin
 * floor((dft_length + 1) f / sample_rate), as ONNX's reference computes them (including its mel
 * step of (high - low) / (num_mel_bins + 2)). Output [dft_length / 2 + 1, num_mel_bins]. */

typedef struct mel_params {
    int64_t bins, dft_length, sample_rate;
    double low, high;
} mel_params;

static cnnrun_status *scalar_float(const cr_op_ctx *ctx, int input, const char *role, double *v)
{
    float f;
    size_t n;
    CR_TRY(cr_const_floats(ctx, input, role, &f, 1, &n));
    if (n != 1) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "%s must hold one value", role);
    *v = f;
    return NULL;
}

static cnnrun_status *mel_params_of(const cr_op_ctx *ctx, mel_params *p)
{
    CR_TRY(cr_op_check_inputs(ctx, 5, 5));
    CR_TRY(scalar_int(ctx, 0, "num_mel_bins", &p->bins));
    CR_TRY(scalar_int(ctx, 1, "dft_length", &p->dft_length));
    CR_TRY(scalar_int(ctx, 2, "sample_rate", &p->sample_rate));
    CR_TRY(scalar_float(ctx, 3, "lower_edge_hertz", &p->low));
    CR_TRY(scalar_float(ctx, 4, "upper_edge_hertz", &p->high));
    if (p->bins < 1 || p->bins > 100000 || p->dft_length < 1 || p->dft_length > ((int64_t)1 << 24) ||
        p->sample_rate < 1 || !(p->low >= 0.0 && p->low <= p->high))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_ARGUMENT,
                           "expected positive bin count, dft_length and sample_rate and 0 <= lower_edge_hertz <= upper_edge_hertz");
    return NULL;
}

static cnnrun_status *mel_infer(cr_op_ctx *ctx)
{
    mel_params p;
    CR_TRY(mel_params_of(ctx, &p));
    cnnrun_dtype dt = CNNRUN_FLOAT32;
    CR_TRY(output_float_dtype(ctx, &dt));
    int64_t dims[2] = {p.dft_length / 2 + 1, p.bins};
    cr_set_output(ctx, 0, dt, 2, dims);
    return NULL;
}

static cnnrun_status *mel_run(cr_op_ctx *ctx)
{
    mel_params p;
    CR_TRY(mel_params_of(ctx, &p));
    cr_tensor *y = ctx->out[0];
    int64_t rows = p.dft_length / 2 + 1, points = p.bins + 2;
    for (int64_t i = 0; i < rows * p.bins; i++) store_real(y, i, 0.0);
    double low_mel = 2595.0 * log10(1.0 + p.low / 700.0), high_mel = 2595.0 * log10(1.0 + p.high / 700.0);
    double step = (high_mel - low_mel) / (double)points;
    int64_t *bin = ctx->scratch;
    for (int64_t i = 0; i < points; i++) {
        double hz = 700.0 * (pow(10.0, (i * step + low_mel) / 2595.0) - 1.0);
        double b = floor((double)(p.dft_length + 1) * hz / (double)p.sample_rate);
        bin[i] = b < 0 ? 0 : (b >= (double)rows ? rows - 1 : (int64_t)b); /* stays inside the matrix */
    }
    for (int64_t m = 0; m < p.bins; m++) {
        int64_t lo = bin[m], c = bin[m + 1], hi = bin[m + 2];
        if (c == lo) store_real(y, c * p.bins + m, 1.0);
        else
            for (int64_t j = lo; j <= c; j++) store_real(y, j * p.bins + m, (double)(j - lo) / (double)(c - lo));
        for (int64_t j = c; j < hi; j++) store_real(y, j * p.bins + m, (double)(hi - j) / (double)(hi - c));
    }
    return NULL;
}

static cnnrun_status *mel_prepare(cr_op_ctx *ctx)
{
    mel_params p;
    CR_TRY(mel_params_of(ctx, &p));
    ctx->scratch_bytes = (size_t)(p.bins + 2) * sizeof(int64_t);
    return NULL;
}

/* All opset 17; DFT-20 takes axis as an input instead of an attribute. Unchanged since. */
#define WINDOW_OP(var, name)                                                                       \
    static const cr_op var = {.op_type = name, .domain = "", .opset_min = 17, .opset_max = 22,       \
                              .infer = window_infer, .run = window_run};
WINDOW_OP(op_hann, "HannWindow")
WINDOW_OP(op_hamming, "HammingWindow")
WINDOW_OP(op_blackman, "BlackmanWindow")
static const cr_op op_dft = {.op_type = "DFT", .domain = "", .opset_min = 17, .opset_max = 22,
                             .infer = dft_infer, .prepare = dft_prepare, .run = dft_run};
static const cr_op op_stft = {.op_type = "STFT", .domain = "", .opset_min = 17, .opset_max = 22,
                              .infer = stft_infer, .prepare = stft_prepare, .run = stft_run};
static const cr_op op_mel = {.op_type = "MelWeightMatrix", .domain = "", .opset_min = 17, .opset_max = 22,
                             .infer = mel_infer, .prepare = mel_prepare, .run = mel_run};

const cr_op *const cr_ops_spectral[] = {&op_hann, &op_hamming, &op_blackman, &op_dft, &op_stft, &op_mel, NULL};
