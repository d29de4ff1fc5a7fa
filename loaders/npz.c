/* .npz members are .npy files: the zip reader walks the archive, this file checks the names and
 * passes each array on under its name. */
#include "npz.h"

#include <stdlib.h>
#include <string.h>

#include "zip.h"

bool cr_npz_has_magic(const void *data, size_t size)
{
    return cr_zip_has_magic(data, size);
}

typedef struct npz_walk {
    const char *what;
    cr_npz_member_fn fn;
    void *ctx;
} npz_walk;

static cnnrun_status *npz_member(void *ctx, const char *member_name, const void *data, size_t size)
{
    const npz_walk *w = ctx;
    size_t len = strlen(member_name);
    if (len <= 4 || memcmp(member_name + len - 4, ".npy", 4) != 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: member '%s' is not a .npy file (an .npz holds only '<name>.npy')",
                        w->what, member_name);
    char *name = malloc(len - 3);
    if (!name) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: cannot allocate a member name", w->what);
    memcpy(name, member_name, len - 4);
    name[len - 4] = '\0';
    cnnrun_status *st = w->fn(w->ctx, name, member_name, data, size);
    free(name);
    return st;
}

cnnrun_status *cr_npz_read(const void *data, size_t size, const char *what, cr_npz_member_fn fn,
                           void *ctx)
{
    npz_walk w = {.what = what, .fn = fn, .ctx = ctx};
    return cr_zip_read(data, size, what, npz_member, &w);
}
