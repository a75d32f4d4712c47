/*
 * decoder.c: format detection, identity pass-through, and gzip via zlib.
 *
 * Detection copies at most DECODER_MAGIC_MAX bytes into the struct.  Once
 * the format is known, the held bytes that came from earlier pushes are fed
 * to the backend first, then the whole current buffer: nothing of the
 * current buffer is copied, and the backend sees the stream in order.
 *
 * Gzip: zlib with windowBits 15+16 parses one gzip member (header, deflate
 * data, CRC-32 and ISIZE trailer) per inflate stream.  On Z_STREAM_END we do
 * not reset at once: the byte after a member decides between another member,
 * zero padding and trailing garbage (see decoder.h), which zlib alone cannot
 * tell apart from a corrupt header.
 */
#include "decoder.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* zlib counts input in uInt; feed huge pushes in slices below that. */
#define ZLIB_MAX_IN ((size_t)1 << 30)

struct magic {
    enum decoder_kind kind;
    size_t len;
    uint8_t bytes[DECODER_MAGIC_MAX];
    int level_at; /* index of a bzip2 level digit '1'-'9' (wildcard), or -1 */
};

static const struct magic magics[] = {
    {DECODER_GZIP, 2, {0x1f, 0x8b}, -1},
    {DECODER_ZSTD, 4, {0x28, 0xb5, 0x2f, 0xfd}, -1},
    {DECODER_XZ, 6, {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}, -1},
    {DECODER_BZIP2, 10, {'B', 'Z', 'h', 0, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59}, 3},
    {DECODER_BZIP2, 10, {'B', 'Z', 'h', 0, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90}, 3},
};

#define N_MAGICS (sizeof magics / sizeof magics[0])

/* How many leading bytes of `p` agree with `m` (up to its length). */
static size_t magic_agree(const struct magic *m, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < m->len; i++) {
        bool ok = (int)i == m->level_at ? p[i] >= '1' && p[i] <= '9'
                                         : p[i] == m->bytes[i];
        if (!ok)
            break;
    }
    return i;
}

/*
 * The format of a stream starting with `p[0..n)`: a full match wins;
 * DECODER_DETECTING means a magic is still possible; otherwise identity.
 */
static enum decoder_kind classify(const uint8_t *p, size_t n)
{
    bool maybe = false;
    for (size_t i = 0; i < N_MAGICS; i++) {
        size_t agree = magic_agree(&magics[i], p, n);
        if (agree == magics[i].len)
            return magics[i].kind;
        if (agree == n)
            maybe = true;
    }
    return maybe ? DECODER_DETECTING : DECODER_IDENTITY;
}

