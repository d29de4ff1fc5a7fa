/* Fusion: which nodes after a convolution run inside its kernel as oneDNN post-ops.
 *
 * Starting from the op's output, the chain grows while the current value has a single reader
 * (and is not a graph output, whose bytes must stay as they are):
 *   - an activation oneDNN computes as an eltwise post-op (Relu, LeakyRelu, Clip with constant
 *     bounds, Sigmoid, Tanh, Elu, HardSwish, Softplus);
 *   - x * Sigmoid(x), SiLU as PyTorch exports it, as the swish post-op;
 *   - a residual Add of a value z of the same shape, as the sum post-op, when nothing reads z
 *     after this op: the kernel then accumulates into z's bytes instead of a new buffer
 *     (DESIGN.md: a sum post-op, not a binary one, which sends oneDNN 2.6 down a slow path).
 * The decision is made at plan time, when shapes, constants and layouts are known. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "plan_build.h"

static int single_reader(const cnnrun_model *m, int v)
{
    int n;
    const cr_use *u = cr_model_uses(m, v, &n);
    return n == 1 && !m->is_output[v] ? u[0].node : -1;
}

/* A constant scalar input of node n (Clip's bounds), or dflt when the input is omitted. */
static bool constant_scalar(const cr_plan *p, const cr_node *n, int input, float dflt, float *out)
{
    if (input >= n->n_inputs || n->inputs[input] < 0) {
        *out = dflt;
        return true;
    }
    const cr_tensor *t = &p->tensors[n->inputs[input]];
    if (p->storage[n->inputs[input]] != CR_STORE_CONST || !t->data || cr_tensor_count(t) != 1 ||
        t->dtype != CNNRUN_FLOAT32)
        return false;
    *out = *(const float *)t->data;
    return true;
}

static bool attr_float(const cr_node *n, const char *name, float dflt, float *out)
{
    cnnrun_status *st = cr_attr_float(n, name, dflt, out);
    if (st) cnnrun_status_free(st);
    return st == NULL;
}

/* The eltwise post-op that computes node n (a unary op on float32), if there is one. */
static bool eltwise_of(const cr_plan *p, const cr_graph *g, const cr_node *n, cr_post_op *po)
{
    const char *t = n->op_type;
    *po = (cr_post_op){.kind = CR_POST_ELTWISE};
    if (n->domain[0] || n->n_outputs < 1 || n->outputs[0] < 0) return false;
    if (strcmp(t, "Relu") == 0) po->alg = dnnl_eltwise_relu;
    else if (strcmp(t, "LeakyRelu") == 0) {
        po->alg = dnnl_eltwise_relu;
        if (!attr_float(n, "alpha", 0.01f, &po->alpha)) return false;
    } else if (strcmp(t, "Elu") == 0) {
        po->alg = dnnl_eltwise_elu;
        if (!attr_float(n, "alpha", 1.0f, &po->alpha)) return false;
    } else if (strcmp(t, "Sigmoid") == 0) po->alg = dnnl_eltwise_logistic;
    else if (strcmp(t, "Tanh") == 0) po->alg = dnnl_eltwise_tanh;
    else if (strcmp(t, "Softplus") == 0) po->alg = dnnl_eltwise_soft_relu;
    else if (strcmp(t, "HardSwish") == 0) po->alg = dnnl_eltwise_hardswish;
    else if (strcmp(t, "Clip") == 0) {
        po->alg = dnnl_eltwise_clip;
        if (g->opset < 11) {
            if (!attr_float(n, "min", -INFINITY, &po->alpha) || !attr_float(n, "max", INFINITY, &po->beta))
                return false;
        } else if (!constant_scalar(p, n, 1, -INFINITY, &po->alpha) ||
                   !constant_scalar(p, n, 2, INFINITY, &po->beta)) {
            return false;
        }
        /* a missing bound is the whole float range */
        if (isinf(po->alpha)) po->alpha = po->alpha < 0 ? -FLT_MAX : FLT_MAX;
        if (isinf(po->beta)) po->beta = po->beta < 0 ? -FLT_MAX : FLT_MAX;
        if (!(po->alpha <= po->beta)) return false; /* NaN bounds or min > max: leave to Clip */
    } else {
        return false;
    }
    return true;
}

/* The other operand of a binary node n that reads v, or -1. */
static int other_operand(const cr_node *n, int v)
{
    if (n->n_inputs != 2) return -1;
    if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
    if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
    return -1;
}

