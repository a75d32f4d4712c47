/*
 * stage.h: the one function type that connects push stages.
 *
 * A stage hands bytes downstream by calling `push(ctx, buf, len)`.  The
 * buffer is borrowed for the duration of the call only.  The callee consumes
 * all of it and returns 0, or returns -1 with the shared struct rz_error
 * filled.  len == 0 is legal and means nothing; end of input is signalled by
 * the stage's own finish function, never by a push.
 */
#ifndef RZ_STAGE_H
#define RZ_STAGE_H

#include <stddef.h>
#include <stdint.h>

typedef int (*stage_push_fn)(void *ctx, const uint8_t *buf, size_t len);

#endif
