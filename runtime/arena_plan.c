/* Best-fit arena planning over buffer lifetimes. */
#include "arena_plan.h"

#include <stdio.h>
#include <stdlib.h>

static size_t align_up(size_t x)
{
    return (x + CR_ARENA_ALIGN - 1) & ~(size_t)(CR_ARENA_ALIGN - 1);
}

static bool lives_overlap(const cr_buffer_life *a, const cr_buffer_life *b)
{
    return a->first <= b->last && b->first <= a->last;
}

/* Sort keys carry what the comparison needs, so that no shared state is involved: sessions in
 * several threads may plan at once. */
typedef struct size_key {
    size_t bytes;
    int first;
    int index;
} size_key;

static int by_size_desc(const void *pa, const void *pb)
{
    const size_key *a = pa, *b = pb;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return a->index - b->index;
}

static int by_offset(const void *pa, const void *pb)
{
    const cr_buffer_life *a = *(const cr_buffer_life *const *)pa, *b = *(const cr_buffer_life *const *)pb;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

cnnrun_status *cr_arena_plan(cr_buffer_life *buffers, int n, size_t *total)
{
    *total = 0;
    if (n <= 0) return NULL;
    size_key *order = malloc((size_t)n * sizeof *order);
    const cr_buffer_life **placed = malloc((size_t)n * sizeof *placed);
    const cr_buffer_life **live = malloc((size_t)n * sizeof *live);
    if (!order || !placed || !live) {
        free(order);
        free(placed);
        free(live);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory planning %d buffers", n);
    }
    for (int i = 0; i < n; i++) order[i] = (size_key){buffers[i].bytes, buffers[i].first, i};
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    int n_placed = 0;
    size_t arena = 0;
    for (int k = 0; k < n; k++) {
        cr_buffer_life *b = &buffers[order[k].index];
        size_t need = align_up(b->bytes ? b->bytes : 1);
        int n_live = 0;
        for (int j = 0; j < n_placed; j++)
            if (lives_overlap(placed[j], b)) live[n_live++] = placed[j];
        qsort(live, (size_t)n_live, sizeof *live, by_offset);
        /* Smallest gap that fits, scanning the live buffers in offset order. */
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (int j = 0; j < n_live; j++) {
            if (live[j]->offset > cursor) {
                size_t gap = live[j]->offset - cursor;
                if (gap >= need && gap < best_gap) {
                    best_gap = gap;
                    best = cursor;
                }
            }
            size_t end = live[j]->offset + align_up(live[j]->bytes ? live[j]->bytes : 1);
            if (end > cursor) cursor = end;
        }
        b->offset = best != SIZE_MAX ? best : cursor;
        if (b->offset + need > arena) arena = b->offset + need;
        placed[n_placed++] = b;
    }
    free(order);
    free(placed);
    free(live);
    *total = arena;
    return NULL;
}

bool cr_arena_plan_verify(const cr_buffer_life *buffers, int n, size_t total, char *why,
                          size_t why_size)
{
    for (int i = 0; i < n; i++) {
        const cr_buffer_life *a = &buffers[i];
        if (a->offset % CR_ARENA_ALIGN != 0 || a->offset + a->bytes > total) {
            if (why) snprintf(why, why_size, "buffer %d [%zu, +%zu) is misaligned or outside the %zu-byte arena",
                              i, a->offset, a->bytes, total);
            return false;
        }
        for (int j = i + 1; j < n; j++) {
            const cr_buffer_life *b = &buffers[j];
            if (!lives_overlap(a, b) || !a->bytes || !b->bytes) continue;
            if (a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes) {
                if (why)
                    snprintf(why, why_size,
                             "buffers %d [%zu, +%zu) steps %d..%d and %d [%zu, +%zu) steps %d..%d overlap",
                             i, a->offset, a->bytes, a->first, a->last, j, b->offset, b->bytes,
                             b->first, b->last);
                return false;
            }
        }
    }
    return true;
}
