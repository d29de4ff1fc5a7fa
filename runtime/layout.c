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
    if (md->format_kind != dnnl_blocked || md->ndims != rank || md->offset0 != 0 ||
        md->data_type != dnnl_f32)
        return false;
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

/* Element strides of each dim of a plain or unblocked dense tensor. */
static bool element_strides(const cr_tensor *t, int64_t *strides)
{
    if (cr_layout_is_plain(t)) {
        int64_t s = 1;
        for (int d = t->rank - 1; d >= 0; d--) {
            strides[d] = s;
            s *= t->dims[d];
        }
        return true;
    }
    const dnnl_memory_desc_t *md = &t->layout->md;
    if (md->format_kind != dnnl_blocked || md->ndims != t->rank || md->offset0 != 0 ||
        md->format_desc.blocking.inner_nblks != 0 || md->data_type != dnnl_f32)
        return false;
    for (int d = 0; d < t->rank; d++) {
        if (md->padded_dims[d] != t->dims[d]) return false;
        strides[d] = md->format_desc.blocking.strides[d];
    }
    return true;
}

/* Whether strides are those of a row-major array of dims taken in `order` (dims of size 1 may
 * have any stride). */
static bool row_major_in_order(int rank, const int64_t *dims, const int64_t *strides, const int *order)
{
    int64_t expect = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int d = order[i];
        if (dims[d] != 1 && strides[d] != expect) return false;
        expect *= dims[d];
    }
    return true;
}

bool cr_layout_order(const cr_tensor *t, int *order)
{
    int64_t strides[CR_MAX_RANK];
    if (t->rank < 1 || !element_strides(t, strides)) return false;
    /* The dims larger than 1 by decreasing stride; dims of size 1 occupy no memory and keep
     * their logical places. */
    int sorted[CR_MAX_RANK], n = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] == 1) continue;
        int j = n++;
        for (; j > 0 && strides[sorted[j - 1]] < strides[d]; j--) sorted[j] = sorted[j - 1];
        sorted[j] = d;
    }
    for (int d = 0, k = 0; d < t->rank; d++) order[d] = t->dims[d] == 1 ? d : sorted[k++];
    return row_major_in_order(t->rank, t->dims, strides, order);
}

bool cr_layout_row_major_in(const cr_tensor *t, int rank, const int *order)
{
    int64_t own[CR_MAX_RANK], dims[CR_MAX_RANK], strides[CR_MAX_RANK];
    if (t->rank > rank || !element_strides(t, own)) return false;
    int lead = rank - t->rank;
    for (int d = 0; d < rank; d++) {
        dims[d] = d < lead ? 1 : t->dims[d - lead];
        strides[d] = d < lead ? 0 : own[d - lead];
    }
    return row_major_in_order(rank, dims, strides, order);
}

cnnrun_status *cr_layout_set_order(cr_layout *l, int rank, const int64_t *dims, const int *order)
{
    if (rank < 1 || rank > DNNL_MAX_NDIMS)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "oneDNN handles ranks 1 to %d, found rank %d",
                        DNNL_MAX_NDIMS, rank);
    dnnl_dims_t d, s;
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        s[order[i]] = stride;
        stride *= dims[order[i]] > 0 ? dims[order[i]] : 1;
    }
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    l->plain = false;
    return cr_dnnl_check(dnnl_memory_desc_init_by_strides(&l->md, rank, d, dnnl_f32, s),
                         "memory descriptor creation");
}

bool cr_layout_dense(const cr_tensor *t)
{
    return !has_layout(t) || (t->layout->md.data_type == dnnl_f32 &&
                              dnnl_memory_desc_get_size(&t->layout->md) == cr_tensor_bytes(t));
}

bool cr_layout_f32_twin(const cr_tensor *t, cr_layout *twin)
{
    if (!has_layout(t)) return false;
    const dnnl_memory_desc_t *md = &t->layout->md;
    if (md->data_type == dnnl_f32 || md->format_kind != dnnl_blocked || md->ndims != t->rank ||
        md->offset0 != 0 || md->format_desc.blocking.inner_nblks != 0)
        return false;
    for (int d = 0; d < t->rank; d++)
        if (md->padded_dims[d] != t->dims[d]) return false;
    twin->plain = false;
    return dnnl_memory_desc_init_by_strides(&twin->md, md->ndims, md->dims, dnnl_f32,
                                            md->format_desc.blocking.strides) == dnnl_success;
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
    const char *type = md->data_type == dnnl_bf16 ? " bf16" : md->data_type == dnnl_f32 ? "" : " ?";
    /* the names users know for the common activation layouts */
    static const struct { const char *tag, *name; } known[] = {
        {"acb", "nwc"},       {"acdb", "nhwc"},         {"acdeb", "ndhwc"},
        {"aBc16b", "nCw16c"}, {"aBcd16b", "nChw16c"},   {"aBcde16b", "nCdhw16c"},
        {"aBcd8b", "nChw8c"}, {"ABcd16b16a", "NChw16n16c"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(tag, known[i].tag) == 0) {
            snprintf(buf, size, "%s%s", known[i].name, type);
            return;
        }
    snprintf(buf, size, "%s%s", tag, type);
}
