/* Einsum (opsets 12–17): any number of operands, explicit or implicit output, repeated labels on
 * one operand (diagonals) and '...' broadcasting.
 *
 * The equation is turned into labels: each letter is a label, and each dimension covered by
 * '...' is a label of its own (right-aligned across operands, as NumPy broadcasts). For every
 * operand, a label's stride is the sum of the strides of the dimensions carrying it (a repeated
 * label walks the diagonal) and 0 when the operand lacks it or broadcasts it. Then:
 *   - two operands whose labels split into batch / M / N / K groups (the contractions of real
 *     models: 'bij,bjk->bik', 'ij,jk->ik', the capsule 'ijkl,bil->bijk') run as batched GEMM
 *     (gemm_kernels.h), copying an operand or the result through scratch only when its layout is
 *     not already [batch, M, K] / [batch, K, M] (or the B and C equivalents);
 *   - one operand with no summed label ('ij->ji') is a strided copy;
 *   - everything else runs the general loop: for each output element, sum over the summed
 *     labels' index space (float32 accumulates in double). */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_kernels.h"
#include "op_util.h"

#define EINSUM_MAX_OPERANDS 8
#define EINSUM_LETTERS 52                 /* 'A'-'Z' then 'a'-'z': ids follow ASCII order */
#define EINSUM_MAX_LABELS (EINSUM_LETTERS + CR_MAX_RANK)
#define EINSUM_PARALLEL_MIN 32768

typedef struct einsum_spec {
    int n_ops;
    int rank[EINSUM_MAX_OPERANDS];
    int labels[EINSUM_MAX_OPERANDS][CR_MAX_RANK]; /* label of each dimension */
    int n_out;
    int out_labels[CR_MAX_RANK];
    bool used[EINSUM_MAX_LABELS];
    bool in_out[EINSUM_MAX_LABELS];
    int64_t size[EINSUM_MAX_LABELS];
} einsum_spec;

static int letter_id(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

static char label_char(int id)
{
    return id < 26 ? (char)('A' + id) : id < EINSUM_LETTERS ? (char)('a' + id - 26) : '.';
}

/* Parses one side term into letter ids, with -1 standing for '...'. */
static cnnrun_status *parse_term(const cr_op_ctx *ctx, const char *term, size_t len, int *ids, int *n, bool *ellipsis)
{
    *n = 0;
    *ellipsis = false;
    for (size_t i = 0; i < len; i++) {
        if (term[i] == '.') {
            if (*ellipsis || i + 2 >= len || term[i + 1] != '.' || term[i + 2] != '.')
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL,
                                   "equation: a term has a stray '.' or more than one '...'");
            *ellipsis = true;
            i += 2;
            if (*n >= CR_MAX_RANK + 1)
                return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "equation: a term has more than %d labels", CR_MAX_RANK);
            ids[(*n)++] = -1;
            continue;
        }
        int id = letter_id(term[i]);
        if (id < 0)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "equation: '%c' is not a letter, ',', '->' or '...'",
                               term[i]);
        if (*n >= CR_MAX_RANK + 1)
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "equation: a term has more than %d labels", CR_MAX_RANK);
        ids[(*n)++] = id;
    }
    return NULL;
}

