/*
 * dec_xz.c: xz (.xz) and lzma-alone (.lzma) with liblzma.
 *
 * xz uses lzma_stream_decoder_mt for one stream at a time; between streams
 * we take the bytes ourselves: stream padding (zero bytes, a multiple of 4
 * in all, as xz(1) requires), then fd starts the next stream (a new
 * decoder), and anything else is trailing garbage, reported at its byte.
 * (liblzma's LZMA_CONCATENATED would wait for a 12-byte stream header
 * before it could tell garbage from a truncated header.)
 * Blocks that record their sizes (xz -T0, xz -T2 and later write them) are
 * decoded on up to d->opt.xz_threads threads; a single-block file (plain
 * `xz`) is decoded on the calling thread.  Memory: liblzma keeps the thread
 * count down so that its total stays under memlimit_threading (a quarter of
 * the limit), and fails with LZMA_MEMLIMIT_ERROR past memlimit_stop
 * (--xz-memlimit): a hostile header cannot make us allocate more.
 *
 * lzma-alone has one stream and no container; data after its end is
 * trailing garbage.
 */
#include <lzma.h>
#include <stdlib.h>
#include <unistd.h>

#include "dec_backend.h"

struct xz {
    lzma_stream s;
    bool alone;
    bool ended;     /* lzma-alone: LZMA_STREAM_END seen */
    bool between;   /* xz: a stream ended; padding or the next stream */
    uint64_t padding; /* zero bytes seen since the last stream */
};

static int xz_begin(struct decoder *d, struct xz *x);

static unsigned thread_count(const struct decoder *d)
{
    if (d->opt.xz_threads)
        return d->opt.xz_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > DECODER_XZ_THREADS_MAX ? DECODER_XZ_THREADS_MAX : (unsigned)n;
}

static const char *fmt_name(const struct xz *x)
{
    return x->alone ? "lzma" : "xz";
}

static int lzma_fail(struct decoder *d, struct xz *x, lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR:
        return dec_fail(d, RZ_E_NOMEM, "liblzma");
    case LZMA_MEMLIMIT_ERROR:
        return dec_fail(d, RZ_E_DECODE_MEMLIMIT, "the %s stream needs %llu "
                        "MiB to decode; --xz-memlimit is %llu MiB",
                        fmt_name(x),
                        (unsigned long long)(lzma_memusage(&x->s) >> 20) + 1,
                        (unsigned long long)(d->opt.xz_memlimit >> 20));
    case LZMA_FORMAT_ERROR:
        if (d->members > 0 && !x->alone)
            return dec_fail(d, RZ_E_DECODE_TRAILING, "data after the last xz "
                            "stream is not another stream or stream padding");
        return dec_fail(d, RZ_E_DECODE_DATA, "not a valid %s header",
                        fmt_name(x));
    case LZMA_OPTIONS_ERROR:
        return dec_fail(d, RZ_E_DECODE_DATA, "%s: unsupported compression "
                        "options or filters (liblzma %s)", fmt_name(x),
                        lzma_version_string());
    case LZMA_DATA_ERROR:
        return dec_fail(d, RZ_E_DECODE_DATA, "%s: corrupt data, or an "
                        "integrity check failed", fmt_name(x));
    case LZMA_BUF_ERROR:
        return dec_fail(d, RZ_E_DECODE_TRUNCATED, "the %s stream is "
                        "incomplete", fmt_name(x));
    default:
        return dec_fail(d, RZ_E_INTERNAL, "liblzma returned %d", (int)r);
    }
}

/* Between xz streams: padding, the next stream's first byte, or garbage.
 * Returns how many bytes it took, or -1. */
static long between(struct decoder *d, struct xz *x, const uint8_t *buf,
                    size_t len)
{
    size_t i = 0;
    while (i < len && buf[i] == 0)
        i++;
    x->padding += i;
    d->in_bytes += i;
    if (i == len)
        return (long)i;
    if (x->padding % 4 != 0)
        return dec_fail(d, RZ_E_DECODE_DATA, "xz stream padding after stream "
                        "%llu is %llu bytes, not a multiple of 4",
                        (unsigned long long)d->members,
                        (unsigned long long)x->padding);
    if (buf[i] != 0xfd)
        return dec_fail(d, RZ_E_DECODE_TRAILING, "byte 0x%02x after xz stream "
                        "%llu", buf[i], (unsigned long long)d->members);
    lzma_end(&x->s);
    if (xz_begin(d, x) < 0)
        return -1;
    return (long)i;
}

