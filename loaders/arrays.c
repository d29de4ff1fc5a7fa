/* cnnrun_arrays: named arrays read from a .npy, .npz or ONNX TensorProto file, the format told by
 * the file's content rather than its extension. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays.h"
#include "file_bytes.h"
#include "graph.h"
#include "npy.h"
#include "npz.h"
#include "tensor_proto.h"

/* An array file holds at most one tensor of the size limit, plus container overhead. */
#define MAX_ARRAY_FILE_BYTES (CR_MAX_TENSOR_BYTES + ((size_t)1 << 32))

struct cnnrun_arrays {
    size_t count, cap;
    cnnrun_tensor *items; /* items[i].name == names[i]; data from cr_aligned_alloc */
    char **names;
};

static cnnrun_status *arrays_new(cnnrun_arrays **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NULL : cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate an arrays object");
}

/* Takes ownership of t->data (on failure too) and stores a copy of name. */
static cnnrun_status *arrays_add(cnnrun_arrays *a, const char *name, cnnrun_tensor *t,
                                 const char *what)
{
    if (cnnrun_arrays_find(a, name)) {
        cr_aligned_free(t->data);
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s holds two arrays named '%s'", what, name);
    }
    if (a->count == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4;
        cnnrun_tensor *items = realloc(a->items, cap * sizeof *items);
        if (items) a->items = items;
        char **names = items ? realloc(a->names, cap * sizeof *names) : NULL;
        if (names) a->names = names;
        if (!items || !names) {
            cr_aligned_free(t->data);
            return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot grow the array list of %s", what);
        }
        a->cap = cap;
    }
    size_t len = strlen(name);
    char *copy = malloc(len + 1);
    if (!copy) {
        cr_aligned_free(t->data);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot copy array name '%s'", name);
    }
    memcpy(copy, name, len + 1);
    a->names[a->count] = copy;
    a->items[a->count] = *t;
    a->items[a->count].name = copy;
    a->count++;
    return NULL;
}

/* "dir/x.npy" → "x": the last path component without its extension. */
static char *file_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, base, len);
        s[len] = '\0';
    }
    return s;
}

/* "dir/x.pb" → "dir"; "x.pb" → "." (external data are read relative to the file's directory). */
static char *file_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 1;
    if (slash == path) len = 1; /* "/x.pb" → "/" */
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, slash ? path : ".", len);
        d[len] = '\0';
    }
    return d;
}

/* Adds t under `name`, or under the file's stem when name is NULL or empty. Takes t->data. */
static cnnrun_status *add_named(cnnrun_arrays *a, const char *name, const char *path,
                                cnnrun_tensor *t, const char *what)
{
    if (name && *name) return arrays_add(a, name, t, what);
    char *stem = file_stem(path);
    if (!stem) {
        cr_aligned_free(t->data);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate an array name");
    }
    cnnrun_status *st = arrays_add(a, stem, t, what);
    free(stem);
    return st;
}

static cnnrun_status *load_npy(cnnrun_arrays *a, const char *path, const char *what,
                               const void *data, size_t size)
{
    cnnrun_tensor t = {0};
    CR_TRY(cr_npy_parse(data, size, what, &t));
    return add_named(a, NULL, path, &t, what);
}

typedef struct npz_ctx {
    cnnrun_arrays *arrays;
    const char *what;
} npz_ctx;

static cnnrun_status *add_npz_member(void *ctx, const char *name, const char *member_name,
                                     const void *data, size_t size)
{
    npz_ctx *c = ctx;
    size_t len = strlen(member_name) + strlen(c->what) + 32;
    char *member_what = malloc(len);
    if (!member_what) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate a message");
    snprintf(member_what, len, "member '%s' of %s", member_name, c->what);
    cnnrun_tensor t = {0};
    cnnrun_status *st = cr_npy_parse(data, size, member_what, &t);
    if (!st) st = arrays_add(c->arrays, name, &t, c->what);
    free(member_what);
    return st;
}

static cnnrun_status *not_recognised(const char *path, const unsigned char *b, size_t size,
                                     cnnrun_status *why)
{
    char hex[3 * 8 + 1] = "";
    size_t used = 0;
    for (size_t i = 0; i < size && i < 8; i++)
        used += (size_t)snprintf(hex + used, sizeof hex - used, "%s%02x", i ? " " : "", b[i]);
    cnnrun_status *st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                                 "'%s' is not a .npy, .npz or ONNX TensorProto file (first bytes: "
                                 "%s)%s%s",
                                 path, hex, why ? "; read as a TensorProto: " : "",
                                 why ? cnnrun_status_message(why) : "");
    cnnrun_status_free(why);
    return st;
}

