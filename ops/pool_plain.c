/* Max pooling in plain C: the Indices output and the dtypes oneDNN's pooling is not used for (see
 * pool_plain.h). One OpenMP loop runs over (plane, first output dim) rows, so a single image with
 * few channels still spreads over the threads; inside a window the taps that fall in the padding
 * are skipped by computing each dim's range of taps inside the input, so padding never wins and
 * no padded copy is made. */
#include "pool_plain.h"

#include <float.h>
#include <string.h>

#include "op_util.h"

/* Below this many window taps in all, an OpenMP team costs more than it saves. */
#define MAX_POOL_PARALLEL_MIN 32768

bool cr_max_pool_plain_dtype(cnnrun_dtype dtype)
{
    return dtype == CNNRUN_FLOAT32 || dtype == CNNRUN_FLOAT64 || dtype == CNNRUN_FLOAT16 ||
           dtype == CNNRUN_INT8 || dtype == CNNRUN_UINT8;
}

cnnrun_status *cr_max_pool_plain_init(const cr_op_ctx *ctx, const cr_window *w, int64_t batch,
                                      int64_t channels, cnnrun_dtype dtype, bool column_major,
                                      cr_max_pool_plain *p)
{
    memset(p, 0, sizeof *p);
    if (!cr_max_pool_plain_dtype(dtype))
        return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "the plain max pooling kernel has no %s loop",
                           cnnrun_dtype_name(dtype));
    if (w->nsp < 1 || w->nsp > 3)
        return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "plain max pooling over %d spatial dims", w->nsp);
    p->dtype = dtype;
    p->column_major = column_major;
    int lead = 3 - w->nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        bool real = j >= 0;
        p->in[i] = real ? w->in[j] : 1;
        p->out[i] = real ? w->out[j] : 1;
        p->kernel[i] = real ? w->kernel[j] : 1;
        p->stride[i] = real ? w->stride[j] : 1;
        p->dilation[i] = real ? w->dilation[j] : 1;
        p->pad_l[i] = real ? w->pad_l[j] : 0;
    }
    /* Both whole tensors must be countable: every index (< the input's element count) then fits
     * in int64 and no offset computed in run can overflow. */
    int64_t in_dims[5] = {batch, channels, p->in[0], p->in[1], p->in[2]};
    int64_t out_dims[5] = {batch, channels, p->out[0], p->out[1], p->out[2]};
    int64_t in_count, out_count;
    if (batch < 0 || channels < 0 || !cr_shape_count(5, in_dims, &in_count) ||
        !cr_shape_count(5, out_dims, &out_count))
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "the input or output element count of the pooling overflows");
    p->planes = batch * channels;
    p->in_plane = p->in[0] * p->in[1] * p->in[2];
    p->out_plane = p->out[0] * p->out[1] * p->out[2];
    /* Column-major: the first spatial dim varies fastest. */
    int64_t step = 1;
    if (column_major)
        for (int i = lead; i < 3; i++) {
            p->index_step[i] = step;
            step *= p->in[i];
        }
    else
        for (int i = 2; i >= lead; i--) {
            p->index_step[i] = step;
            step *= p->in[i];
        }
    int64_t work = out_count;
    for (int i = 0; i < 3; i++) work = work > INT64_MAX / p->kernel[i] ? INT64_MAX : work * p->kernel[i];
    p->parallel = work >= MAX_POOL_PARALLEL_MIN;
    return NULL;
}

/* The taps j in [*lo, *hi) of a window that starts at `start` (kernel k, dilation d) land inside
 * [0, in); the range is empty when the window lies wholly in the padding. Only windows that
 * cross an edge divide: this runs once per output, and a 64-bit division costs more than the
 * window's compares. */
static inline void taps_inside(int64_t start, int64_t k, int64_t d, int64_t in, int64_t *lo, int64_t *hi)
{
    *lo = start < 0 ? (-start + d - 1) / d : 0;
    *hi = k;
    if (start + (k - 1) * d >= in) {
        int64_t h = in - start <= 0 ? 0 : (in - start + d - 1) / d;
        *hi = h < k ? h : k;
    }
}

/* The Indices value of the element at row-major offset `at` inside plane `plane`. */
static inline int64_t index_of(const cr_max_pool_plain *p, int64_t plane, int64_t at)
{
    int64_t in_plane_index = at;
    if (p->column_major) {
        int64_t i2 = at % p->in[2], rest = at / p->in[2];
        int64_t i1 = rest % p->in[1], i0 = rest / p->in[1];
        in_plane_index = i0 * p->index_step[0] + i1 * p->index_step[1] + i2 * p->index_step[2];
    }
    return plane * p->in_plane + in_plane_index;
}

/* Windows are scanned on integer keys that order the values as the dtype does, because integer
 * compares become conditional moves while float compares stay branches (GCC keeps them under
 * -ftrapping-math), and the mispredictions nearly doubled the time on random float data. A
 * float's sign-magnitude bits become two's complement, so -0 and +0 tie as they compare equal;
 * every NaN maps to one key above +inf, so the first NaN wins and nothing replaces it. float16
 * needs no conversion to float this way. */
static inline int32_t key_f32(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    /* masks, not ?: (which GCC compiles to a branch on the sign) */
    int32_t mag = (int32_t)(b & 0x7fffffffu);
    int32_t neg = -(int32_t)(b >> 31), nan = -(int32_t)(mag > 0x7f800000);
    int32_t key = (mag ^ neg) - neg;
    return (key & ~nan) | (INT32_MAX & nan);
}

