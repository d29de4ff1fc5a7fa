/* .npy reading and writing. The format: magic "\x93NUMPY", major and minor version bytes, a
 * little-endian header length (2 bytes in 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ending in a
 * newline, then the raw elements. */
#include "npy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cnnrun reads little-endian .npy data straight into memory: a little-endian host is required"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64 /* numpy aligns the data start to 64 bytes */

/* The descr strings numpy writes for each dtype cnnrun knows. */
static const struct npy_type {
    const char *descr;
    cnnrun_dtype dtype;
} npy_types[] = {
    {"<f4", CNNRUN_FLOAT32}, {"<f8", CNNRUN_FLOAT64}, {"<f2", CNNRUN_FLOAT16},
    {"|i1", CNNRUN_INT8},    {"<i2", CNNRUN_INT16},   {"<i4", CNNRUN_INT32},
    {"<i8", CNNRUN_INT64},   {"|u1", CNNRUN_UINT8},   {"<u2", CNNRUN_UINT16},
    {"<u4", CNNRUN_UINT32},  {"<u8", CNNRUN_UINT64},  {"|b1", CNNRUN_BOOL},
};
#define N_NPY_TYPES (sizeof npy_types / sizeof npy_types[0])

static const char *const supported_descrs =
    "'<f4', '<f8', '<f2', '|i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '<u8', '|b1'";

bool cr_npy_has_magic(const void *data, size_t size)
{
    return size >= NPY_MAGIC_LEN && memcmp(data, NPY_MAGIC, NPY_MAGIC_LEN) == 0;
}

static bool descr_to_dtype(const char *descr, cnnrun_dtype *out)
{
    for (size_t i = 0; i < N_NPY_TYPES; i++) {
        const char *d = npy_types[i].descr;
        /* Byte order does not apply to one-byte types: accept '<' as well as numpy's '|'. */
        bool one_byte_match = d[0] == '|' && descr[0] == '<' && strcmp(descr + 1, d + 1) == 0;
        if (strcmp(descr, d) == 0 || one_byte_match) {
            *out = npy_types[i].dtype;
            return true;
        }
    }
    return false;
}

/* '|V2' and the like. NumPy has no bfloat16: ml_dtypes' bfloat16 arrays are saved as such untyped
 * 2-byte records, which could hold anything, so they are refused with the way out rather than
 * read as bfloat16. */
static bool is_two_byte_record(const char *descr)
{
    return descr[0] && strchr("<>|=", descr[0]) && strcmp(descr + 1, "V2") == 0;
}

static const char *dtype_to_descr(cnnrun_dtype dtype)
{
    for (size_t i = 0; i < N_NPY_TYPES; i++)
        if (npy_types[i].dtype == dtype) return npy_types[i].descr;
    return NULL;
}

/* ---- header dict parsing ---------------------------------------------------------------- */

typedef struct header_parser {
    const char *p, *end;
    const char *what;
} header_parser;

typedef struct npy_header {
    char descr[32];
    bool fortran_order;
    int rank;
    int64_t dims[CR_MAX_RANK];
} npy_header;

static void skip_space(header_parser *hp)
{
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r'))
        hp->p++;
}

static cnnrun_status *syntax_error(const header_parser *hp, const char *expected)
{
    /* Quote up to 20 characters of what follows, without the padding numpy adds. */
    size_t left = (size_t)(hp->end - hp->p);
    size_t shown = left < 20 ? left : 20;
    while (shown > 0 && (hp->p[shown - 1] == ' ' || hp->p[shown - 1] == '\n')) shown--;
    if (shown == 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: malformed .npy header: expected %s, found the end of the header",
                        hp->what, expected);
    return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: malformed .npy header: expected %s, found '%.*s'",
                    hp->what, expected, (int)shown, hp->p);
}

/* A quoted Python string without escapes (all that numpy headers hold), copied into buf. */
static cnnrun_status *parse_string(header_parser *hp, char *buf, size_t cap)
{
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"')) return syntax_error(hp, "a string");
    char quote = *hp->p++;
    const char *start = hp->p;
    while (hp->p < hp->end && *hp->p != quote) hp->p++;
    if (hp->p >= hp->end) return syntax_error(hp, "a closing quote");
    size_t len = (size_t)(hp->p - start);
    hp->p++;
    if (len >= cap)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: .npy header string '%.*s' is too long",
                        hp->what, (int)(len < 40 ? len : 40), start);
    memcpy(buf, start, len);
    buf[len] = '\0';
    return NULL;
}

