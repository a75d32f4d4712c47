/*
 * check.h: the unit-test harness shared by tests/test_*.c.
 *
 * A test binary defines test functions, runs them with RUN(fn), and ends
 * main with `return check_summary();`.  Each test prints one line,
 * "PASS name" or "FAIL name", which tests/run.py counts; a failed CHECK
 * prints the file, line and expression, and the test goes on to its end so
 * every failure is seen.  Exit status is non-zero if anything failed.
 */
#ifndef RZ_CHECK_H
#define RZ_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_tests_failed;
static int check_tests_run;

#define CHECK(expr)                                                        \
    do {                                                                   \
        if (!(expr)) {                                                     \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__,       \
                    __LINE__, #expr);                                      \
            check_failures_in_test++;                                      \
        }                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                 \
    do {                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);    \
        if (check_a_ != check_b_) {                                        \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",  \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);       \
            check_failures_in_test++;                                      \
        }                                                                  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                 \
    do {                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                       \
        if (strcmp(check_a_, check_b_) != 0) {                             \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",    \
                    __FILE__, __LINE__, #a, check_a_, check_b_);           \
            check_failures_in_test++;                                      \
        }                                                                  \
    } while (0)

#define RUN(fn)                                                            \
    do {                                                                   \
        check_failures_in_test = 0;                                        \
        check_tests_run++;                                                 \
        fn();                                                              \
        if (check_failures_in_test) {                                      \
            check_tests_failed++;                                          \
            printf("FAIL %s\n", #fn);                                      \
        } else {                                                           \
            printf("PASS %s\n", #fn);                                      \
        }                                                                  \
        fflush(stdout);                                                    \
    } while (0)

static inline int check_summary(void)
{
    return check_tests_failed ? 1 : 0;
}

#endif
