/* The broadcast loop nest: see broadcast.h. */
#include "broadcast.h"

#include <string.h>

/* Strides of an input in the output's index space: 0 along axes where it broadcasts. */
static void input_strides(int rank_out, const int64_t *dims_out, int rank_in, const int64_t *dims_in,
                          int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank_out - 1; i >= 0; i--) {
        int j = i - (rank_out - rank_in);
        int64_t d = j >= 0 ? dims_in[j] : 1;
        strides[i] = (d == 1 && dims_out[i] != 1) ? 0 : s;
        s *= d;
    }
}

void cr_broadcast_plan(cr_bcast_plan *p, int rank_out, const int64_t *dims_out, int n_inputs, const int *ranks,
                       const int64_t *const *dims)
{
    int64_t st[CR_BCAST_MAX_INPUTS][CR_MAX_RANK];
    memset(p, 0, sizeof *p);
    p->n_inputs = n_inputs;
    p->count = 1;
    for (int k = 0; k < n_inputs; k++) input_strides(rank_out, dims_out, ranks[k], dims[k], st[k]);
    int r = 0;
    for (int i = 0; i < rank_out; i++) {
        int64_t d = dims_out[i];
        p->count *= d;
        if (d == 1) continue;
        /* Axis i joins the previous merged axis when, for every input, one step of that axis
         * is d steps of axis i (contiguous across the pair, or broadcast along both). */
        bool joins = r > 0;
        for (int k = 0; k < n_inputs && joins; k++) joins = p->strides[k][r - 1] == st[k][i] * d;
        if (joins) {
            p->dims[r - 1] *= d;
            for (int k = 0; k < n_inputs; k++) p->strides[k][r - 1] = st[k][i];
            continue;
        }
        p->dims[r] = d;
        for (int k = 0; k < n_inputs; k++) p->strides[k][r] = st[k][i];
        r++;
    }
    if (r == 0) { /* a single element */
        p->dims[0] = 1;
        for (int k = 0; k < n_inputs; k++) p->strides[k][0] = 1;
        r = 1;
    }
    p->rank = r;
    p->row_len = p->dims[r - 1];
    p->rows = p->row_len > 0 ? p->count / p->row_len : 0;
}

int cr_broadcast_is_flat(const cr_bcast_plan *p)
{
    if (p->rank != 1) return 0;
    for (int k = 0; k < p->n_inputs; k++)
        if (p->strides[k][0] != 1) return 0;
    return 1;
}

void cr_broadcast_run(const cr_bcast_plan *p, int threads, cr_bcast_row_fn row, const void *user)
{
    if (p->count == 0) return;
    const int last = p->rank - 1;
    const int nk = p->n_inputs;
    int64_t steps[CR_BCAST_MAX_INPUTS];
    for (int k = 0; k < nk; k++) steps[k] = p->strides[k][last];
    const int64_t n = p->row_len;
    if (p->rows == 1) {
        const int64_t chunk = 16384;
        const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) if (n >= CR_BCAST_PARALLEL_MIN)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t i0 = c * chunk, len = n - i0 < chunk ? n - i0 : chunk;
            int64_t off[CR_BCAST_MAX_INPUTS];
            for (int k = 0; k < nk; k++) off[k] = i0 * steps[k];
            row(user, off, steps, i0, len);
        }
        return;
    }
#pragma omp parallel for num_threads(threads) if (p->count >= CR_BCAST_PARALLEL_MIN)
    for (int64_t r = 0; r < p->rows; r++) {
        int64_t off[CR_BCAST_MAX_INPUTS] = {0};
        int64_t rem = r;
        for (int d = last - 1; d >= 0; d--) {
            int64_t idx = rem % p->dims[d];
            rem /= p->dims[d];
            for (int k = 0; k < nk; k++) off[k] += idx * p->strides[k][d];
        }
        row(user, off, steps, r * n, n);
    }
}
