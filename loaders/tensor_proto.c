/* ONNX TensorProto → cr_tensor: element type, shape, and data from raw_data, the typed fields or
 * an external file. Every claimed size is compared with the bytes actually present before the
 * tensor is allocated, so a hostile file cannot make us allocate what it does not hold. */
#define _POSIX_C_SOURCE 200809L /* fseeko, fileno, fstat */
#define _XOPEN_SOURCE 700      /* realpath */

#include "tensor_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "graph.h"

/* Names of TensorProto.DataType values, for messages about types we refuse. */
static const char *onnx_type_name(int32_t t)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",
                                        "INT16",     "INT32",  "INT64",     "STRING",     "BOOL",
                                        "FLOAT16",   "DOUBLE", "UINT32",    "UINT64",     "COMPLEX64",
                                        "COMPLEX128", "BFLOAT16"};
    if (t >= 0 && (size_t)t < sizeof names / sizeof names[0]) return names[t];
    return "an unknown type";
}

static cnnrun_status *dtype_from_onnx(const Onnx__TensorProto *tp, cnnrun_dtype *out)
{
    if (!tp->has_data_type || tp->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "has no data_type");
    switch (tp->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: *out = CNNRUN_FLOAT32; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: *out = CNNRUN_FLOAT64; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: *out = CNNRUN_FLOAT16; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: *out = CNNRUN_BFLOAT16; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: *out = CNNRUN_INT8; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: *out = CNNRUN_INT16; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: *out = CNNRUN_INT32; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: *out = CNNRUN_INT64; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: *out = CNNRUN_UINT8; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: *out = CNNRUN_UINT16; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: *out = CNNRUN_UINT32; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: *out = CNNRUN_UINT64; return NULL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: *out = CNNRUN_BOOL; return NULL;
    default:
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "has data_type %d (%s), which cnnrun does not support; supported: FLOAT, "
                        "DOUBLE, FLOAT16, BFLOAT16, INT8, INT16, INT32, INT64, UINT8, UINT16, "
                        "UINT32, UINT64, BOOL",
                        (int)tp->data_type, onnx_type_name(tp->data_type));
    }
}

/* Rank, dims and the byte size they imply, all checked. */
static cnnrun_status *read_shape(const Onnx__TensorProto *tp, cnnrun_dtype dtype, int *rank,
                                 int64_t *dims, int64_t *count, size_t *bytes)
{
    if (tp->n_dims > CR_MAX_RANK)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "has %zu dims; cnnrun supports at most %d",
                        tp->n_dims, CR_MAX_RANK);
    *rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "has negative dim %" PRId64 " at axis %zu",
                            tp->dims[i], i);
        dims[i] = tp->dims[i];
    }
    char shape[200];
    if (!cr_shape_count(*rank, dims, count))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "has shape %s whose element count overflows",
                        cr_shape_str(*rank, dims, shape, sizeof shape));
    if (!cr_shape_bytes(dtype, *rank, dims, bytes))
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                        "has shape %s of %s, larger than the limit of %llu bytes",
                        cr_shape_str(*rank, dims, shape, sizeof shape), cnnrun_dtype_name(dtype),
                        (unsigned long long)CR_MAX_TENSOR_BYTES);
    return NULL;
}

/* Parses a non-negative decimal integer, as external_data stores offsets and lengths. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A relative path that, resolved lexically, stays inside its base directory. */
static bool location_stays_inside(const char *loc)
{
    if (loc[0] == '/' || loc[0] == '\0') return false;
    long depth = 0;
    const char *p = loc;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0) return false;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            depth++;
        }
        p += len;
        if (*p == '/') p++;
    }
    return true;
}

/* A location that stays inside the directory by its text may still leave it through a symbolic
 * link (the file itself or a folder on the way): the resolved paths must agree too. A path that
 * does not resolve is left for fopen to report. */
static cnnrun_status *check_resolves_inside(const char *path, const char *dir)
{
    char *real_dir = realpath(dir, NULL), *real_path = realpath(path, NULL);
    cnnrun_status *st = NULL;
    if (real_dir && real_path) {
        size_t n = strlen(real_dir);
        bool root = n == 1 && real_dir[0] == '/';
        if (strncmp(real_path, real_dir, n) != 0 || (!root && real_path[n] != '/'))
            st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                          "external data file '%s' resolves to '%s', outside the model's directory "
                          "'%s' (through a symbolic link); only files inside it are read",
                          path, real_path, real_dir);
    }
    free(real_dir);
    free(real_path);
    return st;
}

/* Opens a tensor's external data file and checks that it holds `need` bytes at the stated
 * offset, before anything is allocated for them: a few bytes of model must not be able to make us
 * reserve gigabytes for a file that is missing or short. On success *file is positioned at the
 * data. */