static bool take_word(header_parser *hp, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(hp->end - hp->p) >= n && memcmp(hp->p, word, n) == 0) {
        hp->p += n;
        return true;
    }
    return false;
}

static cnnrun_status *parse_bool(header_parser *hp, bool *out)
{
    if (take_word(hp, "True")) *out = true;
    else if (take_word(hp, "False")) *out = false;
    else return syntax_error(hp, "True or False for 'fortran_order'");
    return NULL;
}

/* A tuple of non-negative ints: (), (n,), (a, b), (a, b,). Python 2 files may write "3L". */
static cnnrun_status *parse_shape(header_parser *hp, npy_header *h)
{
    if (hp->p >= hp->end || *hp->p != '(') return syntax_error(hp, "a shape tuple '(...)'");
    hp->p++;
    h->rank = 0;
    for (;;) {
        skip_space(hp);
        if (hp->p < hp->end && *hp->p == ')') break;
        if (hp->p >= hp->end || *hp->p < '0' || *hp->p > '9')
            return syntax_error(hp, "a non-negative integer dimension");
        int64_t v = 0;
        while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
            int d = *hp->p++ - '0';
            if (v > (INT64_MAX - d) / 10)
                return cr_error(CNNRUN_ERR_INVALID_MODEL,
                                "%s: .npy shape has a dimension too large for 64 bits", hp->what);
            v = v * 10 + d;
        }
        if (hp->p < hp->end && *hp->p == 'L') hp->p++;
        if (h->rank == CR_MAX_RANK)
            return cr_error(CNNRUN_ERR_UNSUPPORTED,
                            "%s: .npy array has more than %d dimensions; cnnrun supports at most %d",
                            hp->what, CR_MAX_RANK, CR_MAX_RANK);
        h->dims[h->rank++] = v;
        skip_space(hp);
        if (hp->p < hp->end && *hp->p == ',') {
            hp->p++;
            continue;
        }
        if (hp->p < hp->end && *hp->p == ')') break;
        return syntax_error(hp, "',' or ')' in the shape");
    }
    hp->p++; /* ')' */
    return NULL;
}

static cnnrun_status *parse_header(const char *text, size_t len, const char *what, npy_header *h)
{
    header_parser hp = {text, text + len, what};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space(&hp);
    if (hp.p >= hp.end || *hp.p != '{') return syntax_error(&hp, "'{'");
    hp.p++;
    for (;;) {
        skip_space(&hp);
        if (hp.p < hp.end && *hp.p == '}') break;
        char key[32];
        CR_TRY(parse_string(&hp, key, sizeof key));
        skip_space(&hp);
        if (hp.p >= hp.end || *hp.p != ':') return syntax_error(&hp, "':' after a key");
        hp.p++;
        skip_space(&hp);
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &seen_descr;
            if (hp.p < hp.end && *hp.p == '[')
                return cr_error(CNNRUN_ERR_UNSUPPORTED,
                                "%s: .npy array has a structured dtype; supported descrs: %s", what,
                                supported_descrs);
            CR_TRY(parse_string(&hp, h->descr, sizeof h->descr));
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &seen_order;
            CR_TRY(parse_bool(&hp, &h->fortran_order));
        } else if (strcmp(key, "shape") == 0) {
            seen = &seen_shape;
            CR_TRY(parse_shape(&hp, h));
        } else {
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "%s: .npy header has unexpected key '%s' (expected 'descr', "
                            "'fortran_order' and 'shape')",
                            what, key);
        }
        if (*seen)
            return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: .npy header repeats key '%s'", what, key);
        *seen = true;
        skip_space(&hp);
        if (hp.p < hp.end && *hp.p == ',') {
            hp.p++;
            continue;
        }
        if (hp.p < hp.end && *hp.p == '}') break;
        return syntax_error(&hp, "',' or '}' after a value");
    }
    hp.p++; /* '}' */
    skip_space(&hp);
    if (hp.p != hp.end) return syntax_error(&hp, "only padding after the header dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: .npy header lacks key '%s' (it needs 'descr', 'fortran_order' and "
                        "'shape')",
                        what, !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    return NULL;
}

