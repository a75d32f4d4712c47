/*
 * dec_lzw.c: compress(1) .Z behind the decoder interface; the codec itself
 * is formats/lzw.c.  Memory: struct lzw, about 320 KiB.
 */
#include <stdlib.h>

#include "dec_backend.h"
#include "lzw.h"

static int to_downstream(void *ctx, const uint8_t *buf, size_t len)
{
    struct decoder *d = ctx;
    if (d->out(d->out_ctx, buf, len) < 0)
        return -1;
    d->out_bytes += len;
    return 0;
}

static int lzw_start_be(struct decoder *d)
{
    struct lzw *z = malloc(sizeof *z);
    if (!z)
        return dec_fail(d, RZ_E_NOMEM, "LZW tables");
    d->state = z;
    lzw_init(z, to_downstream, d, d->outbuf, DECODER_OUT_SIZE, d->err);
    return 0;
}

static int lzw_push_be(struct decoder *d, const uint8_t *buf, size_t len)
{
    struct lzw *z = d->state;
    int rc = lzw_push(z, buf, len);
    d->in_bytes = z->in_bytes;
    return rc;
}

static int lzw_finish_be(struct decoder *d)
{
    return lzw_finish(d->state);
}

static void lzw_free_be(struct decoder *d)
{
    free(d->state);
}

const struct decoder_backend dec_compress_backend = {
    "compress", lzw_start_be, lzw_push_be, lzw_finish_be, lzw_free_be,
};