static cnnrun_status *open_external(const Onnx__TensorProto *tp, const char *external_dir,
                                    size_t need, FILE **file)
{
    const char *location = NULL, *offset_s = NULL, *length_s = NULL;
    *file = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv || !kv->key) continue;
        if (strcmp(kv->key, "location") == 0) location = kv->value;
        else if (strcmp(kv->key, "offset") == 0) offset_s = kv->value;
        else if (strcmp(kv->key, "length") == 0) length_s = kv->value;
    }
    if (!location || !*location)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "has external data without a 'location'");
    if (!external_dir)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                        "stores its data in external file '%s', but no directory was given to read "
                        "external data from (pass external_data_dir when loading from memory)",
                        location);
    if (!location_stays_inside(location))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "external data location '%s' is absolute or leaves the model's directory; "
                        "only relative paths inside it are allowed",
                        location);
    uint64_t offset = 0, length = need;
    if (offset_s && !parse_u64(offset_s, &offset))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "external data offset '%s' is not a non-negative integer", offset_s);
    if (length_s && !parse_u64(length_s, &length))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "external data length '%s' is not a non-negative integer", length_s);
    if (length != need)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "external data length is %" PRIu64 " bytes; its shape and type need %zu",
                        length, need);

    size_t dir_len = strlen(external_dir), loc_len = strlen(location);
    char *path = malloc(dir_len + 1 + loc_len + 1);
    if (!path) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate an external data path");
    memcpy(path, external_dir, dir_len);
    path[dir_len] = '/';
    memcpy(path + dir_len + 1, location, loc_len + 1);

    cnnrun_status *st = check_resolves_inside(path, external_dir);
    if (st) {
        free(path);
        return st;
    }
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f) {
        st = cr_error(CNNRUN_ERR_IO, "cannot open external data file '%s': %s", path,
                      strerror(errno));
    } else if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = cr_error(CNNRUN_ERR_IO, "external data file '%s' is not a regular file", path);
    } else if (offset > (uint64_t)sb.st_size || need > (uint64_t)sb.st_size - offset) {
        st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                      "external data file '%s' has %lld bytes; the tensor needs %zu bytes at offset "
                      "%" PRIu64,
                      path, (long long)sb.st_size, need, offset);
    } else if (fseeko(f, (off_t)offset, SEEK_SET) != 0) {
        st = cr_error(CNNRUN_ERR_IO, "cannot seek to offset %" PRIu64 " of '%s'", offset, path);
    }
    free(path);
    if (st) {
        if (f) fclose(f);
        return st;
    }
    *file = f;
    return NULL;
}

static cnnrun_status *read_external(FILE *f, size_t need, void *dst)
{
    if (need > 0 && fread(dst, 1, need, f) != need)
        return cr_error(CNNRUN_ERR_IO, "error reading %zu bytes of external data: the file "
                        "changed or could not be read", need);
    return NULL;
}

/* Which typed field carries each dtype, and how many values it holds. */
static size_t typed_field_count(const Onnx__TensorProto *tp, cnnrun_dtype dtype, const char **field)
{
    switch (dtype) {
    case CNNRUN_FLOAT32: *field = "float_data"; return tp->n_float_data;
    case CNNRUN_FLOAT64: *field = "double_data"; return tp->n_double_data;
    case CNNRUN_INT64: *field = "int64_data"; return tp->n_int64_data;
    case CNNRUN_UINT32: case CNNRUN_UINT64: *field = "uint64_data"; return tp->n_uint64_data;
    default: *field = "int32_data"; return tp->n_int32_data;
    }
}

/* int32_data holds narrower types widened to int32; each value must fit the declared type. The
 * 16-bit floats are stored there as their bits (onnx.proto says so for float16; ONNX's
 * helper.make_tensor does the same for bfloat16), so they take the uint16 range. */
static cnnrun_status *narrow_int32_data(const Onnx__TensorProto *tp, cnnrun_dtype dtype, void *dst)
{
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    switch (dtype) {
    case CNNRUN_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case CNNRUN_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case CNNRUN_UINT8: lo = 0; hi = UINT8_MAX; break;
    case CNNRUN_UINT16: case CNNRUN_FLOAT16: case CNNRUN_BFLOAT16: lo = 0; hi = UINT16_MAX; break;
    default: break;
    }
    for (size_t i = 0; i < tp->n_int32_data; i++) {
        int32_t v = tp->int32_data[i];
        if (dtype != CNNRUN_BOOL && (v < lo || v > hi))
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "int32_data[%zu] = %" PRId32 " does not fit data type %s", i, v,
                            cnnrun_dtype_name(dtype));
        switch (dtype) {
        case CNNRUN_INT8: ((int8_t *)dst)[i] = (int8_t)v; break;
        case CNNRUN_INT16: ((int16_t *)dst)[i] = (int16_t)v; break;
        case CNNRUN_INT32: ((int32_t *)dst)[i] = v; break;
        case CNNRUN_UINT8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
        case CNNRUN_UINT16: case CNNRUN_FLOAT16: case CNNRUN_BFLOAT16:
            ((uint16_t *)dst)[i] = (uint16_t)v;
            break;
        case CNNRUN_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
        default: return cr_error(CNNRUN_ERR_INTERNAL, "int32_data cannot hold %s",
                                 cnnrun_dtype_name(dtype));
        }
    }
    return NULL;
}

