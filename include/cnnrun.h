/*
 * cnnrun — a C inference runtime for trained CNN and RNN models.
 *
 * This is the only public header. The model of use, in the spirit of ONNX Runtime's C API:
 *
 *   - Every call that can fail returns a `cnnrun_status *`. NULL means success; anything else is
 *     an error that carries a code and a human-readable message, and that the caller frees with
 *     cnnrun_status_free().
 *   - Handles are opaque. The caller owns every handle it creates and frees it with the matching
 *     call (cnnrun_model_free, cnnrun_session_free, cnnrun_arrays_free, cnnrun_summary_free).
 *   - A model is immutable once loaded: it may be shared by sessions running in several threads at
 *     once. A session holds the planned graphs, the memory arena and the prepared kernels; it is
 *     used by one thread at a time (use one session per thread for parallel requests).
 *
 * Twenty lines of use:
 *
 *     cnnrun_model *model; cnnrun_session *session;
 *     cnnrun_status *st = cnnrun_model_load("digits_cnn.onnx", &model);
 *     if (!st) st = cnnrun_session_create(model, NULL, &session);
 *     float pixels[1 * 1 * 8 * 8] = {...};
 *     cnnrun_tensor in = { .name = "image", .dtype = CNNRUN_FLOAT32, .rank = 4,
 *                          .shape = {1, 1, 8, 8}, .data = pixels, .nbytes = sizeof pixels };
 *     cnnrun_tensor out = { 0 };                 // data == NULL: the session owns the output
 *     if (!st) st = cnnrun_session_run(session, &in, 1, &out, 1);
 *     if (st) { fprintf(stderr, "%s\n", cnnrun_status_message(st)); cnnrun_status_free(st); }
 *     else    { const float *probs = out.data; ... }   // valid until the next run or free
 *     cnnrun_session_free(session); cnnrun_model_free(model);
 */
#ifndef CNNRUN_H
#define CNNRUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNNRUN_VERSION_MAJOR 0
#define CNNRUN_VERSION_MINOR 1
#define CNNRUN_VERSION_PATCH 0
#define CNNRUN_VERSION_STRING "0.1.0"

/* The highest tensor rank cnnrun handles. */
#define CNNRUN_MAX_RANK 8

#if defined(__GNUC__)
#define CNNRUN_API __attribute__((visibility("default")))
#else
#define CNNRUN_API
#endif

/* The library version as "MAJOR.MINOR.PATCH", and the oneDNN version it runs on. */
CNNRUN_API const char *cnnrun_version(void);
CNNRUN_API const char *cnnrun_backend_version(void);

/* The operators this build implements, for documentation and tooling (`cnnrun --list-ops`). */
typedef struct cnnrun_op_info {
    const char *op_type;   /* "Conv" */
    const char *domain;    /* "" for the default ONNX domain */
    int opset_min;         /* the opset versions of the domain whose semantics it follows */
    int opset_max;
} cnnrun_op_info;
CNNRUN_API size_t cnnrun_supported_op_count(void);
/* Fills *out for index < cnnrun_supported_op_count(); returns 0, or -1 past the end. */
CNNRUN_API int cnnrun_supported_op(size_t index, cnnrun_op_info *out);

/* ---------------------------------------------------------------------------------------------
 * Status
 * ------------------------------------------------------------------------------------------- */

typedef enum cnnrun_code {
    CNNRUN_OK = 0,
    CNNRUN_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, an unknown name, a bad option */
    CNNRUN_ERR_IO = 2,               /* a file that cannot be opened or read */
    CNNRUN_ERR_INVALID_MODEL = 3,    /* malformed or inconsistent model or array file */
    CNNRUN_ERR_UNSUPPORTED = 4,      /* valid, but uses something cnnrun does not implement */
    CNNRUN_ERR_INPUT_MISMATCH = 5,   /* an input's shape or dtype differs from what the model takes */
    CNNRUN_ERR_OUT_OF_MEMORY = 6,    /* an allocation failed or a size exceeds the limits */
    CNNRUN_ERR_BUFFER_TOO_SMALL = 7, /* a caller-provided output buffer is too small */
    CNNRUN_ERR_INTERNAL = 8          /* a failure inside the backend (oneDNN) */
} cnnrun_code;

