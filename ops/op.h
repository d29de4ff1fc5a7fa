/* The operator interface. Each op family lives in one file of ops/ and exports `const cr_op`
 * descriptors, listed in ops/registry.c. An op instance's life mirrors XNNPACK's:
 *
 *   infer    output dtypes and shapes from the inputs' dtypes and shapes (and the values of
 *            constant inputs, e.g. Reshape's shape). Pure: no allocation kept.
 *   prepare  checks attributes (refusing unsupported combinations with an error that names the
 *            attribute), picks the kernel, creates oneDNN primitives, pre-packs constant weights,
 *            and reports the scratch memory run will need. Everything run needs lives in state.
 *   run      computes the outputs. No allocation, no shape logic, no error for valid inputs.
 *   destroy  frees the state.
 *
 * The planner calls infer then prepare once per input-shape signature, and run once per
 * inference. Nodes whose inputs are all constant are run at plan time (constant folding) with the
 * same functions, so an op needs no separate folding code. */
#ifndef CR_OP_H
#define CR_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec_env.h"
#include "graph.h"
#include "layout.h"
#include "status.h"
#include "tensor.h"

/* An operation the planner fused into an op's kernel as a oneDNN post-op: the nodes that followed
 * the op in the graph (a Relu, a Clip, x * Sigmoid(x), a residual Add) then cost no extra pass. */
typedef enum cr_post_kind {
    CR_POST_ELTWISE, /* dst = alg(dst; alpha, beta) */
    CR_POST_SUM      /* dst += sum_in: the op writes into sum_in's bytes, which hold the addend */
} cr_post_kind;

typedef struct cr_post_op {
    cr_post_kind kind;
    dnnl_alg_kind_t alg;
    float alpha, beta;
} cr_post_op;

#define CR_MAX_POST_OPS 4

/* A layout an op asks its input to arrive in (see cr_op_ctx.want). */
typedef struct cr_layout_want {
    bool set;
    cr_layout layout;
} cr_layout_want;

typedef struct cr_op_ctx {
    const cr_node *node;
    int64_t opset;           /* opset version of the node's domain */
    int n_in;
    cr_tensor **in;          /* in[i] is NULL for an omitted optional input. dtype and shape are
                                always set. data: during infer and prepare, non-NULL exactly for
                                constant inputs, and then stable for the life of the state; during
                                run, always set. */
    int n_out;
    cr_tensor **out;         /* out[i] is NULL for an omitted optional output. infer sets dtype,
                                rank and dims; during run, data is set. */
    void *state;             /* made by prepare, given to run and destroy */
    size_t scratch_bytes;    /* set by prepare: temporary memory run needs (shared by all nodes) */
    void *scratch;           /* during run: scratch_bytes of 64-byte aligned memory */
    const cr_exec_env *env;  /* oneDNN engine and stream, thread count */
    /* Bit i is set when infer or prepare asked for the values of input i and they were not known
     * at plan time (see cr_const_ints): the planner then plans again with those values if they
     * come from graph inputs (e.g. a Reshape whose target shape is a model input). */
    uint32_t missing_values;
    /* Set by infer when output 0 is input 0 as it is, with nothing to compute (a Pad of zeros):
     * the planner makes the output a view of the input and schedules no step. */
    bool identity;

    /* Layouts (CR_OP_LAYOUT_AWARE ops only; the planner gives every other op row-major inputs
     * and expects row-major outputs). in[i]->layout tells how input i arrives. When
     * layouts_allowed, prepare may describe in out[i]->layout (plan-owned, initially plain) the
     * layout its kernel writes, and may ask for input i in another layout by setting want[i]
     * (n_in entries, all unset before prepare); the planner then reorders that input before the
     * op runs. layouts_allowed is false while folding constants: everything is row-major. */
    bool layouts_allowed;
    cr_layout_want *want;

    /* Post-ops fused by the planner (CR_OP_FUSES_ELTWISE / CR_OP_FUSES_SUM), applied in order
     * to the op's output 0. With a CR_POST_SUM, sum_in is the addend: it has output 0's shape
     * and layout, and output 0's bytes are sum_in's bytes. */
    int n_post;
    cr_post_op post[CR_MAX_POST_OPS];
    cr_tensor *sum_in;
} cr_op_ctx;

