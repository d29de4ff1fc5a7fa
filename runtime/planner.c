/* Planning one input-shape signature: inference, folding, kernel preparation, memory layout. */
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cnnrun_status *oom(const char *what)
{
    return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory while planning (%s)", what);
}

/* "float32 [batch, 1, 8, 8]" for what a value declares. */
static void describe_declared(const cr_value *v, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", v->decl_dtype ? cnnrun_dtype_name(v->decl_dtype) : "any dtype");
    if (v->decl_rank < 0 || used >= size) return;
    used += (size_t)snprintf(buf + used, size - used, " [");
    for (int d = 0; d < v->decl_rank && used < size; d++) {
        const char *sep = d ? ", " : "";
        if (v->decl_dims[d] >= 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", sep, (long long)v->decl_dims[d]);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%s", sep,
                                     v->decl_dim_names[d] ? v->decl_dim_names[d] : "?");
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

cnnrun_status *cr_match_inputs(const cnnrun_model *model, const cnnrun_tensor *inputs,
                               size_t n_inputs, const cnnrun_tensor **ordered)
{
    const cr_graph *g = model->graph;
    for (int i = 0; i < g->n_inputs; i++) ordered[i] = NULL;
    if (n_inputs > 0 && !inputs)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "inputs is NULL but n_inputs is %zu", n_inputs);
    for (size_t k = 0; k < n_inputs; k++) {
        int slot = -1;
        if (inputs[k].name) {
            for (int i = 0; i < g->n_inputs; i++)
                if (strcmp(g->values[g->inputs[i]].name, inputs[k].name) == 0) slot = i;
            if (slot < 0) {
                char names[512] = "";
                for (int i = 0; i < g->n_inputs; i++) {
                    strncat(names, i ? ", '" : "'", sizeof names - strlen(names) - 1);
                    strncat(names, g->values[g->inputs[i]].name, sizeof names - strlen(names) - 1);
                    strncat(names, "'", sizeof names - strlen(names) - 1);
                }
                return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                                "the model has no input named '%s'; its inputs are %s", inputs[k].name,
                                g->n_inputs ? names : "none");
            }
        } else {
            slot = (int)k;
            if (k >= (size_t)g->n_inputs)
                return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                                "%zu inputs were given but the model takes %d", n_inputs, g->n_inputs);
        }
        if (ordered[slot])
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "input '%s' is given twice",
                            g->values[g->inputs[slot]].name);
        ordered[slot] = &inputs[k];
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const cr_value *v = &g->values[g->inputs[i]];
        const cnnrun_tensor *t = ordered[i];
        if (!t)
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "input '%s' is missing (the model takes %d inputs)",
                            v->name, g->n_inputs);
        bool ok = t->rank <= CNNRUN_MAX_RANK && cnnrun_dtype_size(t->dtype) != 0 &&
                  (!v->decl_dtype || v->decl_dtype == t->dtype) &&
                  (v->decl_rank < 0 || (size_t)v->decl_rank == t->rank);
        for (size_t d = 0; ok && d < t->rank; d++) {
            if (t->shape[d] < 0) ok = false;
            if (v->decl_rank >= 0 && v->decl_dims[d] >= 0 && v->decl_dims[d] != t->shape[d]) ok = false;
        }
        if (!ok) {
            char want[256], got[192];
            describe_declared(v, want, sizeof want);
            snprintf(got, sizeof got, "%s ", cnnrun_dtype_name(t->dtype));
            if (t->rank <= CNNRUN_MAX_RANK)
                cr_shape_str((int)t->rank, t->shape, got + strlen(got), sizeof got - strlen(got));
            else
                snprintf(got + strlen(got), sizeof got - strlen(got), "of rank %zu", t->rank);
            return cr_error(CNNRUN_ERR_INPUT_MISMATCH, "input '%s': expected %s, found %s", v->name,
                            want, got);
        }
    }
    return NULL;
}

void cr_plan_free(cr_plan *p)
{
    if (!p) return;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].op->destroy && p->steps[s].ctx.state) p->steps[s].op->destroy(p->steps[s].ctx.state);
    for (int i = 0; i < p->n_folded; i++) cr_tensor_free(p->folded[i]);
    free(p->folded);
    free(p->input_shapes);
    free(p->tensors);
    free(p->in_ptrs);
    free(p->out_ptrs);
    free(p->storage);
    free(p->root);
    free(p->input_index);
    free(p->offset);
    free(p->node_folded);
    free(p->steps);
    free(p->copies);
    free(p->buffers);
    free(p);
}

