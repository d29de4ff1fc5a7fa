/* Internal tensors: a dtype, a shape and a data pointer, plus checked size arithmetic. */
#ifndef CR_TENSOR_H
#define CR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnrun.h"

#define CR_MAX_RANK CNNRUN_MAX_RANK

/* Largest tensor cnnrun agrees to allocate or accept: guards against absurd claimed sizes in
 * model and array files before anything is multiplied into an allocation. */
#define CR_MAX_TENSOR_BYTES ((size_t)1 << 36) /* 64 GiB */

struct cr_layout;

typedef struct cr_tensor {
    cnnrun_dtype dtype;
    int rank;
    int64_t dims[CR_MAX_RANK];
    void *data; /* NULL while unbound (a planned activation before the run binds the arena) */
    /* How the bytes are arranged (runtime/layout.h); NULL means dense row-major, which is all an
     * op sees unless it is layout-aware. Owned by the plan. */
    struct cr_layout *layout;
} cr_tensor;

/* Element count of a shape; false if a dim is negative or the product overflows int64. */
bool cr_shape_count(int rank, const int64_t *dims, int64_t *count);

/* Bytes of a tensor of this dtype and shape; false on overflow, unknown dtype or more than
 * CR_MAX_TENSOR_BYTES. */
bool cr_shape_bytes(cnnrun_dtype dtype, int rank, const int64_t *dims, size_t *bytes);

/* Element count and bytes of a tensor (no checks: for shapes already validated by the planner). */
int64_t cr_tensor_count(const cr_tensor *t);
size_t cr_tensor_bytes(const cr_tensor *t);

/* Writes "[1, 3, 224, 224]" into buf (truncated to size). Returns buf. */
char *cr_shape_str(int rank, const int64_t *dims, char *buf, size_t size);

bool cr_shape_equal(int rank_a, const int64_t *a, int rank_b, const int64_t *b);

/* Writes a byte count for messages, "3.75 GiB (4026532140 bytes)", into buf. Returns buf. */
char *cr_bytes_str(uint64_t bytes, char *buf, size_t size);

/* Allocation aligned for SIMD kernels (64 bytes), zero-size safe. Free with cr_aligned_free. */
void *cr_aligned_alloc(size_t bytes);
void cr_aligned_free(void *p);

#endif
