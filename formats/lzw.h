/*
 * lzw.h: the compress(1) .Z format (LZW), a push decoder in pure C.
 *
 * Format: 1f 9d, a flags byte (bits 0-4: the largest code width, 9..16;
 * bit 7: "block mode", code 256 clears the table), then LZW codes packed
 * LSB-first, starting at 9 bits.  compress(1) writes codes in groups of 8
 * (a group of n-bit codes is n bytes); when the code width grows, or a clear
 * code arrives, the rest of the current group is padding and is skipped.
 * That quirk is why a .Z cannot be decoded as a plain bit stream.
 *
 * The caller owns a struct lzw (about 320 KiB: put it on the heap) and an
 * output buffer of `cap` bytes; decoded bytes go to `out(ctx, buf, len)` in
 * pieces of at most `cap` (len > 0, buffer borrowed).  Any split of the
 * input gives the same output.  The format has no end marker and no check:
 * a truncated .Z decodes to a prefix of its content (the tar parser after
 * us notices), and lzw_finish fails only if the 3-byte header is cut.
 *
 * Errors (sticky, RZ_OFF_RAW offsets counting the .Z bytes): RZ_E_DECODE_DATA
 * for a bad header or an impossible code, RZ_E_DECODE_TRUNCATED from finish;
 * a downstream failure is passed up (rz_error_downstream).
 * Returns 0, or -1 with *err filled.  No allocation, no I/O.
 */
#ifndef RZ_LZW_H
#define RZ_LZW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rz_error.h"
#include "stage.h"

#define LZW_MAX_BITS 16

struct lzw {
    struct rz_error *err;
    stage_push_fn out;
    void *out_ctx;
    uint8_t *outbuf;
    size_t cap, outpos;
    uint64_t in_bytes;           /* .Z bytes consumed */
    unsigned hdr_pos;            /* header bytes seen (3 when done) */
    unsigned maxbits;
    bool block_mode;
    unsigned n_bits;             /* current code width */
    uint32_t maxcode;            /* width grows when free_ent passes it */
    uint32_t maxmaxcode;         /* 1 << maxbits */
    uint32_t free_ent;           /* next table entry */
    int32_t oldcode;             /* previous code, -1 at the start */
    uint8_t finchar;             /* first byte of the previous string */
    uint32_t bitbuf;
    unsigned bitcnt;
    unsigned codes_in_group;     /* codes read in the current group (0-7) */
    unsigned skip_bits;          /* group padding still to discard */
    uint16_t prefix[1 << LZW_MAX_BITS];
    uint8_t suffix[1 << LZW_MAX_BITS];
    uint8_t stack[1 << LZW_MAX_BITS];
};

void lzw_init(struct lzw *z, stage_push_fn out, void *out_ctx,
              uint8_t *outbuf, size_t cap, struct rz_error *err);
int lzw_push(struct lzw *z, const uint8_t *buf, size_t len);
int lzw_finish(struct lzw *z);

#endif
