/* Memory layouts of planned values. Every op reads and writes dense row-major tensors unless it
 * is layout-aware (CR_OP_LAYOUT_AWARE): those run on oneDNN primitives created with
 * dnnl_format_tag_any and may keep whatever layout oneDNN picks (NHWC or a blocked one) for the
 * values they exchange with each other. The planner inserts a reorder only on an edge whose two
 * ends disagree, and before graph outputs. */
#ifndef CR_LAYOUT_H
#define CR_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#include "status.h"

struct cr_tensor;

typedef struct cr_layout {
    bool plain;            /* dense row-major (md unused) */
    dnnl_memory_desc_t md; /* otherwise: the oneDNN description of the bytes */
} cr_layout;

/* True for a tensor whose bytes are dense row-major: no layout, a plain one, or a oneDNN one that
 * happens to place every element where row-major order would (NHWC with H = W = 1, for
 * example), so that ops which are not layout-aware can read it as it is. */
bool cr_layout_is_plain(const struct cr_tensor *t);

/* Whether bytes laid out as a can be read as b (both describing the same shape). */
bool cr_layout_same(const struct cr_tensor *a, const cr_layout *b);

/* Bytes a tensor occupies in its layout (blocked layouts may pad channels). */
size_t cr_layout_bytes(const struct cr_tensor *t);

/* The oneDNN descriptor of a float32 tensor's bytes: its layout's, or row-major. */
cnnrun_status *cr_layout_md(const struct cr_tensor *t, dnnl_memory_desc_t *md);

/* Ops of our own that work in memory order (element-wise ops, Concat, BatchNormalization) handle
 * the layouts that are a permutation of the dims: dense, unblocked, unpadded (NHWC is [0,2,3,1]).
 * For such a tensor (row-major included), the dims from outermost to innermost in memory; false
 * for blocked or padded layouts. */
bool cr_layout_order(const struct cr_tensor *t, int *order);

/* Whether t's bytes, its dims aligned to the right of a rank-`rank` shape (missing leading dims
 * of size 1), are row-major when the dims are taken in `order` (a permutation of 0..rank-1):
 * then a loop over memory in that order reads t as a broadcasting operand. */
bool cr_layout_row_major_in(const struct cr_tensor *t, int rank, const int *order);

/* Makes l the layout of a rank-`rank` tensor of these dims stored in `order`. */
cnnrun_status *cr_layout_set_order(cr_layout *l, int rank, const int64_t *dims, const int *order);

/* For a tensor held in a oneDNN layout of another element type (bfloat16 between the
 * convolutions of a bfloat16 session) without blocking: the float32 layout with the same order
 * of dims, which our own loops can read (a reorder makes it). False otherwise. */
bool cr_layout_f32_twin(const struct cr_tensor *t, cr_layout *twin);

/* Whether t's layout has exactly its elements' bytes (no blocking padding), so that an
 * element-wise op may treat it as a flat array and write its output in the same layout. */
bool cr_layout_dense(const struct cr_tensor *t);

/* "nhwc", "nChw16c", "plain", or the strides for other layouts: for profiles and messages. */
void cr_layout_describe(const struct cr_tensor *t, char *buf, size_t size);

#endif
