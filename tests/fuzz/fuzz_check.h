/* What every fuzz harness asserts about a status, besides "no crash, no sanitizer report": a
 * failure carries one of the documented error codes and a message that says something. An
 * abort() here is a finding like any crash. */
#ifndef CNNRUN_FUZZ_CHECK_H
#define CNNRUN_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun.h"

/* Frees st after checking it; returns 1 if it was an error. */
static inline int fuzz_check_status(cnnrun_status *st, const char *call)
{
    if (!st) return 0;
    cnnrun_code code = cnnrun_status_code(st);
    const char *msg = cnnrun_status_message(st);
    if (code <= CNNRUN_OK || code > CNNRUN_ERR_INTERNAL || !msg || strlen(msg) < 8) {
        fprintf(stderr, "%s: error status with code %d and message '%s'\n", call, (int)code,
                msg ? msg : "(null)");
        abort();
    }
    cnnrun_status_free(st);
    return 1;
}

#endif
