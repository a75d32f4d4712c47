/*
 * gzip_members.c: gzip member framing (RFC 1952) over a raw-deflate engine.
 *
 * The engine is ISA-L when it is built in (configure.py found libisal) and
 * not refused with DECODER_GZIP_ZLIB, else zlib.  Both give the same
 * bytes, and the framing's errors (header, CRC-32, ISIZE, trailing data,
 * truncation) are the same errors at the same offsets; only the text of a
 * corrupt-deflate error names the engine's own complaint.
 *
 * The framing is ours: the 10-byte header and its optional fields (FEXTRA,
 * FNAME, FCOMMENT, FHCRC, each checked), the CRC-32 and ISIZE trailer,
 * concatenated members, and zero padding after the last one.  The engine
 * (inflate_engine.h: zlib today) sees only deflate data, so another engine
 * gets exactly the same framing, checks and messages.
 *
 * Header and trailer bytes are taken one at a time (they are few); the
 * deflate data goes to the engine in whole buffers.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>   /* crc32 */
#ifdef RZ_HAVE_ISAL
#include <isa-l/crc.h>
#endif

#include "dec_backend.h"
#include "inflate_engine.h"

/* CRC-32 of a member's output: every output byte passes through it, so it
 * is the one CRC that costs.  ISA-L's crc32_gzip_refl is the same function
 * as zlib's crc32 (same polynomial, same pre/post inversion, chains the same
 * way) and folds with PCLMULQDQ: 25.6 GB/s against zlib 1.2.13's 2.4 GB/s on
 * this machine, and zlib's crc32_z was 13.5% of a whole toolchain.tar.gz run
 * under perf.  The engine chosen for inflate does not matter here. */
static uint32_t output_crc(uint32_t crc, const uint8_t *p, size_t n)
{
#ifdef RZ_HAVE_ISAL
    return crc32_gzip_refl(crc, p, n);
#else
    return (uint32_t)crc32_z(crc, p, n);
#endif
}

#define FHCRC 0x02
#define FEXTRA 0x04
#define FNAME 0x08
#define FCOMMENT 0x10
#define FRESERVED 0xe0

enum gz_state {
    GZ_HEADER,     /* waiting for the 10 fixed header bytes */
    GZ_XLEN,       /* waiting for the 2-byte FEXTRA length */
    GZ_EXTRA,      /* skipping the FEXTRA field */
    GZ_NAME,       /* skipping FNAME up to its NUL */
    GZ_COMMENT,    /* skipping FCOMMENT up to its NUL */
    GZ_HCRC,       /* waiting for the 2-byte header CRC */
    GZ_DATA,       /* deflate data: the engine owns the bytes */
    GZ_TRAILER,    /* waiting for CRC-32 and ISIZE (8 bytes) */
    GZ_BETWEEN,    /* a member ended: waiting for 1f, 00, or the end */
    GZ_BETWEEN_1F, /* saw 1f after a member: waiting for 8b */
    GZ_ZEROS,      /* in zero padding: only zero bytes until the end */
};

struct gz {
    const struct inflate_engine *eng;
    void *eng_state;
    enum gz_state state;
    uint8_t hdr[10];
    uint8_t trailer[8];
    unsigned pos;        /* bytes of hdr / xlen / hcrc / trailer so far */
    unsigned xlen;       /* FEXTRA bytes left */
    uint8_t flags;
    uint32_t hcrc;       /* CRC-32 of the header so far (for FHCRC) */
    uint32_t crc;        /* CRC-32 of the member's output */
    uint32_t isize;      /* its length mod 2^32 */
};

static unsigned long long member_no(const struct decoder *d)
{
    return (unsigned long long)d->members + 1;
}

/* A header byte: into the header CRC, then on to the next field. */
static void after_fixed_header(struct gz *g)
{
    g->pos = 0;
    g->state = g->flags & FEXTRA ? GZ_XLEN
               : g->flags & FNAME ? GZ_NAME
               : g->flags & FCOMMENT ? GZ_COMMENT
               : g->flags & FHCRC ? GZ_HCRC : GZ_DATA;
}

static enum gz_state next_field(const struct gz *g, enum gz_state done)
{
    if (done < GZ_NAME && (g->flags & FNAME))
        return GZ_NAME;
    if (done < GZ_COMMENT && (g->flags & FCOMMENT))
        return GZ_COMMENT;
    if (done < GZ_HCRC && (g->flags & FHCRC))
        return GZ_HCRC;
    return GZ_DATA;
}

