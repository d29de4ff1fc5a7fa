/* Keras model files -> IR: reads the model's config (JSON, with jansson) and weights (HDF5, with
 * libhdf5) from a .keras archive or a legacy .h5, walks Sequential and Functional models layer
 * call by layer call, and hands each call to the lowering (keras_lower_*.c).
 *
 * Where the weights are: a .h5 lists its layers in /model_weights's "layer_names" attribute and
 * each layer's datasets in its group's "weight_names" (never guessed: Keras 2 and 3 name them
 * differently). A .keras stores layer i of model.layers under layers/<snake_case class>[_k]/vars/j
 * (k counting earlier layers of the same class), with a recurrent layer's cell under cell/ and a
 * Bidirectional's under forward_layer/ and backward_layer/. */
#include "keras_loader.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_reader.h"
#include "keras_lower.h"
#include "tfjs_weights.h"
#include "zip.h"

#define OPSET 17
#define MAX_LAYER_OUTPUTS 4
#define MAX_WEIGHTS_PER_LAYER 4096

typedef struct layer_call {
    bool done;
    int n_out;
    cr_kt out[MAX_LAYER_OUTPUTS];
} layer_call;

typedef struct layer_rec {
    const char *name, *class_name;
    json_t *config, *inbound; /* inbound: the layer's "inbound_nodes" (Functional) */
    char *group;              /* .keras: weights group "layers/<snake>[_k]"; NULL if none */
    int n_calls;
    layer_call *calls;
    bool listed;              /* in the summary (model.layers) once its first call is lowered */
    int64_t params;
} layer_rec;

typedef struct kmodel {
    const char *what;
    json_t *config_root; /* the parsed document holding the model config (owned) */
    json_t *model;       /* {"class_name", "config", ...} inside it */
    cr_hdf5 *h5;
    bool archive;        /* .keras */
    bool tfjs;           /* TensorFlow.js model.json (weights in m->tfjs_weights) */
    char *version;       /* keras_version as the file states it, or NULL */
    cr_tfjs_weights tfjs_weights;
    int n_layers;
    layer_rec *layers;
    cr_gb gb;
    cr_klower lw;
} kmodel;

/* ---- small helpers ---- */

static cnnrun_status *oom(void)
{
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory loading the Keras model");
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static cnnrun_status *parse_json(const char *text, size_t len, const char *what, json_t **out)
{
    json_error_t err;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!*out)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: malformed JSON at line %d, column %d: %s", what, err.line,
                        err.column, err.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: the JSON is not an object", what);
    }
    return NULL;
}

static int major_version(const char *v)
{
    int m = v ? atoi(v) : 0;
    return m >= 1 ? m : 2;
}

/* Keras's naming.to_snake_case: drop non-word characters, "_" before a capital that starts a
 * lowercase run (after any character), then between a lowercase letter and a capital. */
static void snake_case(const char *cls, char *out, size_t size)
{
    char a[256], b[300];
    size_t n = 0;
    for (const char *p = cls; *p && n + 1 < sizeof a; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') a[n++] = *p;
    a[n] = '\0';
    size_t o = 0, i = 0;
#define IS_UP(c) ((c) >= 'A' && (c) <= 'Z')
#define IS_LO(c) ((c) >= 'a' && (c) <= 'z')
    while (i < n && o + 3 < sizeof b) {
        if (i + 2 < n + 1 && i + 1 < n && IS_UP(a[i + 1]) && i + 2 < n && IS_LO(a[i + 2])) {
            b[o++] = a[i++];
            b[o++] = '_';
            b[o++] = a[i++];
            while (i < n && IS_LO(a[i]) && o + 1 < sizeof b) b[o++] = a[i++];
        } else {
            b[o++] = a[i++];
        }
    }
    b[o] = '\0';
    o = 0;
    for (i = 0; b[i] && o + 3 < size; i++) {
        out[o++] = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] - 'A' + 'a') : b[i];
        if (IS_LO(b[i]) && IS_UP(b[i + 1])) {
            out[o++] = '_';
            out[o++] = (char)(b[++i] - 'A' + 'a');
        }
    }
    out[o] = '\0';
#undef IS_UP
#undef IS_LO
}

/* ---- weights ---- */

static void weights_free(cr_kweights *w)
{
    for (int i = 0; i < w->n; i++) {
        cr_tensor_free(w->t[i]);
        free(w->names[i]);
    }
    free(w->t);
    free(w->names);
    memset(w, 0, sizeof *w);
}

