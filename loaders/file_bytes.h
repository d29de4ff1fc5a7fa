/* Whole-file reads with a size bound, for model and array files. */
#ifndef CR_FILE_BYTES_H
#define CR_FILE_BYTES_H

#include <stddef.h>

#include "status.h"

/* Reads the file at path into *data (malloc'd, caller frees) and *size. A missing or unreadable
 * file is CNNRUN_ERR_IO naming the path and the OS reason; a file larger than max_bytes is
 * refused before reading. `what` names the file's role in messages ("model", "input"). */
cnnrun_status *cr_read_file(const char *path, const char *what, size_t max_bytes, void **data,
                            size_t *size);

#endif
