/* libFuzzer target: bytes → the array reader behind cnnrun_arrays_load (.npy, .npz and ONNX
 * TensorProto .pb, told apart by content), from memory. The name the bytes pretend to come from
 * sits in a directory that does not exist, so a TensorProto's external data can be named but never
 * read: the reader must refuse it with a message whatever the location says. Every array that
 * loads is read end to end, so a size that disagrees with the data shows up under ASan. */
#include <stdint.h>

#include "arrays.h"
#include "cnnrun.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnnrun_arrays *arrays = NULL;
    if (fuzz_check_status(cr_arrays_load_memory(data, size, "/nonexistent-fuzz-dir/input.pb",
                                                &arrays),
                          "arrays_load"))
        return 0;
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < cnnrun_arrays_count(arrays); i++) {
        const cnnrun_tensor *t = cnnrun_arrays_get(arrays, i);
        size_t count = cnnrun_tensor_element_count(t);
        size_t elem = cnnrun_dtype_size(t->dtype);
        if (count == SIZE_MAX || count * elem != t->nbytes || !t->name) abort();
        const unsigned char *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++) sum = (unsigned char)(sum + p[b]);
    }
    cnnrun_arrays_free(arrays);
    return 0;
}
