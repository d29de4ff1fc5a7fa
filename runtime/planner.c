/* Planning one input-shape signature: inference, folding, kernel preparation, memory layout. */
#include "planner.h"

#include "plan_build.h"

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
    for (int i = 0; i < p->n_reorders; i++) free(p->reorder_nodes[i].name);
    free(p->folded);
    free(p->input_shapes);
    free(p->tensors);
    free(p->layouts);
    free(p->in_ptrs);
    free(p->wants);
    free(p->out_ptrs);
    free(p->reorder_ptrs);
    free(p->reorder_nodes);
    free(p->output_values);
    free(p->fused_into);
    free(p->qdq_deferred);
    free(p->qdq_planned);
    free(p->qdq_in);
    free(p->qdq_wants);
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
static cnnrun_status *check_inferred(const cr_node *n, const cr_op_ctx *ctx, const cr_graph *g,
                                     const cr_exec_env *env)
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
        CR_TRY(cr_budget_check_output(env, n, g->values[n->outputs[o]].name, t));
    }
    return NULL;
}

/* Runs a node at plan time because everything it reads is known: its outputs become constants
 * owned by the plan. Constants are row-major, so the op runs without layouts. */
static cnnrun_status *fold_node(cr_plan *p, int node, const cr_op *op, cr_op_ctx *ctx)
{
    const cr_node *n = ctx->node;
    ctx->layouts_allowed = false;
    for (int o = 0; o < ctx->n_out; o++) {
        if (!ctx->out[o]) continue;
        cnnrun_status *st = NULL;
        size_t bytes = cr_tensor_bytes(ctx->out[o]);
        CR_TRY(cr_budget_check_fold(p, ctx->env, n, bytes));
        cr_tensor *t = cr_tensor_new(ctx->out[o]->dtype, ctx->out[o]->rank, ctx->out[o]->dims, &st);
        if (!t) return cr_error_prefix(st, "node '%s' (%s)", n->name, n->op_type);
        p->folded[p->n_folded++] = t;
        p->folded_bytes += bytes;
        ctx->out[o]->data = t->data;
        p->storage[n->outputs[o]] = CR_STORE_CONST;
    }
    if (((op->flags & CR_OP_VIEW) || ctx->identity) && ctx->out[0]) {
        size_t bytes = cr_tensor_bytes(ctx->out[0]);
        if (!ctx->in[0] || bytes != cr_tensor_bytes(ctx->in[0]))
            return cr_error(CNNRUN_ERR_INTERNAL, "node '%s' (%s): a view must keep its input's size",
                            n->name, n->op_type);
        if (bytes) memcpy(ctx->out[0]->data, ctx->in[0]->data, bytes);
    }
    if (ctx->identity) { /* nothing else to compute */
        p->node_folded[node] = true;
        return NULL;
    }
    cnnrun_status *st = op->prepare ? op->prepare(ctx) : NULL;
    void *scratch = NULL;
    if (!st && ctx->scratch_bytes) st = cr_budget_check_fold(p, ctx->env, n, ctx->scratch_bytes);
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

/* Marks in needs[] the graph inputs whose values flow into value v (through nodes planned to run,
 * not through shape-only ops, whose outputs do not depend on values). */
static bool trace_value_sources(const cr_plan *p, const cnnrun_model *model, int v, bool *visited,
                                bool *needs)
{
    if (v < 0 || v >= p->n_graph_values || visited[v]) return false;
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

/* ---------------------------------------------------------------------------------------------
 * Layout reorders
 * ------------------------------------------------------------------------------------------- */

/* Value v laid out as `want` (NULL or plain: row-major): v itself if it already is, an earlier
 * reorder's result if one was made, or a new reorder step appended to the plan (so it runs
 * before the step being planned). */
static cnnrun_status *value_in_layout(cr_plan *p, const cr_graph *g, const cr_exec_env *env, int v,
                                      const cr_layout *want, int *out)
{
    if (cr_layout_same(&p->tensors[v], want)) {
        *out = v;
        return NULL;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const cr_step *step = &p->steps[s];
        if (step->node >= 0 || cr_plan_value_of(p, step->ctx.in[0]) != v) continue;
        const cr_tensor *y = step->ctx.out[0];
        if (cr_layout_same(y, want)) {
            *out = cr_plan_value_of(p, y);
            return NULL;
        }
    }
    if (p->n_values >= p->value_capacity)
        return cr_error(CNNRUN_ERR_INTERNAL, "too many layout reorders while planning");
    int u = p->n_values++, r = p->n_reorders++;
    p->tensors[u] = p->tensors[v];
    p->tensors[u].data = NULL;
    p->layouts[u] = want ? *want : (cr_layout){.plain = true};
    p->tensors[u].layout = &p->layouts[u];
    p->storage[u] = CR_STORE_ARENA;
    p->root[u] = u;
    char where[32];
    cr_layout_describe(&p->tensors[u], where, sizeof where);
    const char *name = v < g->n_values ? g->values[v].name : "(copy)";
    size_t len = strlen(name) + sizeof where + 8;
    cr_node *node = &p->reorder_nodes[r];
    node->name = malloc(len);
    if (!node->name) return oom("reorder");
    snprintf(node->name, len, "%s as %s", name, where);
    node->op_type = (char *)cr_layout_reorder_op.op_type;
    node->domain = (char *)cr_layout_reorder_op.domain;
    cr_op_ctx ctx = {.node = node, .opset = 1, .n_in = 1, .n_out = 1, .in = &p->reorder_ptrs[2 * r],
                     .out = &p->reorder_ptrs[2 * r + 1], .env = env, .layouts_allowed = true};
    ctx.in[0] = &p->tensors[v];
    ctx.out[0] = &p->tensors[u];
    CR_TRY(cr_layout_reorder_op.prepare(&ctx));
    if (ctx.scratch_bytes > p->scratch_bytes) p->scratch_bytes = ctx.scratch_bytes;
    p->steps[p->n_steps++] = (cr_step){.node = -1, .threads = env->threads, .op = &cr_layout_reorder_op, .ctx = ctx};
    *out = u;
    return NULL;
}

/* Points input k of ctx at a copy of its value laid out as want. */
static cnnrun_status *reorder_input(cr_plan *p, const cr_graph *g, const cr_exec_env *env,
                                    cr_op_ctx *ctx, int k, const cr_layout *want)
{
    int u;
    CR_TRY(value_in_layout(p, g, env, cr_plan_value_of(p, ctx->in[k]), want, &u));
    ctx->in[k] = &p->tensors[u];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * One node
 * ------------------------------------------------------------------------------------------- */

/* Value v is the bytes of tensor src (a view), in src's layout. */
static void make_view(cr_plan *p, int v, const cr_tensor *src)
{
    p->storage[v] = CR_STORE_ALIAS;
    p->root[v] = cr_plan_root(p, cr_plan_value_of(p, src));
    p->tensors[v].layout = src->layout;
}

/* Storage of a planned node's outputs. Output 0 of a view aliases its input's bytes; a view that
 * keeps the shape (Identity, Dropout) keeps the input's layout too, any other view reads them as
 * row-major. Every other output gets arena bytes and a plan-owned layout, plain until a
 * layout-aware prepare says otherwise. */
static void assign_storage(cr_plan *p, const cr_node *n, const cr_op *op, cr_op_ctx *ctx)
{
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v < 0) continue;
        if (k == 0 && (op->flags & CR_OP_VIEW) && ctx->in[0]) {
            make_view(p, v, ctx->in[0]);
        } else {
            p->storage[v] = CR_STORE_ARENA;
            p->layouts[v] = (cr_layout){.plain = true};
            p->tensors[v].layout = &p->layouts[v];
        }
    }
}

/* Inputs of an op that reads row-major data only (and of a view that changes the shape): copies
 * of the values that arrive in another layout. */
static cnnrun_status *plain_inputs(cr_plan *p, const cr_graph *g, const cr_exec_env *env,
                                   const cr_op *op, cr_op_ctx *ctx)
{
    if (op->flags & CR_OP_LAYOUT_AWARE) return NULL;
    for (int k = 0; k < ctx->n_in; k++) {
        if (!ctx->in[k] || cr_layout_is_plain(ctx->in[k])) continue;
        bool keeps_shape = k == 0 && (op->flags & CR_OP_VIEW) && ctx->out[0] &&
                           cr_shape_equal(ctx->in[0]->rank, ctx->in[0]->dims, ctx->out[0]->rank,
                                          ctx->out[0]->dims);
        if (!keeps_shape) CR_TRY(reorder_input(p, g, env, ctx, k, NULL));
    }
    return NULL;
}

/* Prepares the op with the post-ops of fusion f (if any); when the op cannot take them, prepares
 * it alone (f->n_nodes is then 0). */
static cnnrun_status *prepare_with_fusion(cr_plan *p, const cr_op *op, cr_op_ctx *ctx, cr_fusion *f)
{
    if (f->n_nodes > 0) {
        ctx->n_post = f->n_post;
        memcpy(ctx->post, f->post, sizeof f->post);
        ctx->sum_in = f->sum_value >= 0 ? &p->tensors[f->sum_value] : NULL;
        cnnrun_status *st = op->prepare(ctx);
        if (!st) return NULL;
        /* oneDNN has no kernel for this combination: run the nodes one by one */
        cnnrun_status_free(st);
        if (op->destroy && ctx->state) op->destroy(ctx->state);
        ctx->state = NULL;
        ctx->n_post = 0;
        ctx->sum_in = NULL;
        for (int k = 0; k < ctx->n_in; k++) ctx->want[k].set = false;
        ctx->scratch_bytes = 0;
        for (int k = 0; k < ctx->n_out; k++)
            if (ctx->out[k] && ctx->out[k]->layout) ctx->out[k]->layout->plain = true;
        f->n_nodes = 0;
    }
    return op->prepare(ctx);
}

/* The fused nodes' outputs are the kernel's output 0 under other names; with a sum, those bytes
 * are the addend's. */
static void commit_fusion(cr_plan *p, const cnnrun_model *model, const cr_op_ctx *ctx, const cr_fusion *f,
                          int step)
{
    if (f->n_nodes == 0) return;
    int y = cr_plan_value_of(p, ctx->out[0]);
    if (f->sum_value >= 0) {
        p->storage[y] = CR_STORE_ALIAS;
        p->root[y] = cr_plan_root(p, f->sum_value);
    }
    for (int i = 0; i < f->n_nodes; i++) {
        const cr_node *n = &model->graph->nodes[f->nodes[i]];
        p->fused_into[f->nodes[i]] = step;
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            p->tensors[v] = *ctx->out[0];
            p->storage[v] = CR_STORE_ALIAS;
            p->root[v] = cr_plan_root(p, y);
        }
    }
}

