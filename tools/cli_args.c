/* Option parsing for the cnnrun program. Pure: reads argv, touches no files (apart from asking
 * whether a path exists, to tell "--expect NAME=FILE" from a file name that holds '='). */
#define _POSIX_C_SOURCE 200809L
#include "cli_args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_RTOL 1e-4
#define DEFAULT_ATOL 1e-5
#define MAX_THREADS 4096
#define MAX_BENCH_RUNS 1000000

void cli_print_usage(FILE *out)
{
    fputs("usage: cnnrun [options] MODEL.onnx [INPUT ...]\n"
          "\n"
          "Runs an ONNX model on arrays read from files and prints its outputs.\n"
          "INPUT files (.npy, .npz or ONNX TensorProto .pb) bind to the graph inputs in order;\n"
          "a single .npz whose arrays are named after the inputs binds them by name.\n"
          "\n"
          "options:\n"
          "  --input NAME=FILE   bind FILE to the graph input NAME (repeatable)\n"
          "  -o FILE.npy         save the output (single-output models)\n"
          "  -o DIR/             save every output as DIR/<name>.npy (DIR is created)\n"
          "  --expect FILE       compare outputs with reference arrays: a file of one array\n"
          "                      (.npy, .pb) is compared with the output of its name, else with\n"
          "                      the first output; a .npz's arrays by output name\n"
          "  --expect NAME=FILE  compare the output NAME with the array in FILE (repeatable)\n"
          "  --rtol X            relative tolerance (default 1e-4)\n"
          "  --atol X            absolute tolerance (default 1e-5); an element passes when\n"
          "                      |out - ref| <= atol + rtol * |ref| (NaN matches NaN)\n"
          "  --summary           print the planned graph node by node (without INPUT files:\n"
          "                      symbolic shapes, and the model is not run)\n"
          "  --threads N         worker threads (default: one per core)\n"
          "  --precision P       fp32 (default) or bf16: convolutions and pooling in bfloat16\n"
          "                      on CPUs with AVX-512 BF16/AMX, faster but ~1e-2 off float32\n"
          "  --conv A            direct (default) or winograd: Winograd kernels for the large\n"
          "                      3x3 stride-1 layers (AVX-512; fewer multiplies, other rounding)\n"
          "  --max-memory SIZE   refuse plans needing more than SIZE bytes of activations,\n"
          "                      scratch and plan-time constants (suffixes K, M, G, T: powers\n"
          "                      of 1024; 'none' for no ceiling; default 2G)\n"
          "  --bench N           time N runs after min(3, N) warm-up runs\n"
          "  --profile           time every kernel (over the --bench runs, default 10): op,\n"
          "                      fused post-ops, layout, oneDNN's implementation, GFLOP/s\n"
          "  -v, --verbose       print declared inputs/outputs and timings to stderr\n"
          "  -h, --help          print this help and exit\n"
          "  --version           print the cnnrun and oneDNN versions and exit\n"
          "  --list-ops          print the supported operators and opsets (Markdown) and exit\n"
          "\n"
          "exit codes:\n"
          "  0  success (and every compared output within tolerance)\n"
          "  1  an output is out of tolerance (--expect)\n"
          "  2  usage error, missing or malformed model or array file, or any runtime error\n",
          out);
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_tolerance(const char *text, double *out)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(value) || value < 0) return -1;
    *out = value;
    return 0;
}

/* "512M", "2G", "1.5G", "65536" or "none" (UINT64_MAX: no ceiling) into bytes. */
static int parse_size(const char *text, unsigned long long *out)
{
    if (strcmp(text, "none") == 0) {
        *out = ULLONG_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || !isfinite(value) || value <= 0) return -1;
    double unit = 1;
    switch (*end) {
    case 'K': case 'k': unit = 0x1p10; end++; break;
    case 'M': case 'm': unit = 0x1p20; end++; break;
    case 'G': case 'g': unit = 0x1p30; end++; break;
    case 'T': case 't': unit = 0x1p40; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++; /* "512MB", "2GB" */
    if (*end || value * unit >= 0x1p63 || value * unit < 1) return -1;
    *out = (unsigned long long)(value * unit);
    return 0;
}

static int parse_int(const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < lo || value > hi) return -1;
    *out = (int)value;
    return 0;
}

static char *keep_copy(cli_options *opts, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    opts->owned_strings[opts->n_owned_strings++] = copy;
    return copy;
}

/* Splits "NAME=FILE". With name_required == 0, a text without '=' (or one naming an existing
 * file) is a bare FILE. Returns -1 if a name is required but missing, -2 when out of memory. */
static int parse_binding(cli_options *opts, const char *text, int name_required, cli_binding *out)
{
    const char *eq = strchr(text, '=');
    struct stat st;
    if (!name_required && (!eq || stat(text, &st) == 0)) {
        out->name = NULL;
        out->path = text;
        return 0;
    }
    if (!eq || eq == text || !eq[1]) return -1;
    out->name = keep_copy(opts, text, (size_t)(eq - text));
    if (!out->name) return -2;
    out->path = eq + 1;
    return 0;
}

