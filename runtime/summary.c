/* Summaries: the planned graph node by node, with free input dims followed symbolically.
 *
 * Symbolic dims are found by planning shapes twice with each free input dim bound to a different
 * prime (e.g. batch = 29, then 61): a dim that comes out as k·29 and then k·61 is k·batch; one that
 * stays put is fixed; anything else depends on the free dims in another way and is shown as "?".
 * This reuses the ordinary shape inference, so every operator supports it for free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

#define MAX_SYMBOLS 8
static const int64_t probe_a[MAX_SYMBOLS] = {29, 31, 37, 41, 43, 47, 53, 59};
static const int64_t probe_b[MAX_SYMBOLS] = {61, 67, 71, 73, 79, 83, 89, 97};

struct cnnrun_summary {
    size_t n_rows;
    cnnrun_summary_row *rows;
    size_t n_strings;
    char **strings; /* dim names made here ("2*batch"), owned */
    int64_t total_params;
    size_t weight_bytes;
    size_t arena_bytes;
    char binding[256]; /* "batch = 1, time = 29": the sizes the memory figures assume */
};

typedef struct symbols {
    int n;
    const char *names[MAX_SYMBOLS];
} symbols;

/* Index of a free dim's symbol, added on first sight; -1 past MAX_SYMBOLS. */
static int symbol_of(symbols *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (name && s->names[i] && strcmp(s->names[i], name) == 0) return i;
    if (s->n == MAX_SYMBOLS) return -1;
    s->names[s->n] = name;
    return s->n++;
}

/* Input shapes from the declarations, each free dim bound to values[its symbol]. */
static cnnrun_status *declared_shapes(const cr_graph *g, symbols *syms, const int64_t *values,
                                      cr_tensor *shapes)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const cr_value *v = &g->values[g->inputs[i]];
        if (!v->decl_dtype || v->decl_rank < 0)
            return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                            "input '%s' declares no %s: give input shapes to summarize", v->name,
                            v->decl_dtype ? "shape" : "dtype");
        shapes[i].dtype = v->decl_dtype;
        shapes[i].rank = v->decl_rank;
        for (int d = 0; d < v->decl_rank; d++) {
            if (v->decl_dims[d] >= 0) {
                shapes[i].dims[d] = v->decl_dims[d];
                continue;
            }
            int k = symbol_of(syms, v->decl_dim_names[d]);
            shapes[i].dims[d] = values && k >= 0 ? values[k] : 1;
        }
    }
    return NULL;
}

/* "batch = 1, time = 1" for the free dims bound to values[symbol] (NULL: all 1). */
static void describe_binding(const symbols *syms, const int64_t *values, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < syms->n && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s = %lld", k ? ", " : "",
                                 syms->names[k] ? syms->names[k] : "?",
                                 (long long)(values ? values[k] : 1));
}

static char *keep_string(cnnrun_summary *s, const char *text)
{
    char **grown = realloc(s->strings, (s->n_strings + 1) * sizeof *grown);
    if (!grown) return NULL;
    s->strings = grown;
    char *copy = strdup(text);
    if (copy) s->strings[s->n_strings++] = copy;
    return copy;
}

/* Names the dims of each row that follow a free dim, from the two probe plans. */
static cnnrun_status *name_symbolic_dims(cnnrun_summary *sum, const cr_graph *g, const symbols *syms,
                                         const cr_plan *pa, const cr_plan *pb)
{
    for (int ni = 0; ni < g->n_nodes; ni++) {
        cnnrun_summary_row *row = &sum->rows[ni];
        int v = g->nodes[ni].outputs[0];
        if (v < 0 || pa->tensors[v].rank != row->rank || pb->tensors[v].rank != row->rank) continue;
        for (int d = 0; d < row->rank; d++) {
            int64_t a = pa->tensors[v].dims[d], b = pb->tensors[v].dims[d];
            if (a == b) {
                row->shape[d] = a;
                continue;
            }
            const char *name = NULL;
            char text[96];
            for (int k = 0; k < syms->n && !name; k++) {
                if (a % probe_a[k] || b % probe_b[k] || a / probe_a[k] != b / probe_b[k]) continue;
                int64_t mult = a / probe_a[k];
                const char *base = syms->names[k] ? syms->names[k] : "?";
                if (mult == 1) snprintf(text, sizeof text, "%s", base);
                else snprintf(text, sizeof text, "%lld*%s", (long long)mult, base);
                name = keep_string(sum, text);
                if (!name) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory in summary");
            }
            row->shape[d] = -1;
            row->dim_names[d] = name ? name : "?";
        }
    }
    return NULL;
}

