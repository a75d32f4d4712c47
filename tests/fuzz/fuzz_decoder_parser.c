/*
 * fuzz_decoder_parser: bytes -> decoder (any backend) -> tar_parser ->
 * the checking null sink of fuzz_common.c.
 *
 * Each input runs whole, split in two (point from byte 0), and one byte at
 * a time (inputs up to 2 KiB).  Between decoder and parser a tee checks the
 * decoder's contract (never len 0, never over DECODER_OUT_SIZE) and hashes
 * the decoded stream.  Runs are compared when no decoder error happened in
 * either: then the decoded stream, the tar events and the error must be the
 * same.  (After a decoder error, how much was decoded before it may depend
 * on the split, and with it which stage failed first.)  An input decoded
 * as identity must come out byte for byte unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/decoder.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    struct rz_error err;
    struct null_sink sink;
    struct tar_parser tar;
    uint64_t out_hash, out_bytes;
    enum decoder_kind kind;
    int rc;
};

static int tee(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= DECODER_OUT_SIZE);
    r->out_hash = fuzz_hash(r->out_hash, buf, len);
    if (tar_parser_push(&r->tar, buf, len) < 0)
        return -1;
    r->out_bytes += len; /* the decoder counts accepted bytes only */
    return 0;
}

/* step == 0: whole, else pieces of `step` bytes; cut: an extra cut point. */
static void run(struct run *r, const uint8_t *data, size_t size, size_t cut,
                size_t step)
{
    struct decoder d;
    rz_error_clear(&r->err);
    null_sink_init(&r->sink, &r->err);
    r->out_hash = FUZZ_HASH_INIT;
    r->out_bytes = 0;
    FUZZ_CHECK(tar_parser_init(&r->tar, &null_sink_callbacks, &r->sink,
                               &r->err, 0) == 0);
    FUZZ_CHECK(decoder_init(&d, tee, r, &r->err) == 0);
    int rc = decoder_push(&d, data, 0);
    FUZZ_CHECK(rc == 0);
    size_t at = 0;
    while (rc == 0 && at < size) {
        size_t n = step ? step : (at < cut ? cut - at : size - at);
        if (n > size - at)
            n = size - at;
        rc = decoder_push(&d, data + at, n);
        at += n;
    }
    if (rc == 0)
        rc = decoder_finish(&d);
    if (rc == 0)
        rc = tar_parser_finish(&r->tar);
    else
        FUZZ_CHECK(decoder_push(&d, data, size) == -1);
    r->rc = rc;
    r->kind = d.kind;
    FUZZ_CHECK(d.in_bytes <= size);
    FUZZ_CHECK(d.out_bytes == r->out_bytes);
    null_sink_check_end(&r->sink, &r->tar, rc);
    decoder_free(&d);
    tar_parser_free(&r->tar);
}

static bool decoder_error(enum rz_code c)
{
    return c == RZ_E_DECODE_DATA || c == RZ_E_DECODE_TRUNCATED
           || c == RZ_E_DECODE_TRAILING || c == RZ_E_DECODE_UNSUPPORTED
           || c == RZ_E_GZIP_CRC || c == RZ_E_NOMEM
           || c == RZ_E_DECODE_NOT_BUILT || c == RZ_E_DECODE_EMPTY
           || c == RZ_E_DECODE_HTML || c == RZ_E_DECODE_ZIP
           || c == RZ_E_DECODE_UNKNOWN || c == RZ_E_DECODE_WINDOW
           || c == RZ_E_DECODE_MEMLIMIT || c == RZ_E_DECODE_CHECK;
}

static void compare(const struct run *a, const struct run *b)
{
    if (decoder_error(a->err.code) || decoder_error(b->err.code)) {
        /* which stage failed first may depend on the split; but a clean
         * run is clean for every split */
        FUZZ_CHECK(a->rc != 0 && b->rc != 0);
        return;
    }
    FUZZ_CHECK(a->rc == b->rc);
    FUZZ_CHECK(a->kind == b->kind);
    FUZZ_CHECK(fuzz_error_equal(&a->err, &b->err));
    FUZZ_CHECK(a->sink.hash == b->sink.hash);
    if (a->rc == 0) { /* after a tar error, how much was fed may differ */
        FUZZ_CHECK(a->out_bytes == b->out_bytes);
        FUZZ_CHECK(a->out_hash == b->out_hash);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run *r = malloc(3 * sizeof *r);
    FUZZ_CHECK(r != NULL);
    run(&r[0], data, size, size, 0);
    if (r[0].kind == DECODER_IDENTITY && !decoder_error(r[0].err.code)) {
        FUZZ_CHECK(r[0].out_bytes <= size);
        if (r[0].rc == 0)
            FUZZ_CHECK(r[0].out_hash == fuzz_hash(FUZZ_HASH_INIT, data, size));
    }
    run(&r[1], data, size, fuzz_split(size ? data[0] : 0, size), 0);
    compare(&r[0], &r[1]);
    if (size <= 2048) {
        run(&r[2], data, size, size, 1);
        compare(&r[0], &r[2]);
    }
    free(r);
    return 0;
}
