/* Matrix products for the plain kernels: oneDNN's sgemm for float32, a loop for float64. */
#include "gemm_kernels.h"

#include <string.h>

#include <oneapi/dnnl/dnnl.h>

void cr_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
              const float *b, int64_t ldb, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof *c);
        return;
    }
    /* The arguments are consistent by construction; oneDNN only refuses inconsistent ones. */
    (void)dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

void cr_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
              const double *b, int64_t ldb, double *c, int64_t ldc)
{
    /* i-p-j order: the innermost loop runs along rows of B and C when B is not transposed */
    #pragma omp parallel for if (m * n * k >= 65536)
    for (int64_t i = 0; i < m; i++) {
        double *ci = c + i * ldc;
        for (int64_t j = 0; j < n; j++) ci[j] = 0.0;
        for (int64_t p = 0; p < k; p++) {
            double aip = trans_a ? a[p * lda + i] : a[i * lda + p];
            if (trans_b)
                for (int64_t j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];
            else
                for (int64_t j = 0; j < n; j++) ci[j] += aip * b[p * ldb + j];
        }
    }
}
