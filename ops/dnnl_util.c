/* oneDNN helpers shared by the Conv, pooling, Gemm and MatMul ops, and sliding-window geometry. */
#include "dnnl_util.h"

#include <stdio.h>
#include <string.h>

#include "op_util.h"

static cnnrun_status *check_rank(int rank)
{
    if (rank < 1 || rank > DNNL_MAX_NDIMS)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "oneDNN handles ranks 1 to %d, found rank %d",
                        DNNL_MAX_NDIMS, rank);
    return NULL;
}

cnnrun_status *cr_dnnl_md_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims)
{
    int64_t strides[DNNL_MAX_NDIMS];
    CR_TRY(check_rank(rank));
    cr_strides(rank, dims, strides);
    return cr_dnnl_md_strided(md, rank, dims, strides);
}

cnnrun_status *cr_dnnl_md_plain_typed(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                                      dnnl_data_type_t type)
{
    int64_t strides[DNNL_MAX_NDIMS];
    dnnl_dims_t d, s;
    CR_TRY(check_rank(rank));
    cr_strides(rank, dims, strides);
    for (int i = 0; i < rank; i++) {
        d[i] = dims[i];
        s[i] = strides[i];
    }
    return cr_dnnl_check(dnnl_memory_desc_init_by_strides(md, rank, d, type, s),
                         "memory descriptor creation");
}

cnnrun_status *cr_dnnl_md_strided(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                                  const int64_t *strides)
{
    dnnl_dims_t d, s;
    CR_TRY(check_rank(rank));
    for (int i = 0; i < rank; i++) {
        d[i] = dims[i];
        s[i] = strides[i];
    }
    return cr_dnnl_check(dnnl_memory_desc_init_by_strides(md, rank, d, dnnl_f32, s),
                         "memory descriptor creation");
}

cnnrun_status *cr_dnnl_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims)
{
    return cr_dnnl_md_any_typed(md, rank, dims, dnnl_f32);
}

cnnrun_status *cr_dnnl_md_any_typed(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t type)
{
    dnnl_dims_t d;
    CR_TRY(check_rank(rank));
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    return cr_dnnl_check(dnnl_memory_desc_init_by_tag(md, rank, d, type, dnnl_format_tag_any),
                         "memory descriptor creation");
}

cnnrun_status *cr_dnnl_attr_create(dnnl_primitive_attr_t *attr)
{
    CR_TRY(cr_dnnl_check(dnnl_primitive_attr_create(attr), "attribute creation"));
    cnnrun_status *st = cr_dnnl_check(
        dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
        "setting the user scratchpad mode");
    if (st) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

static cnnrun_status *add_memory(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                 const dnnl_memory_desc_t *md, void *data)
{
    if (p->n_args >= CR_DNNL_MAX_ARGS)
        return cr_error(CNNRUN_ERR_INTERNAL, "too many oneDNN arguments (at most %d)",
                        CR_DNNL_MAX_ARGS);
    dnnl_memory_t mem;
    CR_TRY(cr_dnnl_check(dnnl_memory_create(&mem, md, env->engine, data ? data : DNNL_MEMORY_NONE),
                         "memory creation"));
    p->args[p->n_args].arg = arg;
    p->args[p->n_args].memory = mem;
    p->owned[p->n_args] = NULL;
    p->n_args++;
    return NULL;
}

/* The primitive of p->pd and its user-mode scratchpad argument. */
static cnnrun_status *make_primitive(cr_dnnl_prim *p, const cr_exec_env *env, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s primitive creation", what);
    CR_TRY(cr_dnnl_check(dnnl_primitive_create(&p->prim, p->pd), msg));
    const dnnl_memory_desc_t *scratch_md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = scratch_md ? dnnl_memory_desc_get_size(scratch_md) : 0;
    if (p->scratch_bytes > 0) CR_TRY(add_memory(p, env, DNNL_ARG_SCRATCHPAD, scratch_md, NULL));
    return NULL;
}

cnnrun_status *cr_dnnl_prim_create(cr_dnnl_prim *p, const cr_exec_env *env, const void *op_desc,
                                   const_dnnl_primitive_attr_t attr, const char *what)
{
    memset(p, 0, sizeof *p);
    dnnl_primitive_attr_t own_attr = NULL;
    if (!attr) {
        CR_TRY(cr_dnnl_attr_create(&own_attr));
        attr = own_attr;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%s primitive descriptor creation", what);
    cnnrun_status *st =
        cr_dnnl_check(dnnl_primitive_desc_create(&p->pd, op_desc, attr, env->engine, NULL), msg);
    if (own_attr) dnnl_primitive_attr_destroy(own_attr);
    if (st) {
        p->pd = NULL;
        return st;
    }
    return make_primitive(p, env, what);
}

static const dnnl_memory_desc_t *arg_md(const cr_dnnl_prim *p, int arg)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg);
    return md && md->ndims > 0 ? md : NULL;
}

