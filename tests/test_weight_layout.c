/* The public weight-layout conversions against hand-computed values: kernel axis orders, the
 * depthwise reshape, Dense rows after an NHWC Flatten, LSTM/GRU gate orders, TF 'same' padding,
 * and kernel flipping checked by a full convolution computed as a correlation. */
#include "test_util.h"

/* Each element encodes its source index, so the destination can be checked element by element. */
static void test_hwio_oihw(void)
{
    enum { KH = 2, KW = 3, I = 2, O = 4 };
    float src[KH * KW * I * O], dst[KH * KW * I * O], back[KH * KW * I * O];
    for (int h = 0; h < KH; h++)
        for (int w = 0; w < KW; w++)
            for (int i = 0; i < I; i++)
                for (int o = 0; o < O; o++) src[((h * KW + w) * I + i) * O + o] = (float)(1000 * h + 100 * w + 10 * i + o);
    const int64_t dims[4] = {KH, KW, I, O};
    CHECK_OK(cnnrun_kernel_hwio_to_oihw(src, 2, dims, dst));
    int bad = 0;
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++)
            for (int h = 0; h < KH; h++)
                for (int w = 0; w < KW; w++)
                    bad += dst[((o * I + i) * KH + h) * KW + w] != (float)(1000 * h + 100 * w + 10 * i + o);
    CHECK(bad == 0);
    const int64_t odims[4] = {O, I, KH, KW};
    CHECK_OK(cnnrun_kernel_oihw_to_hwio(dst, 2, odims, back));
    CHECK(memcmp(src, back, sizeof src) == 0);

    /* 1-D: (k, in, out) -> (out, in, k) */
    const float k1[6] = {0, 1, 2, 3, 4, 5}; /* k=3, in=1, out=2: k1[k][0][o] */
    float o1[6];
    const int64_t d1[3] = {3, 1, 2};
    CHECK_OK(cnnrun_kernel_hwio_to_oihw(k1, 1, d1, o1));
    const float want1[6] = {0, 2, 4, 1, 3, 5};
    CHECK(memcmp(o1, want1, sizeof o1) == 0);

    /* 3-D round trip */
    float k3[24], o3[24], b3[24];
    for (int i = 0; i < 24; i++) k3[i] = (float)i;
    const int64_t d3[5] = {2, 2, 1, 3, 2}, od3[5] = {2, 3, 2, 2, 1};
    CHECK_OK(cnnrun_kernel_hwio_to_oihw(k3, 3, d3, o3));
    CHECK(o3[2] == k3[12] && o3[4] == k3[2]); /* (o0, i0, spatial (1,0,0)); (o0, i1, (0,0,0)) */
    CHECK_OK(cnnrun_kernel_oihw_to_hwio(o3, 3, od3, b3));
    CHECK(memcmp(k3, b3, sizeof k3) == 0);

    /* transposed conv: (k, out, in) -> (in, out, k) */
    const float t1[6] = {0, 1, 2, 3, 4, 5}; /* k=1, out=2, in=3: t1[0][o][i] = 3o + i */
    float tt[6];
    const int64_t td[3] = {1, 2, 3};
    CHECK_OK(cnnrun_kernel_transposed_to_onnx(t1, 1, td, tt));
    const float want_t[6] = {0, 3, 1, 4, 2, 5}; /* tt[i][o] */
    CHECK(memcmp(tt, want_t, sizeof tt) == 0);
}

static void test_depthwise(void)
{
    /* (kh=1, kw=2, C=2, M=3): src[0][w][c][m] = 100w + 10c + m -> dst[c*3+m][0][0][w] */
    float src[12], dst[12];
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 2; c++)
            for (int m = 0; m < 3; m++) src[(w * 2 + c) * 3 + m] = (float)(100 * w + 10 * c + m);
    const int64_t dims[4] = {1, 2, 2, 3};
    CHECK_OK(cnnrun_kernel_depthwise_to_oihw(src, 2, dims, dst));
    int bad = 0;
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 3; m++)
            for (int w = 0; w < 2; w++) bad += dst[(c * 3 + m) * 2 + w] != (float)(100 * w + 10 * c + m);
    CHECK(bad == 0);
}

static void test_dense_rows(void)
{
    /* flatten of (H=2, W=3, C=2): Keras row (h*W + w)*C + c; NCHW row c*H*W + h*W + w; 2 units */
    enum { H = 2, W = 3, C = 2, U = 2 };
    float src[H * W * C * U], dst[H * W * C * U];
    for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++)
            for (int c = 0; c < C; c++)
                for (int u = 0; u < U; u++) src[((h * W + w) * C + c) * U + u] = (float)(1000 * h + 100 * w + 10 * c + u);
    const int64_t sp[2] = {H, W};
    CHECK_OK(cnnrun_dense_rows_nhwc_to_nchw(src, 2, sp, C, U, dst));
    int bad = 0;
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int u = 0; u < U; u++) bad += dst[((c * H + h) * W + w) * U + u] != (float)(1000 * h + 100 * w + 10 * c + u);
    CHECK(bad == 0);
}