/* Run liblzma until the input is used up (and, at finish, the end). */
static int run(struct decoder *d, struct xz *x, const uint8_t *buf,
               size_t len, lzma_action action)
{
    lzma_stream *s = &x->s;
    s->next_in = buf;
    s->avail_in = len;
    for (;;) {
        if (x->between) {
            if (action == LZMA_FINISH) {
                if (x->padding % 4 == 0)
                    return 0;
                return dec_fail(d, RZ_E_DECODE_DATA, "xz stream padding at "
                                "the end is %llu bytes, not a multiple of 4",
                                (unsigned long long)x->padding);
            }
            const uint8_t *at = s->next_in;
            size_t left = s->avail_in;
            long n = between(d, x, at, left);   /* may restart x->s */
            if (n < 0)
                return -1;
            const uint8_t *rest = at + n;
            size_t rest_len = left - (size_t)n;
            if (rest_len == 0)
                return 0;
            s->next_in = rest;
            s->avail_in = rest_len;
        }
        if (x->ended) {
            if (s->avail_in > 0)
                return dec_fail(d, RZ_E_DECODE_TRAILING, "byte 0x%02x after "
                                "the end of the lzma stream", *s->next_in);
            return 0;
        }
        uint8_t *o;
        size_t cap;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        s->next_out = o;
        s->avail_out = cap;
        size_t before = s->avail_in;
        lzma_ret r = lzma_code(s, action);
        d->in_bytes += before - s->avail_in;
        if (dec_emit(d, o, cap - s->avail_out) < 0)
            return -1;
        if (r == LZMA_STREAM_END) {
            d->members++;
            if (x->alone)
                x->ended = true;
            else
                x->between = true;
            continue;
        }
        if (r != LZMA_OK)
            return lzma_fail(d, x, r);
        if (action == LZMA_RUN && s->avail_in == 0 && s->avail_out > 0)
            return 0;
    }
}

static int start(struct decoder *d, bool alone)
{
    struct xz *x = calloc(1, sizeof *x);
    if (!x)
        return dec_fail(d, RZ_E_NOMEM, "xz state");
    d->state = x;
    x->alone = alone;
    x->s = (lzma_stream)LZMA_STREAM_INIT;
    if (alone) {
        lzma_ret r = lzma_alone_decoder(&x->s, d->opt.xz_memlimit);
        return r == LZMA_OK ? 0 : lzma_fail(d, x, r);
    }
    return xz_begin(d, x);
}

static int xz_begin(struct decoder *d, struct xz *x)
{
    lzma_mt mt = {0};
    mt.threads = thread_count(d);
    mt.memlimit_stop = d->opt.xz_memlimit;
    mt.memlimit_threading = d->opt.xz_memlimit / 4;
    x->s = (lzma_stream)LZMA_STREAM_INIT;
    x->between = false;
    x->padding = 0;
    lzma_ret r = lzma_stream_decoder_mt(&x->s, &mt);
    return r == LZMA_OK ? 0 : lzma_fail(d, x, r);
}

static int xz_start(struct decoder *d)
{
    return start(d, false);
}

static int lzma_start(struct decoder *d)
{
    return start(d, true);
}

static int xz_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    return run(d, d->state, buf, len, LZMA_RUN);
}

static int xz_finish(struct decoder *d)
{
    struct xz *x = d->state;
    if (x->ended)
        return 0;
    return run(d, x, NULL, 0, LZMA_FINISH);
}

static void xz_free(struct decoder *d)
{
    struct xz *x = d->state;
    if (x) {
        lzma_end(&x->s);
        free(x);
    }
}

const struct decoder_backend dec_xz_backend = {
    "xz", xz_start, xz_push, xz_finish, xz_free,
};

const struct decoder_backend dec_lzma_backend = {
    "lzma", lzma_start, xz_push, xz_finish, xz_free,
};
