/* oneDNN helpers shared by the op families that run on oneDNN primitives (Conv, pooling, Gemm,
 * MatMul): memory descriptors from shapes, a primitive bundled with the memory objects of its
 * arguments, weights pre-packed once, and the sliding-window geometry of Conv and pooling. */
#ifndef CR_DNNL_UTIL_H
#define CR_DNNL_UTIL_H

#include <stdbool.h>

#include <oneapi/dnnl/dnnl.h>

#include "op.h"

#define CR_DNNL_MAX_ARGS 8 /* an int8 convolution: src, weights, bias, dst, scratchpad, 2 zero points */

/* A primitive ready to run. Every memory object is made at prepare, so run only swaps data
 * handles; a user-mode scratchpad makes one primitive safe to share between sessions' streams. */
typedef struct cr_dnnl_prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int n_args;
    dnnl_exec_arg_t args[CR_DNNL_MAX_ARGS];
    void *owned[CR_DNNL_MAX_ARGS]; /* pre-packed weight buffers, freed with the primitive */
    bool shared[CR_DNNL_MAX_ARGS]; /* owned[i] is a reference into `cache` instead */
    cr_weight_cache *cache;
    size_t scratch_bytes;
} cr_dnnl_prim;

/* f32 descriptors: row-major, explicit strides, or "any" (the primitive picks the layout). */
cnnrun_status *cr_dnnl_md_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims);
cnnrun_status *cr_dnnl_md_strided(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                                  const int64_t *strides);
cnnrun_status *cr_dnnl_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims);
/* "any" layout of another element type (bfloat16 for the convolutions of a bfloat16 session). */
cnnrun_status *cr_dnnl_md_any_typed(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t type);

/* Row-major descriptor of another element type (the uint8 / int8 / int32 tensors of the
 * quantized ops). */
cnnrun_status *cr_dnnl_md_plain_typed(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                                      dnnl_data_type_t type);

/* Primitive attributes with the user-mode scratchpad. Destroy with dnnl_primitive_attr_destroy. */
cnnrun_status *cr_dnnl_attr_create(dnnl_primitive_attr_t *attr);

/* Makes the primitive descriptor and the primitive for an op descriptor (attr NULL: default
 * attributes with the user-mode scratchpad), and the scratchpad argument. `what` names the
 * primitive in errors ("convolution"). On error p holds nothing to free but is safe to destroy. */
cnnrun_status *cr_dnnl_prim_create(cr_dnnl_prim *p, const cr_exec_env *env, const void *op_desc,
                                   const_dnnl_primitive_attr_t attr, const char *what);

/* Adds argument `arg` (DNNL_ARG_SRC, ...) with the layout the primitive chose for it, bound to
 * data (NULL: bound at run with cr_dnnl_prim_set). */
cnnrun_status *cr_dnnl_prim_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg, void *data);

/* Adds argument `arg` described by md (for arguments whose layout the caller fixes, such as
 * run-time zero points: DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC), bound to data. */
cnnrun_status *cr_dnnl_prim_arg_md(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                   const dnnl_memory_desc_t *md, void *data);

/* Adds a constant argument: data, laid out as user_md, is reordered once into the layout the
 * primitive chose for `arg` and kept in a buffer the primitive owns. */
cnnrun_status *cr_dnnl_prim_const_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                      const dnnl_memory_desc_t *user_md, const void *data);

/* oneDNN's name for the implementation it picked ("brgconv:avx512_core"); NULL without a
 * primitive. */
const char *cr_dnnl_prim_impl(const cr_dnnl_prim *p);

/* The layout the primitive chose for argument `arg` (DNNL_ARG_SRC, ...), or NULL. */
const dnnl_memory_desc_t *cr_dnnl_prim_md(const cr_dnnl_prim *p, int arg);

/* A reorder between two layouts of the same float32 shape: arguments DNNL_ARG_FROM and
 * DNNL_ARG_TO, bound at run with cr_dnnl_prim_set. */