static cnnrun_status *plan_node(cr_plan *p, const cnnrun_model *model, int ni, const cr_exec_env *env,
                                cr_plan_mode mode, cr_tensor **in_ptrs, cr_tensor **out_ptrs,
                                cr_layout_want *wants, bool *needs_values)
{
    const cr_graph *g = model->graph;
    const cr_node *n = &g->nodes[ni];
    const cr_op *op = model->ops[ni];
    cr_op_ctx ctx = {.node = n, .opset = g->opset, .n_in = n->n_inputs, .n_out = n->n_outputs,
                     .in = in_ptrs, .out = out_ptrs, .want = wants, .env = env};
    bool all_known = true;
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        ctx.in[k] = v >= 0 ? &p->tensors[v] : NULL;
        if (v >= 0 && p->storage[v] == CR_STORE_NONE)
            return cr_error(CNNRUN_ERR_INTERNAL, "node '%s' (%s) reads '%s' before it is computed",
                            n->name, n->op_type, g->values[v].name);
        if (v >= 0 && p->storage[v] != CR_STORE_CONST) all_known = false;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        ctx.out[k] = v >= 0 ? &p->tensors[v] : NULL;
        if (v >= 0) memset(&p->tensors[v], 0, sizeof p->tensors[v]);
    }
    cnnrun_status *st = op->infer(&ctx);
    if (!st) st = check_inferred(n, &ctx, g, env);
    if (st) {
        find_needed_inputs(p, model, n, ctx.missing_values, needs_values);
        return st;
    }
    if (!(op->flags & CR_OP_NO_FOLD) && (all_known || (op->flags & CR_OP_SHAPE_ONLY)))
        return fold_node(p, ni, op, &ctx);
    if (ctx.identity && ctx.in[0] && ctx.out[0]) {
        make_view(p, n->outputs[0], ctx.in[0]); /* in the input's layout, with no step */
        return NULL;
    }
    if (mode == CR_PLAN_SHAPES_ONLY) {
        assign_storage(p, n, op, &ctx);
        return NULL;
    }
    CR_TRY(plain_inputs(p, g, env, op, &ctx));
    assign_storage(p, n, op, &ctx);
    ctx.layouts_allowed = (op->flags & CR_OP_LAYOUT_AWARE) != 0;
    cr_fusion fusion = {.n_nodes = 0, .sum_value = -1};
    if (op->flags & (CR_OP_FUSES_ELTWISE | CR_OP_FUSES_SUM)) cr_plan_find_fusion(p, model, ni, &ctx, &fusion);
    int threads = op->threads ? op->threads(&ctx) : env->threads;
    if (threads < 1 || threads > env->threads) threads = env->threads;
    cr_exec_env_set_threads(threads);
    if (op->prepare) {
        st = prepare_with_fusion(p, op, &ctx, &fusion);
        cr_exec_env_set_threads(env->threads);
        if (st) {
            if (op->destroy && ctx.state) op->destroy(ctx.state);
            find_needed_inputs(p, model, n, ctx.missing_values, needs_values);
            return st;
        }
    }
    if (ctx.scratch_bytes > p->scratch_bytes) p->scratch_bytes = ctx.scratch_bytes;
    for (int k = 0; k < n->n_inputs; k++) {
        if (!ctx.want[k].set || !ctx.in[k]) continue;
        st = reorder_input(p, g, env, &ctx, k, &ctx.want[k].layout);
        if (st) {
            if (op->destroy && ctx.state) op->destroy(ctx.state);
            return cr_error_prefix(st, "node '%s' (%s)", n->name, n->op_type);
        }
    }
    commit_fusion(p, model, &ctx, &fusion, p->n_steps);
    p->steps[p->n_steps++] = (cr_step){.node = ni, .threads = threads, .op = op, .ctx = ctx};
    return NULL;
}

