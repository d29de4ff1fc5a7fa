/* Keras models (.keras archives of Keras 3, legacy .h5 of Keras 2 / tf.keras / Keras 3,
 * TensorFlow.js layers models: model.json + shards) -> IR. */
#ifndef CR_KERAS_LOADER_H
#define CR_KERAS_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "graph.h"

/* True if the bytes look like a Keras model this loader reads: a zip archive, an HDF5 file or a
 * JSON object (TensorFlow.js model.json). */
bool cr_keras_has_magic(const void *data, size_t size);

/* Builds the graph of the model in data (`what` names the file in messages; dir is where a
 * model.json's weight shards are, NULL if unknown). */
cnnrun_status *cr_keras_load(const void *data, size_t size, const char *what, const char *dir, cr_graph **out);

#endif
