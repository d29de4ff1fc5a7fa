/* libhdf5 behind a small interface. The image is opened with the "core" (memory) driver, so no
 * temporary file is written. libhdf5 prints its error stack to stderr by default; that is turned
 * off while a file is open (our statuses say what failed), and restored at close. */
#include "hdf5_reader.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string attribute longer than this is refused (Keras splits its own at 64 KiB; a model_config
 * of a large network is a few MB at most). */
#define MAX_ATTR_STRING ((size_t)256 << 20)
/* Split attributes: attr0 .. attr<N-1>. */
#define MAX_ATTR_PARTS 100000

struct cr_hdf5 {
    hid_t file;
    char what[256];
    H5E_auto2_t saved_func;
    void *saved_data;
};

static pthread_mutex_t hdf5_lock = PTHREAD_MUTEX_INITIALIZER;

bool cr_hdf5_has_magic(const void *data, size_t size)
{
    return size >= 8 && memcmp(data, "\x89HDF\r\n\x1a\n", 8) == 0;
}

cnnrun_status *cr_hdf5_open(const void *data, size_t size, const char *what, cr_hdf5 **out)
{
    *out = NULL;
    cr_hdf5 *f = calloc(1, sizeof *f);
    if (!f) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory opening HDF5", what);
    snprintf(f->what, sizeof f->what, "%s", what);
    pthread_mutex_lock(&hdf5_lock);
    H5Eget_auto2(H5E_DEFAULT, &f->saved_func, &f->saved_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f->file = H5I_INVALID_HID;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)(uintptr_t)data, size) >= 0)
        f->file = H5Fopen(what, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f->file < 0) {
        cr_hdf5_close(f);
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: not a readable HDF5 file (%zu bytes; truncated or corrupt?)", what, size);
    }
    *out = f;
    return NULL;
}

void cr_hdf5_close(cr_hdf5 *f)
{
    if (!f) return;
    if (f->file >= 0) H5Fclose(f->file);
    H5Eset_auto2(H5E_DEFAULT, f->saved_func, f->saved_data);
    pthread_mutex_unlock(&hdf5_lock);
    free(f);
}

bool cr_hdf5_exists(cr_hdf5 *f, const char *path)
{
    /* H5Lexists checks one link at a time: every prefix of the path must exist first */
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return false;
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (H5Lexists(f->file, buf, H5P_DEFAULT) <= 0) return false;
            *p = c;
            if (!c) break;
        }
    }
    return H5Oexists_by_name(f->file, path, H5P_DEFAULT) > 0;
}

static cnnrun_status *h5_fail(const cr_hdf5 *f, const char *path, const char *detail)
{
    return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: HDF5 object '%s': %s", f->what, path, detail);
}

/* Reads every element of a string attribute (scalar or 1-D) into a malloc'd list. */
static cnnrun_status *read_string_attr(const cr_hdf5 *f, const char *path, hid_t attr,
                                       char ***out, size_t *count)
{
    cnnrun_status *st = NULL;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr), mem = H5I_INVALID_HID;
    char **list = NULL;
    size_t n = 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank == 1 && H5Sget_simple_extent_npoints(space) == 0) {
        /* h5py writes an empty list (a layer without weights) as an empty float array */
        list = calloc(1, sizeof *list);
        if (!list) st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory reading attributes", f->what);
        goto done;
    }
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING) {
        st = h5_fail(f, path, "an attribute Keras writes as a string has another type");
        goto done;
    }
    hsize_t dims[1] = {1};
    if (rank < 0 || rank > 1 || (rank == 1 && H5Sget_simple_extent_dims(space, dims, NULL) < 0)) {
        st = h5_fail(f, path, "a string attribute is not a scalar or a list");
        goto done;
    }
    n = rank == 0 ? 1 : (size_t)dims[0];
    list = calloc(n ? n : 1, sizeof *list);
    if (!list) {
        st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory reading attributes", f->what);
        goto done;
    }
    if (H5Tis_variable_str(type) > 0) {
        mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        char **raw = calloc(n ? n : 1, sizeof *raw);
        if (!raw || H5Aread(attr, mem, raw) < 0) {
            free(raw);
            st = h5_fail(f, path, "cannot read a variable-length string attribute");
            goto done;
        }
        for (size_t i = 0; i < n && !st; i++) {
            list[i] = strdup(raw[i] ? raw[i] : "");
            if (!list[i]) st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->what);
        }
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, raw);
        free(raw);
    } else {
        size_t len = H5Tget_size(type);
        if (len == 0 || len > MAX_ATTR_STRING || n > MAX_ATTR_STRING / len) {
            st = h5_fail(f, path, "a string attribute has an implausible size");
            goto done;
        }
        mem = H5Tcopy(type);
        char *raw = malloc(len * n + 1);
        if (!raw || H5Aread(attr, mem, raw) < 0) {
            free(raw);
            st = h5_fail(f, path, "cannot read a fixed-length string attribute");
            goto done;
        }
        for (size_t i = 0; i < n && !st; i++) {
            /* fixed-length strings are NUL-padded, not necessarily NUL-terminated */
            list[i] = strndup(raw + i * len, len);
            if (!list[i]) st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->what);
        }
        free(raw);
    }