/* ---- reading ------------------------------------------------------------------------------ */

static uint32_t read_le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Copies elements stored in Fortran order (first axis fastest) to C order (last axis fastest). */
static void fortran_to_c(const unsigned char *src, unsigned char *dst, int rank, const int64_t *dims,
                         size_t count, size_t es)
{
    int64_t fstride[CR_MAX_RANK], idx[CR_MAX_RANK] = {0};
    int64_t s = 1;
    for (int k = 0; k < rank; k++) {
        fstride[k] = s;
        s *= dims[k];
    }
    size_t f = 0; /* Fortran-order element offset of idx */
    for (size_t c = 0; c < count; c++) {
        memcpy(dst + c * es, src + f * es, es);
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < dims[k]) {
                f += (size_t)fstride[k];
                break;
            }
            f -= (size_t)(fstride[k] * (dims[k] - 1));
            idx[k] = 0;
        }
    }
}

cnnrun_status *cr_npy_parse(const void *data, size_t size, const char *what, cnnrun_tensor *out)
{
    const unsigned char *b = data;
    if (!cr_npy_has_magic(data, size))
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: not a .npy file (no \\x93NUMPY magic)", what);
    if (size < 10)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: .npy file truncated in its preamble (%zu bytes)",
                        what, size);
    int major = b[6], minor = b[7];
    if ((major < 1 || major > 3) || minor != 0)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "%s: .npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)", what,
                        major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (size < prefix)
        return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: .npy file truncated in its preamble (%zu bytes)",
                        what, size);
    size_t header_len = read_le(b + 8, major == 1 ? 2 : 4);
    if (header_len > size - prefix)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: .npy header truncated: it claims %zu bytes, the file has %zu after the "
                        "preamble",
                        what, header_len, size - prefix);

    npy_header h = {.rank = 0};
    CR_TRY(parse_header((const char *)b + prefix, header_len, what, &h));
    cnnrun_dtype dtype;
    if (is_two_byte_record(h.descr))
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "%s: .npy dtype descr '%s' is an untyped 2-byte record (how NumPy saves "
                        "ml_dtypes' bfloat16, whose type it cannot record); give bfloat16 data as an "
                        "ONNX TensorProto .pb file, or as float32",
                        what, h.descr);
    if (!descr_to_dtype(h.descr, &dtype))
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "%s: .npy dtype descr '%s' is not supported; supported (little-endian): %s",
                        what, h.descr, supported_descrs);

    char shape[200];
    int64_t count;
    size_t bytes;
    if (!cr_shape_count(h.rank, h.dims, &count))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: .npy shape %s has more elements than fit in 64 bits", what,
                        cr_shape_str(h.rank, h.dims, shape, sizeof shape));
    if (!cr_shape_bytes(dtype, h.rank, h.dims, &bytes))
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                        "%s: .npy array of shape %s (%s) exceeds the limit of %llu bytes", what,
                        cr_shape_str(h.rank, h.dims, shape, sizeof shape), cnnrun_dtype_name(dtype),
                        (unsigned long long)CR_MAX_TENSOR_BYTES);
    size_t data_off = prefix + header_len, found = size - data_off;
    if (found != bytes)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: .npy data of shape %s (%s): expected %zu bytes, found %zu", what,
                        cr_shape_str(h.rank, h.dims, shape, sizeof shape), cnnrun_dtype_name(dtype),
                        bytes, found);

    void *buf = cr_aligned_alloc(bytes);
    if (!buf)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for the array",
                        what, bytes);
    if (h.fortran_order && h.rank > 1 && count > 0)
        fortran_to_c(b + data_off, buf, h.rank, h.dims, (size_t)count, cnnrun_dtype_size(dtype));
    else if (bytes)
        memcpy(buf, b + data_off, bytes);

    out->dtype = dtype;
    out->rank = (size_t)h.rank;
    memset(out->shape, 0, sizeof out->shape);
    memcpy(out->shape, h.dims, (size_t)h.rank * sizeof h.dims[0]);
    out->data = buf;
    out->nbytes = bytes;
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The header dict as numpy writes it, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape':
 * (2, 3), }". Returns its length, or 0 if cap is too small. */
