/*
 * source.h: the stages that bring bytes in, and drive the whole pipeline.
 *
 * A source owns the loop: it reads from the network or a file descriptor
 * and calls `push(ctx, buf, len)` for every piece received (the buffer is
 * borrowed for the call).  It never buffers the body beyond one read.  If
 * push returns -1 the source stops at once and returns -1 (the downstream
 * stage already filled *err; the source never overwrites it).  When the
 * input ends cleanly the source returns 0; the caller then calls finish on
 * the first stage.  If *err is already set on entry, the source returns -1
 * without doing anything.
 *
 * `stop` (may be NULL) is checked before every push and whenever the source
 * wakes up; when it becomes non-zero the source stops with RZ_E_INTERRUPTED.
 * This is how SIGINT/SIGTERM/SIGHUP/SIGPIPE reach a blocked transfer.
 * fd_source wakes at least every 100 ms (poll), whatever SA_RESTART says.
 * http_source notices it at libcurl's next progress callback: at once when
 * the signal interrupts libcurl's wait in this thread, within about a
 * second otherwise (libcurl's idle wait).
 *
 * *raw_bytes (may be NULL) receives the number of bytes pushed, on success
 * and on failure.  Error offsets are RZ_OFF_RAW: bytes pushed so far.
 *
 * Nothing here calls curl_global_init; the program does, once, before any
 * transfer.  Sources keep no global state: several may run at once in
 * different threads.
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
    long stall_timeout;            /* seconds without a body byte (checked
                                      about once a second), 0 = none */
    int verbose;                   /* >1: libcurl verbose to stderr */
};

/*
 * Download `o->url` with libcurl: http, https and file URLs; redirects
 * followed (at most 10, to http/https only); TLS verified unless
 * `insecure` (the caller warns the user); http_proxy/https_proxy/no_proxy
 * from the environment honoured; no Accept-Encoding is sent, so the bytes
 * pushed are the file as stored on the server.  User agent
 * "rzup-extract/0.1".
 *
 * A final HTTP status >= 400, or a 3xx that could not be followed (no
 * Location), fails with RZ_E_NET_HTTP_STATUS, "HTTP 404 from URL" in
 * detail (the URL after redirects, without user:password), before any body
 * byte is pushed.  A body shorter than Content-Length (or a chunked body cut
 * short) fails with RZ_E_NET_TRUNCATED.  Other failures: RZ_E_NET_RESOLVE,
 * NET_CONNECT, NET_TLS, NET_TIMEOUT (connect_timeout or stall_timeout),
 * NET_URL (unsupported scheme, malformed URL), IO_READ (file:// unreadable),
 * otherwise NET_TRANSFER with libcurl's message in detail.
 */
int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    uint64_t *raw_bytes, struct rz_error *err);

/*
 * Read `fd` to end of file in reads of up to 128 KiB (one buffer allocated
 * per call).  EINTR and EAGAIN (a non-blocking fd) are retried after
 * checking `stop`.  A read error fails with RZ_E_IO_READ and its errno.
 * The fd is not closed.
 */
int fd_source_run(int fd, stage_push_fn push, void *ctx,
                  volatile sig_atomic_t *stop, uint64_t *raw_bytes,
                  struct rz_error *err);

/*
 * True if `s` looks like a URL ("scheme://", scheme per RFC 3986), so that
 * it goes to http_source rather than being opened as a path; a scheme this
 * build cannot fetch then fails there with RZ_E_NET_URL.
 */
bool source_is_url(const char *s);

#endif
