/* Status objects: a code and a heap-allocated message. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnnrun_status {
    cnnrun_code code;
    char *message;
};

/* Returned when even the error cannot be allocated; never freed. */
static struct cnnrun_status out_of_memory_status = {CNNRUN_ERR_OUT_OF_MEMORY,
                                                    "out of memory while reporting an error"};

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

cnnrun_status *cr_error(cnnrun_code code, const char *fmt, ...)
{
    cnnrun_status *st = malloc(sizeof *st);
    if (!st) return &out_of_memory_status;
    va_list ap;
    va_start(ap, fmt);
    st->message = vformat(fmt, ap);
    va_end(ap);
    if (!st->message) {
        free(st);
        return &out_of_memory_status;
    }
    st->code = code;
    return st;
}

cnnrun_status *cr_error_prefix(cnnrun_status *status, const char *fmt, ...)
{
    if (!status || status == &out_of_memory_status) return status;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    if (!prefix) return status;
    size_t lp = strlen(prefix), lm = strlen(status->message);
    char *joined = malloc(lp + 2 + lm + 1);
    if (joined) {
        memcpy(joined, prefix, lp);
        memcpy(joined + lp, ": ", 2);
        memcpy(joined + lp + 2, status->message, lm + 1);
        free(status->message);
        status->message = joined;
    }
    free(prefix);
    return status;
}

cnnrun_code cnnrun_status_code(const cnnrun_status *status)
{
    return status ? status->code : CNNRUN_OK;
}

const char *cnnrun_status_message(const cnnrun_status *status)
{
    return status ? status->message : "ok";
}

void cnnrun_status_free(cnnrun_status *status)
{
    if (!status || status == &out_of_memory_status) return;
    free(status->message);
    free(status);
}