static int start_member_data(struct decoder *d, struct gz *g)
{
    g->crc = (uint32_t)crc32(0, NULL, 0);
    g->isize = 0;
    if (g->eng->reset(g->eng_state) != INFLATE_OK)
        return dec_fail(d, RZ_E_INTERNAL, "%s: reset failed", g->eng->name);
    return 0;
}

static int header_byte(struct decoder *d, struct gz *g, uint8_t c)
{
    if (g->state != GZ_HCRC)
        g->hcrc = (uint32_t)crc32(g->hcrc, &c, 1);
    switch (g->state) {
    case GZ_HEADER:
        g->hdr[g->pos++] = c;
        if (g->pos == 2 && (g->hdr[0] != 0x1f || g->hdr[1] != 0x8b))
            return dec_fail(d, RZ_E_DECODE_DATA, "gzip member %llu: bad magic",
                            member_no(d));
        if (g->pos == 3 && c != 8)
            return dec_fail(d, RZ_E_DECODE_DATA, "gzip member %llu: unknown "
                            "compression method %u", member_no(d), c);
        if (g->pos == 4 && (c & FRESERVED))
            return dec_fail(d, RZ_E_DECODE_DATA, "gzip member %llu: reserved "
                            "header flags 0x%02x set", member_no(d), c);
        if (g->pos == 4)
            g->flags = c;
        if (g->pos == 10)
            after_fixed_header(g);
        break;
    case GZ_XLEN:
        g->xlen |= (unsigned)c << (8 * g->pos++);
        if (g->pos == 2) {
            g->pos = 0;
            g->state = g->xlen ? GZ_EXTRA : next_field(g, GZ_EXTRA);
        }
        break;
    case GZ_EXTRA:
        if (--g->xlen == 0)
            g->state = next_field(g, GZ_EXTRA);
        break;
    case GZ_NAME:
    case GZ_COMMENT:
        if (c == 0)
            g->state = next_field(g, g->state);
        break;
    case GZ_HCRC:
        g->trailer[g->pos++] = c;
        if (g->pos == 2) {
            unsigned want = g->trailer[0] | (unsigned)g->trailer[1] << 8;
            if (want != (g->hcrc & 0xffff))
                return dec_fail(d, RZ_E_GZIP_CRC, "gzip member %llu: header "
                                "CRC stored %04x, computed %04x", member_no(d),
                                want, (unsigned)(g->hcrc & 0xffff));
            g->state = GZ_DATA;
        }
        break;
    default:
        break;
    }
    if (g->state == GZ_DATA)
        return start_member_data(d, g);
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static int trailer_byte(struct decoder *d, struct gz *g, uint8_t c)
{
    g->trailer[g->pos++] = c;
    if (g->pos < 8)
        return 0;
    uint32_t crc = le32(g->trailer), isize = le32(g->trailer + 4);
    if (crc != g->crc)
        return dec_fail(d, RZ_E_GZIP_CRC, "gzip member %llu: CRC-32 stored "
                        "%08x, computed %08x", member_no(d), crc, g->crc);
    if (isize != g->isize)
        return dec_fail(d, RZ_E_GZIP_CRC, "gzip member %llu: length stored "
                        "%u, decoded %u (mod 2^32)", member_no(d), isize,
                        g->isize);
    d->members++;
    g->state = GZ_BETWEEN;
    return 0;
}

static int trailing(struct decoder *d, uint8_t c)
{
    return dec_fail(d, RZ_E_DECODE_TRAILING, "byte 0x%02x after gzip member "
                    "%llu", c, (unsigned long long)d->members);
}

static void new_member(struct gz *g)
{
    static const uint8_t id[2] = {0x1f, 0x8b};
    g->state = GZ_HEADER;
    g->pos = 2;
    g->xlen = 0;
    memcpy(g->hdr, id, 2);
    g->hcrc = (uint32_t)crc32(0, id, 2);
}

/* One byte outside the deflate data (already counted in in_bytes). */
static int frame_byte(struct decoder *d, struct gz *g, uint8_t c)
{
    switch (g->state) {
    case GZ_TRAILER:
        return trailer_byte(d, g, c);
    case GZ_BETWEEN:
        if (c == 0x1f)
            g->state = GZ_BETWEEN_1F;
        else if (c == 0x00)
            g->state = GZ_ZEROS;
        else
            return trailing(d, c);
        return 0;
    case GZ_BETWEEN_1F:
        if (c != 0x8b)
            return trailing(d, c);
        new_member(g);
        return 0;
    case GZ_ZEROS:
        return c == 0 ? 0 : trailing(d, c);
    default:
        return header_byte(d, g, c);
    }
}

/* Bytes the engine read past the end of the deflate data: they are the
 * start of the trailer (and maybe what follows), so they go through the
 * framing first. */
static int give_back(struct decoder *d, struct gz *g)
{
    uint8_t extra[16];
    size_t n = g->eng->leftover ? g->eng->leftover(g->eng_state, extra,
                                                   sizeof extra) : 0;
    d->in_bytes -= n;
    for (size_t i = 0; i < n; i++) {
        d->in_bytes++;
        if (frame_byte(d, g, extra[i]) < 0)
            return -1;
    }
    /* A bit buffer holds less than the 8-byte trailer: still in it. */
    if (n && g->state != GZ_TRAILER)
        return dec_fail(d, RZ_E_INTERNAL, "%s: %zu bytes read past the end "
                        "of deflate data", g->eng->name, n);
    return 0;
}

/* Deflate data: run the engine until the input is used or the member ends. */
static int inflate_some(struct decoder *d, struct gz *g, const uint8_t **in,
                        size_t *len)
{
    for (;;) {
        size_t produced = 0, cap;
        const char *msg = NULL;
        const uint8_t *before = *in;
        uint8_t *o;
        if (dec_window(d, &o, &cap) < 0)
            return -1;
        int r = g->eng->run(g->eng_state, in, len, o, cap, &produced, &msg);
        d->in_bytes += (uint64_t)(*in - before);
        g->crc = output_crc(g->crc, o, produced);
        g->isize += (uint32_t)produced;
        if (r < 0)
            return dec_fail(d, r == INFLATE_NOMEM ? RZ_E_NOMEM
                                                  : RZ_E_DECODE_DATA,
                            "gzip member %llu: %s: %s", member_no(d),
                            g->eng->name, msg);
        if (dec_emit(d, o, produced) < 0)
            return -1;
        if (r == INFLATE_END) {
            g->state = GZ_TRAILER;
            g->pos = 0;
            return give_back(d, g);
        }
        if (*len == 0 && produced < cap)
            return 0;
    }
}

static int gz_push(struct decoder *d, const uint8_t *buf, size_t len)
{
    struct gz *g = d->state;
    while (len > 0) {
        if (g->state == GZ_DATA) {
            if (inflate_some(d, g, &buf, &len) < 0)
                return -1;
            continue;
        }
        uint8_t c = *buf++;
        len--;
        d->in_bytes++;
        if (frame_byte(d, g, c) < 0)
            return -1;
    }
    return 0;
}

static int gz_finish(struct decoder *d)
{
    struct gz *g = d->state;
    static const char *const where[] = {
        [GZ_HEADER] = "header", [GZ_XLEN] = "header", [GZ_EXTRA] = "header",
        [GZ_NAME] = "header", [GZ_COMMENT] = "header", [GZ_HCRC] = "header",
        [GZ_DATA] = "deflate data", [GZ_TRAILER] = "CRC-32/length trailer",
        [GZ_BETWEEN_1F] = "header",
    };
    if (g->state == GZ_DATA) {
        /* Drain anything the engine still holds (an empty push). */
        static const uint8_t none[1];
        const uint8_t *p = none;
        size_t n = 0;
        if (inflate_some(d, g, &p, &n) < 0)
            return -1;
    }
    if (g->state == GZ_BETWEEN || g->state == GZ_ZEROS)
        return 0;
    return dec_fail(d, RZ_E_DECODE_TRUNCATED, "gzip member %llu ends in its "
                    "%s", member_no(d), where[g->state]);
}

static int gz_start(struct decoder *d)
{
    struct gz *g = calloc(1, sizeof *g);
    if (!g)
        return dec_fail(d, RZ_E_NOMEM, "gzip state");
    d->state = g;
    g->eng = &inflate_engine_zlib;
#ifdef RZ_HAVE_ISAL
    if (d->opt.gzip_engine != DECODER_GZIP_ZLIB)
        g->eng = &inflate_engine_isal;
#else
    if (d->opt.gzip_engine == DECODER_GZIP_ISAL)
        return dec_fail(d, RZ_E_DECODE_NOT_BUILT, "the ISA-L gzip engine is "
                        "not built in (configure.py did not find libisal); "
                        "use --gzip-engine=zlib");
#endif
    g->eng_state = g->eng->new();
    if (!g->eng_state)
        return dec_fail(d, RZ_E_NOMEM, "%s state", g->eng->name);
    g->state = GZ_HEADER;
    g->hcrc = (uint32_t)crc32(0, NULL, 0);
    return 0;
}

static void gz_free(struct decoder *d)
{
    struct gz *g = d->state;
    if (g) {
        g->eng->free(g->eng_state);
        free(g);
    }
}

const struct decoder_backend dec_gzip_backend = {
    "gzip", gz_start, gz_push, gz_finish, gz_free,
};
