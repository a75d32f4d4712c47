/*
 * dec_backend.h: what each decompression backend (formats/dec_*.c,
 * formats/gzip_members.c) provides to decoder.c.  Private to formats/.
 *
 * start: allocate the backend's state into d->state (called once, when the
 *        format is known; d->opt holds the limits).  0 or -1 with d->err set.
 * push:  consume all of buf (len > 0), decoding into the window dec_window
 *        gives and passing it on with dec_emit; count consumed bytes in
 *        d->in_bytes.
 * finish: end of input: drain what is left, check the stream is complete.
 * free:  release d->state (may be called after a failed start, or never
 *        started: d->state NULL).
 */
#ifndef RZ_DEC_BACKEND_H
#define RZ_DEC_BACKEND_H

#include "decoder.h"

struct decoder_backend {
    const char *name;
    int (*start)(struct decoder *d);
    int (*push)(struct decoder *d, const uint8_t *buf, size_t len);
    int (*finish)(struct decoder *d);
    void (*free)(struct decoder *d);
};

/* Where to decode next: a window lent by the caller, or d->outbuf; cap is
 * at most DECODER_OUT_SIZE.  -1 with d->err set if the window failed. */
int dec_window(struct decoder *d, uint8_t **p, size_t *cap);

/* Pass decoded bytes downstream (nothing for len 0); counts out_bytes.
 * buf is the window from dec_window (or a part of the input, identity). */
int dec_emit(struct decoder *d, const uint8_t *buf, size_t len);

/* Record an error at the current raw offset.  Returns -1. */
int dec_fail(struct decoder *d, enum rz_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

extern const struct decoder_backend dec_gzip_backend;     /* gzip_members.c */
extern const struct decoder_backend dec_xz_backend;       /* dec_xz.c */
extern const struct decoder_backend dec_lzma_backend;     /* dec_xz.c */
extern const struct decoder_backend dec_zstd_backend;     /* dec_zstd.c */
extern const struct decoder_backend dec_bzip2_backend;    /* dec_bzip2.c */
extern const struct decoder_backend dec_lz4_backend;      /* dec_lz4.c */
extern const struct decoder_backend dec_compress_backend; /* dec_lzw.c */

#endif
