/* Topological ordering of the graph's nodes (Kahn's algorithm, stable: among ready nodes the
 * file's order is kept, so execution follows the exporter's order where it can). */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

cnnrun_status *cr_graph_topo_sort(cr_graph *g)
{
    int n = g->n_nodes;
    if (n == 0) return NULL;
    int *pending = calloc((size_t)n, sizeof *pending);  /* unresolved inputs per node */
    int *order = malloc((size_t)n * sizeof *order);
    int *consumers_count = calloc((size_t)g->n_values, sizeof *consumers_count);
    cr_node *sorted = malloc((size_t)n * sizeof *sorted);
    cnnrun_status *st = NULL;
    if (!pending || !order || !consumers_count || !sorted) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory sorting %d nodes", n);
        goto done;
    }
    /* Producer of each value, checking that no value has two. */
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++) {
            int v = g->nodes[i].outputs[o];
            if (v < 0) continue;
            if (g->values[v].producer >= 0 || g->values[v].constant) {
                st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                              "value '%s' is produced twice (by node '%s'%s%s)", g->values[v].name,
                              g->nodes[i].name, g->values[v].producer >= 0 ? " and node '" : "",
                              g->values[v].producer >= 0 ? g->nodes[g->values[v].producer].name : "");
                goto done;
            }
            g->values[v].producer = i;
        }
    bool *is_input = calloc((size_t)g->n_values, sizeof *is_input);
    if (!is_input) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory sorting %d nodes", n);
        goto done;
    }
    for (int i = 0; i < g->n_inputs; i++) is_input[g->inputs[i]] = true;
    for (int i = 0; i < n && !st; i++) {
        const cr_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs && !st; k++) { /* the first error is the one reported */
            int v = nd->inputs[k];
            if (v < 0) continue;
            const cr_value *val = &g->values[v];
            if (val->producer >= 0) pending[i]++;
            else if (!val->constant && !is_input[v])
                st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                              "node '%s' (%s) reads '%s', which is neither a graph input, an "
                              "initializer nor the output of any node",
                              nd->name, nd->op_type, val->name);
        }
    }
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const cr_value *val = &g->values[g->outputs[i]];
        if (val->producer < 0 && !val->constant && !is_input[g->outputs[i]])
            st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                          "graph output '%s' is not produced by any node", val->name);
    }
    free(is_input);
    if (st) goto done;

    /* Consumers of each value as a compact adjacency list (CSR), so that releasing a value
     * costs its fan-out rather than a scan of the graph. */
    int *first_consumer = calloc((size_t)g->n_values + 1, sizeof *first_consumer);
    int total_edges = 0;
    for (int i = 0; i < n; i++) total_edges += g->nodes[i].n_inputs;
    int *consumer = malloc(((size_t)total_edges + 1) * sizeof *consumer);
    bool *emitted = calloc((size_t)n, sizeof *emitted);
    if (!first_consumer || !consumer || !emitted) {
        free(first_consumer);
        free(consumer);
        free(emitted);
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory sorting %d nodes", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) consumers_count[g->nodes[i].inputs[k]]++;
    for (int v = 0; v < g->n_values; v++) first_consumer[v + 1] = first_consumer[v] + consumers_count[v];
    for (int v = 0; v < g->n_values; v++) consumers_count[v] = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].inputs[k];
            if (v >= 0) consumer[first_consumer[v] + consumers_count[v]++] = i;
        }

    /* Kahn with a min-ordered ready set: among ready nodes the earliest in the file goes first.
     * The ready set is kept as a bitmap scanned from the lowest index that may be ready. */
    int done_count = 0, lowest_ready = 0;
    while (done_count < n) {
        int pick = -1;
        for (int i = lowest_ready; i < n; i++)
            if (!emitted[i] && pending[i] == 0) { pick = i; break; }
        if (pick < 0) break;
        emitted[pick] = true;
        order[done_count++] = pick;
        lowest_ready = pick + 1;
        for (int o = 0; o < g->nodes[pick].n_outputs; o++) {
            int v = g->nodes[pick].outputs[o];
            if (v < 0) continue;
            for (int c = first_consumer[v]; c < first_consumer[v + 1]; c++) {
                int i = consumer[c];
                if (--pending[i] == 0 && i < lowest_ready) lowest_ready = i;
            }
        }
    }
    free(first_consumer);
    free(consumer);
    if (done_count < n) {
        int first = -1;
        for (int i = 0; i < n; i++)
            if (!emitted[i]) { first = i; break; }
        st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                      "the graph has a cycle: %d nodes, among them '%s' (%s), wait on each other",
                      n - done_count, g->nodes[first].name, g->nodes[first].op_type);
        free(emitted);
        goto done;
    }
    free(emitted);
    for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
done:
    free(pending);
    free(order);
    free(consumers_count);
    free(sorted);
    return st;
}