static void test_flip_true_convolution(void)
{
    /* x = [4, 1, 2, 5] convolved with h = [1, 2, -1] in full mode is [4, 9, 0, 8, 8, -5];
     * cross-correlation (what ONNX Conv computes) with the flipped kernel and 2 zeros of padding
     * on each side gives the same */
    const float x[4] = {4, 1, 2, 5}, h[3] = {1, 2, -1};
    float hf[3];
    const int64_t dims[3] = {1, 1, 3};
    CHECK_OK(cnnrun_kernel_flip(h, 1, dims, hf));
    CHECK(hf[0] == -1 && hf[1] == 2 && hf[2] == 1);
    const float want[6] = {4, 9, 0, 8, 8, -5};
    int bad = 0;
    for (int n = 0; n < 6; n++) {
        float y = 0;
        for (int k = 0; k < 3; k++) {
            int i = n + k - 2;
            if (i >= 0 && i < 4) y += x[i] * hf[k];
        }
        bad += y != want[n];
    }
    CHECK(bad == 0);
    /* 2-D: every spatial axis reversed, channels kept */
    const float k2[2 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}; /* (O=2, I=1, 2, 2) */
    float f2[8];
    const int64_t d2[4] = {2, 1, 2, 2};
    CHECK_OK(cnnrun_kernel_flip(k2, 2, d2, f2));
    const float want2[8] = {4, 3, 2, 1, 8, 7, 6, 5};
    CHECK(memcmp(f2, want2, sizeof f2) == 0);
}

static void test_rnn_gates(void)
{
    /* Keras LSTM kernel (rows=2, 4u with u=1): row r, gate g (i,f,c,o) = 10r + g -> ONNX (4, 2) in
     * gate order i,o,f,c */
    const float k[8] = {0, 1, 2, 3, 10, 11, 12, 13};
    float w[8];
    CHECK_OK(cnnrun_lstm_weights_to_onnx(k, 2, 1, CNNRUN_LSTM_KERAS, w));
    const float want[8] = {0, 10, 3, 13, 1, 11, 2, 12};
    CHECK(memcmp(w, want, sizeof w) == 0);
    /* PyTorch (4u, rows): gates i,f,g,o along rows */
    const float p[8] = {0, 10, 1, 11, 2, 12, 3, 13};
    CHECK_OK(cnnrun_lstm_weights_to_onnx(p, 2, 1, CNNRUN_LSTM_PYTORCH, w));
    CHECK(memcmp(w, want, sizeof w) == 0);
    /* a bias is rows = 1; units = 2 keeps the units of a gate together */
    const float b[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* i=1,2 f=3,4 c=5,6 o=7,8 */
    float bo[8];
    CHECK_OK(cnnrun_lstm_weights_to_onnx(b, 1, 2, CNNRUN_LSTM_KERAS, bo));
    const float want_b[8] = {1, 2, 7, 8, 3, 4, 5, 6};
    CHECK(memcmp(bo, want_b, sizeof bo) == 0);

    /* GRU: z,r,h kept, (rows, 3u) transposed */
    const float g[6] = {1, 2, 3, 4, 5, 6}; /* rows=2, u=1 */
    float go[6];
    CHECK_OK(cnnrun_gru_weights_to_onnx(g, 2, 1, go));
    const float want_g[6] = {1, 4, 2, 5, 3, 6};
    CHECK(memcmp(go, want_g, sizeof go) == 0);
    const float ra[6] = {1, 2, 3, 4, 5, 6};
    float bb[6];
    CHECK_OK(cnnrun_gru_bias_to_onnx(ra, 1, 1, bb));
    CHECK(memcmp(bb, ra, sizeof bb) == 0);
    CHECK_OK(cnnrun_gru_bias_to_onnx(ra, 1, 0, bb));
    const float want_nr[6] = {1, 2, 3, 0, 0, 0};
    CHECK(memcmp(bb, want_nr, sizeof bb) == 0);
}

static void test_same_padding(void)
{
    int64_t b, e;
    CHECK_OK(cnnrun_same_padding(5, 3, 2, 1, &b, &e)); /* out 3: total 2 */
    CHECK(b == 1 && e == 1);
    CHECK_OK(cnnrun_same_padding(4, 2, 1, 1, &b, &e)); /* even kernel: the odd pixel at the end */
    CHECK(b == 0 && e == 1);
    CHECK_OK(cnnrun_same_padding(4, 3, 2, 1, &b, &e)); /* tfjs's [1,2,3,4] * [1,10,100] = [321, 43] */
    CHECK(b == 0 && e == 1);
    CHECK_OK(cnnrun_same_padding(10, 3, 1, 2, &b, &e)); /* dilation 2: span 5 */
    CHECK(b == 2 && e == 2);
    CHECK_OK(cnnrun_same_padding(9, 1, 3, 1, &b, &e));
    CHECK(b == 0 && e == 0);
}

static void test_bad_arguments(void)
{
    float a[4] = {0}, d[4];
    const int64_t neg[4] = {1, -1, 2, 2}, ok[5] = {1, 1, 1, 2, 2};
    CHECK_ERR(cnnrun_kernel_hwio_to_oihw(a, 2, neg, d), CNNRUN_ERR_INVALID_ARGUMENT, "positive");
    CHECK_ERR(cnnrun_kernel_hwio_to_oihw(a, 4, ok, d), CNNRUN_ERR_INVALID_ARGUMENT, "spatial_rank");
    CHECK_ERR(cnnrun_kernel_flip(NULL, 1, ok, d), CNNRUN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_ERR(cnnrun_same_padding(4, 0, 1, 1, (int64_t[1]){0}, (int64_t[1]){0}), CNNRUN_ERR_INVALID_ARGUMENT, "positive");
    CHECK_ERR(cnnrun_lstm_weights_to_onnx(a, 1, 0, CNNRUN_LSTM_KERAS, d), CNNRUN_ERR_INVALID_ARGUMENT, "positive");
}

int main(void)
{
    test_hwio_oihw();
    test_depthwise();
    test_dense_rows();
    test_flip_true_convolution();
    test_rnn_gates();
    test_same_padding();
    test_bad_arguments();
    return test_report();
}
