/*
 * dec_zstd.c: zstd with libzstd's streaming decoder.
 *
 * ZSTD_decompressStream decodes every frame of a concatenation and skips
 * skippable frames by itself.  The window is capped with
 * ZSTD_d_windowLogMax (as zstd(1)'s --memory does): a frame that asks for
 * more fails with RZ_E_DECODE_WINDOW naming the option, and memory stays at
 * about the window plus libzstd's block buffers (~ 128 MiB + 256 KiB by
 * default).  Its return value is 0 exactly at a frame boundary; anything
 * else at finish means the input stopped inside a frame.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader for the message */
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "dec_backend.h"

struct zs {
    ZSTD_DStream *ds;
    size_t hint;      /* last return of ZSTD_decompressStream */
    uint8_t head[ZSTD_FRAMEHEADERSIZE_MAX]; /* start of the current frame */
    size_t head_len;
};

static unsigned window_log(uint64_t max)
{
    unsigned log = 10;       /* ZSTD_WINDOWLOG_ABSOLUTEMIN */
    while (log < 31 && ((uint64_t)1 << (log + 1)) <= max)
        log++;
    return log;
}

static int zstd_fail(struct decoder *d, struct zs *z, size_t r)
{
    ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
    switch (e) {
    case ZSTD_error_frameParameter_windowTooLarge: {
        ZSTD_frameHeader fh;
        unsigned long long want = 0;
        if (ZSTD_getFrameHeader(&fh, z->head, z->head_len) == 0)
            want = fh.windowSize;
        return dec_fail(d, RZ_E_DECODE_WINDOW, "a zstd frame needs a %llu MiB "
                        "window; --zstd-max-window is %llu MiB (zstd -d needs "
                        "--memory= for the same file)", (want + (1 << 20) - 1) >> 20,
                        (unsigned long long)(d->opt.zstd_max_window >> 20));
    }
    case ZSTD_error_memory_allocation:
        return dec_fail(d, RZ_E_NOMEM, "libzstd");
    case ZSTD_error_checksum_wrong:
        return dec_fail(d, RZ_E_DECODE_CHECK, "zstd frame %llu: content "
                        "checksum mismatch", (unsigned long long)d->members + 1);
    case ZSTD_error_prefix_unknown:
        if (d->members > 0)
            return dec_fail(d, RZ_E_DECODE_TRAILING, "data after zstd frame "
                            "%llu is not another frame",
                            (unsigned long long)d->members);
        /* fall through */
    default:
        return dec_fail(d, RZ_E_DECODE_DATA, "zstd frame %llu: %s",
                        (unsigned long long)d->members + 1,
                        ZSTD_getErrorName(r));
    }
}

/* Keep the first bytes of each frame, for the window-size message. */
static void note_head(struct zs *z, const uint8_t *p, size_t n)
{
    size_t room = sizeof z->head - z->head_len;
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        z->head[z->head_len++] = p[i];
}

static int zstd_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    struct zs *z = d->state;
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        size_t before = in.pos;
        const uint8_t *src = (const uint8_t *)in.src + before;
        if (z->hint == 0)
            z->head_len = 0;       /* a new frame starts here */
        uint8_t *o;
        size_t cap;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        ZSTD_outBuffer out = {o, cap, 0};
        size_t r = ZSTD_decompressStream(z->ds, &out, &in);
        if (ZSTD_isError(r)) {
            note_head(z, src, in.size - before);
            return zstd_fail(d, z, r);
        }
        note_head(z, src, in.pos - before);
        d->in_bytes += in.pos - before;
        if (dec_emit(d, o, out.pos) < 0)
            return -1;
        if (r == 0 && (z->hint != 0 || in.pos > before))
            d->members++;
        z->hint = r;
        if (in.pos == in.size && out.pos < out.size)
            return 0;
    }
}

static int zstd_finish(struct decoder *d)
{
    struct zs *z = d->state;
    /* Flush what libzstd still holds: call until it makes no progress. */
    for (;;) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        uint8_t *o;
        size_t cap;
        if (z->hint == 0)
            return 0;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        ZSTD_outBuffer out = {o, cap, 0};
        size_t r = ZSTD_decompressStream(z->ds, &out, &in);
        if (ZSTD_isError(r))
            return zstd_fail(d, z, r);
        if (dec_emit(d, o, out.pos) < 0)
            return -1;
        if (r == 0) {
            d->members++;
            z->hint = 0;
            return 0;
        }
        z->hint = r;
        if (out.pos == 0)
            break;
    }
    return dec_fail(d, RZ_E_DECODE_TRUNCATED, "zstd frame %llu is incomplete",
                    (unsigned long long)d->members + 1);
}

static int zstd_start(struct decoder *d)
{
    struct zs *z = calloc(1, sizeof *z);
    if (!z)
        return dec_fail(d, RZ_E_NOMEM, "zstd state");
    d->state = z;
    z->ds = ZSTD_createDStream();
    if (!z->ds)
        return dec_fail(d, RZ_E_NOMEM, "libzstd");
    size_t r = ZSTD_DCtx_setParameter(z->ds, ZSTD_d_windowLogMax,
                                      (int)window_log(d->opt.zstd_max_window));
    if (ZSTD_isError(r))
        return dec_fail(d, RZ_E_INTERNAL, "ZSTD_d_windowLogMax: %s",
                        ZSTD_getErrorName(r));
    return 0;
}

static void zstd_free(struct decoder *d)
{
    struct zs *z = d->state;
    if (z) {
        ZSTD_freeDStream(z->ds);
        free(z);
    }
}

const struct decoder_backend dec_zstd_backend = {
    "zstd", zstd_start, zstd_push, zstd_finish, zstd_free,
};