static cnnrun_status *parse_equation(const cr_op_ctx *ctx, einsum_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    const char *eq_attr;
    CR_TRY(cr_attr_string(ctx->node, "equation", NULL, &eq_attr));
    if (!eq_attr) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "attribute equation is required");
    char eq[512];
    size_t len = 0;
    for (const char *c = eq_attr; *c; c++) {
        if (isspace((unsigned char)*c)) continue;
        if (len + 1 >= sizeof eq) return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "equation is longer than %zu characters", sizeof eq - 1);
        eq[len++] = *c;
    }
    eq[len] = '\0';
    if (ctx->n_in < 1 || ctx->n_in > EINSUM_MAX_OPERANDS)
        return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "%d operands; 1 to %d are supported", ctx->n_in, EINSUM_MAX_OPERANDS);
    for (int k = 0; k < ctx->n_in; k++)
        if (!ctx->in[k]) return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d is omitted", k);
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : len;

    /* Left side: one term per operand. */
    int ids[EINSUM_MAX_OPERANDS][CR_MAX_RANK + 1], n_ids[EINSUM_MAX_OPERANDS];
    bool ell[EINSUM_MAX_OPERANDS];
    int n_terms = 0, max_ell = 0;
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && eq[i] != ',') continue;
        if (n_terms >= ctx->n_in)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "equation has more terms than the %d inputs", ctx->n_in);
        CR_TRY(parse_term(ctx, eq + start, i - start, ids[n_terms], &n_ids[n_terms], &ell[n_terms]));
        int letters = n_ids[n_terms] - (ell[n_terms] ? 1 : 0);
        int rank = ctx->in[n_terms]->rank;
        if (ell[n_terms] ? letters > rank : letters != rank)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "equation term %d has %d labels for an input of rank %d",
                               n_terms, letters, rank);
        if (ell[n_terms] && rank - letters > max_ell) max_ell = rank - letters;
        n_terms++;
        start = i + 1;
    }
    if (n_terms != ctx->n_in)
        return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "equation has %d terms for %d inputs", n_terms, ctx->n_in);
    sp->n_ops = n_terms;

    /* Dimension labels and sizes; '...' dims are labels EINSUM_LETTERS + j, right-aligned. */
    int count[EINSUM_MAX_LABELS] = {0};
    for (int k = 0; k < n_terms; k++) {
        const cr_tensor *t = ctx->in[k];
        int rank = t->rank, letters = n_ids[k] - (ell[k] ? 1 : 0), d = 0;
        sp->rank[k] = rank;
        for (int i = 0; i < n_ids[k]; i++) {
            if (ids[k][i] >= 0) {
                sp->labels[k][d++] = ids[k][i];
                continue;
            }
            int e = rank - letters;
            for (int j = 0; j < e; j++) sp->labels[k][d++] = EINSUM_LETTERS + max_ell - e + j;
        }
        for (d = 0; d < rank; d++) {
            int l = sp->labels[k][d];
            int64_t n = t->dims[d];
            count[l]++;
            if (!sp->used[l]) {
                sp->used[l] = true;
                sp->size[l] = n;
            } else if (sp->size[l] != n) {
                if (l >= EINSUM_LETTERS && (n == 1 || sp->size[l] == 1)) {
                    if (n != 1) sp->size[l] = n;
                } else {
                    return cr_op_error(ctx, CNNRUN_ERR_INPUT_MISMATCH,
                                       "label '%c' has size %lld in input %d but %lld elsewhere",
                                       label_char(l), (long long)n, k, (long long)sp->size[l]);
                }
            }
        }
    }

    /* Output labels: the right side, or '...' then the letters seen exactly once, sorted. */
    if (arrow) {
        int out_ids[CR_MAX_RANK + 1], n_out_ids;
        bool out_ell;
        CR_TRY(parse_term(ctx, arrow + 2, len - lhs_len - 2, out_ids, &n_out_ids, &out_ell));
        for (int i = 0; i < n_out_ids; i++) {
            int l = out_ids[i];
            if (l < 0) {
                for (int j = 0; j < max_ell; j++) sp->out_labels[sp->n_out++] = EINSUM_LETTERS + j;
                continue;
            }
            if (!sp->used[l])
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "output label '%c' is in no input", label_char(l));
            if (sp->in_out[l])
                return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "output label '%c' is repeated", label_char(l));
            if (sp->n_out >= CR_MAX_RANK)
                return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "output rank above %d", CR_MAX_RANK);
            sp->in_out[l] = true;
            sp->out_labels[sp->n_out++] = l;
        }
        if (out_ell)
            for (int j = 0; j < max_ell; j++) sp->in_out[EINSUM_LETTERS + j] = true;
    } else {
        for (int j = 0; j < max_ell; j++) {
            sp->out_labels[sp->n_out++] = EINSUM_LETTERS + j;
            sp->in_out[EINSUM_LETTERS + j] = true;
        }
        for (int l = 0; l < EINSUM_LETTERS; l++)
            if (count[l] == 1) {
                if (sp->n_out >= CR_MAX_RANK)
                    return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "output rank above %d", CR_MAX_RANK);
                sp->out_labels[sp->n_out++] = l;
                sp->in_out[l] = true;
            }
    }
    return NULL;
}

static const cnnrun_dtype einsum_dtypes[] = {CNNRUN_FLOAT32, CNNRUN_FLOAT64, CNNRUN_INT32, CNNRUN_INT64, 0};

