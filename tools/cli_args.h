/* Command-line options of the cnnrun program: what the user asked for, parsed and checked. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes, as documented by --help. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_OUT_OF_TOLERANCE = 1,
    CLI_EXIT_ERROR = 2 /* bad usage, missing or malformed file, any library error */
};

/* "NAME=FILE" as given to --input or --expect; name is NULL where only a file was given. */
typedef struct cli_binding {
    const char *name;
    const char *path;
} cli_binding;

typedef struct cli_options {
    const char *model_path;
    const char **input_paths;   /* positional array files, in graph input order */
    size_t n_input_paths;
    cli_binding *named_inputs;  /* --input NAME=FILE */
    size_t n_named_inputs;
    cli_binding *expects;       /* --expect FILE or --expect NAME=FILE */
    size_t n_expects;
    const char *output_path;    /* -o FILE or -o DIR/ */
    double rtol, atol;
    int threads;                /* 0 = library default */
    int bf16;                   /* --precision bf16 */
    int winograd;               /* --conv winograd */
    unsigned long long max_memory; /* --max-memory in bytes; 0 = library default */
    int bench_runs;             /* 0 = no benchmark */
    int summary, profile, verbose, help, version, list_ops;
    /* Storage behind the "NAME=FILE" strings, owned by the options. */
    char **owned_strings;
    size_t n_owned_strings;
} cli_options;

/* Parses argv into *opts. On failure returns -1 with a message in err (opts is still freeable). */
int cli_parse_args(int argc, char **argv, cli_options *opts, char *err, size_t err_size);
void cli_options_free(cli_options *opts);
void cli_print_usage(FILE *out);

#endif