/* Checks what infer produced: a known dtype, a valid rank, sizes within the limits. */
static cnnrun_status *check_inferred(const cr_node *n, const cr_op_ctx *ctx, const cr_graph *g)
{
    for (int o = 0; o < ctx->n_out; o++) {
        const cr_tensor *t = ctx->out[o];
        if (!t) continue;
        size_t bytes;
        char shape[192];
        if (cnnrun_dtype_size(t->dtype) == 0)
            return cr_error(CNNRUN_ERR_INTERNAL, "node '%s' (%s): shape inference left output '%s' without a dtype",
                            n->name, n->op_type, g->values[n->outputs[o]].name);
        if (t->rank < 0 || t->rank > CR_MAX_RANK || !cr_shape_bytes(t->dtype, t->rank, t->dims, &bytes))
            return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                            "node '%s' (%s): output '%s' would have shape %s, which is invalid or "
                            "larger than the %llu-byte limit",
                            n->name, n->op_type, g->values[n->outputs[o]].name,
                            cr_shape_str(t->rank > CR_MAX_RANK ? CR_MAX_RANK : t->rank, t->dims, shape, sizeof shape),
                            (unsigned long long)CR_MAX_TENSOR_BYTES);
    }
    return NULL;
}

/* Runs a node at plan time because everything it reads is known: its outputs become constants
 * owned by the plan. */
static cnnrun_status *fold_node(cr_plan *p, int node, const cr_op *op, cr_op_ctx *ctx)
{
    const cr_node *n = ctx->node;
    for (int o = 0; o < ctx->n_out; o++) {
        if (!ctx->out[o]) continue;
        cnnrun_status *st = NULL;
        cr_tensor *t = cr_tensor_new(ctx->out[o]->dtype, ctx->out[o]->rank, ctx->out[o]->dims, &st);
        if (!t) return cr_error_prefix(st, "node '%s' (%s)", n->name, n->op_type);
        p->folded[p->n_folded++] = t;
        ctx->out[o]->data = t->data;
        p->storage[n->outputs[o]] = CR_STORE_CONST;
    }
    if ((op->flags & CR_OP_VIEW) && ctx->out[0]) {
        size_t bytes = cr_tensor_bytes(ctx->out[0]);
        if (!ctx->in[0] || bytes != cr_tensor_bytes(ctx->in[0]))
            return cr_error(CNNRUN_ERR_INTERNAL, "node '%s' (%s): a view must keep its input's size",
                            n->name, n->op_type);
        if (bytes) memcpy(ctx->out[0]->data, ctx->in[0]->data, bytes);
    }
    cnnrun_status *st = op->prepare ? op->prepare(ctx) : NULL;
    void *scratch = NULL;
    if (!st && ctx->scratch_bytes) {
        scratch = cr_aligned_alloc(ctx->scratch_bytes);
        if (!scratch) st = oom("scratch for folding");
    }
    ctx->scratch = scratch;
    if (!st && op->run) st = op->run(ctx);
    cr_aligned_free(scratch);
    ctx->scratch = NULL;
    if (op->destroy && ctx->state) op->destroy(ctx->state);
    ctx->state = NULL;
    p->node_folded[node] = true;
    return st;
}

static cnnrun_status *plan_memory(cr_plan *p, const cr_graph *g)
{
    int *first = malloc((size_t)g->n_values * sizeof *first);
    int *last = malloc((size_t)g->n_values * sizeof *last);
    int *buffer_of = malloc((size_t)g->n_values * sizeof *buffer_of);
    cnnrun_status *st = NULL;
    if (!first || !last || !buffer_of) {
        st = oom("lifetimes");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) first[v] = last[v] = buffer_of[v] = -1;
    /* A value's bytes are live from the step that writes them to the last step that reads them
     * or any view of them; graph outputs stay live to the end of the run. */
    for (int s = 0; s < p->n_steps; s++) {
        const cr_node *n = &g->nodes[p->steps[s].node];
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            int r = p->storage[v] == CR_STORE_ALIAS ? p->root[v] : v;
            if (first[r] < 0) first[r] = s;
            if (last[r] < s) last[r] = s;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            int r = p->storage[v] == CR_STORE_ALIAS ? p->root[v] : v;
            if (last[r] < s) last[r] = s;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        int r = p->storage[v] == CR_STORE_ALIAS ? p->root[v] : v;
        last[r] = p->n_steps;
        if (p->storage[r] == CR_STORE_INPUT) {
            bool dup = false;
            for (int c = 0; c < p->n_copies; c++) dup |= p->copies[c].value == v;
            if (!dup) p->copies[p->n_copies++] = (cr_output_copy){.value = v};
        }
    }
    p->buffers = calloc((size_t)g->n_values + (size_t)p->n_copies + 1, sizeof *p->buffers);
    if (!p->buffers) {
        st = oom("buffers");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) {
        if (p->storage[v] != CR_STORE_ARENA) continue;
        cr_buffer_life *b = &p->buffers[p->n_buffers];
        b->bytes = cr_tensor_bytes(&p->tensors[v]);
        b->first = first[v] >= 0 ? first[v] : 0;
        b->last = last[v] >= b->first ? last[v] : b->first;
        buffer_of[v] = p->n_buffers++;
    }
    int copies_from = p->n_buffers;
    for (int c = 0; c < p->n_copies; c++) {
        cr_buffer_life *b = &p->buffers[p->n_buffers++];
        b->bytes = cr_tensor_bytes(&p->tensors[p->copies[c].value]);
        b->first = b->last = p->n_steps;
    }
    st = cr_arena_plan(p->buffers, p->n_buffers, &p->arena_bytes);
    if (st) goto done;
    char why[256];
    if (!cr_arena_plan_verify(p->buffers, p->n_buffers, p->arena_bytes, why, sizeof why)) {
        st = cr_error(CNNRUN_ERR_INTERNAL, "arena plan invariant violated: %s", why);
        goto done;
    }
    for (int v = 0; v < g->n_values; v++)
        if (buffer_of[v] >= 0) p->offset[v] = p->buffers[buffer_of[v]].offset;
    for (int c = 0; c < p->n_copies; c++) p->copies[c].offset = p->buffers[copies_from + c].offset;
done:
    free(first);
    free(last);
    free(buffer_of);
    return st;
}

