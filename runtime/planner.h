/* The planner: for one signature of input shapes, infers every value's dtype and shape, folds
 * what is computable ahead (constants and shape computations), prepares the kernels of the
 * remaining nodes, and lays out all activations in one arena by lifetime. */
#ifndef CR_PLANNER_H
#define CR_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

#include "arena_plan.h"
#include "model_internal.h"

/* Where a value's bytes live during a run. */
typedef enum cr_storage {
    CR_STORE_NONE,     /* omitted / unused */
    CR_STORE_CONST,    /* model initializer or plan-time folded result: tensors[v].data is set */
    CR_STORE_INPUT,    /* the caller's input buffer, bound at each run */
    CR_STORE_ARENA,    /* at arena + offset */
    CR_STORE_ALIAS     /* the bytes of another value (a view op's input): root[v] */
} cr_storage;

typedef struct cr_step {
    int node;                 /* index in the graph; -1 for a layout reorder the planner added */
    int threads;              /* OpenMP threads the step's kernel was made for and runs with */
    const cr_op *op;
    cr_op_ctx ctx;            /* in/out (and sum_in) point into the plan's tensors */
} cr_step;

/* A copy at the end of a run, for a graph output whose bytes would otherwise be the caller's
 * input buffer. */
typedef struct cr_output_copy {
    int value;
    size_t offset;
} cr_output_copy;

typedef struct cr_plan {
    /* The signature: graph input shapes (in graph->inputs order), and for value-keyed inputs
     * their values (data points to the plan's copy; NULL for the others). */
    int n_inputs;
    cr_tensor *input_shapes;
    int n_values;              /* the graph's values, then the planner's own (copies of values
                                  in another layout), up to value_capacity */
    int n_graph_values;
    int value_capacity;
    cr_tensor *tensors;        /* every value: dtype, shape, layout, and data (constants at plan
                                  time; everything else is bound at run time) */
    cr_layout *layouts;        /* per value: what tensors[v].layout points to when the value's
                                  own step chose a layout */
    cr_tensor **in_ptrs;       /* backing arrays for the steps' ctx.in / ctx.want / ctx.out */
    cr_layout_want *wants;
    cr_tensor **out_ptrs;
    cr_tensor **reorder_ptrs;  /* in and out of the planner's reorder steps, two per step */
    cr_node *reorder_nodes;    /* their nodes (names like "to nhwc: x"), n_reorders of them */
    int n_reorders;
    int *output_values;        /* per graph output: the value delivered (a row-major copy when the
                                  output is held in another layout) */
    int *fused_into;           /* per node: the step whose kernel computes it as a post-op, or -1 */
    /* QDQ fusion (plan_qdq.c): per node, a DequantizeLinear planned only if a convolution reading
     * it is not fused (deferred), and whether it was; the fused steps' input pointers, 9 per node */
    bool *qdq_deferred;
    bool *qdq_planned;
    cr_tensor **qdq_in;
    cr_layout_want *qdq_wants;
    cr_storage *storage;
    int *root;                 /* CR_STORE_ALIAS: the value that owns the bytes */
    int *input_index;          /* CR_STORE_INPUT: which graph input */
    size_t *offset;            /* CR_STORE_ARENA: arena offset */
    cr_tensor **folded;        /* constants made by folding (owned), n_folded of them */
    int n_folded;
    size_t folded_bytes;       /* their bytes, counted against the memory ceiling */
    bool *node_folded;         /* per node: computed at plan time */
    int n_steps;
    cr_step *steps;
    int n_copies;
    cr_output_copy *copies;
    size_t arena_bytes;
    size_t scratch_bytes;
    size_t weight_bytes;       /* bytes of constants read by the steps */
    /* Lifetimes and offsets of the arena buffers (kept for verification and tests). */
    int n_buffers;
    cr_buffer_life *buffers;
} cr_plan;

typedef enum cr_plan_mode {
    CR_PLAN_FULL,        /* prepare kernels and lay out memory: ready to run */
    CR_PLAN_SHAPES_ONLY  /* infer and fold only (for summaries) */
} cr_plan_mode;

/* Plans model for these input shapes (inputs[i] matches graph->inputs[i]).
 *
 * Some graph inputs determine shapes through their values (a Reshape's target shape fed as a
 * model input, as in the ONNX test suite). Those are "value-keyed": value_keyed[i] (NULL: none)
 * makes the planner copy input i's data and treat it as a constant, so the plan is specialised to
 * those values. When planning fails because an op needed the values of something computed from
 * graph inputs that are not keyed yet, needs_values[i] (if non-NULL) is set for each of them, so
 * that the caller can key them and plan again. */
cnnrun_status *cr_plan_build(const cnnrun_model *model, const cr_tensor *inputs,
                             const bool *value_keyed, const cr_exec_env *env, cr_plan_mode mode,
                             bool *needs_values, cr_plan **out);
void cr_plan_free(cr_plan *plan);

/* Matches the caller's tensors to the graph inputs (by name, or by position where name is NULL)
 * and checks dtype and shape against the declaration. ordered[i] receives graph input i. */
cnnrun_status *cr_match_inputs(const cnnrun_model *model, const cnnrun_tensor *inputs,
                               size_t n_inputs, const cnnrun_tensor **ordered);

#endif
