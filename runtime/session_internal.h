/* A session: an execution environment, the plans made so far (cached by input shapes), and the
 * memory they run in. Used by one thread at a time. */
#ifndef CR_SESSION_INTERNAL_H
#define CR_SESSION_INTERNAL_H

#include "planner.h"

/* Plans kept per session; a signature beyond this evicts the least recently used plan, so a
 * stream of ever-new sequence lengths cannot grow memory without bound. */
#define CR_PLAN_CACHE_SIZE 8

struct cnnrun_session {
    const cnnrun_model *model;
    cr_exec_env env;
    cr_plan *plans[CR_PLAN_CACHE_SIZE]; /* most recently used first */
    int n_plans;
    void *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    bool *value_keyed; /* per graph input: its values take part in the plan signature */
};

/* Returns the plan for these input shapes (ordered like the graph inputs; data needed only for
 * inputs whose values determine shapes), from the cache or newly built, and makes it the most
 * recently used. */
cnnrun_status *cr_session_plan(cnnrun_session *s, const cr_tensor *inputs, cr_plan **out);

/* A run in three parts, for cnnrun_session_run and profiles: begin matches the inputs, plans
 * (or finds the plan) and binds memory; then each step runs; end delivers the outputs (as
 * cnnrun_session_run documents). */
cnnrun_status *cr_session_begin_run(cnnrun_session *s, const cnnrun_tensor *inputs, size_t n_inputs,
                                    cr_plan **plan);
cnnrun_status *cr_session_run_step(cnnrun_session *s, cr_plan *plan, int step);
cnnrun_status *cr_session_end_run(cnnrun_session *s, cr_plan *plan, cnnrun_tensor *outputs,
                                  size_t n_outputs);

#endif
