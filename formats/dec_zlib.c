/*
 * dec_zlib.c: zlib's inflate as a raw-deflate engine (inflate_engine.h).
 * windowBits -15: no zlib or gzip wrapper; the framing is gzip_members.c's.
 * zlib counts in uInt, so huge inputs are given in slices below that.
 */
#include <stdlib.h>
#include <zlib.h>

#include "inflate_engine.h"

#define ZLIB_MAX_IN ((size_t)1 << 30)

static void *zlib_new(void)
{
    z_stream *z = calloc(1, sizeof *z);
    if (z && inflateInit2(z, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

static int zlib_reset(void *st)
{
    return inflateReset(st) == Z_OK ? INFLATE_OK : INFLATE_ERROR;
}

static int zlib_run(void *st, const uint8_t **in, size_t *in_len,
                    uint8_t *out, size_t out_cap, size_t *produced,
                    const char **msg)
{
    z_stream *z = st;
    size_t n = *in_len < ZLIB_MAX_IN ? *in_len : ZLIB_MAX_IN;
    z->next_in = (Bytef *)*in;    /* zlib never writes through next_in */
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)out_cap;
    int ret = inflate(z, Z_NO_FLUSH);
    *in += n - z->avail_in;
    *in_len -= n - z->avail_in;
    *produced = out_cap - z->avail_out;
    switch (ret) {
    case Z_OK:
    case Z_BUF_ERROR:   /* no progress possible: needs more input */
        return INFLATE_OK;
    case Z_STREAM_END:
        return INFLATE_END;
    case Z_MEM_ERROR:
        *msg = "out of memory";
        return INFLATE_NOMEM;
    default:
        *msg = z->msg ? z->msg : zError(ret);
        return INFLATE_ERROR;
    }
}

static void zlib_free(void *st)
{
    if (st) {
        inflateEnd(st);
        free(st);
    }
}

const struct inflate_engine inflate_engine_zlib = {
    "zlib", zlib_new, zlib_reset, zlib_run, zlib_free, NULL,
};
