/* ONNX ModelProto → IR. Reads with protobuf-c code generated at build time from the schema of
 * Debian's libonnx-dev, copies what the IR needs, and frees the protobuf tree. */
#include "onnx_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "tensor_proto.h"

/* A name → value index map (open addressing), so that large graphs load in linear time. */
typedef struct name_map {
    size_t cap;
    int *slots; /* value index + 1; 0 = empty */
} name_map;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

typedef struct loader {
    cr_graph *g;
    int values_cap;
    name_map map;
    const char *external_dir;
} loader;

static cnnrun_status *oom(const char *what)
{
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory while loading the model (%s)", what);
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

static cnnrun_status *map_grow(loader *L)
{
    size_t cap = L->map.cap ? L->map.cap * 2 : 256;
    int *slots = calloc(cap, sizeof *slots);
    if (!slots) return oom("name table");
    for (int v = 0; v < L->g->n_values; v++) {
        size_t h = hash_name(L->g->values[v].name) & (cap - 1);
        while (slots[h]) h = (h + 1) & (cap - 1);
        slots[h] = v + 1;
    }
    free(L->map.slots);
    L->map.slots = slots;
    L->map.cap = cap;
    return NULL;
}

static int map_find(const loader *L, const char *name)
{
    if (!L->map.cap) return -1;
    size_t h = hash_name(name) & (L->map.cap - 1);
    while (L->map.slots[h]) {
        int v = L->map.slots[h] - 1;
        if (strcmp(L->g->values[v].name, name) == 0) return v;
        h = (h + 1) & (L->map.cap - 1);
    }
    return -1;
}

/* Index of the value with this name, created if new. */
static cnnrun_status *value_get(loader *L, const char *name, int *index)
{
    int v = map_find(L, name);
    if (v >= 0) {
        *index = v;
        return NULL;
    }
    cr_graph *g = L->g;
    if (g->n_values == L->values_cap) {
        int cap = L->values_cap ? L->values_cap * 2 : 64;
        cr_value *vals = realloc(g->values, (size_t)cap * sizeof *vals);
        if (!vals) return oom("values");
        g->values = vals;
        L->values_cap = cap;
    }
    if ((size_t)(g->n_values + 1) * 2 > L->map.cap) CR_TRY(map_grow(L));
    cr_value *val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    val->name = dup_str(name);
    if (!val->name) return oom("value name");
    val->decl_rank = -1;
    val->producer = -1;
    size_t h = hash_name(name) & (L->map.cap - 1);
    while (L->map.slots[h]) h = (h + 1) & (L->map.cap - 1);
    L->map.slots[h] = g->n_values + 1;
    *index = g->n_values++;
    return NULL;
}

/* What a ValueInfoProto declares: dtype and shape with free dims named by dim_param. `role` and
 * `position` say which list it came from, for the message when it has no name. */
static cnnrun_status *read_value_info(loader *L, const Onnx__ValueInfoProto *vi, const char *role,
                                      size_t position, int *index)
{
    /* protobuf-c leaves an absent string NULL; an empty name means "no value" in ONNX */
    if (!vi->name || !vi->name[0])
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "graph %s %zu has no name", role, position);
    CR_TRY(value_get(L, vi->name, index));
    cr_value *v = &L->g->values[*index];
    const Onnx__TypeProto *tp = vi->type;
    if (!tp) return NULL;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "graph value '%s' is not a tensor (sequence, map and optional types are not "
                        "supported)", vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    v->decl_dtype = (cnnrun_dtype)tt->elem_type;
    if (!tt->shape) return NULL;
    if (tt->shape->n_dim > CR_MAX_RANK)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "value '%s' has rank %zu; at most %d is supported",
                        vi->name, tt->shape->n_dim, CR_MAX_RANK);
    v->decl_rank = (int)tt->shape->n_dim;
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        v->decl_dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            dim->dim_value >= 0)
            v->decl_dims[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 dim->dim_param && dim->dim_param[0]) {
            v->decl_dim_names[d] = dup_str(dim->dim_param);
            if (!v->decl_dim_names[d]) return oom("dim name");
        }
    }
    return NULL;
}

