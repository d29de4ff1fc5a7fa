/* ONNX ModelProto (protobuf) → IR graph. */
#ifndef CR_ONNX_LOADER_H
#define CR_ONNX_LOADER_H

#include <stddef.h>

#include "graph.h"
#include "onnx.pb-c.h"

/* Parses an ONNX model held in memory into a new graph (topologically sorted). External tensor
 * data are read relative to external_dir (NULL: refused). Errors name what is wrong: not an ONNX
 * file, an unsupported domain, a subgraph attribute, a sparse initializer, a dangling input. */
cnnrun_status *cr_onnx_load(const void *data, size_t size, const char *external_dir,
                            cr_graph **out);

/* The same in two parts, so that a caller can free the file's bytes between them: unpack parses
 * the protobuf (nothing in *out points into data), convert builds the graph and frees mp. */
cnnrun_status *cr_onnx_unpack(const void *data, size_t size, Onnx__ModelProto **out);
cnnrun_status *cr_onnx_convert(Onnx__ModelProto *mp, const char *external_dir, cr_graph **out);

#endif
