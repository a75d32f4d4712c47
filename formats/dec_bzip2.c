/*
 * dec_bzip2.c: bzip2 with libbz2, every concatenated stream (as pbzip2 and
 * lbzip2 write them).
 *
 * libbz2 decodes one stream per BZ2_bzDecompressInit; at BZ_STREAM_END the
 * state is ended and a new one started for whatever follows.  A following
 * stream that does not start with "BZh" + level is trailing garbage (libbz2
 * says BZ_DATA_ERROR_MAGIC before it has produced anything).  Memory: about
 * 3.6 MiB for a level-9 stream (libbz2's normal, not "small", mode).
 */
#include <bzlib.h>
#include <stdlib.h>
#include <string.h>

#include "dec_backend.h"

#define BZ_MAX_IN ((size_t)1 << 30)

struct bz {
    bz_stream s;
    bool ready;      /* BZ2_bzDecompressInit done: End needed */
    bool between;    /* a stream ended; the next byte starts another */
};

static int bz_begin(struct decoder *d, struct bz *b)
{
    memset(&b->s, 0, sizeof b->s);
    int r = BZ2_bzDecompressInit(&b->s, 0, 0);
    if (r != BZ_OK)
        return dec_fail(d, r == BZ_MEM_ERROR ? RZ_E_NOMEM : RZ_E_INTERNAL,
                        "BZ2_bzDecompressInit: %d", r);
    b->ready = true;
    b->between = false;
    return 0;
}

static int bz_fail(struct decoder *d, int r)
{
    unsigned long long n = (unsigned long long)d->members + 1;
    switch (r) {
    case BZ_DATA_ERROR_MAGIC:
        if (d->members > 0)
            return dec_fail(d, RZ_E_DECODE_TRAILING, "data after bzip2 stream "
                            "%llu is not another stream", n - 1);
        return dec_fail(d, RZ_E_DECODE_DATA, "not a bzip2 stream");
    case BZ_DATA_ERROR:
        return dec_fail(d, RZ_E_DECODE_DATA, "bzip2 stream %llu: corrupt data "
                        "or a failed CRC", n);
    case BZ_MEM_ERROR:
        return dec_fail(d, RZ_E_NOMEM, "libbz2");
    default:
        return dec_fail(d, RZ_E_INTERNAL, "libbz2 returned %d", r);
    }
}

static int bz_slice(struct decoder *d, struct bz *b, const uint8_t *buf,
                    size_t len)
{
    while (len > 0 || (b->ready && b->s.avail_out == 0)) {
        if (b->between) {
            BZ2_bzDecompressEnd(&b->s);
            b->ready = false;
            if (bz_begin(d, b) < 0)
                return -1;
        }
        uint8_t *o;
        size_t cap;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        b->s.next_in = (char *)buf;   /* libbz2 never writes through it */
        b->s.avail_in = (unsigned)len;
        b->s.next_out = (char *)o;
        b->s.avail_out = (unsigned)cap;
        int r = BZ2_bzDecompress(&b->s);
        size_t used = len - b->s.avail_in;
        d->in_bytes += used;
        buf += used;
        len -= used;
        if (r != BZ_OK && r != BZ_STREAM_END)
            return bz_fail(d, r);
        if (dec_emit(d, o, cap - b->s.avail_out) < 0)
            return -1;
        if (r == BZ_STREAM_END) {
            d->members++;
            b->between = true;
            b->s.avail_out = 1;    /* nothing pending */
        }
    }
    return 0;
}

static int bz_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < BZ_MAX_IN ? len : BZ_MAX_IN;
        if (bz_slice(d, d->state, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static int bz_finish(struct decoder *d)
{
    struct bz *b = d->state;
    if (b->between)
        return 0;
    /* Output may be pending: call with no input until none comes. */
    for (;;) {
        uint8_t *o;
        size_t cap;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        b->s.next_in = NULL;
        b->s.avail_in = 0;
        b->s.next_out = (char *)o;
        b->s.avail_out = (unsigned)cap;
        int r = BZ2_bzDecompress(&b->s);
        if (r != BZ_OK && r != BZ_STREAM_END)
            return bz_fail(d, r);
        size_t got = cap - b->s.avail_out;
        if (dec_emit(d, o, got) < 0)
            return -1;
        if (r == BZ_STREAM_END) {
            d->members++;
            b->between = true;
            return 0;
        }
        if (got == 0)
            break;
    }
    return dec_fail(d, RZ_E_DECODE_TRUNCATED, "bzip2 stream %llu is "
                    "incomplete", (unsigned long long)d->members + 1);
}

static int bz_start(struct decoder *d)
{
    struct bz *b = calloc(1, sizeof *b);
    if (!b)
        return dec_fail(d, RZ_E_NOMEM, "bzip2 state");
    d->state = b;
    return bz_begin(d, b);
}

static void bz_free(struct decoder *d)
{
    struct bz *b = d->state;
    if (b) {
        if (b->ready)
            BZ2_bzDecompressEnd(&b->s);
        free(b);
    }
}

const struct decoder_backend dec_bzip2_backend = {
    "bzip2", bz_start, bz_push, bz_finish, bz_free,
};