/* Marks in needs[] the graph inputs whose values flow into value v (through nodes planned to run,
 * not through shape-only ops, whose outputs do not depend on values). */
static bool trace_value_sources(const cr_plan *p, const cnnrun_model *model, int v, bool *visited,
                                bool *needs)
{
    if (v < 0 || visited[v]) return false;
    visited[v] = true;
    if (p->storage[v] == CR_STORE_INPUT) {
        needs[p->input_index[v]] = true;
        return true;
    }
    const cr_graph *g = model->graph;
    int producer = g->values[v].producer;
    if (producer < 0 || p->storage[v] == CR_STORE_CONST) return false;
    if (model->ops[producer]->flags & CR_OP_SHAPE_ONLY) return false;
    bool found = false;
    for (int k = 0; k < g->nodes[producer].n_inputs; k++)
        found |= trace_value_sources(p, model, g->nodes[producer].inputs[k], visited, needs);
    return found;
}

/* After an op failed for want of input values: which graph inputs would have supplied them. */
static void find_needed_inputs(const cr_plan *p, const cnnrun_model *model, const cr_node *n,
                               uint32_t missing, bool *needs)
{
    if (!missing || !needs) return;
    bool *visited = calloc((size_t)model->graph->n_values + 1, sizeof *visited);
    if (!visited) return;
    for (int k = 0; k < n->n_inputs && k < 32; k++)
        if (missing & (1u << k)) trace_value_sources(p, model, n->inputs[k], visited, needs);
    free(visited);
}

