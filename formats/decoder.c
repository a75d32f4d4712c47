/*
 * decoder.c: detection glue, identity pass-through, and dispatch to the
 * backend chosen by the magic (formats/magic.c).
 *
 * Detection holds at most DECODER_MAGIC_MAX bytes.  If nothing is held yet
 * and the current push decides, it is classified in place and nothing is
 * copied.  Once the format is known, the held bytes are fed first (from a
 * copy, since a leading skippable frame sends us back to detecting, which
 * fills the held buffer again), then the whole current buffer.
 */
#include "decoder.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dec_backend.h"
#include "magic.h"

static const struct decoder_backend *backend_for(enum decoder_kind k)
{
    switch (k) {
    case DECODER_GZIP: return &dec_gzip_backend;
    case DECODER_COMPRESS: return &dec_compress_backend;
#ifdef RZ_HAVE_LZMA
    case DECODER_XZ: return &dec_xz_backend;
    case DECODER_LZMA: return &dec_lzma_backend;
#endif
#ifdef RZ_HAVE_ZSTD
    case DECODER_ZSTD: return &dec_zstd_backend;
#endif
#ifdef RZ_HAVE_BZIP2
    case DECODER_BZIP2: return &dec_bzip2_backend;
#endif
#ifdef RZ_HAVE_LZ4
    case DECODER_LZ4: return &dec_lz4_backend;
#endif
    default: return NULL;
    }
}

bool decoder_built_in(enum decoder_kind k)
{
    return k == DECODER_IDENTITY || backend_for(k) != NULL;
}

bool decoder_gzip_engine_built_in(enum decoder_gzip_engine e)
{
#ifdef RZ_HAVE_ISAL
    return true;
#else
    return e != DECODER_GZIP_ISAL;
#endif
}

const char *decoder_gzip_engine_name(const struct decoder_options *o)
{
#ifdef RZ_HAVE_ISAL
    return o->gzip_engine == DECODER_GZIP_ZLIB ? "zlib" : "isa-l";
#else
    return o->gzip_engine == DECODER_GZIP_ISAL ? "isa-l (not built in)"
                                               : "zlib";
#endif
}

static const char *kind_name(enum decoder_kind k)
{
    switch (k) {
    case DECODER_IDENTITY: return "tar";
    case DECODER_GZIP: return "gzip";
    case DECODER_ZSTD: return "zstd";
    case DECODER_XZ: return "xz";
    case DECODER_BZIP2: return "bzip2";
    case DECODER_LZ4: return "lz4";
    case DECODER_LZMA: return "lzma";
    case DECODER_COMPRESS: return "compress";
    case DECODER_REJECTED: return "rejected";
    case DECODER_DETECTING:
    case DECODER_SKIPPING: break;
    }
    return "unknown";
}

const char *decoder_name(const struct decoder *d)
{
    return kind_name(d->kind);
}

bool decoder_end_checked(const struct decoder *d)
{
    switch (d->kind) {
    case DECODER_GZIP:
    case DECODER_XZ:
    case DECODER_ZSTD:
    case DECODER_BZIP2:
    case DECODER_LZ4:
    case DECODER_LZMA:
        return true;
    default:
        return false;
    }
}

int dec_fail(struct decoder *d, enum rz_code code, const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return rz_error_set(d->err, code, 0, RZ_OFF_RAW, d->in_bytes, NULL, 0,
                        "%s", detail);
}

int dec_window(struct decoder *d, uint8_t **p, size_t *cap)
{
    if (!d->win) {
        *p = d->outbuf;
        *cap = DECODER_OUT_SIZE;
        return 0;
    }
    if (d->win(d->win_ctx, p, cap) < 0)
        return rz_error_downstream(d->err, RZ_OFF_RAW, d->in_bytes,
                                   "a stage after the decoder");
    if (*cap > DECODER_OUT_SIZE)
        *cap = DECODER_OUT_SIZE;
    return 0;
}

void decoder_set_window(struct decoder *d, decoder_window_fn win, void *ctx)
{
    d->win = win;
    d->win_ctx = ctx;
}

int dec_emit(struct decoder *d, const uint8_t *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (d->out(d->out_ctx, buf, len) < 0)
        return rz_error_downstream(d->err, RZ_OFF_RAW, d->in_bytes,
                                   "a stage after the decoder");
    d->out_bytes += len;
    return 0;
}

