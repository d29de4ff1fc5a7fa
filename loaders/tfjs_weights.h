/* TensorFlow.js layers-model weights: the weightsManifest of model.json and its binary shards. */
#ifndef CR_TFJS_WEIGHTS_H
#define CR_TFJS_WEIGHTS_H

#include <jansson.h>

#include "graph.h"

typedef struct cr_tfjs_weights {
    int n;
    char **names;     /* "<layer>/<weight>", as the manifest names them */
    cr_tensor **t;    /* float32, dequantized */
} cr_tfjs_weights;

/* Reads every weight of the manifest: each group's shard files (relative to dir) are
 * concatenated in "paths" order and its weights follow one another in "weights" order, little-
 * endian; float32, int32, float16 and uint8/uint16-quantized entries (value = q * scale + min)
 * become float32. Sizes are checked against the shards ("a manifest pointing past its shard"). */
cnnrun_status *cr_tfjs_read_weights(json_t *manifest, const char *dir, const char *what, cr_tfjs_weights *out);
void cr_tfjs_weights_free(cr_tfjs_weights *w);

#endif
