/* The loaded model as the library sees it: the IR plus each node's resolved operator. Immutable
 * after loading, so sessions in several threads may share it. */
#ifndef CR_MODEL_INTERNAL_H
#define CR_MODEL_INTERNAL_H

#include <stdbool.h>

#include "graph.h"
#include "op.h"

/* A node reading a value: node index and input position. */
typedef struct cr_use {
    int node;
    int input;
} cr_use;

struct cnnrun_model {
    cr_graph *graph;
    const cr_op **ops; /* ops[i] implements graph->nodes[i] */
    /* Who reads each value, for fusion decisions: the uses of value v are
     * uses[use_start[v] .. use_start[v + 1]), in node order. */
    int *use_start;
    cr_use *uses;
    bool *is_output;   /* per value: a graph output */
};

/* The uses of value v and their count. */
static inline const cr_use *cr_model_uses(const cnnrun_model *m, int v, int *count)
{
    *count = m->use_start[v + 1] - m->use_start[v];
    return &m->uses[m->use_start[v]];
}

#endif
