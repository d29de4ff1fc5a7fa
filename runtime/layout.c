/* Memory layouts of planned values: plain row-major, or a oneDNN memory descriptor. */
#include "layout.h"

#include <stdio.h>
#include <string.h>

#include "exec_env.h"
#include "tensor.h"

static bool has_layout(const cr_tensor *t)
{
    return t->layout && !t->layout->plain;
}

/* Whether md is a dense blocked descriptor without inner blocks whose strides, over every dim
 * larger than 1, are row-major ones. */
static bool md_is_row_major(const dnnl_memory_desc_t *md, int rank, const int64_t *dims)
{
    if (md->format_kind != dnnl_blocked || md->ndims != rank || md->offset0 != 0) return false;
    const dnnl_blocking_desc_t *blk = &md->format_desc.blocking;
    if (blk->inner_nblks != 0) return false;
    int64_t expect = 1;
    for (int d = rank - 1; d >= 0; d--) {
        if (md->padded_dims[d] != dims[d]) return false;
        if (dims[d] != 1 && blk->strides[d] != expect) return false;
        expect *= dims[d];
    }
    return true;
}

bool cr_layout_is_plain(const cr_tensor *t)
{
    return !has_layout(t) || md_is_row_major(&t->layout->md, t->rank, t->dims);
}

bool cr_layout_same(const cr_tensor *a, const cr_layout *b)
{
    bool a_plain = cr_layout_is_plain(a);
    if (!b || b->plain) return a_plain;
    if (a_plain) return md_is_row_major(&b->md, a->rank, a->dims);
    return dnnl_memory_desc_equal(&a->layout->md, &b->md) != 0;
}

size_t cr_layout_bytes(const cr_tensor *t)
{
    if (has_layout(t)) {
        size_t bytes = dnnl_memory_desc_get_size(&t->layout->md);
        size_t dense = cr_tensor_bytes(t);
        return bytes > dense ? bytes : dense;
    }
    return cr_tensor_bytes(t);
}

cnnrun_status *cr_layout_md(const cr_tensor *t, dnnl_memory_desc_t *md)
{
    if (has_layout(t)) {
        *md = t->layout->md;
        return NULL;
    }
    if (t->rank < 1 || t->rank > DNNL_MAX_NDIMS)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "oneDNN handles ranks 1 to %d, found rank %d",
                        DNNL_MAX_NDIMS, t->rank);
    dnnl_dims_t dims, strides;
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        dims[d] = t->dims[d];
        strides[d] = s;
        s *= t->dims[d] > 0 ? t->dims[d] : 1;
    }
    return cr_dnnl_check(dnnl_memory_desc_init_by_strides(md, t->rank, dims, dnnl_f32, strides),
                         "memory descriptor creation");
}

/* The dims in decreasing order of stride as letters (a = dim 0), upper case for blocked dims,
 * followed by the inner blocks: oneDNN's own tag notation ("acdb", "aBcd16b"). */
static void md_tag(const dnnl_memory_desc_t *md, char *buf, size_t size)
{
    const dnnl_blocking_desc_t *blk = &md->format_desc.blocking;
    int order[DNNL_MAX_NDIMS];
    bool blocked[DNNL_MAX_NDIMS] = {false};
    for (int i = 0; i < blk->inner_nblks; i++) blocked[blk->inner_idxs[i]] = true;
    for (int d = 0; d < md->ndims; d++) order[d] = d;
    for (int i = 1; i < md->ndims; i++) /* stable insertion sort by decreasing stride */
        for (int j = i; j > 0 && blk->strides[order[j]] > blk->strides[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    size_t used = 0;
    for (int i = 0; i < md->ndims && used + 1 < size; i++)
        buf[used++] = (char)((blocked[order[i]] ? 'A' : 'a') + order[i]);
    buf[used] = '\0';
    for (int i = 0; i < blk->inner_nblks && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%lld%c", (long long)blk->inner_blks[i],
                                 (char)('a' + blk->inner_idxs[i]));
}

void cr_layout_describe(const cr_tensor *t, char *buf, size_t size)
{
    if (cr_layout_is_plain(t)) {
        snprintf(buf, size, "plain");
        return;
    }
    const dnnl_memory_desc_t *md = &t->layout->md;
    if (md->format_kind != dnnl_blocked) {
        snprintf(buf, size, "opaque");
        return;
    }
    char tag[64];
    md_tag(md, tag, sizeof tag);
    /* the names users know for the common activation layouts */
    static const struct { const char *tag, *name; } known[] = {
        {"acb", "nwc"},       {"acdb", "nhwc"},         {"acdeb", "ndhwc"},
        {"aBc16b", "nCw16c"}, {"aBcd16b", "nChw16c"},   {"aBcde16b", "nCdhw16c"},
        {"aBcd8b", "nChw8c"}, {"ABcd16b16a", "NChw16n16c"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(tag, known[i].tag) == 0) {
            snprintf(buf, size, "%s", known[i].name);
            return;
        }
    snprintf(buf, size, "%s", tag);
}
