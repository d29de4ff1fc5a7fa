/* The array reader behind cnnrun_arrays_load, on bytes already in memory: the fuzz harness
 * (tests/fuzz/fuzz_arrays.c) feeds it directly instead of going through a file. */
#ifndef CR_ARRAYS_H
#define CR_ARRAYS_H

#include <stddef.h>

#include "cnnrun.h"

/* Reads the .npy, .npz or TensorProto image data[0..size) as if it were the file at `path`:
 * the path names the arrays (a .npy takes the file's stem) and the messages, and a TensorProto's
 * external data are read relative to its directory. */
cnnrun_status *cr_arrays_load_memory(const void *data, size_t size, const char *path,
                                     cnnrun_arrays **out);

#endif
