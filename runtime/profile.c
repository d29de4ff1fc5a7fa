/* Profiles: a run timed kernel by kernel, with what each kernel is (oneDNN's implementation name,
 * the post-ops fused into it, the layout it writes) and the work it does (FLOPs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session_internal.h"

#define PROFILE_MAX_RUNS 100000

struct cnnrun_profile {
    size_t n_rows;
    cnnrun_profile_row *rows;
    char **strings; /* every string the rows point to, owned */
    size_t n_strings;
    double total_ms;
    size_t reorders;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A copy of text owned by the profile (NULL text gives NULL). */
static const char *keep(cnnrun_profile *prof, const char *text, bool *oom)
{
    if (!text) return NULL;
    char *copy = strdup(text);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    prof->strings[prof->n_strings++] = copy;
    return copy;
}

/* "Relu" or "Add+Relu": the op types of the nodes fused into step s, in graph order. */
static void fused_ops(const cnnrun_model *model, const cr_plan *plan, int s, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int ni = 0; ni < model->graph->n_nodes && used < size; ni++)
        if (plan->fused_into[ni] == s)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "+" : "",
                                     model->graph->nodes[ni].op_type);
}

static cnnrun_status *describe_steps(const cnnrun_session *session, const cr_plan *plan,
                                     cnnrun_profile *prof)
{
    bool oom = false;
    for (int s = 0; s < plan->n_steps; s++) {
        const cr_step *step = &plan->steps[s];
        const cr_op_ctx *ctx = &step->ctx;
        cnnrun_profile_row *row = &prof->rows[s];
        char fused[256], layout[64];
        fused_ops(session->model, plan, s, fused, sizeof fused);
        row->node_name = keep(prof, ctx->node->name, &oom);
        row->op_type = keep(prof, step->op->op_type, &oom);
        row->fused = fused[0] ? keep(prof, fused, &oom) : NULL;
        const char *kernel = step->op->describe && ctx->state ? step->op->describe(ctx->state) : NULL;
        row->kernel = keep(prof, kernel ? kernel : "cnnrun", &oom);
        const cr_tensor *y = ctx->n_out > 0 ? ctx->out[0] : NULL;
        if (y) {
            row->rank = y->rank;
            memcpy(row->shape, y->dims, sizeof row->shape);
            cr_layout_describe(y, layout, sizeof layout);
            row->layout = keep(prof, layout, &oom);
        }
        row->flops = step->op->flops ? step->op->flops(ctx) : 0.0;
        if (step->node < 0) prof->reorders++;
    }
    return oom ? cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory in profile") : NULL;
}

cnnrun_status *cnnrun_session_profile(cnnrun_session *session, const cnnrun_tensor *inputs,
                                      size_t n_inputs, int runs, cnnrun_profile **out)
{
    if (!session || !out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_session_profile: NULL argument");
    *out = NULL;
    if (runs < 1 || runs > PROFILE_MAX_RUNS)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "runs must be between 1 and %d, found %d",
                        PROFILE_MAX_RUNS, runs);
    /* warm-up: plans the shapes, faults the arena in, primes oneDNN's caches */
    cr_plan *plan;
    CR_TRY(cr_session_begin_run(session, inputs, n_inputs, &plan));
    for (int s = 0; s < plan->n_steps; s++) CR_TRY(cr_session_run_step(session, plan, s));
    CR_TRY(cr_session_end_run(session, plan, NULL, 0));

    cnnrun_profile *prof = calloc(1, sizeof *prof);
    double *step_ms = calloc((size_t)plan->n_steps + 1, sizeof *step_ms);
    if (prof) prof->rows = calloc((size_t)plan->n_steps + 1, sizeof *prof->rows);
    if (prof) prof->strings = calloc(5 * (size_t)plan->n_steps + 1, sizeof *prof->strings);
    cnnrun_status *st = NULL;
    if (!prof || !step_ms || !prof->rows || !prof->strings)
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory in profile");
    double total = 0.0;
    for (int r = 0; !st && r < runs; r++) {
        double t_run = now_ms();
        st = cr_session_begin_run(session, inputs, n_inputs, &plan);
        for (int s = 0; !st && s < plan->n_steps; s++) {
            double t0 = now_ms();
            st = cr_session_run_step(session, plan, s);
            step_ms[s] += now_ms() - t0;
        }
        if (!st) st = cr_session_end_run(session, plan, NULL, 0);
        total += now_ms() - t_run;
    }
    if (!st) {
        prof->n_rows = (size_t)plan->n_steps;
        prof->total_ms = total / runs;
        st = describe_steps(session, plan, prof);
        for (int s = 0; s < plan->n_steps; s++) prof->rows[s].ms = step_ms[s] / runs;
    }
    free(step_ms);
    if (st) {
        cnnrun_profile_free(prof);
        return st;
    }
    *out = prof;
    return NULL;
}

size_t cnnrun_profile_row_count(const cnnrun_profile *profile)
{
    return profile ? profile->n_rows : 0;
}

const cnnrun_profile_row *cnnrun_profile_row_at(const cnnrun_profile *profile, size_t index)
{
    return profile && index < profile->n_rows ? &profile->rows[index] : NULL;
}

double cnnrun_profile_total_ms(const cnnrun_profile *profile)
{
    return profile ? profile->total_ms : 0.0;
}

size_t cnnrun_profile_reorder_count(const cnnrun_profile *profile)
{
    return profile ? profile->reorders : 0;
}

void cnnrun_profile_free(cnnrun_profile *profile)
{
    if (!profile) return;
    for (size_t i = 0; i < profile->n_strings; i++) free(profile->strings[i]);
    free(profile->strings);
    free(profile->rows);
    free(profile);
}
