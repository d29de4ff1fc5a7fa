/* Building an IR graph node by node, for loaders whose files are not ONNX graphs (Keras): values,
 * constants, nodes and their attributes, then a topological sort. Every call returns a status;
 * on error the caller frees the half-built graph with cr_gb_abort. */
#ifndef CR_GRAPH_BUILDER_H
#define CR_GRAPH_BUILDER_H

#include "graph.h"

typedef struct cr_gb {
    cr_graph *g;
    int values_cap, nodes_cap, inputs_cap, outputs_cap;
    unsigned serial; /* makes generated value names unique */
} cr_gb;

cnnrun_status *cr_gb_init(cr_gb *b, int64_t opset, const char *producer);

/* A new value named exactly `name` (copied). */
cnnrun_status *cr_gb_value(cr_gb *b, const char *name, int *v);
/* A new value named "<prefix>:<serial>", for intermediate results. */
cnnrun_status *cr_gb_temp(cr_gb *b, const char *prefix, int *v);
/* A constant (t is consumed, also on error). is_weight marks it as a model parameter. */
cnnrun_status *cr_gb_constant(cr_gb *b, const char *prefix, cr_tensor *t, bool is_weight, int *v);
/* Small int64 constants (shapes, axes, pads) and float scalars. */
cnnrun_status *cr_gb_const_ints(cr_gb *b, const char *prefix, const int64_t *vals, int n, int *v);
cnnrun_status *cr_gb_const_float(cr_gb *b, const char *prefix, float x, int *v);

/* A node named `name` reading `inputs` (-1 for an omitted optional input) and writing `outputs`.
 * *node is its index. */
cnnrun_status *cr_gb_node(cr_gb *b, const char *op_type, const char *name, const int *inputs,
                          int n_inputs, const int *outputs, int n_outputs, int *node);
/* The common case: one output, a new temporary value named after the node. */
cnnrun_status *cr_gb_op(cr_gb *b, const char *op_type, const char *name, const int *inputs,
                        int n_inputs, int *node, int *output);

cnnrun_status *cr_gb_attr_int(cr_gb *b, int node, const char *name, int64_t value);
cnnrun_status *cr_gb_attr_float(cr_gb *b, int node, const char *name, float value);
cnnrun_status *cr_gb_attr_string(cr_gb *b, int node, const char *name, const char *value);
cnnrun_status *cr_gb_attr_ints(cr_gb *b, int node, const char *name, const int64_t *values, int n);
cnnrun_status *cr_gb_attr_floats(cr_gb *b, int node, const char *name, const float *values, int n);
cnnrun_status *cr_gb_attr_strings(cr_gb *b, int node, const char *name, const char *const *values,
                                  int n);

cnnrun_status *cr_gb_add_input(cr_gb *b, int v);
cnnrun_status *cr_gb_add_output(cr_gb *b, int v);

/* Sorts the graph and hands it over (the builder is empty afterwards). */
cnnrun_status *cr_gb_finish(cr_gb *b, cr_graph **out);
void cr_gb_abort(cr_gb *b);

#endif
