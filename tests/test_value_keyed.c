/* Graph inputs whose values shape the graph: a Reshape whose target shape is a model input.
 * The session plans once per distinct target (the plan is keyed by the input's values), reuses
 * the plan when a target comes back, and refuses a target that does not fit the data.
 * Usage: test_value_keyed LOADER_FIXTURES_DIR (uses shape_input/model.onnx) */
#include <stdio.h>

#include "session_internal.h"
#include "test_util.h"

static float x[24];

/* Runs with the given target shape; checks Y = relu(reshape(X)) when the run succeeds. */
static cnnrun_status *run_target(cnnrun_session *s, int64_t rows, int64_t cols)
{
    int64_t target[2] = {rows, cols};
    cnnrun_tensor in[2] = {
        {.name = "X", .dtype = CNNRUN_FLOAT32, .rank = 2, .shape = {2, 12}, .data = x, .nbytes = sizeof x},
        {.name = "target", .dtype = CNNRUN_INT64, .rank = 1, .shape = {2}, .data = target, .nbytes = sizeof target}};
    cnnrun_tensor out = {0};
    cnnrun_status *st = cnnrun_session_run(s, in, 2, &out, 1);
    if (st) return st;
    CHECK(out.rank == 2 && out.shape[0] == rows && out.shape[1] == cols);
    const float *y = out.data;
    for (int i = 0; i < 24; i++) CHECK_NEAR(y[i], x[i] > 0 ? x[i] : 0, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: test_value_keyed LOADER_FIXTURES_DIR\n"), 2;
    for (int i = 0; i < 24; i++) x[i] = (float)(i % 7) - 3.0f;
    char path[1024];
    snprintf(path, sizeof path, "%s/shape_input/model.onnx", argv[1]);
    cnnrun_model *m = NULL;
    cnnrun_session *s = NULL;
    CHECK_OK(cnnrun_model_load(path, &m));
    /* Every input shape is fixed, but the plan needs 'target's values: creation must not fail. */
    if (m) CHECK_OK(cnnrun_session_create(m, NULL, &s));
    if (!s) goto done;
    CHECK(s->n_plans == 0 && s->value_keyed[1] && !s->value_keyed[0]);
    CHECK_OK(run_target(s, 3, 8));
    CHECK_OK(run_target(s, 4, 6));
    CHECK(s->n_plans == 2);
    const cr_plan *first = s->plans[1];
    CHECK_OK(run_target(s, 3, 8));
    CHECK(s->n_plans == 2 && s->plans[0] == first); /* the 3x8 plan came back from the cache */
    CHECK_ERR(run_target(s, 5, 5), CNNRUN_ERR_INVALID_MODEL, "reshape_to_target");
    CHECK_OK(run_target(s, 24, 1)); /* a failed plan leaves the session usable */
done:
    cnnrun_session_free(s);
    cnnrun_model_free(m);
    return test_report();
}
