/* Sessions: plan cache, memory, and the run loop. */
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

cnnrun_status *cnnrun_session_create(const cnnrun_model *model,
                                     const cnnrun_session_options *options, cnnrun_session **out)
{
    if (!out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_session_create: out is NULL");
    *out = NULL;
    if (!model) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_session_create: model is NULL");
    int threads = options ? options->threads : 0;
    if (threads < 0 || threads > 1024)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "threads must be between 0 (one per core) and 1024, found %d",
                        threads);
    cnnrun_session *s = calloc(1, sizeof *s);
    if (!s) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = model;
    s->value_keyed = calloc((size_t)model->graph->n_inputs + 1, sizeof *s->value_keyed);
    cnnrun_precision precision = options ? options->precision : CNNRUN_PRECISION_FLOAT32;
    cnnrun_status *st = s->value_keyed ? cr_exec_env_create(threads, &s->env)
                                       : cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    if (!st && precision != CNNRUN_PRECISION_FLOAT32) {
        st = precision == CNNRUN_PRECISION_BFLOAT16
                 ? cr_exec_env_use_bf16(&s->env)
                 : cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "precision %d is not one of CNNRUN_PRECISION_FLOAT32 "
                            "(0) and CNNRUN_PRECISION_BFLOAT16 (1)", (int)precision);
        if (st) cr_exec_env_destroy(&s->env);
    }
    if (st) {
        free(s->value_keyed);
        free(s);
        return st;
    }
    if (options && options->max_memory) s->env.max_memory = options->max_memory;
    if (options && options->conv_algorithm != CNNRUN_CONV_DIRECT) {
        if (options->conv_algorithm != CNNRUN_CONV_WINOGRAD) {
            cnnrun_session_free(s);
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "conv_algorithm %d is not one of CNNRUN_CONV_DIRECT (0) "
                            "and CNNRUN_CONV_WINOGRAD (1)", (int)options->conv_algorithm);
        }
        s->env.winograd = true;
    }
    /* With every input shape fixed there is one plan: make it now, so that unsupported ops or
     * attributes are reported at creation and the first run is not slower than the others. */
    const cr_graph *g = model->graph;
    bool all_fixed = true;
    cr_tensor *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    if (!shapes) st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    for (int i = 0; !st && i < g->n_inputs && all_fixed; i++) {
        const cr_value *v = &g->values[g->inputs[i]];
        if (!v->decl_dtype || v->decl_rank < 0) all_fixed = false;
        shapes[i].dtype = v->decl_dtype;
        shapes[i].rank = v->decl_rank;
        for (int d = 0; d < v->decl_rank; d++) {
            if (v->decl_dims[d] < 0) all_fixed = false;
            shapes[i].dims[d] = v->decl_dims[d];
        }
    }
    cr_plan *plan;
    if (!st && all_fixed) {
        st = cr_session_plan(s, shapes, &plan);
        /* Inputs whose values shape the graph cannot be planned before their values arrive. */
        bool keyed = false;
        for (int i = 0; i < g->n_inputs; i++) keyed |= s->value_keyed[i];
        if (st && keyed) {
            cnnrun_status_free(st);
            st = NULL;
        }
    }
    free(shapes);
    if (st) {
        cnnrun_session_free(s);
        return st;
    }
    *out = s;
    return NULL;
}

void cnnrun_session_free(cnnrun_session *session)
{
    if (!session) return;
    for (int i = 0; i < session->n_plans; i++) cr_plan_free(session->plans[i]);
    cr_aligned_free(session->arena);
    cr_aligned_free(session->scratch);
    cr_exec_env_destroy(&session->env);
    free(session->value_keyed);
    free(session);
}

static bool same_signature(const cr_plan *p, const cr_tensor *inputs)
{
    for (int i = 0; i < p->n_inputs; i++) {
        const cr_tensor *have = &p->input_shapes[i];
        if (have->dtype != inputs[i].dtype ||
            !cr_shape_equal(have->rank, have->dims, inputs[i].rank, inputs[i].dims))
            return false;
        if (have->data && (!inputs[i].data || memcmp(have->data, inputs[i].data, cr_tensor_bytes(have)) != 0))
            return false;
    }
    return true;
}

/* Grows a session-owned block to at least `need` bytes. Contents are not kept: the arena holds
 * nothing between runs but the previous run's outputs, which a new run replaces anyway. */
static cnnrun_status *ensure_block(void **block, size_t *have, size_t need, const char *what)
{
    if (need <= *have) return NULL;
    cr_aligned_free(*block);
    *block = cr_aligned_alloc(need);
    *have = *block ? need : 0;
    if (!*block)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate the %zu-byte %s", need, what);
    return NULL;
}

