/* Max pooling in plain C, for what pool.c's oneDNN pooling does not give: the Indices output of
 * MaxPool, and dtypes other than float32 (float64, float16, int8, uint8). pool.c reads and checks
 * the attributes (cr_window); this file only scans windows. */
#ifndef CR_POOL_PLAIN_H
#define CR_POOL_PLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "dnnl_util.h"
#include "op.h"

/* Everything run needs, computed at prepare. The spatial dims are viewed as 3, the missing
 * leading ones of size 1, so that one loop nest serves 1-D, 2-D and 3-D pooling. */
typedef struct cr_max_pool_plain {
    cnnrun_dtype dtype;
    int64_t planes;                       /* batch x channels */
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_l[3];
    int64_t in_plane, out_plane;          /* elements per (n, c) plane */
    /* Indices: how far one step along each spatial dim moves the index inside its plane; row-major
     * for storage_order 0, column-major for 1 (batch and channel stay row-major: an index is
     * plane x in_plane + this offset, as ONNX Runtime and the ONNX reference compute it). */
    int64_t index_step[3];
    bool column_major;
    bool parallel;                        /* enough work to start an OpenMP team */
} cr_max_pool_plain;

/* The dtypes the kernel computes. */
bool cr_max_pool_plain_dtype(cnnrun_dtype dtype);

/* Fills p for input [batch, channels, w->in...] of dtype; errors name the node. Every window must
 * hold at least one input element (pool.c refuses other geometries): should one not, its output
 * is the dtype's lowest value, as ONNX Runtime gives, and its index -1. */
cnnrun_status *cr_max_pool_plain_init(const cr_op_ctx *ctx, const cr_window *w, int64_t batch,
                                      int64_t channels, cnnrun_dtype dtype, bool column_major,
                                      cr_max_pool_plain *p);

/* y (and indices, unless NULL) from x. Each output is the first maximum in row-major scan order
 * of its window (ties go to the earliest element, as in ONNX Runtime); for floating-point data
 * the first NaN wins, as the Max operator propagates NaN. No allocation. */
void cr_max_pool_plain_run(const cr_max_pool_plain *p, const void *x, void *y, int64_t *indices);

#endif
