/*
 * digest.h: the SHA-256 tap.  It hashes every byte of the raw download as it
 * streams past (OpenSSL EVP) and forwards the bytes unchanged downstream.
 *
 * sha256_tap_init allocates the EVP context; sha256_tap_push hashes then
 * forwards (errors from downstream pass up unchanged); sha256_tap_verify,
 * called after the source ended cleanly, compares with the expected digest
 * and fails with RZ_E_DIGEST_MISMATCH (both digests in detail).
 */
#ifndef RZ_DIGEST_H
#define RZ_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/stage.h"

struct sha256_tap {
    void *md;                /* EVP_MD_CTX */
    stage_push_fn out;
    void *out_ctx;
    struct rz_error *err;
    uint64_t bytes;
};

/* Parse 64 hex digits (either case) into 32 bytes; -1 with RZ_E_DIGEST_FORMAT. */
int sha256_parse_hex(const char *hex, uint8_t out[32], struct rz_error *err);

int sha256_tap_init(struct sha256_tap *t, stage_push_fn out, void *out_ctx,
                    struct rz_error *err);
int sha256_tap_push(void *tap, const uint8_t *buf, size_t len);
/* Finalise; write the digest to `got` (may be NULL). */
int sha256_tap_final(struct sha256_tap *t, uint8_t got[32]);
/* Finalise and compare. */
int sha256_tap_verify(struct sha256_tap *t, const uint8_t expected[32]);
void sha256_tap_free(struct sha256_tap *t);

#endif