static cnnrun_status *weights_add(cr_kweights *w, cr_tensor *t, const char *name)
{
    if (w->n >= MAX_WEIGHTS_PER_LAYER) {
        cr_tensor_free(t);
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "a layer has more than %d weights", MAX_WEIGHTS_PER_LAYER);
    }
    cr_tensor **ts = realloc(w->t, (size_t)(w->n + 1) * sizeof *ts);
    if (ts) w->t = ts;
    char **ns = realloc(w->names, (size_t)(w->n + 1) * sizeof *ns);
    if (ns) w->names = ns;
    char *copy = strdup(name);
    if (!ts || !ns || !copy) {
        free(copy);
        cr_tensor_free(t);
        return oom();
    }
    w->t[w->n] = t;
    w->names[w->n++] = copy;
    return NULL;
}

/* .keras: vars/0.. of the group, then the nested objects Keras saves for wrappers and RNNs. */
static cnnrun_status *collect_archive_weights(kmodel *m, const char *group, int depth, cr_kweights *w)
{
    char path[1024];
    for (int i = 0; i < MAX_WEIGHTS_PER_LAYER; i++) {
        snprintf(path, sizeof path, "/%.900s/vars/%d", group, i);
        if (!cr_hdf5_exists(m->h5, path)) break;
        cr_tensor *t;
        CR_TRY(cr_hdf5_read_float(m->h5, path, &t));
        CR_TRY(weights_add(w, t, path + 1));
    }
    static const char *const nested[] = {"cell", "forward_layer", "backward_layer", "layer"};
    for (size_t k = 0; depth < 4 && k < sizeof nested / sizeof *nested; k++) {
        snprintf(path, sizeof path, "%.900s/%s", group, nested[k]);
        char abs[1100];
        snprintf(abs, sizeof abs, "/%.1000s", path);
        if (cr_hdf5_exists(m->h5, abs)) CR_TRY(collect_archive_weights(m, path, depth + 1, w));
    }
    return NULL;
}

/* .h5: the layer's weight_names, in order. */
static cnnrun_status *collect_h5_weights(kmodel *m, const char *layer, cr_kweights *w)
{
    char group[1024];
    snprintf(group, sizeof group, "/model_weights/%s", layer);
    if (!cr_hdf5_exists(m->h5, group)) return NULL;
    char **names;
    size_t n;
    CR_TRY(cr_hdf5_attr_strings(m->h5, group, "weight_names", &names, &n));
    cnnrun_status *st = NULL;
    for (size_t i = 0; i < n && !st; i++) {
        char path[2100];
        snprintf(path, sizeof path, "%s/%s", group, names[i]);
        cr_tensor *t;
        st = cr_hdf5_read_float(m->h5, path, &t);
        if (!st) st = weights_add(w, t, names[i]);
    }
    cr_hdf5_free_strings(names, n);
    return st;
}

/* tfjs: the manifest's entries named "<layer>/...", in manifest order (a tfjs-saved model lists
 * all trainable weights first, so a layer's are not contiguous, but keep their order). */
static cnnrun_status *collect_tfjs_weights(kmodel *m, const char *layer, cr_kweights *w)
{
    size_t len = strlen(layer);
    for (int i = 0; i < m->tfjs_weights.n; i++) {
        const char *name = m->tfjs_weights.names[i];
        if (strncmp(name, layer, len) != 0 || name[len] != '/') continue;
        cr_tensor *t;
        CR_TRY(cr_kconst_new(name, m->tfjs_weights.t[i]->rank, m->tfjs_weights.t[i]->dims, &t));
        memcpy(t->data, m->tfjs_weights.t[i]->data, cr_tensor_bytes(t));
        CR_TRY(weights_add(w, t, name));
    }
    return NULL;
}

static cnnrun_status *layer_weights(kmodel *m, const layer_rec *r, cr_kweights *w)
{
    memset(w, 0, sizeof *w);
    cnnrun_status *st = m->tfjs      ? collect_tfjs_weights(m, r->name, w)
                        : m->archive ? (r->group ? collect_archive_weights(m, r->group, 0, w) : NULL)
                                     : collect_h5_weights(m, r->name, w);
    if (st) weights_free(w);
    return st;
}

/* ---- inputs and outputs ---- */

