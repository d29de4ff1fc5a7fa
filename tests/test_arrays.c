/* Array file I/O: reads the .npy / .npz / TensorProto files that NumPy and ONNX wrote
 * (tests/fixtures/make_array_files.py) and compares every element with the formula the manifest
 * states; checks each malformed file's error code and message; writes .npy files with
 * cnnrun_npy_save for tests/check_npy_written.py to verify with numpy.load.
 *
 * Usage: test_arrays <fixture dir>   (the dir holds manifest.txt; written files go to <dir>/written)
 */
#define _POSIX_C_SOURCE 200809L /* mkdir */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

#define MAX_PATH 1024

static const struct {
    const char *name;
    cnnrun_dtype dtype;
} dtype_names[] = {
    {"float32", CNNRUN_FLOAT32}, {"float64", CNNRUN_FLOAT64}, {"float16", CNNRUN_FLOAT16},
    {"int8", CNNRUN_INT8},       {"int16", CNNRUN_INT16},     {"int32", CNNRUN_INT32},
    {"int64", CNNRUN_INT64},     {"uint8", CNNRUN_UINT8},     {"uint16", CNNRUN_UINT16},
    {"uint32", CNNRUN_UINT32},   {"uint64", CNNRUN_UINT64},   {"bool", CNNRUN_BOOL},
    {"bfloat16", CNNRUN_BFLOAT16},
};
#define N_DTYPES (sizeof dtype_names / sizeof dtype_names[0])

static cnnrun_dtype dtype_by_name(const char *name)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(dtype_names[i].name, name) == 0) return dtype_names[i].dtype;
    return CNNRUN_DTYPE_UNDEFINED;
}

/* IEEE half → double, written out from the format's definition. */
static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    double v;
    if (exp == 0) v = ldexp(frac, -24);
    else if (exp == 31) v = frac ? NAN : INFINITY;
    else v = ldexp(1024 + frac, exp - 25);
    return sign ? -v : v;
}

/* Nearest half to a value that is exactly representable (all the formulas use such values). */
static uint16_t double_to_half_exact(double v)
{
    for (uint32_t bits = 0; bits < 0x10000; bits++)
        if (half_to_double((uint16_t)bits) == v && !(v == 0 && (bits & 0x8000))) return (uint16_t)bits;
    return 0x7e00; /* NaN: makes the comparison fail visibly */
}

/* bfloat16 → double: the bits are the high half of a float32. */
static double bfloat16_to_double(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static double element(const cnnrun_tensor *t, size_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case CNNRUN_FLOAT32: return ((const float *)d)[i];
    case CNNRUN_FLOAT64: return ((const double *)d)[i];
    case CNNRUN_FLOAT16: return half_to_double(((const uint16_t *)d)[i]);
    case CNNRUN_BFLOAT16: return bfloat16_to_double(((const uint16_t *)d)[i]);
    case CNNRUN_INT8: return ((const int8_t *)d)[i];
    case CNNRUN_INT16: return ((const int16_t *)d)[i];
    case CNNRUN_INT32: return ((const int32_t *)d)[i];
    case CNNRUN_INT64: return (double)((const int64_t *)d)[i];
    case CNNRUN_UINT8: case CNNRUN_BOOL: return ((const uint8_t *)d)[i];
    case CNNRUN_UINT16: return ((const uint16_t *)d)[i];
    case CNNRUN_UINT32: return ((const uint32_t *)d)[i];
    case CNNRUN_UINT64: return (double)((const uint64_t *)d)[i];
    default: return NAN;
    }
}

static void set_element(cnnrun_tensor *t, size_t i, double v)
{
    void *d = t->data;
    switch (t->dtype) {
    case CNNRUN_FLOAT32: ((float *)d)[i] = (float)v; break;
    case CNNRUN_FLOAT64: ((double *)d)[i] = v; break;
    case CNNRUN_FLOAT16: ((uint16_t *)d)[i] = double_to_half_exact(v); break;
    case CNNRUN_INT8: ((int8_t *)d)[i] = (int8_t)v; break;
    case CNNRUN_INT16: ((int16_t *)d)[i] = (int16_t)v; break;
    case CNNRUN_INT32: ((int32_t *)d)[i] = (int32_t)v; break;
    case CNNRUN_INT64: ((int64_t *)d)[i] = (int64_t)v; break;
    case CNNRUN_UINT8: case CNNRUN_BOOL: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case CNNRUN_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; break;
    case CNNRUN_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; break;
    case CNNRUN_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; break;
    default: break;
    }
}

