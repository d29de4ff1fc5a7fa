/* Comparing an output tensor with a reference array, element by element, within tolerances. */
#ifndef CLI_COMPARE_H
#define CLI_COMPARE_H

#include <stddef.h>

#include "cnnrun.h"

/* Element i of a tensor of any numeric dtype, as a double (int64 beyond 2^53 rounds). Returns 0
 * for dtypes without numeric values (string, undefined); callers check cli_dtype_is_numeric. */
double cli_tensor_value(const cnnrun_tensor *tensor, size_t index);
int cli_dtype_is_numeric(cnnrun_dtype dtype);

typedef struct cli_compare_result {
    double max_abs_err;      /* over elements whose difference is a number */
    double max_rel_err;      /* |out - ref| / |ref|; inf where ref is 0 and out is not */
    size_t worst_index;      /* flat index of the element furthest outside (or nearest to) tolerance */
    double worst_out, worst_ref;
    size_t failures;         /* elements out of tolerance */
    size_t count;
} cli_compare_result;

/* Compares out with ref: |out - ref| <= atol + rtol * |ref|, NaN matching NaN, an infinity
 * matching the same infinity. The caller has checked that dtype and shape agree. */
void cli_compare_tensors(const cnnrun_tensor *out, const cnnrun_tensor *ref, double rtol,
                         double atol, cli_compare_result *result);

/* Writes the multi-dimensional index of a flat index ("[0, 7]") into buf. */
void cli_format_index(char *buf, size_t size, const cnnrun_tensor *tensor, size_t flat_index);

#endif
