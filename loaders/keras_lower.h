/* Keras layers lowered to ONNX-style IR nodes. Format-independent: the .keras and .h5 readers
 * (keras_loader.c) parse the config and collect each layer's weights, then call
 * cr_keras_lower_layer once per layer call. The same lowering is meant to feed the ONNX writer of
 * a converter, so that running and converting a Keras model cannot disagree.
 *
 * Layouts: a Keras tensor keeps Keras's layout (channels_last: N, spatial.., C) at the graph's
 * boundaries. Convolutions and pooling run channels-first (ONNX's N, C, spatial..); each Keras
 * tensor may hold both forms, each made once, on demand, by a Transpose. A chain of convolutions,
 * pooling, BatchNormalization, activations and merges thus stays channels-first between its
 * first and last layer, and the planner keeps oneDNN's own layout along it. */
#ifndef CR_KERAS_LOWER_H
#define CR_KERAS_LOWER_H

#include <jansson.h>
#include <stdbool.h>

#include "graph_builder.h"

/* One Keras tensor. shape is Keras's (batch first), -1 for None. */
typedef struct cr_kt {
    int v;        /* value in Keras's layout, or -1 until needed */
    int v_cf;     /* channels-first form (rank >= 3), or -1 until needed */
    int rank;
    int64_t shape[CR_MAX_RANK];
    cnnrun_dtype dtype;
} cr_kt;

/* A layer call's weights, in Keras's layer.weights order, float32 as stored. */
typedef struct cr_kweights {
    int n;
    cr_tensor **t;
    char **names; /* for messages: "kernel", "vars/0", ... */
} cr_kweights;

typedef struct cr_klayer {
    const char *name;
    const char *class_name;
    json_t *config; /* the layer's "config" object */
    cr_kweights *w;
} cr_klayer;

typedef struct cr_klower {
    cr_gb *gb;
    int keras_major;    /* 2 or 3: hard_sigmoid and a few defaults differ */
    bool flip_kernels;  /* Theano-trained convolution kernels (legacy .h5, backend "theano") */
} cr_klower;

#define CR_KERAS_MAX_IO 64

/* Lowers one call of a layer: n_in input tensors (pointers into the caller's table, so that
 * layout forms made here are shared with later readers) to *n_out output tensors. Errors say
 * what is refused or wrong; the caller prefixes the layer's name and class. */
cnnrun_status *cr_keras_lower_layer(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in,
                                    cr_kt *out, int *n_out);

/* Whether the lowering knows this class (the loader refuses others before reading weights). */
bool cr_keras_layer_known(const char *class_name);

/* The value holding t in Keras's layout / channels-first (made by a Transpose when missing). */
cnnrun_status *cr_kt_keras(cr_klower *lw, const char *name, cr_kt *t, int *v);
cnnrun_status *cr_kt_cf(cr_klower *lw, const char *name, cr_kt *t, int *v);

/* ---- shared by the lowering files ---- */

/* Config access: a missing key or JSON null gives the default; a value of the wrong type is an
 * error naming the key. Int lists accept a single int (Keras's kernel_size=3) repeated n times. */
cnnrun_status *cr_kcfg_int(const cr_klayer *L, const char *key, int64_t dflt, int64_t *out);
cnnrun_status *cr_kcfg_ints(const cr_klayer *L, const char *key, int n, int64_t dflt, int64_t *out);
cnnrun_status *cr_kcfg_float(const cr_klayer *L, const char *key, double dflt, double *out);
cnnrun_status *cr_kcfg_bool(const cr_klayer *L, const char *key, bool dflt, bool *out);
cnnrun_status *cr_kcfg_string(const cr_klayer *L, const char *key, const char *dflt, const char **out);
/* Refuses a config value: "config 'key' = <value> is not supported (why)". */
cnnrun_status *cr_kcfg_refuse(const cr_klayer *L, const char *key, const char *why);
/* data_format must be channels_last (the only one TensorFlow runs on CPU). */
cnnrun_status *cr_kcfg_channels_last(const cr_klayer *L);

/* Weight i with its expected shape checked (rank, dims); the tensor stays owned by L->w. */
cnnrun_status *cr_kweight(const cr_klayer *L, int i, int rank, const int64_t *dims, cr_tensor **out);
/* The layer must have exactly n weights. */
cnnrun_status *cr_kweights_count(const cr_klayer *L, int n);
/* A float32 constant of this shape, filled by the caller. */
cnnrun_status *cr_kconst_new(const char *name, int rank, const int64_t *dims, cr_tensor **out);

/* Applies the Keras activation `name` to value x of rank `rank` (softmax-like ones along
 * `channel_axis`); *y = x for "linear". */
cnnrun_status *cr_klower_activation(cr_klower *lw, const cr_klayer *L, const char *name, int x,
                                    int channel_axis, int *y);
/* The layer's "activation" config applied to out (in place of its values), on the channels-first
 * form when that is the only one. */
cnnrun_status *cr_klower_layer_activation(cr_klower *lw, const cr_klayer *L, cr_kt *out);

/* Per-family lowering (keras_lower_layers.c, keras_lower_rnn.c). */
typedef cnnrun_status *(*cr_klower_fn)(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in,
                                       cr_kt *out, int *n_out);
cnnrun_status *cr_klower_rnn(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in,
                             cr_kt *out, int *n_out);
cnnrun_status *cr_klower_bidirectional(cr_klower *lw, const cr_klayer *L, cr_kt *const *in, int n_in,
                                       cr_kt *out, int *n_out);

#endif