done:
    if (mem >= 0) H5Tclose(mem);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (st) {
        cr_hdf5_free_strings(list, n);
        return st;
    }
    *out = list;
    *count = n;
    return NULL;
}

/* Opens attribute `name` of the object at path; H5I_INVALID_HID when either is absent. */
static hid_t open_attr(cr_hdf5 *f, const char *path, const char *name)
{
    if (!cr_hdf5_exists(f, path)) return H5I_INVALID_HID;
    if (H5Aexists_by_name(f->file, path, name, H5P_DEFAULT) <= 0) return H5I_INVALID_HID;
    return H5Aopen_by_name(f->file, path, name, H5P_DEFAULT, H5P_DEFAULT);
}

cnnrun_status *cr_hdf5_attr_string(cr_hdf5 *f, const char *path, const char *attr, bool *found,
                                   char **out)
{
    *found = false;
    *out = NULL;
    hid_t a = open_attr(f, path, attr);
    if (a < 0) return NULL;
    char **list = NULL;
    size_t n = 0;
    cnnrun_status *st = read_string_attr(f, path, a, &list, &n);
    H5Aclose(a);
    if (st) return st;
    if (n != 1) {
        cr_hdf5_free_strings(list, n);
        return h5_fail(f, path, "a string attribute holds a list where one string is expected");
    }
    *out = list[0];
    free(list);
    *found = true;
    return NULL;
}

/* Appends src (consumed) to *dst. */
static cnnrun_status *append_strings(char ***dst, size_t *n, char **src, size_t m)
{
    char **grown = realloc(*dst, (*n + m + 1) * sizeof **dst);
    if (!grown) {
        cr_hdf5_free_strings(src, m);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "out of memory reading attributes");
    }
    memcpy(grown + *n, src, m * sizeof *src);
    free(src);
    *dst = grown;
    *n += m;
    return NULL;
}

cnnrun_status *cr_hdf5_attr_strings(cr_hdf5 *f, const char *path, const char *attr, char ***out,
                                    size_t *count)
{
    *out = NULL;
    *count = 0;
    hid_t a = open_attr(f, path, attr);
    if (a >= 0) {
        cnnrun_status *st = read_string_attr(f, path, a, out, count);
        H5Aclose(a);
        return st;
    }
    char name[300];
    for (int part = 0; part < MAX_ATTR_PARTS; part++) {
        snprintf(name, sizeof name, "%.250s%d", attr, part);
        a = open_attr(f, path, name);
        if (a < 0) break;
        char **list = NULL;
        size_t n = 0;
        cnnrun_status *st = read_string_attr(f, path, a, &list, &n);
        H5Aclose(a);
        if (!st) st = append_strings(out, count, list, n);
        if (st) {
            cr_hdf5_free_strings(*out, *count);
            *out = NULL;
            *count = 0;
            return st;
        }
    }
    return NULL;
}

void cr_hdf5_free_strings(char **list, size_t count)
{
    if (!list) return;
    for (size_t i = 0; i < count; i++) free(list[i]);
    free(list);
}

cnnrun_status *cr_hdf5_read_float(cr_hdf5 *f, const char *path, cr_tensor **out)
{
    *out = NULL;
    if (!cr_hdf5_exists(f, path)) return h5_fail(f, path, "no such dataset");
    hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
    if (d < 0) return h5_fail(f, path, "is not a dataset");
    cnnrun_status *st = NULL;
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t hd[CR_MAX_RANK];
    int64_t dims[CR_MAX_RANK];
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        st = h5_fail(f, path, "is not a numeric dataset");
    } else if (rank < 0 || rank > CR_MAX_RANK) {
        st = h5_fail(f, path, "has an unreadable shape or a rank over 8");
    } else if (H5Sget_simple_extent_dims(space, hd, NULL) < 0) {
        st = h5_fail(f, path, "has an unreadable shape");
    } else {
        size_t bytes;
        for (int i = 0; i < rank; i++) dims[i] = hd[i] > (hsize_t)INT64_MAX ? -1 : (int64_t)hd[i];
        if (!cr_shape_bytes(CNNRUN_FLOAT32, rank, dims, &bytes)) {
            st = h5_fail(f, path, "is too large");
        } else {
            *out = cr_tensor_new(CNNRUN_FLOAT32, rank, dims, &st);
            if (*out && bytes && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, (*out)->data) < 0) {
                cr_tensor_free(*out);
                *out = NULL;
                st = h5_fail(f, path, "cannot be read (corrupt or truncated file?)");
            }
        }
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(d);
    return st;
}
