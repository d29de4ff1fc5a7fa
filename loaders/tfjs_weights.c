/* Decoding the weights of a TensorFlow.js layers model (tfjs-core io: weightsManifest, shards in
 * paths order, DTYPE_VALUE_SIZE_MAP, dequantisation value = q * scale + min, IEEE half for
 * float16). Every claimed size is checked against the bytes of the group's shards. */
#include "tfjs_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float16.h"
#include "file_bytes.h"

/* A shard file is at most this big (tfjs writes 4 MiB shards by default). */
#define MAX_SHARD_BYTES ((size_t)4 << 30)

void cr_tfjs_weights_free(cr_tfjs_weights *w)
{
    for (int i = 0; i < w->n; i++) {
        free(w->names[i]);
        cr_tensor_free(w->t[i]);
    }
    free(w->names);
    free(w->t);
    memset(w, 0, sizeof *w);
}

/* All shards of one group, concatenated. */
static cnnrun_status *read_group(json_t *paths, const char *dir, const char *what, unsigned char **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (!json_is_array(paths)) return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a weights group has no 'paths' list", what);
    for (size_t i = 0; i < json_array_size(paths); i++) {
        json_t *p = json_array_get(paths, i);
        if (!json_is_string(p) || strstr(json_string_value(p), ".."))
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a shard path is not a file name inside the model's directory", what);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(p));
        void *data;
        size_t n;
        cnnrun_status *st = cr_read_file(path, "weights shard", MAX_SHARD_BYTES, &data, &n);
        if (st) {
            free(*out);
            *out = NULL;
            return cr_error_prefix(st, "%s", what);
        }
        unsigned char *grown = realloc(*out, *size + n + 1);
        if (!grown) {
            free(data);
            free(*out);
            *out = NULL;
            return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory reading shards", what);
        }
        memcpy(grown + *size, data, n);
        free(data);
        *out = grown;
        *size += n;
    }
    return NULL;
}

static int stored_size(const char *dtype)
{
    if (!strcmp(dtype, "float32") || !strcmp(dtype, "int32")) return 4;
    if (!strcmp(dtype, "float16") || !strcmp(dtype, "uint16")) return 2;
    if (!strcmp(dtype, "uint8") || !strcmp(dtype, "bool")) return 1;
    return 0;
}

static float load_le32f(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* One weight entry at *offset in the group's bytes; advances *offset. */
static cnnrun_status *decode_weight(json_t *e, const unsigned char *bytes, size_t size, size_t *offset,
                                    const char *what, cr_tfjs_weights *w)
{
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *dtype = json_string_value(json_object_get(e, "dtype"));
    json_t *shape = json_object_get(e, "shape"), *q = json_object_get(e, "quantization");
    if (!name || !dtype || !json_is_array(shape) || json_array_size(shape) > CR_MAX_RANK)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a weights manifest entry lacks name, dtype or a shape of rank <= 8", what);
    const char *stored = dtype;
    double scale = 1.0, min = 0.0;
    if (json_is_object(q)) {
        stored = json_string_value(json_object_get(q, "dtype"));
        if (!stored) return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: weight '%s' has a quantization without dtype", what, name);
        if (strcmp(stored, "float16") != 0) {
            json_t *js = json_object_get(q, "scale"), *jm = json_object_get(q, "min");
            if (!json_is_number(js) || !json_is_number(jm))
                return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: weight '%s' is quantized without scale and min", what, name);
            scale = json_number_value(js);
            min = json_number_value(jm);
        }
    }
    int esize = stored_size(stored);
    if (!esize || (strcmp(dtype, "float32") != 0 && strcmp(dtype, "int32") != 0))
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: weight '%s' has dtype %s (stored as %s); float32 and int32 weights, "
                        "float16/uint8/uint16 quantized, are supported", what, name, dtype, stored);
    int rank = (int)json_array_size(shape);
    int64_t dims[CR_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        json_t *v = json_array_get(shape, (size_t)d);
        dims[d] = json_is_integer(v) ? json_integer_value(v) : -1;
    }
    size_t nbytes;
    if (!cr_shape_bytes(CNNRUN_FLOAT32, rank, dims, &nbytes))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: weight '%s' has an invalid or too large shape", what, name);
    size_t count = nbytes / 4, need = count * (size_t)esize;
    if (*offset > size || need > size - *offset)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: weight '%s' needs %zu bytes at offset %zu of its group, but the group's shards hold %zu bytes",
                        what, name, need, *offset, size);
    cnnrun_status *st;
    cr_tensor *t = cr_tensor_new(CNNRUN_FLOAT32, rank, dims, &st);
    if (!t) return st;
    float *out = t->data;
    const unsigned char *p = bytes + *offset;
    for (size_t i = 0; i < count; i++) {
        if (!strcmp(stored, "float32")) out[i] = load_le32f(p + 4 * i);
        else if (!strcmp(stored, "int32")) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            out[i] = (float)(int32_t)u;
        } else if (!strcmp(stored, "float16")) out[i] = cr_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        else if (!strcmp(stored, "uint16")) out[i] = (float)((p[2 * i] | p[2 * i + 1] << 8) * scale + min);
        else out[i] = (float)(p[i] * scale + min);
    }
    *offset += need;
    cr_tensor **ts = realloc(w->t, (size_t)(w->n + 1) * sizeof *ts);
    if (ts) w->t = ts;
    char **ns = realloc(w->names, (size_t)(w->n + 1) * sizeof *ns);
    if (ns) w->names = ns;
    char *copy = strdup(name);
    if (!ts || !ns || !copy) {
        free(copy);
        cr_tensor_free(t);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory reading weights", what);
    }
    w->t[w->n] = t;
    w->names[w->n++] = copy;
    return NULL;
}

cnnrun_status *cr_tfjs_read_weights(json_t *manifest, const char *dir, const char *what, cr_tfjs_weights *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(manifest)) return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: model.json has no weightsManifest list", what);
    if (!dir) return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "%s: a TensorFlow.js model needs its directory to find its shards", what);
    cnnrun_status *st = NULL;
    for (size_t g = 0; g < json_array_size(manifest) && !st; g++) {
        json_t *group = json_array_get(manifest, g), *weights = json_object_get(group, "weights");
        unsigned char *bytes;
        size_t size, offset = 0;
        st = read_group(json_object_get(group, "paths"), dir, what, &bytes, &size);
        if (st) break;
        if (!json_is_array(weights)) st = cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: a weights group has no 'weights' list", what);
        for (size_t i = 0; !st && i < json_array_size(weights); i++)
            st = decode_weight(json_array_get(weights, i), bytes, size, &offset, what, out);
        free(bytes);
    }
    if (st) cr_tfjs_weights_free(out);
    return st;
}
