/* Public model API: loading (file or memory), operator resolution, declared inputs/outputs. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_bytes.h"
#include "model_internal.h"
#include "onnx_loader.h"

/* Model files larger than this are refused before reading (weights of CNN/RNN models are far
 * smaller; protobuf itself cannot exceed 2 GiB). */
#define CR_MAX_MODEL_BYTES ((size_t)2 << 30)

/* A node must compute something, and into output 0 unless its operator says that one is
 * optional: the kernels write output 0 without looking. */
static cnnrun_status *check_node_outputs(const cr_node *n, const cr_op *op)
{
    bool any = false;
    for (int k = 0; k < n->n_outputs; k++) any = any || n->outputs[k] >= 0;
    if (!any)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "node '%s' (%s) has no outputs", n->name,
                        n->op_type);
    if (n->outputs[0] < 0 && !(op->flags & CR_OP_OPTIONAL_OUTPUT0))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "node '%s' (%s) omits its first output, which the operator requires",
                        n->name, n->op_type);
    return NULL;
}

/* Each node's operator, or an error that says what is missing: an unknown op, or a known op at
 * an opset outside the implemented range. */
static cnnrun_status *resolve_ops(cnnrun_model *m)
{
    const cr_graph *g = m->graph;
    if (g->opset > CR_OPSET_MAX)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "the model uses ONNX opset %lld; cnnrun implements opsets up to %d (ONNX 1.17)",
                        (long long)g->opset, CR_OPSET_MAX);
    m->ops = calloc((size_t)g->n_nodes + 1, sizeof *m->ops);
    if (!m->ops) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory resolving operators");
    for (int i = 0; i < g->n_nodes; i++) {
        const cr_node *n = &g->nodes[i];
        m->ops[i] = cr_op_find(n->domain, n->op_type, g->opset);
        if (m->ops[i]) {
            CR_TRY(check_node_outputs(n, m->ops[i]));
            continue;
        }
        int lo = 0, hi = 0;
        for (size_t k = 0; k < cr_op_count(); k++) {
            const cr_op *op = cr_op_at(k);
            if (strcmp(op->op_type, n->op_type) != 0) continue;
            if (!lo || op->opset_min < lo) lo = op->opset_min;
            if (op->opset_max > hi) hi = op->opset_max;
        }
        if (lo)
            return cr_error(CNNRUN_ERR_UNSUPPORTED,
                            "node '%s': operator %s is implemented for opsets %d to %d, but the "
                            "model uses opset %lld",
                            n->name, n->op_type, lo, hi, (long long)g->opset);
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "node '%s': operator %s is not supported",
                        n->name, n->op_type);
    }
    return NULL;
}

/* The readers of every value (nodes are in topological order, so each list is too). */
static cnnrun_status *index_uses(cnnrun_model *m)
{
    const cr_graph *g = m->graph;
    int total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += g->nodes[i].n_inputs;
    m->use_start = calloc((size_t)g->n_values + 2, sizeof *m->use_start);
    m->uses = calloc((size_t)total + 1, sizeof *m->uses);
    m->is_output = calloc((size_t)g->n_values + 1, sizeof *m->is_output);
    if (!m->use_start || !m->uses || !m->is_output)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory indexing the graph");
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) m->use_start[g->nodes[i].inputs[k] + 1]++;
    for (int v = 0; v < g->n_values; v++) m->use_start[v + 1] += m->use_start[v];
    int *fill = calloc((size_t)g->n_values + 1, sizeof *fill);
    if (!fill) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory indexing the graph");
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].inputs[k];
            if (v >= 0) m->uses[m->use_start[v] + fill[v]++] = (cr_use){.node = i, .input = k};
        }
    free(fill);
    for (int i = 0; i < g->n_outputs; i++) m->is_output[g->outputs[i]] = true;
    return NULL;
}

/* The model from its parsed protobuf (consumed). */
static cnnrun_status *model_from_proto(Onnx__ModelProto *mp, const char *external_dir, cnnrun_model **out)
{
    cnnrun_model *m = calloc(1, sizeof *m);
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory loading the model");
    }
    cnnrun_status *st = cr_onnx_convert(mp, external_dir, &m->graph);
    if (!st) st = resolve_ops(m);
    if (!st) st = index_uses(m);
    if (st) {
        cnnrun_model_free(m);
        return st;
    }
    *out = m;
    return NULL;
}

