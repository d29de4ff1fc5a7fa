/* IEEE half-precision conversions (float16 tensors are stored as raw uint16 bits).
 *
 * To half: round to nearest, ties to even, straight from the double's bits — converting
 * through float first would round twice and can differ from NumPy's astype(float16) on
 * doubles. Values from 65520 up become inf, below 2^-25 a signed zero, and the range between
 * becomes subnormal halves. A NaN keeps its sign and top payload bits (made nonzero, so it stays a
 * NaN), as NumPy does. From half every value is exact in float. */
#ifndef CR_FLOAT16_H
#define CR_FLOAT16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t cr_half_from_double(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    const uint16_t sign = (uint16_t)((b >> 48) & 0x8000u);
    const int exp = (int)((b >> 52) & 0x7ff);
    const uint64_t mant = b & ((UINT64_C(1) << 52) - 1);
    if (exp == 0x7ff) {
        if (mant == 0) return sign | 0x7c00u;
        uint16_t payload = (uint16_t)(mant >> 42);
        return sign | 0x7c00u | (payload ? payload : 1u);
    }
    const int e = exp - 1023; /* |d| in [2^e, 2^(e+1)) */
    if (e >= 16) return sign | 0x7c00u;
    if (e < -25) return sign; /* below half the smallest subnormal (2^-24): rounds to zero */
    const uint64_t sig = (UINT64_C(1) << 52) | mant;
    /* Bits to drop: a normal half keeps 11 significant bits; a subnormal counts units of 2^-24. */
    const int shift = e >= -14 ? 52 - 10 : 52 - (e + 24);
    uint64_t kept = sig >> shift;
    const uint64_t rem = sig & ((UINT64_C(1) << shift) - 1), half_ulp = UINT64_C(1) << (shift - 1);
    if (rem > half_ulp || (rem == half_ulp && (kept & 1))) kept++;
    if (e < -14) return sign | (uint16_t)kept; /* kept == 1024 is the smallest normal's encoding */
    int he = e + 15;
    if (kept == (UINT64_C(1) << 11)) { /* rounded up to the next power of two */
        kept >>= 1;
        he++;
    }
    if (he >= 31) return sign | 0x7c00u;
    return sign | (uint16_t)(he << 10) | (uint16_t)(kept & 0x3ffu);
}

static inline float cr_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else {
        const float f = (float)mant * 0x1p-24f; /* zero or subnormal: exact */
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#endif
