/* .npy: NumPy's one-array file format (versions 1.0, 2.0, 3.0), parsed from memory. The writer is
 * the public cnnrun_npy_save. */
#ifndef CR_NPY_H
#define CR_NPY_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* True if the bytes start with the .npy magic "\x93NUMPY". */
bool cr_npy_has_magic(const void *data, size_t size);

/* Parses a whole .npy image: fills out's dtype, rank, shape, nbytes and data (C order, allocated
 * with cr_aligned_alloc; the caller frees it with cr_aligned_free). out->name is left alone.
 * `what` names the source in messages ("'dir/x.npy'", "member 'x.npy' of 'a.npz'"). Malformed
 * files are CNNRUN_ERR_INVALID_MODEL, unsupported dtypes or ranks CNNRUN_ERR_UNSUPPORTED. */
cnnrun_status *cr_npy_parse(const void *data, size_t size, const char *what, cnnrun_tensor *out);

#endif