typedef struct expected_array {
    char file[256], name[200];
    cnnrun_dtype dtype;
    size_t rank;
    int64_t shape[CNNRUN_MAX_RANK];
    double a, b;
    long long m;
} expected_array;

static double formula(const expected_array *e, size_t i)
{
    return e->a * (double)((long long)i % e->m) + e->b;
}

/* Checks one array's dtype, shape, nbytes and every element. */
static void check_array(const cnnrun_tensor *t, const expected_array *e)
{
    if (!t) {
        CHECK(!"array present");
        fprintf(stderr, "  %s: no array named '%s'\n", e->file, e->name);
        return;
    }
    CHECK(t->name && strcmp(t->name, e->name) == 0);
    CHECK(t->dtype == e->dtype);
    CHECK(t->rank == e->rank);
    size_t count = 1;
    for (size_t d = 0; d < e->rank; d++) {
        CHECK(t->shape[d] == e->shape[d]);
        count *= (size_t)e->shape[d];
    }
    CHECK(t->nbytes == count * cnnrun_dtype_size(e->dtype));
    if (t->dtype != e->dtype || t->rank != e->rank || t->nbytes != count * cnnrun_dtype_size(e->dtype)) {
        fprintf(stderr, "  %s/%s: dtype %s rank %zu nbytes %zu, expected %s rank %zu\n", e->file,
                e->name, cnnrun_dtype_name(t->dtype), t->rank, t->nbytes,
                cnnrun_dtype_name(e->dtype), e->rank);
        return;
    }
    size_t wrong = 0, first = 0;
    for (size_t i = 0; i < count; i++) {
        if (element(t, i) != formula(e, i)) {
            if (!wrong) first = i;
            wrong++;
        }
    }
    CHECK(wrong == 0);
    if (wrong)
        fprintf(stderr, "  %s/%s: %zu of %zu elements wrong; first at %zu: %.17g, expected %.17g\n",
                e->file, e->name, wrong, count, first, element(t, first), formula(e, first));
}

static void join(char *out, const char *dir, const char *file)
{
    int n = snprintf(out, MAX_PATH, "%s/%s", dir, file);
    if (n < 0 || n >= MAX_PATH) {
        fprintf(stderr, "path too long: %s/%s\n", dir, file);
        exit(2);
    }
}

/* "array <file> <name> <dtype> <rank> <dims...> <a> <b> <m>" after the keyword. */
static int parse_expected(char *rest, expected_array *e)
{
    char dtype[32];
    int used = 0;
    if (sscanf(rest, "%255s %199s %31s %zu%n", e->file, e->name, dtype, &e->rank, &used) != 4) return 0;
    rest += used;
    e->dtype = dtype_by_name(dtype);
    if (e->dtype == CNNRUN_DTYPE_UNDEFINED || e->rank > CNNRUN_MAX_RANK) return 0;
    for (size_t d = 0; d < e->rank; d++) {
        if (sscanf(rest, "%" SCNd64 "%n", &e->shape[d], &used) != 1) return 0;
        rest += used;
    }
    return sscanf(rest, "%lf %lf %lld", &e->a, &e->b, &e->m) == 3 && e->m > 0;
}

static void run_manifest_line(const char *dir, char *line)
{
    char kind[16];
    int used = 0;
    if (sscanf(line, "%15s%n", kind, &used) != 1) return;
    char *rest = line + used;
    char path[MAX_PATH];
    cnnrun_arrays *arrays = NULL;

    if (strcmp(kind, "array") == 0) {
        expected_array e;
        if (!parse_expected(rest, &e)) {
            CHECK(!"manifest line parses");
            fprintf(stderr, "  bad manifest line: %s\n", line);
            return;
        }
        join(path, dir, e.file);
        CHECK_OK(cnnrun_arrays_load(path, &arrays));
        if (arrays) check_array(cnnrun_arrays_find(arrays, e.name), &e);
    } else if (strcmp(kind, "count") == 0) {
        char file[256];
        size_t n;
        if (sscanf(rest, "%255s %zu", file, &n) != 2) {
            CHECK(!"manifest line parses");
            return;
        }
        join(path, dir, file);
        CHECK_OK(cnnrun_arrays_load(path, &arrays));
        CHECK(cnnrun_arrays_count(arrays) == n);
        /* Every array reachable by index is also found by its name. */
        for (size_t i = 0; i < cnnrun_arrays_count(arrays); i++)
            CHECK(cnnrun_arrays_find(arrays, cnnrun_arrays_get(arrays, i)->name) ==
                  cnnrun_arrays_get(arrays, i));
        CHECK(cnnrun_arrays_get(arrays, n) == NULL);
    } else if (strcmp(kind, "error") == 0) {
        char file[256];
        int code;
        if (sscanf(rest, "%255s %d %n", file, &code, &used) != 2) {
            CHECK(!"manifest line parses");
            return;
        }
        const char *fragment = rest + used;
        join(path, dir, file);
        CHECK_ERR(cnnrun_arrays_load(path, &arrays), (cnnrun_code)code, fragment);
        CHECK(arrays == NULL);
        /* Every message names the file it is about. */
        cnnrun_status *st = cnnrun_arrays_load(path, &arrays);
        CHECK(st && strstr(cnnrun_status_message(st), file));
        cnnrun_status_free(st);
    } else {
        CHECK(!"known manifest keyword");
        fprintf(stderr, "  unknown manifest line: %s\n", line);
    }
    cnnrun_arrays_free(arrays);
}

