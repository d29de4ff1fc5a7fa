/* machine_peak: the arithmetic peaks of this CPU, for the benchmark's share-of-peak column.
 *
 *   machine_peak [--threads N] [--seconds S]
 *
 * For each kind of arithmetic the CPU has, a register-only loop runs on 1 thread and then on N
 * (default: every online CPU), and one JSON line per measurement goes to stdout:
 *   {"kind":"fp32_fma_avx512","threads":2,"gflops":229.8,"op":"vfmadd231ps zmm","flop_per_op":32}
 * Kinds: fp32_fma_avx512, fp32_fma_avx2 (256-bit), bf16_dot_avx512 (vdpbf16ps),
 * int8_dot_vnni (vpdpbusd, counted as 2 ops per multiply-add like the FLOPs), and on CPUs with AMX
 * amx_bf16 (tdpbf16ps) and amx_int8 (tdpbusd). Kinds the CPU lacks are reported as
 * {"kind":...,"unsupported":"why"}.
 *
 * Each loop keeps enough independent accumulator chains in flight to cover the instruction's
 * latency on every issue port (16 zmm chains; 4 AMX accumulator tiles), and its result is
 * written to a volatile sink, so the compiler can neither drop the work nor merge the chains. The
 * figure is the best of 3 timed repetitions. What kernels reach is below these numbers: they also
 * load and store. A benchmark row above its peak measured here is therefore an error of the
 * benchmark (wrong FLOP count, wrong time, or a different machine), never a result. */
#define _GNU_SOURCE /* syscall */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 16
#define INNER 64 /* iterations between checks of the clock */

static volatile float sink_f;
static volatile int32_t sink_i;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the loops: each returns the instructions it retired in `seconds` ---- */

#define ZMM_LOOP(type, zero, op, sink_expr)                                                        \
    type acc[CHAINS];                                                                              \
    for (int c = 0; c < CHAINS; c++) acc[c] = zero;                                                \
    uint64_t ops = 0;                                                                              \
    double end = now_s() + seconds;                                                                \
    do {                                                                                           \
        for (int i = 0; i < INNER; i++)                                                            \
            for (int c = 0; c < CHAINS; c++) acc[c] = op;                                          \
        ops += (uint64_t)INNER * CHAINS;                                                           \
    } while (now_s() < end);                                                                       \
    for (int c = 1; c < CHAINS; c++) acc[0] = sink_expr;

__attribute__((target("avx512f"))) static uint64_t loop_fp32_avx512(double seconds, float seed)
{
    __m512 a = _mm512_set1_ps(seed), b = _mm512_set1_ps(1.0f - seed);
    ZMM_LOOP(__m512, _mm512_set1_ps(seed), _mm512_fmadd_ps(a, b, acc[c]), _mm512_add_ps(acc[0], acc[c]))
    sink_f = _mm512_reduce_add_ps(acc[0]);
    return ops;
}

__attribute__((target("avx2,fma"))) static uint64_t loop_fp32_avx2(double seconds, float seed)
{
    __m256 a = _mm256_set1_ps(seed), b = _mm256_set1_ps(1.0f - seed);
    ZMM_LOOP(__m256, _mm256_set1_ps(seed), _mm256_fmadd_ps(a, b, acc[c]), _mm256_add_ps(acc[0], acc[c]))
    float out[8];
    _mm256_storeu_ps(out, acc[0]);
    sink_f = out[0] + out[7];
    return ops;
}

__attribute__((target("avx512f,avx512bf16"))) static uint64_t loop_bf16_avx512(double seconds, float seed)
{
    __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(seed), _mm512_set1_ps(seed));
    __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1.0f - seed), _mm512_set1_ps(seed));
    ZMM_LOOP(__m512, _mm512_set1_ps(seed), _mm512_dpbf16_ps(acc[c], a, b), _mm512_add_ps(acc[0], acc[c]))
    sink_f = _mm512_reduce_add_ps(acc[0]);
    return ops;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static uint64_t loop_int8_vnni(double seconds, float seed)
{
    __m512i a = _mm512_set1_epi8((char)(seed * 7)), b = _mm512_set1_epi8((char)(seed * 3 + 1));
    ZMM_LOOP(__m512i, _mm512_set1_epi32((int)seed), _mm512_dpbusd_epi32(acc[c], a, b),
             _mm512_add_epi32(acc[0], acc[c]))
    /* Summed as unsigned: the accumulators wrap by design, and _mm512_reduce_add_epi32 adds the
     * lanes as signed int, an overflow UBSan reports (the sanitizer build's bench_peaks test). */
    uint32_t lanes[16], sum = 0;
    _mm512_storeu_si512(lanes, acc[0]);
    for (int i = 0; i < 16; i++) sum += lanes[i];
    sink_i = (int32_t)sum;
    return ops;
}