/* Plans the QDQ pattern mt (plan_qdq.c) as one int8 step reading x_q and writing the
 * QuantizeLinear's output; out_ptrs is the QuantizeLinear node's output slot. *fused stays
 * false, with nothing planned, when the planned values do not fit (x_q not 8-bit row-major, a
 * parameter that is not constant, a bias quantized with another scale) or the kernel refuses:
 * the nodes are then planned one by one as the graph says. */
static cnnrun_status *plan_qdq(cr_plan *p, const cnnrun_model *model, const cr_qdq_match *mt,
                               const cr_exec_env *env, cr_tensor **out_ptrs, bool *fused)
{
    *fused = false;
    const cr_graph *g = model->graph;
    const cr_node *n = &g->nodes[mt->node], *q = &g->nodes[mt->q];
    int xv = mt->inputs[0];
    if (p->storage[xv] == CR_STORE_NONE || p->storage[xv] == CR_STORE_CONST) return NULL;
    const cr_tensor *x = &p->tensors[xv];
    if ((x->dtype != CNNRUN_UINT8 && x->dtype != CNNRUN_INT8) || !cr_layout_is_plain(x)) return NULL;
    for (int k = 1; k < mt->n_inputs; k++)
        if (mt->inputs[k] >= 0 && p->storage[mt->inputs[k]] != CR_STORE_CONST) return NULL;
    if (!cr_plan_qdq_bias_scale_ok(p, mt)) return NULL;
    cr_tensor **in = &p->qdq_in[(size_t)mt->node * CR_QDQ_MAX_INPUTS];
    cr_layout_want *wants = &p->qdq_wants[(size_t)mt->node * CR_QDQ_MAX_INPUTS];
    for (int k = 0; k < mt->n_inputs; k++) in[k] = mt->inputs[k] >= 0 ? &p->tensors[mt->inputs[k]] : NULL;
    int yv = q->outputs[0];
    out_ptrs[0] = &p->tensors[yv];
    memset(&p->tensors[yv], 0, sizeof p->tensors[yv]);
    const cr_op *op = mt->op;
    cr_op_ctx ctx = {.node = n, .opset = mt->opset, .n_in = mt->n_inputs, .in = in, .n_out = 1,
                     .out = out_ptrs, .want = wants, .env = env};
    cnnrun_status *st = op->infer(&ctx);
    if (!st) st = check_inferred(q, &ctx, g, env);
    if (!st) {
        p->storage[yv] = CR_STORE_ARENA;
        p->layouts[yv] = (cr_layout){.plain = true};
        p->tensors[yv].layout = &p->layouts[yv];
        st = op->prepare ? op->prepare(&ctx) : NULL;
    }
    if (st) { /* planned unfused instead, where the same error (if any) is reported */
        cnnrun_status_free(st);
        if (op->destroy && ctx.state) op->destroy(ctx.state);
        p->storage[yv] = CR_STORE_NONE;
        return NULL;
    }
    if (ctx.scratch_bytes > p->scratch_bytes) p->scratch_bytes = ctx.scratch_bytes;
    int step = p->n_steps;
    p->fused_into[mt->q] = step;
    if (mt->relu >= 0) p->fused_into[mt->relu] = step;
    if (p->qdq_deferred[mt->dq_x] && !p->qdq_planned[mt->dq_x] && p->fused_into[mt->dq_x] < 0)
        p->fused_into[mt->dq_x] = step; /* shown with the first step that absorbs it */
    p->steps[p->n_steps++] = (cr_step){.node = mt->node, .threads = env->threads, .op = op, .ctx = ctx};
    *fused = true;
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The plan
 * ------------------------------------------------------------------------------------------- */

static cnnrun_status *bind_inputs(cr_plan *p, const cr_graph *g, const cr_tensor *inputs,
                                  const bool *value_keyed)
{
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
        p->input_shapes[i].layout = NULL;
        p->tensors[v] = p->input_shapes[i];
        p->storage[v] = CR_STORE_INPUT;
        p->input_index[v] = i;
        if (!value_keyed || !value_keyed[i]) continue;
        /* A value-keyed input: the plan keeps a copy of its values and treats it as a constant. */
        cnnrun_status *st = NULL;
        cr_tensor *copy = cr_tensor_new(inputs[i].dtype, inputs[i].rank, inputs[i].dims, &st);
        if (!copy) return st;
        p->folded[p->n_folded++] = copy;
        if (!inputs[i].data)
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                            "input '%s' determines shapes in the model, so its values are needed to plan",
                            g->values[v].name);
        memcpy(copy->data, inputs[i].data, cr_tensor_bytes(copy));
        p->input_shapes[i].data = copy->data;
        p->tensors[v].data = copy->data;
        p->storage[v] = CR_STORE_CONST;
    }
    return NULL;
}