typedef struct cnnrun_status cnnrun_status;

/* Code of a status; CNNRUN_OK for NULL. */
CNNRUN_API cnnrun_code cnnrun_status_code(const cnnrun_status *status);
/* Message of a status; "ok" for NULL. Valid until the status is freed. */
CNNRUN_API const char *cnnrun_status_message(const cnnrun_status *status);
/* Frees a status; NULL is allowed. */
CNNRUN_API void cnnrun_status_free(cnnrun_status *status);

/* ---------------------------------------------------------------------------------------------
 * Element types. The numbers are those of ONNX's TensorProto.DataType.
 *
 * float16 and bfloat16 elements are stored as their raw 16 bits (uint16_t). bfloat16 is the high
 * half of a float32: widen it exactly with `(uint32_t)bits << 16`. NumPy has no bfloat16 dtype,
 * so bfloat16 arrays travel as ONNX TensorProto (.pb) files only: cnnrun_npy_save refuses them
 * (CNNRUN_ERR_UNSUPPORTED), and cnnrun_arrays_load never returns a bfloat16 array from a .npy or
 * .npz file (the untyped 2-byte '<V2' that NumPy writes for ml_dtypes' bfloat16 is refused rather
 * than guessed at). To save a bfloat16 output as .npy, Cast it to float32 in the model (exact).
 * ------------------------------------------------------------------------------------------- */

typedef enum cnnrun_dtype {
    CNNRUN_DTYPE_UNDEFINED = 0,
    CNNRUN_FLOAT32 = 1,
    CNNRUN_UINT8 = 2,
    CNNRUN_INT8 = 3,
    CNNRUN_UINT16 = 4,
    CNNRUN_INT16 = 5,
    CNNRUN_INT32 = 6,
    CNNRUN_INT64 = 7,
    CNNRUN_STRING = 8, /* not supported as tensor data; named so that errors can say what was found */
    CNNRUN_BOOL = 9,   /* one byte per element, 0 or 1 */
    CNNRUN_FLOAT16 = 10,
    CNNRUN_FLOAT64 = 11,
    CNNRUN_UINT32 = 12,
    CNNRUN_UINT64 = 13,
    /* 14, 15 are ONNX's complex types, which cnnrun does not have. */
    CNNRUN_BFLOAT16 = 16 /* raw 16 bits, as float16; see above */
} cnnrun_dtype;

/* "float32", "int64", ...; "undefined" for unknown values. */
CNNRUN_API const char *cnnrun_dtype_name(cnnrun_dtype dtype);
/* Bytes per element; 0 for types without a fixed size (string, undefined). */
CNNRUN_API size_t cnnrun_dtype_size(cnnrun_dtype dtype);

/* ---------------------------------------------------------------------------------------------
 * Tensors passed in and out of a session, and arrays read from files.
 * Data are dense, row-major (C order), in host byte order.
 * ------------------------------------------------------------------------------------------- */

typedef struct cnnrun_tensor {
    const char *name;                 /* graph input/output name; NULL = by position */
    cnnrun_dtype dtype;
    size_t rank;
    int64_t shape[CNNRUN_MAX_RANK];
    void *data;
    size_t nbytes;                    /* size of data in bytes (for an output buffer: its capacity) */
} cnnrun_tensor;

/* Number of elements of a tensor's shape; 0 for an empty tensor, 1 for a scalar (rank 0).
 * Returns SIZE_MAX if the product overflows. */
CNNRUN_API size_t cnnrun_tensor_element_count(const cnnrun_tensor *tensor);

/* What the model declares about one of its inputs or outputs. */
typedef struct cnnrun_value_info {
    const char *name;
    cnnrun_dtype dtype;                         /* CNNRUN_DTYPE_UNDEFINED if not declared */
    int rank;                                   /* -1 if not declared */
    int64_t shape[CNNRUN_MAX_RANK];             /* -1 for a free dimension */
    const char *dim_names[CNNRUN_MAX_RANK];     /* symbolic name of a free dim ("batch"), or NULL */
} cnnrun_value_info;

