/* The model zoo through the public C API, with shapes changing inside one session: for each model
 * directory, one model and one session (2 threads) run every inputs_<tag>.npz in sorted order
 * (batches 1, 3, 8; for sequence models several batches and lengths), then the first tag again,
 * so that a shape seen before is served after others were planned. Each output is compared with
 * PyTorch's (expected_<tag>.npz) by max|a-b| / max|b| <= 1e-4.
 *
 * Usage: test_zoo_dynamic DIR...   where DIR is a model directory (holding model.onnx) or a
 * directory of model directories (tests/fixtures/make_zoo_models.py's output), which is walked
 * in sorted order. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>

#include "test_util.h"

#define RELATIVE_TOLERANCE 1e-4
#define MAX_TAGS 64
#define MAX_DIRS 256
#define PATH_CAP 4096

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in `dir` that start with `prefix` and end with `suffix`, sorted; the caller frees them. */
static size_t list_names(const char *dir, const char *prefix, const char *suffix, char **names,
                         size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, lp = strlen(prefix), ls = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < lp + ls || strncmp(e->d_name, prefix, lp) != 0 ||
            strcmp(e->d_name + len - ls, suffix) != 0)
            continue;
        if (n == cap) {
            fprintf(stderr, "%s: more than %zu entries; the rest are skipped\n", dir, cap);
            test_checks_failed++;
            break;
        }
        char *copy = malloc(len + 1);
        if (!copy) break;
        memcpy(copy, e->d_name, len + 1);
        names[n++] = copy;
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_strings);
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
}

static int join(char *out, const char *dir, const char *name)
{
    int len = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    if (len < 0 || len >= PATH_CAP) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        test_checks_failed++;
        return 0;
    }
    return 1;
}

static int is_model_dir(const char *dir)
{
    char path[PATH_CAP];
    if (!join(path, dir, "model.onnx")) return 0;
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static cnnrun_arrays *load_arrays(const char *dir, const char *prefix, const char *tag)
{
    char file[PATH_CAP], path[PATH_CAP];
    snprintf(file, sizeof file, "%s%s.npz", prefix, tag);
    if (!join(path, dir, file)) return NULL;
    cnnrun_arrays *a = NULL;
    CHECK_OK(cnnrun_arrays_load(path, &a));
    return a;
}

/* Compares one output with its reference; prints and counts the result. */
static void compare_output(const char *dir, const char *tag, const char *label,
                           const cnnrun_tensor *got, const cnnrun_tensor *want)
{
    int same_shape = got->rank == want->rank && got->dtype == CNNRUN_FLOAT32 &&
                     want->dtype == CNNRUN_FLOAT32 && got->nbytes == want->nbytes && got->data;
    for (size_t k = 0; same_shape && k < got->rank; k++)
        same_shape = got->shape[k] == want->shape[k];
    if (!same_shape) {
        printf("FAIL %s %s%s %s: got %s rank %zu [%lld...], expected %s rank %zu [%lld...]\n", dir,
               tag, label, want->name, cnnrun_dtype_name(got->dtype), got->rank,
               (long long)(got->rank ? got->shape[0] : 0), cnnrun_dtype_name(want->dtype),
               want->rank, (long long)(want->rank ? want->shape[0] : 0));
        test_checks_failed++;
        return;
    }
    size_t n = want->nbytes / sizeof(float);
    const float *a = got->data, *b = want->data;
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= max_err)) max_err = e; /* a NaN sticks */
        if (fabs((double)b[i]) > max_ref) max_ref = fabs((double)b[i]);
    }
    double rel = max_ref > 0 ? max_err / max_ref : max_err;
    int ok = max_ref > 0 && rel <= RELATIVE_TOLERANCE;
    printf("%s %s %s%s %s: max abs err %.3g, / max|ref| %.3g = %.3g\n", ok ? "PASS" : "FAIL", dir,
           tag, label, want->name, max_err, max_ref, rel);
    if (ok) test_checks_passed++;
    else test_checks_failed++;
}

