/*
 * tar_parser.c: the tar push parser.
 *
 * Input arrives in pieces of any size, so everything that spans a push lives
 * in struct tar_parser, and one loop in tar_parser_push hands the input to
 * the step for the current state.  A step consumes what it can and says how
 * much.  Header blocks and extension data are gathered into the struct; file
 * data goes to the callback straight from the caller's buffer.
 *
 * Numbers are kept in 64 bits and every parsed value is capped at INT64_MAX,
 * so size + padding and offset arithmetic cannot overflow.
 */
#include "tar_parser.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tar_state {
    TS_HEADER,  /* waiting for the rest of a 512-byte header block */
    TS_SPARSE,  /* waiting for the rest of a GNU sparse extension block */
    TS_EXT,     /* waiting for extension data (pax, GNU long name/link) */
    TS_DATA,    /* waiting for member data (delivered or skipped) */
    TS_PADDING, /* waiting for the padding up to the next block boundary */
    TS_TRAILER, /* waiting for nothing: end of archive seen, zeros only */
    TS_FAILED,  /* waiting for nothing: an error stopped the parser */
};

/* tar_pax.have bits */
enum {
    PAX_SIZE = 1u << 0,
    PAX_MTIME = 1u << 1,
    PAX_UID = 1u << 2,
    PAX_GID = 1u << 3,
    PAX_PATH = 1u << 4,
    PAX_LINKPATH = 1u << 5,
    PAX_UNAME = 1u << 6,
    PAX_GNAME = 1u << 7,
};

/* ustar header layout */
enum {
    H_NAME = 0, H_MODE = 100, H_UID = 108, H_GID = 116, H_SIZE = 124,
    H_MTIME = 136, H_CHKSUM = 148, H_TYPEFLAG = 156, H_LINKNAME = 157,
    H_MAGIC = 257, H_UNAME = 265, H_GNAME = 297, H_DEVMAJOR = 329,
    H_DEVMINOR = 337, H_PREFIX = 345,
    H_GNU_ISEXTENDED = 482,   /* old GNU sparse header */
    H_SPARSE_ISEXTENDED = 504 /* GNU sparse extension block */
};

enum header_format { FMT_V7, FMT_USTAR, FMT_GNU };

#define NUM_MAX ((uint64_t)INT64_MAX)

static int ext_reserve(struct tar_parser *p, size_t more);

/* ------------------------------------------------------------ errors */

static int fail(struct tar_parser *p, enum rz_code code, uint64_t off,
                const char *name, size_t name_len, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(struct tar_parser *p, enum rz_code code, uint64_t off,
                const char *name, size_t name_len, const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    p->state = TS_FAILED;
    return rz_error_set(p->err, code, 0, RZ_OFF_ARCHIVE, off, name, name_len,
                        "%s", detail);
}

/* A callback said stop; make sure the record says why. */
static int callback_failed(struct tar_parser *p)
{
    p->state = TS_FAILED;
    if (p->err->code == RZ_E_OK)
        rz_error_set(p->err, RZ_E_INTERNAL, 0, RZ_OFF_ARCHIVE, p->hdr_offset,
                     p->entry.path, p->entry.path_len,
                     "a tar callback failed without recording an error");
    return -1;
}

/* Printable, bounded copy of raw bytes for error details. */
static const char *show(const void *raw, size_t len, char *buf, size_t size)
{
    rz_escape(raw, len, buf, size);
    return buf;
}

/* The best name known for the member whose headers are being read. */
static const char *pending_name(const struct tar_parser *p, size_t *len)
{
    if (p->pax.have & PAX_PATH) {
        *len = p->pax.path.len;
        return p->pax.path.s;
    }
    if (p->have_long_name) {
        *len = p->long_name.len;
        return p->long_name.s;
    }
    *len = 0;
    return NULL;
}

/* ------------------------------------------------------------ numbers */

/*
 * A numeric header field: octal digits after optional spaces, ended by
 * space or NUL padding (an all-blank field reads as 0), or GNU base-256 when
 * the top bit of the first byte is set.  Returns NULL or why not.
 */
static const char *parse_number(const uint8_t *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    if (f[0] & 0x80) {
        if (f[0] & 0x40)
            return "is a negative base-256 number";
        v = f[0] & 0x3f;
        for (i = 1; i < n; i++) {
            if (v > (NUM_MAX >> 8))
                return "is too large";
            v = (v << 8) | f[i];
        }
        *out = v;
        return NULL;
    }
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (NUM_MAX >> 3))
            return "is too large";
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return "is not an octal number";
    *out = v;
    return NULL;
}