/* A set of named arrays read from a file. Pointers stay valid until cnnrun_arrays_free. */
typedef struct cnnrun_arrays cnnrun_arrays;

/* Reads arrays from a file, chosen by its content:
 *   .npy (format versions 1, 2 and 3; little-endian float32, float64, float16, int8/16/32/64,
 *        uint8/16/32/64, bool; fortran_order arrays are transposed to C order; no bfloat16, see
 *        the element types above) — one array named after the file stem;
 *   .npz (a zip of .npy members, stored or deflated) — one array per member, named without ".npy";
 *   an ONNX TensorProto (.pb, as in the ONNX test suite) — one array with the tensor's name.
 * Sizes are checked against the file before anything is allocated. */
CNNRUN_API cnnrun_status *cnnrun_arrays_load(const char *path, cnnrun_arrays **out);
CNNRUN_API size_t cnnrun_arrays_count(const cnnrun_arrays *arrays);
/* The i-th array, or NULL past the end. */
CNNRUN_API const cnnrun_tensor *cnnrun_arrays_get(const cnnrun_arrays *arrays, size_t index);
/* The array with this name, or NULL. */
CNNRUN_API const cnnrun_tensor *cnnrun_arrays_find(const cnnrun_arrays *arrays, const char *name);
CNNRUN_API void cnnrun_arrays_free(cnnrun_arrays *arrays);

/* Writes one tensor as a .npy file (format version 1.0, or 2.0 if the header needs it). A bfloat16
 * (or string) tensor has no .npy form: CNNRUN_ERR_UNSUPPORTED, and no file is written. */
CNNRUN_API cnnrun_status *cnnrun_npy_save(const char *path, const cnnrun_tensor *tensor);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */

typedef struct cnnrun_model cnnrun_model;

/* Loads an ONNX model. External tensor data are read relative to the model's directory. */
CNNRUN_API cnnrun_status *cnnrun_model_load(const char *path, cnnrun_model **out);
/* Loads an ONNX model from memory (the buffer may be freed after the call). External tensor data
 * are read relative to external_data_dir; pass NULL for a model that has none. */
CNNRUN_API cnnrun_status *cnnrun_model_load_from_memory(const void *data, size_t size,
                                                        const char *external_data_dir,
                                                        cnnrun_model **out);
CNNRUN_API void cnnrun_model_free(cnnrun_model *model);

CNNRUN_API size_t cnnrun_model_input_count(const cnnrun_model *model);
CNNRUN_API size_t cnnrun_model_output_count(const cnnrun_model *model);
/* Fills *out with what the model declares; the strings belong to the model. */
CNNRUN_API cnnrun_status *cnnrun_model_input_info(const cnnrun_model *model, size_t index,
                                                  cnnrun_value_info *out);
CNNRUN_API cnnrun_status *cnnrun_model_output_info(const cnnrun_model *model, size_t index,
                                                   cnnrun_value_info *out);

/* ---------------------------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------------------------- */

typedef struct cnnrun_session cnnrun_session;

/* The arithmetic a session runs its convolutions in. */
typedef enum cnnrun_precision {
    CNNRUN_PRECISION_FLOAT32 = 0, /* float32 throughout: outputs match the framework's to ~1e-5 */
    /* Convolutions (with their fused post-ops) and pooling in bfloat16, on the CPU's AVX-512 BF16
     * and AMX units, with the activations between them stored as bfloat16; everything else, the
     * inputs and the outputs stay float32. Several times faster on CPUs with AMX, at the cost of
     * precision: bfloat16 keeps 8 significant bits, so outputs typically differ from float32 by
     * about 1e-2 relative to their largest value. Sessions asking for it on a CPU without
     * AVX-512 BF16 are refused. */
    CNNRUN_PRECISION_BFLOAT16 = 1
} cnnrun_precision;

