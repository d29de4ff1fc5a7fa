/* NumPy broadcasting of N inputs reduced to a merged loop nest, shared by the element-wise ops
 * (comparisons, logical ops, Where; the arithmetic ops of binary.c can use it too).
 *
 * A plan describes the output as rows of its innermost merged axis. Each input has a stride per
 * merged axis (0 where it broadcasts); adjacent axes are merged wherever every input steps
 * through them the same way and axes of size 1 vanish, so the same-shape case is one flat row,
 * a scalar operand is a row step of 0, and [N,C,H,W] against [C,1,1] is rows of H*W elements.
 * An input's step along the row is always 0 or 1: the row axis ends at the output's last axis
 * of size > 1, and an input that is not broadcast there is contiguous there. */
#ifndef CR_BROADCAST_H
#define CR_BROADCAST_H

#include <stdint.h>

#include "tensor.h"

#define CR_BCAST_MAX_INPUTS 4

/* Outputs smaller than this run on one thread: below it the fork costs more than it saves. */
#define CR_BCAST_PARALLEL_MIN 65536

typedef struct cr_bcast_plan {
    int n_inputs;
    int rank;                                       /* of the merged nest, >= 1 */
    int64_t dims[CR_MAX_RANK];
    int64_t strides[CR_BCAST_MAX_INPUTS][CR_MAX_RANK]; /* in elements, 0 along broadcast axes */
    int64_t count;                                  /* output elements */
    int64_t row_len;                                /* dims[rank - 1] */
    int64_t rows;                                   /* count / row_len; 0 when count is 0 */
} cr_bcast_plan;

/* Builds the plan for an output of shape (rank_out, dims_out) that inputs k < n_inputs
 * (n_inputs <= CR_BCAST_MAX_INPUTS, each of shape (ranks[k], dims[k])) broadcast into. The
 * shapes must already be known to broadcast (cr_broadcast_shape). */
void cr_broadcast_plan(cr_bcast_plan *p, int rank_out, const int64_t *dims_out, int n_inputs, const int *ranks,
                       const int64_t *const *dims);

/* True when every input has the output's shape: one contiguous row, all steps 1. */
int cr_broadcast_is_flat(const cr_bcast_plan *p);

/* One row of n outputs starting at element out_offset; input k starts at in_offsets[k] and
 * advances by in_steps[k] (0 or 1) per element. user is the caller's context. */
typedef void (*cr_bcast_row_fn)(const void *user, const int64_t *in_offsets, const int64_t *in_steps,
                                int64_t out_offset, int64_t n);

/* Calls row for every row of the plan, spread over up to `threads` threads when the output is
 * large. A single long row (same shape, scalar operand) is cut into chunks so that it splits
 * across threads too. Each output element is written by exactly one call. */
void cr_broadcast_run(const cr_bcast_plan *p, int threads, cr_bcast_row_fn row, const void *user);

#endif
