/* Whole-file reads with a size bound. */
#include "file_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cnnrun_status *cr_read_file(const char *path, const char *what, size_t max_bytes, void **data,
                            size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cr_error(CNNRUN_ERR_IO, "cannot open %s file '%s': %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cr_error(CNNRUN_ERR_IO, "%s file '%s' is not a regular file", what, path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return cr_error(CNNRUN_ERR_IO, "%s file '%s' is %lld bytes; the limit is %zu", what, path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes to read %s file '%s'",
                        n, what, path);
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (got != n || failed) {
        free(buf);
        return cr_error(CNNRUN_ERR_IO, "error reading %s file '%s'", what, path);
    }
    *data = buf;
    *size = n;
    return NULL;
}
