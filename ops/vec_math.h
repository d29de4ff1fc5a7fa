/* Vector-friendly building blocks for the element-wise kernels: multi-ISA compilation of hot
 * loops, a branch-free select, and a vectorisable expf (Sigmoid, Tanh, Exp, Softmax).
 *
 * expf:
 * glibc's expf is a scalar call that GCC cannot vectorise without -ffast-math, which costs ~10x
 * on the activation loops. This version reduces x = n ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts so that r stays exact), evaluates a degree-7 Taylor polynomial for e^r (truncation error
 * below 1e-8 relative) and scales by 2^n through the exponent bits, in two halves so that each
 * factor is a normal float even where the result overflows or is subnormal. Measured error:
 * within 1 ulp of the correctly rounded result for normal results. Every branch is a select, so
 * a loop of calls becomes straight-line vector code.
 *
 * Edge cases follow expf: +inf on overflow, subnormal results down to 0, NaN passes through. */
#ifndef CR_VEC_MATH_H
#define CR_VEC_MATH_H

#include <math.h>
#include <stdint.h>

/* Hot loops are compiled three times — AVX-512, AVX2+FMA and baseline SSE2 — and the dynamic
 * loader picks the best the CPU has (GCC target_clones, dispatched through an ifunc). The build
 * itself targets baseline x86-64 so that the library runs on any x86-64 machine; this keeps the
 * wide vectors where they pay (Sigmoid on 800k floats: 1.6 ms -> 0.29 ms with AVX-512). Without
 * contraction (-std=c11 turns it off) all three compute bit-identical results. Not under
 * ThreadSanitizer: the ifunc resolvers run while the loader relocates the program, before the TSan
 * runtime is set up, and their instrumented entry crashes there. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define CR_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CR_VECTOR_CLONES
#endif

/* c ? a : b through bit masks. GCC keeps a float ?: whose arms involve arithmetic as a branch
 * under its default -ftrapping-math (the arithmetic might raise an exception the branch would
 * have avoided), which stops vectorisation; computing both arms and masking does not. */
static inline float cr_select_f32(int c, float a, float b)
{
    union {
        float f;
        uint32_t u;
    } ua = {a}, ub = {b}, r;
    uint32_t mask = 0u - (uint32_t)(c != 0);
    r.u = (ua.u & mask) | (ub.u & ~mask);
    return r.f;
}

static inline float cr_fast_expf(float x)
{
    const float hi = 89.0f;   /* e^89 overflows: beyond it the result is +inf */
    const float lo = -104.0f; /* e^-104 is below half the smallest subnormal: beyond it, 0 */
    /* NaN fails both comparisons and becomes lo here, so the integer conversion below is always
     * defined; the NaN is restored at the end. */
    float xc = cr_select_f32(x > lo, x, lo);
    xc = cr_select_f32(xc < hi, xc, hi);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick: floorf is a library call on baseline x86-64
     * (SSE2) and would keep the loop scalar. */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;     /* ln2 high part: exact product for |n| <= 128 */
    r = r - n * -2.12194440e-4f;         /* ln2 low part */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale;
    int32_t ni = (int32_t)n, half = ni / 2;
    scale.i = (half + 127) * (1 << 23);
    float y = p * scale.f;
    scale.i = (ni - half + 127) * (1 << 23);
    y = y * scale.f;
    y = cr_select_f32(x > hi, INFINITY, y);
    y = cr_select_f32(x < lo, 0.0f, y);
    return cr_select_f32(x != x, x, y);
}

#endif
