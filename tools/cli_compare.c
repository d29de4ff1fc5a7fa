/* The --expect comparison: how far an output is from a reference, and where it is worst. */
#include "cli_compare.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* IEEE 754 half precision to float, by hand: the library has no public converter. */
static double half_to_double(uint16_t h)
{
    int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double value;
    if (exponent == 0) value = ldexp(mantissa, -24);
    else if (exponent == 31) value = mantissa ? NAN : INFINITY;
    else value = ldexp(mantissa + 1024, exponent - 25);
    return sign ? -value : value;
}

/* bfloat16 is the high half of a float32 (cnnrun.h), so widening is exact. */
static double bfloat16_to_double(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int cli_dtype_is_numeric(cnnrun_dtype dtype)
{
    return dtype != CNNRUN_STRING && dtype != CNNRUN_DTYPE_UNDEFINED && cnnrun_dtype_size(dtype) > 0;
}

double cli_tensor_value(const cnnrun_tensor *tensor, size_t index)
{
    const unsigned char *base = tensor->data;
    size_t size = cnnrun_dtype_size(tensor->dtype);
    if (!base || size == 0) return 0;
    const unsigned char *p = base + index * size;
    /* memcpy keeps unaligned data (an odd offset in an array file) well defined. */
    switch (tensor->dtype) {
    case CNNRUN_FLOAT32: { float v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_FLOAT64: { double v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_FLOAT16: { uint16_t v; memcpy(&v, p, sizeof v); return half_to_double(v); }
    case CNNRUN_BFLOAT16: { uint16_t v; memcpy(&v, p, sizeof v); return bfloat16_to_double(v); }
    case CNNRUN_UINT8: return *p;
    case CNNRUN_BOOL: return *p != 0;
    case CNNRUN_INT8: { int8_t v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_UINT16: { uint16_t v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_INT16: { int16_t v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_INT32: { int32_t v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_UINT32: { uint32_t v; memcpy(&v, p, sizeof v); return v; }
    case CNNRUN_INT64: { int64_t v; memcpy(&v, p, sizeof v); return (double)v; }
    case CNNRUN_UINT64: { uint64_t v; memcpy(&v, p, sizeof v); return (double)v; }
    default: return 0;
    }
}

void cli_compare_tensors(const cnnrun_tensor *out, const cnnrun_tensor *ref, double rtol,
                         double atol, cli_compare_result *result)
{
    memset(result, 0, sizeof *result);
    size_t count = cnnrun_tensor_element_count(ref);
    if (count == SIZE_MAX) count = 0;
    result->count = count;
    /* The worst element is the one with the largest excess |diff| / allowed; an element that
     * breaks the NaN/infinity rule counts as infinitely far. */
    double worst_ratio = -1;
    for (size_t i = 0; i < count; i++) {
        double a = cli_tensor_value(out, i), b = cli_tensor_value(ref, i);
        double diff, ratio;
        int ok;
        if (isnan(a) || isnan(b)) {
            ok = isnan(a) && isnan(b);
            diff = ok ? 0 : NAN;
        } else if (a == b) { /* also covers equal infinities, whose difference is NaN */
            ok = 1;
            diff = 0;
        } else {
            diff = fabs(a - b);
            ok = isfinite(diff) && diff <= atol + rtol * fabs(b);
        }
        if (isnan(diff) || !isfinite(diff)) {
            ratio = INFINITY;
            result->max_abs_err = INFINITY;
            result->max_rel_err = INFINITY;
        } else {
            double allowed = atol + rtol * fabs(b);
            ratio = allowed > 0 ? diff / allowed : (diff > 0 ? INFINITY : 0);
            if (diff > result->max_abs_err) result->max_abs_err = diff;
            double rel = b != 0 ? diff / fabs(b) : (diff > 0 ? INFINITY : 0);
            if (rel > result->max_rel_err) result->max_rel_err = rel;
        }
        if (!ok) result->failures++;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            result->worst_index = i;
            result->worst_out = a;
            result->worst_ref = b;
        }
    }
}

void cli_format_index(char *buf, size_t size, const cnnrun_tensor *tensor, size_t flat_index)
{
    size_t rank = tensor->rank < CNNRUN_MAX_RANK ? tensor->rank : CNNRUN_MAX_RANK;
    size_t coords[CNNRUN_MAX_RANK];
    size_t rest = flat_index;
    for (size_t d = rank; d-- > 0;) {
        size_t extent = tensor->shape[d] > 0 ? (size_t)tensor->shape[d] : 1;
        coords[d] = rest % extent;
        rest /= extent;
    }
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    if (n > 0) used = (size_t)n;
    for (size_t d = 0; d < rank && used < size; d++) {
        n = snprintf(buf + used, size - used, "%s%zu", d ? ", " : "", coords[d]);
        if (n > 0) used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}