/* One run of the tag's inputs, every output compared with the tag's references. */
static void run_tag(cnnrun_session *s, const char *dir, const char *tag, const char *label)
{
    cnnrun_arrays *in = load_arrays(dir, "inputs_", tag);
    cnnrun_arrays *ex = load_arrays(dir, "expected_", tag);
    cnnrun_tensor inputs[8], outputs[8];
    size_t n_in = in ? cnnrun_arrays_count(in) : 0, n_out = ex ? cnnrun_arrays_count(ex) : 0;
    if (!in || !ex) goto done;
    if (n_in == 0 || n_in > 8 || n_out == 0 || n_out > 8) {
        printf("FAIL %s %s: %zu inputs and %zu references (expected 1 to 8 each)\n", dir, tag,
               n_in, n_out);
        test_checks_failed++;
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) inputs[i] = *cnnrun_arrays_get(in, i);
    for (size_t i = 0; i < n_out; i++)
        outputs[i] = (cnnrun_tensor){.name = cnnrun_arrays_get(ex, i)->name};
    cnnrun_status *st = cnnrun_session_run(s, inputs, n_in, outputs, n_out);
    if (st) {
        printf("FAIL %s %s%s: %s\n", dir, tag, label, cnnrun_status_message(st));
        test_checks_failed++;
        cnnrun_status_free(st);
        goto done;
    }
    for (size_t i = 0; i < n_out; i++)
        compare_output(dir, tag, label, &outputs[i], cnnrun_arrays_get(ex, i));
done:
    cnnrun_arrays_free(in);
    cnnrun_arrays_free(ex);
}

static void check_model_dir(const char *dir)
{
    char *files[MAX_TAGS];
    size_t n_tags = list_names(dir, "inputs_", ".npz", files, MAX_TAGS);
    if (n_tags == 0) {
        printf("FAIL %s: no inputs_<tag>.npz\n", dir);
        test_checks_failed++;
        return;
    }
    char path[PATH_CAP];
    cnnrun_model *m = NULL;
    cnnrun_session *s = NULL;
    cnnrun_status *st = join(path, dir, "model.onnx") ? cnnrun_model_load(path, &m) : NULL;
    if (!st && m) st = cnnrun_session_create(m, &(cnnrun_session_options){.threads = 2}, &s);
    if (st || !s) {
        printf("FAIL %s: %s\n", dir, st ? cnnrun_status_message(st) : "no model");
        test_checks_failed++;
        cnnrun_status_free(st);
        cnnrun_model_free(m);
        free_names(files, n_tags);
        return;
    }
    /* "inputs_b1_t7.npz" -> tag "b1_t7" */
    for (size_t i = 0; i < n_tags; i++) {
        char *tag = files[i] + strlen("inputs_");
        tag[strlen(tag) - strlen(".npz")] = '\0';
        run_tag(s, dir, tag, "");
    }
    run_tag(s, dir, files[0] + strlen("inputs_"), " (again)");
    cnnrun_session_free(s);
    cnnrun_model_free(m);
    free_names(files, n_tags);
}

int main(int argc, char **argv)
{
    size_t models = 0;
    for (int i = 1; i < argc; i++) {
        if (is_model_dir(argv[i])) {
            check_model_dir(argv[i]);
            models++;
            continue;
        }
        char *subdirs[MAX_DIRS];
        size_t n = list_names(argv[i], "", "", subdirs, MAX_DIRS);
        for (size_t k = 0; k < n; k++) {
            char path[PATH_CAP];
            if (join(path, argv[i], subdirs[k]) && is_model_dir(path)) {
                check_model_dir(path);
                models++;
            }
        }
        free_names(subdirs, n);
    }
    if (models == 0) fprintf(stderr, "usage: %s DIR... (no model.onnx found)\n", argv[0]);
    CHECK(models > 0);
    return test_report();
}
