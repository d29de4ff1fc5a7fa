/* A minimal assertion kit for the C tests: each failed check prints where and why and counts;
 * a test program exits non-zero if any check failed, and prints "N passed, M failed". */
#ifndef CNNRUN_TEST_UTIL_H
#define CNNRUN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun.h"

static int test_checks_passed, test_checks_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) test_checks_passed++;                                                            \
        else {                                                                                     \
            test_checks_failed++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        cnnrun_status *check_st_ = (expr);                                                         \
        if (!check_st_) test_checks_passed++;                                                      \
        else {                                                                                     \
            test_checks_failed++;                                                              \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,                  \
                    cnnrun_status_message(check_st_));                                             \
            cnnrun_status_free(check_st_);                                                         \
        }                                                                                          \
    } while (0)

/* Expects an error with this code whose message contains `fragment`. */
#define CHECK_ERR(expr, code, fragment)                                                            \
    do {                                                                                           \
        cnnrun_status *check_st_ = (expr);                                                         \
        if (check_st_ && cnnrun_status_code(check_st_) == (code) &&                                \
            strstr(cnnrun_status_message(check_st_), (fragment)))                                  \
            test_checks_passed++;                                                                  \
        else {                                                                                     \
            test_checks_failed++;                                                                  \
            fprintf(stderr, "%s:%d: %s: expected error %d containing '%s', got %d: %s\n",         \
                    __FILE__, __LINE__, #expr, (int)(code), (fragment),                           \
                    (int)cnnrun_status_code(check_st_), cnnrun_status_message(check_st_));         \
        }                                                                                          \
        cnnrun_status_free(check_st_);                                                             \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check_a_ = (a), check_b_ = (b);                                                     \
        if (fabs(check_a_ - check_b_) <= (tol)) test_checks_passed++;                              \
        else {                                                                                     \
            test_checks_failed++;                                                                  \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n", __FILE__,          \
                    __LINE__, #a, check_a_, #b, check_b_, (double)(tol));                          \
        }                                                                                          \
    } while (0)

static inline int test_report(void)
{
    printf("%d passed, %d failed\n", test_checks_passed, test_checks_failed);
    return test_checks_failed ? 1 : 0;
}

#endif