static inline int64_t key_f64(double f)
{
    uint64_t b;
    memcpy(&b, &f, sizeof b);
    int64_t mag = (int64_t)(b & UINT64_C(0x7fffffffffffffff));
    int64_t neg = -(int64_t)(b >> 63), nan = -(int64_t)(mag > INT64_C(0x7ff0000000000000));
    int64_t key = (mag ^ neg) - neg;
    return (key & ~nan) | (INT64_MAX & nan);
}

static inline int32_t key_f16(uint16_t h)
{
    int32_t mag = h & 0x7fff;
    int32_t neg = -(int32_t)(h >> 15), nan = -(int32_t)(mag > 0x7c00);
    int32_t key = (mag ^ neg) - neg;
    return (key & ~nan) | (INT32_MAX & nan);
}

#define KEY_PLAIN(v) (v)

/* One kernel per dtype: T is the stored type, K its key's type, LOWEST the output of a window
 * with no input element. A key strictly greater than the best so far replaces it, so the first
 * of equal maxima stays. */
#define MAX_POOL_KERNEL(NAME, T, K, KEY, LOWEST)                                                   \
    static void NAME(const cr_max_pool_plain *p, const T *x, T *y, int64_t *indices)               \
    {                                                                                              \
        const int64_t rows = p->planes * p->out[0];                                                \
        const int64_t in1 = p->in[1], in2 = p->in[2];                                              \
        _Pragma("omp parallel for if (p->parallel)")                                              \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const int64_t plane = r / p->out[0], o0 = r % p->out[0];                               \
            const T *xp = x + plane * p->in_plane;                                                 \
            const int64_t y_row = plane * p->out_plane + o0 * p->out[1] * p->out[2];               \
            const int64_t s0 = o0 * p->stride[0] - p->pad_l[0], d0 = p->dilation[0];               \
            int64_t lo0, hi0;                                                                      \
            taps_inside(s0, p->kernel[0], d0, p->in[0], &lo0, &hi0);                               \
            for (int64_t o1 = 0; o1 < p->out[1]; o1++) {                                           \
                const int64_t s1 = o1 * p->stride[1] - p->pad_l[1], d1 = p->dilation[1];           \
                int64_t lo1, hi1;                                                                  \
                taps_inside(s1, p->kernel[1], d1, in1, &lo1, &hi1);                                \
                for (int64_t o2 = 0; o2 < p->out[2]; o2++) {                                       \
                    const int64_t s2 = o2 * p->stride[2] - p->pad_l[2], d2 = p->dilation[2];       \
                    int64_t lo2, hi2;                                                              \
                    taps_inside(s2, p->kernel[2], d2, in2, &lo2, &hi2);                            \
                    const int64_t o = y_row + o1 * p->out[2] + o2;                                 \
                    if (lo0 >= hi0 || lo1 >= hi1 || lo2 >= hi2) {                                 \
                        y[o] = LOWEST;                                                             \
                        if (indices) indices[o] = -1;                                              \
                        continue;                                                                  \
                    }                                                                              \
                    /* start from the first element in scan order; only a better one replaces it */ \
                    int64_t best_at = ((s0 + lo0 * d0) * in1 + s1 + lo1 * d1) * in2 + s2 + lo2 * d2; \
                    K best = KEY(xp[best_at]);                                                     \
                    for (int64_t j0 = lo0; j0 < hi0; j0++) {                                       \
                        const int64_t row0 = (s0 + j0 * d0) * in1;                                 \
                        for (int64_t j1 = lo1; j1 < hi1; j1++) {                                   \
                            const int64_t row = (row0 + s1 + j1 * d1) * in2 + s2;                  \
                            for (int64_t j2 = lo2; j2 < hi2; j2++) {                               \
                                const int64_t at = row + j2 * d2;                                  \
                                const K v = KEY(xp[at]);                                           \
                                const bool better = v > best;                                      \
                                best = better ? v : best;                                          \
                                best_at = better ? at : best_at;                                   \
                            }                                                                      \
                        }                                                                          \
                    }                                                                              \
                    y[o] = xp[best_at];                                                            \
                    if (indices) indices[o] = index_of(p, plane, best_at);                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

MAX_POOL_KERNEL(max_pool_f32, float, int32_t, key_f32, -FLT_MAX)
MAX_POOL_KERNEL(max_pool_f64, double, int64_t, key_f64, -DBL_MAX)
MAX_POOL_KERNEL(max_pool_f16, uint16_t, int32_t, key_f16, 0xfbffu) /* -65504 */
MAX_POOL_KERNEL(max_pool_i8, int8_t, int8_t, KEY_PLAIN, INT8_MIN)
MAX_POOL_KERNEL(max_pool_u8, uint8_t, uint8_t, KEY_PLAIN, 0)

void cr_max_pool_plain_run(const cr_max_pool_plain *p, const void *x, void *y, int64_t *indices)
{
    switch (p->dtype) {
    case CNNRUN_FLOAT32: max_pool_f32(p, x, y, indices); break;
    case CNNRUN_FLOAT64: max_pool_f64(p, x, y, indices); break;
    case CNNRUN_FLOAT16: max_pool_f16(p, x, y, indices); break;
    case CNNRUN_INT8: max_pool_i8(p, x, y, indices); break;
    case CNNRUN_UINT8: max_pool_u8(p, x, y, indices); break;
    default: break; /* refused by cr_max_pool_plain_init */
    }
}