/* The node's name and op_type as messages show them: protobuf-c leaves absent strings NULL, and a
 * node without a name is known by its op_type and position. */
typedef struct node_label {
    const char *name;
    const char *op;
} node_label;

static cnnrun_status *read_attr(node_label nl, size_t index, const Onnx__AttributeProto *ap,
                                const char *external_dir, cr_attr *a)
{
    if (!ap->name || !ap->name[0])
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "node '%s' (%s): attribute %zu has no name",
                        nl.name, nl.op, index);
    a->name = dup_str(ap->name);
    if (!a->name) return oom("attribute name");
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = CR_ATTR_FLOAT;
        a->f = ap->f;
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = CR_ATTR_INT;
        a->i = ap->i;
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = CR_ATTR_STRING;
        a->s = malloc(ap->s.len + 1);
        if (!a->s) return oom("attribute");
        if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        a->type = CR_ATTR_TENSOR;
        if (!ap->t)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "node '%s' (%s): tensor attribute '%s' is empty",
                            nl.name, nl.op, ap->name);
        return cr_error_prefix(cr_tensor_from_proto(ap->t, external_dir, &a->t),
                               "node '%s' (%s), attribute '%s'", nl.name, nl.op, ap->name);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = CR_ATTR_FLOATS;
        a->count = ap->n_floats;
        a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof *a->floats);
        if (!a->floats) return oom("attribute");
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof *a->floats);
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = CR_ATTR_INTS;
        a->count = ap->n_ints;
        a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof *a->ints);
        if (!a->ints) return oom("attribute");
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
        a->type = CR_ATTR_STRINGS;
        a->strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof *a->strings);
        if (!a->strings) return oom("attribute");
        a->count = ap->n_strings;
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->strings[i] = malloc(ap->strings[i].len + 1);
            if (!a->strings[i]) return oom("attribute");
            if (ap->strings[i].len) memcpy(a->strings[i], ap->strings[i].data, ap->strings[i].len);
            a->strings[i][ap->strings[i].len] = '\0';
        }
        return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "node '%s' (%s): attribute '%s' is a subgraph; control flow with subgraphs "
                        "(If, Loop, Scan) is not supported",
                        nl.name, nl.op, ap->name);
    default:
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "node '%s' (%s): attribute '%s' has an unsupported type (%d: sparse "
                        "tensors and type protos are not supported)",
                        nl.name, nl.op, ap->name, (int)ap->type);
    }
}

/* A Constant node's value as a tensor: the `value` tensor or one of the scalar/list forms. */
static cnnrun_status *constant_node_value(const Onnx__NodeProto *np, node_label nl,
                                          const char *external_dir, cr_tensor **out)
{
    cnnrun_status *st = NULL;
    if (np->n_attribute != 1)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "Constant node '%s' must have exactly one value attribute, found %zu",
                        nl.name, np->n_attribute);
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *nm = ap->name;
    if (!nm || !nm[0])
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "Constant node '%s': its value attribute has no name",
                        nl.name);
    if (strcmp(nm, "value") == 0 && ap->t)
        return cr_error_prefix(cr_tensor_from_proto(ap->t, external_dir, out), "Constant node '%s'",
                               nl.name);
    int64_t one = (int64_t)1;
    if (strcmp(nm, "value_float") == 0) {
        *out = cr_tensor_new(CNNRUN_FLOAT32, 0, NULL, &st);
        if (*out) *(float *)(*out)->data = ap->f;
    } else if (strcmp(nm, "value_int") == 0) {
        *out = cr_tensor_new(CNNRUN_INT64, 0, NULL, &st);
        if (*out) *(int64_t *)(*out)->data = ap->i;
    } else if (strcmp(nm, "value_floats") == 0) {
        one = (int64_t)ap->n_floats;
        *out = cr_tensor_new(CNNRUN_FLOAT32, 1, &one, &st);
        if (*out && ap->n_floats) memcpy((*out)->data, ap->floats, ap->n_floats * sizeof(float));
    } else if (strcmp(nm, "value_ints") == 0) {
        one = (int64_t)ap->n_ints;
        *out = cr_tensor_new(CNNRUN_INT64, 1, &one, &st);
        if (*out && ap->n_ints) memcpy((*out)->data, ap->ints, ap->n_ints * sizeof(int64_t));
    } else {
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "Constant node '%s': attribute '%s' is not supported (string and sparse "
                        "constants)", nl.name, nm);
    }
    return st;
}

