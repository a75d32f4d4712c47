/*
 * fuzz_decoders: bytes -> decoder (every backend: the magic picks it) ->
 * a checking, hashing sink.  No tar parser, so the fuzzer's effort goes into
 * the backends, detection and the gzip member framing.
 *
 * Each input runs whole, split in two (point from byte 0), one byte at a
 * time (inputs up to 4 KiB), and, for xz, with 1 and 2 decoder threads.
 * Checks: `out` never gets 0 or more than DECODER_OUT_SIZE bytes;
 * out_bytes is what the sink got; in_bytes never exceeds the input; a run
 * that succeeds for one split succeeds for all with the same output, and a
 * failing one fails for all with the same error code; the error is sticky
 * (a push after it fails without output); identity output is the input.
 * Limits are lowered (64 MiB for xz, 8 MiB zstd windows) so a hostile
 * header is refused instead of exhausting libFuzzer's memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/decoder.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    struct rz_error err;
    uint64_t out_hash, out_bytes;
    enum decoder_kind kind;
    int rc;
    bool failed;   /* the sink saw a call after an error */
};

static int sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= DECODER_OUT_SIZE);
    FUZZ_CHECK(r->err.code == RZ_E_OK);
    r->out_hash = fuzz_hash(r->out_hash, buf, len);
    r->out_bytes += len;
    return 0;
}

static void run(struct run *r, const uint8_t *data, size_t size, size_t cut,
                size_t step, unsigned threads)
{
    struct decoder d;
    struct decoder_options o = {0};
    o.xz_memlimit = 64 << 20;
    o.zstd_max_window = 8 << 20;
    o.xz_threads = threads;
    rz_error_clear(&r->err);
    r->out_hash = FUZZ_HASH_INIT;
    r->out_bytes = 0;
    FUZZ_CHECK(decoder_init(&d, sink, r, &r->err) == 0);
    decoder_set_options(&d, &o);
    int rc = 0;
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
    if (rc != 0) {
        uint64_t before = r->out_bytes;
        FUZZ_CHECK(r->err.code != RZ_E_OK);
        FUZZ_CHECK(decoder_push(&d, data, size) == -1);
        FUZZ_CHECK(decoder_finish(&d) == -1);
        FUZZ_CHECK(r->out_bytes == before);
    }
    r->rc = rc;
    r->kind = d.kind;
    FUZZ_CHECK(d.in_bytes <= size);
    FUZZ_CHECK(d.out_bytes == r->out_bytes);
    decoder_free(&d);
}

static void compare(const struct run *a, const struct run *b)
{
    FUZZ_CHECK(a->rc == b->rc);
    FUZZ_CHECK(a->err.code == b->err.code);
    FUZZ_CHECK(a->kind == b->kind);
    if (a->rc == 0) {
        FUZZ_CHECK(a->out_bytes == b->out_bytes);
        FUZZ_CHECK(a->out_hash == b->out_hash);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r[2];
    run(&r[0], data, size, size, 0, 1);
    if (r[0].kind == DECODER_IDENTITY && r[0].rc == 0) {
        FUZZ_CHECK(r[0].out_bytes == size);
        FUZZ_CHECK(r[0].out_hash == fuzz_hash(FUZZ_HASH_INIT, data, size));
    }
    run(&r[1], data, size, fuzz_split(size ? data[0] : 0, size), 0, 1);
    compare(&r[0], &r[1]);
    if (size <= 4096) {
        run(&r[1], data, size, size, 1, 1);
        compare(&r[0], &r[1]);
    }
    if (r[0].kind == DECODER_XZ) {
        run(&r[1], data, size, size, 0, 2);
        compare(&r[0], &r[1]);
    }
    return 0;
}