/* How float32 convolutions are computed. */
typedef enum cnnrun_conv_algorithm {
    CNNRUN_CONV_DIRECT = 0, /* direct convolution: the rounding of PyTorch's CPU kernels */
    /* Winograd (oneDNN's F(2x2,3x3) and F(4x4,3x3) kernels) for the 3x3, stride-1, ungrouped
     * convolutions with at least 32 input and output channels and a 14x14 or larger output:
     * 2.25-4x fewer multiplications, measured 1.5-3.8x faster than the direct kernel on such a
     * layer alone; direct convolution elsewhere and on CPUs without the kernels (they need
     * AVX-512). Chosen per layer when planning, shown by cnnrun --profile (jit_wino_*). Its
     * rounding differs from direct convolution's, but on the model zoo the outputs stay within
     * 3e-5 of their largest value of PyTorch's, as direct convolution's do. Not the default:
     * the Winograd kernels read and write only the blocked nChw16c layout, so between layers that
     * keep NHWC it adds two layout reorders per layer, which cost more than it saves in ResNet-50,
     * GoogLeNet and DenseNet; chains of 3x3 layers such as VGG's gain (VGG-11 1.7x on one
     * thread). */
    CNNRUN_CONV_WINOGRAD = 1
} cnnrun_conv_algorithm;

/* The memory ceiling of a session's plans when none is asked for: well under a server's memory,
 * and far above what the CNNs and RNNs this runtime targets need (ResNet-50 at batch 64 plans
 * about 400 MiB). */
#define CNNRUN_DEFAULT_MAX_MEMORY ((uint64_t)2 << 30) /* 2 GiB */
#define CNNRUN_MAX_MEMORY_UNLIMITED UINT64_MAX

typedef struct cnnrun_session_options {
    int threads;                /* worker threads for kernels; 0 = one per core */
    cnnrun_precision precision; /* CNNRUN_PRECISION_FLOAT32 (0) unless asked */
    /* Ceiling in bytes on what planning one input shape may claim: the activation arena, kernel
     * scratch, and the tensors computed at plan time. Checked before anything is allocated, so a
     * small model cannot make a session ask the system for gigabytes through a huge Pad, Resize
     * or Expand size: such a plan is refused with CNNRUN_ERR_OUT_OF_MEMORY, naming the node and
     * the size. The model's own weights (bounded by its file) are not counted. 0 means
     * CNNRUN_DEFAULT_MAX_MEMORY; CNNRUN_MAX_MEMORY_UNLIMITED turns the ceiling off. */
    uint64_t max_memory;
    cnnrun_conv_algorithm conv_algorithm; /* CNNRUN_CONV_DIRECT (0) unless asked */
} cnnrun_session_options;

/* Creates a session. options may be NULL (defaults). The session keeps a reference to the model,
 * which must outlive it. If every input shape is fixed, the graph is planned here, so unsupported
 * operators or attributes are reported now rather than at the first run. */
CNNRUN_API cnnrun_status *cnnrun_session_create(const cnnrun_model *model,
                                                const cnnrun_session_options *options,
                                                cnnrun_session **out);
CNNRUN_API void cnnrun_session_free(cnnrun_session *session);

/* Runs the model.
 *
 * inputs: one tensor per graph input, matched by name (or by position where name is NULL), with
 * the declared dtype and a shape that fits the declared one (free dims take any size). The data
 * are read during the call only.
 *
 * outputs: the outputs wanted, matched by name (or by position where name is NULL); n_outputs may
 * be smaller than the model's output count. For each, cnnrun fills dtype, rank and shape; then
 *   - if data is non-NULL, the output is copied there (nbytes is the buffer's capacity; a buffer
 *     too small gives CNNRUN_ERR_BUFFER_TOO_SMALL, naming the size needed);
 *   - if data is NULL, data and nbytes are set to memory owned by the session, valid until the
 *     next run or cnnrun_session_free. Treat it as read-only.
 *
 * A new set of input shapes plans the graph for those shapes; plans are cached by shape. */
CNNRUN_API cnnrun_status *cnnrun_session_run(cnnrun_session *session, const cnnrun_tensor *inputs,
                                             size_t n_inputs, cnnrun_tensor *outputs,
                                             size_t n_outputs);

/* ---------------------------------------------------------------------------------------------
 * Summary: what the planned graph looks like, node by node (like Keras's model.summary()).
 * ------------------------------------------------------------------------------------------- */

typedef struct cnnrun_summary cnnrun_summary;

