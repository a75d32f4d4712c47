/*
 * dec_isal.c: ISA-L's igzip inflate as a raw-deflate engine
 * (inflate_engine.h), under the same gzip member framing as zlib.
 *
 * ISA-L reads input 8 bytes at a time into a 64-bit bit buffer, so when the
 * final block ends it may already have taken the first bytes of the gzip
 * trailer (or of whatever follows).  Those whole bytes are still in its bit
 * buffer (read_in, read_in_length bits): `leftover` hands them back to the
 * framing, which reads them as trailer bytes before the rest of the input.
 * Memory: struct inflate_state, about 40 KiB (its window and tables).
 */
#include <isa-l/igzip_lib.h>
#include <stdlib.h>

#include "inflate_engine.h"

#define ISAL_MAX_IN ((size_t)1 << 30)

static void *isal_new(void)
{
    struct inflate_state *s = malloc(sizeof *s);
    if (s) {
        isal_inflate_init(s);
        s->crc_flag = ISAL_DEFLATE;   /* raw deflate: the framing is ours */
    }
    return s;
}

static int isal_reset(void *st)
{
    struct inflate_state *s = st;
    isal_inflate_reset(s);
    s->crc_flag = ISAL_DEFLATE;
    return INFLATE_OK;
}

static const char *isal_message(int ret)
{
    switch (ret) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    default: return "isal_inflate failed";
    }
}

static int isal_run(void *st, const uint8_t **in, size_t *in_len,
                    uint8_t *out, size_t out_cap, size_t *produced,
                    const char **msg)
{
    struct inflate_state *s = st;
    size_t n = *in_len < ISAL_MAX_IN ? *in_len : ISAL_MAX_IN;
    s->next_in = (uint8_t *)*in;   /* ISA-L never writes through next_in */
    s->avail_in = (uint32_t)n;
    s->next_out = out;
    s->avail_out = (uint32_t)out_cap;
    const uint8_t *start = *in;
    int ret = isal_inflate(s);
    /* After an error ISA-L's avail_in may be garbage (it can wrap below
     * zero): count what next_in says, within what it was given. */
    size_t used = (const uint8_t *)s->next_in >= start
                  ? (size_t)((const uint8_t *)s->next_in - start) : 0;
    if (used > n)
        used = n;
    *in += used;
    *in_len -= used;
    *produced = out_cap - s->avail_out;
    if (ret < 0) {
        *msg = isal_message(ret);
        return INFLATE_ERROR;
    }
    if (s->avail_in != n - used) {
        *msg = "ISA-L returned an inconsistent input position";
        return INFLATE_ERROR;
    }
    return s->block_state == ISAL_BLOCK_FINISH ? INFLATE_END : INFLATE_OK;
}

static size_t isal_leftover(void *st, uint8_t *bytes, size_t max)
{
    struct inflate_state *s = st;
    if (s->read_in_length <= 0)
        return 0;
    size_t n = (size_t)s->read_in_length / 8;
    uint64_t v = s->read_in >> (s->read_in_length % 8);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++, v >>= 8)
        bytes[i] = (uint8_t)v;
    s->read_in = 0;
    s->read_in_length = 0;
    return n;
}

static void isal_free(void *st)
{
    free(st);
}

const struct inflate_engine inflate_engine_isal = {
    "isa-l", isal_new, isal_reset, isal_run, isal_free, isal_leftover,
};
