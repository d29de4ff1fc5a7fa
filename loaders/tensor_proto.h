/* ONNX TensorProto → cr_tensor, shared by the model loader (initializers, Constant nodes,
 * tensor attributes) and the array reader (.pb files of the ONNX test suite). */
#ifndef CR_TENSOR_PROTO_H
#define CR_TENSOR_PROTO_H

#include "onnx.pb-c.h"
#include "status.h"
#include "tensor.h"

/* Decodes tp into a new heap tensor (free with cr_tensor_free). Data may come from raw_data
 * (little-endian), the typed fields (float_data, double_data, int32_data for int32/int16/int8/
 * uint16/uint8/bool/float16, int64_data, uint64_data), or external data (data_location EXTERNAL:
 * location relative to external_dir, offset, length). Every size is checked against the claimed
 * shape before allocation. external_dir NULL refuses external data with a clear message. */
cnnrun_status *cr_tensor_from_proto(const Onnx__TensorProto *tp, const char *external_dir,
                                    cr_tensor **out);

/* Frees tp's raw_data once it has been decoded (the rest of tp stays valid for messages and is
 * freed with the message). */
void cr_tensor_proto_release_data(Onnx__TensorProto *tp);

#endif