static cnnrun_status *copy_typed_field(const Onnx__TensorProto *tp, cnnrun_dtype dtype,
                                       size_t bytes, void *dst)
{
    switch (dtype) {
    case CNNRUN_FLOAT32: if (bytes) memcpy(dst, tp->float_data, bytes); return NULL;
    case CNNRUN_FLOAT64: if (bytes) memcpy(dst, tp->double_data, bytes); return NULL;
    case CNNRUN_INT64: if (bytes) memcpy(dst, tp->int64_data, bytes); return NULL;
    case CNNRUN_UINT64: if (bytes) memcpy(dst, tp->uint64_data, bytes); return NULL;
    case CNNRUN_UINT32:
        for (size_t i = 0; i < tp->n_uint64_data; i++) {
            if (tp->uint64_data[i] > UINT32_MAX)
                return cr_error(CNNRUN_ERR_INVALID_MODEL,
                                "uint64_data[%zu] = %" PRIu64 " does not fit data type uint32", i,
                                tp->uint64_data[i]);
            ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
        }
        return NULL;
    default: return narrow_int32_data(tp, dtype, dst);
    }
}

/* Finds where the data live and checks that they hold exactly `count` elements / `bytes` bytes. */
typedef enum data_source { SOURCE_RAW, SOURCE_TYPED, SOURCE_EXTERNAL, SOURCE_NONE } data_source;

static cnnrun_status *pick_source(const Onnx__TensorProto *tp, cnnrun_dtype dtype, int64_t count,
                                  size_t bytes, data_source *src)
{
    if (tp->segment)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "is a segment of a larger tensor, which cnnrun "
                                                "does not support");
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        *src = SOURCE_EXTERNAL;
        return NULL;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes)
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "raw_data holds %zu bytes; %" PRId64 " elements of %s need %zu",
                            tp->raw_data.len, count, cnnrun_dtype_name(dtype), bytes);
        *src = SOURCE_RAW;
        return NULL;
    }
    const char *field;
    size_t n = typed_field_count(tp, dtype, &field);
    if (n == 0 && count == 0) {
        *src = SOURCE_NONE;
        return NULL;
    }
    if (n == 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "has no data: expected %" PRId64 " %s elements in raw_data or %s", count,
                        cnnrun_dtype_name(dtype), field);
    if ((uint64_t)n != (uint64_t)count)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s holds %zu values; its shape needs %" PRId64, field, n, count);
    *src = SOURCE_TYPED;
    return NULL;
}

static cnnrun_status *decode(const Onnx__TensorProto *tp, const char *external_dir, cr_tensor **out)
{
    cnnrun_dtype dtype = CNNRUN_DTYPE_UNDEFINED;
    int rank = 0;
    int64_t dims[CR_MAX_RANK], count = 0;
    size_t bytes = 0;
    data_source src = SOURCE_NONE;
    CR_TRY(dtype_from_onnx(tp, &dtype));
    CR_TRY(read_shape(tp, dtype, &rank, dims, &count, &bytes));
    CR_TRY(pick_source(tp, dtype, count, bytes, &src));
    FILE *external = NULL;
    if (src == SOURCE_EXTERNAL) CR_TRY(open_external(tp, external_dir, bytes, &external));

    cnnrun_status *st = NULL;
    cr_tensor *t = cr_tensor_new(dtype, rank, dims, &st);
    if (!t) {
        if (external) fclose(external);
        return st;
    }
    switch (src) {
    case SOURCE_RAW:
        /* Little-endian on disk and in memory: cnnrun targets little-endian hosts only. */
        if (bytes) memcpy(t->data, tp->raw_data.data, bytes);
        break;
    case SOURCE_TYPED: st = copy_typed_field(tp, dtype, bytes, t->data); break;
    case SOURCE_EXTERNAL:
        st = read_external(external, bytes, t->data);
        fclose(external);
        break;
    case SOURCE_NONE: break;
    }
    if (st) {
        cr_tensor_free(t);
        return st;
    }
    *out = t;
    return NULL;
}

cnnrun_status *cr_tensor_from_proto(const Onnx__TensorProto *tp, const char *external_dir,
                                    cr_tensor **out)
{
    *out = NULL;
    cnnrun_status *st = decode(tp, external_dir, out);
    return cr_error_prefix(st, "tensor '%s'", tp->name && *tp->name ? tp->name : "(unnamed)");
}

void cr_tensor_proto_release_data(Onnx__TensorProto *tp)
{
    /* protobuf-c allocates with the system allocator when unpacking with a NULL allocator, and
     * its free_unpacked skips a NULL bytes field */
    free(tp->raw_data.data);
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    tp->has_raw_data = 0;
}
