/* Internal helpers to build cnnrun_status errors. A NULL status means success. */
#ifndef CR_STATUS_H
#define CR_STATUS_H

#include "cnnrun.h"

#if defined(__GNUC__)
#define CR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CR_PRINTF(fmt, args)
#endif

/* Makes an error status with a printf-style message. Never returns NULL: if the status itself
 * cannot be allocated, a static out-of-memory status is returned (cnnrun_status_free ignores it). */
cnnrun_status *cr_error(cnnrun_code code, const char *fmt, ...) CR_PRINTF(2, 3);

/* Prefixes an existing status's message with context ("node 'conv1' (Conv): ...") and returns it.
 * NULL passes through unchanged. */
cnnrun_status *cr_error_prefix(cnnrun_status *status, const char *fmt, ...) CR_PRINTF(2, 3);

/* Returns from the calling function if expr yields an error. */
#define CR_TRY(expr)                                                                               \
    do {                                                                                           \
        cnnrun_status *cr_try_status_ = (expr);                                                    \
        if (cr_try_status_) return cr_try_status_;                                                 \
    } while (0)

#endif