cnnrun_status *cnnrun_model_load(const char *path, cnnrun_model **out)
{
    if (!out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_load: out is NULL");
    *out = NULL;
    if (!path) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_load: path is NULL");
    void *data;
    size_t size;
    CR_TRY(cr_read_file(path, "model", CR_MAX_MODEL_BYTES, &data, &size));
    char *path_copy = strdup(path);
    if (!path_copy) {
        free(data);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory loading '%s'", path);
    }
    /* the file's bytes are freed as soon as they are parsed: loading a model of W bytes of
     * weights then peaks near 2 W (parsed message + graph) instead of 3 W */
    Onnx__ModelProto *mp;
    cnnrun_status *st = cr_onnx_unpack(data, size, &mp);
    free(data);
    if (!st) st = model_from_proto(mp, dirname(path_copy), out);
    free(path_copy);
    return cr_error_prefix(st, "model '%s'", path);
}

cnnrun_status *cnnrun_model_load_from_memory(const void *data, size_t size,
                                             const char *external_data_dir, cnnrun_model **out)
{
    if (!out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_load_from_memory: out is NULL");
    *out = NULL;
    if (!data && size)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_load_from_memory: data is NULL");
    Onnx__ModelProto *mp;
    CR_TRY(cr_onnx_unpack(data, size, &mp));
    return model_from_proto(mp, external_data_dir, out);
}

void cnnrun_model_free(cnnrun_model *model)
{
    if (!model) return;
    cr_graph_free(model->graph);
    free(model->ops);
    free(model->use_start);
    free(model->uses);
    free(model->is_output);
    free(model);
}

size_t cnnrun_model_input_count(const cnnrun_model *model)
{
    return model ? (size_t)model->graph->n_inputs : 0;
}

size_t cnnrun_model_output_count(const cnnrun_model *model)
{
    return model ? (size_t)model->graph->n_outputs : 0;
}

static void fill_info(const cr_value *v, cnnrun_value_info *out)
{
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->decl_dtype;
    out->rank = v->decl_rank;
    if (v->decl_rank < 0 && v->constant) { /* an output that is a constant: its shape is known */
        out->dtype = v->constant->dtype;
        out->rank = v->constant->rank;
        memcpy(out->shape, v->constant->dims, sizeof out->shape);
        return;
    }
    for (int d = 0; d < v->decl_rank; d++) {
        out->shape[d] = v->decl_dims[d];
        out->dim_names[d] = v->decl_dim_names[d];
    }
}

cnnrun_status *cnnrun_model_input_info(const cnnrun_model *model, size_t index,
                                       cnnrun_value_info *out)
{
    if (!model || !out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_input_info: NULL argument");
    if (index >= (size_t)model->graph->n_inputs)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "input index %zu is out of range (the model has %d inputs)",
                        index, model->graph->n_inputs);
    fill_info(&model->graph->values[model->graph->inputs[index]], out);
    return NULL;
}

cnnrun_status *cnnrun_model_output_info(const cnnrun_model *model, size_t index,
                                        cnnrun_value_info *out)
{
    if (!model || !out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_model_output_info: NULL argument");
    if (index >= (size_t)model->graph->n_outputs)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "output index %zu is out of range (the model has %d outputs)",
                        index, model->graph->n_outputs);
    fill_info(&model->graph->values[model->graph->outputs[index]], out);
    return NULL;
}

size_t cnnrun_supported_op_count(void)
{
    return cr_op_count();
}

int cnnrun_supported_op(size_t index, cnnrun_op_info *out)
{
    const cr_op *op = cr_op_at(index);
    if (!op || !out) return -1;
    *out = (cnnrun_op_info){.op_type = op->op_type, .domain = op->domain,
                            .opset_min = op->opset_min,
                            .opset_max = op->opset_max < CR_OPSET_MAX ? op->opset_max : CR_OPSET_MAX};
    return 0;
}

const char *cnnrun_version(void)
{
    return CNNRUN_VERSION_STRING;
}

const char *cnnrun_backend_version(void)
{
    static char buf[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}