/* Pass decoded bytes downstream, making sure a failure is recorded. */
static int emit(struct decoder *d, const uint8_t *buf, size_t len)
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
        if (emit(d, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

/* ------------------------------------------------------------------ gzip */

static int gzip_error(struct decoder *d, int zret)
{
    const char *msg = d->gz.z.msg ? d->gz.z.msg : zError(zret);
    enum rz_code code = RZ_E_DECODE_DATA;

    if (zret == Z_MEM_ERROR)
        code = RZ_E_NOMEM;
    else if (zret == Z_STREAM_ERROR)
        code = RZ_E_INTERNAL;
    else if (strcmp(msg, "incorrect data check") == 0
             || strcmp(msg, "incorrect length check") == 0)
        code = RZ_E_GZIP_CRC;
    return rz_error_set(d->err, code, 0, RZ_OFF_RAW, d->in_bytes, NULL, 0,
                        "gzip member %llu: zlib: %s",
                        (unsigned long long)d->members + 1, msg);
}

/*
 * Inflate what is in z.next_in/avail_in until it is used up or the member
 * ends.  Leftover input after the end is left in z.next_in/avail_in.
 */
static int gzip_inflate(struct decoder *d)
{
    z_stream *z = &d->gz.z;
    for (;;) {
        uInt before = z->avail_in;
        z->next_out = d->outbuf;
        z->avail_out = DECODER_OUT_SIZE;
        int ret = inflate(z, Z_NO_FLUSH);
        d->in_bytes += before - z->avail_in;
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
            return gzip_error(d, ret);
        if (emit(d, d->outbuf, DECODER_OUT_SIZE - z->avail_out) < 0)
            return -1;
        if (ret == Z_STREAM_END) {
            d->members++;
            d->gz.state = GZ_BETWEEN;
            return 0;
        }
        /* Output space left over means zlib wants more input. */
        if (z->avail_out != 0 || ret == Z_BUF_ERROR)
            return 0;
    }
}

static int trailing_error(struct decoder *d, uint8_t byte)
{
    return rz_error_set(d->err, RZ_E_DECODE_TRAILING, 0, RZ_OFF_RAW,
                        d->in_bytes, NULL, 0,
                        "byte 0x%02x after gzip member %llu", byte,
                        (unsigned long long)d->members);
}

/*
 * Start the next member once its 1f 8b has been seen.  Those two bytes were
 * consumed (and counted) while we looked at them, so zlib gets them from a
 * constant; two bytes cannot end a member.
 */
static int gzip_next_member(struct decoder *d)
{
    static const uint8_t id[2] = {0x1f, 0x8b};
    z_stream *z = &d->gz.z;
    int ret = inflateReset(z);
    if (ret != Z_OK)
        return gzip_error(d, ret);
    d->gz.state = GZ_MEMBER;
    z->next_in = (Bytef *)id;    /* zlib never writes through next_in */
    z->avail_in = sizeof id;
    d->in_bytes -= sizeof id;
    return gzip_inflate(d);
}

/* One byte seen between members (already counted in in_bytes). */
static int gzip_between_byte(struct decoder *d, uint8_t c)
{
    switch (d->gz.state) {
    case GZ_BETWEEN:
        if (c == 0x1f) {
            d->gz.state = GZ_BETWEEN_1F;
            return 0;
        }
        if (c == 0x00) {
            d->gz.state = GZ_ZEROS;
            return 0;
        }
        return trailing_error(d, c);
    case GZ_BETWEEN_1F:
        return c == 0x8b ? gzip_next_member(d) : trailing_error(d, c);
    case GZ_ZEROS:
        return c == 0 ? 0 : trailing_error(d, c);
    case GZ_MEMBER:
        break;
    }
    assert(!"gzip_between_byte called inside a member");
    return rz_error_set(d->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, d->in_bytes,
                        NULL, 0, "gzip state");
}

static int gzip_feed_slice(struct decoder *d, const uint8_t *buf, size_t len)
{
    z_stream *z = &d->gz.z;
    z->next_in = (Bytef *)buf;   /* zlib never writes through next_in */
    z->avail_in = (uInt)len;
    while (z->avail_in > 0) {
        if (d->gz.state == GZ_MEMBER) {
            if (gzip_inflate(d) < 0)
                return -1;
            continue;
        }
        /* Between members: look at one byte (next_in is ours again). */
        uint8_t c = *z->next_in++;
        z->avail_in--;
        d->in_bytes++;
        const uint8_t *rest = z->next_in;
        uInt rest_len = z->avail_in;
        if (gzip_between_byte(d, c) < 0)
            return -1;
        z->next_in = (Bytef *)rest;
        z->avail_in = rest_len;
    }
    return 0;
}

static int gzip_feed(struct decoder *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < ZLIB_MAX_IN ? len : ZLIB_MAX_IN;
        if (gzip_feed_slice(d, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static int gzip_finish(struct decoder *d)
{
    if (d->gz.state == GZ_MEMBER || d->gz.state == GZ_BETWEEN_1F)
        return rz_error_set(d->err, RZ_E_DECODE_TRUNCATED, 0, RZ_OFF_RAW,
                            d->in_bytes, NULL, 0,
                            "gzip member %llu is incomplete",
                            (unsigned long long)d->members + 1);
    return 0;
}

/* ------------------------------------------------------------- dispatch */

static int unsupported(struct decoder *d)
{
    return rz_error_set(d->err, RZ_E_DECODE_UNSUPPORTED, 0, RZ_OFF_RAW, 0,
                        NULL, 0, "the download is %s-compressed; this build "
                        "reads gzip and uncompressed tar", decoder_name(d));
}

/* Feed bytes to the chosen backend. */
static int feed(struct decoder *d, const uint8_t *buf, size_t len)
{
    switch (d->kind) {
    case DECODER_IDENTITY:
        return identity_feed(d, buf, len);
    case DECODER_GZIP:
        return gzip_feed(d, buf, len);
    case DECODER_ZSTD:
    case DECODER_XZ:
    case DECODER_BZIP2:
        return unsupported(d);
    case DECODER_DETECTING:
        break;
    }
    assert(!"feed while detecting");
    return rz_error_set(d->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, d->in_bytes,
                        NULL, 0, "decoder state");
}

/*
 * Hold up to DECODER_MAGIC_MAX bytes until the format is known, then feed
 * the backend the earlier held bytes and all of `buf`.
 */
static int detect(struct decoder *d, const uint8_t *buf, size_t len)
{
    size_t held = d->magic_len;
    size_t take = sizeof d->magic - held;
    if (take > len)
        take = len;
    memcpy(d->magic + held, buf, take);
    d->magic_len += take;
    d->kind = classify(d->magic, d->magic_len);
    if (d->kind == DECODER_DETECTING) {
        assert(take == len);    /* a full magic buffer always decides */
        return 0;
    }
    if (feed(d, d->magic, held) < 0)
        return -1;
    return feed(d, buf, len);
}

int decoder_init(struct decoder *d, stage_push_fn out, void *out_ctx,
                 struct rz_error *err)
{
    memset(d, 0, sizeof *d);
    d->kind = DECODER_DETECTING;
    d->err = err;
    d->out = out;
    d->out_ctx = out_ctx;
    d->outbuf = malloc(DECODER_OUT_SIZE);
    if (!d->outbuf)
        return rz_error_set(err, RZ_E_NOMEM, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "decoder buffer");
    int ret = inflateInit2(&d->gz.z, 15 + 16);
    if (ret != Z_OK)
        return rz_error_set(err, ret == Z_MEM_ERROR ? RZ_E_NOMEM
                                                    : RZ_E_INTERNAL,
                            0, RZ_OFF_NONE, 0, NULL, 0, "inflateInit2: %s",
                            zError(ret));
    d->gz.ready = true;
    d->gz.state = GZ_MEMBER;
    return 0;
}

int decoder_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    if (d->err->code != RZ_E_OK)
        return -1;
    if (len == 0)
        return 0;
    if (d->kind == DECODER_DETECTING)
        return detect(d, buf, len);
    return feed(d, buf, len);
}

int decoder_finish(struct decoder *d)
{
    if (d->err->code != RZ_E_OK)
        return -1;
    switch (d->kind) {
    case DECODER_DETECTING:
        /* Too short to be anything: let the tar parser say why. */
        d->kind = DECODER_IDENTITY;
        return identity_feed(d, d->magic, d->magic_len);
    case DECODER_IDENTITY:
        return 0;
    case DECODER_GZIP:
        return gzip_finish(d);
    case DECODER_ZSTD:
    case DECODER_XZ:
    case DECODER_BZIP2:
        return unsupported(d);
    }
    return 0;
}

void decoder_free(struct decoder *d)
{
    if (d->gz.ready)
        inflateEnd(&d->gz.z);
    d->gz.ready = false;
    free(d->outbuf);
    d->outbuf = NULL;
}

const char *decoder_name(const struct decoder *d)
{
    switch (d->kind) {
    case DECODER_IDENTITY: return "tar";
    case DECODER_GZIP: return "gzip";
    case DECODER_ZSTD: return "zstd";
    case DECODER_XZ: return "xz";
    case DECODER_BZIP2: return "bzip2";
    case DECODER_DETECTING: break;
    }
    return "unknown";
}
