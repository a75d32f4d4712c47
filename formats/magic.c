/*
 * magic.c: format detection by the first bytes (contract in magic.h).
 *
 * Why the order matters: a tar archive starts with a member name, which can
 * be any bytes.  Magics of 4+ bytes that no one puts at the start of a file
 * name (gzip's 1f 8b is binary, bzip2's is checked with its block magic
 * "1AY&SY" after the level digit) decide at once.  Everything weaker waits
 * for the first 512-byte block: if it is a tar header, it is a tar.
 */
#include "magic.h"

#include <stdio.h>
#include <string.h>

#define TAR_BLOCK 512

struct strong {
    enum decoder_kind kind;
    size_t len;
    uint8_t bytes[10];
    int level_at;  /* index of a bzip2 level digit '1'-'9' (wildcard), or -1 */
};

static const struct strong strongs[] = {
    {DECODER_GZIP, 2, {0x1f, 0x8b}, -1},
    {DECODER_XZ, 6, {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}, -1},
    {DECODER_ZSTD, 4, {0x28, 0xb5, 0x2f, 0xfd}, -1},
    {DECODER_LZ4, 4, {0x04, 0x22, 0x4d, 0x18}, -1},
    {DECODER_BZIP2, 10, {'B', 'Z', 'h', 0, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59}, 3},
    {DECODER_BZIP2, 10, {'B', 'Z', 'h', 0, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90}, 3},
};

#define N_STRONG (sizeof strongs / sizeof strongs[0])

/* How many leading bytes of p agree with m (up to its length). */
static size_t agree(const struct strong *m, const uint8_t *p, size_t n)
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

static bool is_skippable(const uint8_t *p, size_t n)
{
    return n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d
           && p[3] == 0x18;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

/* A tar header's stored checksum (octal, space/NUL padded), or -1. */
static long stored_checksum(const uint8_t *h)
{
    long v = 0;
    int i = 148, digits = 0;
    while (i < 156 && h[i] == ' ')
        i++;
    for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++, digits++)
        v = v * 8 + (h[i] - '0');
    if (digits == 0)
        return -1;
    for (; i < 156; i++)
        if (h[i] != ' ' && h[i] != 0)
            return -1;
    return v;
}

static bool is_tar_header(const uint8_t *h)
{
    if (memcmp(h + 257, "ustar", 5) == 0)
        return true;
    long usum = 0, ssum = 0;
    bool zero = true;
    for (int i = 0; i < TAR_BLOCK; i++) {
        uint8_t c = i >= 148 && i < 156 ? ' ' : h[i];
        usum += c;
        ssum += (int8_t)c;
        zero = zero && h[i] == 0;
    }
    if (zero)
        return true;        /* an empty archive: the parser decides */
    long s = stored_checksum(h);
    return s >= 0 && (s == usum || s == ssum);
}

/* Fewer than 512 bytes, input ended: could this be the start of a tar? */
static bool is_tar_prefix(const uint8_t *p, size_t n)
{
    if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
        return true;
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        zero = zero && p[i] == 0;
    if (zero)
        return true;
    if (p[0] < 0x20 || p[0] == 0x7f)
        return false;
    bool ended = false;      /* the name is NUL-padded */
    for (size_t i = 1; i < n && i < 100; i++) {
        if (ended && p[i] != 0)
            return false;
        if (p[i] == 0)
            ended = true;
        else if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
    }
    for (size_t i = 100; i < n && i < 108; i++)   /* the mode, octal */
        if (!(p[i] >= '0' && p[i] <= '7') && p[i] != ' ' && p[i] != 0)
            return false;
    return true;
}

/* lzma-alone header, as xz(1) accepts it ("picky" in liblzma's terms). */
static bool is_lzma_alone(const uint8_t *p, size_t n)
{
    if (n < 13 || p[0] >= 9 * 5 * 5)
        return false;
    uint32_t dict = le32(p + 1);
    if (dict != UINT32_MAX) {
        uint32_t d = dict - 1;
        d |= d >> 2;
        d |= d >> 3;
        d |= d >> 4;
        d |= d >> 8;
        d |= d >> 16;
        d++;
        if (d != dict)
            return false;
    }
    bool unknown = true;
    for (int i = 5; i < 13; i++)
        unknown = unknown && p[i] == 0xff;
    if (unknown)
        return true;
    /* a known size below 256 GiB (liblzma's picky limit) */
    return p[12] == 0 && p[11] == 0 && p[10] == 0 && (p[9] & 0xc0) == 0;
}

static bool prefix_nocase(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (n < l)
        return false;
    for (size_t i = 0; i < l; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (uint8_t)s[i])
            return false;
    }
    return true;
}

/* Skip a UTF-8 byte order mark and white space; returns the new start. */
static size_t text_start(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'
                     || p[i] == '\n'))
        i++;
    return i;
}

static bool is_html(const uint8_t *p, size_t n)
{
    static const char *const tags[] = {"<!doctype html", "<html", "<head",
                                       "<body", "<title", "<!--", "<meta",
                                       "<script", "<p>", "<h1"};
    size_t i = text_start(p, n);
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++)
        if (prefix_nocase(p + i, n - i, tags[t]))
            return true;
    return false;
}

static bool is_zip(const uint8_t *p, size_t n)
{
    return n >= 4 && p[0] == 'P' && p[1] == 'K'
           && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6)
               || (p[2] == 7 && p[3] == 8));
}