cnnrun_status *cr_dnnl_prim_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg, void *data)
{
    const dnnl_memory_desc_t *md = arg_md(p, arg);
    if (!md) return cr_error(CNNRUN_ERR_INTERNAL, "oneDNN reports no memory for argument %d", arg);
    return add_memory(p, env, arg, md, data);
}

cnnrun_status *cr_dnnl_prim_arg_md(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                   const dnnl_memory_desc_t *md, void *data)
{
    return add_memory(p, env, arg, md, data);
}

/* Runs a one-off reorder (prepare time only, so the library-managed scratchpad is fine). */
static cnnrun_status *reorder_once(const cr_exec_env *env, const dnnl_memory_desc_t *src_md,
                                   const void *src, const dnnl_memory_desc_t *dst_md, void *dst)
{
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t src_mem = NULL, dst_mem = NULL;
    cnnrun_status *st = cr_dnnl_check(
        dnnl_reorder_primitive_desc_create(&rpd, src_md, env->engine, dst_md, env->engine, NULL),
        "weight reorder descriptor creation");
    if (!st) st = cr_dnnl_check(dnnl_primitive_create(&reorder, rpd), "weight reorder creation");
    if (!st)
        st = cr_dnnl_check(dnnl_memory_create(&src_mem, src_md, env->engine, (void *)src),
                           "memory creation");
    if (!st) st = cr_dnnl_check(dnnl_memory_create(&dst_mem, dst_md, env->engine, dst), "memory creation");
    if (!st) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src_mem}, {DNNL_ARG_TO, dst_mem}};
        st = cr_dnnl_check(dnnl_primitive_execute(reorder, env->stream, 2, args), "weight reorder");
        if (!st) st = cr_dnnl_check(dnnl_stream_wait(env->stream), "weight reorder");
    }
    if (dst_mem) dnnl_memory_destroy(dst_mem);
    if (src_mem) dnnl_memory_destroy(src_mem);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return st;
}

cnnrun_status *cr_dnnl_prim_const_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                      const dnnl_memory_desc_t *user_md, const void *data)
{
    const dnnl_memory_desc_t *md = arg_md(p, arg);
    if (!md) return cr_error(CNNRUN_ERR_INTERNAL, "oneDNN reports no memory for argument %d", arg);
    size_t bytes = dnnl_memory_desc_get_size(md);
    if (bytes > CR_MAX_TENSOR_BYTES)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "packed weights would take %zu bytes", bytes);
    void *packed = cr_aligned_alloc(bytes);
    if (!packed) return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of packed weights", bytes);
    cnnrun_status *st = reorder_once(env, user_md, data, md, packed);
    if (!st) st = add_memory(p, env, arg, md, packed);
    if (st) {
        cr_aligned_free(packed);
        return st;
    }
    p->owned[p->n_args - 1] = packed;
    return NULL;
}

