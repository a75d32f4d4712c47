/*
 * rz_error.c: the error table's accessors and formatting.
 *
 * rz_error_set keeps the first error: later failures are usually knock-on
 * effects of it (a parser stopping because the sink refused an entry), and
 * the user needs the root cause.
 */
#include "rz_error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct rz_code_info {
    const char *name;
    enum rz_exit exit;
    const char *message;
    const char *hint;
};

static const struct rz_code_info rz_codes[RZ_E__COUNT] = {
#define RZ_X(name, cls, msg, hint) {#name, RZ_EXIT_##cls, msg, hint},
    RZ_ERRORS(RZ_X)
#undef RZ_X
};

static const struct rz_code_info *info(enum rz_code c)
{
    if ((unsigned)c >= RZ_E__COUNT)
        c = RZ_E_INTERNAL;
    return &rz_codes[c];
}

const char *rz_code_name(enum rz_code c) { return info(c)->name; }
const char *rz_code_message(enum rz_code c) { return info(c)->message; }
const char *rz_code_hint(enum rz_code c) { return info(c)->hint; }
enum rz_exit rz_code_exit(enum rz_code c) { return info(c)->exit; }

void rz_error_clear(struct rz_error *e)
{
    memset(e, 0, sizeof *e);
}

int rz_error_set(struct rz_error *e, enum rz_code code, int sys_errno,
                 enum rz_offset_kind kind, uint64_t offset,
                 const char *entry, size_t entry_len, const char *fmt, ...)
{
    if (e->code != RZ_E_OK || code == RZ_E_OK)
        return -1;
    e->code = code;
    e->sys_errno = sys_errno;
    e->offset_kind = kind;
    e->offset = offset;
    e->entry[0] = '\0';
    e->detail[0] = '\0';
    if (entry)
        rz_escape(entry, entry_len, e->entry, sizeof e->entry);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->detail, sizeof e->detail, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int rz_error_downstream(struct rz_error *e, enum rz_offset_kind kind,
                        uint64_t offset, const char *who)
{
    return rz_error_set(e, RZ_E_INTERNAL, 0, kind, offset, NULL, 0,
                        "%s failed without recording an error", who);
}

void rz_error_adopt(struct rz_error *dst, const struct rz_error *src)
{
    if (dst->code == RZ_E_OK && src->code != RZ_E_OK)
        *dst = *src;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    size_t n;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { n = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { n = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { n = 4; cp = s[0] & 0x07; }
    else return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong, surrogate or out of range */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t rz_escape(const char *in, size_t len, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, i = 0;
    if (size == 0)
        return 0;
    while (i < len) {
        char tmp[8];
        size_t tn = 0, adv = 1, u = utf8_len(s + i, len - i);
        if (s[i] == '\\') { tmp[0] = '\\'; tmp[1] = '\\'; tn = 2; }
        else if (s[i] == '\n') { tmp[0] = '\\'; tmp[1] = 'n'; tn = 2; }
        else if (s[i] == '\t') { tmp[0] = '\\'; tmp[1] = 't'; tn = 2; }
        else if (s[i] < 0x20 || s[i] == 0x7f || u == 0) {
            tmp[0] = '\\'; tmp[1] = 'x';
            tmp[2] = hex[s[i] >> 4]; tmp[3] = hex[s[i] & 15]; tn = 4;
        } else if (u == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
            /* U+0080..U+009F: C1 controls (U+009B is CSI on terminals) */
            memcpy(tmp, "\\xc2\\x", 6);
            tmp[6] = hex[s[i + 1] >> 4]; tmp[7] = hex[s[i + 1] & 15];
            tn = 8; adv = 2;
        } else {
            memcpy(tmp, s + i, u); tn = u; adv = u;
        }
        if (o + tn + 4 > size) {      /* room for "..." and NUL */
            if (o + 4 <= size) { memcpy(out + o, "...", 3); o += 3; }
            break;
        }
        memcpy(out + o, tmp, tn);
        o += tn;
        i += adv;
    }
    out[o] = '\0';
    return o;
}

size_t rz_error_format(const struct rz_error *e, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return 0;
#define APPEND(...)                                                           \
    do {                                                                      \
        if (n < size) {                                                       \
            int r_ = snprintf(buf + n, size - n, __VA_ARGS__);                \
            if (r_ > 0) n += (size_t)r_;                                      \
        }                                                                     \
    } while (0)
    APPEND("%s", rz_code_message(e->code));
    if (e->detail[0])
        APPEND(": %s", e->detail);
    if (e->sys_errno)
        APPEND(" (%s)", strerror(e->sys_errno));
    if (e->entry[0])
        APPEND("\n  entry: %s", e->entry);
    if (e->offset_kind == RZ_OFF_ARCHIVE)
        APPEND("\n  at: byte %" PRIu64 " of the uncompressed archive", e->offset);
    else if (e->offset_kind == RZ_OFF_RAW)
        APPEND("\n  at: byte %" PRIu64 " of the download", e->offset);
    if (rz_code_hint(e->code)[0])
        APPEND("\n  what to do: %s", rz_code_hint(e->code));
#undef APPEND
    if (n >= size)
        n = size - 1;
    return n;
}
