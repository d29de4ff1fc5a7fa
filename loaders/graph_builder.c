/* Growing arrays of values and nodes; names and attributes copied into the graph. */
#include "graph_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cnnrun_status *oom(void)
{
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory building the model's graph");
}

/* Makes room for one more element in an array of `cap` elements holding `n`. */
static cnnrun_status *grow(void **array, int n, int *cap, size_t elem)
{
    if (n < *cap) return NULL;
    int new_cap = *cap ? *cap * 2 : 32;
    void *p = realloc(*array, (size_t)new_cap * elem);
    if (!p) return oom();
    *array = p;
    *cap = new_cap;
    return NULL;
}

cnnrun_status *cr_gb_init(cr_gb *b, int64_t opset, const char *producer)
{
    memset(b, 0, sizeof *b);
    b->g = calloc(1, sizeof *b->g);
    if (!b->g) return oom();
    b->g->opset = opset;
    b->g->producer = strdup(producer ? producer : "");
    if (!b->g->producer) return oom();
    return NULL;
}

cnnrun_status *cr_gb_value(cr_gb *b, const char *name, int *v)
{
    cr_graph *g = b->g;
    CR_TRY(grow((void **)&g->values, g->n_values, &b->values_cap, sizeof *g->values));
    cr_value *val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    val->decl_rank = -1;
    val->producer = -1;
    val->name = strdup(name);
    if (!val->name) return oom();
    *v = g->n_values++;
    return NULL;
}

cnnrun_status *cr_gb_temp(cr_gb *b, const char *prefix, int *v)
{
    char name[512];
    snprintf(name, sizeof name, "%.480s:%u", prefix, b->serial++);
    return cr_gb_value(b, name, v);
}

cnnrun_status *cr_gb_constant(cr_gb *b, const char *prefix, cr_tensor *t, bool is_weight, int *v)
{
    cnnrun_status *st = cr_gb_temp(b, prefix, v);
    if (st) {
        cr_tensor_free(t);
        return st;
    }
    b->g->values[*v].constant = t;
    b->g->values[*v].is_weight = is_weight;
    return NULL;
}

cnnrun_status *cr_gb_const_ints(cr_gb *b, const char *prefix, const int64_t *vals, int n, int *v)
{
    cnnrun_status *st;
    int64_t dims[1] = {n};
    cr_tensor *t = cr_tensor_new(CNNRUN_INT64, 1, dims, &st);
    if (!t) return st;
    if (n) memcpy(t->data, vals, (size_t)n * sizeof *vals);
    return cr_gb_constant(b, prefix, t, false, v);
}

cnnrun_status *cr_gb_const_float(cr_gb *b, const char *prefix, float x, int *v)
{
    cnnrun_status *st;
    cr_tensor *t = cr_tensor_new(CNNRUN_FLOAT32, 0, NULL, &st);
    if (!t) return st;
    *(float *)t->data = x;
    return cr_gb_constant(b, prefix, t, false, v);
}

cnnrun_status *cr_gb_node(cr_gb *b, const char *op_type, const char *name, const int *inputs,
                          int n_inputs, const int *outputs, int n_outputs, int *node)
{
    cr_graph *g = b->g;
    CR_TRY(grow((void **)&g->nodes, g->n_nodes, &b->nodes_cap, sizeof *g->nodes));
    cr_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->name = strdup(name);
    n->op_type = strdup(op_type);
    n->domain = strdup("");
    n->inputs = malloc((size_t)(n_inputs ? n_inputs : 1) * sizeof *n->inputs);
    n->outputs = malloc((size_t)(n_outputs ? n_outputs : 1) * sizeof *n->outputs);
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) return oom();
    if (n_inputs) memcpy(n->inputs, inputs, (size_t)n_inputs * sizeof *inputs);
    if (n_outputs) memcpy(n->outputs, outputs, (size_t)n_outputs * sizeof *outputs);
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    *node = g->n_nodes - 1;
    return NULL;
}