/* Decimal digits only, at least one, at most INT64_MAX. */
static bool parse_decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (NUM_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* pax time: [-]digits[.digits]; the fraction is kept to nanoseconds. */
static bool parse_time(const char *s, size_t n, int64_t *sec, uint32_t *nsec)
{
    bool neg = n > 0 && s[0] == '-';
    const char *dot;
    size_t whole_len;
    uint64_t whole;
    uint32_t frac = 0;
    if (neg) {
        s++;
        n--;
    }
    dot = memchr(s, '.', n);
    whole_len = dot ? (size_t)(dot - s) : n;
    if (!parse_decimal(s, whole_len, &whole))
        return false;
    if (dot) {
        size_t flen = n - whole_len - 1;
        if (flen == 0)
            return false;
        for (size_t i = 0; i < flen; i++) {
            if (dot[1 + i] < '0' || dot[1 + i] > '9')
                return false;
            if (i < 9)
                frac = frac * 10 + (uint32_t)(dot[1 + i] - '0');
        }
        for (size_t i = flen; i < 9; i++)
            frac *= 10;
    }
    *sec = neg ? -(int64_t)whole : (int64_t)whole;
    *nsec = frac;
    if (neg && frac) {   /* -1.25 is 1.75 seconds before -1 */
        *sec -= 1;
        *nsec = 1000000000u - frac;
    }
    return true;
}

static uint64_t padding_of(uint64_t size)
{
    return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

/* ------------------------------------------------------------ owned text */

/*
 * Buffers are kept for the next entry rather than freed: the entry that
 * points into them stays valid through its data and padding (error messages
 * name it), and archives with a pax header per file allocate nothing more.
 */
static int text_set(struct tar_parser *p, struct tar_text *t, const char *s,
                    size_t n)
{
    if (n + 1 > t->cap) {
        char *m = realloc(t->s, n + 1);
        if (!m)
            return fail(p, RZ_E_NOMEM, p->ext_offset, NULL, 0,
                        "%zu bytes for an extended header value", n + 1);
        t->s = m;
        t->cap = n + 1;
    }
    memcpy(t->s, s, n);
    t->s[n] = '\0';
    t->len = n;
    return 0;
}

static void text_free(struct tar_text *t)
{
    free(t->s);
    t->s = NULL;
    t->len = t->cap = 0;
}

static void pax_free(struct tar_pax *a)
{
    text_free(&a->path);
    text_free(&a->linkpath);
    text_free(&a->uname);
    text_free(&a->gname);
}

/* ------------------------------------------------------------ pax */

/*
 * Split one "LEN key=value\n" record off the front of r.  Returns NULL with
 * the pieces filled, or why the record is malformed.
 */
static const char *pax_record(const char *r, size_t avail, size_t *reclen,
                              const char **key, size_t *klen,
                              const char **val, size_t *vlen)
{
    size_t len = 0, i = 0;
    const char *eq;
    for (; i < avail && r[i] >= '0' && r[i] <= '9'; i++) {
        if (len > TAR_EXT_MAX)
            return "the length is too large";
        len = len * 10 + (size_t)(r[i] - '0');
    }
    if (i == 0)
        return "it does not start with a length";
    if (i == avail || r[i] != ' ')
        return "the length is not followed by a space";
    if (len > avail)
        return "the length runs past the end of the header";
    if (len < i + 4 || r[len - 1] != '\n')
        return "the length does not end the record at its newline";
    *key = r + i + 1;
    eq = memchr(*key, '=', len - i - 2);
    if (!eq || eq == *key)
        return "it has no key=value";
    *klen = (size_t)(eq - *key);
    *val = eq + 1;
    *vlen = (size_t)(r + len - 1 - *val);
    *reclen = len;
    return NULL;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

static int pax_bad_value(struct tar_parser *p, const char *key, size_t klen,
                         const char *val, size_t vlen, const char *what)
{
    char k[64], v[96];
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    return fail(p, RZ_E_TAR_PAX, p->ext_offset, name, nlen,
                "pax %s \"%s\" is not %s", show(key, klen, k, sizeof k),
                show(val, vlen, v, sizeof v), what);
}

static int pax_name(struct tar_parser *p, struct tar_text *t, const char *key,
                    size_t klen, const char *val, size_t vlen)
{
    if (memchr(val, '\0', vlen)) {
        char k[32];
        return fail(p, RZ_E_POL_NUL_NAME, p->ext_offset, val, vlen,
                    "pax %s value contains a NUL byte",
                    show(key, klen, k, sizeof k));
    }
    return text_set(p, t, val, vlen);
}

/* A numeric pax key (size, uid, gid); false when the value is malformed. */
static bool pax_number(struct tar_pax *a, unsigned bit, const char *val,
                       size_t vlen)
{
    uint64_t v;
    if (!parse_decimal(val, vlen, &v))
        return false;
    if (bit == PAX_SIZE)
        a->size = v;
    else if (bit == PAX_UID)
        a->uid = v;
    else
        a->gid = v;
    return true;
}

static unsigned pax_key_bit(const char *key, size_t klen)
{
    static const struct { const char *name; unsigned bit; } keys[] = {
        {"path", PAX_PATH}, {"linkpath", PAX_LINKPATH}, {"size", PAX_SIZE},
        {"mtime", PAX_MTIME}, {"uid", PAX_UID}, {"gid", PAX_GID},
        {"uname", PAX_UNAME}, {"gname", PAX_GNAME},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (key_is(key, klen, keys[i].name))
            return keys[i].bit;
    return 0;
}

/*
 * Apply one record.  An empty value removes the key (POSIX: it deletes an
 * earlier value), so the global default or the header field applies again.
 */
static int pax_apply(struct tar_parser *p, struct tar_pax *a, bool global,
                     const char *key, size_t klen, const char *val,
                     size_t vlen)
{
    unsigned bit = pax_key_bit(key, klen);
    if (!global && klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0)
        a->sparse = true;
    if (bit == 0)
        return 0;   /* unknown keys are ignored, as POSIX asks */
    if (global && (bit & (PAX_PATH | PAX_LINKPATH | PAX_SIZE)))
        return 0;   /* a global name or size makes no sense; ignored */
    if (vlen == 0) {
        a->have &= ~bit;
        return 0;
    }
    switch (bit) {
    case PAX_PATH:
    case PAX_LINKPATH:
        if (pax_name(p, bit == PAX_PATH ? &a->path : &a->linkpath, key, klen,
                     val, vlen) < 0)
            return -1;
        break;
    case PAX_UNAME:
    case PAX_GNAME:
        if (text_set(p, bit == PAX_UNAME ? &a->uname : &a->gname, val,
                     vlen) < 0)
            return -1;
        break;
    case PAX_MTIME:
        if (!parse_time(val, vlen, &a->mtime, &a->mtime_nsec))
            return pax_bad_value(p, key, klen, val, vlen, "a decimal time");
        break;
    default:
        if (!pax_number(a, bit, val, vlen))
            return pax_bad_value(p, key, klen, val, vlen, "a decimal number");
        break;
    }
    a->have |= bit;
    return 0;
}

static int pax_parse(struct tar_parser *p, struct tar_pax *a, bool global)
{
    const char *data = (const char *)p->ext;
    size_t pos = 0;
    while (pos < p->ext_len) {
        const char *key, *val, *why;
        size_t reclen, klen, vlen;
        why = pax_record(data + pos, p->ext_len - pos, &reclen, &key, &klen,
                         &val, &vlen);
        if (why) {
            size_t nlen;
            const char *name = pending_name(p, &nlen);
            return fail(p, RZ_E_TAR_PAX, p->ext_offset, name, nlen,
                        "record at byte %zu of the %s header: %s", pos,
                        global ? "global pax" : "pax", why);
        }
        if (pax_apply(p, a, global, key, klen, val, vlen) < 0)
            return -1;
        pos += reclen;
    }
    return 0;
}

/* ------------------------------------------------------------ headers */

static const uint8_t zero_block_bytes[TAR_BLOCK];

static bool is_zero_block(const uint8_t *b)
{
    return memcmp(b, zero_block_bytes, TAR_BLOCK) == 0;
}

static enum header_format header_format(const uint8_t *b)
{
    if (memcmp(b + H_MAGIC, "ustar\0", 6) == 0)
        return FMT_USTAR;
    if (memcmp(b + H_MAGIC, "ustar  \0", 8) == 0)
        return FMT_GNU;
    return FMT_V7;
}

/* The sum of the block with the checksum field read as spaces. */
static int32_t block_sum(const uint8_t *b, bool is_signed)
{
    int32_t sum = 8 * ' ';
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += is_signed ? (signed char)b[i] : b[i];
    for (size_t i = H_CHKSUM; i < H_CHKSUM + 8; i++)
        sum -= is_signed ? (signed char)b[i] : b[i];
    return sum;
}

/* Unsigned sum is the standard; some old tars summed signed chars. */
static int verify_checksum(struct tar_parser *p)
{
    const uint8_t *b = p->block;
    uint64_t stored;
    int32_t usum;
    char shown[64];
    if (parse_number(b + H_CHKSUM, 8, &stored) || (b[H_CHKSUM] & 0x80))
        return fail(p, RZ_E_TAR_CHECKSUM, p->hdr_offset, NULL, 0,
                    "checksum field \"%s\" is not an octal number",
                    show(b + H_CHKSUM, 8, shown, sizeof shown));
    usum = block_sum(b, false);
    if (stored == (uint64_t)usum || (int64_t)stored == block_sum(b, true))
        return 0;
    return fail(p, RZ_E_TAR_CHECKSUM, p->hdr_offset, NULL, 0,
                "stored checksum 0o%" PRIo64 ", computed 0o%" PRIo32,
                stored, (uint32_t)usum);
}

static int header_number(struct tar_parser *p, size_t off, size_t n,
                         const char *field, uint64_t max, uint64_t *out)
{
    char shown[64];
    const char *why = parse_number(p->block + off, n, out);
    if (!why && *out > max)
        why = "is too large";
    if (!why)
        return 0;
    return fail(p, RZ_E_TAR_NUMBER, p->hdr_offset, p->entry.path,
                p->entry.path_len, "%s field \"%s\" %s", field,
                show(p->block + off, n, shown, sizeof shown), why);
}

/* Copy a NUL-padded header string field into buf; returns its length. */
static size_t header_string(const uint8_t *field, size_t n, char *buf)
{
    size_t len = strnlen((const char *)field, n);
    memcpy(buf, field, len);
    buf[len] = '\0';
    return len;
}

static enum tar_type type_of(char typeflag, const char *path, size_t len)
{
    switch (typeflag) {
    case '0': case '\0':
        /* pre-POSIX tars marked directories only by the trailing slash */
        return len > 0 && path[len - 1] == '/' ? TAR_DIR : TAR_REG;
    case '7': return TAR_REG;
    case '1': return TAR_HARDLINK;
    case '2': return TAR_SYMLINK;
    case '3': return TAR_CHR;
    case '4': return TAR_BLK;
    case '5': return TAR_DIR;
    case '6': return TAR_FIFO;
    default: return TAR_OTHER;
    }
}

/* Names: pax beats GNU long names beats the header (prefix '/' name). */
static void entry_names(struct tar_parser *p, enum header_format fmt)
{
    struct tar_entry *e = &p->entry;
    const uint8_t *b = p->block;
    size_t plen = fmt == FMT_USTAR ? strnlen((const char *)b + H_PREFIX, 155) : 0;
    size_t n = plen ? plen + 1 : 0;
    memcpy(p->name_buf, b + H_PREFIX, plen);
    if (plen)
        p->name_buf[plen] = '/';
    n += header_string(b + H_NAME, 100, p->name_buf + n);
    e->path = p->name_buf;
    e->path_len = n;
    if (p->have_long_name) {
        e->path = p->long_name.s;
        e->path_len = p->long_name.len;
    }
    if (p->pax.have & PAX_PATH) {
        e->path = p->pax.path.s;
        e->path_len = p->pax.path.len;
    }
    e->linkpath_len = header_string(b + H_LINKNAME, 100, p->link_buf);
    e->linkpath = p->link_buf;
    if (p->have_long_link) {
        e->linkpath = p->long_link.s;
        e->linkpath_len = p->long_link.len;
    }
    if (p->pax.have & PAX_LINKPATH) {
        e->linkpath = p->pax.linkpath.s;
        e->linkpath_len = p->pax.linkpath.len;
    }
}

static int entry_numbers(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    uint64_t mode, mtime, major = 0, minor = 0;
    if (header_number(p, H_MODE, 8, "mode", NUM_MAX, &mode) < 0 ||
        header_number(p, H_UID, 8, "uid", NUM_MAX, &e->uid) < 0 ||
        header_number(p, H_GID, 8, "gid", NUM_MAX, &e->gid) < 0 ||
        header_number(p, H_SIZE, 12, "size", NUM_MAX, &e->size) < 0 ||
        header_number(p, H_MTIME, 12, "mtime", NUM_MAX, &mtime) < 0)
        return -1;
    /* other types often leave these blank or filled with junk */
    if (e->type == TAR_CHR || e->type == TAR_BLK) {
        if (header_number(p, H_DEVMAJOR, 8, "devmajor", UINT32_MAX, &major) < 0 ||
            header_number(p, H_DEVMINOR, 8, "devminor", UINT32_MAX, &minor) < 0)
            return -1;
    }
    e->mode = (uint32_t)(mode & 07777);
    e->mtime = (int64_t)mtime;
    e->devmajor = (uint32_t)major;
    e->devminor = (uint32_t)minor;
    return 0;
}

/* Precedence for each attribute: this entry's pax, global pax, header. */
static void entry_overrides(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    const struct tar_pax *x = &p->pax, *g = &p->glob;
    const struct tar_pax *t = (x->have & PAX_MTIME) ? x
                              : (g->have & PAX_MTIME) ? g : NULL;
    if (t) {
        e->mtime = t->mtime;
        e->mtime_nsec = t->mtime_nsec;
    }
    /* Old tars (and libtar today) write a hardlink's file size with no
     * data after it; ustar says to ignore it.  Only pax, since 2001, lets a
     * hardlink carry data, and then it says so with a 'size' record. */
    if (e->type == TAR_HARDLINK)
        e->size = 0;
    if (x->have & PAX_SIZE)
        e->size = x->size;
    e->uid = (x->have & PAX_UID) ? x->uid : (g->have & PAX_UID) ? g->uid : e->uid;
    e->gid = (x->have & PAX_GID) ? x->gid : (g->have & PAX_GID) ? g->gid : e->gid;
    if (x->have & PAX_UNAME)
        e->uname = x->uname.s;
    else if (g->have & PAX_UNAME)
        e->uname = g->uname.s;
    if (x->have & PAX_GNAME)
        e->gname = x->gname.s;
    else if (g->have & PAX_GNAME)
        e->gname = g->gname.s;
    if (x->sparse)   /* data is a GNU sparse map, not the file: not regular */
        e->type = TAR_OTHER;
}

/* After data or extension bytes: skip the padding, then the next header. */
static void to_padding(struct tar_parser *p)
{
    p->state = p->padding ? TS_PADDING : TS_HEADER;
}

static int end_member(struct tar_parser *p)
{
    if (p->cb->entry_end(p->ctx) < 0)
        return callback_failed(p);
    p->pax.have = 0;
    p->pax.sparse = false;
    p->have_long_name = p->have_long_link = false;
    p->ext_pending = false;
    p->ext_total = 0;
    p->ext_padding = false;
    to_padding(p);
    return 0;
}

static int begin_member_data(struct tar_parser *p)
{
    if (p->cb->entry_begin(p->ctx, &p->entry) < 0)
        return callback_failed(p);
    p->remaining = p->entry.size;
    p->padding = padding_of(p->entry.size);
    p->state = TS_DATA;
    return p->remaining ? 0 : end_member(p);
}

static int begin_member(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    enum header_format fmt = header_format(p->block);
    char tf = (char)p->block[H_TYPEFLAG];
    memset(e, 0, sizeof *e);
    e->typeflag = tf;
    e->offset = p->member_offset;
    entry_names(p, fmt);
    e->type = type_of(tf, e->path, e->path_len);
    if (entry_numbers(p) < 0)
        return -1;
    p->uname_buf[0] = p->gname_buf[0] = '\0';
    if (fmt != FMT_V7) {
        header_string(p->block + H_UNAME, 32, p->uname_buf);
        header_string(p->block + H_GNAME, 32, p->gname_buf);
    }
    e->uname = p->uname_buf;
    e->gname = p->gname_buf;
    entry_overrides(p);
    if (tf == 'S' && fmt == FMT_GNU && p->block[H_GNU_ISEXTENDED]) {
        p->state = TS_SPARSE;   /* the sparse map goes on in extra blocks */
        return 0;
    }
    return begin_member_data(p);
}

static int sparse_block(struct tar_parser *p)
{
    if (p->block[H_SPARSE_ISEXTENDED])
        return 0;
    return begin_member_data(p);
}

static int ext_done(struct tar_parser *p)
{
    size_t n;
    if (ext_reserve(p, 0) < 0)  /* an empty header may have no buffer yet */
        return -1;
    p->ext[p->ext_len] = '\0';
    p->ext_padding = true;
    to_padding(p);
    switch (p->ext_type) {
    case 'x': return pax_parse(p, &p->pax, false);
    case 'g': return pax_parse(p, &p->glob, true);
    case 'L':
        /* GNU writes the name NUL-terminated; anything after is ignored */
        n = strnlen((const char *)p->ext, p->ext_len);
        p->have_long_name = true;
        return text_set(p, &p->long_name, (const char *)p->ext, n);
    default:
        n = strnlen((const char *)p->ext, p->ext_len);
        p->have_long_link = true;
        return text_set(p, &p->long_link, (const char *)p->ext, n);
    }
}

static int begin_ext(struct tar_parser *p, char tf)
{
    bool pax = tf == 'x' || tf == 'g';
    enum rz_code too_big = pax ? RZ_E_TAR_PAX_TOO_BIG : RZ_E_TAR_LONGNAME_TOO_BIG;
    uint64_t size;
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    p->entry.path = name;       /* for header_number's error message */
    p->entry.path_len = nlen;
    if (header_number(p, H_SIZE, 12, "size", NUM_MAX, &size) < 0)
        return -1;
    if (tf != 'g')
        p->ext_total += size;   /* size <= INT64_MAX: no wrap */
    if (size > TAR_EXT_MAX || p->ext_total > TAR_EXT_MAX)
        return fail(p, too_big, p->hdr_offset, name, nlen,
                    "'%c' header declares %" PRIu64 " bytes (%" PRIu64
                    " for this entry), the limit is %d", tf, size,
                    tf == 'g' ? size : p->ext_total, TAR_EXT_MAX);
    if (tf != 'g')
        p->ext_pending = true;
    p->ext_type = tf;
    p->ext_offset = p->hdr_offset;
    p->ext_len = 0;
    p->remaining = size;
    p->padding = padding_of(size);
    p->state = TS_EXT;
    return size ? 0 : ext_done(p);
}

static int zero_block(struct tar_parser *p)
{
    if (p->ext_pending) {
        size_t nlen;
        const char *name = pending_name(p, &nlen);
        return fail(p, RZ_E_TAR_ORPHAN_EXT, p->ext_offset, name, nlen,
                    "the extension header at byte %" PRIu64 " is followed by"
                    " a zero block at byte %" PRIu64 ", not an entry",
                    p->ext_offset, p->hdr_offset);
    }
    if (p->zero_blocks++ == 0) {
        p->zero_offset = p->hdr_offset;
        return 0;
    }
    p->ended = true;
    p->state = TS_TRAILER;
    return 0;
}

static int header_block(struct tar_parser *p)
{
    char tf;
    if (is_zero_block(p->block))
        return zero_block(p);
    if (p->zero_blocks)
        /* GNU tar stops at a lone zero block and ignores what follows; we
         * refuse to extract half an archive silently */
        return fail(p, RZ_E_TAR_CHECKSUM, p->zero_offset, NULL, 0,
                    "lone zero block (stored checksum empty, computed 0o400)"
                    " followed by a non-zero block at byte %" PRIu64
                    "; end of archive needs two zero blocks", p->hdr_offset);
    if (verify_checksum(p) < 0)
        return -1;
    if (!p->ext_pending)
        p->member_offset = p->hdr_offset;
    tf = (char)p->block[H_TYPEFLAG];
    if (tf == 'x' || tf == 'g' || tf == 'L' || tf == 'K')
        return begin_ext(p, tf);
    return begin_member(p);
}

/* ------------------------------------------------------------ steps */

static int step_block(struct tar_parser *p, const uint8_t *buf, size_t len,
                      size_t *used)
{
    size_t n = TAR_BLOCK - p->block_fill;
    if (n > len)
        n = len;
    if (p->block_fill == 0)
        p->hdr_offset = p->offset;
    memcpy(p->block + p->block_fill, buf, n);
    p->block_fill += n;
    *used = n;
    if (p->block_fill < TAR_BLOCK)
        return 0;
    p->block_fill = 0;
    return p->state == TS_SPARSE ? sparse_block(p) : header_block(p);
}

/* Grow the extension buffer for `more` bytes that have arrived. */
static int ext_reserve(struct tar_parser *p, size_t more)
{
    size_t need = p->ext_len + more + 1, cap = p->ext_cap ? p->ext_cap : 512;
    uint8_t *m;
    if (need <= p->ext_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > TAR_EXT_MAX + 1)
        cap = TAR_EXT_MAX + 1;
    m = realloc(p->ext, cap);
    if (!m)
        return fail(p, RZ_E_NOMEM, p->ext_offset, NULL, 0,
                    "%zu bytes for an extended header", cap);
    p->ext = m;
    p->ext_cap = cap;
    return 0;
}

static int step_ext(struct tar_parser *p, const uint8_t *buf, size_t len,
                    size_t *used)
{
    size_t n = len < p->remaining ? len : (size_t)p->remaining;
    if (ext_reserve(p, n) < 0)
        return -1;
    memcpy(p->ext + p->ext_len, buf, n);
    p->ext_len += n;
    p->remaining -= n;
    *used = n;
    return p->remaining ? 0 : ext_done(p);
}

static int step_data(struct tar_parser *p, const uint8_t *buf, size_t len,
                     size_t *used)
{
    size_t n = len < p->remaining ? len : (size_t)p->remaining;
    *used = n;
    p->remaining -= n;
    if (p->entry.type == TAR_REG && p->cb->entry_data(p->ctx, buf, n) < 0)
        return callback_failed(p);
    return p->remaining ? 0 : end_member(p);
}

static int step_padding(struct tar_parser *p, size_t len, size_t *used)
{
    size_t n = len < p->padding ? len : (size_t)p->padding;
    *used = n;
    p->padding -= n;
    if (!p->padding)
        p->state = TS_HEADER;
    return 0;
}

static int step_trailer(struct tar_parser *p, const uint8_t *buf, size_t len,
                        size_t *used)
{
    *used = len;
    if (p->flags & TAR_PARSER_LENIENT_TRAILER)
        return 0;
    for (size_t i = 0; i < len; i += TAR_BLOCK) {
        size_t n = len - i < TAR_BLOCK ? len - i : TAR_BLOCK, j = 0;
        if (memcmp(buf + i, zero_block_bytes, n) == 0)
            continue;   /* the common case: GNU tar's zero record padding */
        while (buf[i + j] == 0)
            j++;
        return fail(p, RZ_E_TAR_TRAILING, p->offset + i + j, NULL, 0,
                    "byte 0x%02x at byte %" PRIu64 ", after the"
                    " end-of-archive blocks at byte %" PRIu64,
                    buf[i + j], p->offset + i + j, p->zero_offset);
    }
    return 0;
}

/* ------------------------------------------------------------ API */

int tar_parser_init(struct tar_parser *p, const struct tar_callbacks *cb,
                    void *ctx, struct rz_error *err, unsigned flags)
{
    memset(p, 0, sizeof *p);
    p->state = TS_HEADER;
    p->cb = cb;
    p->ctx = ctx;
    p->err = err;
    p->flags = flags;
    return 0;
}

int tar_parser_push(struct tar_parser *p, const uint8_t *buf, size_t len)
{
    if (p->err->code != RZ_E_OK || p->state == TS_FAILED)
        return -1;
    if (p->finished)
        return fail(p, RZ_E_INTERNAL, p->offset, NULL, 0,
                    "tar_parser_push after tar_parser_finish");
    while (len > 0) {
        size_t used = 0;
        int rc = 0;
        switch (p->state) {
        case TS_HEADER:
        case TS_SPARSE: rc = step_block(p, buf, len, &used); break;
        case TS_EXT: rc = step_ext(p, buf, len, &used); break;
        case TS_DATA: rc = step_data(p, buf, len, &used); break;
        case TS_PADDING: rc = step_padding(p, len, &used); break;
        case TS_TRAILER: rc = step_trailer(p, buf, len, &used); break;
        default: return -1;
        }
        p->offset += used;
        buf += used;
        len -= used;
        if (rc < 0) {
            p->state = TS_FAILED;
            return -1;
        }
    }
    return 0;
}

/*
 * Input ended inside something.  `member` says whether that is the member
 * already announced (its data, padding or sparse map) or the headers of one
 * still being read; only the first may use p->entry.
 */
static int truncated(struct tar_parser *p, bool member, const char *where,
                     uint64_t missing)
{
    char shown[160];
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    uint64_t off = p->state == TS_HEADER ? p->hdr_offset : p->ext_offset;
    if (member) {
        name = p->entry.path;
        nlen = p->entry.path_len;
        off = p->entry.offset;
    }
    return fail(p, RZ_E_TAR_TRUNCATED, off, name, nlen,
                "in the %s%s%s, %" PRIu64 " bytes missing (input ends at"
                " byte %" PRIu64 ")", where, name ? " of " : "",
                name ? show(name, nlen, shown, sizeof shown) : "", missing,
                p->offset);
}

static int finish_at_boundary(struct tar_parser *p)
{
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    if (p->ext_pending)
        return fail(p, RZ_E_TAR_ORPHAN_EXT, p->ext_offset, name, nlen,
                    "the extension header at byte %" PRIu64 " is followed"
                    " by the end of input at byte %" PRIu64 ", not an entry",
                    p->ext_offset, p->offset);
    if (p->zero_blocks)
        return fail(p, RZ_E_TAR_NO_EOA, p->zero_offset, NULL, 0,
                    "only one zero block, at byte %" PRIu64 "; the end of"
                    " archive needs two", p->zero_offset);
    return fail(p, RZ_E_TAR_NO_EOA, p->offset, NULL, 0,
                "input ends at byte %" PRIu64 " after the last entry",
                p->offset);
}

int tar_parser_finish(struct tar_parser *p)
{
    if (p->err->code != RZ_E_OK || p->state == TS_FAILED)
        return -1;
    switch (p->state) {
    case TS_TRAILER:
        p->finished = true;
        return 0;
    case TS_HEADER:
        if (p->block_fill == 0)
            return finish_at_boundary(p);
        return truncated(p, false, "header block", TAR_BLOCK - p->block_fill);
    case TS_SPARSE:
        return truncated(p, true, "sparse map", TAR_BLOCK - p->block_fill);
    case TS_EXT:
        return truncated(p, false, "extended header", p->remaining);
    case TS_DATA:
        return truncated(p, true, "data", p->remaining);
    case TS_PADDING:
        if (p->ext_padding)
            return truncated(p, false, "extended header's padding", p->padding);
        return truncated(p, true, "padding", p->padding);
    default:
        return -1;
    }
}

void tar_parser_free(struct tar_parser *p)
{
    free(p->ext);
    p->ext = NULL;
    p->ext_cap = p->ext_len = 0;
    pax_free(&p->pax);
    pax_free(&p->glob);
    text_free(&p->long_name);
    text_free(&p->long_link);
}

bool tar_parser_at_end(const struct tar_parser *p)
{
    return p->ended;
}

const char *tar_type_name(enum tar_type t)
{
    switch (t) {
    case TAR_REG: return "regular file";
    case TAR_HARDLINK: return "hard link";
    case TAR_SYMLINK: return "symbolic link";
    case TAR_CHR: return "character device";
    case TAR_BLK: return "block device";
    case TAR_DIR: return "directory";
    case TAR_FIFO: return "FIFO";
    default: return "other entry type";
    }
}
