/*
 * inflate_engine.h: a raw-deflate engine (RFC 1951) under the gzip member
 * framing of formats/gzip_members.c.  zlib is formats/dec_zlib.c; another
 * engine (ISA-L) plugs in with the same four functions.
 *
 * new:   allocate the engine's state; NULL when out of memory.
 * reset: get ready for a new deflate stream (the next gzip member).
 * run:   inflate from *in (*in_len bytes) into out[0..out_cap); advances *in
 *        and *in_len past what was consumed and sets *produced.  Returns
 *        INFLATE_OK (call again: with more input, or at once if out was
 *        filled), INFLATE_END (the final block ended; the bytes after it are
 *        left in *in, unconsumed) or INFLATE_ERROR / INFLATE_NOMEM with a
 *        static message in *msg.  Output before an error is in out.
 * free:  release the state (NULL is fine).
 * leftover: (may be NULL) after INFLATE_END, input bytes the engine took
 *        past the end of the deflate data (read ahead into a bit buffer);
 *        copies at most `max` of them to `bytes` and returns how many.  The
 *        framing treats them as the bytes that follow, before *in.
 * The caller owns the buffers; the engine keeps its window inside its state,
 * so any split of the input gives the same output.
 */
#ifndef RZ_INFLATE_ENGINE_H
#define RZ_INFLATE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

enum { INFLATE_OK = 0, INFLATE_END = 1, INFLATE_ERROR = -1, INFLATE_NOMEM = -2 };

struct inflate_engine {
    const char *name;
    void *(*new)(void);
    int (*reset)(void *st);
    int (*run)(void *st, const uint8_t **in, size_t *in_len, uint8_t *out,
               size_t out_cap, size_t *produced, const char **msg);
    void (*free)(void *st);
    size_t (*leftover)(void *st, uint8_t *bytes, size_t max);
};

extern const struct inflate_engine inflate_engine_zlib;  /* dec_zlib.c */
extern const struct inflate_engine inflate_engine_isal;  /* dec_isal.c, if
                                                            RZ_HAVE_ISAL */

#endif
