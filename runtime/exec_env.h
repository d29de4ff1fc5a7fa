/* What kernels run on: the oneDNN engine and stream of a session, its thread count, and the
 * packed weights its plans share. */
#ifndef CR_EXEC_ENV_H
#define CR_EXEC_ENV_H

#include <stdbool.h>

#include <oneapi/dnnl/dnnl.h>

#include "status.h"
#include "weight_cache.h"

typedef struct cr_exec_env {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads; /* OpenMP threads for oneDNN and our own parallel loops */
    bool bf16;   /* CNNRUN_PRECISION_BFLOAT16: convolutions and pooling in bfloat16 */
    uint64_t max_memory; /* what one plan may claim (cnnrun_session_options.max_memory, resolved) */
    bool winograd;       /* CNNRUN_CONV_WINOGRAD: 3x3 convolutions may run on Winograd kernels */
    cr_weight_cache *weights; /* packed constant weights shared by the session's plans */
} cr_exec_env;

/* Creates the CPU engine and stream, fixing the OpenMP thread count (0 = one per core) before any
 * primitive is created, as oneDNN sizes its work partitioning at creation. */
cnnrun_status *cr_exec_env_create(int threads, cr_exec_env *out);

/* Switches the env to bfloat16 convolutions; an error on a CPU without AVX-512 BF16. */
cnnrun_status *cr_exec_env_use_bf16(cr_exec_env *env);
void cr_exec_env_destroy(cr_exec_env *env);

/* Pins the calling thread's OpenMP team size to the env's; called before planning and running,
 * since a session may be used from different threads over its life. */
void cr_exec_env_enter(const cr_exec_env *env);

/* Sets the calling thread's OpenMP team size (a step whose kernel wants fewer threads). */
void cr_exec_env_set_threads(int threads);

/* NULL for dnnl_success, else an error naming what failed and oneDNN's status. */
cnnrun_status *cr_dnnl_check(dnnl_status_t status, const char *what);

#endif
