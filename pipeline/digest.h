/*
 * digest.h: the SHA-256 tap.  It hashes every byte of the raw download as it
 * streams past (OpenSSL EVP) and forwards the bytes unchanged downstream.
 *
 * The caller owns a struct sha256_tap (a zeroed struct may be passed to
 * sha256_tap_free).  sha256_tap_init allocates the EVP context; nothing is
 * allocated afterwards.  sha256_tap_push (a stage_push_fn: pass the tap as
 * ctx) hashes the bytes, then forwards the same buffer to `out` (which may
 * be NULL: hash only).  Errors are sticky: once err->code is set, push
 * returns -1 without hashing or forwarding; errors from `out` pass up
 * unchanged.
 *
 * sha256_tap_final finalises once; later calls return the same digest.
 * sha256_tap_verify, called after the source ended cleanly, finalises and
 * compares with the expected digest, failing with RZ_E_DIGEST_MISMATCH with
 * both digests (lower-case hex) and the byte count in the detail.  No push
 * is allowed after finalising (RZ_E_INTERNAL).
 *
 * Returns: 0 on success, -1 with *err filled.
 */
#ifndef RZ_DIGEST_H
#define RZ_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/stage.h"

#define SHA256_LEN 32

struct sha256_tap {
    void *md;                /* EVP_MD_CTX */
    stage_push_fn out;
    void *out_ctx;
    struct rz_error *err;
    uint64_t bytes;          /* bytes hashed so far */
    bool done;               /* finalised: `digest` is valid */
    uint8_t digest[SHA256_LEN];
};

/*
 * Parse exactly 64 hex digits (either case, nothing else, no whitespace)
 * into 32 bytes; -1 with RZ_E_DIGEST_FORMAT saying what is wrong.
 */
int sha256_parse_hex(const char *hex, uint8_t out[32], struct rz_error *err);

/*
 * The forms people paste: 64 hex digits, "sha256:HEX" (as OCI digests are
 * written), or a line of sha256sum output ("HEX  name" or "HEX *name");
 * surrounding whitespace is ignored.  -1 with RZ_E_DIGEST_FORMAT otherwise
 * (another algorithm's prefix is named).
 */
int sha256_parse_digest(const char *s, uint8_t out[32], struct rz_error *err);

/*
 * A .sha256 file as rustup and others publish beside an archive: lines of
 * "HEX  name" (or bare HEX).  The line whose name's last component is
 * `want` wins; failing that, a file of exactly one digest line is taken
 * whatever its name.  -1 with RZ_E_DIGEST_FORMAT saying why not.
 */
int sha256_parse_sum_file(const char *text, size_t len, const char *want,
                          uint8_t out[32], struct rz_error *err);

/* Write 64 lower-case hex digits and a NUL into `hex`. */
void sha256_to_hex(const uint8_t digest[32], char hex[65]);

int sha256_tap_init(struct sha256_tap *t, stage_push_fn out, void *out_ctx,
                    struct rz_error *err);
int sha256_tap_push(void *tap, const uint8_t *buf, size_t len);
/* Finalise; write the digest to `got` (may be NULL). */
int sha256_tap_final(struct sha256_tap *t, uint8_t got[32]);
/* Finalise and compare. */
int sha256_tap_verify(struct sha256_tap *t, const uint8_t expected[32]);
void sha256_tap_free(struct sha256_tap *t);

#endif