static cnnrun_status *einsum_infer(cr_op_ctx *ctx)
{
    einsum_spec sp;
    CR_TRY(parse_equation(ctx, &sp));
    for (int k = 0; k < sp.n_ops; k++) {
        CR_TRY(cr_op_check_dtype(ctx, k, einsum_dtypes));
        if (ctx->in[k]->dtype != ctx->in[0]->dtype)
            return cr_op_error(ctx, CNNRUN_ERR_INVALID_MODEL, "input %d is %s but input 0 is %s", k,
                               cnnrun_dtype_name(ctx->in[k]->dtype), cnnrun_dtype_name(ctx->in[0]->dtype));
    }
    int64_t dims[CR_MAX_RANK];
    for (int i = 0; i < sp.n_out; i++) dims[i] = sp.size[sp.out_labels[i]];
    cr_set_output(ctx, 0, ctx->in[0]->dtype, sp.n_out, dims);
    return NULL;
}

typedef enum einsum_path { PATH_GENERAL, PATH_COPY, PATH_GEMM } einsum_path;

/* A strided view copied into a contiguous buffer. */
typedef struct strided_view {
    int rank;
    int64_t dims[CR_MAX_RANK];
    int64_t strides[CR_MAX_RANK];
} strided_view;

typedef struct gemm_operand {
    bool copy;                          /* gather into scratch first (view gives the layout) */
    bool trans;                         /* stored as [batch, cols, rows] */
    strided_view view;
    size_t scratch_offset;
} gemm_operand;

typedef struct einsum_state {
    einsum_path path;
    cnnrun_dtype dtype;
    int n_ops;
    int64_t out_count;
    /* general path */
    int n_out, n_sum;
    int64_t out_size[CR_MAX_RANK], sum_size[EINSUM_MAX_LABELS];
    int64_t out_stride[EINSUM_MAX_OPERANDS][CR_MAX_RANK];
    int64_t sum_stride[EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS];
    /* copy path */
    strided_view copy_view;
    /* gemm path */
    int64_t batch, m, n, k;
    gemm_operand a, b;
    bool c_copy;                        /* C computed in scratch, then gathered into y */
    strided_view c_view;                /* y's dims with C's strides */
    size_t c_offset;
    int threads;
} einsum_state;

static bool contiguous(int n, const int64_t *dims, const int64_t *strides)
{
    int64_t expect = 1;
    for (int i = n - 1; i >= 0; i--) {
        if (dims[i] == 1) continue;
        if (strides[i] != expect) return false;
        expect *= dims[i];
    }
    return true;
}