/* Inputs whose values may key a plan are shape-like: a target shape, scales, a region of
 * interest. An output shape that depends on a larger input's data (an image, a sequence) cannot
 * be planned ahead, and keying by it would make a plan per distinct input. */
#define CR_VALUE_KEY_MAX_ELEMENTS 64

/* Builds a plan, keying graph inputs by value as the planner discovers that their values shape
 * the graph (each round keys at least one more input, so this ends). */
static cnnrun_status *build_plan(cnnrun_session *s, const cr_tensor *inputs, cr_plan **plan)
{
    const cr_graph *g = s->model->graph;
    bool *needs = calloc((size_t)g->n_inputs + 1, sizeof *needs);
    if (!needs) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory planning");
    cnnrun_status *st;
    for (;;) {
        memset(needs, 0, ((size_t)g->n_inputs + 1) * sizeof *needs);
        st = cr_plan_build(s->model, inputs, s->value_keyed, &s->env, CR_PLAN_FULL, needs, plan);
        if (!st) break;
        bool more = false;
        for (int i = 0; i < g->n_inputs; i++)
            if (needs[i] && !s->value_keyed[i] && cr_tensor_count(&inputs[i]) <= CR_VALUE_KEY_MAX_ELEMENTS)
                s->value_keyed[i] = more = true;
        bool have_values = true;
        for (int i = 0; i < g->n_inputs; i++)
            if (s->value_keyed[i] && !inputs[i].data) have_values = false;
        if (!more || !have_values) break;
        cnnrun_status_free(st);
    }
    free(needs);
    return st;
}

cnnrun_status *cr_session_plan(cnnrun_session *s, const cr_tensor *inputs, cr_plan **out)
{
    int hit = -1;
    for (int i = 0; i < s->n_plans && hit < 0; i++)
        if (same_signature(s->plans[i], inputs)) hit = i;
    cr_plan *plan;
    if (hit >= 0) {
        plan = s->plans[hit];
        memmove(&s->plans[1], &s->plans[0], (size_t)hit * sizeof *s->plans);
    } else {
        cr_exec_env_enter(&s->env);
        CR_TRY(build_plan(s, inputs, &plan));
        cnnrun_status *st = ensure_block(&s->arena, &s->arena_bytes, plan->arena_bytes, "activation arena");
        if (!st) st = ensure_block(&s->scratch, &s->scratch_bytes, plan->scratch_bytes, "kernel scratch space");
        if (st) {
            cr_plan_free(plan);
            return st;
        }
        if (s->n_plans == CR_PLAN_CACHE_SIZE) cr_plan_free(s->plans[--s->n_plans]);
        memmove(&s->plans[1], &s->plans[0], (size_t)s->n_plans * sizeof *s->plans);
        s->n_plans++;
    }
    s->plans[0] = plan;
    *out = plan;
    return NULL;
}

/* Points every value of the plan at its bytes for this run. */
static void bind_memory(cr_plan *p, char *arena, const cnnrun_tensor *const *inputs)
{
    for (int v = 0; v < p->n_values; v++) {
        if (p->storage[v] == CR_STORE_ARENA) p->tensors[v].data = arena + p->offset[v];
        else if (p->storage[v] == CR_STORE_INPUT) p->tensors[v].data = inputs[p->input_index[v]]->data;
    }
    for (int v = 0; v < p->n_values; v++)
        if (p->storage[v] == CR_STORE_ALIAS) p->tensors[v].data = p->tensors[p->root[v]].data;
}

/* The bytes where a graph output can be read after the run. */
static const void *output_bytes(const cr_plan *p, int v, const char *arena)
{
    for (int c = 0; c < p->n_copies; c++)
        if (p->copies[c].value == v) return arena + p->copies[c].offset;
    return p->tensors[v].data;
}