/* Graph outputs are delivered row-major: a reorder for each one held in another layout. */
static cnnrun_status *plan_outputs(cr_plan *p, const cr_graph *g, const cr_exec_env *env, cr_plan_mode mode)
{
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (p->storage[v] == CR_STORE_NONE)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "graph output '%s' is never computed", g->values[v].name);
        p->output_values[i] = v;
        if (mode == CR_PLAN_FULL && !cr_layout_is_plain(&p->tensors[v]))
            CR_TRY(value_in_layout(p, g, env, v, NULL, &p->output_values[i]));
    }
    return NULL;
}

static void count_weights(cr_plan *p)
{
    bool *seen = calloc((size_t)p->n_values + 1, sizeof *seen);
    if (!seen) return;
    for (int s = 0; s < p->n_steps; s++) {
        const cr_op_ctx *ctx = &p->steps[s].ctx;
        for (int k = 0; k < ctx->n_in; k++) {
            if (!ctx->in[k]) continue;
            int v = cr_plan_value_of(p, ctx->in[k]);
            if (seen[v] || p->storage[v] != CR_STORE_CONST) continue;
            seen[v] = true;
            p->weight_bytes += cr_tensor_bytes(&p->tensors[v]);
        }
    }
    free(seen);
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
    /* At most one reorder per node input and per graph output. */
    int max_reorders = total_in + g->n_outputs;
    size_t nv = (size_t)g->n_values + (size_t)max_reorders + 1;
    p->n_values = p->n_graph_values = g->n_values;
    p->value_capacity = g->n_values + max_reorders; /* one reorder node and two pointers each */
    p->n_inputs = g->n_inputs;
    p->input_shapes = calloc((size_t)g->n_inputs + 1, sizeof *p->input_shapes);
    p->tensors = calloc(nv, sizeof *p->tensors);
    p->layouts = calloc(nv, sizeof *p->layouts);
    p->in_ptrs = calloc((size_t)total_in + 1, sizeof *p->in_ptrs);
    p->wants = calloc((size_t)total_in + 1, sizeof *p->wants);
    p->out_ptrs = calloc((size_t)total_out + 1, sizeof *p->out_ptrs);
    p->reorder_ptrs = calloc(2 * (size_t)max_reorders + 1, sizeof *p->reorder_ptrs);
    p->reorder_nodes = calloc((size_t)max_reorders + 1, sizeof *p->reorder_nodes);
    p->output_values = calloc((size_t)g->n_outputs + 1, sizeof *p->output_values);
    p->fused_into = malloc(((size_t)g->n_nodes + 1) * sizeof *p->fused_into);
    p->storage = calloc(nv, sizeof *p->storage);
    p->root = calloc(nv, sizeof *p->root);
    p->input_index = calloc(nv, sizeof *p->input_index);
    p->offset = calloc(nv, sizeof *p->offset);
    p->folded = calloc((size_t)total_out + (size_t)g->n_inputs + 1, sizeof *p->folded);
    p->node_folded = calloc((size_t)g->n_nodes + 1, sizeof *p->node_folded);
    p->steps = calloc((size_t)g->n_nodes + (size_t)max_reorders + 1, sizeof *p->steps);
    p->copies = calloc((size_t)g->n_outputs + 1, sizeof *p->copies);
    p->qdq_deferred = calloc((size_t)g->n_nodes + 1, sizeof *p->qdq_deferred);
    p->qdq_planned = calloc((size_t)g->n_nodes + 1, sizeof *p->qdq_planned);
    p->qdq_in = calloc((size_t)g->n_nodes * CR_QDQ_MAX_INPUTS + 1, sizeof *p->qdq_in);
    p->qdq_wants = calloc((size_t)g->n_nodes * CR_QDQ_MAX_INPUTS + 1, sizeof *p->qdq_wants);
    int *in_base = calloc((size_t)g->n_nodes + 1, sizeof *in_base);
    int *out_base = calloc((size_t)g->n_nodes + 1, sizeof *out_base);
    cnnrun_status *st = NULL;
    if (!p->input_shapes || !p->tensors || !p->layouts || !p->in_ptrs || !p->wants || !p->out_ptrs ||
        !p->reorder_ptrs || !p->reorder_nodes || !p->output_values || !p->fused_into || !p->storage ||
        !p->root || !p->input_index || !p->offset || !p->folded || !p->node_folded || !p->steps ||
        !p->copies || !p->qdq_deferred || !p->qdq_planned || !p->qdq_in || !p->qdq_wants || !in_base ||
        !out_base) {
        st = oom("plan tables");
        goto fail;
    }
    for (int i = 0; i < g->n_nodes; i++) p->fused_into[i] = -1;
    st = bind_inputs(p, g, inputs, value_keyed);
    if (st) goto fail;

    for (int ni = 0; ni < g->n_nodes; ni++) {
        in_base[ni + 1] = in_base[ni] + g->nodes[ni].n_inputs;
        out_base[ni + 1] = out_base[ni] + g->nodes[ni].n_outputs;
    }
    if (mode == CR_PLAN_FULL) cr_plan_defer_qdq_inputs(model, p->qdq_deferred);
    for (int ni = 0; ni < g->n_nodes && !st; ni++) {
        if (p->fused_into[ni] >= 0) continue; /* computed by an earlier step's kernel */
        if (p->qdq_deferred[ni]) continue;    /* planned with (or into) the convolution reading it */
        cr_qdq_match mt;
        if (mode == CR_PLAN_FULL && cr_plan_match_qdq(model, ni, &mt)) {
            bool fused;
            st = plan_qdq(p, model, &mt, env, &p->out_ptrs[out_base[mt.q]], &fused);
            if (st || fused) continue;
            int d = mt.dq_x;
            if (p->qdq_deferred[d] && !p->qdq_planned[d]) {
                p->qdq_planned[d] = true;
                p->fused_into[d] = -1;
                st = plan_node(p, model, d, env, mode, &p->in_ptrs[in_base[d]], &p->out_ptrs[out_base[d]],
                               &p->wants[in_base[d]], needs_values);
                if (st) continue;
            }
        }
        st = plan_node(p, model, ni, env, mode, &p->in_ptrs[in_base[ni]], &p->out_ptrs[out_base[ni]],
                       &p->wants[in_base[ni]], needs_values);
    }
    if (!st) st = plan_outputs(p, g, env, mode);
    if (!st && mode == CR_PLAN_FULL) st = cr_plan_memory(p, model);
    if (!st && mode == CR_PLAN_FULL) st = cr_budget_check_plan(p, model, env);
    if (st) goto fail;
    if (mode == CR_PLAN_FULL) count_weights(p);
    free(in_base);
    free(out_base);
    *out = p;
    return NULL;
fail:
    free(in_base);
    free(out_base);
    cr_plan_free(p);
    return st;
}
