/* Weight-layout conversions (declared in cnnrun.h) plus the general permutation they share. */
#ifndef CR_WEIGHT_LAYOUT_H
#define CR_WEIGHT_LAYOUT_H

#include <stdint.h>

#include "cnnrun.h"

/* dst = src with its axes permuted: dst dim d is src dim perm[d]. No checks (internal use). */
void cr_permute_f32(const float *src, int rank, const int64_t *dims, const int *perm, float *dst);

#endif
