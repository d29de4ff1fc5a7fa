/* The oneDNN engine and stream of a session. */
#include "exec_env.h"

#include <omp.h>
#include <stdio.h>

static const char *dnnl_status_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented (no kernel for this combination)";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

cnnrun_status *cr_dnnl_check(dnnl_status_t status, const char *what)
{
    if (status == dnnl_success) return NULL;
    return cr_error(status == dnnl_out_of_memory ? CNNRUN_ERR_OUT_OF_MEMORY
                    : status == dnnl_unimplemented ? CNNRUN_ERR_UNSUPPORTED
                                                   : CNNRUN_ERR_INTERNAL,
                    "oneDNN %s failed: %s", what, dnnl_status_name(status));
}

cnnrun_status *cr_exec_env_create(int threads, cr_exec_env *out)
{
    out->engine = NULL;
    out->stream = NULL;
    out->weights = NULL;
    out->bf16 = false;
    out->max_memory = CNNRUN_DEFAULT_MAX_MEMORY;
    out->winograd = false;
    out->threads = threads > 0 ? threads : omp_get_num_procs();
    cr_exec_env_enter(out);
    CR_TRY(cr_dnnl_check(dnnl_engine_create(&out->engine, dnnl_cpu, 0), "engine creation"));
    cnnrun_status *st =
        cr_dnnl_check(dnnl_stream_create(&out->stream, out->engine, dnnl_stream_default_flags),
                      "stream creation");
    if (!st) st = cr_weight_cache_create(&out->weights);
    if (st) cr_exec_env_destroy(out);
    return st;
}

cnnrun_status *cr_exec_env_use_bf16(cr_exec_env *env)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* the ISA values are bit sets, each including those below it */
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "bfloat16 precision needs a CPU with AVX-512 BF16 instructions, which this "
                        "one lacks (oneDNN ISA 0x%x): use float32", (unsigned)isa);
    env->bf16 = true;
    return NULL;
}

void cr_exec_env_destroy(cr_exec_env *env)
{
    if (env->stream) dnnl_stream_destroy(env->stream);
    if (env->engine) dnnl_engine_destroy(env->engine);
    cr_weight_cache_destroy(env->weights);
    env->stream = NULL;
    env->engine = NULL;
    env->weights = NULL;
}

void cr_exec_env_enter(const cr_exec_env *env)
{
    omp_set_num_threads(env->threads);
}

void cr_exec_env_set_threads(int threads)
{
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}