cnnrun_status *cr_gb_op(cr_gb *b, const char *op_type, const char *name, const int *inputs,
                        int n_inputs, int *node, int *output)
{
    CR_TRY(cr_gb_temp(b, name, output));
    int dummy;
    return cr_gb_node(b, op_type, name, inputs, n_inputs, output, 1, node ? node : &dummy);
}

/* A new, zeroed attribute on the node. */
static cnnrun_status *new_attr(cr_gb *b, int node, const char *name, cr_attr_type type, cr_attr **out)
{
    cr_node *n = &b->g->nodes[node];
    cr_attr *attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *attrs);
    if (!attrs) return oom();
    n->attrs = attrs;
    cr_attr *a = &attrs[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    if (!a->name) return oom();
    a->type = type;
    n->n_attrs++;
    *out = a;
    return NULL;
}

cnnrun_status *cr_gb_attr_int(cr_gb *b, int node, const char *name, int64_t value)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_INT, &a));
    a->i = value;
    return NULL;
}

cnnrun_status *cr_gb_attr_float(cr_gb *b, int node, const char *name, float value)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_FLOAT, &a));
    a->f = value;
    return NULL;
}

cnnrun_status *cr_gb_attr_string(cr_gb *b, int node, const char *name, const char *value)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_STRING, &a));
    a->s = strdup(value);
    return a->s ? NULL : oom();
}

cnnrun_status *cr_gb_attr_ints(cr_gb *b, int node, const char *name, const int64_t *values, int n)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_INTS, &a));
    a->ints = malloc((size_t)(n ? n : 1) * sizeof *a->ints);
    if (!a->ints) return oom();
    if (n) memcpy(a->ints, values, (size_t)n * sizeof *values);
    a->count = (size_t)n;
    return NULL;
}

cnnrun_status *cr_gb_attr_floats(cr_gb *b, int node, const char *name, const float *values, int n)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_FLOATS, &a));
    a->floats = malloc((size_t)(n ? n : 1) * sizeof *a->floats);
    if (!a->floats) return oom();
    if (n) memcpy(a->floats, values, (size_t)n * sizeof *values);
    a->count = (size_t)n;
    return NULL;
}

cnnrun_status *cr_gb_attr_strings(cr_gb *b, int node, const char *name, const char *const *values,
                                  int n)
{
    cr_attr *a = NULL;
    CR_TRY(new_attr(b, node, name, CR_ATTR_STRINGS, &a));
    a->strings = calloc((size_t)(n ? n : 1), sizeof *a->strings);
    if (!a->strings) return oom();
    for (int i = 0; i < n; i++) {
        a->strings[i] = strdup(values[i]);
        if (!a->strings[i]) return oom();
        a->count = (size_t)i + 1;
    }
    return NULL;
}

cnnrun_status *cr_gb_add_input(cr_gb *b, int v)
{
    CR_TRY(grow((void **)&b->g->inputs, b->g->n_inputs, &b->inputs_cap, sizeof *b->g->inputs));
    b->g->inputs[b->g->n_inputs++] = v;
    return NULL;
}

cnnrun_status *cr_gb_add_output(cr_gb *b, int v)
{
    CR_TRY(grow((void **)&b->g->outputs, b->g->n_outputs, &b->outputs_cap, sizeof *b->g->outputs));
    b->g->outputs[b->g->n_outputs++] = v;
    return NULL;
}

cnnrun_status *cr_gb_finish(cr_gb *b, cr_graph **out)
{
    *out = NULL;
    if (b->g->n_outputs == 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "the model has no outputs");
    CR_TRY(cr_graph_topo_sort(b->g));
    *out = b->g;
    b->g = NULL;
    return NULL;
}

void cr_gb_abort(cr_gb *b)
{
    cr_graph_free(b->g);
    b->g = NULL;
}