static cnnrun_dtype dtype_of(json_t *config)
{
    json_t *d = json_object_get(config, "dtype");
    const char *s = json_is_string(d) ? json_string_value(d) : jstr(json_object_get(d, "config"), "name");
    if (!s) return CNNRUN_FLOAT32;
    if (strcmp(s, "int32") == 0) return CNNRUN_INT32;
    if (strcmp(s, "int64") == 0) return CNNRUN_INT64;
    if (strcmp(s, "float32") == 0) return CNNRUN_FLOAT32;
    return CNNRUN_DTYPE_UNDEFINED;
}

/* A graph input from a shape list (batch first; null = free) and dtype. */
static cnnrun_status *make_input(kmodel *m, const char *name, json_t *shape, json_t *config, cr_kt *out)
{
    if (!json_is_array(shape) || json_array_size(shape) < 1 || json_array_size(shape) > CR_MAX_RANK)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "input '%s': no usable batch_shape (a list of 1 to 8 dims)", name);
    cnnrun_dtype dt = dtype_of(config);
    if (dt == CNNRUN_DTYPE_UNDEFINED)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "input '%s': only float32, int32 and int64 inputs are supported", name);
    int v;
    CR_TRY(cr_gb_value(&m->gb, name, &v));
    cr_value *val = &m->gb.g->values[v];
    memset(out, 0, sizeof *out);
    out->v = v;
    out->v_cf = -1;
    out->rank = (int)json_array_size(shape);
    out->dtype = dt;
    val->decl_dtype = dt;
    val->decl_rank = out->rank;
    for (int d = 0; d < out->rank; d++) {
        json_t *e = json_array_get(shape, (size_t)d);
        out->shape[d] = json_is_integer(e) && json_integer_value(e) > 0 ? json_integer_value(e) : -1;
        val->decl_dims[d] = out->shape[d];
        if (d == 0 && out->shape[d] < 0 && !(val->decl_dim_names[0] = strdup("batch"))) return oom();
    }
    return cr_gb_add_input(&m->gb, v);
}

static json_t *input_shape_of(json_t *config)
{
    json_t *s = json_object_get(config, "batch_shape");
    return json_is_array(s) ? s : json_object_get(config, "batch_input_shape");
}

/* Makes the Keras tensor t a graph output named `name`. */
static cnnrun_status *make_output(kmodel *m, const char *name, cr_kt *t)
{
    int v;
    CR_TRY(cr_kt_keras(&m->lw, name, t, &v));
    cr_graph *g = m->gb.g;
    bool taken = false;
    for (int i = 0; i < g->n_inputs; i++) taken |= g->inputs[i] == v;
    for (int i = 0; i < g->n_outputs; i++) taken |= g->outputs[i] == v;
    for (int i = 0; i < g->n_values; i++) taken |= strcmp(g->values[i].name, name) == 0 && i != v;
    if (taken) {
        /* the value already has a public name (an input, another output): copy it */
        int node, y;
        CR_TRY(cr_gb_value(&m->gb, name, &y));
        CR_TRY(cr_gb_node(&m->gb, "Identity", name, &v, 1, &y, 1, &node));
        v = y;
    } else {
        char *copy = strdup(name);
        if (!copy) return oom();
        free(g->values[v].name);
        g->values[v].name = copy;
    }
    cr_value *val = &g->values[v];
    val->decl_dtype = t->dtype;
    val->decl_rank = t->rank;
    for (int d = 0; d < t->rank; d++) {
        val->decl_dims[d] = t->shape[d];
        if (d == 0 && t->shape[0] < 0 && !val->decl_dim_names[0] && !(val->decl_dim_names[0] = strdup("batch")))
            return oom();
    }
    return cr_gb_add_output(&m->gb, v);
}

/* ---- layers ---- */

static bool is_input_layer(const layer_rec *r)
{
    return strcmp(r->class_name, "InputLayer") == 0;
}

static cnnrun_status *check_layer_known(const layer_rec *r)
{
    if (is_input_layer(r) || cr_keras_layer_known(r->class_name)) return NULL;
    if (!strcmp(r->class_name, "Sequential") || !strcmp(r->class_name, "Functional") || !strcmp(r->class_name, "Model"))
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "layer '%s' is a nested %s model; nested models are not supported yet",
                        r->name, r->class_name);
    if (strcmp(r->class_name, "Lambda") == 0)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "layer '%s' has class 'Lambda', which cnnrun cannot run: its function is Python code "
                        "(replace it by built-in layers)", r->name);
    return cr_error(CNNRUN_ERR_UNSUPPORTED,
                    "layer '%s' has class '%s', which cnnrun does not implement (a custom class, or a "
                    "built-in layer not supported yet; see README, 'Check a Keras model')",
                    r->name, r->class_name);
}