const char *cr_dnnl_prim_impl(const cr_dnnl_prim *p)
{
    const char *impl = NULL;
    if (!p->pd || dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
        return NULL;
    return impl;
}

const dnnl_memory_desc_t *cr_dnnl_prim_md(const cr_dnnl_prim *p, int arg)
{
    return arg_md(p, arg);
}

cnnrun_status *cr_dnnl_reorder_create(cr_dnnl_prim *p, const cr_exec_env *env,
                                      const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md)
{
    memset(p, 0, sizeof *p);
    dnnl_primitive_attr_t attr;
    CR_TRY(cr_dnnl_attr_create(&attr));
    cnnrun_status *st = cr_dnnl_check(
        dnnl_reorder_primitive_desc_create(&p->pd, src_md, env->engine, dst_md, env->engine, attr),
        "reorder primitive descriptor creation");
    dnnl_primitive_attr_destroy(attr);
    if (st) {
        p->pd = NULL;
        return st;
    }
    CR_TRY(make_primitive(p, env, "reorder"));
    CR_TRY(add_memory(p, env, DNNL_ARG_FROM, src_md, NULL));
    return add_memory(p, env, DNNL_ARG_TO, dst_md, NULL);
}

cnnrun_status *cr_dnnl_attr_with_post_ops(const cr_op_ctx *ctx, dnnl_primitive_attr_t *attr)
{
    CR_TRY(cr_dnnl_attr_create(attr));
    if (ctx->n_post == 0) return NULL;
    dnnl_post_ops_t ops;
    cnnrun_status *st = cr_dnnl_check(dnnl_post_ops_create(&ops), "post-op creation");
    for (int i = 0; !st && i < ctx->n_post; i++) {
        const cr_post_op *po = &ctx->post[i];
        st = cr_dnnl_check(po->kind == CR_POST_SUM
                               ? dnnl_post_ops_append_sum(ops, 1.0f)
                               : dnnl_post_ops_append_eltwise(ops, 1.0f, po->alg, po->alpha, po->beta),
                           "post-op creation");
    }
    if (!st) st = cr_dnnl_check(dnnl_primitive_attr_set_post_ops(*attr, ops), "post-op creation");
    if (ops) dnnl_post_ops_destroy(ops);
    if (st) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

void cr_dnnl_want_input(cr_op_ctx *ctx, int input, const dnnl_memory_desc_t *chosen)
{
    if (!chosen) return;
    cr_layout want = {.plain = false, .md = *chosen};
    cr_op_want_layout(ctx, input, &want);
}

void cr_dnnl_set_output_layout(cr_op_ctx *ctx, int output, const dnnl_memory_desc_t *md)
{
    cr_tensor *t = ctx->out[output];
    if (!ctx->layouts_allowed || !t || !t->layout) return;
    t->layout->plain = false;
    t->layout->md = *md;
    if (cr_layout_is_plain(t)) t->layout->plain = true;
}

cnnrun_status *cr_dnnl_input_md(const cr_op_ctx *ctx, int input, dnnl_memory_desc_t *md)
{
    const cr_tensor *t = ctx->in[input];
    if (ctx->layouts_allowed) return cr_layout_md(t, md);
    return cr_dnnl_md_plain(md, t->rank, t->dims);
}

cnnrun_status *cr_dnnl_prim_shared_const_arg(cr_dnnl_prim *p, const cr_exec_env *env, int arg,
                                             const dnnl_memory_desc_t *user_md, const void *data)
{
    const dnnl_memory_desc_t *md = arg_md(p, arg);
    if (!md) return cr_error(CNNRUN_ERR_INTERNAL, "oneDNN reports no memory for argument %d", arg);
    void *packed = env->weights ? cr_weight_cache_find(env->weights, data, user_md, md) : NULL;
    if (!packed) {
        CR_TRY(cr_dnnl_prim_const_arg(p, env, arg, user_md, data));
        if (!env->weights) return NULL;
        /* hand the buffer just packed over to the cache; its first reference is the primitive's */
        int i = p->n_args - 1;
        void *own = p->owned[i];
        p->owned[i] = NULL;
        CR_TRY(cr_weight_cache_add(env->weights, data, user_md, md, own));
        p->owned[i] = own;
        p->shared[i] = true;
        p->cache = env->weights;
        return NULL;
    }
    cnnrun_status *st = add_memory(p, env, arg, md, packed);
    if (st) {
        cr_weight_cache_release(env->weights, packed);
        return st;
    }
    p->owned[p->n_args - 1] = packed;
    p->shared[p->n_args - 1] = true;
    p->cache = env->weights;
    return NULL;
}

void cr_dnnl_prim_set(cr_dnnl_prim *p, int arg, void *data)
{
    for (int i = 0; i < p->n_args; i++)
        if (p->args[i].arg == arg) dnnl_memory_set_data_handle(p->args[i].memory, data);
}

cnnrun_status *cr_dnnl_prim_execute(cr_dnnl_prim *p, const cr_exec_env *env, void *scratch)
{
    if (p->scratch_bytes > 0) cr_dnnl_prim_set(p, DNNL_ARG_SCRATCHPAD, scratch);
    CR_TRY(cr_dnnl_check(dnnl_primitive_execute(p->prim, env->stream, p->n_args, p->args),
                         "primitive execution"));
    return cr_dnnl_check(dnnl_stream_wait(env->stream), "stream wait");
}

void cr_dnnl_prim_destroy(cr_dnnl_prim *p)
{
    for (int i = 0; i < p->n_args; i++) {
        dnnl_memory_destroy(p->args[i].memory);
        if (p->shared[i]) cr_weight_cache_release(p->cache, p->owned[i]);
        else cr_aligned_free(p->owned[i]);
    }
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof *p);
}

cnnrun_status *cr_dnnl_node_error(const cr_op_ctx *ctx, cnnrun_status *st)
{
    return cr_error_prefix(st, "node '%s' (%s, opset %lld)", ctx->node->name, ctx->node->op_type,
                           (long long)ctx->opset);
}

cnnrun_status *cr_require_f32(const cr_op_ctx *ctx)
{
    static const cnnrun_dtype f32_only[] = {CNNRUN_FLOAT32, CNNRUN_DTYPE_UNDEFINED};
    for (int i = 0; i < ctx->n_in; i++) CR_TRY(cr_op_check_dtype(ctx, i, f32_only));
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Sliding windows
 * ------------------------------------------------------------------------------------------- */

static cnnrun_status *read_dim_attr(const cr_op_ctx *ctx, const char *name, size_t count,
                                    int64_t dflt, int64_t min, int64_t *out)
{
    const int64_t *v;
    size_t n;
    CR_TRY(cr_attr_ints(ctx->node, name, &v, &n));
    if (n == 0) {
        for (size_t i = 0; i < count; i++) out[i] = dflt;
        return NULL;
    }
    if (n != count)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute '%s' has %zu values, expected %zu", name, n, count);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < min || v[i] > ((int64_t)1 << 31))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                               "attribute '%s' value %lld at position %zu is out of range (min %lld)",
                               name, (long long)v[i], i, (long long)min);
        out[i] = v[i];
    }
    return NULL;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

cnnrun_status *cr_window_init(const cr_op_ctx *ctx, int nsp, const int64_t *in_spatial,
                              const int64_t *kernel, bool allow_dilations, bool allow_ceil,
                              cr_window *w)
{
    memset(w, 0, sizeof *w);
    if (nsp < 1 || nsp > CR_WINDOW_MAX_DIMS)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED,
                           "%d spatial dims are not supported (1 to %d)", nsp, CR_WINDOW_MAX_DIMS);
    w->nsp = nsp;
    int64_t pads[2 * CR_WINDOW_MAX_DIMS];
    CR_TRY(read_dim_attr(ctx, "strides", (size_t)nsp, 1, 1, w->stride));
    CR_TRY(read_dim_attr(ctx, "pads", 2 * (size_t)nsp, 0, 0, pads));
    if (allow_dilations) CR_TRY(read_dim_attr(ctx, "dilations", (size_t)nsp, 1, 1, w->dilation));
    else if (cr_node_attr(ctx->node, "dilations"))
        return cr_op_unsupported_attr(ctx, "dilations", "this op has no dilations at this opset");
    else
        for (int i = 0; i < nsp; i++) w->dilation[i] = 1;

    int64_t ceil_mode = 0;
    if (allow_ceil) CR_TRY(cr_attr_int(ctx->node, "ceil_mode", 0, &ceil_mode));
    else if (cr_node_attr(ctx->node, "ceil_mode"))
        return cr_op_unsupported_attr(ctx, "ceil_mode", "ceil_mode only exists from opset 10");
    if (ceil_mode != 0 && ceil_mode != 1)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute 'ceil_mode' must be 0 or 1, found %lld",
                           (long long)ceil_mode);

    const char *auto_pad;
    CR_TRY(cr_attr_string(ctx->node, "auto_pad", "NOTSET", &auto_pad));
    bool same_upper = strcmp(auto_pad, "SAME_UPPER") == 0;
    bool same_lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    bool valid = strcmp(auto_pad, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(auto_pad, "NOTSET") != 0)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                           "attribute 'auto_pad' = '%s'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                           auto_pad);

    for (int i = 0; i < nsp; i++) {
        int64_t in = in_spatial[i], k = kernel[i], s = w->stride[i];
        if (k < 1 || k > ((int64_t)1 << 31))
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "kernel size %lld in spatial dim %d is invalid",
                               (long long)k, i);
        int64_t ek = (k - 1) * w->dilation[i] + 1;
        int64_t pl = 0, pr = 0, out;
        w->in[i] = in;
        w->kernel[i] = k;
        if (same_upper || same_lower) {
            /* auto_pad overrides pads, as ONNX Runtime does */
            out = ceil_div(in, s);
            int64_t total = (out - 1) * s + ek - in;
            if (total < 0) total = 0;
            pl = same_upper ? total / 2 : total - total / 2;
            pr = total - pl;
        } else {
            if (!valid) {
                pl = pads[i];
                pr = pads[nsp + i];
            }
            int64_t span = in + pl + pr - ek;
            if (span < 0) {
                char shape[64];
                return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                                   "the window (extent %lld) is larger than the padded input in "
                                   "spatial dim %d (input spatial shape %s, pads %lld+%lld)",
                                   (long long)ek, i, cr_shape_str(nsp, in_spatial, shape, sizeof shape),
                                   (long long)pl, (long long)pr);
            }
            if (ceil_mode && !valid) {
                out = ceil_div(span, s) + 1;
                /* the last window must start inside the input or the left padding (PyTorch's
                 * rule, adopted by later ONNX versions) */
                if ((out - 1) * s >= in + pl) out--;
            } else {
                out = floor_div(span, s) + 1;
            }
        }
        w->pad_l[i] = pl;
        w->pad_r[i] = pr;
        w->out[i] = out;
        int64_t need_r = (out - 1) * s + ek - in - pl;
        w->pad_r_dnnl[i] = need_r > pr ? need_r : pr;
        if (w->pad_r_dnnl[i] > pr) w->ceil_extended = true;
    }
    return NULL;
}
