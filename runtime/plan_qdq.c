/* QDQ fusion: the pattern onnxruntime.quantization.quantize_static writes in its QDQ format,
 *
 *     x_q ─DequantizeLinear─▶ x ─┐
 *     w_q ─DequantizeLinear─▶ w ─┼─ Conv ─▶ [Relu] ─▶ QuantizeLinear ─▶ y_q
 *     b_i32 ─DequantizeLinear─▶ b┘
 *
 * runs as one int8 convolution (ops/qconv.c) reading x_q and writing y_q: the requantisation
 * is oneDNN's output scales and zero point, Relu a post-op, and the uint8/int8 activations stay
 * int8 from one fused layer to the next (the float tensors in between are never made).
 * (DequantizeLinear -> MaxPool -> QuantizeLinear is left as it is: the maximum commutes with
 * dequantization, but cnnrun's int8 MaxPool is a plain C loop, measured slower on ResNet-18's
 * stem than oneDNN's float32 pooling with the two conversions around it.)
 *
 * This file decides, from the graph alone, which nodes match; the planner (planner.c) checks
 * the planned dtypes, prepares the kernel and, if anything refuses, plans the nodes one by one
 * as the graph says. The decision is recorded in the plan (fused_into), so `cnnrun --profile`
 * shows the step as QLinearConv with the fused DequantizeLinear/Relu/QuantizeLinear. */
#include <math.h>
#include <string.h>

#include "plan_build.h"