/* x * Sigmoid(x) starting at value v: the Mul node, with *sigmoid set, or -1. */
static int swish_at(const cnnrun_model *m, int v, int *sigmoid)
{
    const cr_graph *g = m->graph;
    int n;
    const cr_use *u = cr_model_uses(m, v, &n);
    if (n != 2 || m->is_output[v]) return -1;
    for (int i = 0; i < 2; i++) {
        const cr_node *s = &g->nodes[u[i].node], *mul = &g->nodes[u[1 - i].node];
        if (strcmp(s->op_type, "Sigmoid") != 0 || s->domain[0] || strcmp(mul->op_type, "Mul") != 0 ||
            mul->domain[0] || s->n_outputs < 1 || s->outputs[0] < 0)
            continue;
        if (other_operand(mul, v) != s->outputs[0] || single_reader(m, s->outputs[0]) != u[1 - i].node)
            continue;
        *sigmoid = u[i].node;
        return u[1 - i].node;
    }
    return -1;
}

static bool same_shape(const cr_tensor *a, const cr_tensor *b)
{
    return a->dtype == b->dtype && cr_shape_equal(a->rank, a->dims, b->rank, b->dims);
}

/* Whether z can be the addend of node `node`'s kernel: an arena value in a oneDNN layout that no
 * step after this one reads (except `add`, the node being fused), and not one of the node's own
 * inputs, whose bytes the kernel would overwrite while reading them. */
static bool addend_ok(const cr_plan *p, const cnnrun_model *m, int node, const cr_op_ctx *ctx, int add, int z)
{
    int zr = cr_plan_root(p, z);
    if (p->storage[zr] != CR_STORE_ARENA || cr_layout_is_plain(&p->tensors[z])) return false;
    for (int k = 0; k < ctx->n_in; k++)
        if (ctx->in[k] && cr_plan_root(p, cr_plan_value_of(p, ctx->in[k])) == zr) return false;
    for (int v = 0; v < p->n_values; v++) {
        if (cr_plan_root(p, v) != zr) continue;
        if (v < p->n_graph_values && m->is_output[v]) return false;
        if (v >= p->n_graph_values) continue; /* the planner's copies are read by their own steps */
        int n;
        const cr_use *u = cr_model_uses(m, v, &n);
        for (int i = 0; i < n; i++)
            if (u[i].node >= node && u[i].node != add) return false;
    }
    return true;
}

void cr_plan_find_fusion(const cr_plan *p, const cnnrun_model *model, int node, const cr_op_ctx *ctx,
                         cr_fusion *f)
{
    const cr_graph *g = model->graph;
    unsigned flags = model->ops[node]->flags;
    memset(f, 0, sizeof *f);
    f->sum_value = -1;
    if (!ctx->out[0] || ctx->out[0]->dtype != CNNRUN_FLOAT32) return;
    int cur = g->nodes[node].outputs[0];
    f->last_value = cur;
    while (f->n_post < CR_MAX_POST_OPS && f->n_nodes < CR_MAX_POST_OPS) {
        int sigmoid, mul;
        int next = single_reader(model, cur);
        cr_post_op po;
        if ((flags & CR_OP_FUSES_ELTWISE) && (mul = swish_at(model, cur, &sigmoid)) >= 0) {
            f->post[f->n_post++] = (cr_post_op){.kind = CR_POST_ELTWISE, .alg = dnnl_eltwise_swish,
                                                .alpha = 1.0f};
            f->nodes[f->n_nodes++] = sigmoid;
            f->nodes[f->n_nodes++] = mul;
            cur = g->nodes[mul].outputs[0];
        } else if (next < 0) {
            break;
        } else if ((flags & CR_OP_FUSES_ELTWISE) && eltwise_of(p, g, &g->nodes[next], &po)) {
            f->post[f->n_post++] = po;
            f->nodes[f->n_nodes++] = next;
            cur = g->nodes[next].outputs[0];
        } else if ((flags & CR_OP_FUSES_SUM) && f->sum_value < 0 &&
                   strcmp(g->nodes[next].op_type, "Add") == 0 && !g->nodes[next].domain[0] &&
                   g->nodes[next].n_outputs == 1 && g->nodes[next].outputs[0] >= 0) {
            int z = other_operand(&g->nodes[next], cur);
            if (z < 0 || p->storage[z] == CR_STORE_NONE || !same_shape(&p->tensors[z], ctx->out[0]) ||
                !addend_ok(p, model, node, ctx, next, z))
                break;
            f->post[f->n_post++] = (cr_post_op){.kind = CR_POST_SUM};
            f->sum_value = z;
            f->nodes[f->n_nodes++] = next;
            cur = g->nodes[next].outputs[0];
        } else {
            break;
        }
        f->last_value = cur;
    }
}
