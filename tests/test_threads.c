/* Thread safety: one model shared by several threads, each with its own session, must give
 * outputs identical bit for bit to a single-threaded run of the same model on the same inputs.
 *
 * Usage: test_threads [--threads N] [--runs R] [--session-threads K] MODEL INPUTS [MODEL INPUTS...]
 *   MODEL   an .onnx file; INPUTS a .npy (bound to the first graph input) or an .npz (arrays
 *           bound by name), as the cnnrun program takes them
 *   N       threads sharing the model (default 4); each creates its session while the others
 *           are already running theirs, so planning and running overlap
 *   R       runs per thread (default 3)
 *   K       kernel threads per session (default 1). The ThreadSanitizer build keeps 1: OpenMP's
 *           runtime is not built with TSan, so its barriers are invisible to it and every
 *           hand-over between OpenMP workers would be reported as a race (see
 *           tests/cmake/hardening.cmake).
 *
 * The reference run uses one session in the main thread with the same K, so the arithmetic
 * (the same kernels, the same work split) is the same and the outputs must match exactly. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>

#include "test_util.h"

enum { MAX_INPUTS = 16, MAX_OUTPUTS = 16, MAX_THREADS = 64 };

typedef struct model_case {
    const char *model_path, *inputs_path;
    cnnrun_model *model;
    cnnrun_arrays *arrays;
    cnnrun_tensor inputs[MAX_INPUTS];
    size_t n_inputs, n_outputs;
    cnnrun_tensor expected[MAX_OUTPUTS]; /* data malloc'd copies */
} model_case;

typedef struct worker {
    pthread_t thread;
    const model_case *mc;
    int runs, session_threads, index;
    int mismatches, errors;
} worker;

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Binds the array file's arrays: an .npz by name, a .npy to the first graph input. */
static int bind_inputs(model_case *mc)
{
    size_t n = cnnrun_arrays_count(mc->arrays);
    if (n == 0 || n > MAX_INPUTS) return 0;
    int by_name = ends_with(mc->inputs_path, ".npz");
    for (size_t i = 0; i < n; i++) {
        mc->inputs[i] = *cnnrun_arrays_get(mc->arrays, i);
        if (!by_name) mc->inputs[i].name = NULL;
    }
    mc->n_inputs = n;
    return 1;
}

static cnnrun_status *run_session(cnnrun_session *s, const model_case *mc, cnnrun_tensor *outs)
{
    for (size_t o = 0; o < mc->n_outputs; o++) outs[o] = (cnnrun_tensor){0};
    return cnnrun_session_run(s, mc->inputs, mc->n_inputs, outs, mc->n_outputs);
}

static int prepare_case(model_case *mc, int session_threads)
{
    cnnrun_status *st = cnnrun_model_load(mc->model_path, &mc->model);
    if (!st) st = cnnrun_arrays_load(mc->inputs_path, &mc->arrays);
    if (st) {
        fprintf(stderr, "%s: %s\n", mc->model_path, cnnrun_status_message(st));
        cnnrun_status_free(st);
        return 0;
    }
    if (!bind_inputs(mc)) {
        fprintf(stderr, "%s: no usable arrays\n", mc->inputs_path);
        return 0;
    }
    mc->n_outputs = cnnrun_model_output_count(mc->model);
    if (mc->n_outputs == 0 || mc->n_outputs > MAX_OUTPUTS) return 0;
    cnnrun_session_options opt = {.threads = session_threads};
    cnnrun_session *s = NULL;
    cnnrun_tensor outs[MAX_OUTPUTS];
    st = cnnrun_session_create(mc->model, &opt, &s);
    if (!st) st = run_session(s, mc, outs);
    if (st) {
        fprintf(stderr, "%s: reference run: %s\n", mc->model_path, cnnrun_status_message(st));
        cnnrun_status_free(st);
        cnnrun_session_free(s);
        return 0;
    }
    for (size_t o = 0; o < mc->n_outputs; o++) {
        mc->expected[o] = outs[o];
        mc->expected[o].data = malloc(outs[o].nbytes ? outs[o].nbytes : 1);
        if (!mc->expected[o].data) abort();
        memcpy(mc->expected[o].data, outs[o].data, outs[o].nbytes);
    }
    cnnrun_session_free(s);
    return 1;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const model_case *mc = w->mc;
    cnnrun_session_options opt = {.threads = w->session_threads};
    cnnrun_session *s = NULL;
    cnnrun_status *st = cnnrun_session_create(mc->model, &opt, &s);
    cnnrun_tensor outs[MAX_OUTPUTS];
    for (int r = 0; r < w->runs && !st; r++) {
        st = run_session(s, mc, outs);
        for (size_t o = 0; o < mc->n_outputs && !st; o++) {
            const cnnrun_tensor *e = &mc->expected[o];
            if (outs[o].dtype != e->dtype || outs[o].rank != e->rank ||
                memcmp(outs[o].shape, e->shape, e->rank * sizeof e->shape[0]) != 0 ||
                outs[o].nbytes != e->nbytes || memcmp(outs[o].data, e->data, e->nbytes) != 0) {
                fprintf(stderr, "%s: thread %d run %d: output %zu differs from the "
                        "single-threaded run\n", mc->model_path, w->index, r, o);
                w->mismatches++;
            }
        }
    }
    if (st) {
        fprintf(stderr, "%s: thread %d: %s\n", mc->model_path, w->index,
                cnnrun_status_message(st));
        w->errors++;
        cnnrun_status_free(st);
    }
    cnnrun_session_free(s);
    return NULL;
}

static void free_case(model_case *mc)
{
    for (size_t o = 0; o < mc->n_outputs; o++) free(mc->expected[o].data);
    cnnrun_arrays_free(mc->arrays);
    cnnrun_model_free(mc->model);
}

static void check_case(model_case *mc, int n_threads, int runs, int session_threads)
{
    if (!prepare_case(mc, session_threads)) {
        test_checks_failed++;
        free_case(mc);
        return;
    }
    worker workers[MAX_THREADS];
    int started = 0;
    for (int t = 0; t < n_threads; t++) {
        workers[t] = (worker){.mc = mc, .runs = runs, .session_threads = session_threads,
                              .index = t};
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) break;
        started++;
    }
    CHECK(started == n_threads);
    int mismatches = 0, errors = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(workers[t].thread, NULL);
        mismatches += workers[t].mismatches;
        errors += workers[t].errors;
    }
    CHECK(mismatches == 0);
    CHECK(errors == 0);
    printf("%s: %d threads x %d runs, %zu output(s): %d mismatches, %d errors\n", mc->model_path,
           started, runs, mc->n_outputs, mismatches, errors);
    free_case(mc);
}

static int int_arg(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {
        fprintf(stderr, "expected an integer in [%d, %d], found '%s'\n", lo, hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int n_threads = 4, runs = 3, session_threads = 1, i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) n_threads = int_arg(argv[i + 1], 1, MAX_THREADS);
        else if (strcmp(argv[i], "--runs") == 0) runs = int_arg(argv[i + 1], 1, 1000);
        else if (strcmp(argv[i], "--session-threads") == 0)
            session_threads = int_arg(argv[i + 1], 0, 1024);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc || (argc - i) % 2 != 0) {
        fprintf(stderr, "usage: test_threads [--threads N] [--runs R] [--session-threads K] "
                        "MODEL INPUTS [MODEL INPUTS...]\n");
        return 2;
    }
    for (; i < argc; i += 2) {
        model_case mc = {.model_path = argv[i], .inputs_path = argv[i + 1]};
        check_case(&mc, n_threads, runs, session_threads);
    }
    return test_report();
}
