/*
 * decoder.h: the decompression stage, one interface for every format.
 *
 * The caller owns a struct decoder.  decoder_init allocates the output
 * buffer (DECODER_OUT_SIZE bytes) and nothing is allocated afterwards.  The
 * compressed stream is pushed in pieces of any size; the first bytes choose
 * the format by magic number:
 *   1f 8b            gzip  (zlib; every concatenated member is decoded,
 *                           each member's CRC-32 and length are checked)
 *   anything else    identity (plain tar, passed through without copying)
 * Formats recognised by magic but not built in (zstd 28 b5 2f fd, xz
 * fd 37 7a 58 5a 00, bzip2 "BZh") fail with RZ_E_DECODE_UNSUPPORTED.
 * Until enough bytes have arrived to decide, they are held in the struct.
 *
 * Decoded bytes are passed to `out(out_ctx, buf, len)` in pieces of at most
 * DECODER_OUT_SIZE bytes; the buffer is borrowed for the call.
 *
 * After the last gzip member, only zero bytes may follow (gzip(1) tolerates
 * them too); anything else is RZ_E_DECODE_TRAILING.  decoder_finish fails
 * with RZ_E_DECODE_TRUNCATED if a member is incomplete.  Corrupt data is
 * RZ_E_DECODE_DATA, a CRC/length mismatch RZ_E_GZIP_CRC.
 *
 * Error offsets are RZ_OFF_RAW: the byte of the compressed input at which
 * the problem was detected.  Errors are sticky; errors returned by `out`
 * are passed up unchanged (the downstream stage already filled *err).
 *
 * No I/O.
 */
#ifndef RZ_DECODER_H
#define RZ_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "rz_error.h"
#include "stage.h"

#define DECODER_OUT_SIZE (128 * 1024)

enum decoder_kind {
    DECODER_DETECTING, /* waiting for enough bytes to see the magic */
    DECODER_IDENTITY,
    DECODER_GZIP,
};

struct decoder {
    enum decoder_kind kind;
    struct rz_error *err;
    stage_push_fn out;
    void *out_ctx;
    uint64_t in_bytes;      /* compressed bytes consumed so far */
    uint64_t out_bytes;     /* decoded bytes delivered so far */
    uint8_t magic[8];       /* bytes held while detecting */
    size_t magic_len;
    /* gzip */
    z_stream z;
    bool z_ready;
    int member_state;       /* in a member / between members / trailing zeros */
    uint64_t members;
    uint8_t *outbuf;
};

int decoder_init(struct decoder *d, stage_push_fn out, void *out_ctx,
                 struct rz_error *err);
int decoder_push(struct decoder *d, const uint8_t *buf, size_t len);
int decoder_finish(struct decoder *d);
void decoder_free(struct decoder *d);

/* "gzip", "tar" (identity), or "unknown" while still detecting. */
const char *decoder_name(const struct decoder *d);

#endif