static void test_manifest(const char *dir)
{
    char path[MAX_PATH], line[1024];
    join(path, dir, "manifest.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0]) continue;
        run_manifest_line(dir, line);
        lines++;
    }
    fclose(f);
    CHECK(lines > 100); /* the generator writes over a hundred cases */
}

static void test_api_edges(const char *dir)
{
    char path[MAX_PATH];
    cnnrun_arrays *arrays = NULL;
    CHECK_ERR(cnnrun_arrays_load(NULL, &arrays), CNNRUN_ERR_INVALID_ARGUMENT, "path is NULL");
    join(path, dir, "v1_float32.npy");
    CHECK_ERR(cnnrun_arrays_load(path, NULL), CNNRUN_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK_ERR(cnnrun_arrays_load(dir, &arrays), CNNRUN_ERR_IO, "not a regular file");
    CHECK(cnnrun_arrays_count(NULL) == 0);
    CHECK(cnnrun_arrays_get(NULL, 0) == NULL);
    CHECK(cnnrun_arrays_find(NULL, "x") == NULL);
    cnnrun_arrays_free(NULL);
    CHECK_OK(cnnrun_arrays_load(path, &arrays));
    CHECK(cnnrun_arrays_count(arrays) == 1);
    CHECK(cnnrun_arrays_find(arrays, "v1_float64") == NULL);
    CHECK(cnnrun_arrays_find(arrays, NULL) == NULL);
    CHECK(cnnrun_arrays_get(arrays, 1) == NULL);
    const cnnrun_tensor *t = cnnrun_arrays_get(arrays, 0);
    CHECK(t && ((uintptr_t)t->data % 64) == 0); /* aligned for SIMD kernels */
    cnnrun_arrays_free(arrays);
}

/* ---- writer ----------------------------------------------------------------------------- */

/* Same formulas as the fixture generator: exact in every type. */
static const struct {
    const char *dtype;
    double a, b;
    long long m;
} write_formulas[] = {
    {"float32", 0.5, -3.0, 1000},     {"float64", 0.125, -7.0, 100000},
    {"float16", 0.25, -2.0, 64},      {"int8", 1, -128, 256},
    {"int16", 3, -20000, 10000},      {"int32", 1001, -2000000, 4000},
    {"int64", 3, -1099511627776.0, 1000000}, {"uint8", 1, 0, 256},
    {"uint16", 7, 1, 9000},           {"uint32", 5, 4000000000.0, 1000},
    {"uint64", 9, 4503599627370496.0, 100000}, {"bool", 1, 0, 2},
};

static const struct {
    size_t rank;
    int64_t shape[CNNRUN_MAX_RANK];
} write_shapes[] = {
    {0, {0}}, {1, {7}}, {3, {2, 3, 4}}, {2, {0, 5}}, {8, {2, 1, 2, 1, 2, 1, 2, 1}}, {2, {3, 100}},
};
#define N_WRITE_SHAPES (sizeof write_shapes / sizeof write_shapes[0])

/* The header length field says where the data start: numpy puts them at a multiple of 64. */
static long data_offset_of(const char *path)
{
    unsigned char pre[10];
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(pre, 1, sizeof pre, f);
    fclose(f);
    if (got != sizeof pre || pre[6] != 1 || pre[7] != 0) return -1;
    return 10 + (pre[8] | pre[9] << 8);
}

static void write_one(const char *out_dir, FILE *manifest, size_t fi, size_t si)
{
    expected_array e = {.dtype = dtype_by_name(write_formulas[fi].dtype),
                        .rank = write_shapes[si].rank,
                        .a = write_formulas[fi].a,
                        .b = write_formulas[fi].b,
                        .m = write_formulas[fi].m};
    memcpy(e.shape, write_shapes[si].shape, sizeof e.shape);
    snprintf(e.name, sizeof e.name, "w_%s_%zu", write_formulas[fi].dtype, si);
    snprintf(e.file, sizeof e.file, "%s.npy", e.name);

    cnnrun_tensor t = {.name = e.name, .dtype = e.dtype, .rank = e.rank};
    memcpy(t.shape, e.shape, sizeof t.shape);
    size_t count = cnnrun_tensor_element_count(&t);
    t.nbytes = count * cnnrun_dtype_size(e.dtype);
    t.data = malloc(t.nbytes ? t.nbytes : 1);
    if (!t.data) return;
    for (size_t i = 0; i < count; i++) set_element(&t, i, formula(&e, i));

    char path[MAX_PATH];
    join(path, out_dir, e.file);
    CHECK_OK(cnnrun_npy_save(path, &t));
    free(t.data);
    long off = data_offset_of(path);
    CHECK(off > 0 && off % 64 == 0);

    cnnrun_arrays *arrays = NULL;
    CHECK_OK(cnnrun_arrays_load(path, &arrays));
    if (arrays) check_array(cnnrun_arrays_find(arrays, e.name), &e);
    cnnrun_arrays_free(arrays);

    fprintf(manifest, "array %s %s %s %zu", e.file, e.name, write_formulas[fi].dtype, e.rank);
    for (size_t d = 0; d < e.rank; d++) fprintf(manifest, " %" PRId64, e.shape[d]);
    fprintf(manifest, " %.17g %.17g %lld\n", e.a, e.b, e.m);
}

static void test_writer(const char *dir)
{
    char out_dir[MAX_PATH], path[MAX_PATH];
    join(out_dir, dir, "written");
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        CHECK(!"can create the output directory");
        return;
    }
    join(path, out_dir, "manifest.txt");
    FILE *manifest = fopen(path, "w");
    CHECK(manifest != NULL);
    if (!manifest) return;
    size_t n_formulas = sizeof write_formulas / sizeof write_formulas[0];
    /* Every dtype with two shapes, so that each shape also meets several dtypes. */
    for (size_t fi = 0; fi < n_formulas; fi++) {
        write_one(out_dir, manifest, fi, fi % N_WRITE_SHAPES);
        write_one(out_dir, manifest, fi, (fi + 3) % N_WRITE_SHAPES);
    }
    CHECK(fclose(manifest) == 0);

    float x[6] = {1, 2, 3, 4, 5, 6};
    cnnrun_tensor t = {.dtype = CNNRUN_FLOAT32, .rank = 2, .shape = {2, 3}, .data = x,
                       .nbytes = sizeof x - 1};
    join(path, out_dir, "refused.npy");
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_INVALID_ARGUMENT, "needs 24 bytes, the tensor holds 23");
    t.nbytes = sizeof x;
    t.dtype = CNNRUN_STRING;
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_UNSUPPORTED, "dtype string");
    t.dtype = CNNRUN_BFLOAT16; /* 6 elements of 2 bytes: x holds enough */
    t.nbytes = 12;
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_UNSUPPORTED,
              "dtype bfloat16 has no .npy form (NumPy has no bfloat16 dtype)");
    t.nbytes = sizeof x;
    t.dtype = CNNRUN_FLOAT32;
    t.shape[1] = -3;
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_INVALID_ARGUMENT, "shape [2, -3]");
    t.shape[1] = 3;
    t.rank = 9;
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_INVALID_ARGUMENT, "rank 9");
    t.rank = 2;
    CHECK_ERR(cnnrun_npy_save(NULL, &t), CNNRUN_ERR_INVALID_ARGUMENT, "must not be NULL");
    CHECK_ERR(cnnrun_npy_save(path, NULL), CNNRUN_ERR_INVALID_ARGUMENT, "must not be NULL");
    join(path, out_dir, "no/such/dir/x.npy");
    CHECK_ERR(cnnrun_npy_save(path, &t), CNNRUN_ERR_IO, "cannot create .npy file");
    join(path, out_dir, "refused.npy");
    FILE *f = fopen(path, "rb");
    CHECK(f == NULL); /* no refused call left a file behind */
    if (f) fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixture dir written by make_array_files.py>\n", argv[0]);
        return 2;
    }
    test_manifest(argv[1]);
    test_api_edges(argv[1]);
    test_writer(argv[1]);
    return test_report();
}
