/* .npz: a zip archive of .npy members (numpy.savez stores them, numpy.savez_compressed deflates
 * them). This file knows the zip container only; each member's bytes go to a callback. */
#ifndef CR_NPZ_H
#define CR_NPZ_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* True if the bytes start like a zip archive: a local file header ("PK\3\4") or, for an archive
 * with no members, the end-of-central-directory record ("PK\5\6"). */
bool cr_npz_has_magic(const void *data, size_t size);

/* Receives one member: its array name (the member name without ".npy", NUL-terminated) and its
 * uncompressed, CRC-checked bytes, both valid during the call only. */
typedef cnnrun_status *(*cr_npz_member_fn)(void *ctx, const char *name, const char *member_name,
                                           const void *data, size_t size);

/* Walks the archive through its central directory (zip64 records and extra fields included),
 * checking every offset and size against the buffer. `what` names the file in messages. Members
 * must be stored or deflated and named "<array>.npy"; anything else is an error. */
cnnrun_status *cr_npz_read(const void *data, size_t size, const char *what, cr_npz_member_fn fn,
                           void *ctx);

#endif