static cnnrun_status *read_node(loader *L, const Onnx__NodeProto *np, size_t index)
{
    cr_graph *g = L->g;
    const char *domain = np->domain ? np->domain : "";
    /* A nameless node is called by its op_type and position, as in the plan and the messages. */
    char generated[64];
    node_label nl = {.name = np->name, .op = np->op_type};
    if (!nl.op || !nl.op[0])
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "node %zu ('%s') has no op_type", index,
                        nl.name ? nl.name : "");
    if (!nl.name || !nl.name[0]) {
        snprintf(generated, sizeof generated, "%.40s_%zu", nl.op, index);
        nl.name = generated;
    }
    if (domain[0] && strcmp(domain, "ai.onnx") != 0)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "node '%s' (%s) is in domain '%s'; only the default ONNX domain is supported",
                        nl.name, nl.op, domain);
    if (strcmp(nl.op, "Constant") == 0) {
        if (np->n_output != 1 || !np->output[0][0])
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "Constant node '%s' must have one output",
                            nl.name);
        int v;
        CR_TRY(value_get(L, np->output[0], &v));
        if (g->values[v].constant)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "value '%s' is defined twice", np->output[0]);
        return constant_node_value(np, nl, L->external_dir, &g->values[v].constant);
    }
    cr_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op_type = dup_str(nl.op);
    n->domain = dup_str("");
    n->name = dup_str(nl.name);
    n->inputs = malloc((np->n_input ? np->n_input : 1) * sizeof *n->inputs);
    n->outputs = malloc((np->n_output ? np->n_output : 1) * sizeof *n->outputs);
    n->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n->attrs);
    if (!n->op_type || !n->domain || !n->name || !n->inputs || !n->outputs || !n->attrs)
        return oom("node");
    for (size_t i = 0; i < np->n_input; i++) {
        n->inputs[i] = -1;
        if (np->input[i][0]) CR_TRY(value_get(L, np->input[i], &n->inputs[i]));
        n->n_inputs++;
    }
    for (size_t i = 0; i < np->n_output; i++) {
        n->outputs[i] = -1;
        if (np->output[i][0]) CR_TRY(value_get(L, np->output[i], &n->outputs[i]));
        n->n_outputs++;
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        n->n_attrs++;
        CR_TRY(read_attr(nl, i, np->attribute[i], L->external_dir, &n->attrs[i]));
    }
    return NULL;
}