/* Reads the layer list; for .keras also the weight group of each (model.layers order). */
static cnnrun_status *read_layers(kmodel *m, json_t *layers, bool sequential)
{
    size_t n = json_array_size(layers);
    m->layers = calloc(n ? n : 1, sizeof *m->layers);
    if (!m->layers) return oom();
    typedef struct { char base[256]; int count; } used_name;
    used_name *used = calloc(n ? n : 1, sizeof *used);
    if (!used) return oom();
    int n_used = 0;
    cnnrun_status *st = NULL;
    for (size_t i = 0; i < n && !st; i++) {
        json_t *l = json_array_get(layers, i);
        layer_rec *r = &m->layers[m->n_layers++];
        r->class_name = jstr(l, "class_name");
        r->config = json_object_get(l, "config");
        r->name = jstr(l, "name");
        if (!r->name) r->name = jstr(r->config, "name");
        r->inbound = json_object_get(l, "inbound_nodes");
        if (!r->class_name || !r->name || !json_is_object(r->config)) {
            st = cr_error(CNNRUN_ERR_INVALID_MODEL, "layer %zu of the config has no class_name, name or config", i);
            break;
        }
        st = check_layer_known(r);
        /* Sequential.layers omits the InputLayer: it gets no weights group */
        if (st || !m->archive || (sequential && is_input_layer(r))) continue;
        char base[256];
        snake_case(r->class_name, base, sizeof base);
        int k = 0;
        while (k < n_used && strcmp(used[k].base, base) != 0) k++;
        if (k == n_used) {
            snprintf(used[n_used++].base, sizeof used->base, "%s", base);
            used[k].count = 0;
        } else {
            used[k].count++;
        }
        char group[300];
        if (used[k].count) snprintf(group, sizeof group, "layers/%s_%d", base, used[k].count);
        else snprintf(group, sizeof group, "layers/%s", base);
        r->group = strdup(group);
        if (!r->group) st = oom();
    }
    free(used);
    return st;
}

/* Lowers one call of layer r on the given inputs into call slot c. */
static cnnrun_status *lower_call(kmodel *m, layer_rec *r, layer_call *c, cr_kt *const *in, int n_in)
{
    cr_kweights w;
    CR_TRY(layer_weights(m, r, &w));
    cr_klayer L = {.name = r->name, .class_name = r->class_name, .config = r->config, .w = &w};
    cnnrun_status *st = cr_keras_lower_layer(&m->lw, &L, in, n_in, c->out, &c->n_out);
    if (!r->listed) {
        r->listed = true;
        for (int i = 0; i < w.n; i++) r->params += cr_tensor_count(w.t[i]);
    }
    weights_free(&w);
    if (st) return cr_error_prefix(st, "layer '%s' (%s)", r->name, r->class_name);
    c->done = true;
    return NULL;
}

static cnnrun_status *load_sequential(kmodel *m, json_t *model_config, json_t *build_config)
{
    json_t *layers = json_is_array(model_config) ? model_config : json_object_get(model_config, "layers");
    if (!json_is_array(layers)) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the Sequential config has no layer list");
    CR_TRY(read_layers(m, layers, true));
    cr_kt cur, *cur_ptr = &cur;
    bool have = false;
    cnnrun_status *st = NULL;
    const char *last = NULL;
    for (int i = 0; i < m->n_layers && !st; i++) {
        layer_rec *r = &m->layers[i];
        if (!have) {
            json_t *shape = input_shape_of(r->config);
            if (!shape && build_config) shape = json_object_get(build_config, "input_shape");
            if (!shape) {
                st = cr_error(CNNRUN_ERR_INVALID_MODEL, "the Sequential model declares no input shape");
                break;
            }
            st = make_input(m, is_input_layer(r) ? r->name : "input", shape, r->config, &cur);
            have = true;
            if (st || is_input_layer(r)) continue;
        }
        if (is_input_layer(r)) {
            st = cr_error(CNNRUN_ERR_INVALID_MODEL, "an InputLayer in the middle of a Sequential model");
            break;
        }
        r->n_calls = 1;
        r->calls = calloc(1, sizeof *r->calls);
        if (!r->calls) return oom();
        st = lower_call(m, r, &r->calls[0], &cur_ptr, 1);
        if (!st && r->calls[0].n_out != 1)
            st = cr_error(CNNRUN_ERR_UNSUPPORTED, "layer '%s' has %d outputs; a Sequential model's layers have one",
                          r->name, r->calls[0].n_out);
        if (!st) {
            cur = r->calls[0].out[0];
            last = r->name;
        }
    }
    if (!st && !have) st = cr_error(CNNRUN_ERR_INVALID_MODEL, "the Sequential model has no layers");
    if (!st) st = make_output(m, last ? last : "output", &cur);
    return st;
}