/* Appends the labels of list to a view of operand k. */
static void view_append(strided_view *v, const einsum_spec *sp, const int64_t *op_stride, const int *list, int n)
{
    for (int i = 0; i < n; i++) {
        v->dims[v->rank] = sp->size[list[i]];
        v->strides[v->rank] = op_stride[list[i]];
        v->rank++;
    }
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Plans operand op of the GEMM: [batch, rows, cols] as stored, transposed, or copied. */
static void plan_gemm_operand(const einsum_spec *sp, const int64_t *op_stride, const int *batch, int nb,
                              const int *rows, int nr, const int *cols, int nc, gemm_operand *g)
{
    strided_view v = {0};
    view_append(&v, sp, op_stride, batch, nb);
    view_append(&v, sp, op_stride, rows, nr);
    view_append(&v, sp, op_stride, cols, nc);
    if (contiguous(v.rank, v.dims, v.strides)) {
        g->copy = g->trans = false;
        return;
    }
    strided_view t = {0};
    view_append(&t, sp, op_stride, batch, nb);
    view_append(&t, sp, op_stride, cols, nc);
    view_append(&t, sp, op_stride, rows, nr);
    if (contiguous(t.rank, t.dims, t.strides)) {
        g->copy = false;
        g->trans = true;
        return;
    }
    g->copy = true;
    g->trans = false;
    g->view = v;
}

/* Chooses the GEMM path when two operands contract as batch/M/N/K groups. */
static bool plan_gemm(const einsum_spec *sp, const int64_t (*stride)[EINSUM_MAX_LABELS], size_t elem,
                      einsum_state *s, size_t *scratch)
{
    if (sp->n_ops != 2) return false;
    bool in_a[EINSUM_MAX_LABELS] = {false}, in_b[EINSUM_MAX_LABELS] = {false};
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < sp->rank[k]; d++) {
            bool *seen = k == 0 ? in_a : in_b;
            int l = sp->labels[k][d];
            if (seen[l]) return false;                     /* a diagonal */
            if (stride[k][l] == 0 && sp->size[l] > 1) return false; /* a broadcast dim */
            seen[l] = true;
        }
    int batch[CR_MAX_RANK], m[CR_MAX_RANK], n[CR_MAX_RANK], kk[CR_MAX_RANK];
    int nb = 0, nm = 0, nn = 0, nk = 0;
    int64_t sb = 1, sm = 1, sn = 1, sk = 1;
    for (int i = 0; i < sp->n_out; i++) {
        int l = sp->out_labels[i];
        if (in_a[l] && in_b[l]) batch[nb++] = l, sb *= sp->size[l];
        else if (in_a[l]) m[nm++] = l, sm *= sp->size[l];
        else n[nn++] = l, sn *= sp->size[l];
    }
    for (int d = 0; d < sp->rank[0]; d++) {
        int l = sp->labels[0][d];
        if (sp->in_out[l]) continue;
        if (!in_b[l]) return false;                        /* summed over one operand only */
        kk[nk++] = l;
        sk *= sp->size[l];
    }
    for (int d = 0; d < sp->rank[1]; d++)
        if (!sp->in_out[sp->labels[1][d]] && !in_a[sp->labels[1][d]]) return false;
    if (sb == 0 || sm == 0 || sn == 0 || sk == 0) return false;
    if (sm > INT_MAX || sn > INT_MAX || sk > INT_MAX) return false;
    s->batch = sb;
    s->m = sm;
    s->n = sn;
    s->k = sk;
    plan_gemm_operand(sp, stride[0], batch, nb, m, nm, kk, nk, &s->a);
    plan_gemm_operand(sp, stride[1], batch, nb, kk, nk, n, nn, &s->b);
    /* C is [batch, M, N]; y's label order may differ. */
    int64_t c_stride[EINSUM_MAX_LABELS] = {0};
    int c_labels[3 * CR_MAX_RANK], nc = 0;
    for (int i = 0; i < nb; i++) c_labels[nc++] = batch[i];
    for (int i = 0; i < nm; i++) c_labels[nc++] = m[i];
    for (int i = 0; i < nn; i++) c_labels[nc++] = n[i];
    int64_t st = 1;
    for (int i = nc - 1; i >= 0; i--) {
        c_stride[c_labels[i]] = st;
        st *= sp->size[c_labels[i]];
    }
    s->c_view.rank = 0;
    view_append(&s->c_view, sp, c_stride, sp->out_labels, sp->n_out);
    s->c_copy = !contiguous(s->c_view.rank, s->c_view.dims, s->c_view.strides);
    size_t off = 0;
    if (s->a.copy) {
        s->a.scratch_offset = off;
        off += align64((size_t)(sb * sm * sk) * elem);
    }
    if (s->b.copy) {
        s->b.scratch_offset = off;
        off += align64((size_t)(sb * sk * sn) * elem);
    }
    if (s->c_copy) {
        s->c_offset = off;
        off += align64((size_t)(sb * sm * sn) * elem);
    }
    *scratch = off;
    return true;
}