static bool declares_external_data(const Onnx__TensorProto *tp)
{
    return tp->has_data_location &&
           tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL &&
           tp->n_external_data > 0;
}

/* A TensorProto has no magic number, so a file counts as one only if it parses as protobuf, has a
 * data type ONNX defines (with room for types newer than our schema), and its data agree with its
 * dims. A declared external location is evidence enough that it is one: errors reading external
 * data are reported as such rather than as "not a TensorProto". */
static cnnrun_status *load_tensor_proto(cnnrun_arrays *a, const char *path, const char *what,
                                        const unsigned char *data, size_t size)
{
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, data);
    if (!tp || !tp->has_data_type || tp->data_type <= ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED ||
        tp->data_type > 23) {
        if (tp) onnx__tensor_proto__free_unpacked(tp, NULL);
        return not_recognised(path, data, size, NULL);
    }
    cr_tensor *t = NULL;
    char *dir = file_dir(path);
    cnnrun_status *st = dir ? cr_tensor_from_proto(tp, dir, &t)
                            : cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate a path");
    free(dir);
    if (st && cnnrun_status_code(st) == CNNRUN_ERR_INVALID_MODEL && !declares_external_data(tp)) {
        st = not_recognised(path, data, size, st);
    } else if (st) {
        st = cr_error_prefix(st, "%s", what);
    } else {
        cnnrun_tensor out = {.dtype = t->dtype, .rank = (size_t)t->rank, .data = t->data,
                             .nbytes = cr_tensor_bytes(t)};
        memcpy(out.shape, t->dims, sizeof out.shape);
        t->data = NULL; /* now owned by the arrays object */
        st = add_named(a, tp->name, path, &out, what);
    }
    cr_tensor_free(t);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

static cnnrun_status *load_content(cnnrun_arrays *a, const char *path, const unsigned char *data,
                                   size_t size, const char *what)
{
    if (size == 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "'%s' is empty (0 bytes); expected a .npy, .npz or ONNX TensorProto file",
                        path);
    if (cr_npy_has_magic(data, size)) return load_npy(a, path, what, data, size);
    if (cr_npz_has_magic(data, size)) {
        npz_ctx ctx = {a, what};
        return cr_npz_read(data, size, what, add_npz_member, &ctx);
    }
    return load_tensor_proto(a, path, what, data, size);
}

cnnrun_status *cr_arrays_load_memory(const void *data, size_t size, const char *path,
                                     cnnrun_arrays **out)
{
    *out = NULL;
    size_t what_len = strlen(path) + 3;
    char *what = malloc(what_len);
    cnnrun_arrays *a = NULL;
    cnnrun_status *st = what ? arrays_new(&a)
                             : cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate a message");
    if (!st) {
        snprintf(what, what_len, "'%s'", path);
        st = load_content(a, path, data, size, what);
    }
    free(what);
    if (st) {
        cnnrun_arrays_free(a);
        return st;
    }
    *out = a;
    return NULL;
}

cnnrun_status *cnnrun_arrays_load(const char *path, cnnrun_arrays **out)
{
    if (!out) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_arrays_load: out is NULL");
    *out = NULL;
    if (!path) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_arrays_load: path is NULL");
    void *data;
    size_t size;
    CR_TRY(cr_read_file(path, "array", MAX_ARRAY_FILE_BYTES, &data, &size));
    cnnrun_status *st = cr_arrays_load_memory(data, size, path, out);
    free(data);
    return st;
}

size_t cnnrun_arrays_count(const cnnrun_arrays *arrays)
{
    return arrays ? arrays->count : 0;
}

const cnnrun_tensor *cnnrun_arrays_get(const cnnrun_arrays *arrays, size_t index)
{
    return arrays && index < arrays->count ? &arrays->items[index] : NULL;
}

const cnnrun_tensor *cnnrun_arrays_find(const cnnrun_arrays *arrays, const char *name)
{
    if (!arrays || !name) return NULL;
    for (size_t i = 0; i < arrays->count; i++)
        if (strcmp(arrays->names[i], name) == 0) return &arrays->items[i];
    return NULL;
}

void cnnrun_arrays_free(cnnrun_arrays *arrays)
{
    if (!arrays) return;
    for (size_t i = 0; i < arrays->count; i++) {
        cr_aligned_free(arrays->items[i].data);
        free(arrays->names[i]);
    }
    free(arrays->items);
    free(arrays->names);
    free(arrays);
}
