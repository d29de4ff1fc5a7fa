/* Matrix products for the plain kernels (the RNN reference kernel, Einsum): row-major
 * C = op(A) * op(B), op being a transpose or not. float32 runs on oneDNN's sgemm — its JIT
 * kernels for the CPU's widest ISA, on the session's OpenMP threads, so that no second thread
 * pool competes with them (a BLAS library's own threads did, stalling runs on 2 cores); float64,
 * which only Einsum sees, on a plain loop. */
#ifndef CR_GEMM_KERNELS_H
#define CR_GEMM_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

/* C [m, n] = op(A) [m, k] * op(B) [k, n]; lda, ldb, ldc are the row strides of A, B and C as
 * stored (A is [k, m] when transposed). */
void cr_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
              const float *b, int64_t ldb, float *c, int64_t ldc);
void cr_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
              const double *b, int64_t ldb, double *c, int64_t ldc);

#endif