static cnnrun_status *einsum_prepare(cr_op_ctx *ctx)
{
    einsum_spec sp;
    CR_TRY(parse_equation(ctx, &sp));
    einsum_state *s = calloc(1, sizeof *s);
    if (!s) return cr_op_error(ctx, CNNRUN_ERR_OUT_OF_MEMORY, "out of memory for the op state");
    s->dtype = ctx->in[0]->dtype;
    s->n_ops = sp.n_ops;
    s->threads = ctx->env && ctx->env->threads > 0 ? ctx->env->threads : 1;
    size_t elem = cnnrun_dtype_size(s->dtype);

    int64_t stride[EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS];
    memset(stride, 0, sizeof stride);
    for (int k = 0; k < sp.n_ops; k++) {
        int64_t st[CR_MAX_RANK];
        cr_strides(sp.rank[k], ctx->in[k]->dims, st);
        for (int d = 0; d < sp.rank[k]; d++)
            if (ctx->in[k]->dims[d] != 1) stride[k][sp.labels[k][d]] += st[d];
    }
    s->n_out = sp.n_out;
    s->out_count = 1;
    for (int i = 0; i < sp.n_out; i++) {
        int l = sp.out_labels[i];
        s->out_size[i] = sp.size[l];
        s->out_count *= sp.size[l];
        for (int k = 0; k < sp.n_ops; k++) s->out_stride[k][i] = stride[k][l];
    }
    int64_t sum_count = 1;
    for (int l = 0; l < EINSUM_MAX_LABELS; l++) {
        if (!sp.used[l] || sp.in_out[l]) continue;
        s->sum_size[s->n_sum] = sp.size[l];
        /* The general loop visits out_count × sum_count terms: refuse what no run could finish. */
        if (__builtin_mul_overflow(sum_count, sp.size[l], &sum_count) || sum_count > ((int64_t)1 << 50) ||
            (s->out_count > 0 && sum_count > ((int64_t)1 << 50) / s->out_count)) {
            free(s);
            return cr_op_error(ctx, CNNRUN_ERR_UNSUPPORTED, "the equation sums over too many index combinations");
        }
        for (int k = 0; k < sp.n_ops; k++) s->sum_stride[k][s->n_sum] = stride[k][l];
        s->n_sum++;
    }

    s->path = PATH_GENERAL;
    size_t scratch = 0;
    bool floating = s->dtype == CNNRUN_FLOAT32 || s->dtype == CNNRUN_FLOAT64;
    if (sp.n_ops == 1 && sum_count == 1 && s->out_count > 0) {
        s->path = PATH_COPY;
        s->copy_view.rank = sp.n_out;
        for (int i = 0; i < sp.n_out; i++) {
            s->copy_view.dims[i] = s->out_size[i];
            s->copy_view.strides[i] = s->out_stride[0][i];
        }
    } else if (floating && plan_gemm(&sp, (const int64_t (*)[EINSUM_MAX_LABELS])stride, elem, s, &scratch)) {
        s->path = PATH_GEMM;
    }
    ctx->scratch_bytes = scratch;
    ctx->state = s;
    return NULL;
}

/* ---- kernels ---- */

#define STRIDED_COPY(T)                                                                            \
    static void strided_copy_##T(const strided_view *v, const T *x, T *y, int threads)            \
    {                                                                                              \
        int last = v->rank - 1;                                                                    \
        if (v->rank == 0) {                                                                        \
            y[0] = x[0];                                                                           \
            return;                                                                                \
        }                                                                                          \
        int64_t n = v->dims[last], st = v->strides[last], rows = 1;                                \
        for (int d = 0; d < last; d++) rows *= v->dims[d];                                         \
        _Pragma("omp parallel for num_threads(threads) if (rows * n >= EINSUM_PARALLEL_MIN)")      \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            int64_t off = 0, rest = r;                                                             \
            for (int d = last - 1; d >= 0; d--) {                                                  \
                off += (rest % v->dims[d]) * v->strides[d];                                        \
                rest /= v->dims[d];                                                                \
            }                                                                                      \
            const T *xr = x + off;                                                                 \
            T *yr = y + r * n;                                                                     \
            if (st == 1) memcpy(yr, xr, (size_t)n * sizeof(T));                                    \
            else for (int64_t i = 0; i < n; i++) yr[i] = xr[i * st];                               \
        }                                                                                          \
    }

STRIDED_COPY(uint32_t)
STRIDED_COPY(uint64_t)

static void strided_copy(const strided_view *v, size_t elem, const void *x, void *y, int threads)
{
    if (elem == 4) strided_copy_uint32_t(v, x, y, threads);
    else strided_copy_uint64_t(v, x, y, threads);
}

/* General loop: T the element type, ACC the accumulator type. */
#define GENERAL_KERNEL(NAME, T, ACC)                                                               \
    static void NAME(const einsum_state *s, const T *const *x, T *y)                               \
    {                                                                                              \
        int n_ops = s->n_ops;                                                                      \
        _Pragma("omp parallel for num_threads(s->threads) if (s->out_count >= 1024)")              \
        for (int64_t o = 0; o < s->out_count; o++) {                                               \
            int64_t base[EINSUM_MAX_OPERANDS] = {0};                                               \
            int64_t rest = o;                                                                      \
            for (int i = s->n_out - 1; i >= 0; i--) {                                              \
                int64_t c = rest % s->out_size[i];                                                 \
                rest /= s->out_size[i];                                                            \
                for (int k = 0; k < n_ops; k++) base[k] += c * s->out_stride[k][i];                \
            }                                                                                      \
            int64_t idx[EINSUM_MAX_LABELS] = {0};                                                  \
            int64_t off[EINSUM_MAX_OPERANDS];                                                      \
            memcpy(off, base, sizeof off);                                                         \
            bool empty = false;                                                                    \
            for (int j = 0; j < s->n_sum; j++)                                                     \
                if (s->sum_size[j] == 0) empty = true;                                             \
            ACC acc = 0;                                                                           \
            while (!empty) {                                                                       \
                ACC prod = (ACC)x[0][off[0]];                                                      \
                for (int k = 1; k < n_ops; k++) prod *= (ACC)x[k][off[k]];                         \
                acc += prod;                                                                       \
                int j = s->n_sum - 1;                                                              \
                for (; j >= 0; j--) {                                                              \
                    for (int k = 0; k < n_ops; k++) off[k] += s->sum_stride[k][j];                 \
                    if (++idx[j] < s->sum_size[j]) break;                                          \
                    for (int k = 0; k < n_ops; k++) off[k] -= s->sum_stride[k][j] * s->sum_size[j]; \
                    idx[j] = 0;                                                                    \
                }                                                                                  \
                if (j < 0) break;                                                                  \
            }                                                                                      \
            y[o] = (T)acc;                                                                         \
        }                                                                                          \
    }