enum {
    /* Outputs depend only on the input shapes (Shape, Size): always computed at plan time. */
    CR_OP_SHAPE_ONLY = 1u << 0,
    /* Output 0 holds exactly input 0's bytes under another shape (Reshape, Flatten, Squeeze,
     * Unsqueeze, Identity, Dropout): the planner aliases the memory and run must not write
     * output 0 (run may be NULL if there is nothing else to compute). */
    CR_OP_VIEW = 1u << 1,
    /* Never fold at plan time even if all inputs are constant (e.g. random generators). */
    CR_OP_NO_FOLD = 1u << 2,
    /* prepare handles inputs in oneDNN layouts and may choose its outputs' (see ctx layouts). */
    CR_OP_LAYOUT_AWARE = 1u << 3,
    /* prepare applies ctx->post eltwise post-ops to output 0. */
    CR_OP_FUSES_ELTWISE = 1u << 4,
    /* prepare applies a CR_POST_SUM post-op (ctx->sum_in) to output 0. */
    CR_OP_FUSES_SUM = 1u << 5,
    /* Output 0 may be omitted (the recurrent ops: Y, Y_h, Y_c are each optional). Without this
     * flag, loading refuses a node whose output 0 is missing, so kernels may rely on it. */
    CR_OP_OPTIONAL_OUTPUT0 = 1u << 6,
};

/* The newest default-domain opset cnnrun accepts (ONNX 1.17). Each operator declares the opsets
 * whose semantics it implements (opset_max stops before a version that changes the meaning, e.g.
 * DFT at 20), so a model at a newer opset that uses a changed operator is refused naming the op
 * and the opset, while one whose operators are all unchanged or implemented runs. */
#define CR_OPSET_MAX 22

typedef struct cr_op {
    const char *op_type;
    const char *domain;      /* "" for the default ONNX domain */
    int opset_min;           /* opset versions whose semantics this implementation follows */
    int opset_max;
    unsigned flags;
    cnnrun_status *(*infer)(cr_op_ctx *ctx);
    cnnrun_status *(*prepare)(cr_op_ctx *ctx); /* may be NULL */
    cnnrun_status *(*run)(cr_op_ctx *ctx);
    void (*destroy)(void *state);              /* may be NULL */
    /* For profiles, both optional: the kernel run uses ("brgconv:avx512_core", as oneDNN names
     * its implementations; NULL: a kernel of cnnrun's own), and the floating-point operations of
     * one run (a multiply-add counts two). */
    const char *(*describe)(const void *state);
    double (*flops)(const cr_op_ctx *ctx);
    /* Optional: the most threads the kernel uses well for these shapes, called after infer and
     * before prepare (its primitive is created and run with that many; NULL: all the session's).
     * An RNN whose time steps are too small to share between cores wants 1: each step would
     * otherwise cost a fork and a barrier for a few microseconds of work. */
    int (*threads)(const cr_op_ctx *ctx);
} cr_op;

/* The planner's own step that converts a value between layouts (ops/layout_reorder.c): input 0
 * arrives in its layout, output 0's layout is set by the planner before prepare. */
extern const cr_op cr_layout_reorder_op;

/* The planner's QDQ fusion (runtime/plan_qdq.c): DequantizeLinear -> Conv -> [Relu] ->
 * QuantizeLinear as one int8 convolution (ops/qconv.c), with QLinearConv's inputs (B int32)
 * and the Conv node's attributes; the _relu form applies Relu before the requantisation. */
extern const cr_op cr_qdq_conv_op;
extern const cr_op cr_qdq_conv_relu_op;

/* The registry: the implementation of op_type in domain at this opset, or NULL. */
const cr_op *cr_op_find(const char *domain, const char *op_type, int64_t opset);
/* All registered ops, for the README table and tests: cr_op_at(i) for i < cr_op_count(). */
size_t cr_op_count(void);
const cr_op *cr_op_at(size_t index);

#endif
