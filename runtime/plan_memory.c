/* The arena of a plan: each buffer the steps write lives from its first writer to its last
 * reader; buffers whose lifetimes do not intersect may share bytes. */
#include <stdlib.h>
#include <string.h>

#include "plan_build.h"

static void note_use(const cr_plan *p, const cr_tensor *t, int step, int *first, int *last, bool write)
{
    if (!t) return;
    int r = cr_plan_root(p, cr_plan_value_of(p, t));
    if (write && first[r] < 0) first[r] = step;
    if (last[r] < step) last[r] = step;
}

/* A graph output whose bytes would be the caller's input buffer gets a copy at the end. */
static void plan_output_copies(cr_plan *p, const cr_graph *g)
{
    for (int i = 0; i < g->n_outputs; i++) {
        int v = p->output_values[i];
        if (p->storage[cr_plan_root(p, v)] != CR_STORE_INPUT) continue;
        bool dup = false;
        for (int c = 0; c < p->n_copies; c++) dup |= p->copies[c].value == v;
        if (!dup) p->copies[p->n_copies++] = (cr_output_copy){.value = v};
    }
}

cnnrun_status *cr_plan_memory(cr_plan *p, const cnnrun_model *model)
{
    const cr_graph *g = model->graph;
    int nv = p->n_values;
    int *first = malloc(((size_t)nv + 1) * sizeof *first);
    int *last = malloc(((size_t)nv + 1) * sizeof *last);
    int *buffer_of = malloc(((size_t)nv + 1) * sizeof *buffer_of);
    cnnrun_status *st = NULL;
    if (!first || !last || !buffer_of) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory while planning (lifetimes)");
        goto done;
    }
    for (int v = 0; v < nv; v++) first[v] = last[v] = buffer_of[v] = -1;
    /* A value's bytes are live from the step that writes them to the last step that reads them
     * or any view of them; graph outputs stay live to the end of the run. */
    for (int s = 0; s < p->n_steps; s++) {
        const cr_op_ctx *ctx = &p->steps[s].ctx;
        for (int k = 0; k < ctx->n_out; k++) note_use(p, ctx->out[k], s, first, last, true);
        for (int k = 0; k < ctx->n_in; k++) note_use(p, ctx->in[k], s, first, last, false);
        note_use(p, ctx->sum_in, s, first, last, false);
    }
    for (int i = 0; i < g->n_outputs; i++) last[cr_plan_root(p, p->output_values[i])] = p->n_steps;
    plan_output_copies(p, g);

    p->buffers = calloc((size_t)nv + (size_t)p->n_copies + 1, sizeof *p->buffers);
    if (!p->buffers) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory while planning (buffers)");
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        if (p->storage[v] != CR_STORE_ARENA) continue;
        cr_buffer_life *b = &p->buffers[p->n_buffers];
        b->bytes = cr_layout_bytes(&p->tensors[v]);
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
    for (int v = 0; v < nv; v++)
        if (buffer_of[v] >= 0) p->offset[v] = p->buffers[buffer_of[v]].offset;
    for (int c = 0; c < p->n_copies; c++) p->copies[c].offset = p->buffers[copies_from + c].offset;
done:
    free(first);
    free(last);
    free(buffer_of);
    return st;
}
