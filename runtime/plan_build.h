/* Internals of plan building shared by planner.c (the walk over the nodes), plan_fusion.c
 * (which nodes become post-ops of which kernel) and plan_memory.c (lifetimes and the arena). */
#ifndef CR_PLAN_BUILD_H
#define CR_PLAN_BUILD_H

#include "planner.h"

/* The value a tensor pointer of the plan belongs to. */
static inline int cr_plan_value_of(const cr_plan *p, const cr_tensor *t)
{
    return (int)(t - p->tensors);
}

/* The value that owns v's bytes (v itself unless v is an alias). */
static inline int cr_plan_root(const cr_plan *p, int v)
{
    return p->storage[v] == CR_STORE_ALIAS ? p->root[v] : v;
}

/* The nodes that follow node `node` and can run inside its kernel as oneDNN post-ops. */
typedef struct cr_fusion {
    int n_post;
    cr_post_op post[CR_MAX_POST_OPS];
    int sum_value;                      /* the addend of a CR_POST_SUM, or -1 */
    int n_nodes;
    int nodes[CR_MAX_POST_OPS + 1];     /* the fused nodes, in order (a swish is two) */
    int last_value;                     /* the value the chain ends in (output 0 of the last node) */
} cr_fusion;

/* Finds what may be fused after node `node`, whose inputs and output 0 are planned in ctx (the
 * op's flags say which post-op kinds it takes). f->n_nodes = 0 when nothing fuses. */
void cr_plan_find_fusion(const cr_plan *p, const cnnrun_model *model, int node, const cr_op_ctx *ctx,
                         cr_fusion *f);

/* QDQ fusion (plan_qdq.c): DequantizeLinear -> Conv -> [Relu] -> QuantizeLinear as one int8
 * convolution. inputs[] are the values the fused step reads, n_inputs of them: QLinearConv's
 * (x_q, x_scale, x_zero_point, w_q, w_scale, w_zero_point, y_scale, y_zero_point, B as int32;
 * -1 for an omitted one). */
#define CR_QDQ_MAX_INPUTS 9
typedef struct cr_qdq_match {
    int node, dq_x, relu, q;            /* nodes; relu -1 when absent */
    const cr_op *op;                    /* the fused step's kernel */
    int opset;                          /* the opset it runs at */
    int n_inputs;
    int inputs[CR_QDQ_MAX_INPUTS];
    int bias_scale;                     /* a convolution's bias DequantizeLinear scale, or -1 */
} cr_qdq_match;

/* Whether node `node` starts the pattern, judged on the graph alone (constants,
 * readers). */
bool cr_plan_match_qdq(const cnnrun_model *model, int node, cr_qdq_match *match);
/* deferred[ni]: DequantizeLinear nodes whose every reader starts the pattern with it as input 0:
 * the planner plans them only if one of those nodes ends up not fused. */
void cr_plan_defer_qdq_inputs(const cnnrun_model *model, bool *deferred);
/* Whether a convolution's bias was quantized with scale x_scale * w_scale (as QLinearConv's B
 * must be); true without a bias. */
bool cr_plan_qdq_bias_scale_ok(const cr_plan *p, const cr_qdq_match *match);

/* Lays out every arena value by lifetime and fills arena_bytes, offsets and copies. */
cnnrun_status *cr_plan_memory(cr_plan *p, const cnnrun_model *model);

/* The session's memory ceiling (env->max_memory), checked before the bytes are claimed: an
 * inferred output on its own, a constant about to be folded (bytes more on top of the plan's
 * folded_bytes), and the laid-out plan as a whole (arena + scratch + folded constants). Each
 * error names the node or the largest activation and the sizes. */
cnnrun_status *cr_budget_check_output(const cr_exec_env *env, const cr_node *n, const char *value,
                                      const cr_tensor *t);
cnnrun_status *cr_budget_check_fold(const cr_plan *p, const cr_exec_env *env, const cr_node *n,
                                    size_t bytes);
cnnrun_status *cr_budget_check_plan(const cr_plan *p, const cnnrun_model *model, const cr_exec_env *env);

#endif
