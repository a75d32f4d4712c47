/*
 * fuzz_tar_parser: bytes -> tar_parser -> a checking null sink.
 *
 * Each input is parsed several times and the runs are compared, since the
 * parser promises the same events and the same error for every split of
 * its input:
 *   A  whole, strict trailer        B  split in two (point from byte 0)
 *   C  whole, lenient trailer       D  split in three (bytes 1 and 2), lenient
 *   E  one byte at a time (inputs up to 4 KiB), strict
 *   F  whole, strict, with the Nth callback failing (N from byte 3)
 *   G  whole and split in two with -i (ignore zero blocks)
 * A strict run that succeeded or failed before the end of the archive must
 * match the lenient one; one that failed on trailing data must match a
 * lenient success.  The sink (fuzz_common.c) checks each run's callbacks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    struct rz_error err;
    struct null_sink sink;
    int rc;
};

/* Feeds data cut at the given points (ascending, each <= size). */
static void parse(struct run *r, const uint8_t *data, size_t size,
                  const size_t *cuts, size_t ncuts, unsigned flags,
                  unsigned fail_at, bool fail_silent)
{
    struct tar_parser p;
    rz_error_clear(&r->err);
    null_sink_init(&r->sink, &r->err);
    r->sink.fail_at = fail_at;
    r->sink.fail_silent = fail_silent;
    FUZZ_CHECK(tar_parser_init(&p, &null_sink_callbacks, &r->sink, &r->err,
                               flags) == 0);
    FUZZ_CHECK(tar_parser_push(&p, data, 0) == 0);
    int rc = 0;
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : size;
        rc = tar_parser_push(&p, data + at, end - at);
        at = end;
    }
    if (rc == 0)
        rc = tar_parser_finish(&p);
    else /* sticky: nothing more happens */
        FUZZ_CHECK(tar_parser_push(&p, data, size) == -1);
    r->rc = rc;
    null_sink_check_end(&r->sink, &p, rc);
    tar_parser_free(&p);
}

static void same(const struct run *a, const struct run *b)
{
    FUZZ_CHECK(a->rc == b->rc);
    FUZZ_CHECK(fuzz_error_equal(&a->err, &b->err));
    FUZZ_CHECK(a->sink.hash == b->sink.hash); /* data chunking may differ */
    FUZZ_CHECK(a->sink.entries == b->sink.entries);
}

static void byte_by_byte(struct run *r, const uint8_t *data, size_t size)
{
    struct tar_parser p;
    rz_error_clear(&r->err);
    null_sink_init(&r->sink, &r->err);
    FUZZ_CHECK(tar_parser_init(&p, &null_sink_callbacks, &r->sink, &r->err,
                               0) == 0);
    int rc = 0;
    for (size_t i = 0; i < size && rc == 0; i++)
        rc = tar_parser_push(&p, data + i, 1);
    if (rc == 0)
        rc = tar_parser_finish(&p);
    r->rc = rc;
    null_sink_check_end(&r->sink, &p, rc);
    tar_parser_free(&p);
}

static uint8_t at(const uint8_t *data, size_t size, size_t i)
{
    return i < size ? data[i] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run a, b, c, d, e, f;
    size_t cut1 = fuzz_split(at(data, size, 0), size);
    size_t c1 = fuzz_split(at(data, size, 1), size);
    size_t c2 = fuzz_split(at(data, size, 2), size);
    size_t cuts3[2] = { c1 < c2 ? c1 : c2, c1 < c2 ? c2 : c1 };

    parse(&a, data, size, NULL, 0, 0, 0, false);
    parse(&b, data, size, &cut1, 1, 0, 0, false);
    same(&a, &b);

    parse(&c, data, size, NULL, 0, TAR_PARSER_LENIENT_TRAILER, 0, false);
    parse(&d, data, size, cuts3, 2, TAR_PARSER_LENIENT_TRAILER, 0, false);
    same(&c, &d);
    /* lenient also accepts a missing or single end block */
    if (a.err.code == RZ_E_TAR_TRAILING || a.err.code == RZ_E_TAR_NO_EOA) {
        FUZZ_CHECK(c.rc == 0);
        FUZZ_CHECK(a.sink.hash == c.sink.hash);
    } else {
        same(&a, &c);
    }

    {
        struct run g, h;
        parse(&g, data, size, NULL, 0, TAR_PARSER_IGNORE_ZEROS, 0, false);
        parse(&h, data, size, &cut1, 1, TAR_PARSER_IGNORE_ZEROS, 0, false);
        same(&g, &h);
    }

    if (size <= 4096) {
        byte_by_byte(&e, data, size);
        same(&a, &e);
    }

    if (a.sink.callbacks > 0) {
        unsigned n = 1 + at(data, size, 3) % a.sink.callbacks;
        parse(&f, data, size, NULL, 0, 0, n, at(data, size, 4) & 1);
        FUZZ_CHECK(f.rc == -1);
        FUZZ_CHECK(f.sink.callbacks == n);
    }
    return 0;
}