static int identity_feed(struct decoder *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < DECODER_OUT_SIZE ? len : DECODER_OUT_SIZE;
        d->in_bytes += n;
        if (dec_emit(d, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static bool after_skip(const struct decoder *d);

/* The format of the stream at p[0..n) is `k`: set up its backend. */
static int start(struct decoder *d, enum decoder_kind k, uint64_t skip,
                 enum rz_code why, const uint8_t *p, size_t n)
{
    if (k == DECODER_REJECTED) {
        char what[200];
        d->kind = DECODER_REJECTED;
        if (after_skip(d) && n == 0)
            return dec_fail(d, why, "the input has only skippable frames "
                            "(%llu bytes), no zstd or lz4 frame",
                            (unsigned long long)d->in_bytes);
        bool named = why == RZ_E_DECODE_HTML || why == RZ_E_DECODE_ZIP
                     || why == RZ_E_DECODE_EMPTY;
        magic_describe(p, n, !named, what, sizeof what);
        return dec_fail(d, why, "%s%s", named ? "" : "the input is ", what);
    }
    d->kind = k;
    if (k == DECODER_SKIPPING) {
        d->skip_left = skip;
        return 0;
    }
    if (k == DECODER_IDENTITY)
        return 0;
    d->be = backend_for(k);
    if (!d->be)
        return dec_fail(d, RZ_E_DECODE_NOT_BUILT,
                        "the input is %s-compressed, but this build has no "
                        "%s support (configure.py did not find its library, "
                        "or it was left out with --without)",
                        kind_name(k), kind_name(k));
    return d->be->start(d);
}

static bool after_skip(const struct decoder *d)
{
    return d->in_bytes > 0;   /* detecting again only after a skipped frame */
}

static int consume(struct decoder *d, const uint8_t *buf, size_t len);

/*
 * One detection step on buf; *used is how much of buf it took into the
 * held bytes (0 once the format is decided: the caller feeds buf on).
 */
static int detect_step(struct decoder *d, const uint8_t *buf, size_t len,
                       size_t *used)
{
    uint64_t skip;
    enum rz_code why;
    size_t held = d->magic_len;
    *used = 0;
    if (held == 0) {
        size_t n = len < DECODER_MAGIC_MAX ? len : DECODER_MAGIC_MAX;
        enum decoder_kind k = magic_classify(buf, n, false, after_skip(d),
                                             &skip, &why);
        if (k != DECODER_DETECTING)
            return start(d, k, skip, why, buf, n);
        memcpy(d->magic, buf, n);
        d->magic_len = *used = n;
        return 0;
    }
    size_t take = DECODER_MAGIC_MAX - held;
    if (take > len)
        take = len;
    memcpy(d->magic + held, buf, take);
    enum decoder_kind k = magic_classify(d->magic, held + take, false,
                                         after_skip(d), &skip, &why);
    if (k == DECODER_DETECTING) {
        d->magic_len += take;
        *used = take;
        return 0;
    }
    uint8_t copy[DECODER_MAGIC_MAX];
    memcpy(copy, d->magic, held);
    d->magic_len = 0;
    if (start(d, k, skip, why, d->magic, held + take) < 0)
        return -1;
    return consume(d, copy, held);
}

/* Route bytes by the current state until they are used up. */
static int consume(struct decoder *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n;
        switch (d->kind) {
        case DECODER_DETECTING:
            if (detect_step(d, buf, len, &n) < 0)
                return -1;
            break;
        case DECODER_SKIPPING:
            n = len < d->skip_left ? len : (size_t)d->skip_left;
            d->in_bytes += n;
            d->skip_left -= n;
            if (d->skip_left == 0)
                d->kind = DECODER_DETECTING;
            break;
        case DECODER_IDENTITY:
            return identity_feed(d, buf, len);
        case DECODER_REJECTED:
            return -1;
        default:
            return d->be->push(d, buf, len);
        }
        buf += n;
        len -= n;
    }
    return 0;
}

int decoder_init(struct decoder *d, stage_push_fn out, void *out_ctx,
                 struct rz_error *err)
{
    memset(d, 0, sizeof *d);
    d->kind = DECODER_DETECTING;
    d->err = err;
    d->out = out;
    d->out_ctx = out_ctx;
    d->opt.zstd_max_window = DECODER_ZSTD_WINDOW_DEFAULT;
    d->opt.xz_memlimit = DECODER_XZ_MEMLIMIT_DEFAULT;
    d->outbuf = malloc(DECODER_OUT_SIZE);
    if (!d->outbuf)
        return rz_error_set(err, RZ_E_NOMEM, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "decoder buffer");
    return 0;
}

void decoder_set_options(struct decoder *d, const struct decoder_options *o)
{
    d->opt = *o;
    if (!d->opt.zstd_max_window)
        d->opt.zstd_max_window = DECODER_ZSTD_WINDOW_DEFAULT;
    if (!d->opt.xz_memlimit)
        d->opt.xz_memlimit = DECODER_XZ_MEMLIMIT_DEFAULT;
}

int decoder_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    if (d->err->code != RZ_E_OK)
        return -1;
    return consume(d, buf, len);
}

int decoder_finish(struct decoder *d)
{
    if (d->err->code != RZ_E_OK)
        return -1;
    if (d->kind == DECODER_SKIPPING)
        return dec_fail(d, RZ_E_DECODE_TRUNCATED,
                        "the input ends inside a skippable frame (%llu bytes "
                        "of it missing)", (unsigned long long)d->skip_left);
    if (d->kind == DECODER_DETECTING) {
        uint64_t skip;
        enum rz_code why;
        uint8_t copy[DECODER_MAGIC_MAX];
        size_t held = d->magic_len;
        enum decoder_kind k = magic_classify(d->magic, held, true,
                                             after_skip(d), &skip, &why);
        assert(k != DECODER_DETECTING);
        memcpy(copy, d->magic, held);
        d->magic_len = 0;
        if (start(d, k, skip, why, d->magic, held) < 0
            || consume(d, copy, held) < 0)
            return -1;
        if (d->kind == DECODER_SKIPPING || d->kind == DECODER_DETECTING)
            return decoder_finish(d);
    }
    if (d->kind == DECODER_IDENTITY)
        return 0;
    if (d->kind == DECODER_REJECTED || !d->be)
        return -1;
    return d->be->finish(d);
}

void decoder_free(struct decoder *d)
{
    if (d->be && d->be->free)
        d->be->free(d);
    d->be = NULL;
    d->state = NULL;
    free(d->outbuf);
    d->outbuf = NULL;
}