/* "--opt VALUE" or "--opt=VALUE": returns the value and advances *i, or NULL if it is missing. */
static const char *option_value(int argc, char **argv, int *i, const char *inline_value)
{
    if (inline_value) return inline_value;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

int cli_parse_args(int argc, char **argv, cli_options *opts, char *err, size_t err_size)
{
    memset(opts, 0, sizeof *opts);
    opts->rtol = DEFAULT_RTOL;
    opts->atol = DEFAULT_ATOL;
    if (argc < 1) return fail(err, err_size, "no arguments");
    /* Every list is bounded by argc, so one allocation each is enough. */
    size_t cap = (size_t)argc;
    opts->input_paths = calloc(cap, sizeof *opts->input_paths);
    opts->named_inputs = calloc(cap, sizeof *opts->named_inputs);
    opts->expects = calloc(cap, sizeof *opts->expects);
    opts->owned_strings = calloc(cap, sizeof *opts->owned_strings);
    if (!opts->input_paths || !opts->named_inputs || !opts->expects || !opts->owned_strings)
        return fail(err, err_size, "out of memory");

    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (!opts->model_path) opts->model_path = arg;
            else opts->input_paths[opts->n_input_paths++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        /* Split "--name=value" so that both spellings work. */
        char name[64];
        const char *inline_value = NULL;
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (name_len >= sizeof name) return fail(err, err_size, "unknown option '%s'", arg);
        memcpy(name, arg, name_len);
        name[name_len] = '\0';
        if (eq) inline_value = eq + 1;

        int is_flag = 1;
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) opts->help = 1;
        else if (strcmp(name, "--version") == 0) opts->version = 1;
        else if (strcmp(name, "--list-ops") == 0) opts->list_ops = 1;
        else if (strcmp(name, "-v") == 0 || strcmp(name, "--verbose") == 0) opts->verbose = 1;
        else if (strcmp(name, "--summary") == 0) opts->summary = 1;
        else if (strcmp(name, "--profile") == 0) opts->profile = 1;
        else is_flag = 0;
        if (is_flag) {
            if (inline_value) return fail(err, err_size, "option '%s' takes no value", name);
            continue;
        }

        const char *value = NULL;
        if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0 ||
            strcmp(name, "--input") == 0 || strcmp(name, "--expect") == 0 ||
            strcmp(name, "--rtol") == 0 || strcmp(name, "--atol") == 0 ||
            strcmp(name, "--threads") == 0 || strcmp(name, "--bench") == 0 ||
            strcmp(name, "--precision") == 0 || strcmp(name, "--max-memory") == 0 ||
            strcmp(name, "--conv") == 0) {
            value = option_value(argc, argv, &i, inline_value);
            if (!value) return fail(err, err_size, "option '%s' needs a value", name);
        } else {
            return fail(err, err_size, "unknown option '%s'", arg);
        }

        if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
            if (opts->output_path) return fail(err, err_size, "option '-o' given twice");
            if (!*value) return fail(err, err_size, "option '-o' needs a file or directory name");
            opts->output_path = value;
        } else if (strcmp(name, "--input") == 0) {
            int rc = parse_binding(opts, value, 1, &opts->named_inputs[opts->n_named_inputs]);
            if (rc == -2) return fail(err, err_size, "out of memory");
            if (rc) return fail(err, err_size, "--input wants NAME=FILE, got '%s'", value);
            opts->n_named_inputs++;
        } else if (strcmp(name, "--expect") == 0) {
            int rc = parse_binding(opts, value, 0, &opts->expects[opts->n_expects]);
            if (rc == -2) return fail(err, err_size, "out of memory");
            if (rc) return fail(err, err_size, "--expect wants FILE or NAME=FILE, got '%s'", value);
            opts->n_expects++;
        } else if (strcmp(name, "--rtol") == 0 || strcmp(name, "--atol") == 0) {
            double *target = name[2] == 'r' ? &opts->rtol : &opts->atol;
            if (parse_tolerance(value, target))
                return fail(err, err_size, "%s wants a finite number >= 0, got '%s'", name, value);
        } else if (strcmp(name, "--threads") == 0) {
            if (parse_int(value, 0, MAX_THREADS, &opts->threads))
                return fail(err, err_size, "--threads wants an integer from 0 to %d, got '%s'",
                            MAX_THREADS, value);
        } else if (strcmp(name, "--precision") == 0) {
            if (strcmp(value, "fp32") == 0 || strcmp(value, "float32") == 0) opts->bf16 = 0;
            else if (strcmp(value, "bf16") == 0 || strcmp(value, "bfloat16") == 0) opts->bf16 = 1;
            else return fail(err, err_size, "--precision wants fp32 or bf16, got '%s'", value);
        } else if (strcmp(name, "--conv") == 0) {
            if (strcmp(value, "direct") == 0) opts->winograd = 0;
            else if (strcmp(value, "winograd") == 0) opts->winograd = 1;
            else return fail(err, err_size, "--conv wants direct or winograd, got '%s'", value);
        } else if (strcmp(name, "--max-memory") == 0) {
            if (parse_size(value, &opts->max_memory))
                return fail(err, err_size, "--max-memory wants a size in bytes such as 512M, 4G or "
                            "1073741824 (at least 1 byte), or 'none', got '%s'", value);
        } else { /* --bench */
            if (parse_int(value, 1, MAX_BENCH_RUNS, &opts->bench_runs))
                return fail(err, err_size, "--bench wants an integer from 1 to %d, got '%s'",
                            MAX_BENCH_RUNS, value);
        }
    }
    if (opts->help || opts->version || opts->list_ops) return 0;
    if (!opts->model_path) return fail(err, err_size, "no model file given");
    return 0;
}

void cli_options_free(cli_options *opts)
{
    if (!opts) return;
    for (size_t i = 0; i < opts->n_owned_strings; i++) free(opts->owned_strings[i]);
    free(opts->owned_strings);
    free(opts->input_paths);
    free(opts->named_inputs);
    free(opts->expects);
    memset(opts, 0, sizeof *opts);
}
