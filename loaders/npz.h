/* .npz: a zip archive of .npy members (numpy.savez stores them, numpy.savez_compressed deflates
 * them). */
#ifndef CR_NPZ_H
#define CR_NPZ_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* True if the bytes start like a zip archive (see cr_zip_has_magic). */
bool cr_npz_has_magic(const void *data, size_t size);

/* Receives one member: its array name (the member name without ".npy", NUL-terminated) and its
 * uncompressed, CRC-checked bytes, both valid during the call only. */
typedef cnnrun_status *(*cr_npz_member_fn)(void *ctx, const char *name, const char *member_name,
                                           const void *data, size_t size);

/* Walks the archive (cr_zip_read); members must be named "<array>.npy"; anything else is an
 * error. `what` names the file in messages. */
cnnrun_status *cr_npz_read(const void *data, size_t size, const char *what, cr_npz_member_fn fn,
                           void *ctx);

#endif
