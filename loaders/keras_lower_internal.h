/* Between the lowering files: node helpers and the per-family lowering functions that the layer
 * table in keras_lower_layers.c dispatches to. */
#ifndef CR_KERAS_LOWER_INTERNAL_H
#define CR_KERAS_LOWER_INTERNAL_H

#include "keras_lower.h"

/* A node "<layer>/<op>" with one new output value. */
cnnrun_status *cr_kop(cr_klower *lw, const cr_klayer *L, const char *op, const int *inputs, int n_inputs,
                      int *node, int *y);
/* A copy of weight tensor t (the layer's list keeps the original: shared layers reuse it). */
cnnrun_status *cr_ktensor_copy(const cr_klayer *L, const cr_tensor *t, cr_tensor **out);
/* Weight i, shape-checked, copied into the graph as a parameter constant. */
cnnrun_status *cr_kweight_const(cr_klower *lw, const cr_klayer *L, int i, int rank, const int64_t *dims, int *v);

#define CR_KLOWER_FN(name)                                                                         \
    cnnrun_status *name(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in, cr_kt *out, \
                        int *n_out)
CR_KLOWER_FN(cr_klower_conv);
CR_KLOWER_FN(cr_klower_depthwise);
CR_KLOWER_FN(cr_klower_separable);
CR_KLOWER_FN(cr_klower_pool);
CR_KLOWER_FN(cr_klower_global_pool);
CR_KLOWER_FN(cr_klower_conv_transpose);

#endif
