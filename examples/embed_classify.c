/* embed_classify: the cnnrun C API in one page.
 *
 *   embed_classify model.onnx input.npy
 *
 * Loads a classifier, reads one input array, runs it twice — once letting the session own the
 * output, once into a buffer of our own — and prints the top class. Build against the installed
 * library with:  cc embed_classify.c $(pkg-config --cflags --libs cnnrun)
 */
#include <stdio.h>
#include <stdlib.h>

#include "cnnrun.h"

/* Every cnnrun call returns NULL on success or a status the caller must free. */
static int failed(cnnrun_status *status)
{
    if (!status) return 0;
    fprintf(stderr, "embed_classify: %s\n", cnnrun_status_message(status));
    cnnrun_status_free(status);
    return 1;
}

/* Index of the largest score; scores are float32 (what a classifier exported to ONNX gives). */
static size_t argmax(const float *scores, size_t count)
{
    size_t best = 0;
    for (size_t i = 1; i < count; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embed_classify MODEL.onnx INPUT.npy\n");
        return 2;
    }
    cnnrun_model *model = NULL;
    cnnrun_session *session = NULL;
    cnnrun_arrays *arrays = NULL;
    float *scores = NULL;
    int rc = 2;

    /* A model is immutable and may be shared; a session holds the plan and memory for one thread. */
    if (failed(cnnrun_model_load(argv[1], &model))) goto done;
    if (failed(cnnrun_session_create(model, NULL, &session))) goto done;

    /* What the model expects: name, dtype and shape (-1 marks a free dim such as the batch). */
    cnnrun_value_info info;
    if (failed(cnnrun_model_input_info(model, 0, &info))) goto done;
    printf("input '%s': %s, rank %d\n", info.name, cnnrun_dtype_name(info.dtype), info.rank);

    /* The array file gives a ready-made cnnrun_tensor; only the name needs setting. */
    if (failed(cnnrun_arrays_load(argv[2], &arrays))) goto done;
    if (cnnrun_arrays_count(arrays) < 1) {
        fprintf(stderr, "embed_classify: %s holds no array\n", argv[2]);
        goto done;
    }
    cnnrun_tensor input = *cnnrun_arrays_get(arrays, 0);
    input.name = info.name;

    /* Run 1: data == NULL, so the session owns the output (valid until the next run or free). */
    cnnrun_tensor output = {0};
    if (failed(cnnrun_session_run(session, &input, 1, &output, 1))) goto done;
    if (output.dtype != CNNRUN_FLOAT32) {
        fprintf(stderr, "embed_classify: output is %s, expected float32 scores\n",
                cnnrun_dtype_name(output.dtype));
        goto done;
    }
    size_t count = cnnrun_tensor_element_count(&output);
    if (count == 0 || count == SIZE_MAX) {
        fprintf(stderr, "embed_classify: the output holds no scores\n");
        goto done;
    }
    size_t top = argmax(output.data, count);

    /* Run 2: our own buffer, sized from the first run; nbytes tells cnnrun its capacity. */
    scores = malloc(output.nbytes);
    if (!scores) {
        fprintf(stderr, "embed_classify: out of memory\n");
        goto done;
    }
    cnnrun_tensor mine = {.data = scores, .nbytes = output.nbytes};
    if (failed(cnnrun_session_run(session, &input, 1, &mine, 1))) goto done;
    if (argmax(scores, count) != top) {
        fprintf(stderr, "embed_classify: the two runs disagree\n");
        goto done;
    }
    printf("top class: %zu (score %.4f)\n", top, scores[top]);
    rc = 0;

done: /* Each handle is freed by its own call; the session before the model it refers to. */
    free(scores);
    if (arrays) cnnrun_arrays_free(arrays);
    if (session) cnnrun_session_free(session);
    if (model) cnnrun_model_free(model);
    return rc;
}