static cnnrun_status *read_graph(loader *L, Onnx__ModelProto *mp)
{
    Onnx__GraphProto *gp = mp->graph;
    cr_graph *g = L->g;
    if (gp->n_sparse_initializer)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "the graph has %zu sparse initializers ('%s'); sparse tensors are not supported",
                        gp->n_sparse_initializer,
                        gp->sparse_initializer[0]->values ? gp->sparse_initializer[0]->values->name : "");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "initializer %zu has no name", i);
        int v;
        CR_TRY(value_get(L, tp->name, &v));
        if (g->values[v].constant)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "initializer '%s' is defined twice", tp->name);
        CR_TRY(cr_error_prefix(cr_tensor_from_proto(tp, L->external_dir, &g->values[v].constant),
                               "initializer '%s'", tp->name));
        g->values[v].is_weight = true;
        /* the weights now live in the graph: give back protobuf's copy at once, so that loading
         * holds one copy of them at a time rather than two */
        cr_tensor_proto_release_data(tp);
    }
    g->inputs = malloc((gp->n_input ? gp->n_input : 1) * sizeof *g->inputs);
    g->outputs = malloc((gp->n_output ? gp->n_output : 1) * sizeof *g->outputs);
    g->nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof *g->nodes);
    if (!g->inputs || !g->outputs || !g->nodes) return oom("graph");
    for (size_t i = 0; i < gp->n_input; i++) {
        int v;
        CR_TRY(read_value_info(L, gp->input[i], "input", i, &v));
        /* An input with an initializer is a constant with a default value (IR ≥ 4): cnnrun treats
         * it as a constant, as ONNX Runtime does by default. */
        if (!g->values[v].constant) g->inputs[g->n_inputs++] = v;
    }
    for (size_t i = 0; i < gp->n_node; i++) CR_TRY(read_node(L, gp->node[i], i));
    for (size_t i = 0; i < gp->n_output; i++) {
        int v;
        CR_TRY(read_value_info(L, gp->output[i], "output", i, &v));
        g->outputs[g->n_outputs++] = v;
    }
    if (g->n_outputs == 0) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the graph declares no outputs");
    return NULL;
}

cnnrun_status *cr_onnx_unpack(const void *data, size_t size, Onnx__ModelProto **out)
{
    *out = NULL;
    if (size == 0) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the model file is empty");
    *out = onnx__model_proto__unpack(NULL, size, data);
    if (!*out)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "not an ONNX model: the %zu bytes do not parse as an ONNX ModelProto "
                        "(truncated or not a protobuf file)", size);
    return NULL;
}

cnnrun_status *cr_onnx_load(const void *data, size_t size, const char *external_dir,
                            cr_graph **out)
{
    Onnx__ModelProto *mp;
    *out = NULL;
    CR_TRY(cr_onnx_unpack(data, size, &mp));
    return cr_onnx_convert(mp, external_dir, out);
}

cnnrun_status *cr_onnx_convert(Onnx__ModelProto *mp, const char *external_dir, cr_graph **out)
{
    *out = NULL;
    cnnrun_status *st = NULL;
    cr_graph *g = NULL;
    if (!mp->graph || mp->ir_version <= 0) {
        st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                      "not an ONNX model: %s (the bytes parse as protobuf but hold no ONNX graph)",
                      !mp->graph ? "no graph" : "no ir_version");
        goto done;
    }
    g = calloc(1, sizeof *g);
    if (!g) {
        st = oom("graph");
        goto done;
    }
    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = mp->opset_import[i]->domain ? mp->opset_import[i]->domain : "";
        if (!d[0] || strcmp(d, "ai.onnx") == 0) g->opset = mp->opset_import[i]->version;
    }
    if (g->opset < 0 && mp->n_opset_import > 0) {
        /* Valid ONNX, but entirely in another domain (training, ML, a vendor's). */
        st = cr_error(CNNRUN_ERR_UNSUPPORTED,
                      "the model imports only domain '%s' (version %lld) and no opset of the "
                      "default ONNX domain; only the default domain is supported",
                      mp->opset_import[0]->domain ? mp->opset_import[0]->domain : "",
                      (long long)mp->opset_import[0]->version);
        goto done;
    }
    if (g->opset < 0) {
        st = cr_error(CNNRUN_ERR_INVALID_MODEL, "the model has no opset_import: its opset is unknown");
        goto done;
    }
    if (mp->producer_name) {
        size_t len = strlen(mp->producer_name) + (mp->producer_version ? strlen(mp->producer_version) : 0) + 2;
        g->producer = malloc(len);
        if (g->producer)
            snprintf(g->producer, len, "%s%s%s", mp->producer_name, mp->producer_version ? " " : "",
                     mp->producer_version ? mp->producer_version : "");
    }
    loader L = {.g = g, .external_dir = external_dir};
    st = read_graph(&L, mp);
    free(L.map.slots);
    if (!st) st = cr_graph_topo_sort(g);
done:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st) cr_graph_free(g);
    else *out = g;
    return st;
}