static int find_layer_rec(const kmodel *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i].name, name) == 0) return i;
    return -1;
}

typedef struct tensor_ref {
    const char *layer;
    int64_t node, index;
} tensor_ref;

/* A [name, node, index, ...] triple. */
static bool read_ref(json_t *a, tensor_ref *ref)
{
    if (!json_is_array(a) || json_array_size(a) < 3 || !json_is_string(json_array_get(a, 0)) ||
        !json_is_integer(json_array_get(a, 1)) || !json_is_integer(json_array_get(a, 2)))
        return false;
    ref->layer = json_string_value(json_array_get(a, 0));
    ref->node = json_integer_value(json_array_get(a, 1));
    ref->index = json_integer_value(json_array_get(a, 2));
    return true;
}

/* Keras 3's call arguments: every "__keras_tensor__" found in args, depth first. */
static cnnrun_status *collect_k3_refs(json_t *j, tensor_ref *refs, int *n, int depth)
{
    if (depth > 16) return cr_error(CNNRUN_ERR_INVALID_MODEL, "call arguments nest too deeply");
    if (json_is_object(j)) {
        const char *cls = jstr(j, "class_name");
        if (cls && strcmp(cls, "__keras_tensor__") == 0) {
            if (*n >= CR_KERAS_MAX_IO) return cr_error(CNNRUN_ERR_UNSUPPORTED, "more than %d inputs to one layer", CR_KERAS_MAX_IO);
            if (!read_ref(json_object_get(json_object_get(j, "config"), "keras_history"), &refs[*n]))
                return cr_error(CNNRUN_ERR_INVALID_MODEL, "a tensor argument has no keras_history");
            (*n)++;
        }
        return NULL;
    }
    if (json_is_array(j))
        for (size_t i = 0; i < json_array_size(j); i++) CR_TRY(collect_k3_refs(json_array_get(j, i), refs, n, depth + 1));
    return NULL;
}

/* The input references of one inbound node, Keras 2 ([[name, node, index, kwargs], ...]) or
 * Keras 3 ({"args": [...], "kwargs": {...}}) form. */
static cnnrun_status *node_refs(const layer_rec *r, json_t *node, tensor_ref *refs, int *n)
{
    *n = 0;
    if (json_is_object(node)) {
        CR_TRY(collect_k3_refs(json_object_get(node, "args"), refs, n, 0));
        int extra = 0;
        tensor_ref dummy[CR_KERAS_MAX_IO];
        CR_TRY(collect_k3_refs(json_object_get(node, "kwargs"), dummy, &extra, 0));
        if (extra)
            return cr_error(CNNRUN_ERR_UNSUPPORTED, "layer '%s' (%s) is called with tensors as keyword arguments "
                            "(initial states, masks); not supported", r->name, r->class_name);
        return NULL;
    }
    if (!json_is_array(node)) return cr_error(CNNRUN_ERR_INVALID_MODEL, "layer '%s': malformed inbound node", r->name);
    for (size_t i = 0; i < json_array_size(node); i++) {
        if (*n >= CR_KERAS_MAX_IO) return cr_error(CNNRUN_ERR_UNSUPPORTED, "more than %d inputs to one layer", CR_KERAS_MAX_IO);
        if (!read_ref(json_array_get(node, i), &refs[*n]))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "layer '%s': malformed inbound tensor", r->name);
        json_t *kw = json_array_get(json_array_get(node, i), 3);
        if (json_is_object(kw) && (json_object_get(kw, "initial_state") || json_object_get(kw, "constants")))
            return cr_error(CNNRUN_ERR_UNSUPPORTED, "layer '%s' (%s) is called with initial states; not supported",
                            r->name, r->class_name);
        (*n)++;
    }
    return NULL;
}

/* The tensor a reference names, or NULL if its layer call has not been lowered yet; an error if
 * it can never exist. */
