/* Packed weights shared by the plans of a session: a small list of counted entries. */
#include "weight_cache.h"

#include <stdlib.h>

#include "tensor.h"

typedef struct weight_entry {
    const void *data;
    dnnl_memory_desc_t src_md, dst_md;
    void *packed;
    int refs;
} weight_entry;

struct cr_weight_cache {
    int n, capacity;
    weight_entry *entries;
};

cnnrun_status *cr_weight_cache_create(cr_weight_cache **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NULL : cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the weight cache");
}

void cr_weight_cache_destroy(cr_weight_cache *cache)
{
    if (!cache) return;
    for (int i = 0; i < cache->n; i++) cr_aligned_free(cache->entries[i].packed);
    free(cache->entries);
    free(cache);
}

void *cr_weight_cache_find(cr_weight_cache *cache, const void *data, const dnnl_memory_desc_t *src_md,
                           const dnnl_memory_desc_t *dst_md)
{
    for (int i = 0; i < cache->n; i++) {
        weight_entry *e = &cache->entries[i];
        if (e->data == data && dnnl_memory_desc_equal(&e->src_md, src_md) &&
            dnnl_memory_desc_equal(&e->dst_md, dst_md)) {
            e->refs++;
            return e->packed;
        }
    }
    return NULL;
}

cnnrun_status *cr_weight_cache_add(cr_weight_cache *cache, const void *data, const dnnl_memory_desc_t *src_md,
                                   const dnnl_memory_desc_t *dst_md, void *packed)
{
    if (cache->n == cache->capacity) {
        int grown = cache->capacity ? 2 * cache->capacity : 64;
        weight_entry *e = realloc(cache->entries, (size_t)grown * sizeof *e);
        if (!e) {
            cr_aligned_free(packed);
            return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the weight cache");
        }
        cache->entries = e;
        cache->capacity = grown;
    }
    cache->entries[cache->n++] = (weight_entry){.data = data, .src_md = *src_md, .dst_md = *dst_md,
                                                .packed = packed, .refs = 1};
    return NULL;
}

void cr_weight_cache_release(cr_weight_cache *cache, void *packed)
{
    for (int i = 0; i < cache->n; i++) {
        weight_entry *e = &cache->entries[i];
        if (e->packed != packed) continue;
        if (--e->refs == 0) {
            cr_aligned_free(e->packed);
            cache->entries[i] = cache->entries[--cache->n];
        }
        return;
    }
}
