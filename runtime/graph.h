/* The IR: a static computation graph of values and nodes, independent of any file format.
 * Loaders build it; the planner reads it. Once a model is loaded the graph is never modified, so
 * sessions in several threads may share it. */
#ifndef CR_GRAPH_H
#define CR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef enum cr_attr_type {
    CR_ATTR_FLOAT,
    CR_ATTR_INT,
    CR_ATTR_STRING,
    CR_ATTR_TENSOR,
    CR_ATTR_FLOATS,
    CR_ATTR_INTS,
    CR_ATTR_STRINGS
} cr_attr_type;

typedef struct cr_attr {
    char *name;
    cr_attr_type type;
    float f;
    int64_t i;
    char *s;           /* CR_ATTR_STRING, NUL-terminated */
    cr_tensor *t;      /* CR_ATTR_TENSOR, data owned by the attribute */
    size_t count;      /* elements of floats / ints / strings */
    float *floats;
    int64_t *ints;
    char **strings;
} cr_attr;

typedef struct cr_value {
    char *name;
    /* What the file declares (graph inputs and outputs, value_info); dtype UNDEFINED and rank -1
     * when not declared. A free dim is -1, with its symbolic name (dim_param) if it has one. */
    cnnrun_dtype decl_dtype;
    int decl_rank;
    int64_t decl_dims[CR_MAX_RANK];
    char *decl_dim_names[CR_MAX_RANK];
    /* Constant data: an initializer or the value of a Constant node. Owned by the graph. */
    cr_tensor *constant;
    bool is_weight;    /* an initializer (counts as a parameter in summaries) */
    int producer;      /* index of the node that outputs it, -1 for graph inputs and constants */
} cr_value;

typedef struct cr_node {
    char *name;        /* never NULL: the loader names unnamed nodes "<op_type>_<index>" */
    char *op_type;
    char *domain;      /* "" for the default ONNX domain */
    int n_inputs;
    int *inputs;       /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;      /* value indices; -1 for an omitted optional output */
    int n_attrs;
    cr_attr *attrs;
} cr_node;

/* A layer of the framework the model came from (Keras), for summaries in the framework's terms:
 * its first call's first output in the framework's layout (-1 for a free dim), parameters as the
 * file stores them. */
typedef struct cr_source_layer {
    char *name;
    char *class_name;
    int rank;
    int64_t shape[CR_MAX_RANK];
    int64_t params;
} cr_source_layer;

typedef struct cr_graph {
    int n_values;
    cr_value *values;
    int n_nodes;
    cr_node *nodes;    /* in topological order once cr_graph_topo_sort has run */
    int n_inputs;
    int *inputs;       /* graph inputs that are not constants, in declaration order */
    int n_outputs;
    int *outputs;
    int64_t opset;     /* opset version of the default domain */
    char *producer;    /* "pytorch 1.13.0", for messages */
    int n_source_layers; /* Keras models: model.layers in order; 0 for ONNX */
    cr_source_layer *source_layers;
} cr_graph;

void cr_graph_free(cr_graph *g);

/* Index of the value with this name, or -1. */
int cr_graph_find_value(const cr_graph *g, const char *name);

/* Orders nodes so that every node comes after the producers of its inputs. Errors name a value
 * that no node produces (dangling input) or the nodes of a cycle. */
cnnrun_status *cr_graph_topo_sort(cr_graph *g);

/* Attribute look-ups. A missing attribute yields the default; one of the wrong type is an error
 * naming the node, the op and the attribute. */
const cr_attr *cr_node_attr(const cr_node *n, const char *name);
cnnrun_status *cr_attr_int(const cr_node *n, const char *name, int64_t dflt, int64_t *out);
cnnrun_status *cr_attr_float(const cr_node *n, const char *name, float dflt, float *out);
/* *out points into the graph (or to dflt); never freed by the caller. */
cnnrun_status *cr_attr_string(const cr_node *n, const char *name, const char *dflt, const char **out);
/* *out points into the graph; *count = 0 and *out = NULL when missing. */
cnnrun_status *cr_attr_ints(const cr_node *n, const char *name, const int64_t **out, size_t *count);
cnnrun_status *cr_attr_floats(const cr_node *n, const char *name, const float **out, size_t *count);

/* Heap tensors: data from cr_aligned_alloc, freed with cr_tensor_free. */
cr_tensor *cr_tensor_new(cnnrun_dtype dtype, int rank, const int64_t *dims, cnnrun_status **err);
void cr_tensor_free(cr_tensor *t);

#endif
