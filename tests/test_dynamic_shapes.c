/* Dynamic shapes through the C API, in one process: a PyTorch export with a dynamic batch and
 * the x.view(x.size(0), -1) chain runs at batch 1, then 8, then 1 again in one session; each
 * output matches PyTorch's, and the second batch-1 run reuses the cached plan. A session asking
 * for a precision that does not exist is refused.
 * Usage: test_dynamic_shapes MODEL_DIR... (each with model.onnx, inputs_b{1,8}.npz,
 * expected_b{1,8}.npz). */
#include <stdio.h>

#include "session_internal.h"
#include "test_util.h"

static cnnrun_arrays *load_arrays(const char *dir, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cnnrun_arrays *a = NULL;
    CHECK_OK(cnnrun_arrays_load(path, &a));
    return a;
}

/* Runs one batch and compares the first output with PyTorch's: max|a-b| / max|b| <= 1e-5. */
static void run_batch(cnnrun_session *s, const char *dir, int batch)
{
    char in_name[64], ex_name[64];
    snprintf(in_name, sizeof in_name, "inputs_b%d.npz", batch);
    snprintf(ex_name, sizeof ex_name, "expected_b%d.npz", batch);
    cnnrun_arrays *in = load_arrays(dir, in_name), *ex = load_arrays(dir, ex_name);
    if (!in || !ex) goto done;
    const cnnrun_tensor *x = cnnrun_arrays_get(in, 0), *want = cnnrun_arrays_get(ex, 0);
    cnnrun_tensor input = *x;
    cnnrun_tensor out = {.name = want->name};
    CHECK_OK(cnnrun_session_run(s, &input, 1, &out, 1));
    CHECK(out.rank == want->rank && out.shape[0] == batch && out.dtype == CNNRUN_FLOAT32);
    if (out.rank != want->rank || out.nbytes != want->nbytes || !out.data) goto done;
    size_t n = out.nbytes / sizeof(float);
    const float *a = out.data, *b = want->data;
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > max_err) max_err = e;
        if (fabs(b[i]) > max_ref) max_ref = fabs(b[i]);
    }
    printf("%s batch %d: max abs err %.3g, relative to max |ref| %.3g\n", dir, batch, max_err,
           max_ref > 0 ? max_err / max_ref : max_err);
    CHECK(max_ref > 0 && max_err / max_ref <= 1e-5);
done:
    cnnrun_arrays_free(in);
    cnnrun_arrays_free(ex);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/model.onnx", argv[i]);
        cnnrun_model *m = NULL;
        cnnrun_session *s = NULL;
        CHECK_OK(cnnrun_model_load(path, &m));
        if (m) CHECK_OK(cnnrun_session_create(m, &(cnnrun_session_options){.threads = 2}, &s));
        if (!s) {
            cnnrun_model_free(m);
            continue;
        }
        CHECK(s->n_plans == 0); /* a dynamic batch: nothing planned before the first run */
        run_batch(s, argv[i], 1);
        run_batch(s, argv[i], 8);
        CHECK(s->n_plans == 2);
        const cr_plan *batch8 = s->plans[0];
        run_batch(s, argv[i], 1);
        CHECK(s->n_plans == 2);          /* batch 1 came back: its plan was reused */
        CHECK(s->plans[1] == batch8);    /* ... and is now the most recently used */
        cnnrun_session_free(s);
        cnnrun_session *bad = NULL;
        CHECK_ERR(cnnrun_session_create(m, &(cnnrun_session_options){.precision = (cnnrun_precision)7}, &bad),
                  CNNRUN_ERR_INVALID_ARGUMENT, "precision 7");
        CHECK(bad == NULL);
        cnnrun_model_free(m);
    }
    CHECK(argc > 1);
    return test_report();
}
