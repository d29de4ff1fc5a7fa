/* The loaded model as the library sees it: the IR plus each node's resolved operator. Immutable
 * after loading, so sessions in several threads may share it. */
#ifndef CR_MODEL_INTERNAL_H
#define CR_MODEL_INTERNAL_H

#include "graph.h"
#include "op.h"

struct cnnrun_model {
    cr_graph *graph;
    const cr_op **ops; /* ops[i] implements graph->nodes[i] */
};

#endif
