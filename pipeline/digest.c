/*
 * digest.c: SHA-256 of the raw download, computed as it streams past.
 *
 * The hash comes from OpenSSL's EVP interface (never hand-written).  The tap
 * hashes before forwarding, so the digest covers exactly the bytes that
 * were offered downstream, even when a later stage fails part-way.
 */
#include "digest.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sha256_parse_hex(const char *hex, uint8_t out[32], struct rz_error *err)
{
    size_t len = strlen(hex);
    if (len != 2 * SHA256_LEN)
        return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL,
                            0, "got %zu characters", len);
    for (size_t i = 0; i < len; i++) {
        if (hex_value(hex[i]) < 0)
            return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0,
                                NULL, 0,
                                "character %zu is not a hexadecimal digit",
                                i + 1);
    }
    for (size_t i = 0; i < SHA256_LEN; i++)
        out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    return 0;
}

/* The digest at the start of s (after blanks), and where its name starts
 * (NULL if nothing follows the digest). */
static int digest_prefix(const char *s, size_t len, uint8_t out[32],
                         const char **name, size_t *name_len,
                         struct rz_error *err)
{
    char hex[2 * SHA256_LEN + 1];
    size_t i = 0, n;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (len > i && strchr(" \t\r\n", s[len - 1]))
        len--;
    if (len - i > 7 && strncasecmp(s + i, "sha256:", 7) == 0)
        i += 7;
    else if (memchr(s + i, ':', len - i)
             && (size_t)((const char *)memchr(s + i, ':', len - i) - (s + i)) < 16
             && hex_value(s[i]) < 0)
        return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL,
                            0, "'%.*s' is not a SHA-256 digest",
                            (int)((const char *)memchr(s + i, ':', len - i)
                                  - (s + i) + 1), s + i);
    for (n = 0; i + n < len && hex_value(s[i + n]) >= 0; n++)
        ;
    if (n != 2 * SHA256_LEN)
        return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL,
                            0, "got %zu hexadecimal digits", n);
    memcpy(hex, s + i, n);
    hex[n] = '\0';
    i += n;
    *name = NULL;
    *name_len = 0;
    if (i < len) {
        if (s[i] != ' ' && s[i] != '\t')
            return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0,
                                NULL, 0, "character %zu is not a hexadecimal "
                                "digit", i + 1);
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i < len && s[i] == '*')   /* sha256sum's binary mode */
            i++;
        *name = s + i;
        *name_len = len - i;
    }
    return sha256_parse_hex(hex, out, err);
}

int sha256_parse_digest(const char *s, uint8_t out[32], struct rz_error *err)
{
    const char *name;
    size_t name_len;
    if (strchr(s, '\n') && strchr(s, '\n')[strspn(strchr(s, '\n'), " \t\r\n")])
        return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL,
                            0, "more than one line");
    return digest_prefix(s, strlen(s), out, &name, &name_len, err);
}

int sha256_parse_sum_file(const char *text, size_t len, const char *want,
                          uint8_t out[32], struct rz_error *err)
{
    uint8_t first[32];
    size_t lines = 0, wlen = want ? strlen(want) : 0;
    struct rz_error lerr;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *name;
        size_t name_len;
        size_t k = at;
        while (k < end && strchr(" \t\r", text[k]))
            k++;
        if (k < end && text[k] != '#') {
            rz_error_clear(&lerr);
            if (digest_prefix(text + at, end - at, out, &name, &name_len,
                              &lerr) < 0) {
                rz_error_adopt(err, &lerr);
                return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE,
                                    0, NULL, 0, "line %zu", lines + 1);
            }
            if (lines++ == 0)
                memcpy(first, out, 32);
            if (name && want) {
                const char *slash = memrchr(name, '/', name_len);
                const char *base = slash ? slash + 1 : name;
                size_t blen = name_len - (size_t)(base - name);
                if (blen == wlen && memcmp(base, want, wlen) == 0)
                    return 0;
            }
        }
        at = end + 1;
    }
    if (lines == 1) {
        memcpy(out, first, 32);
        return 0;
    }
    if (lines == 0)
        return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL,
                            0, "no digest in the file");
    return rz_error_set(err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_NONE, 0, NULL, 0,
                        "%zu digests and none is for '%s'", lines,
                        want ? want : "");
}

void sha256_to_hex(const uint8_t digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < SHA256_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * SHA256_LEN] = '\0';
}

static int openssl_error(struct sha256_tap *t, const char *what)
{
    return rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, t->bytes, NULL,
                        0, "OpenSSL %s failed", what);
}

int sha256_tap_init(struct sha256_tap *t, stage_push_fn out, void *out_ctx,
                    struct rz_error *err)
{
    memset(t, 0, sizeof *t);
    t->out = out;
    t->out_ctx = out_ctx;
    t->err = err;
    t->md = EVP_MD_CTX_new();
    if (!t->md)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                            "SHA-256 context");
    if (EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1)
        return openssl_error(t, "EVP_DigestInit_ex(SHA-256)");
    return 0;
}

int sha256_tap_push(void *tap, const uint8_t *buf, size_t len)
{
    struct sha256_tap *t = tap;
    if (t->err->code != RZ_E_OK)
        return -1;
    if (t->done)
        return rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, t->bytes,
                            NULL, 0, "SHA-256 tap pushed after final");
    if (len == 0)
        return 0;
    if (EVP_DigestUpdate(t->md, buf, len) != 1)
        return openssl_error(t, "EVP_DigestUpdate");
    t->bytes += len;
    if (!t->out)
        return 0;
    if (t->out(t->out_ctx, buf, len) < 0)
        return rz_error_downstream(t->err, RZ_OFF_RAW, t->bytes,
                                   "a stage after the SHA-256 tap");
    return 0;
}

int sha256_tap_final(struct sha256_tap *t, uint8_t got[32])
{
    if (!t->done) {
        unsigned n = 0;
        if (!t->md)
            return rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0,
                                NULL, 0, "SHA-256 tap used without init");
        if (EVP_DigestFinal_ex(t->md, t->digest, &n) != 1 || n != SHA256_LEN)
            return openssl_error(t, "EVP_DigestFinal_ex");
        t->done = true;
    }
    if (got)
        memcpy(got, t->digest, SHA256_LEN);
    return 0;
}

int sha256_tap_verify(struct sha256_tap *t, const uint8_t expected[32])
{
    char want_hex[65], got_hex[65];
    if (t->err->code != RZ_E_OK || sha256_tap_final(t, NULL) < 0)
        return -1;
    if (CRYPTO_memcmp(t->digest, expected, SHA256_LEN) == 0)
        return 0;
    sha256_to_hex(expected, want_hex);
    sha256_to_hex(t->digest, got_hex);
    return rz_error_set(t->err, RZ_E_DIGEST_MISMATCH, 0, RZ_OFF_NONE, 0, NULL,
                        0, "expected %s, got %s (%" PRIu64 " bytes)",
                        want_hex, got_hex, t->bytes);
}

void sha256_tap_free(struct sha256_tap *t)
{
    EVP_MD_CTX_free(t->md);   /* NULL is fine */
    t->md = NULL;
}
