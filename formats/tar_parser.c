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
 *
 * The pure pieces live apart, each behind its header's contract: number
 * spellings in tar_numeric.c, pax record syntax in tar_pax.c, sparse maps
 * in tar_sparse.c.  This file is the state machine and what records mean,
 * including the ambiguity rules (README "Ambiguity").
 */
#include "tar_parser.h"
#include "tar_numeric.h"
#include "tar_pax.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tar_state {
    TS_HEADER,  /* waiting for the rest of a 512-byte header block */
    TS_SPARSE,  /* waiting for the rest of a GNU sparse extension block */
    TS_EXT,     /* waiting for extension data (pax, GNU long name/link) */
    TS_DATA,    /* waiting for member data (see enum data_mode) */
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
    X_EXTRA = 1u << 15,     /* tar_parser.x_keys: GNU.sparse, xattr keys */
};
#define PAX_KNOWN (PAX_SIZE | PAX_MTIME | PAX_UID | PAX_GID | PAX_PATH \
                   | PAX_LINKPATH | PAX_UNAME | PAX_GNAME)
/* Global keys checked entry by entry (README "Ambiguity"): GNU tar and
 * Python apply them where the entry's own pax header does not set the key,
 * bsdtar ignores them; harmless where the value is the entry's anyway. */
#define GLOB_CHECKED (PAX_MTIME | PAX_UID | PAX_GID | PAX_UNAME | PAX_GNAME)

/* tar_parser.sp_keys bits: GNU.sparse.* records seen for this entry */
enum {
    SP_MAJOR = 1u << 0,
    SP_MINOR = 1u << 1,
    SP_REALSIZE = 1u << 2,   /* 1.0 */
    SP_SIZE = 1u << 3,       /* 0.x */
    SP_NUMBLOCKS = 1u << 4,
    SP_OFFSET = 1u << 5,     /* 0.0 pairs */
    SP_NUMBYTES = 1u << 6,
    SP_MAP = 1u << 7,        /* 0.1 */
    SP_NAME = 1u << 8,
    SP_OTHER = 1u << 9,      /* an unknown GNU.sparse.* key */
    SP_WANT_BYTES = 1u << 10 /* a 0.0 offset awaits its numbytes */
};

/*
 * Keys every peer ignores when alone (numblocks, unknown ones), and the
 * name, which every peer applies even to a file that is not sparse: what
 * is left makes an entry sparse (README "Ambiguity").
 */
#define SP_IGNORED (SP_NUMBLOCKS | SP_OTHER)
#define SP_MAKES_SPARSE (~(unsigned)(SP_IGNORED | SP_NAME))

/* How a member's data is handled (tar_parser.data_mode). */
enum data_mode {
    DM_DELIVER, /* regular file: entry_data */
    DM_SKIP,    /* an entry whose data is not file content (dumpdir,
                   unknown types): skipped, entry_end at its end */
    DM_SILENT,  /* not an entry (volume label, ACL): skipped, no events */
    DM_SPARSE,  /* sparse file: data and holes by the map */
    DM_MAP,     /* pax 1.0 sparse: reading the map at the data's start */
};

/* ustar header layout */
enum {
    H_NAME = 0, H_MODE = 100, H_UID = 108, H_GID = 116, H_SIZE = 124,
    H_MTIME = 136, H_CHKSUM = 148, H_TYPEFLAG = 156, H_LINKNAME = 157,
    H_MAGIC = 257, H_UNAME = 265, H_GNAME = 297, H_DEVMAJOR = 329,
    H_DEVMINOR = 337, H_PREFIX = 345,
    H_GNU_SPARSE = 386,       /* old GNU sparse header: 4 map entries */
    H_GNU_ISEXTENDED = 482,
    H_GNU_REALSIZE = 483,
    H_SPARSE_ISEXTENDED = 504 /* GNU sparse extension block */
};

enum header_format { FMT_V7, FMT_USTAR, FMT_GNU };

#define NUM_MAX ((uint64_t)INT64_MAX)

static int ext_reserve(struct tar_parser *p, size_t more);
static int sparse_fail(struct tar_parser *p, const char *why);
static int acl_ambiguous(struct tar_parser *p, uint64_t off);

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