GENERAL_KERNEL(general_f32, float, double)
GENERAL_KERNEL(general_f64, double, double)
GENERAL_KERNEL(general_i32, int32_t, int64_t)
GENERAL_KERNEL(general_i64, int64_t, int64_t)

static void gemm_run(const einsum_state *s, const void *a_in, const void *b_in, void *y, char *scratch)
{
    size_t elem = cnnrun_dtype_size(s->dtype);
    const void *a = a_in, *b = b_in;
    if (s->a.copy) {
        strided_copy(&s->a.view, elem, a_in, scratch + s->a.scratch_offset, s->threads);
        a = scratch + s->a.scratch_offset;
    }
    if (s->b.copy) {
        strided_copy(&s->b.view, elem, b_in, scratch + s->b.scratch_offset, s->threads);
        b = scratch + s->b.scratch_offset;
    }
    void *c = s->c_copy ? scratch + s->c_offset : y;
    int64_t m = s->m, n = s->n, k = s->k;
    int64_t lda = s->a.trans ? m : k, ldb = s->b.trans ? k : n;
    for (int64_t i = 0; i < s->batch; i++) {
        if (s->dtype == CNNRUN_FLOAT32)
            cr_sgemm(s->a.trans, s->b.trans, m, n, k, (const float *)a + i * m * k, lda,
                     (const float *)b + i * k * n, ldb, (float *)c + i * m * n, n);
        else
            cr_dgemm(s->a.trans, s->b.trans, m, n, k, (const double *)a + i * m * k, lda,
                     (const double *)b + i * k * n, ldb, (double *)c + i * m * n, n);
    }
    if (s->c_copy) strided_copy(&s->c_view, elem, c, y, s->threads);
}

static cnnrun_status *einsum_run(cr_op_ctx *ctx)
{
    const einsum_state *s = ctx->state;
    void *y = ctx->out[0]->data;
    if (s->out_count == 0) return NULL;
    const void *x[EINSUM_MAX_OPERANDS];
    for (int k = 0; k < s->n_ops; k++) x[k] = ctx->in[k]->data;
    if (s->path == PATH_COPY) {
        strided_copy(&s->copy_view, cnnrun_dtype_size(s->dtype), x[0], y, s->threads);
        return NULL;
    }
    if (s->path == PATH_GEMM) {
        gemm_run(s, x[0], x[1], y, ctx->scratch);
        return NULL;
    }
    switch (s->dtype) {
    case CNNRUN_FLOAT32: general_f32(s, (const float *const *)x, y); break;
    case CNNRUN_FLOAT64: general_f64(s, (const double *const *)x, y); break;
    case CNNRUN_INT32: general_i32(s, (const int32_t *const *)x, y); break;
    case CNNRUN_INT64: general_i64(s, (const int64_t *const *)x, y); break;
    default: return cr_op_error(ctx, CNNRUN_ERR_INTERNAL, "dtype %s reached run", cnnrun_dtype_name(s->dtype));
    }
    return NULL;
}

static void einsum_destroy(void *state)
{
    free(state);
}

/* Einsum appeared in opset 12; later versions only add dtypes. */
static const cr_op op_einsum = {
    .op_type = "Einsum",
    .domain = "",
    .opset_min = 12,
    .opset_max = 22,
    .infer = einsum_infer,
    .prepare = einsum_prepare,
    .run = einsum_run,
    .destroy = einsum_destroy,
};

const cr_op *const cr_ops_einsum[] = {&op_einsum, NULL};