static cnnrun_status *deliver_outputs(cnnrun_session *s, const cr_plan *p, cnnrun_tensor *outputs,
                                      size_t n_outputs)
{
    const cr_graph *g = s->model->graph;
    for (size_t k = 0; k < n_outputs; k++) {
        int slot = -1;
        if (outputs[k].name) {
            for (int i = 0; i < g->n_outputs; i++)
                if (strcmp(g->values[g->outputs[i]].name, outputs[k].name) == 0) slot = i;
            if (slot < 0)
                return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "the model has no output named '%s'",
                                outputs[k].name);
        } else if (k < (size_t)g->n_outputs) {
            slot = (int)k;
        } else {
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "%zu outputs were requested but the model has %d",
                            n_outputs, g->n_outputs);
        }
        int v = p->output_values[slot];
        const cr_tensor *t = &p->tensors[v];
        size_t bytes = cr_tensor_bytes(t);
        cnnrun_tensor *o = &outputs[k];
        o->dtype = t->dtype;
        o->rank = (size_t)t->rank;
        memset(o->shape, 0, sizeof o->shape);
        for (int d = 0; d < t->rank; d++) o->shape[d] = t->dims[d];
        const void *src = output_bytes(p, v, s->arena);
        if (o->data) {
            if (o->nbytes < bytes)
                return cr_error(CNNRUN_ERR_BUFFER_TOO_SMALL,
                                "output '%s' needs %zu bytes but its buffer holds %zu",
                                g->values[g->outputs[slot]].name, bytes, o->nbytes);
            if (bytes) memcpy(o->data, src, bytes);
        } else {
            o->data = (void *)src;
        }
        o->nbytes = bytes;
    }
    return NULL;
}

cnnrun_status *cr_session_begin_run(cnnrun_session *session, const cnnrun_tensor *inputs,
                                    size_t n_inputs, cr_plan **out)
{
    const cr_graph *g = session->model->graph;
    const cnnrun_tensor *ordered[64];
    const cnnrun_tensor **ord = g->n_inputs <= 64 ? ordered : malloc((size_t)g->n_inputs * sizeof *ord);
    cr_tensor *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    cnnrun_status *st = NULL;
    *out = NULL;
    if (!ord || !shapes) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory binding inputs");
        goto done;
    }
    st = cr_match_inputs(session->model, inputs, n_inputs, ord);
    for (int i = 0; !st && i < g->n_inputs; i++) {
        const cnnrun_tensor *t = ord[i];
        size_t need;
        shapes[i].dtype = t->dtype;
        shapes[i].rank = (int)t->rank;
        memcpy(shapes[i].dims, t->shape, sizeof shapes[i].dims);
        shapes[i].data = t->data; /* read only for inputs whose values shape the graph */
        if (!cr_shape_bytes(t->dtype, (int)t->rank, t->shape, &need))
            st = cr_error(CNNRUN_ERR_INPUT_MISMATCH, "input '%s' is larger than the supported limit",
                          g->values[g->inputs[i]].name);
        else if (need && !t->data)
            st = cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "input '%s' has no data", g->values[g->inputs[i]].name);
        else if (t->nbytes < need)
            st = cr_error(CNNRUN_ERR_INPUT_MISMATCH, "input '%s' of shape needs %zu bytes but nbytes is %zu",
                          g->values[g->inputs[i]].name, need, t->nbytes);
    }
    cr_plan *plan = NULL;
    if (!st) st = cr_session_plan(session, shapes, &plan);
    if (st) goto done;
    cr_exec_env_enter(&session->env);
    bind_memory(plan, session->arena, ord);
    *out = plan;
done:
    if (ord != ordered) free(ord);
    free(shapes);
    return st;
}

cnnrun_status *cr_session_run_step(cnnrun_session *session, cr_plan *plan, int index)
{
    cr_step *step = &plan->steps[index];
    if (!step->op->run) return NULL;
    step->ctx.scratch = session->scratch;
    cr_exec_env_set_threads(step->threads);
    return step->op->run(&step->ctx);
}

cnnrun_status *cr_session_end_run(cnnrun_session *session, cr_plan *plan, cnnrun_tensor *outputs,
                                  size_t n_outputs)
{
    cr_exec_env_enter(&session->env);
    for (int c = 0; c < plan->n_copies; c++) {
        const cr_tensor *t = &plan->tensors[plan->copies[c].value];
        memcpy((char *)session->arena + plan->copies[c].offset, t->data, cr_tensor_bytes(t));
    }
    return deliver_outputs(session, plan, outputs, n_outputs);
}

cnnrun_status *cnnrun_session_run(cnnrun_session *session, const cnnrun_tensor *inputs,
                                  size_t n_inputs, cnnrun_tensor *outputs, size_t n_outputs)
{
    if (!session) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_session_run: session is NULL");
    if (n_outputs && !outputs)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "outputs is NULL but n_outputs is %zu", n_outputs);
    cr_plan *plan;
    CR_TRY(cr_session_begin_run(session, inputs, n_inputs, &plan));
    for (int s = 0; s < plan->n_steps; s++) CR_TRY(cr_session_run_step(session, plan, s));
    return cr_session_end_run(session, plan, outputs, n_outputs);
}
