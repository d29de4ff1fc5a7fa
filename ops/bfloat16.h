/* bfloat16 conversions (bfloat16 tensors are stored as raw uint16 bits: the high half of a float32,
 * with float32's sign, 8-bit exponent and the top 7 bits of its fraction).
 *
 * To bfloat16: round toward zero, i.e. keep the float's high 16 bits. ONNX 1.12's Cast spec names
 * no rounding for bfloat16, and its test suite defines the conversion by its reference data: the
 * generator (backend/test/case/node/cast.py) takes the high uint16 of each float32, so
 * test_cast_FLOAT_to_BFLOAT16 expects 0.48033667 (0x3ef5eeb0) to become 0x3ef5, not the 0x3ef6
 * that round-to-nearest would give. Truncation never overflows: a finite float gives a finite
 * bfloat16, at most 0x7f7f. The one fix-up is NaN: a NaN whose payload lies only in the low 16 bits
 * would truncate to infinity, so a NaN keeps its sign and high payload bits and gets the quiet bit
 * set, staying a NaN.
 *
 * From bfloat16 every value is exact in float (the low 16 bits are zero). */
#ifndef CR_BFLOAT16_H
#define CR_BFLOAT16_H

#include <stdint.h>
#include <string.h>

#define CR_BF16_QUIET_BIT 0x0040u

static inline uint16_t cr_bf16_from_float(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    uint16_t high = (uint16_t)(b >> 16);
    if ((b & 0x7fffffffu) > 0x7f800000u) high |= CR_BF16_QUIET_BIT; /* NaN */
    return high;
}

static inline float cr_bf16_to_float(uint16_t h)
{
    const uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

#endif