cnnrun_status *cr_plan_build(const cnnrun_model *model, const cr_tensor *inputs,
                             const bool *value_keyed, const cr_exec_env *env, cr_plan_mode mode,
                             bool *needs_values, cr_plan **out)
{
    const cr_graph *g = model->graph;
    *out = NULL;
    cr_plan *p = calloc(1, sizeof *p);
    if (!p) return oom("plan");
    int total_in = 0, total_out = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        total_in += g->nodes[i].n_inputs;
        total_out += g->nodes[i].n_outputs;
    }
    size_t nv = (size_t)g->n_values + 1;
    p->n_values = g->n_values;
    p->n_inputs = g->n_inputs;
    p->input_shapes = calloc((size_t)g->n_inputs + 1, sizeof *p->input_shapes);
    p->tensors = calloc(nv, sizeof *p->tensors);
    p->in_ptrs = calloc((size_t)total_in + 1, sizeof *p->in_ptrs);
    p->out_ptrs = calloc((size_t)total_out + 1, sizeof *p->out_ptrs);
    p->storage = calloc(nv, sizeof *p->storage);
    p->root = calloc(nv, sizeof *p->root);
    p->input_index = calloc(nv, sizeof *p->input_index);
    p->offset = calloc(nv, sizeof *p->offset);
    p->folded = calloc((size_t)total_out + (size_t)g->n_inputs + 1, sizeof *p->folded);
    p->node_folded = calloc((size_t)g->n_nodes + 1, sizeof *p->node_folded);
    p->steps = calloc((size_t)g->n_nodes + 1, sizeof *p->steps);
    p->copies = calloc((size_t)g->n_outputs + 1, sizeof *p->copies);
    cnnrun_status *st = NULL;
    if (!p->input_shapes || !p->tensors || !p->in_ptrs || !p->out_ptrs || !p->storage || !p->root ||
        !p->input_index || !p->offset || !p->folded || !p->node_folded || !p->steps || !p->copies) {
        st = oom("plan tables");
        goto fail;
    }
    for (int v = 0; v < g->n_values; v++) {
        p->root[v] = v;
        if (g->values[v].constant) {
            p->tensors[v] = *g->values[v].constant;
            p->storage[v] = CR_STORE_CONST;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        p->input_shapes[i] = inputs[i];
        p->input_shapes[i].data = NULL;
        p->tensors[v] = p->input_shapes[i];
        p->storage[v] = CR_STORE_INPUT;
        p->input_index[v] = i;
        if (!value_keyed || !value_keyed[i]) continue;
        /* A value-keyed input: the plan keeps a copy of its values and treats it as a constant. */
        cr_tensor *copy = cr_tensor_new(inputs[i].dtype, inputs[i].rank, inputs[i].dims, &st);
        if (!copy) goto fail;
        p->folded[p->n_folded++] = copy;
        if (!inputs[i].data) {
            st = cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                          "input '%s' determines shapes in the model, so its values are needed to plan",
                          g->values[v].name);
            goto fail;
        }
        memcpy(copy->data, inputs[i].data, cr_tensor_bytes(copy));
        p->input_shapes[i].data = copy->data;
        p->tensors[v].data = copy->data;
        p->storage[v] = CR_STORE_CONST;
    }

    int in_cursor = 0, out_cursor = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const cr_node *n = &g->nodes[ni];
        const cr_op *op = model->ops[ni];
        cr_op_ctx ctx = {.node = n, .opset = g->opset, .n_in = n->n_inputs, .n_out = n->n_outputs,
                         .in = &p->in_ptrs[in_cursor], .out = &p->out_ptrs[out_cursor], .env = env};
        in_cursor += n->n_inputs;
        out_cursor += n->n_outputs;
        bool all_known = true;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            ctx.in[k] = v >= 0 ? &p->tensors[v] : NULL;
            if (v >= 0 && p->storage[v] == CR_STORE_NONE) {
                st = cr_error(CNNRUN_ERR_INTERNAL, "node '%s' (%s) reads '%s' before it is computed",
                              n->name, n->op_type, g->values[v].name);
                goto fail;
            }
            if (v >= 0 && p->storage[v] != CR_STORE_CONST) all_known = false;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            ctx.out[k] = v >= 0 ? &p->tensors[v] : NULL;
            if (v >= 0) memset(&p->tensors[v], 0, sizeof p->tensors[v]);
        }
        st = op->infer(&ctx);
        if (!st) st = check_inferred(n, &ctx, g);
        if (st) {
            find_needed_inputs(p, model, n, ctx.missing_values, needs_values);
            goto fail;
        }
        bool fold = !(op->flags & CR_OP_NO_FOLD) && (all_known || (op->flags & CR_OP_SHAPE_ONLY));
        if (fold) {
            st = fold_node(p, ni, op, &ctx);
            if (st) goto fail;
            continue;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            if (k == 0 && (op->flags & CR_OP_VIEW) && n->inputs[0] >= 0) {
                int src = n->inputs[0];
                p->storage[v] = CR_STORE_ALIAS;
                p->root[v] = p->storage[src] == CR_STORE_ALIAS ? p->root[src] : src;
            } else {
                p->storage[v] = CR_STORE_ARENA;
            }
        }
        if (mode == CR_PLAN_SHAPES_ONLY) continue;
        if (op->prepare) {
            st = op->prepare(&ctx);
            if (st) {
                if (op->destroy && ctx.state) op->destroy(ctx.state);
                find_needed_inputs(p, model, n, ctx.missing_values, needs_values);
                goto fail;
            }
        }
        if (ctx.scratch_bytes > p->scratch_bytes) p->scratch_bytes = ctx.scratch_bytes;
        p->steps[p->n_steps++] = (cr_step){.node = ni, .op = op, .ctx = ctx};
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (p->storage[g->outputs[i]] == CR_STORE_NONE) {
            st = cr_error(CNNRUN_ERR_INVALID_MODEL, "graph output '%s' is never computed",
                          g->values[g->outputs[i]].name);
            goto fail;
        }
    if (mode == CR_PLAN_FULL) {
        st = plan_memory(p, g);
        if (st) goto fail;
        /* Weights: the constants the steps read, each counted once. */
        bool *seen = calloc(nv, sizeof *seen);
        if (!seen) {
            st = oom("weights");
            goto fail;
        }
        for (int s = 0; s < p->n_steps; s++) {
            const cr_node *n = &g->nodes[p->steps[s].node];
            for (int k = 0; k < n->n_inputs; k++) {
                int v = n->inputs[k];
                if (v < 0 || seen[v] || p->storage[v] != CR_STORE_CONST) continue;
                seen[v] = true;
                p->weight_bytes += cr_tensor_bytes(&p->tensors[v]);
            }
        }
        free(seen);
    }
    *out = p;
    return NULL;
fail:
    cr_plan_free(p);
    return st;
}
