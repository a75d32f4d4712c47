/*
 * source.h: the stages that bring bytes in, and drive the whole pipeline.
 *
 * A source owns the loop: it reads from the network or a file descriptor
 * and calls `push(ctx, buf, len)` for every piece received (the buffer is
 * borrowed for the call).  It never buffers the body beyond one read.  If
 * push returns -1 the source stops at once and returns -1 (the downstream
 * stage already filled *err).  When the input ends cleanly the source
 * returns 0; the caller then calls finish on the first stage.
 *
 * `stop` (may be NULL) is polled at least every 100 ms and before every
 * push; when it becomes non-zero the source stops with RZ_E_INTERRUPTED.
 * This is how SIGINT/SIGTERM/SIGHUP/SIGPIPE reach a blocked transfer.
 */
#ifndef RZ_SOURCE_H
#define RZ_SOURCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/stage.h"

struct http_source_options {
    const char *url;               /* http://, https://, file:// */
    const char *const *headers;    /* "Name: value" strings, may be NULL */
    size_t n_headers;
    const char *cacert;            /* CA bundle file, or NULL for the system's */
    bool insecure;                 /* -k: do not verify TLS (warned) */
    bool netrc;                    /* --netrc */
    long connect_timeout;          /* seconds, 0 = libcurl default */
    int verbose;                   /* >1: libcurl verbose to stderr */
};

/*
 * Download `o->url` with libcurl (redirects followed, TLS verified, proxy
 * environment honoured).  An HTTP status >= 400 fails with
 * RZ_E_NET_HTTP_STATUS, the status and URL in detail, before any body byte is
 * pushed.  A body shorter than Content-Length fails with RZ_E_NET_TRUNCATED.
 * *raw_bytes (may be NULL) receives the body bytes pushed.
 */
int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    uint64_t *raw_bytes, struct rz_error *err);

/* Read `fd` to end of file in 128 KiB reads (EINTR handled, `stop` checked). */
int fd_source_run(int fd, stage_push_fn push, void *ctx,
                  volatile sig_atomic_t *stop, uint64_t *raw_bytes,
                  struct rz_error *err);

/* True if `s` looks like a URL this build can fetch ("scheme://"). */
bool source_is_url(const char *s);

#endif
