/* Zip archives as numpy's .npz and Keras 3's .keras write them: this file knows the container
 * only; each member's bytes go to a callback. */
#ifndef CR_ZIP_H
#define CR_ZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* True if the bytes start like a zip archive: a local file header ("PK\3\4") or, for an archive
 * with no members, the end-of-central-directory record ("PK\5\6"). */
bool cr_zip_has_magic(const void *data, size_t size);

/* Receives one member: its name (NUL-terminated) and its uncompressed, CRC-checked bytes, both
 * valid during the call only. */
typedef cnnrun_status *(*cr_zip_member_fn)(void *ctx, const char *member_name, const void *data,
                                           size_t size);

/* Walks the archive through its central directory (zip64 records and extra fields included),
 * checking every offset and size against the buffer. `what` names the file in messages. Members
 * must be stored or deflated; anything else is an error. */
cnnrun_status *cr_zip_read(const void *data, size_t size, const char *what, cr_zip_member_fn fn,
                           void *ctx);

#endif
