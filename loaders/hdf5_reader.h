/* Reading HDF5 files held in memory (Keras .h5 models and the model.weights.h5 of a .keras
 * archive) through Debian's libhdf5: groups, string attributes and float datasets. Only what the
 * Keras loaders need; every failure is a status naming the file and the object. */
#ifndef CR_HDF5_READER_H
#define CR_HDF5_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "graph.h"

/* True if the bytes start with the HDF5 signature (a superblock at offset 0; files with a user
 * block, which puts it at 512, 1024, ... are not produced by h5py and are not recognised). */
bool cr_hdf5_has_magic(const void *data, size_t size);

typedef struct cr_hdf5 cr_hdf5;

/* Opens an in-memory image (copied; data may be freed afterwards). `what` names the file in
 * messages. libhdf5 (serial build) is not thread-safe: the open file holds a process-wide lock
 * until cr_hdf5_close, so loads in several threads take turns. */
cnnrun_status *cr_hdf5_open(const void *data, size_t size, const char *what, cr_hdf5 **out);
void cr_hdf5_close(cr_hdf5 *f);

/* Whether an object (group or dataset) exists at the '/'-separated path. */
bool cr_hdf5_exists(cr_hdf5 *f, const char *path);

/* A string attribute of the object at path, fixed- or variable-length (h5py writes both);
 * *found false (and *out NULL) when the attribute is absent. *out is malloc'd. */
cnnrun_status *cr_hdf5_attr_string(cr_hdf5 *f, const char *path, const char *attr, bool *found,
                                   char **out);

/* A string-array attribute, or Keras's split form attr0, attr1, ... when attr itself is absent
 * (attributes over 64 KiB are split that way). *count 0 when absent. Free with
 * cr_hdf5_free_strings. */
cnnrun_status *cr_hdf5_attr_strings(cr_hdf5 *f, const char *path, const char *attr, char ***out,
                                    size_t *count);
void cr_hdf5_free_strings(char **list, size_t count);

/* The dataset at path as a float32 tensor (integer and other float types converted by libhdf5).
 * Sizes are checked before allocating. */
cnnrun_status *cr_hdf5_read_float(cr_hdf5 *f, const char *path, cr_tensor **out);

#endif