static cnnrun_status *resolve(kmodel *m, const tensor_ref *ref, cr_kt **out)
{
    *out = NULL;
    int li = find_layer_rec(m, ref->layer);
    if (li < 0) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the config refers to a layer '%s' it does not define", ref->layer);
    layer_rec *r = &m->layers[li];
    if (ref->node < 0 || ref->node >= r->n_calls || ref->index < 0 || ref->index >= MAX_LAYER_OUTPUTS)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "the config refers to call %lld, output %lld of layer '%s', which it does not have",
                        (long long)ref->node, (long long)ref->index, ref->layer);
    layer_call *c = &r->calls[ref->node];
    if (!c->done) return NULL;
    if (ref->index >= c->n_out)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "layer '%s' has %d outputs; output %lld is used", ref->layer, c->n_out,
                        (long long)ref->index);
    *out = &c->out[ref->index];
    return NULL;
}

static cnnrun_status *read_io_refs(json_t *list, tensor_ref *refs, int *n, const char *what)
{
    *n = 0;
    if (read_ref(list, &refs[0])) { /* a single [name, node, index] */
        *n = 1;
        return NULL;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > CR_KERAS_MAX_IO)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "the Functional config's %s are missing or malformed", what);
    for (size_t i = 0; i < json_array_size(list); i++)
        if (!read_ref(json_array_get(list, i), &refs[(*n)++]))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "the Functional config's %s are malformed", what);
    return NULL;
}

static cnnrun_status *load_functional(kmodel *m, json_t *model_config)
{
    json_t *layers = json_object_get(model_config, "layers");
    if (!json_is_array(layers)) return cr_error(CNNRUN_ERR_INVALID_MODEL, "the Functional config has no layer list");
    CR_TRY(read_layers(m, layers, false));
    for (int i = 0; i < m->n_layers; i++) {
        layer_rec *r = &m->layers[i];
        r->n_calls = is_input_layer(r) ? 1 : (int)json_array_size(r->inbound);
        r->calls = calloc((size_t)r->n_calls + 1, sizeof *r->calls);
        if (!r->calls) return oom();
    }
    tensor_ref ins[CR_KERAS_MAX_IO], outs[CR_KERAS_MAX_IO];
    int n_ins, n_outs;
    CR_TRY(read_io_refs(json_object_get(model_config, "input_layers"), ins, &n_ins, "input_layers"));
    CR_TRY(read_io_refs(json_object_get(model_config, "output_layers"), outs, &n_outs, "output_layers"));
    for (int i = 0; i < n_ins; i++) {
        int li = find_layer_rec(m, ins[i].layer);
        if (li < 0 || !is_input_layer(&m->layers[li]))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "model input '%s' is not an InputLayer of the config", ins[i].layer);
        layer_rec *r = &m->layers[li];
        CR_TRY(make_input(m, r->name, input_shape_of(r->config), r->config, &r->calls[0].out[0]));
        r->calls[0].n_out = 1;
        r->calls[0].done = true;
        r->listed = true;
    }
    /* lower every call whose inputs exist, until none is left (configs list layers in a
     * topological order, so this is normally one pass) */
    for (bool progress = true; progress;) {
        progress = false;
        for (int i = 0; i < m->n_layers; i++) {
            layer_rec *r = &m->layers[i];
            for (int c = 0; c < r->n_calls; c++) {
                if (r->calls[c].done || is_input_layer(r)) continue;
                tensor_ref refs[CR_KERAS_MAX_IO];
                cr_kt *in[CR_KERAS_MAX_IO];
                int n, ready = 0;
                CR_TRY(node_refs(r, json_array_get(r->inbound, (size_t)c), refs, &n));
                for (int k = 0; k < n; k++) {
                    CR_TRY(resolve(m, &refs[k], &in[k]));
                    ready += in[k] != NULL;
                }
                if (ready < n) continue;
                CR_TRY(lower_call(m, r, &r->calls[c], in, n));
                progress = true;
            }
        }
    }
    for (int i = 0; i < n_outs; i++) {
        cr_kt *t;
        CR_TRY(resolve(m, &outs[i], &t));
        if (!t)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "model output '%s' is never computed (a layer's inputs are missing)",
                            outs[i].layer);
        char name[300];
        if (outs[i].node == 0 && outs[i].index == 0) snprintf(name, sizeof name, "%s", outs[i].layer);
        else snprintf(name, sizeof name, "%s_%lld_%lld", outs[i].layer, (long long)outs[i].node, (long long)outs[i].index);
        CR_TRY(make_output(m, name, t));
    }
    return NULL;
}

/* ---- files ---- */

typedef struct archive_parts {
    char *config, *metadata;
    size_t config_len, metadata_len;
    void *weights;
    size_t weights_len;
    const char *what;
} archive_parts;