cnnrun_status *cr_dnnl_reorder_create(cr_dnnl_prim *p, const cr_exec_env *env,
                                      const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md);

/* Attributes with the user-mode scratchpad and the post-ops the planner fused into ctx (eltwise
 * and sum, in order). Destroy with dnnl_primitive_attr_destroy. */
cnnrun_status *cr_dnnl_attr_with_post_ops(const cr_op_ctx *ctx, dnnl_primitive_attr_t *attr);

/* For a layout-aware op: input `input` must arrive laid out as `chosen` (what the primitive picked
 * for it). Asks the planner for a reorder when it arrives otherwise; when layouts are not allowed
 * (folding), the op must have been created for row-major data and nothing is asked. */
void cr_dnnl_want_input(cr_op_ctx *ctx, int input, const dnnl_memory_desc_t *chosen);

/* For a layout-aware op: output `output` is written as `md` by the primitive. Records it as the
 * output's layout (a row-major md is recorded as plain). */
void cr_dnnl_set_output_layout(cr_op_ctx *ctx, int output, const dnnl_memory_desc_t *md);

/* The md a layout-aware op should create its primitive with for input `input`: its current
 * layout when layouts are allowed, row-major otherwise. */
cnnrun_status *cr_dnnl_input_md(const cr_op_ctx *ctx, int input, dnnl_memory_desc_t *md);

/* The same for weights that stay in place for as long as the session plans with them (a graph
 * initializer, as a convolution's W is): the session's plans share one packed copy per layout. */
cnnrun_status *cr_dnnl_prim_shared_const_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                             const dnnl_memory_desc_t *user_md, const void *data);

/* Points argument `arg` at data for the next execution. */
void cr_dnnl_prim_set(cr_dnnl_prim *p, int arg, void *data);

/* Executes on the env's stream and waits; scratch is the planner's shared scratch region. */
cnnrun_status *cr_dnnl_prim_execute(cr_dnnl_prim *p, const cr_exec_env *env, void *scratch);

void cr_dnnl_prim_destroy(cr_dnnl_prim *p);

/* Prefixes a status (from cr_dnnl_check or the helpers above) with the node, op and opset. */
cnnrun_status *cr_dnnl_node_error(const cr_op_ctx *ctx, cnnrun_status *st);

/* Refuses any input whose dtype is not float32, naming the input and its dtype. */
cnnrun_status *cr_require_f32(const cr_op_ctx *ctx);

/* ---------------------------------------------------------------------------------------------
 * Sliding windows (Conv, MaxPool, AveragePool)
 * ------------------------------------------------------------------------------------------- */

#define CR_WINDOW_MAX_DIMS 3

typedef struct cr_window {
    int nsp;                            /* spatial dims, 1..3 */
    int64_t in[CR_WINDOW_MAX_DIMS];
    int64_t kernel[CR_WINDOW_MAX_DIMS];
    int64_t stride[CR_WINDOW_MAX_DIMS];
    int64_t dilation[CR_WINDOW_MAX_DIMS]; /* ONNX convention: 1 = dense */
    int64_t pad_l[CR_WINDOW_MAX_DIMS];    /* padding as ONNX defines it (after auto_pad) */
    int64_t pad_r[CR_WINDOW_MAX_DIMS];
    int64_t pad_r_dnnl[CR_WINDOW_MAX_DIMS]; /* pad_r enlarged so that oneDNN's floor division
                                               yields the ceil_mode output size */
    int64_t out[CR_WINDOW_MAX_DIMS];
    bool ceil_extended;                 /* some pad_r_dnnl exceeds pad_r */
} cr_window;

/* Reads strides, pads, auto_pad, dilations (if allow_dilations) and ceil_mode (if allow_ceil)
 * from the node and computes the output size of each spatial dim. */
cnnrun_status *cr_window_init(const cr_op_ctx *ctx, int nsp, const int64_t *in_spatial,
                              const int64_t *kernel, bool allow_dilations, bool allow_ceil,
                              cr_window *w);

#endif
