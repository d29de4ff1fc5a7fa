/* Shape inference seen through summaries of the bundled digits model: symbolic dims follow the
 * free batch axis by name through convolutions, the folded view chain and the dense layers;
 * concrete shapes appear when input shapes are given; parameters match the PyTorch model
 * (BatchNorm folded into the convs by the exporter):
 *   conv 1→16 3×3: 160, conv 16→32: 4640, conv 32→32: 9248, fc 512→64: 32832, fc 64→10: 650.
 * Usage: test_summary MODELS_DIR */
#include <stdio.h>

#include "test_util.h"

static const cnnrun_summary_row *find_row(const cnnrun_summary *s, const char *op, int nth)
{
    for (size_t i = 0; i < cnnrun_summary_row_count(s); i++) {
        const cnnrun_summary_row *r = cnnrun_summary_row_at(s, i);
        if (strcmp(r->op_type, op) == 0 && nth-- == 0) return r;
    }
    return NULL;
}

static void check_dims(const cnnrun_summary_row *r, int rank, const int64_t *dims, const char *name0)
{
    CHECK(r != NULL);
    if (!r) return;
    CHECK(r->rank == rank);
    for (int d = 0; d < rank && d < r->rank; d++) {
        if (d == 0 && name0) {
            CHECK(r->shape[0] == -1 && r->dim_names[0] && strcmp(r->dim_names[0], name0) == 0);
        } else {
            CHECK(r->shape[d] == dims[d] && r->dim_names[d] == NULL);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: test_summary MODELS_DIR\n"), 2;
    char path[1024];
    snprintf(path, sizeof path, "%s/digits_cnn.onnx", argv[1]);
    cnnrun_model *m = NULL;
    cnnrun_session *s = NULL;
    cnnrun_summary *sym = NULL, *fixed = NULL;
    CHECK_OK(cnnrun_model_load(path, &m));
    if (m) CHECK_OK(cnnrun_session_create(m, NULL, &s));
    if (!s) goto done;

    CHECK_OK(cnnrun_session_summary(s, NULL, 0, &sym));
    if (sym) {
        check_dims(find_row(sym, "Conv", 0), 4, (int64_t[]){0, 16, 8, 8}, "batch");
        check_dims(find_row(sym, "MaxPool", 0), 4, (int64_t[]){0, 32, 4, 4}, "batch");
        check_dims(find_row(sym, "Reshape", 0), 2, (int64_t[]){0, 512}, "batch");
        check_dims(find_row(sym, "Gemm", 1), 2, (int64_t[]){0, 10}, "batch");
        check_dims(find_row(sym, "Shape", 0), 1, (int64_t[]){4}, NULL);
        const cnnrun_summary_row *shape = find_row(sym, "Shape", 0);
        const cnnrun_summary_row *conv = find_row(sym, "Conv", 0);
        CHECK(shape && shape->folded && conv && !conv->folded);
        CHECK(cnnrun_summary_total_params(sym) == 160 + 4640 + 9248 + 32832 + 650);
        /* float32 weights, each counted once; the arena holds at least the largest activation
         * at batch 1 (32 channels of 8x8) */
        CHECK(cnnrun_summary_weight_bytes(sym) >= (size_t)47530 * 4);
        CHECK(cnnrun_summary_arena_bytes(sym) >= 32 * 8 * 8 * 4);
        /* the memory figures say which batch they are for */
        const char *bound = cnnrun_summary_free_dims(sym);
        CHECK(bound && strcmp(bound, "batch = 1") == 0);
    }

    cnnrun_tensor in = {.name = "image", .dtype = CNNRUN_FLOAT32, .rank = 4, .shape = {3, 1, 8, 8}};
    CHECK_OK(cnnrun_session_summary(s, &in, 1, &fixed));
    if (fixed) {
        check_dims(find_row(fixed, "Conv", 2), 4, (int64_t[]){3, 32, 4, 4}, NULL);
        check_dims(find_row(fixed, "Softmax", 0), 2, (int64_t[]){3, 10}, NULL);
        CHECK(cnnrun_summary_free_dims(fixed) == NULL);
    }
    in.shape[2] = 9;
    cnnrun_summary *bad = NULL;
    CHECK_ERR(cnnrun_session_summary(s, &in, 1, &bad), CNNRUN_ERR_INPUT_MISMATCH, "image");
    CHECK(bad == NULL);
done:
    cnnrun_summary_free(sym);
    cnnrun_summary_free(fixed);
    cnnrun_session_free(s);
    cnnrun_model_free(m);
    return test_report();
}
