/* Shape arithmetic with overflow checks, and dtype facts. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cr_shape_count(int rank, const int64_t *dims, int64_t *count)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] != 0 && n > INT64_MAX / dims[i]) return false;
        n *= dims[i];
    }
    *count = n;
    return true;
}

bool cr_shape_bytes(cnnrun_dtype dtype, int rank, const int64_t *dims, size_t *bytes)
{
    size_t es = cnnrun_dtype_size(dtype);
    int64_t n;
    if (es == 0 || !cr_shape_count(rank, dims, &n)) return false;
    if ((uint64_t)n > CR_MAX_TENSOR_BYTES / es) return false;
    *bytes = (size_t)n * es;
    return true;
}

int64_t cr_tensor_count(const cr_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

size_t cr_tensor_bytes(const cr_tensor *t)
{
    return (size_t)cr_tensor_count(t) * cnnrun_dtype_size(t->dtype);
}

char *cr_shape_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

char *cr_bytes_str(uint64_t bytes, char *buf, size_t size)
{
    if (bytes < 1024) {
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
        return buf;
    }
    int shift = bytes >= (uint64_t)1 << 40 ? 40 : bytes >= (uint64_t)1 << 30 ? 30 : bytes >= (uint64_t)1 << 20 ? 20 : 10;
    const char *unit = shift == 40 ? "TiB" : shift == 30 ? "GiB" : shift == 20 ? "MiB" : "KiB";
    snprintf(buf, size, "%.3g %s (%llu bytes)", (double)bytes / (double)((uint64_t)1 << shift), unit,
             (unsigned long long)bytes);
    return buf;
}

bool cr_shape_equal(int rank_a, const int64_t *a, int rank_b, const int64_t *b)
{
    return rank_a == rank_b && (rank_a == 0 || memcmp(a, b, (size_t)rank_a * sizeof *a) == 0);
}

void *cr_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    /* Round up so that kernels may read whole vectors at the end without leaving the block. */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) return NULL;
    return p;
}

void cr_aligned_free(void *p)
{
    free(p);
}

const char *cnnrun_dtype_name(cnnrun_dtype dtype)
{
    switch (dtype) {
    case CNNRUN_FLOAT32: return "float32";
    case CNNRUN_UINT8: return "uint8";
    case CNNRUN_INT8: return "int8";
    case CNNRUN_UINT16: return "uint16";
    case CNNRUN_INT16: return "int16";
    case CNNRUN_INT32: return "int32";
    case CNNRUN_INT64: return "int64";
    case CNNRUN_STRING: return "string";
    case CNNRUN_BOOL: return "bool";
    case CNNRUN_FLOAT16: return "float16";
    case CNNRUN_FLOAT64: return "float64";
    case CNNRUN_UINT32: return "uint32";
    case CNNRUN_UINT64: return "uint64";
    case CNNRUN_BFLOAT16: return "bfloat16";
    default: break;
    }
    /* ONNX types cnnrun does not support, named so that refusals say what was found. */
    switch ((int)dtype) {
    case 14: return "complex64";
    case 15: return "complex128";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    default: return "undefined";
    }
}

size_t cnnrun_dtype_size(cnnrun_dtype dtype)
{
    switch (dtype) {
    case CNNRUN_UINT8: case CNNRUN_INT8: case CNNRUN_BOOL: return 1;
    case CNNRUN_UINT16: case CNNRUN_INT16: case CNNRUN_FLOAT16: case CNNRUN_BFLOAT16: return 2;
    case CNNRUN_FLOAT32: case CNNRUN_INT32: case CNNRUN_UINT32: return 4;
    case CNNRUN_INT64: case CNNRUN_FLOAT64: case CNNRUN_UINT64: return 8;
    default: return 0;
    }
}

size_t cnnrun_tensor_element_count(const cnnrun_tensor *tensor)
{
    int64_t n;
    if (!tensor || tensor->rank > CNNRUN_MAX_RANK ||
        !cr_shape_count((int)tensor->rank, tensor->shape, &n))
        return SIZE_MAX;
    return (size_t)n;
}
