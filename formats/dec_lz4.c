/*
 * dec_lz4.c: the lz4 frame format with liblz4's LZ4F decoder.
 *
 * LZ4F_decompress takes any split of the input, starts the next frame by
 * itself after one ends (it returns 0 exactly at a frame boundary) and skips
 * skippable frames.  Block and content checksums are checked when the frame
 * has them.  Memory: liblz4's context plus one block (at most 4 MiB, the
 * largest lz4 block size) and a 64 KiB history.
 */
#define LZ4F_STATIC_LINKING_ONLY /* LZ4F_getErrorCode */
#include <lz4frame.h>
#include <stdlib.h>

#include "dec_backend.h"

struct lz4 {
    LZ4F_dctx *dctx;
    size_t hint;      /* last return of LZ4F_decompress: 0 at a boundary */
};

static int lz4_fail(struct decoder *d, size_t r)
{
    unsigned long long n = (unsigned long long)d->members + 1;
    switch (LZ4F_getErrorCode(r)) {
    case LZ4F_ERROR_blockChecksum_invalid:
    case LZ4F_ERROR_contentChecksum_invalid:
        return dec_fail(d, RZ_E_DECODE_CHECK, "lz4 frame %llu: %s", n,
                        LZ4F_getErrorName(r));
    case LZ4F_ERROR_allocation_failed:
        return dec_fail(d, RZ_E_NOMEM, "liblz4");
    case LZ4F_ERROR_frameType_unknown:
        if (d->members > 0)
            return dec_fail(d, RZ_E_DECODE_TRAILING, "data after lz4 frame "
                            "%llu is not another frame", n - 1);
        /* fall through */
    default:
        return dec_fail(d, RZ_E_DECODE_DATA, "lz4 frame %llu: %s", n,
                        LZ4F_getErrorName(r));
    }
}

static int lz4_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    struct lz4 *z = d->state;
    for (;;) {
        uint8_t *o;
        size_t cap;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        size_t in = len, out = cap;
        size_t r = LZ4F_decompress(z->dctx, o, &out, buf, &in, NULL);
        if (LZ4F_isError(r))
            return lz4_fail(d, r);
        d->in_bytes += in;
        buf += in;
        len -= in;
        if (dec_emit(d, o, out) < 0)
            return -1;
        if (r == 0 && (z->hint != 0 || in > 0))
            d->members++;
        z->hint = r;
        /* r == 0: the frame ended and all of it is out; calling again with
         * no input would only ask for the next frame's header */
        if (len == 0 && (out < cap || r == 0))
            return 0;
    }
}

static int lz4_finish(struct decoder *d)
{
    struct lz4 *z = d->state;
    static const uint8_t none[1];
    /* Output liblz4 still holds (a full window stopped it): drain it. */
    while (z->hint != 0) {
        uint8_t *o;
        size_t cap, in = 0;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        size_t out = cap;
        size_t r = LZ4F_decompress(z->dctx, o, &out, none, &in, NULL);
        if (LZ4F_isError(r))
            return lz4_fail(d, r);
        if (dec_emit(d, o, out) < 0)
            return -1;
        if (r == 0)
            d->members++;
        z->hint = r;
        if (out == 0)
            break;
    }
    if (z->hint == 0)
        return 0;
    return dec_fail(d, RZ_E_DECODE_TRUNCATED, "lz4 frame %llu is incomplete",
                    (unsigned long long)d->members + 1);
}

static int lz4_start(struct decoder *d)
{
    struct lz4 *z = calloc(1, sizeof *z);
    if (!z)
        return dec_fail(d, RZ_E_NOMEM, "lz4 state");
    d->state = z;
    size_t r = LZ4F_createDecompressionContext(&z->dctx, LZ4F_VERSION);
    if (LZ4F_isError(r))
        return dec_fail(d, RZ_E_NOMEM, "liblz4: %s", LZ4F_getErrorName(r));
    z->hint = 1;   /* inside the first frame (its magic is on its way) */
    return 0;
}

static void lz4_free(struct decoder *d)
{
    struct lz4 *z = d->state;
    if (z) {
        LZ4F_freeDecompressionContext(z->dctx);
        free(z);
    }
}

const struct decoder_backend dec_lz4_backend = {
    "lz4", lz4_start, lz4_push, lz4_finish, lz4_free,
};
