/*
 * decoder.h: the decompression stage, one interface for every format.
 *
 * The caller owns a struct decoder (embed it anywhere; a zeroed struct may
 * be passed to decoder_free).  decoder_init allocates the output buffer
 * (DECODER_OUT_SIZE bytes) and the zlib state; push allocates nothing (zlib
 * allocates its 32 KiB window once, on the first inflate).
 *
 * The compressed stream is pushed in pieces of any size, down to one byte;
 * the output is identical for every split.  The first bytes choose the
 * format by magic number:
 *   1f 8b            gzip  (zlib; every concatenated member is decoded,
 *                           each member's CRC-32 and length are checked)
 *   anything else    identity (plain tar, passed through without copying)
 * Formats recognised by magic but not built in fail with
 * RZ_E_DECODE_UNSUPPORTED naming the format: zstd (28 b5 2f fd), xz
 * (fd 37 7a 58 5a 00), bzip2 ("BZh" + level '1'-'9' + a block or
 * end-of-stream magic; the last part keeps a plain tar whose first name
 * starts with "BZh" from being mistaken for bzip2).
 * Until enough bytes have arrived to decide (at most DECODER_MAGIC_MAX), they
 * are held in the struct.  If the input ends before that, the held bytes
 * are passed through as identity so the tar parser reports the real problem.
 *
 * Decoded bytes are passed to `out(out_ctx, buf, len)` in pieces of at most
 * DECODER_OUT_SIZE bytes (identity too: it passes slices of the caller's
 * buffer); the buffer is borrowed for the call.  `out` is never called with
 * len == 0.
 *
 * Gzip members: after a member ends, the next byte decides.  1f starts
 * another member; 00 starts zero padding, after which only zero bytes may
 * follow until the end (gzip(1) tolerates them too); anything else is
 * RZ_E_DECODE_TRAILING, as is 1f followed by anything but 8b.
 * decoder_finish fails with RZ_E_DECODE_TRUNCATED if a member is incomplete.
 * Corrupt data is RZ_E_DECODE_DATA, a CRC/length mismatch RZ_E_GZIP_CRC;
 * zlib's own message is in the detail.
 *
 * Error offsets are RZ_OFF_RAW: the number of compressed bytes consumed when
 * the problem was detected.  Errors are sticky: once err->code is set, push
 * and finish return -1 without calling `out`.  Errors returned by `out` are
 * passed up unchanged (the downstream stage already filled *err).
 *
 * decoder_finish does not finish the downstream stage; the caller does.
 *
 * Returns: 0 on success, -1 with *err filled.  No I/O.
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
#define DECODER_MAGIC_MAX 10 /* longest magic we look at (bzip2) */

enum decoder_kind {
    DECODER_DETECTING, /* waiting for enough bytes to see the magic */
    DECODER_IDENTITY,
    DECODER_GZIP,
    /* Recognised, not built in: the decoder has failed. */
    DECODER_ZSTD,
    DECODER_XZ,
    DECODER_BZIP2,
};

/* Where a gzip stream is, between inflate calls. */
enum decoder_gzip_state {
    GZ_MEMBER,     /* inside a member: inflate owns the bytes */
    GZ_BETWEEN,    /* a member ended; waiting for the next byte, or the end */
    GZ_BETWEEN_1F, /* saw 1f after a member; waiting for 8b */
    GZ_ZEROS,      /* in zero padding; only zero bytes until the end */
};

struct decoder {
    enum decoder_kind kind;
    struct rz_error *err;
    stage_push_fn out;
    void *out_ctx;
    uint64_t in_bytes;      /* compressed bytes consumed so far */
    uint64_t out_bytes;     /* decoded bytes delivered so far */
    uint64_t members;       /* gzip members completed */
    uint8_t magic[DECODER_MAGIC_MAX]; /* bytes held while detecting */
    size_t magic_len;
    uint8_t *outbuf;        /* DECODER_OUT_SIZE bytes, for every backend */
    struct {
        z_stream z;
        bool ready;         /* inflateInit2 succeeded: inflateEnd needed */
        enum decoder_gzip_state state;
    } gz;
};

int decoder_init(struct decoder *d, stage_push_fn out, void *out_ctx,
                 struct rz_error *err);
int decoder_push(struct decoder *d, const uint8_t *buf, size_t len);
int decoder_finish(struct decoder *d);
void decoder_free(struct decoder *d);

/* "gzip", "tar" (identity), "zstd"/"xz"/"bzip2" (unsupported), or "unknown"
 * while still detecting. */
const char *decoder_name(const struct decoder *d);

#endif