static cnnrun_status *archive_member(void *ctx, const char *name, const void *data, size_t size)
{
    archive_parts *p = ctx;
    char **text = NULL;
    size_t *len = NULL;
    if (strcmp(name, "config.json") == 0) {
        text = &p->config;
        len = &p->config_len;
    } else if (strcmp(name, "metadata.json") == 0) {
        text = &p->metadata;
        len = &p->metadata_len;
    } else if (strcmp(name, "model.weights.h5") == 0) {
        free(p->weights);
        p->weights = malloc(size ? size : 1);
        if (!p->weights) return oom();
        memcpy(p->weights, data, size);
        p->weights_len = size;
        return NULL;
    } else if (strcmp(name, "model.weights.npz") == 0 || strstr(name, ".weights.json")) {
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: weights stored as '%s' (npz or sharded) are not supported; "
                        "save with the default weights format", p->what, name);
    }
    if (!text) return NULL;
    free(*text);
    *text = malloc(size + 1);
    if (!*text) return oom();
    memcpy(*text, data, size);
    (*text)[size] = '\0';
    *len = size;
    return NULL;
}

static cnnrun_status *open_archive(kmodel *m, const void *data, size_t size, json_t **root, int *major)
{
    archive_parts p = {.what = m->what};
    cnnrun_status *st = cr_zip_read(data, size, m->what, archive_member, &p);
    if (!st && (!p.config || !p.weights))
        st = cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a zip archive without %s: not a Keras .keras model", m->what,
                      !p.config ? "config.json" : "model.weights.h5");
    if (!st) st = parse_json(p.config, p.config_len, "config.json", root);
    m->model = *root;
    *major = 3;
    if (!st && p.metadata) {
        json_t *meta;
        st = parse_json(p.metadata, p.metadata_len, "metadata.json", &meta);
        if (!st) {
            *major = major_version(jstr(meta, "keras_version"));
            m->version = jstr(meta, "keras_version") ? strdup(jstr(meta, "keras_version")) : NULL;
            json_decref(meta);
        }
    }
    if (!st) st = cr_error_prefix(cr_hdf5_open(p.weights, p.weights_len, "model.weights.h5", &m->h5), "%s", m->what);
    free(p.config);
    free(p.metadata);
    free(p.weights);
    return st;
}

static cnnrun_status *open_h5(kmodel *m, const void *data, size_t size, json_t **root, int *major)
{
    CR_TRY(cr_hdf5_open(data, size, m->what, &m->h5));
    char *text, *backend = NULL;
    bool found, has_version, has_backend;
    CR_TRY(cr_hdf5_attr_string(m->h5, "/", "model_config", &found, &text));
    if (!found)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: an HDF5 file without a 'model_config' attribute: not a whole Keras model (files from "
                        "save_weights hold weights only; save the model with model.save)", m->what);
    cnnrun_status *st = parse_json(text, strlen(text), "model_config", root);
    free(text);
    CR_TRY(st);
    m->model = *root;
    free(m->version);
    m->version = NULL;
    CR_TRY(cr_hdf5_attr_string(m->h5, "/", "keras_version", &has_version, &m->version));
    *major = major_version(has_version ? m->version : "1");
    CR_TRY(cr_hdf5_attr_string(m->h5, "/", "backend", &has_backend, &backend));
    /* Theano convolved (flipped kernels); Keras 2 flipped them when loading such a file */
    m->lw.flip_kernels = has_backend && strcmp(backend, "theano") == 0;
    free(backend);
    if (!cr_hdf5_exists(m->h5, "/model_weights"))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: the file has a model_config but no /model_weights group", m->what);
    return NULL;
}

/* model.json of a TensorFlow.js layers model: {"format": "layers-model", "modelTopology": ...,
 * "weightsManifest": [...]}; the topology is either the Keras config itself (saved by tfjs) or
 * the .h5's root attributes (written by the Python converter), whose model_config is the config. */
