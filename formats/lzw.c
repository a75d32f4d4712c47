/*
 * lzw.c: compress(1) .Z decoding (contract in lzw.h).
 *
 * The table is prefix[code] + suffix[code]; a code's string is rebuilt
 * backwards into `stack`, then copied out.  The KwKwK case (a code equal to
 * the next free entry) is the previous string plus its own first byte.
 * After a clear code the table restarts at 257 and the next code is a
 * literal, exactly as compress(1)'s own decoder behaves.
 */
#include "lzw.h"

#include <string.h>

#define LZW_CLEAR 256
#define LZW_INIT_BITS 9

void lzw_init(struct lzw *z, stage_push_fn out, void *out_ctx,
              uint8_t *outbuf, size_t cap, struct rz_error *err)
{
    memset(z, 0, offsetof(struct lzw, prefix));
    z->err = err;
    z->out = out;
    z->out_ctx = out_ctx;
    z->outbuf = outbuf;
    z->cap = cap;
    z->oldcode = -1;
}

static int fail(struct lzw *z, const char *what, unsigned v)
{
    return rz_error_set(z->err, RZ_E_DECODE_DATA, 0, RZ_OFF_RAW, z->in_bytes,
                        NULL, 0, "compress (.Z): %s %u", what, v);
}

static int flush(struct lzw *z)
{
    if (z->outpos == 0)
        return 0;
    size_t n = z->outpos;
    z->outpos = 0;
    if (z->out(z->out_ctx, z->outbuf, n) < 0)
        return rz_error_downstream(z->err, RZ_OFF_RAW, z->in_bytes,
                                   "a stage after the decoder");
    return 0;
}

static int put(struct lzw *z, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t room = z->cap - z->outpos;
        size_t k = n < room ? n : room;
        memcpy(z->outbuf + z->outpos, p, k);
        z->outpos += k;
        p += k;
        n -= k;
        if (z->outpos == z->cap && flush(z) < 0)
            return -1;
    }
    return 0;
}

static int header_byte(struct lzw *z, uint8_t c)
{
    static const uint8_t magic[2] = {0x1f, 0x9d};
    if (z->hdr_pos < 2) {
        if (c != magic[z->hdr_pos])
            return fail(z, "bad magic byte", c);
        z->hdr_pos++;
        return 0;
    }
    z->maxbits = c & 0x1f;
    z->block_mode = (c & 0x80) != 0;
    if (z->maxbits < LZW_INIT_BITS || z->maxbits > LZW_MAX_BITS)
        return fail(z, "unsupported maximum code width", z->maxbits);
    if (c & 0x60)
        return fail(z, "reserved flag bits set in", c);
    z->hdr_pos = 3;
    z->n_bits = LZW_INIT_BITS;
    z->maxcode = (1u << LZW_INIT_BITS) - 1;
    z->maxmaxcode = 1u << z->maxbits;
    z->free_ent = z->block_mode ? LZW_CLEAR + 1 : LZW_CLEAR;
    return 0;
}

/* The rest of the current group is padding (compress(1) writes whole
 * groups of 8 codes before it changes the code width). */
static void end_group(struct lzw *z)
{
    z->skip_bits = ((8 - z->codes_in_group) % 8) * z->n_bits;
    z->codes_in_group = 0;
}

static int code(struct lzw *z, uint32_t c)
{
    if (z->oldcode < 0) {
        if (c >= 256)
            return fail(z, "first code is not a literal:", c);
        z->oldcode = (int32_t)c;
        z->finchar = (uint8_t)c;
        return put(z, &z->finchar, 1);
    }
    if (c == LZW_CLEAR && z->block_mode) {
        end_group(z);
        z->free_ent = LZW_CLEAR + 1;
        z->n_bits = LZW_INIT_BITS;
        z->maxcode = (1u << LZW_INIT_BITS) - 1;
        z->oldcode = -1;
        return 0;
    }
    uint32_t incode = c;
    uint8_t *sp = z->stack + sizeof z->stack;
    if (c >= z->free_ent) {
        if (c > z->free_ent)
            return fail(z, "code beyond the table:", c);
        *--sp = z->finchar;
        c = (uint32_t)z->oldcode;
    }
    while (c >= 256) {
        *--sp = z->suffix[c];
        c = z->prefix[c];
    }
    z->finchar = (uint8_t)c;
    *--sp = z->finchar;
    if (put(z, sp, (size_t)(z->stack + sizeof z->stack - sp)) < 0)
        return -1;
    if (z->free_ent < z->maxmaxcode) {
        z->prefix[z->free_ent] = (uint16_t)z->oldcode;
        z->suffix[z->free_ent] = z->finchar;
        z->free_ent++;
    }
    z->oldcode = (int32_t)incode;
    if (z->free_ent > z->maxcode && z->n_bits < z->maxbits) {
        end_group(z);
        z->n_bits++;
        z->maxcode = z->n_bits == z->maxbits ? z->maxmaxcode
                                             : (1u << z->n_bits) - 1;
    }
    return 0;
}

/* Take codes out of the bit buffer while whole ones are there. */
static int drain_bits(struct lzw *z)
{
    for (;;) {
        if (z->skip_bits) {
            unsigned k = z->skip_bits < z->bitcnt ? z->skip_bits : z->bitcnt;
            z->bitbuf = k == 32 ? 0 : z->bitbuf >> k;
            z->bitcnt -= k;
            z->skip_bits -= k;
            if (z->skip_bits)
                return 0;
        }
        if (z->bitcnt < z->n_bits)
            return 0;
        uint32_t c = z->bitbuf & ((1u << z->n_bits) - 1);
        z->bitbuf >>= z->n_bits;
        z->bitcnt -= z->n_bits;
        z->codes_in_group = (z->codes_in_group + 1) % 8;
        if (code(z, c) < 0)
            return -1;
    }
}

int lzw_push(struct lzw *z, const uint8_t *buf, size_t len)
{
    if (z->err->code != RZ_E_OK)
        return -1;
    for (size_t i = 0; i < len; i++) {
        z->in_bytes++;
        if (z->hdr_pos < 3) {
            if (header_byte(z, buf[i]) < 0)
                return -1;
            continue;
        }
        z->bitbuf |= (uint32_t)buf[i] << z->bitcnt;
        z->bitcnt += 8;
        if (drain_bits(z) < 0)
            return -1;
    }
    return flush(z);
}

int lzw_finish(struct lzw *z)
{
    if (z->err->code != RZ_E_OK)
        return -1;
    if (z->hdr_pos < 3)
        return rz_error_set(z->err, RZ_E_DECODE_TRUNCATED, 0, RZ_OFF_RAW,
                            z->in_bytes, NULL, 0, "compress (.Z): the input "
                            "ends inside the 3-byte header");
    return flush(z);
}