static bool is_op(const cr_node *n, const char *type)
{
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

static const cr_tensor *constant_of(const cr_graph *g, int v)
{
    return v >= 0 ? g->values[v].constant : NULL;
}

static int input_at(const cr_node *n, int k)
{
    return k < n->n_inputs ? n->inputs[k] : -1;
}

static int reader_of(const cnnrun_model *m, int v)
{
    int n;
    const cr_use *u = cr_model_uses(m, v, &n);
    return n == 1 && !m->is_output[v] ? u[0].node : -1;
}

/* A DequantizeLinear or QuantizeLinear node's constant scale and zero point (zero point optional);
 * per_tensor requires one value each. */
static bool quant_params(const cr_graph *g, const cr_node *n, bool per_tensor)
{
    const cr_tensor *s = constant_of(g, input_at(n, 1));
    int zpv = input_at(n, 2);
    const cr_tensor *zp = constant_of(g, zpv);
    if (!s || s->dtype != CNNRUN_FLOAT32 || (zpv >= 0 && !zp)) return false;
    if (per_tensor && (cr_tensor_count(s) != 1 || (zp && cr_tensor_count(zp) != 1))) return false;
    return true;
}

/* The DequantizeLinear node producing value v, or NULL. */
static const cr_node *dq_producer(const cr_graph *g, int v)
{
    if (v < 0 || g->values[v].producer < 0) return NULL;
    const cr_node *n = &g->nodes[g->values[v].producer];
    return is_op(n, "DequantizeLinear") && n->n_inputs >= 2 ? n : NULL;
}

bool cr_plan_match_qdq(const cnnrun_model *m, int node, cr_qdq_match *out)
{
    const cr_graph *g = m->graph;
    const cr_node *conv = &g->nodes[node];
    memset(out, 0, sizeof *out);
    out->relu = -1;
    out->bias_scale = -1;
    for (int k = 0; k < CR_QDQ_MAX_INPUTS; k++) out->inputs[k] = -1;
    if (!is_op(conv, "Conv") || conv->n_inputs < 2 || conv->n_outputs != 1) return false;
    out->node = node;
    out->opset = (int)g->opset;
    out->n_inputs = CR_QDQ_MAX_INPUTS;

    /* x: dequantized per tensor from a computed (non-constant) int8 tensor */
    const cr_node *dx = dq_producer(g, conv->inputs[0]);
    if (!dx || constant_of(g, dx->inputs[0]) || !quant_params(g, dx, true)) return false;
    out->dq_x = g->values[conv->inputs[0]].producer;
    out->inputs[0] = dx->inputs[0];
    out->inputs[1] = dx->inputs[1];
    out->inputs[2] = input_at(dx, 2);

    /* w: dequantized from constant int8 weights, per tensor or per output channel (axis 0) */
    const cr_node *dw = dq_producer(g, conv->inputs[1]);
    if (!dw || !quant_params(g, dw, false)) return false;
    const cr_tensor *wq = constant_of(g, dw->inputs[0]);
    if (!wq || (wq->dtype != CNNRUN_UINT8 && wq->dtype != CNNRUN_INT8)) return false;
    if (cr_tensor_count(constant_of(g, dw->inputs[1])) > 1) {
        int64_t axis = 1;
        cnnrun_status *st = cr_attr_int(dw, "axis", 1, &axis);
        if (st) {
            cnnrun_status_free(st);
            return false;
        }
        if (axis != 0 && axis != -wq->rank) return false;
    }
    out->inputs[3] = dw->inputs[0];
    out->inputs[4] = dw->inputs[1];
    out->inputs[5] = input_at(dw, 2);

    /* b: dequantized from constant int32 with zero point 0 (the planner checks its scale) */
    int bv = input_at(conv, 2);
    if (bv >= 0) {
        const cr_node *db = dq_producer(g, bv);
        if (!db || !quant_params(g, db, false)) return false;
        const cr_tensor *bq = constant_of(g, db->inputs[0]);
        const cr_tensor *bzp = constant_of(g, input_at(db, 2));
        if (!bq || bq->dtype != CNNRUN_INT32) return false;
        if (bzp) {
            if (bzp->dtype != CNNRUN_INT32) return false;
            for (int64_t i = 0; i < cr_tensor_count(bzp); i++)
                if (((const int32_t *)bzp->data)[i] != 0) return false;
        }
        out->inputs[8] = db->inputs[0];
        out->bias_scale = db->inputs[1];
    }

    /* the output: [Relu] then QuantizeLinear per tensor */
    int cur = conv->outputs[0];
    int next = reader_of(m, cur);
    if (next >= 0 && is_op(&g->nodes[next], "Relu")) {
        out->relu = next;
        cur = g->nodes[next].outputs[0];
        next = reader_of(m, cur);
    }
    if (next < 0) return false;
    const cr_node *q = &g->nodes[next];
    if (!is_op(q, "QuantizeLinear") || q->inputs[0] != cur || !quant_params(g, q, true)) return false;
    out->q = next;
    out->inputs[6] = q->inputs[1];
    out->inputs[7] = input_at(q, 2);
    out->op = out->relu >= 0 ? &cr_qdq_conv_relu_op : &cr_qdq_conv_op;
    return true;
}

void cr_plan_defer_qdq_inputs(const cnnrun_model *m, bool *deferred)
{
    const cr_graph *g = m->graph;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const cr_node *d = &g->nodes[ni];
        deferred[ni] = false;
        if (!is_op(d, "DequantizeLinear") || d->n_outputs < 1 || d->outputs[0] < 0) continue;
        int v = d->outputs[0], n;
        if (m->is_output[v] || constant_of(g, d->inputs[0])) continue;
        const cr_use *u = cr_model_uses(m, v, &n);
        bool all = n > 0;
        for (int i = 0; i < n && all; i++) {
            cr_qdq_match match;
            all = u[i].input == 0 && cr_plan_match_qdq(m, u[i].node, &match);
        }
        deferred[ni] = all;
    }
}

bool cr_plan_qdq_bias_scale_ok(const cr_plan *p, const cr_qdq_match *mt)
{
    if (mt->bias_scale < 0) return true;
    const cr_tensor *bs = &p->tensors[mt->bias_scale], *xs = &p->tensors[mt->inputs[1]],
                    *ws = &p->tensors[mt->inputs[4]], *b = &p->tensors[mt->inputs[8]];
    if (!bs->data || !xs->data || !ws->data || b->rank != 1) return false;
    int64_t nb = cr_tensor_count(bs), nw = cr_tensor_count(ws), oc = b->dims[0];
    if ((nb != 1 && nb != oc) || (nw != 1 && nw != oc)) return false;
    float x = *(const float *)xs->data;
    for (int64_t c = 0; c < oc; c++) {
        float want = x * ((const float *)ws->data)[nw > 1 ? c : 0];
        float have = ((const float *)bs->data)[nb > 1 ? c : 0];
        if (!(fabsf(have - want) <= 1e-6f * fabsf(want))) return false;
    }
    return true;
}