/* An unsigned header number (negative base-256 refused). */
static const char *parse_number(const uint8_t *f, size_t n, uint64_t *out)
{
    int64_t v;
    const char *why = tar_number_field(f, n, false, &v);
    if (!why)
        *out = (uint64_t)v;
    return why;
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

#define EMPTY_NUMBER "a number (an empty value: Python reads 0, GNU tar" \
                     " refuses it)"

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

static int ambiguous(struct tar_parser *p, uint64_t off, const char *name,
                     size_t nlen, const char *what, const char *more)
{
    return fail(p, RZ_E_TAR_AMBIGUOUS, off, name, nlen, "%s%s", what,
                more ? more : "");
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
    if (!tar_decimal(val, vlen, &v))
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
        if (tar_pax_key_is(key, klen, keys[i].name))
            return keys[i].bit;
    return 0;
}

/* The map error is kept until the entry is known, to name it. */
static void sparse_note(struct tar_parser *p, const char *why)
{
    if (why && !p->sp_why)
        p->sp_why = why;
}

/* The SP_* bit of a GNU.sparse.* key (SP_OTHER for unknown ones). */
static unsigned sparse_key_bit(const char *key, size_t klen)
{
    static const struct { const char *name; unsigned bit; } keys[] = {
        {"GNU.sparse.major", SP_MAJOR}, {"GNU.sparse.minor", SP_MINOR},
        {"GNU.sparse.realsize", SP_REALSIZE}, {"GNU.sparse.size", SP_SIZE},
        {"GNU.sparse.numblocks", SP_NUMBLOCKS},
        {"GNU.sparse.offset", SP_OFFSET}, {"GNU.sparse.numbytes", SP_NUMBYTES},
        {"GNU.sparse.map", SP_MAP}, {"GNU.sparse.name", SP_NAME},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (tar_pax_key_is(key, klen, keys[i].name))
            return keys[i].bit;
    return SP_OTHER;
}

/* A GNU.sparse.* record of an 'x' header. */
static int pax_sparse(struct tar_parser *p, const char *key, size_t klen,
                      const char *val, size_t vlen)
{
    unsigned bit = sparse_key_bit(key, klen);
    uint64_t v = 0;
    p->sp_keys |= bit;
    switch (bit) {
    case SP_NAME:
        p->x_spname_rec = p->x_records;
        return pax_name(p, &p->sp_name, key, klen, val, vlen);
    case SP_MAP:
    {
        const char *why = tar_sparse_list(&p->map, val, vlen);
        if (why == tar_sparse_bad_list)
            return pax_bad_value(p, key, klen, val, vlen,
                                 "a list of decimal offset,size pairs");
        sparse_note(p, why);
        return 0;
    }
    case SP_OTHER:
        return 0;
    default:
        break;
    }
    if (!tar_decimal(val, vlen, &v))
        return pax_bad_value(p, key, klen, val, vlen, "a decimal number");
    switch (bit) {
    case SP_MAJOR: p->sp_major = v; break;
    case SP_MINOR: p->sp_minor = v; break;
    case SP_REALSIZE: p->sp_realsize = v; break;
    case SP_SIZE: p->sp_size = v; break;
    case SP_NUMBLOCKS: p->sp_numblocks = v; break;
    case SP_OFFSET:
        if (p->sp_keys & SP_WANT_BYTES)
            sparse_note(p, "GNU.sparse.offset without its numbytes");
        p->sp_offset = v;
        p->sp_keys |= SP_WANT_BYTES;
        break;
    default: /* SP_NUMBYTES */
        if (!(p->sp_keys & SP_WANT_BYTES))
            sparse_note(p, "GNU.sparse.numbytes without an offset");
        else
            sparse_note(p, tar_sparse_add(&p->map, p->sp_offset, v));
        p->sp_keys &= ~SP_WANT_BYTES;
        break;
    }
    return 0;
}

/* A SCHILY.xattr.NAME record: kept as bytes and positions. */
static int pax_xattr(struct tar_parser *p, const char *key, size_t klen,
                     const char *val, size_t vlen)
{
    struct tar_text *t = &p->xattr_bytes;
    size_t nlen = klen - strlen("SCHILY.xattr."), need = t->len + nlen + vlen + 2;
    if (memchr(key, '\0', klen))
        return 0;
    if (p->xattr_n == p->xattr_cap) {
        size_t cap = p->xattr_cap ? p->xattr_cap * 2 : 8;
        struct tar_xattr_pos *pos = realloc(p->xattr_pos, cap * sizeof *pos);
        struct tar_xattr *xa;
        if (pos)
            p->xattr_pos = pos;
        xa = pos ? realloc(p->xattrs, cap * sizeof *xa) : NULL;
        if (!xa)
            return fail(p, RZ_E_NOMEM, p->ext_offset, NULL, 0,
                        "%zu extended attributes", cap);
        p->xattrs = xa;
        p->xattr_cap = cap;
    }
    if (need > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        char *m;
        while (cap < need)
            cap *= 2;
        m = realloc(t->s, cap);
        if (!m)
            return fail(p, RZ_E_NOMEM, p->ext_offset, NULL, 0,
                        "%zu bytes of extended attributes", cap);
        t->s = m;
        t->cap = cap;
    }
    p->xattr_pos[p->xattr_n++] = (struct tar_xattr_pos){t->len,
                                                        t->len + nlen + 1, vlen};
    memcpy(t->s + t->len, key + klen - nlen, nlen);
    t->s[t->len + nlen] = '\0';
    memcpy(t->s + t->len + nlen + 1, val, vlen);
    t->s[t->len + nlen + 1 + vlen] = '\0';
    t->len = need;
    return 0;
}

/*
 * Records of a global header that peers apply differently (GNU tar and
 * Python apply a global path to every later entry, bsdtar ignores it).
 */
static int global_ambiguous(struct tar_parser *p, unsigned bit,
                            const char *key, size_t klen, size_t vlen)
{
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    if (tar_pax_key_has_prefix(key, klen, "GNU.sparse.")) {
        if (sparse_key_bit(key, klen) & SP_IGNORED)
            return 0;   /* every reader ignores these */
        return ambiguous(p, p->ext_offset, name, nlen,
                         "global header sets GNU.sparse keys", NULL);
    }
    if (bit == PAX_LINKPATH) {
        /* it matters only to the links that follow: checked there */
        p->glob_link = vlen > 0;
        p->glob_link_offset = p->ext_offset;
        return 0;
    }
    if (bit & GLOB_CHECKED) {
        /* checked at each entry (entry_ambiguity); an empty value too,
         * which Python reads as 0 or "" and GNU tar refuses */
        p->glob_keys |= bit;
        return 0;
    }
    if (vlen == 0 || bit == 0)
        return 0;   /* a deletion, or a key nobody applies (comment) */
    /* bsdtar ignores global headers altogether, GNU tar and Python apply
     * them: any attribute one sets is read two ways */
    char what[64];
    snprintf(what, sizeof what, "global header sets %.*s", (int)klen, key);
    return ambiguous(p, p->ext_offset, name, nlen, what, NULL);
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
    if (!global) {
        p->x_records++;
        p->x_keys |= bit;
        if (bit == PAX_PATH)
            p->x_path_rec = p->x_records;
        if (tar_pax_key_has_prefix(key, klen, "GNU.sparse.")
            || tar_pax_key_has_prefix(key, klen, "SCHILY.xattr."))
            p->x_keys |= X_EXTRA;
    }
    if (global) {
        if (global_ambiguous(p, bit, key, klen, vlen) < 0)
            return -1;
    } else if (tar_pax_key_has_prefix(key, klen, "GNU.sparse.")) {
        return pax_sparse(p, key, klen, val, vlen);
    } else if (tar_pax_key_has_prefix(key, klen, "SCHILY.xattr.")) {
        return pax_xattr(p, key, klen, val, vlen);
    }
    if (bit == 0)
        return 0;   /* unknown keys are ignored, as POSIX asks */
    if (vlen == 0 && (bit & (PAX_SIZE | PAX_MTIME | PAX_UID | PAX_GID))) {
        /* POSIX deletes the field, as bsdtar does, but Python reads 0
         * (a size of 0 moves the next header) and GNU tar refuses it.  In
         * an 'x' it is refused at the entry unless a later 'x' replaces
         * this one for all but Python (then it is Python's 0, compared) */
        if (global)
            return pax_bad_value(p, key, klen, val, vlen, EMPTY_NUMBER);
        p->x_empty_nums |= bit;
        a->have &= ~bit;
        return 0;
    }
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
        if (!tar_pax_time(val, vlen, &a->mtime, &a->mtime_nsec))
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
        why = tar_pax_record(data + pos, p->ext_len - pos, TAR_EXT_MAX,
                             &reclen, &key, &klen, &val, &vlen);
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
    case '7': case 'S': return TAR_REG;
    case '1': return TAR_HARDLINK;
    case '2': return TAR_SYMLINK;
    case '3': return TAR_CHR;
    case '4': return TAR_BLK;
    case '5': case 'D': return TAR_DIR;
    case '6': return TAR_FIFO;
    default: return TAR_OTHER;
    }
}

/* Names: sparse name beats pax beats GNU long names beats the header. */
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
    if (p->sp_keys & SP_NAME) {
        e->path = p->sp_name.s;
        e->path_len = p->sp_name.len;
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
    uint64_t mode, major = 0, minor = 0;
    int64_t mtime;
    char shown[64];
    const char *why;
    if (header_number(p, H_MODE, 8, "mode", NUM_MAX, &mode) < 0 ||
        header_number(p, H_UID, 8, "uid", NUM_MAX, &e->uid) < 0 ||
        header_number(p, H_GID, 8, "gid", NUM_MAX, &e->gid) < 0 ||
        header_number(p, H_SIZE, 12, "size", NUM_MAX, &e->size) < 0)
        return -1;
    /* pre-1970 times: GNU tar writes them in negative base-256 */
    why = tar_number_field(p->block + H_MTIME, 12, true, &mtime);
    if (why)
        return fail(p, RZ_E_TAR_NUMBER, p->hdr_offset, e->path, e->path_len,
                    "mtime field \"%s\" %s",
                    show(p->block + H_MTIME, 12, shown, sizeof shown), why);
    /* other types often leave these blank or filled with junk */
    if (e->type == TAR_CHR || e->type == TAR_BLK) {
        if (header_number(p, H_DEVMAJOR, 8, "devmajor", UINT32_MAX, &major) < 0 ||
            header_number(p, H_DEVMINOR, 8, "devminor", UINT32_MAX, &minor) < 0)
            return -1;
    }
    e->mode = (uint32_t)(mode & 07777);
    e->mtime = mtime;
    e->devmajor = (uint32_t)major;
    e->devminor = (uint32_t)minor;
    return 0;
}

/*
 * Each attribute from this entry's (last) pax header, else the header: the
 * reading of GNU tar, bsdtar and Go.  Global values are not applied:
 * entry_ambiguity refuses the entry unless they equal what this gives
 * (bsdtar ignores global headers, GNU tar and Python apply them).
 */
static void entry_overrides(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    const struct tar_pax *x = &p->pax;
    if (x->have & PAX_MTIME) {
        e->mtime = x->mtime;
        e->mtime_nsec = x->mtime_nsec;
    }
    if (x->have & PAX_SIZE)
        e->size = x->size;
    if (x->have & PAX_UID)
        e->uid = x->uid;
    if (x->have & PAX_GID)
        e->gid = x->gid;
    if (x->have & PAX_UNAME)
        e->uname = x->uname.s;
    if (x->have & PAX_GNAME)
        e->gname = x->gname.s;
}

static bool text_is(const struct tar_text *t, const char *s, size_t n)
{
    return t->len == n && memcmp(t->s, s, n) == 0;
}

/*
 * The PAX_* bits among `bits` whose value in `a` differs from the entry's
 * reading (a bit `a` lacks counts as differing: the key was deleted).
 */
static unsigned pax_differs(const struct tar_pax *a, const struct tar_entry *e,
                            unsigned bits)
{
    unsigned d;
    if (e->type != TAR_SYMLINK && e->type != TAR_HARDLINK)
        bits &= ~(unsigned)PAX_LINKPATH;    /* nobody reads it there */
    d = bits & ~a->have;
    if ((bits & a->have & PAX_PATH) && !text_is(&a->path, e->path, e->path_len))
        d |= PAX_PATH;
    if ((bits & a->have & PAX_LINKPATH)
        && !text_is(&a->linkpath, e->linkpath, e->linkpath_len))
        d |= PAX_LINKPATH;
    if ((bits & a->have & PAX_SIZE) && a->size != e->size)
        d |= PAX_SIZE;
    if ((bits & a->have & PAX_MTIME)
        && (a->mtime != e->mtime || a->mtime_nsec != e->mtime_nsec))
        d |= PAX_MTIME;
    if ((bits & a->have & PAX_UID) && a->uid != e->uid)
        d |= PAX_UID;
    if ((bits & a->have & PAX_GID) && a->gid != e->gid)
        d |= PAX_GID;
    if ((bits & a->have & PAX_UNAME) && strcmp(a->uname.s, e->uname) != 0)
        d |= PAX_UNAME;
    if ((bits & a->have & PAX_GNAME) && strcmp(a->gname.s, e->gname) != 0)
        d |= PAX_GNAME;
    return d;
}

static const char *pax_bit_name(unsigned bit)
{
    switch (bit) {
    case PAX_SIZE: return "size";
    case PAX_MTIME: return "mtime";
    case PAX_UID: return "uid";
    case PAX_GID: return "gid";
    case PAX_PATH: return "path";
    case PAX_LINKPATH: return "linkpath";
    case PAX_UNAME: return "uname";
    default: return "gname";
    }
}

static bool ends_in_slash(const char *s, size_t n)
{
    return n > 0 && s[n - 1] == '/';
}

static bool same_text(const struct tar_text *a, const struct tar_text *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* A prefix of slashes only: Python's "//name" loses them when it
 * extracts, so it agrees with the readers that ignore the field. */
static bool only_slashes(const uint8_t *f, size_t n)
{
    size_t len = strnlen((const char *)f, n);
    for (size_t i = 0; i < len; i++)
        if (f[i] != '/')
            return false;
    return true;
}

static bool header_only(enum tar_type t)
{
    return t == TAR_HARDLINK || t == TAR_SYMLINK || t == TAR_CHR
           || t == TAR_BLK || t == TAR_DIR || t == TAR_FIFO;
}

/* GNU.sparse.name equals the name the entry has without it. */
static bool sparse_name_is_moot(const struct tar_parser *p)
{
    if (p->pax.have & PAX_PATH)
        return same_text(&p->sp_name, &p->pax.path);
    if (p->have_long_name)
        return same_text(&p->sp_name, &p->long_name);
    return text_is(&p->sp_name, p->name_buf, strlen(p->name_buf));
}

/*
 * The cases where mature readers split (README "Ambiguity").  Runs once
 * the entry's names and numbers are known, before anything is delivered.
 */
static int entry_ambiguity(struct tar_parser *p, enum header_format fmt,
                           char tf)
{
    const struct tar_entry *e = &p->entry;
    const struct tar_pax *x = &p->pax;
    const uint8_t *b = p->block;
    uint64_t off = p->hdr_offset;
    bool is_link = e->type == TAR_SYMLINK || e->type == TAR_HARDLINK;
    if (p->x_empty_nums) {
        unsigned bit = p->x_empty_nums & -p->x_empty_nums;
        return fail(p, RZ_E_TAR_PAX, p->x_offset, e->path, e->path_len,
                    "pax %s \"\" is not " EMPTY_NUMBER, pax_bit_name(bit));
    }
    /* several 'x' headers: Python applies the earlier ones over the last,
     * the others read only the last (which `e` now holds): fine when every
     * key an earlier one sets has the value the entry has anyway */
    if (p->have_early
        && (p->sp_keys || tf == 'S'     /* Python's size would be stored */
            || pax_differs(&p->pax_early, e, p->pax_early.have))) {
        char more[96];
        snprintf(more, sizeof more, " (at byte %" PRIu64 " and byte %" PRIu64
                 ")", p->early_offset, p->x_offset);
        return ambiguous(p, p->x_offset, e->path, e->path_len,
                         "two pax extended headers in a row", more);
    }
    /* a global value GNU tar and Python apply and bsdtar ignores: fine
     * when the entry's own pax header sets the key (all take that) or the
     * entry has that value anyway */
    {
        unsigned d = pax_differs(&p->glob, e, p->glob_keys & ~x->have);
        if (d) {
            char what[64];
            snprintf(what, sizeof what, "global header sets %s",
                     pax_bit_name(d & -d));
            return ambiguous(p, off, e->path, e->path_len, what, NULL);
        }
    }
    /* a pax header before the long name wins for every reader; after it,
     * bsdtar and Python keep the long name, GNU tar takes pax (path or
     * GNU.sparse.name alike) */
    if (p->have_long_name && p->x_offset > p->long_name_offset
        && (((x->have & PAX_PATH) && !same_text(&x->path, &p->long_name))
            || ((p->sp_keys & SP_NAME)
                && !same_text(&p->sp_name, &p->long_name))))
        return ambiguous(p, off, e->path, e->path_len,
                         "GNU long name and pax path disagree", NULL);
    /* both in one header: GNU tar, bsdtar and Go take GNU.sparse.name,
     * Python the later record (GNU tar's own 0.1 format with a long name
     * writes path last, which Python reads as GNUSparseFile.N/...) */
    if ((x->have & PAX_PATH) && (p->sp_keys & SP_NAME)
        && p->x_path_rec > p->x_spname_rec
        && !same_text(&x->path, &p->sp_name))
        return ambiguous(p, off, e->path, e->path_len,
                         "GNU.sparse.name and pax path disagree", NULL);
    /* link targets matter to links only: GNU tar and Python ignore them
     * on other entries (and bsdtar lists the same plain file) */
    if (is_link && p->long_link_split)
        return ambiguous(p, p->long_link_split_offset, e->path, e->path_len,
                         "two GNU long link names in a row", NULL);
    if (is_link && p->have_long_link && (x->have & PAX_LINKPATH)
        && p->x_offset > p->long_link_offset
        && (x->linkpath.len != p->long_link.len
            || memcmp(x->linkpath.s, p->long_link.s, x->linkpath.len) != 0))
        return ambiguous(p, off, e->path, e->path_len,
                         "GNU long link and pax linkpath disagree", NULL);
    /* Python prepends the prefix field whatever the magic; GNU tar and
     * bsdtar only with "ustar\0" (old GNU keeps atime there; sparse
     * headers their map, which Python knows) */
    if (fmt != FMT_USTAR && b[H_PREFIX] != 0 && tf != 'S'
        && e->path == p->name_buf   /* a long or pax name replaces it */
        && !only_slashes(b + H_PREFIX, 155))
        return ambiguous(p, off, e->path, e->path_len,
                         "ustar magic with a bad version and a prefix",
                         " (only \"ustar\\0\" headers have a prefix field;"
                         " readers disagree on this one)");
    if (p->glob_link && (e->type == TAR_SYMLINK || e->type == TAR_HARDLINK)) {
        char more[80];
        snprintf(more, sizeof more, " (at byte %" PRIu64 ")",
                 p->glob_link_offset);
        return ambiguous(p, off, e->path, e->path_len,
                         "global header sets linkpath", more);
    }
    if (p->acl_pending && (e->type != TAR_REG || p->acl_name.len != e->path_len
                           || memcmp(p->acl_name.s, e->path, e->path_len)))
        return acl_ambiguous(p, p->acl_offset);
    /* a real size means nothing to a non-regular entry: all ignore it
     * (a 0.x GNU.sparse.size bsdtar refuses there: "Non-regular file
     * cannot be sparse"); nor does a GNU.sparse.name that is the entry's
     * name anyway */
    {
        unsigned bad = p->sp_keys & ~(unsigned)(SP_IGNORED | SP_REALSIZE);
        if ((bad & SP_NAME) && sparse_name_is_moot(p))
            bad &= ~(unsigned)SP_NAME;
        if (bad && e->type != TAR_REG)
            return ambiguous(p, off, e->path, e->path_len,
                             "GNU.sparse keys on a non-regular entry", NULL);
        /* Go takes GNU.sparse.name only with a sparse version or map;
         * GNU tar, bsdtar and Python take it alone too */
        if ((bad & SP_NAME) && !(p->sp_keys & (SP_MAJOR | SP_MINOR | SP_MAP
                                                | SP_OFFSET | SP_NUMBYTES)))
            return ambiguous(p, off, e->path, e->path_len,
                             "GNU.sparse.name without a sparse map",
                             " (Go keeps the header's name, the others take"
                             " it)");
    }
    if (tf == 'S' && fmt != FMT_GNU)
        return ambiguous(p, off, e->path, e->path_len,
                         "GNU sparse 'S' header without the GNU magic",
                         " (its map overlaps the ustar prefix field)");
    if ((tf == 'S' || ((p->sp_keys & SP_MAKES_SPARSE) && e->type == TAR_REG))
        && ends_in_slash(e->path, e->path_len))
        return ambiguous(p, off, e->path, e->path_len,
                         "GNU sparse entry whose name ends in '/'",
                         " (GNU tar and bsdtar make a directory, Python and"
                         " Go a file)");
    if (header_only(e->type) && tf != 'D' && (x->have & PAX_SIZE)
        && x->size > 0)
        return ambiguous(p, off, e->path, e->path_len,
                         "pax size on a header-only entry",
                         " (a link, device, FIFO or directory: some readers"
                         " skip that much data, others read a header next)");
    /* '\0' + '/' is a directory to all (the v7 way); not '0' or '7' */
    if ((tf == '0' || tf == '7') && ends_in_slash(e->path, e->path_len))
        return ambiguous(p, off, e->path, e->path_len,
                         "regular-file type on a name ending in '/'",
                         " (GNU tar and bsdtar make a directory, Python and"
                         " Go a file)");
    return 0;
}

/* After data or extension bytes: skip the padding, then the next header. */
static void to_padding(struct tar_parser *p)
{
    p->state = p->padding ? TS_PADDING : TS_HEADER;
}

/* Forget what the extension headers said: they belonged to this member. */
static void reset_pending(struct tar_parser *p)
{
    p->pax.have = 0;
    p->have_long_name = p->have_long_link = false;
    p->have_x = false;
    p->have_early = false;
    p->pax_early.have = 0;
    p->long_link_split = false;
    p->x_empty_nums = 0;
    p->x_keys = 0;
    p->x_path_rec = p->x_spname_rec = 0;
    p->ext_pending = false;
    p->ext_total = 0;
    p->ext_padding = false;
    p->sp_keys = 0;
    p->sp_why = NULL;
    p->sp_realsize = p->sp_size = p->sp_numblocks = 0;
    p->sp_major = p->sp_minor = 0;
    tar_sparse_reset(&p->map);
    p->xattr_n = 0;
    p->xattr_bytes.len = 0;
    p->acl_pending = false;
}

static int end_member(struct tar_parser *p)
{
    if (p->data_mode == DM_SILENT) {
        /* not an entry: whatever headers came before still apply next */
        to_padding(p);
        return 0;
    }
    if (p->cb->entry_end(p->ctx) < 0)
        return callback_failed(p);
    reset_pending(p);
    to_padding(p);
    return 0;
}

static int deliver_hole(struct tar_parser *p, uint64_t len)
{
    static const uint8_t zeros[4096];
    if (p->cb->entry_hole)
        return p->cb->entry_hole(p->ctx, len) < 0 ? callback_failed(p) : 0;
    while (len > 0) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        if (p->cb->entry_data(p->ctx, zeros, n) < 0)
            return callback_failed(p);
        len -= n;
    }
    return 0;
}

/*
 * Sparse delivery: move on past empty chunks, delivering the holes before
 * them, until a chunk with bytes to come or the end of the map (then the
 * final hole and entry_end).  Eager, so the events do not depend on where
 * the input was split.
 */
static int sparse_advance(struct tar_parser *p)
{
    while (p->sp_left == 0) {
        uint64_t to = p->sp_chunk < p->map.n ? p->map.v[p->sp_chunk].offset
                                             : p->entry.size;
        if (to > p->sp_pos && deliver_hole(p, to - p->sp_pos) < 0)
            return -1;
        p->sp_pos = to;
        if (p->sp_chunk >= p->map.n) {
            if (p->remaining)   /* tar_sparse_check rules this out */
                return sparse_fail(p, "the map does not cover the data");
            return end_member(p);
        }
        p->sp_left = p->map.v[p->sp_chunk++].len;
    }
    return 0;
}

static int begin_member_data(struct tar_parser *p, uint64_t stored, int mode)
{
    p->data_mode = mode;
    p->remaining = stored;
    p->padding = padding_of(stored);
    p->state = TS_DATA;
    if (mode == DM_MAP)
        return 0;   /* entry_begin once the map is read */
    if (mode != DM_SILENT && p->cb->entry_begin(p->ctx, &p->entry) < 0)
        return callback_failed(p);
    if (mode == DM_SPARSE) {
        p->sp_chunk = 0;
        p->sp_left = 0;
        p->sp_pos = 0;
        return sparse_advance(p);
    }
    return p->remaining ? 0 : end_member(p);
}

static int sparse_fail(struct tar_parser *p, const char *why)
{
    if (why == tar_sparse_nomem)
        return fail(p, RZ_E_NOMEM, p->member_offset, p->entry.path,
                    p->entry.path_len, "%s", why);
    return fail(p, RZ_E_TAR_SPARSE, p->member_offset, p->entry.path,
                p->entry.path_len, "%s", why);
}

/* The map is complete (old GNU, pax 0.x): check it, then the data. */
static int sparse_ready(struct tar_parser *p)
{
    const char *why = tar_sparse_check(&p->map, p->entry.size,
                                       p->entry.stored);
    if (why)
        return sparse_fail(p, why);
    return begin_member_data(p, p->entry.stored, DM_SPARSE);
}

/*
 * Old GNU sparse: `count` map entries of 24 bytes at `at` in the block,
 * whose isextended flag is at `ext`.  Returns 1 once an empty entry ended
 * the map.  GNU tar stops at an empty entry, extension blocks included;
 * Python reads on: entries or extension blocks after one are ambiguous.
 */
static int old_sparse_entries(struct tar_parser *p, size_t at, int count,
                              size_t ext)
{
    for (int i = 0; i < count; i++, at += 24) {
        uint64_t off, len;
        const char *why;
        if (p->block[at + 12] == 0) {
            for (size_t j = at; j <= ext; j++)
                if (p->block[j] != 0)
                    return ambiguous(p, p->hdr_offset, p->entry.path,
                                     p->entry.path_len, "old GNU sparse map"
                                     " goes on after an empty entry", NULL);
            return 1;
        }
        if ((why = parse_number(p->block + at, 12, &off)) != NULL
            || (why = parse_number(p->block + at + 12, 12, &len)) != NULL)
            return sparse_fail(p, "a map entry is not an octal number");
        why = tar_sparse_add(&p->map, off, len);
        if (why)
            return sparse_fail(p, why);
    }
    return 0;
}

/* Pax sparse: which version, and is everything it needs there? */
static int pax_sparse_setup(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    unsigned k = p->sp_keys;
    if (p->sp_why)
        return sparse_fail(p, p->sp_why);
    if (k & SP_WANT_BYTES)
        return sparse_fail(p, "GNU.sparse.offset without its numbytes");
    e->sparse = true;
    e->stored = e->size;
    if (k & (SP_MAJOR | SP_MINOR)) {
        if (p->sp_major != 1 || p->sp_minor != 0)
            return sparse_fail(p, "unknown GNU sparse version (known: 0.0,"
                                  " 0.1, 1.0)");
        if (!(k & SP_REALSIZE) || (k & (SP_MAP | SP_OFFSET | SP_NUMBYTES)))
            return sparse_fail(p, "GNU sparse 1.0 needs GNU.sparse.realsize"
                                  " and its map in the data");
        e->size = p->sp_realsize;
        return begin_member_data(p, e->stored, DM_MAP);
    }
    if (!(k & SP_SIZE) || !(k & (SP_MAP | SP_OFFSET | SP_NUMBLOCKS)))
        return sparse_fail(p, "incomplete GNU sparse records (0.x needs"
                              " GNU.sparse.size and a map)");
    if ((k & SP_NUMBLOCKS) && p->sp_numblocks != p->map.n)
        return sparse_fail(p, "GNU.sparse.numblocks does not match the map");
    e->size = p->sp_size;
    return sparse_ready(p);
}

static int acl_ambiguous(struct tar_parser *p, uint64_t off)
{
    return ambiguous(p, off, p->acl_name.s, p->acl_name.len,
                     "Solaris ACL header not followed by its file",
                     " (GNU tar and Python extract it as a file, bsdtar"
                     " applies it to the next entry)");
}

/* A GNU volume label or a Solaris ACL: not an entry. */
static int metadata_member(struct tar_parser *p, char tf)
{
    uint64_t size;
    char msg[160];
    p->entry.path = NULL;
    p->entry.path_len = 0;
    if (header_number(p, H_SIZE, 12, "size", NUM_MAX, &size) < 0)
        return -1;
    if (tf == 'A') {
        /* GNU tar and Python extract it as a file of its name, bsdtar
         * applies it to the next entry: harmless only when that entry is
         * the file of the same name, which replaces it */
        char name[101];
        size_t n = header_string(p->block + H_NAME, 100, name);
        if (p->acl_pending)
            return acl_ambiguous(p, p->acl_offset);
        if (text_set(p, &p->acl_name, name, n) < 0)
            return -1;
        p->acl_pending = true;
        p->acl_offset = p->hdr_offset;
        if (p->warn) {
            snprintf(msg, sizeof msg, "skipping a Solaris ACL header at byte %"
                     PRIu64 " (ACLs are not restored)", p->hdr_offset);
            p->warn(p->warn_ctx, msg);
        }
    }
    return begin_member_data(p, size, DM_SILENT);
}

static void entry_xattrs(struct tar_parser *p)
{
    for (size_t i = 0; i < p->xattr_n; i++) {
        const struct tar_xattr_pos *x = &p->xattr_pos[i];
        p->xattrs[i] = (struct tar_xattr){p->xattr_bytes.s + x->name,
                                          (const uint8_t *)p->xattr_bytes.s
                                              + x->value, x->value_len};
    }
    p->entry.xattrs = p->xattr_n ? p->xattrs : NULL;
    p->entry.xattr_count = p->xattr_n;
}

static int begin_member(struct tar_parser *p)
{
    struct tar_entry *e = &p->entry;
    enum header_format fmt = header_format(p->block);
    char tf = (char)p->block[H_TYPEFLAG];
    if (tf == 'V' || tf == 'A')
        return metadata_member(p, tf);
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
    entry_xattrs(p);
    if (entry_ambiguity(p, fmt, tf) < 0)
        return -1;
    e->stored = e->size;
    if (header_only(e->type)) {
        /* POSIX: no data; GNU dumpdirs carry a list of names, skipped */
        e->size = 0;
        return begin_member_data(p, tf == 'D' ? e->stored : 0, DM_SKIP);
    }
    if (e->type == TAR_OTHER)
        return begin_member_data(p, e->stored, DM_SKIP);
    /* a lone real size equal to the stored size: a plain file to all */
    if ((p->sp_keys & SP_MAKES_SPARSE)
        && !((p->sp_keys & SP_MAKES_SPARSE) == SP_REALSIZE && !p->sp_why
             && p->sp_realsize == e->size))
        return pax_sparse_setup(p);
    if (tf == 'S') {
        uint64_t realsize;
        int rc;
        if (header_number(p, H_GNU_REALSIZE, 12, "realsize", NUM_MAX,
                          &realsize) < 0)
            return -1;
        e->sparse = true;
        e->size = realsize;
        rc = old_sparse_entries(p, H_GNU_SPARSE, 4, H_GNU_ISEXTENDED);
        if (rc < 0)
            return -1;
        if (p->block[H_GNU_ISEXTENDED]) {
            p->state = TS_SPARSE;   /* the map goes on in extra blocks */
            return 0;
        }
        return sparse_ready(p);
    }
    return begin_member_data(p, e->stored, DM_DELIVER);
}

/* A GNU sparse extension block. */
static int sparse_block(struct tar_parser *p)
{
    int rc = old_sparse_entries(p, 0, 21, H_SPARSE_ISEXTENDED);
    if (rc < 0)
        return -1;
    if (p->block[H_SPARSE_ISEXTENDED])
        return 0;
    return sparse_ready(p);
}

/* A second 'L' (or 'K') for one entry: Python takes the first, GNU tar
 * the last; the same value twice is what they agree on. */
static int long_repeated(struct tar_parser *p, bool have,
                         const struct tar_text *old, size_t n,
                         const char *what)
{
    if (!have || (old->len == n && memcmp(old->s, p->ext, n) == 0))
        return 0;
    return ambiguous(p, p->ext_offset, old->s, old->len, what, NULL);
}

static int ext_done(struct tar_parser *p)
{
    size_t n;
    if (ext_reserve(p, 0) < 0)  /* an empty header may have no buffer yet */
        return -1;
    p->ext[p->ext_len] = '\0';
    p->ext_padding = true;
    /* a name with its NUL inside the size reads the same everywhere */
    p->pad_check = p->padding > 0
                   && ((p->ext_type != 'L' && p->ext_type != 'K')
                       || !memchr(p->ext, '\0', p->ext_len));
    to_padding(p);
    switch (p->ext_type) {
    case 'x': return pax_parse(p, &p->pax, false);
    case 'g': return pax_parse(p, &p->glob, true);
    case 'L':
        /* GNU writes the name NUL-terminated; anything after is ignored */
        n = strnlen((const char *)p->ext, p->ext_len);
        if (long_repeated(p, p->have_long_name, &p->long_name, n,
                          "two GNU long names in a row") < 0)
            return -1;
        p->have_long_name = true;
        p->long_name_offset = p->ext_offset;
        return text_set(p, &p->long_name, (const char *)p->ext, n);
    default:
        n = strnlen((const char *)p->ext, p->ext_len);
        /* Python takes the first, GNU tar the last: that matters only to
         * a link, checked once the entry's type is known */
        if (p->have_long_link && !text_is(&p->long_link, (const char *)p->ext,
                                          n)) {
            p->long_link_split = true;
            p->long_link_split_offset = p->ext_offset;
        }
        p->have_long_link = true;
        p->long_link_offset = p->ext_offset;
        return text_set(p, &p->long_link, (const char *)p->ext, n);
    }
}

/* Copy one text attribute into the earlier headers' set, first winning. */
static int early_text(struct tar_parser *p, unsigned bit, struct tar_text *to,
                      const struct tar_text *from)
{
    if (!(p->pax.have & bit) || (p->pax_early.have & bit))
        return 0;
    return text_set(p, to, from->s, from->len);
}

/*
 * Another 'x' for the same entry, after one that set keys.  GNU tar,
 * bsdtar and Go read only the last one; Python applies them all, the
 * first winning where two set a key.  What the finished one set is kept
 * aside, first winning, and `pax` starts again for the new one;
 * entry_ambiguity compares the two readings.
 */
static int early_keep(struct tar_parser *p)
{
    struct tar_pax *a = &p->pax_early, *x = &p->pax;
    unsigned fresh = x->have & ~a->have;
    if (!p->have_early)
        p->early_offset = p->x_offset;
    p->have_early = true;
    /* a deleted text key: Python reads "" (numbers cannot be empty) */
    for (unsigned bit = PAX_PATH; bit <= PAX_GNAME; bit <<= 1) {
        struct tar_text *t = bit == PAX_PATH ? &x->path
                             : bit == PAX_LINKPATH ? &x->linkpath
                             : bit == PAX_UNAME ? &x->uname : &x->gname;
        if ((p->x_keys & bit) && !(x->have & bit)) {
            if (text_set(p, t, "", 0) < 0)
                return -1;
            x->have |= bit;
        }
    }
    /* xattrs: Python does not restore them, the others read the last
     * header's only: so do we (GNU.sparse keys are refused at the entry) */
    p->xattr_n = 0;
    p->xattr_bytes.len = 0;
    if (early_text(p, PAX_PATH, &a->path, &x->path) < 0
        || early_text(p, PAX_LINKPATH, &a->linkpath, &x->linkpath) < 0
        || early_text(p, PAX_UNAME, &a->uname, &x->uname) < 0
        || early_text(p, PAX_GNAME, &a->gname, &x->gname) < 0)
        return -1;
    /* an empty number: 0 to Python (the others never see this header) */
    fresh |= p->x_empty_nums & ~a->have;
    if (p->x_empty_nums & fresh & PAX_SIZE)
        x->size = 0;
    if (p->x_empty_nums & fresh & PAX_MTIME)
        x->mtime = x->mtime_nsec = 0;
    if (p->x_empty_nums & fresh & PAX_UID)
        x->uid = 0;
    if (p->x_empty_nums & fresh & PAX_GID)
        x->gid = 0;
    p->x_empty_nums = 0;
    if (fresh & PAX_SIZE)
        a->size = x->size;
    if (fresh & PAX_MTIME) {
        a->mtime = x->mtime;
        a->mtime_nsec = x->mtime_nsec;
    }
    if (fresh & PAX_UID)
        a->uid = x->uid;
    if (fresh & PAX_GID)
        a->gid = x->gid;
    a->have |= fresh;
    x->have = 0;
    return 0;
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
    if (tf == 'x' && p->have_x && p->x_keys != 0 && early_keep(p) < 0)
        return -1;
    if (tf == 'x') {
        p->have_x = true;
        p->x_offset = p->hdr_offset;
        p->x_records = 0;
        p->x_keys = 0;
        p->x_path_rec = p->x_spname_rec = 0;
    }
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
    if (p->acl_pending)
        return acl_ambiguous(p, p->acl_offset);
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
    if (p->flags & TAR_PARSER_IGNORE_ZEROS) {
        p->ended = true;    /* for now: a later header resets it */
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
    if (p->zero_blocks && !(p->flags & TAR_PARSER_IGNORE_ZEROS))
        /* GNU tar stops at a lone zero block and ignores what follows; we
         * refuse to extract half an archive silently */
        return fail(p, RZ_E_TAR_CHECKSUM, p->zero_offset, NULL, 0,
                    "lone zero block (stored checksum empty, computed 0o400)"
                    " followed by a non-zero block at byte %" PRIu64
                    "; end of archive needs two zero blocks (-i reads"
                    " past zero blocks)", p->hdr_offset);
    p->zero_blocks = 0;
    p->ended = false;
    if (verify_checksum(p) < 0)
        return -1;
    if (!p->ext_pending)
        p->member_offset = p->hdr_offset;
    tf = (char)p->block[H_TYPEFLAG];
    if (tf == 'X')
        tf = 'x';   /* Solaris extended header: pax 'x' under another name */
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

/* The pax 1.0 map at the start of the data, then its block padding. */
static int step_map(struct tar_parser *p, const uint8_t *buf, size_t len,
                    size_t *used)
{
    const char *why;
    size_t n = len < p->remaining ? len : (size_t)p->remaining;
    int rc = tar_sparse_text(&p->map, buf, n, used, &why);
    p->remaining -= *used;
    if (rc < 0)
        return sparse_fail(p, why);
    if (rc == 0) {
        if (p->remaining == 0)
            return sparse_fail(p, "the data ends inside the sparse map");
        return 0;
    }
    /* the map is padded to a block; the file's chunks follow */
    uint64_t pad = padding_of(p->map.text_bytes);
    if (pad > p->remaining)
        return sparse_fail(p, "the data ends inside the sparse map");
    p->map_pad = pad;
    p->remaining -= pad;
    p->entry.stored = p->remaining;
    why = tar_sparse_check(&p->map, p->entry.size, p->remaining);
    if (why)
        return sparse_fail(p, why);
    p->data_mode = DM_SPARSE;
    p->sp_chunk = 0;
    p->sp_left = 0;
    p->sp_pos = 0;
    if (p->cb->entry_begin(p->ctx, &p->entry) < 0)
        return callback_failed(p);
    return p->map_pad ? 0 : sparse_advance(p);  /* else skipped first */
}

static int step_sparse(struct tar_parser *p, const uint8_t *buf, size_t len,
                       size_t *used)
{
    size_t n;
    if (p->map_pad) {
        n = len < p->map_pad ? len : (size_t)p->map_pad;
        p->map_pad -= n;
        *used = n;
        return p->map_pad ? 0 : sparse_advance(p);
    }
    n = len < p->sp_left ? len : (size_t)p->sp_left;
    *used = n;
    p->remaining -= n;
    p->sp_left -= n;
    p->sp_pos += n;
    if (p->cb->entry_data(p->ctx, buf, n) < 0)
        return callback_failed(p);
    return sparse_advance(p);
}

static int step_data(struct tar_parser *p, const uint8_t *buf, size_t len,
                     size_t *used)
{
    size_t n;
    if (p->data_mode == DM_MAP)
        return step_map(p, buf, len, used);
    if (p->data_mode == DM_SPARSE)
        return step_sparse(p, buf, len, used);
    n = len < p->remaining ? len : (size_t)p->remaining;
    *used = n;
    p->remaining -= n;
    if (p->data_mode == DM_DELIVER && p->cb->entry_data(p->ctx, buf, n) < 0)
        return callback_failed(p);
    return p->remaining ? 0 : end_member(p);
}

/*
 * The first padding byte after extension data: GNU tar and Python read a
 * long name on to the first NUL of the padded blocks, and Python parses
 * pax records on into the padding; bsdtar (and we) stop at the size.  A
 * NUL there makes them agree.  (Not any other byte after pax data: where
 * Python 3.11.7 stops at a byte no record starts with, Debian's 3.11.2,
 * with the newer record parser, takes the header as invalid and silently
 * ends the archive there.)
 */
static int check_ext_padding(struct tar_parser *p, uint8_t first)
{
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    p->pad_check = false;
    if (first == 0)
        return 0;
    return ambiguous(p, p->ext_offset, name, nlen,
                     p->ext_type == 'L' ? "GNU long name runs past its size"
                     : p->ext_type == 'K' ? "GNU long link runs past its size"
                     : "pax header data runs past its size",
                     " (the padding after it is not zero: some readers read"
                     " on into it)");
}

static int step_padding(struct tar_parser *p, const uint8_t *buf, size_t len,
                        size_t *used)
{
    size_t n = len < p->padding ? len : (size_t)p->padding;
    if (p->pad_check && check_ext_padding(p, buf[0]) < 0)
        return -1;
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
        case TS_PADDING: rc = step_padding(p, buf, len, &used); break;
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

/* Input ended between members without (both) end-of-archive blocks. */
static int finish_at_boundary(struct tar_parser *p)
{
    size_t nlen;
    const char *name = pending_name(p, &nlen);
    char msg[256];
    if (p->acl_pending)
        return acl_ambiguous(p, p->acl_offset);
    if (p->ext_pending)
        return fail(p, RZ_E_TAR_ORPHAN_EXT, p->ext_offset, name, nlen,
                    "the extension header at byte %" PRIu64 " is followed"
                    " by the end of input at byte %" PRIu64 ", not an entry",
                    p->ext_offset, p->offset);
    if (p->ended) {     /* -i: the last zero blocks were a full end */
        p->finished = true;
        return 0;
    }
    if (p->zero_blocks)
        snprintf(msg, sizeof msg, "only one zero block, at byte %" PRIu64
                 "; the end of archive needs two", p->zero_offset);
    else
        snprintf(msg, sizeof msg, "input ends at byte %" PRIu64 " right"
                 " after the last entry, without the two zero blocks",
                 p->offset);
    if (p->proven || (p->flags & TAR_PARSER_LENIENT_TRAILER)) {
        if (p->warn) {
            char w[400];
            snprintf(w, sizeof w, "%s; accepted, since %s", msg,
                     p->proven ? "the input was proven complete (compression"
                                 " trailer or Content-Length)"
                               : "--no-strict-trailer was given");
            p->warn(p->warn_ctx, w);
        }
        p->finished = true;
        return 0;
    }
    return fail(p, RZ_E_TAR_NO_EOA, p->zero_blocks ? p->zero_offset : p->offset,
                NULL, 0, "%s; the last entry ended cleanly, but on a plain"
                " pipe these blocks are the only proof that nothing is"
                " missing", msg);
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
        if (p->data_mode == DM_SILENT)
            return truncated(p, false, "data of a metadata header",
                             p->remaining);
        if (p->data_mode == DM_MAP)
            return truncated(p, false, "sparse map", p->remaining);
        return truncated(p, true, "data", p->remaining + p->map_pad);
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
    pax_free(&p->pax_early);
    text_free(&p->long_name);
    text_free(&p->long_link);
    text_free(&p->sp_name);
    text_free(&p->acl_name);
    text_free(&p->xattr_bytes);
    free(p->xattr_pos);
    free(p->xattrs);
    p->xattr_pos = NULL;
    p->xattrs = NULL;
    p->xattr_n = p->xattr_cap = 0;
    tar_sparse_free(&p->map);
}

void tar_parser_set_warn(struct tar_parser *p,
                         void (*warn)(void *ctx, const char *msg), void *ctx)
{
    p->warn = warn;
    p->warn_ctx = ctx;
}

void tar_parser_input_complete(struct tar_parser *p)
{
    p->proven = true;
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
