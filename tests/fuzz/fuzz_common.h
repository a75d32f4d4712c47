/*
 * fuzz_common.h: what the libFuzzer targets share.
 *
 * A checking null sink for the tar parser: it takes every callback, checks
 * the parser's contract on each (entry_begin and entry_end alternate, data
 * only for regular files, never more data than the entry's size and exactly
 * that much by entry_end, names NUL-terminated at their stated length,
 * member offsets block-aligned and increasing, nothing after a callback
 * failed) and folds every event into a hash, so two runs over the same
 * bytes split differently can be compared.  A broken invariant calls
 * abort(), which libFuzzer reports as a crash with the input saved.
 *
 * `fail_at` (0 = never) makes the Nth callback fail, with an error set or
 * (`fail_silent`) without one, to exercise the parser's stop path.
 */
#ifndef RZ_FUZZ_COMMON_H
#define RZ_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../formats/rz_error.h"
#include "../../formats/tar_parser.h"

/* Breaks to the fuzzer with a message naming the broken invariant. */
#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond))                                                         \
            fuzz_fail(__FILE__, __LINE__, #cond);                            \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

uint64_t fuzz_hash(uint64_t h, const void *buf, size_t len);
#define FUZZ_HASH_INIT 0xcbf29ce484222325ull

struct null_sink {
    struct rz_error *err;
    uint64_t hash;           /* every event folded in */
    unsigned callbacks;      /* callbacks received */
    unsigned entries;        /* entry_begin calls */
    unsigned fail_at;        /* fail the Nth callback (1-based), 0 = never */
    bool fail_silent;        /* fail without setting *err */
    bool failed;             /* a callback returned -1 */
    bool in_entry;
    bool is_reg;
    uint64_t size, seen;
    bool have_offset;
    uint64_t last_offset;
};

void null_sink_init(struct null_sink *s, struct rz_error *err);
extern const struct tar_callbacks null_sink_callbacks;

/* The end of a run: the parser's status agrees with the sink's view. */
void null_sink_check_end(const struct null_sink *s,
                         const struct tar_parser *p, int rc);

/* A split point in [0, len] derived from one byte of the input. */
size_t fuzz_split(uint8_t b, size_t len);

bool fuzz_error_equal(const struct rz_error *a, const struct rz_error *b);

#endif