static size_t format_header_dict(char *buf, size_t cap, const char *descr, int rank,
                                 const int64_t *dims)
{
    size_t n = 0;
    int w = snprintf(buf, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    if (w < 0 || (size_t)w >= cap) return 0;
    n = (size_t)w;
    for (int i = 0; i < rank; i++) {
        /* A one-element tuple needs its trailing comma: (5,) */
        w = snprintf(buf + n, cap - n, "%s%" PRId64 "%s", i ? ", " : "", dims[i],
                     rank == 1 ? "," : "");
        if (w < 0 || (size_t)w >= cap - n) return 0;
        n += (size_t)w;
    }
    w = snprintf(buf + n, cap - n, "), }");
    if (w < 0 || (size_t)w >= cap - n) return 0;
    return n + (size_t)w;
}

static cnnrun_status *write_all(FILE *f, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, f) != n)
        return cr_error(CNNRUN_ERR_IO, "error writing .npy file '%s': %s", path, strerror(errno));
    return NULL;
}

cnnrun_status *cnnrun_npy_save(const char *path, const cnnrun_tensor *tensor)
{
    if (!path || !tensor)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cnnrun_npy_save: path and tensor must not be NULL");
    if (tensor->rank > CNNRUN_MAX_RANK)
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT, "cannot save '%s': rank %zu exceeds %d", path,
                        tensor->rank, CNNRUN_MAX_RANK);
    const char *descr = dtype_to_descr(tensor->dtype);
    if (!descr && tensor->dtype == CNNRUN_BFLOAT16)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "cannot save '%s': dtype bfloat16 has no .npy form (NumPy has no bfloat16 "
                        "dtype); Cast the output to float32 in the model, which is exact",
                        path);
    if (!descr)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "cannot save '%s': dtype %s has no .npy form here",
                        path, cnnrun_dtype_name(tensor->dtype));
    int rank = (int)tensor->rank;
    size_t bytes;
    char shape[200];
    if (!cr_shape_bytes(tensor->dtype, rank, tensor->shape, &bytes))
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                        "cannot save '%s': shape %s is invalid or exceeds the size limit", path,
                        cr_shape_str(rank, tensor->shape, shape, sizeof shape));
    if (tensor->nbytes < bytes || (bytes && !tensor->data))
        return cr_error(CNNRUN_ERR_INVALID_ARGUMENT,
                        "cannot save '%s': shape %s of %s needs %zu bytes, the tensor holds %zu", path,
                        cr_shape_str(rank, tensor->shape, shape, sizeof shape),
                        cnnrun_dtype_name(tensor->dtype), bytes, tensor->data ? tensor->nbytes : 0);

    char dict[512];
    size_t dict_len = format_header_dict(dict, sizeof dict - NPY_ALIGN - 1, descr, rank, tensor->shape);
    if (!dict_len) return cr_error(CNNRUN_ERR_INTERNAL, "cannot format the .npy header for '%s'", path);
    /* Pad with spaces and end with '\n' so that the data start at a multiple of 64 bytes. */
    size_t prefix = 10;
    size_t total = prefix + dict_len + 1;
    size_t pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    if (dict_len + pad + 1 > 65535) { /* unreachable at rank <= 8, kept for format fidelity */
        prefix = 12;
        total = prefix + dict_len + 1;
        pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    }
    memset(dict + dict_len, ' ', pad);
    dict[dict_len + pad] = '\n';
    size_t header_len = dict_len + pad + 1;

    unsigned char pre[12];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = prefix == 10 ? 1 : 2;
    pre[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++) pre[8 + i] = (unsigned char)(header_len >> (8 * i));

    FILE *f = fopen(path, "wb");
    if (!f) return cr_error(CNNRUN_ERR_IO, "cannot create .npy file '%s': %s", path, strerror(errno));
    cnnrun_status *st = write_all(f, pre, prefix, path);
    if (!st) st = write_all(f, dict, header_len, path);
    if (!st) st = write_all(f, tensor->data, bytes, path);
    if (fclose(f) != 0 && !st)
        st = cr_error(CNNRUN_ERR_IO, "error closing .npy file '%s': %s", path, strerror(errno));
    if (st) remove(path); /* never leave a half-written file behind */
    return st;
}