typedef struct cnnrun_summary_row {
    const char *node_name;
    const char *op_type;
    /* Shape of the node's first output. With inputs == NULL in cnnrun_session_summary, dims that
     * follow a free input dim are shown by name in dim_names (e.g. "batch", "2*batch"); a dim that
     * depends on free dims in another way has shape -1 and dim_names "?". */
    int rank;
    int64_t shape[CNNRUN_MAX_RANK];
    const char *dim_names[CNNRUN_MAX_RANK];
    int64_t params;        /* elements of the node's floating-point initializer inputs */
    int folded;            /* 1 if the node was computed at plan time (constant folding) */
} cnnrun_summary_row;

/* Plans the graph for the given input shapes (data are not read), or, with inputs == NULL, for
 * every free dim bound to 1 (or, if the model cannot take that, to a larger probe size) and
 * describes free dims symbolically. */
CNNRUN_API cnnrun_status *cnnrun_session_summary(cnnrun_session *session,
                                                 const cnnrun_tensor *inputs, size_t n_inputs,
                                                 cnnrun_summary **out);
CNNRUN_API size_t cnnrun_summary_row_count(const cnnrun_summary *summary);
CNNRUN_API const cnnrun_summary_row *cnnrun_summary_row_at(const cnnrun_summary *summary,
                                                           size_t index);
CNNRUN_API int64_t cnnrun_summary_total_params(const cnnrun_summary *summary);
/* Bytes of weights (constants the plan keeps) and of the activation arena of the plan. */
CNNRUN_API size_t cnnrun_summary_weight_bytes(const cnnrun_summary *summary);
CNNRUN_API size_t cnnrun_summary_arena_bytes(const cnnrun_summary *summary);
/* With inputs == NULL and free dims in the model: the sizes the memory figures assume, as
 * "batch = 1, time = 29"; NULL otherwise. Valid until the summary is freed. */
CNNRUN_API const char *cnnrun_summary_free_dims(const cnnrun_summary *summary);
CNNRUN_API void cnnrun_summary_free(cnnrun_summary *summary);

/* ---------------------------------------------------------------------------------------------
 * Profile: where the time of a run goes, kernel by kernel.
 * ------------------------------------------------------------------------------------------- */

typedef struct cnnrun_profile cnnrun_profile;

typedef struct cnnrun_profile_row {
    const char *node_name;  /* the node; for a layout conversion the planner added, what it
                               converts ("conv1_out as nhwc") */
    const char *op_type;    /* "Conv"; "Reorder" for the planner's layout conversions */
    const char *fused;      /* nodes computed inside this kernel as post-ops, as "Relu" or
                               "Add+Relu"; NULL when none */
    int rank;               /* of output 0 */
    int64_t shape[CNNRUN_MAX_RANK];
    const char *layout;     /* output 0's memory layout: "plain" (row-major), "nhwc", ... */
    const char *kernel;     /* oneDNN's implementation ("brgconv:avx512_core"), or "cnnrun" for
                               cnnrun's own kernels */
    double ms;              /* mean time per run */
    double flops;           /* floating-point operations per run (multiply-add = 2); 0 when the
                               op does not count them */
} cnnrun_profile_row;

/* Runs the model runs times (after one warm-up run) on these inputs, as cnnrun_session_run
 * would, timing every kernel. Rows are in execution order. The strings belong to the profile. */
CNNRUN_API cnnrun_status *cnnrun_session_profile(cnnrun_session *session, const cnnrun_tensor *inputs,
                                                 size_t n_inputs, int runs, cnnrun_profile **out);
CNNRUN_API size_t cnnrun_profile_row_count(const cnnrun_profile *profile);
CNNRUN_API const cnnrun_profile_row *cnnrun_profile_row_at(const cnnrun_profile *profile, size_t index);
/* Mean wall time of a whole run, and the number of layout conversions in it. */
CNNRUN_API double cnnrun_profile_total_ms(const cnnrun_profile *profile);
CNNRUN_API size_t cnnrun_profile_reorder_count(const cnnrun_profile *profile);
CNNRUN_API void cnnrun_profile_free(cnnrun_profile *profile);

#ifdef __cplusplus
}
#endif

#endif /* CNNRUN_H */
