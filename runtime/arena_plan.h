/* Arena planning: given each buffer's size and lifetime (first and last step that touch it),
 * choose offsets in one block so that buffers live at the same time never overlap. Greedy by
 * size with best fit: the largest buffers are placed first, each in the smallest gap among the
 * already-placed buffers whose lifetimes intersect its own. */
#ifndef CR_ARENA_PLAN_H
#define CR_ARENA_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

#define CR_ARENA_ALIGN 64

typedef struct cr_buffer_life {
    size_t bytes;
    int first; /* first step that writes it */
    int last;  /* last step that reads it (inclusive) */
    size_t offset; /* out */
} cr_buffer_life;

/* Assigns offsets (multiples of CR_ARENA_ALIGN) and returns the arena size in *total. */
cnnrun_status *cr_arena_plan(cr_buffer_life *buffers, int n, size_t *total);

/* The invariant: no two buffers whose lifetimes intersect share a byte, and all fit in total.
 * Returns false and names the pair in why (if non-NULL) otherwise. */
bool cr_arena_plan_verify(const cr_buffer_life *buffers, int n, size_t total, char *why,
                          size_t why_size);

#endif
