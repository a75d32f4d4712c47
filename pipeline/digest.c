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
