/* The session's memory ceiling (cnnrun_session_options.max_memory) applied while planning.
 *
 * Every check runs before the bytes it guards are allocated or a kernel is prepared for them:
 * an output's size as soon as its shape is inferred (a Resize to 2^28 rows must not reach the
 * Resize's coordinate tables), a folded constant before it is made, and the arena, scratch and
 * folded constants together once the arena is laid out. */
#include <stdio.h>

#include "plan_build.h"

#define CR_RAISE_HINT "raise it with cnnrun --max-memory or cnnrun_session_options.max_memory"

cnnrun_status *cr_budget_check_output(const cr_exec_env *env, const cr_node *n, const char *value,
                                      const cr_tensor *t)
{
    uint64_t bytes = cr_tensor_bytes(t);
    if (bytes <= env->max_memory) return NULL;
    char shape[192], size[64], ceiling[64];
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                    "node '%s' (%s): output '%s' would be %s %s, %s, above the session's memory "
                    "ceiling of %s (" CR_RAISE_HINT ")",
                    n->name, n->op_type, value, cnnrun_dtype_name(t->dtype),
                    cr_shape_str(t->rank, t->dims, shape, sizeof shape),
                    cr_bytes_str(bytes, size, sizeof size),
                    cr_bytes_str(env->max_memory, ceiling, sizeof ceiling));
}

cnnrun_status *cr_budget_check_fold(const cr_plan *p, const cr_exec_env *env, const cr_node *n,
                                    size_t bytes)
{
    if (bytes <= env->max_memory && p->folded_bytes <= env->max_memory - bytes) return NULL;
    char size[64], total[64], ceiling[64];
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                    "node '%s' (%s): computing it at plan time needs %s, bringing the plan's "
                    "constants to %s, above the session's memory ceiling of %s (" CR_RAISE_HINT ")",
                    n->name, n->op_type, cr_bytes_str(bytes, size, sizeof size),
                    cr_bytes_str((uint64_t)p->folded_bytes + bytes, total, sizeof total),
                    cr_bytes_str(env->max_memory, ceiling, sizeof ceiling));
}

/* The arena value with the most bytes, and the node that writes it (-1 if none). */
static int largest_activation(const cr_plan *p, const cr_graph *g, int *node)
{
    int best = -1;
    size_t best_bytes = 0;
    *node = -1;
    for (int v = 0; v < p->n_graph_values; v++) {
        if (p->storage[v] != CR_STORE_ARENA || g->values[v].producer < 0) continue;
        size_t bytes = cr_tensor_bytes(&p->tensors[v]);
        if (best < 0 || bytes > best_bytes) {
            best = v;
            best_bytes = bytes;
        }
    }
    if (best >= 0) *node = g->values[best].producer;
    return best;
}

cnnrun_status *cr_budget_check_plan(const cr_plan *p, const cnnrun_model *model, const cr_exec_env *env)
{
    uint64_t total = (uint64_t)p->arena_bytes + p->scratch_bytes + p->folded_bytes;
    if (total <= env->max_memory) return NULL;
    const cr_graph *g = model->graph;
    char need[64], arena[64], scratch[64], folded[64], ceiling[64], largest[320] = "";
    int node, v = largest_activation(p, g, &node);
    if (v >= 0) {
        char shape[160], size[64];
        const cr_tensor *t = &p->tensors[v];
        snprintf(largest, sizeof largest, "; the largest activation is '%s' from node '%s' (%s), %s %s, %s",
                 g->values[v].name, g->nodes[node].name, g->nodes[node].op_type, cnnrun_dtype_name(t->dtype),
                 cr_shape_str(t->rank, t->dims, shape, sizeof shape), cr_bytes_str(cr_tensor_bytes(t), size, sizeof size));
    }
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                    "planning these input shapes needs %s (activation arena %s, kernel scratch %s, "
                    "plan-time constants %s), above the session's memory ceiling of %s%s (" CR_RAISE_HINT ")",
                    cr_bytes_str(total, need, sizeof need), cr_bytes_str(p->arena_bytes, arena, sizeof arena),
                    cr_bytes_str(p->scratch_bytes, scratch, sizeof scratch),
                    cr_bytes_str(p->folded_bytes, folded, sizeof folded),
                    cr_bytes_str(env->max_memory, ceiling, sizeof ceiling), largest);
}
