/* IR ownership, look-ups and attribute access. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

cr_tensor *cr_tensor_new(cnnrun_dtype dtype, int rank, const int64_t *dims, cnnrun_status **err)
{
    size_t bytes;
    char shape[160];
    *err = NULL;
    if (rank < 0 || rank > CR_MAX_RANK) {
        *err = cr_error(CNNRUN_ERR_UNSUPPORTED, "tensor rank %d exceeds the maximum of %d", rank,
                        CR_MAX_RANK);
        return NULL;
    }
    if (!cr_shape_bytes(dtype, rank, dims, &bytes)) {
        *err = cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                        "a %s tensor of shape %s is invalid or larger than the %llu-byte limit",
                        cnnrun_dtype_name(dtype), cr_shape_str(rank, dims, shape, sizeof shape),
                        (unsigned long long)CR_MAX_TENSOR_BYTES);
        return NULL;
    }
    cr_tensor *t = calloc(1, sizeof *t);
    void *data = t ? cr_aligned_alloc(bytes) : NULL;
    if (!data) {
        free(t);
        *err = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for a tensor of shape %s",
                        bytes, cr_shape_str(rank, dims, shape, sizeof shape));
        return NULL;
    }
    t->dtype = dtype;
    t->rank = rank;
    if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->data = data;
    return t;
}

void cr_tensor_free(cr_tensor *t)
{
    if (!t) return;
    cr_aligned_free(t->data);
    free(t);
}

static void attr_free(cr_attr *a)
{
    free(a->name);
    free(a->s);
    cr_tensor_free(a->t);
    free(a->floats);
    free(a->ints);
    for (size_t i = 0; a->strings && i < a->count; i++) free(a->strings[i]);
    free(a->strings);
}

void cr_graph_free(cr_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        cr_value *v = &g->values[i];
        free(v->name);
        for (int d = 0; d < CR_MAX_RANK; d++) free(v->decl_dim_names[d]);
        cr_tensor_free(v->constant);
    }
    free(g->values);
    for (int i = 0; i < g->n_nodes; i++) {
        cr_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->domain);
        free(n->inputs);
        free(n->outputs);
        for (int a = 0; a < n->n_attrs; a++) attr_free(&n->attrs[a]);
        free(n->attrs);
    }
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->producer);
    for (int i = 0; i < g->n_source_layers; i++) {
        free(g->source_layers[i].name);
        free(g->source_layers[i].class_name);
    }
    free(g->source_layers);
    free(g);
}

int cr_graph_find_value(const cr_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

const cr_attr *cr_node_attr(const cr_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

static const char *attr_type_name(cr_attr_type t)
{
    static const char *names[] = {"float", "int", "string", "tensor", "floats", "ints", "strings"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

static cnnrun_status *wrong_type(const cr_node *n, const cr_attr *a, cr_attr_type want)
{
    return cr_error(CNNRUN_ERR_INVALID_MODEL,
                    "node '%s' (%s): attribute '%s' should be of type %s, found %s", n->name,
                    n->op_type, a->name, attr_type_name(want), attr_type_name(a->type));
}

cnnrun_status *cr_attr_int(const cr_node *n, const char *name, int64_t dflt, int64_t *out)
{
    const cr_attr *a = cr_node_attr(n, name);
    *out = dflt;
    if (!a) return NULL;
    if (a->type != CR_ATTR_INT) return wrong_type(n, a, CR_ATTR_INT);
    *out = a->i;
    return NULL;
}

cnnrun_status *cr_attr_float(const cr_node *n, const char *name, float dflt, float *out)
{
    const cr_attr *a = cr_node_attr(n, name);
    *out = dflt;
    if (!a) return NULL;
    /* Some exporters write integral float attributes (alpha=1) as ints. */
    if (a->type == CR_ATTR_INT) *out = (float)a->i;
    else if (a->type != CR_ATTR_FLOAT) return wrong_type(n, a, CR_ATTR_FLOAT);
    else *out = a->f;
    return NULL;
}

cnnrun_status *cr_attr_string(const cr_node *n, const char *name, const char *dflt, const char **out)
{
    const cr_attr *a = cr_node_attr(n, name);
    *out = dflt;
    if (!a) return NULL;
    if (a->type != CR_ATTR_STRING) return wrong_type(n, a, CR_ATTR_STRING);
    *out = a->s;
    return NULL;
}

cnnrun_status *cr_attr_ints(const cr_node *n, const char *name, const int64_t **out, size_t *count)
{
    const cr_attr *a = cr_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return NULL;
    if (a->type != CR_ATTR_INTS) return wrong_type(n, a, CR_ATTR_INTS);
    *out = a->ints;
    *count = a->count;
    return NULL;
}

cnnrun_status *cr_attr_floats(const cr_node *n, const char *name, const float **out, size_t *count)
{
    const cr_attr *a = cr_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return NULL;
    if (a->type != CR_ATTR_FLOATS) return wrong_type(n, a, CR_ATTR_FLOATS);
    *out = a->floats;
    *count = a->count;
    return NULL;
}
