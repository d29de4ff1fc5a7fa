/* The session's memory ceiling (cnnrun_session_options.max_memory) on the bundled digits model,
 * whose batch dim is free: every plan is held to it, a refused plan names the sizes and leaves
 * the session usable, and 0 / CNNRUN_MAX_MEMORY_UNLIMITED mean the default and no ceiling.
 * Usage: test_memory_ceiling MODELS_DIR (digits_cnn.onnx, digits_batch8.npy and its expected) */
#include <stdio.h>

#include "test_util.h"

static const cnnrun_arrays *load_arrays(const char *dir, const char *name, cnnrun_arrays **owned)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_OK(cnnrun_arrays_load(path, owned));
    return *owned;
}

/* Runs `batch` images (rows of the batch-8 sample) and, when it succeeds, checks the
 * probabilities against PyTorch's. */
static cnnrun_status *run_batch(cnnrun_session *s, const cnnrun_tensor *images,
                                const cnnrun_tensor *expected, int64_t batch)
{
    cnnrun_tensor in = *images;
    in.name = NULL; /* the file names the array after itself: bind by position */
    in.shape[0] = batch;
    in.nbytes = (size_t)batch * (images->nbytes / (size_t)images->shape[0]);
    cnnrun_tensor out = {0};
    cnnrun_status *st = cnnrun_session_run(s, &in, 1, &out, 1);
    if (st) return st;
    CHECK(out.rank == 2 && out.shape[0] == batch && out.shape[1] == 10);
    for (int64_t i = 0; i < batch * 10; i++)
        CHECK_NEAR(((const float *)out.data)[i], ((const float *)expected->data)[i], 1e-5);
    return NULL;
}

static cnnrun_session *session_with(const cnnrun_model *m, uint64_t max_memory)
{
    cnnrun_session_options opts = {.threads = 1, .max_memory = max_memory};
    cnnrun_session *s = NULL;
    CHECK_OK(cnnrun_session_create(m, &opts, &s));
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: test_memory_ceiling MODELS_DIR\n"), 2;
    char path[1024];
    snprintf(path, sizeof path, "%s/digits_cnn.onnx", argv[1]);
    cnnrun_model *m = NULL;
    cnnrun_arrays *images_file = NULL, *expected_file = NULL;
    CHECK_OK(cnnrun_model_load(path, &m));
    const cnnrun_arrays *images = load_arrays(argv[1], "digits_batch8.npy", &images_file);
    const cnnrun_arrays *expected = load_arrays(argv[1], "digits_batch8_expected.npy", &expected_file);
    if (!m || !images || !expected) goto done;
    const cnnrun_tensor *x = cnnrun_arrays_get(images, 0), *y = cnnrun_arrays_get(expected, 0);

    /* Batch 1 plans about 24 KiB (12 KiB of activations, 12 KiB of convolution scratch), batch 8
     * about 8 times the activations: a 64 KiB ceiling takes the first and refuses the second,
     * and the refusal leaves the batch-1 plan running. */
    cnnrun_session *s = session_with(m, 64 << 10);
    if (s) {
        CHECK_OK(run_batch(s, x, y, 1));
        CHECK_ERR(run_batch(s, x, y, 8), CNNRUN_ERR_OUT_OF_MEMORY,
                  "above the session's memory ceiling of 64 KiB (65536 bytes); the largest activation is");
        CHECK_OK(run_batch(s, x, y, 1));
    }
    cnnrun_session_free(s);

    /* Below a single activation: the first node whose output does not fit is named. */
    s = session_with(m, 1024);
    if (s)
        CHECK_ERR(run_batch(s, x, y, 1), CNNRUN_ERR_OUT_OF_MEMORY,
                  "node '/conv1/Conv' (Conv): output '/conv1/Conv_output_0' would be float32 [1, 16, 8, 8], "
                  "4 KiB (4096 bytes), above the session's memory ceiling of 1 KiB");
    cnnrun_session_free(s);

    /* 0 is the default ceiling (2 GiB: batch 8 fits), UNLIMITED turns it off. */
    s = session_with(m, 0);
    if (s) CHECK_OK(run_batch(s, x, y, 8));
    cnnrun_session_free(s);
    s = session_with(m, CNNRUN_MAX_MEMORY_UNLIMITED);
    if (s) CHECK_OK(run_batch(s, x, y, 8));
    cnnrun_session_free(s);
done:
    cnnrun_arrays_free(images_file);
    cnnrun_arrays_free(expected_file);
    cnnrun_model_free(m);
    printf("%d passed, %d failed\n", test_checks_passed, test_checks_failed);
    return test_checks_failed ? 1 : 0;
}
