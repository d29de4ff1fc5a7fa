/* Packed weights shared by the plans of a session. Every plan (one per input-shape signature)
 * prepares its own primitives, and a convolution's constant weights are packed into the layout
 * its primitive picks; for the same weights and the same layout, the plans of one session share
 * a single packed copy, so that planning a model for three batch sizes does not hold its weights
 * three times over. Entries are counted references, freed with the last plan that uses them. A
 * session is used by one thread at a time, and so is its cache. */
#ifndef CR_WEIGHT_CACHE_H
#define CR_WEIGHT_CACHE_H

#include <oneapi/dnnl/dnnl.h>

#include "status.h"

typedef struct cr_weight_cache cr_weight_cache;

cnnrun_status *cr_weight_cache_create(cr_weight_cache **out);
/* Every entry must have been released. */
void cr_weight_cache_destroy(cr_weight_cache *cache);

/* The packed copy of data (laid out as src_md) in dst_md, with one more reference taken, or NULL.
 * data must stay valid and unchanged while any reference to its entry is held. */
void *cr_weight_cache_find(cr_weight_cache *cache, const void *data, const dnnl_memory_desc_t *src_md,
                           const dnnl_memory_desc_t *dst_md);

/* Adds packed (from cr_aligned_alloc; the cache takes it) as data's copy in dst_md, with one
 * reference. On error packed is freed. */
cnnrun_status *cr_weight_cache_add(cr_weight_cache *cache, const void *data, const dnnl_memory_desc_t *src_md,
                                   const dnnl_memory_desc_t *dst_md, void *packed);

/* Drops a reference taken by find or add; the copy is freed with the last one. */
void cr_weight_cache_release(cr_weight_cache *cache, void *packed);

#endif
