/* libFuzzer target: bytes → cnnrun_model_load_from_memory; a model that loads is also planned and
 * run once, so the planner, the shape inference and the kernels see mutated graphs and attributes,
 * not only the parser. Then the summary with no inputs (what `cnnrun --summary` prints) plans it
 * again with the free dims bound to probe sizes and reads every row, so the symbolic-dim probing
 * and the summary's strings are fuzzed too.
 *
 * The run uses zero-filled inputs of each declared dtype; free dims are bound to FREE_DIM, and a
 * model whose inputs would exceed MAX_INPUT_BYTES in total (or have no declared dtype or rank) is
 * only loaded and given a session. One thread per session keeps runs deterministic and cheap, and
 * a 256 MiB memory ceiling (the session option behind --max-memory) keeps a plan that the default
 * 2 GiB would allow under libFuzzer's 1 GiB malloc limit: a plan the ceiling lets through must be
 * one the process can afford. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun.h"
#include "fuzz_check.h"

enum { FREE_DIM = 2, MAX_INPUTS = 16 };
#define MAX_INPUT_BYTES ((size_t)4 << 20)
#define SESSION_MAX_MEMORY ((uint64_t)256 << 20)

/* Fills t with a zero tensor for the declared input; 0 if the input cannot be made small. */
static int make_input(const cnnrun_value_info *info, cnnrun_tensor *t, size_t *budget)
{
    size_t elem = cnnrun_dtype_size(info->dtype);
    if (elem == 0 || info->rank < 0 || info->rank > CNNRUN_MAX_RANK) return 0;
    t->name = info->name;
    t->dtype = info->dtype;
    t->rank = (size_t)info->rank;
    size_t count = 1;
    for (int d = 0; d < info->rank; d++) {
        int64_t n = info->shape[d] < 0 ? FREE_DIM : info->shape[d];
        t->shape[d] = n;
        if (n > 0 && count > MAX_INPUT_BYTES / (size_t)n) return 0;
        count *= (size_t)n;
    }
    if (count > *budget / elem) return 0;
    t->nbytes = count * elem;
    *budget -= t->nbytes;
    t->data = calloc(1, t->nbytes ? t->nbytes : 1);
    return t->data != NULL;
}

static void run_once(cnnrun_session *session, const cnnrun_model *model)
{
    size_t n_in = cnnrun_model_input_count(model), n_out = cnnrun_model_output_count(model);
    if (n_in > MAX_INPUTS || n_out == 0) return;
    cnnrun_tensor inputs[MAX_INPUTS] = {{0}};
    cnnrun_tensor output = {0}; /* the first output, owned by the session */
    size_t budget = MAX_INPUT_BYTES, made = 0;
    int ok = 1;
    for (; made < n_in && ok; made++) {
        cnnrun_value_info info;
        if (fuzz_check_status(cnnrun_model_input_info(model, made, &info), "input_info")) abort();
        ok = make_input(&info, &inputs[made], &budget);
    }
    if (ok) fuzz_check_status(cnnrun_session_run(session, inputs, n_in, &output, 1), "run");
    for (size_t i = 0; i < made; i++) free(inputs[i].data);
}

/* Reads every row's strings and shape, so a dangling pointer or a bad rank shows under ASan. */
static void summarise(cnnrun_session *session)
{
    cnnrun_summary *summary = NULL;
    if (fuzz_check_status(cnnrun_session_summary(session, NULL, 0, &summary), "summary")) return;
    size_t chars = 0;
    for (size_t i = 0; i < cnnrun_summary_row_count(summary); i++) {
        const cnnrun_summary_row *row = cnnrun_summary_row_at(summary, i);
        if (!row || row->rank < 0 || row->rank > CNNRUN_MAX_RANK) abort();
        chars += strlen(row->node_name) + strlen(row->op_type);
        for (int d = 0; d < row->rank; d++)
            if (row->dim_names[d]) chars += strlen(row->dim_names[d]);
    }
    const char *free_dims = cnnrun_summary_free_dims(summary);
    if (free_dims) chars += strlen(free_dims);
    (void)chars;
    cnnrun_summary_free(summary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnnrun_model *model = NULL;
    if (fuzz_check_status(cnnrun_model_load_from_memory(data, size, NULL, &model), "load"))
        return 0;
    cnnrun_session_options options = {.threads = 1, .max_memory = SESSION_MAX_MEMORY};
    cnnrun_session *session = NULL;
    if (!fuzz_check_status(cnnrun_session_create(model, &options, &session), "session_create")) {
        run_once(session, model);
        summarise(session);
    }
    cnnrun_session_free(session);
    cnnrun_model_free(model);
    return 0;
}