/* Formats we know by name but do not read. */
static const char *unsupported_name(const uint8_t *p, size_t n)
{
    if (n >= 6 && memcmp(p, "7z\xbc\xaf\x27\x1c", 6) == 0)
        return "a 7-Zip archive";
    if (n >= 6 && memcmp(p, "Rar!\x1a\x07", 6) == 0)
        return "a RAR archive";
    if (n >= 8 && memcmp(p, "!<arch>\n", 8) == 0)
        return "an ar archive (a .deb? its data.tar.* member is the tar)";
    if (n >= 4 && memcmp(p, "LZIP", 4) == 0)
        return "an lzip stream";
    if (n >= 4 && memcmp(p, "\x02\x21\x4c\x18", 4) == 0)
        return "an lz4 legacy-format stream (lz4 -l); recompress without -l";
    return NULL;
}

/* Decisions that need the first block (or the end of a short input). */
static enum decoder_kind classify_weak(const uint8_t *p, size_t n,
                                       bool whole_block, enum rz_code *why)
{
    if (!whole_block && is_html(p, n)) {
        *why = RZ_E_DECODE_HTML;   /* a short page: before the tar guess */
        return DECODER_REJECTED;
    }
    if (whole_block ? is_tar_header(p) : is_tar_prefix(p, n)) {
        /* A short input that is a tar prefix is a tar; but a short .Z or
         * .lzma is checked first below when it is not. */
        if (whole_block || !(n >= 3 && p[0] == 0x1f && p[1] == 0x9d))
            return DECODER_IDENTITY;
    }
    if (n >= 3 && p[0] == 0x1f && p[1] == 0x9d)
        return DECODER_COMPRESS;
    if (is_lzma_alone(p, n))
        return DECODER_LZMA;
    if (is_html(p, n))
        *why = RZ_E_DECODE_HTML;
    else if (is_zip(p, n))
        *why = RZ_E_DECODE_ZIP;
    else if (unsupported_name(p, n))
        *why = RZ_E_DECODE_UNSUPPORTED;
    else
        *why = RZ_E_DECODE_UNKNOWN;
    return DECODER_REJECTED;
}

enum decoder_kind magic_classify(const uint8_t *p, size_t n, bool at_end,
                                 bool after_skip, uint64_t *skip,
                                 enum rz_code *why)
{
    *why = RZ_E_OK;
    *skip = 0;
    if (n == 0) {
        if (!at_end)
            return DECODER_DETECTING;
        *why = after_skip ? RZ_E_DECODE_UNKNOWN : RZ_E_DECODE_EMPTY;
        return DECODER_REJECTED;
    }
    if (is_skippable(p, n)) {
        if (n < 8)
            goto more;
        *skip = 8 + (uint64_t)le32(p + 4);
        return DECODER_SKIPPING;
    }
    bool maybe = false;
    for (size_t i = 0; i < N_STRONG; i++) {
        size_t a = agree(&strongs[i], p, n);
        if (a == strongs[i].len) {
            if (after_skip && strongs[i].kind != DECODER_ZSTD
                && strongs[i].kind != DECODER_LZ4)
                break;
            return strongs[i].kind;
        }
        if (a == n)
            maybe = true;
    }
    if (n < 4 && (p[0] & 0xf0) == 0x50 && (n < 2 || p[1] == 0x2a)
        && (n < 3 || p[2] == 0x4d))
        maybe = true;   /* a skippable frame's magic, so far */
    if (after_skip) {
        if (maybe && !at_end)
            goto more;
        *why = RZ_E_DECODE_UNKNOWN;
        return DECODER_REJECTED;
    }
    if (n >= TAR_BLOCK)
        return classify_weak(p, n, true, why);
    if (at_end && maybe) {
        *why = RZ_E_DECODE_UNKNOWN;   /* a magic cut short: not a tar */
        return DECODER_REJECTED;
    }
    if (at_end)
        return classify_weak(p, n, false, why);
more:
    if (at_end) {
        *why = RZ_E_DECODE_UNKNOWN;
        return DECODER_REJECTED;
    }
    return DECODER_DETECTING;
}

size_t magic_describe(const uint8_t *p, size_t n, bool name_it, char *buf,
                      size_t size)
{
    const char *what = NULL;
    size_t t = text_start(p, n);
    if (n == 0)
        return (size_t)snprintf(buf, size, "the input ended before its first byte");
    if (is_html(p, n))
        what = "an HTML page";
    else if (is_zip(p, n))
        what = "a zip archive";
    else if ((what = unsupported_name(p, n)) != NULL)
        ;
    else if (prefix_nocase(p + t, n - t, "<?xml"))
        what = "an XML document (a server's error response?)";
    else if (t < n && (p[t] == '{' || p[t] == '['))
        what = "JSON text (an API error?)";
    else if (n >= 4 && memcmp(p, "\x7f" "ELF", 4) == 0)
        what = "an ELF executable";
    else
        what = "unrecognised data";
    int len = snprintf(buf, size, "%s%s%zu byte%s; first bytes:",
                       name_it ? what : "", name_it ? ", " : "", n,
                       n == 1 ? "" : "s");
    size_t k = len > 0 ? (size_t)len : 0;
    size_t show = n < 16 ? n : 16;
    for (size_t i = 0; i < show && k + 4 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, " %02x", p[i]);
    if (k + 4 < size) {
        k += (size_t)snprintf(buf + k, size - k, " \"");
        for (size_t i = 0; i < show && k + 3 < size; i++)
            buf[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i]
                                                                  : '.';
        if (k + 2 <= size)
            buf[k++] = '"';
    }
    if (k >= size)
        k = size - 1;
    buf[k] = 0;
    return k;
}