cnnrun_status *cnnrun_session_summary(cnnrun_session *session, const cnnrun_tensor *inputs,
                                      size_t n_inputs, cnnrun_summary **out)
{
    if (!session || !out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_session_summary: NULL argument");
    *out = NULL;
    const cr_graph *g = session->model->graph;
    cr_tensor *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    const cnnrun_tensor **ordered = calloc((size_t)g->n_inputs + 1, sizeof *ordered);
    cnnrun_summary *sum = calloc(1, sizeof *sum);
    cnnrun_status *st = NULL;
    symbols syms = {0};
    if (!shapes || !ordered || !sum) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory in summary");
        goto done;
    }
    if (inputs) {
        st = cr_match_inputs(session->model, inputs, n_inputs, ordered);
        for (int i = 0; !st && i < g->n_inputs; i++) {
            shapes[i].dtype = ordered[i]->dtype;
            shapes[i].rank = (int)ordered[i]->rank;
            shapes[i].data = ordered[i]->data;
            memcpy(shapes[i].dims, ordered[i]->shape, sizeof shapes[i].dims);
        }
    } else {
        st = declared_shapes(g, &syms, NULL, shapes);
    }
    cr_plan *plan = NULL;
    if (!st) st = cr_session_plan(session, shapes, &plan);
    if (st && !inputs && syms.n > 0) {
        /* Free dims bound to 1 may be too small for the model (a time axis that a pooling window
         * must fit): the memory figures then come from the first probe sizes. */
        symbols again = {0};
        cnnrun_status *retry = declared_shapes(g, &again, probe_a, shapes);
        if (!retry) retry = cr_session_plan(session, shapes, &plan);
        if (retry) cnnrun_status_free(retry);
        else {
            cnnrun_status_free(st);
            st = NULL;
            describe_binding(&syms, probe_a, sum->binding, sizeof sum->binding);
        }
    } else if (!st && !inputs && syms.n > 0) {
        describe_binding(&syms, NULL, sum->binding, sizeof sum->binding);
    }
    if (st) goto done;
    sum->rows = calloc((size_t)g->n_nodes + 1, sizeof *sum->rows);
    if (!sum->rows) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory in summary");
        goto done;
    }
    sum->n_rows = (size_t)g->n_nodes;
    sum->weight_bytes = plan->weight_bytes;
    sum->arena_bytes = plan->arena_bytes;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const cr_node *n = &g->nodes[ni];
        cnnrun_summary_row *row = &sum->rows[ni];
        row->node_name = n->name;
        row->op_type = n->op_type;
        row->folded = plan->node_folded[ni];
        if (n->n_outputs > 0 && n->outputs[0] >= 0) {
            const cr_tensor *t = &plan->tensors[n->outputs[0]];
            row->rank = t->rank;
            memcpy(row->shape, t->dims, sizeof row->shape);
        }
        /* Parameters are the floating-point initializers, as frameworks count them: integer
         * initializers are shapes, axes and indices, not learned weights. */
        for (int k = 0; k < n->n_inputs; k++) {
            const cr_value *v = n->inputs[k] >= 0 ? &g->values[n->inputs[k]] : NULL;
            if (v && v->is_weight && (v->constant->dtype == CNNRUN_FLOAT32 ||
                                      v->constant->dtype == CNNRUN_FLOAT64 ||
                                      v->constant->dtype == CNNRUN_FLOAT16 ||
                                      v->constant->dtype == CNNRUN_BFLOAT16))
                row->params += cr_tensor_count(v->constant);
        }
        sum->total_params += row->params;
    }
    if (!inputs && syms.n > 0) {
        /* Probe plans; if the model cannot take the probe sizes, dims simply stay numeric. */
        symbols again = {0};
        cr_plan *pa = NULL, *pb = NULL;
        cnnrun_status *sa = declared_shapes(g, &again, probe_a, shapes);
        if (!sa) sa = cr_plan_build(session->model, shapes, NULL, &session->env, CR_PLAN_SHAPES_ONLY, NULL, &pa);
        if (!sa) sa = declared_shapes(g, &again, probe_b, shapes);
        if (!sa) sa = cr_plan_build(session->model, shapes, NULL, &session->env, CR_PLAN_SHAPES_ONLY, NULL, &pb);
        if (!sa) st = name_symbolic_dims(sum, g, &syms, pa, pb);
        cnnrun_status_free(sa);
        cr_plan_free(pa);
        cr_plan_free(pb);
    }
done:
    free(shapes);
    free(ordered);
    if (st) cnnrun_summary_free(sum);
    else *out = sum;
    return st;
}

size_t cnnrun_summary_row_count(const cnnrun_summary *summary)
{
    return summary ? summary->n_rows : 0;
}

const cnnrun_summary_row *cnnrun_summary_row_at(const cnnrun_summary *summary, size_t index)
{
    return summary && index < summary->n_rows ? &summary->rows[index] : NULL;
}

int64_t cnnrun_summary_total_params(const cnnrun_summary *summary)
{
    return summary ? summary->total_params : 0;
}

size_t cnnrun_summary_weight_bytes(const cnnrun_summary *summary)
{
    return summary ? summary->weight_bytes : 0;
}

size_t cnnrun_summary_arena_bytes(const cnnrun_summary *summary)
{
    return summary ? summary->arena_bytes : 0;
}

const char *cnnrun_summary_free_dims(const cnnrun_summary *summary)
{
    return summary && summary->binding[0] ? summary->binding : NULL;
}

void cnnrun_summary_free(cnnrun_summary *summary)
{
    if (!summary) return;
    for (size_t i = 0; i < summary->n_strings; i++) free(summary->strings[i]);
    free(summary->strings);
    free(summary->rows);
    free(summary);
}
