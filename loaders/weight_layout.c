/* Weight-layout conversions between Keras/TensorFlow, PyTorch and ONNX: axis permutations, gate
 * reorders, the depthwise reshape, kernel flipping and TF's 'same' padding. Shared by the Keras
 * loaders and offered in the public API. */
#include "weight_layout.h"

#include <string.h>

#include "status.h"
#include "tensor.h"

static cnnrun_status *bad_arg(const char *fn, const char *detail)
{
    return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "%s: %s", fn, detail);
}

/* Positive dims whose product fits the tensor size limit. */
static cnnrun_status *check_dims(const char *fn, int rank, const int64_t *dims)
{
    size_t bytes;
    for (int i = 0; i < rank; i++)
        if (dims[i] <= 0) return bad_arg(fn, "every dim must be positive");
    if (!cr_shape_bytes(CNNRUN_FLOAT32, rank, dims, &bytes)) return bad_arg(fn, "the array is too large");
    return NULL;
}

void cr_permute_f32(const float *src, int rank, const int64_t *dims, const int *perm, float *dst)
{
    /* dst dim d is src dim perm[d]; walk dst in order, stepping src by its strides */
    int64_t src_stride[CR_MAX_RANK], step[CR_MAX_RANK], out_dims[CR_MAX_RANK], idx[CR_MAX_RANK];
    int64_t s = 1, total = 1;
    for (int d = rank - 1; d >= 0; d--) {
        src_stride[d] = s;
        s *= dims[d];
    }
    for (int d = 0; d < rank; d++) {
        out_dims[d] = dims[perm[d]];
        step[d] = src_stride[perm[d]];
        idx[d] = 0;
        total *= out_dims[d];
    }
    int64_t off = 0;
    for (int64_t i = 0; i < total; i++) {
        dst[i] = src[off];
        for (int d = rank - 1; d >= 0; d--) {
            off += step[d];
            if (++idx[d] < out_dims[d]) break;
            off -= step[d] * out_dims[d];
            idx[d] = 0;
        }
    }
}

static cnnrun_status *check_kernel(const char *fn, const float *src, int spatial_rank,
                                   const int64_t *dims, const float *dst)
{
    if (!src || !dims || !dst) return bad_arg(fn, "NULL argument");
    if (spatial_rank < 1 || spatial_rank > 3) return bad_arg(fn, "spatial_rank must be 1, 2 or 3");
    return check_dims(fn, spatial_rank + 2, dims);
}

cnnrun_status *cnnrun_kernel_hwio_to_oihw(const float *src, int spatial_rank, const int64_t *src_dims,
                                          float *dst)
{
    CR_TRY(check_kernel("cnnrun_kernel_hwio_to_oihw", src, spatial_rank, src_dims, dst));
    int perm[CR_MAX_RANK] = {spatial_rank + 1, spatial_rank};
    for (int d = 0; d < spatial_rank; d++) perm[2 + d] = d;
    cr_permute_f32(src, spatial_rank + 2, src_dims, perm, dst);
    return NULL;
}

cnnrun_status *cnnrun_kernel_oihw_to_hwio(const float *src, int spatial_rank, const int64_t *src_dims,
                                          float *dst)
{
    CR_TRY(check_kernel("cnnrun_kernel_oihw_to_hwio", src, spatial_rank, src_dims, dst));
    int perm[CR_MAX_RANK];
    for (int d = 0; d < spatial_rank; d++) perm[d] = 2 + d;
    perm[spatial_rank] = 1;
    perm[spatial_rank + 1] = 0;
    cr_permute_f32(src, spatial_rank + 2, src_dims, perm, dst);
    return NULL;
}

cnnrun_status *cnnrun_kernel_depthwise_to_oihw(const float *src, int spatial_rank,
                                               const int64_t *src_dims, float *dst)
{
    CR_TRY(check_kernel("cnnrun_kernel_depthwise_to_oihw", src, spatial_rank, src_dims, dst));
    /* (k.., C, M) read as (k.., 1, C*M) is an HWIO kernel with in = 1, out = C*M: the channel
     * c*M + m of the grouped convolution */
    int64_t as_hwio[CR_MAX_RANK];
    memcpy(as_hwio, src_dims, (size_t)spatial_rank * sizeof *src_dims);
    as_hwio[spatial_rank] = 1;
    as_hwio[spatial_rank + 1] = src_dims[spatial_rank] * src_dims[spatial_rank + 1];
    return cnnrun_kernel_hwio_to_oihw(src, spatial_rank, as_hwio, dst);
}

cnnrun_status *cnnrun_kernel_transposed_to_onnx(const float *src, int spatial_rank,
                                                const int64_t *src_dims, float *dst)
{
    /* (k.., out, in) -> (in, out, k..): the same axis permutation as HWIO -> OIHW */
    CR_TRY(check_kernel("cnnrun_kernel_transposed_to_onnx", src, spatial_rank, src_dims, dst));
    return cnnrun_kernel_hwio_to_oihw(src, spatial_rank, src_dims, dst);
}