static cnnrun_status *open_tfjs(kmodel *m, const void *data, size_t size, const char *dir, json_t **root, int *major)
{
    CR_TRY(parse_json(data, size, m->what, root));
    const char *format = jstr(*root, "format");
    if (format && strcmp(format, "layers-model") != 0)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: a TensorFlow.js '%s'; only layers models (Keras) are supported",
                        m->what, format);
    json_t *topo = json_object_get(*root, "modelTopology");
    if (!json_is_object(topo))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a JSON file without modelTopology: not a TensorFlow.js model", m->what);
    /* "2.15.0" from the converter; "tfjs-layers 4.22.0" from tfjs itself, whose activations
     * (hard_sigmoid 0.2x + 0.5) are Keras 2's */
    const char *version = jstr(topo, "keras_version");
    *major = version && strncmp(version, "tfjs", 4) != 0 ? atoi(version) : 2;
    m->version = version ? strdup(version) : NULL;
    if (*major < 1) *major = 2;
    m->model = json_is_object(json_object_get(topo, "model_config")) ? json_object_get(topo, "model_config") : topo;
    m->tfjs = true;
    return cr_tfjs_read_weights(json_object_get(*root, "weightsManifest"), dir, m->what, &m->tfjs_weights);
}

static bool looks_like_json(const void *data, size_t size)
{
    const unsigned char *p = data;
    size_t i = 0;
    while (i < size && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) i++;
    return i < size && p[i] == '{';
}

/* The graph's source_layers: the layers in config order that were called (a Sequential's
 * InputLayer is not listed, as model.summary() does not list it). */
static cnnrun_status *list_layers(kmodel *m)
{
    cr_graph *g = m->gb.g;
    g->source_layers = calloc((size_t)m->n_layers + 1, sizeof *g->source_layers);
    if (!g->source_layers) return oom();
    for (int i = 0; i < m->n_layers; i++) {
        layer_rec *r = &m->layers[i];
        if (!r->listed || !r->calls || !r->calls[0].n_out) continue;
        cr_source_layer *l = &g->source_layers[g->n_source_layers++];
        l->name = strdup(r->name);
        l->class_name = strdup(r->class_name);
        if (!l->name || !l->class_name) return oom();
        const cr_kt *t = &r->calls[0].out[0];
        l->rank = t->rank;
        memcpy(l->shape, t->shape, sizeof l->shape);
        l->params = r->params;
    }
    return NULL;
}

bool cr_keras_has_magic(const void *data, size_t size)
{
    return cr_zip_has_magic(data, size) || cr_hdf5_has_magic(data, size) || looks_like_json(data, size);
}

static void kmodel_free(kmodel *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        free(m->layers[i].group);
        free(m->layers[i].calls);
    }
    free(m->layers);
    cr_hdf5_close(m->h5);
    cr_tfjs_weights_free(&m->tfjs_weights);
    free(m->version);
    json_decref(m->config_root);
}

cnnrun_status *cr_keras_load(const void *data, size_t size, const char *what, const char *dir, cr_graph **out)
{
    *out = NULL;
    kmodel m = {.what = what};
    int major = 3;
    bool archive = cr_zip_has_magic(data, size), h5 = cr_hdf5_has_magic(data, size);
    m.archive = archive;
    cnnrun_status *st = cr_gb_init(&m.gb, OPSET, "keras");
    m.lw.gb = &m.gb;
    if (!st) st = archive ? open_archive(&m, data, size, &m.config_root, &major)
                  : h5    ? open_h5(&m, data, size, &m.config_root, &major)
                          : open_tfjs(&m, data, size, dir, &m.config_root, &major);
    if (!st) {
        char producer[256];
        snprintf(producer, sizeof producer, "%s%.60s (%s)%s", m.version && strncmp(m.version, "tfjs", 4) == 0 ? "" : "keras ",
                 m.version ? m.version : major == 3 ? "3" : "2", archive ? ".keras" : h5 ? ".h5" : "TensorFlow.js model.json",
                 m.lw.flip_kernels ? ", Theano-trained: convolution kernels flipped for cross-correlation" : "");
        free(m.gb.g->producer);
        m.gb.g->producer = strdup(producer);
        m.lw.keras_major = major;
        const char *cls = jstr(m.model, "class_name");
        json_t *cfg = json_object_get(m.model, "config");
        if (!cls || !cfg)
            st = cr_error(CNNRUN_ERR_INVALID_MODEL, "the model config has no class_name and config");
        else if (strcmp(cls, "Sequential") == 0)
            st = load_sequential(&m, cfg, json_object_get(m.model, "build_config"));
        else if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Model") == 0)
            st = load_functional(&m, cfg);
        else
            st = cr_error(CNNRUN_ERR_UNSUPPORTED,
                          "the model is a '%s', a subclassed model whose call() is Python code; cnnrun reads "
                          "Sequential and Functional models", cls);
    }
    if (!st) st = list_layers(&m);
    if (!st) st = cr_gb_finish(&m.gb, out);
    cr_gb_abort(&m.gb);
    kmodel_free(&m);
    return st;
}