/* AMX: tiles 0-3 accumulate (16 rows x 64 bytes), 4-5 hold A rows, 6-7 hold B; four dot products
 * per iteration, each independent of the one before. Linux hands out the tile state only on
 * request (arch_prctl ARCH_REQ_XCOMP_PERM), per process. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} tile_config;

static int amx_permitted(void)
{
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

__attribute__((target("amx-tile"))) static void amx_configure(void)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.bytes_per_row[t] = 64;
    }
    _tile_loadconfig(&cfg);
}

#define AMX_LOOP(dot, sink)                                                                        \
    static int8_t tiles_in[2][16 * 64];                                                            \
    for (int i = 0; i < 16 * 64; i++) tiles_in[0][i] = tiles_in[1][i] = (int8_t)(seed * 3);       \
    amx_configure();                                                                               \
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);                                    \
    _tile_loadd(4, tiles_in[0], 64); _tile_loadd(5, tiles_in[1], 64);                              \
    _tile_loadd(6, tiles_in[0], 64); _tile_loadd(7, tiles_in[1], 64);                              \
    uint64_t ops = 0;                                                                              \
    double end = now_s() + seconds;                                                                \
    do {                                                                                           \
        for (int i = 0; i < INNER; i++) {                                                          \
            dot(0, 4, 6); dot(1, 4, 7); dot(2, 5, 6); dot(3, 5, 7);                                \
        }                                                                                          \
        ops += (uint64_t)INNER * 4;                                                                \
    } while (now_s() < end);                                                                       \
    static int32_t tiles_out[16 * 16];                                                             \
    _tile_stored(0, tiles_out, 64);                                                                \
    sink = tiles_out[0];                                                                           \
    _tile_release();                                                                               \
    return ops;

__attribute__((target("amx-tile,amx-bf16"))) static uint64_t loop_amx_bf16(double seconds, float seed)
{
    AMX_LOOP(_tile_dpbf16ps, sink_i)
}

__attribute__((target("amx-tile,amx-int8"))) static uint64_t loop_amx_int8(double seconds, float seed)
{
    AMX_LOOP(_tile_dpbusd, sink_i)
}

/* ---- the kinds ---- */

typedef struct kind {
    const char *name;
    const char *op;
    double flop_per_op; /* a multiply-add counts 2, as in the benchmark's FLOP counts */
    uint64_t (*loop)(double seconds, float seed);
    int (*available)(void);
    const char *needs;
} kind;

static int has_avx512f(void) { return __builtin_cpu_supports("avx512f"); }
static int has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
static int has_avx512bf16(void) { return __builtin_cpu_supports("avx512bf16"); }
static int has_avx512vnni(void) { return __builtin_cpu_supports("avx512vnni"); }
/* CPUID leaf 7's EDX bits 22 (AMX-BF16) and 25 (AMX-INT8): read directly, since clang 14's
 * __builtin_cpu_supports does not know the AMX names. */
static int cpuid7_edx_bit(int bit)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> bit & 1u);
}
static int has_amx_bf16(void) { return cpuid7_edx_bit(22) && amx_permitted(); }
static int has_amx_int8(void) { return cpuid7_edx_bit(25) && amx_permitted(); }

static const kind kinds[] = {
    {"fp32_fma_avx512", "vfmadd231ps zmm", 32, loop_fp32_avx512, has_avx512f, "AVX-512F"},
    {"fp32_fma_avx2", "vfmadd231ps ymm", 16, loop_fp32_avx2, has_avx2, "AVX2 and FMA"},
    {"bf16_dot_avx512", "vdpbf16ps zmm", 64, loop_bf16_avx512, has_avx512bf16, "AVX512_BF16"},
    {"int8_dot_vnni", "vpdpbusd zmm", 128, loop_int8_vnni, has_avx512vnni, "AVX512_VNNI"},
    {"amx_bf16", "tdpbf16ps 16x16x32", 2.0 * 16 * 16 * 32, loop_amx_bf16, has_amx_bf16,
     "AMX-BF16 with the kernel's permission"},
    {"amx_int8", "tdpbusd 16x16x64", 2.0 * 16 * 16 * 64, loop_amx_int8, has_amx_int8,
     "AMX-INT8 with the kernel's permission"},
};

typedef struct worker {
    const kind *k;
    double seconds;
    uint64_t ops;
    double elapsed;
    pthread_barrier_t *start;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    double t0 = now_s();
    w->ops = w->k->loop(w->seconds, 0.5f);
    w->elapsed = now_s() - t0;
    return NULL;
}

/* GFLOP/s of `threads` threads running the loop at once: total work over the slowest's time. */
static double measure(const kind *k, int threads, double seconds)
{
    worker w[256];
    pthread_t tid[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) w[t] = (worker){.k = k, .seconds = seconds, .start = &start};
    for (int t = 1; t < threads; t++) pthread_create(&tid[t], NULL, run_worker, &w[t]);
    run_worker(&w[0]);
    for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&start);
    double total = 0, slowest = 0;
    for (int t = 0; t < threads; t++) {
        total += (double)w[t].ops * k->flop_per_op;
        if (w[t].elapsed > slowest) slowest = w[t].elapsed;
    }
    return total / slowest / 1e9;
}

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double seconds = 0.3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: machine_peak [--threads N] [--seconds S]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 256 || !(seconds > 0 && seconds < 60)) {
        fprintf(stderr, "machine_peak: threads must be 1-256 and seconds in (0, 60)\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const kind *k = &kinds[i];
        if (!k->available()) {
            printf("{\"kind\":\"%s\",\"unsupported\":\"needs %s\"}\n", k->name, k->needs);
            continue;
        }
        int counts[2] = {1, threads};
        for (int c = 0; c < (threads > 1 ? 2 : 1); c++) {
            double best = 0;
            for (int rep = 0; rep < 3; rep++) {
                double g = measure(k, counts[c], seconds);
                if (g > best) best = g;
            }
            printf("{\"kind\":\"%s\",\"threads\":%d,\"gflops\":%.1f,\"op\":\"%s\",\"flop_per_op\":%g}\n",
                   k->name, counts[c], best, k->op, k->flop_per_op);
            fflush(stdout);
        }
    }
    return 0;
}