cnnrun_status *cnnrun_kernel_flip(const float *src, int spatial_rank, const int64_t *src_dims,
                                  float *dst)
{
    CR_TRY(check_kernel("cnnrun_kernel_flip", src, spatial_rank, src_dims, dst));
    int64_t outer = src_dims[0] * src_dims[1], k[3] = {1, 1, 1};
    for (int d = 0; d < spatial_rank; d++) k[3 - spatial_rank + d] = src_dims[2 + d];
    int64_t window = k[0] * k[1] * k[2];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t a = 0; a < k[0]; a++)
            for (int64_t b = 0; b < k[1]; b++)
                for (int64_t c = 0; c < k[2]; c++)
                    dst[o * window + (a * k[1] + b) * k[2] + c] =
                        src[o * window + ((k[0] - 1 - a) * k[1] + (k[1] - 1 - b)) * k[2] + (k[2] - 1 - c)];
    return NULL;
}

cnnrun_status *cnnrun_dense_rows_nhwc_to_nchw(const float *src, int spatial_rank,
                                              const int64_t *spatial_dims, int64_t channels,
                                              int64_t units, float *dst)
{
    const char *fn = "cnnrun_dense_rows_nhwc_to_nchw";
    if (!src || !spatial_dims || !dst) return bad_arg(fn, "NULL argument");
    if (spatial_rank < 1 || spatial_rank > 3) return bad_arg(fn, "spatial_rank must be 1, 2 or 3");
    int64_t dims[CR_MAX_RANK] = {0};
    int64_t spatial = 1;
    for (int d = 0; d < spatial_rank; d++) {
        dims[d] = spatial_dims[d];
        spatial *= spatial_dims[d] > 0 ? spatial_dims[d] : 1;
    }
    dims[spatial_rank] = channels;
    dims[spatial_rank + 1] = units;
    CR_TRY(check_dims(fn, spatial_rank + 2, dims));
    /* rows (s.., c) -> (c, s..): [spatial, C, units] -> [C, spatial, units] */
    const int64_t flat[3] = {spatial, channels, units};
    static const int perm[3] = {1, 0, 2};
    cr_permute_f32(src, 3, flat, perm, dst);
    return NULL;
}

cnnrun_status *cnnrun_lstm_weights_to_onnx(const float *src, int64_t rows, int64_t units,
                                           cnnrun_lstm_source source, float *dst)
{
    const char *fn = "cnnrun_lstm_weights_to_onnx";
    if (!src || !dst) return bad_arg(fn, "NULL argument");
    const int64_t dims[2] = {rows, 4 * units};
    if (units <= 0 || rows <= 0 || units > INT64_MAX / 4) return bad_arg(fn, "rows and units must be positive");
    CR_TRY(check_dims(fn, 2, dims));
    /* ONNX gate g takes the source's block order[g]: Keras i,f,c,o and PyTorch i,f,g,o both put
     * ONNX's i,o,f,c at source blocks 0,3,1,2 */
    static const int order[4] = {0, 3, 1, 2};
    if (source != CNNRUN_LSTM_KERAS && source != CNNRUN_LSTM_PYTORCH) return bad_arg(fn, "unknown source");
    for (int g = 0; g < 4; g++)
        for (int64_t u = 0; u < units; u++)
            for (int64_t r = 0; r < rows; r++) {
                int64_t col = order[g] * units + u;
                dst[(g * units + u) * rows + r] =
                    source == CNNRUN_LSTM_KERAS ? src[r * 4 * units + col] : src[col * rows + r];
            }
    return NULL;
}

cnnrun_status *cnnrun_gru_weights_to_onnx(const float *src, int64_t rows, int64_t units, float *dst)
{
    const char *fn = "cnnrun_gru_weights_to_onnx";
    if (!src || !dst) return bad_arg(fn, "NULL argument");
    if (units <= 0 || rows <= 0 || units > INT64_MAX / 3) return bad_arg(fn, "rows and units must be positive");
    const int64_t dims[2] = {rows, 3 * units};
    CR_TRY(check_dims(fn, 2, dims));
    static const int perm[2] = {1, 0};
    cr_permute_f32(src, 2, dims, perm, dst);
    return NULL;
}

cnnrun_status *cnnrun_gru_bias_to_onnx(const float *src, int64_t units, int reset_after, float *dst)
{
    const char *fn = "cnnrun_gru_bias_to_onnx";
    if (!src || !dst) return bad_arg(fn, "NULL argument");
    if (units <= 0 || units > ((int64_t)1 << 40)) return bad_arg(fn, "units must be positive");
    size_t n = (size_t)(3 * units);
    memcpy(dst, src, n * sizeof *dst);
    if (reset_after) memcpy(dst + n, src + n, n * sizeof *dst);
    else memset(dst + n, 0, n * sizeof *dst);
    return NULL;
}

cnnrun_status *cnnrun_same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                   int64_t *pad_begin, int64_t *pad_end)
{
    const char *fn = "cnnrun_same_padding";
    if (!pad_begin || !pad_end) return bad_arg(fn, "NULL argument");
    if (in < 0 || kernel <= 0 || stride <= 0 || dilation <= 0 || in > ((int64_t)1 << 40) ||
        kernel > ((int64_t)1 << 20) || dilation > ((int64_t)1 << 20) || stride > ((int64_t)1 << 40))
        return bad_arg(fn, "sizes must be positive (in >= 0) and of plausible size");
    int64_t out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + (kernel - 1) * dilation + 1 - in;
    if (total < 0) total = 0;
    *pad_begin = total / 2;
    *pad_end = total - total / 2;
    return NULL;
}
