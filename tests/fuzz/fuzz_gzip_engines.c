/*
 * fuzz_gzip_engines: the same bytes through the gzip member framing with
 * zlib and with ISA-L underneath (formats/gzip_members.c), whole and split
 * in two (point from byte 0).  The engines must agree: both succeed with
 * identical output, or both fail; when neither calls the deflate data
 * corrupt, with the same error code, offset, detail and output before it
 * (the framing's errors: header, CRC-32, ISIZE, trailing data, truncation).
 * Inputs that are not gzip are fine too: both runs then take the same
 * non-gzip path, and must agree on everything but the error offset, which
 * for a library that buffers a few bytes inside (libzstd, liblzma...)
 * depends on where the input was split (decoder.h says so).
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
    int rc;
    const char *format;     /* decoder_name() at the end */
};

static int sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    FUZZ_CHECK(len > 0 && len <= DECODER_OUT_SIZE);
    r->out_hash = fuzz_hash(r->out_hash, buf, len);
    r->out_bytes += len;
    return 0;
}

static void run(struct run *r, const uint8_t *data, size_t size, size_t cut,
                enum decoder_gzip_engine e)
{
    struct decoder d;
    struct decoder_options o = {0};
    o.gzip_engine = e;
    o.xz_memlimit = 64 << 20;
    o.zstd_max_window = 8 << 20;
    o.xz_threads = 1;
    rz_error_clear(&r->err);
    r->out_hash = FUZZ_HASH_INIT;
    r->out_bytes = 0;
    FUZZ_CHECK(decoder_init(&d, sink, r, &r->err) == 0);
    decoder_set_options(&d, &o);
    int rc = decoder_push(&d, data, cut);
    if (rc == 0)
        rc = decoder_push(&d, data + cut, size - cut);
    if (rc == 0)
        rc = decoder_finish(&d);
    r->rc = rc;
    r->format = decoder_name(&d);
    decoder_free(&d);
}

static void compare(const struct run *z, const struct run *i)
{
    FUZZ_CHECK(z->rc == i->rc);
    /* Corrupt deflate data: zlib checks a Huffman code set as soon as it is
     * read, ISA-L may first want more input or decode on until the CRC
     * fails, so a damaged stream can be "corrupt" for one engine and
     * "truncated" or "CRC mismatch" for the other.  Both must fail. */
    if (z->err.code == RZ_E_DECODE_DATA || i->err.code == RZ_E_DECODE_DATA)
        return;
    FUZZ_CHECK(z->err.code == i->err.code);
    FUZZ_CHECK(strcmp(z->format, i->format) == 0);
    if (strcmp(z->format, "gzip") == 0)
        FUZZ_CHECK(z->err.offset == i->err.offset);
    FUZZ_CHECK(strcmp(z->err.detail, i->err.detail) == 0);
    /* A stream cut inside its deflate data: the engines hold back different
     * amounts of decoded output while they wait for more input (ISA-L
     * flushes less eagerly than zlib), so only the verdict is compared.
     * Nothing is published after a failure; on success everything is. */
    if (z->err.code == RZ_E_DECODE_TRUNCATED)
        return;
    FUZZ_CHECK(z->out_bytes == i->out_bytes);
    FUZZ_CHECK(z->out_hash == i->out_hash);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!decoder_gzip_engine_built_in(DECODER_GZIP_ISAL))
        return 0;
    struct run z, i;
    run(&z, data, size, size, DECODER_GZIP_ZLIB);
    run(&i, data, size, size, DECODER_GZIP_ISAL);
    compare(&z, &i);
    size_t cut = fuzz_split(size ? data[0] : 0, size);
    run(&i, data, size, cut, DECODER_GZIP_ISAL);
    compare(&z, &i);
    return 0;
}
