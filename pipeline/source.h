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
 * second otherwise (libcurl's idle wait), and every 50 ms while it waits
 * to retry.
 *
 * Error offsets are RZ_OFF_RAW: bytes pushed so far (the caller counts
 * the bytes it receives itself).
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

/* What one download took, filled by http_source_run (success or not). */
struct http_source_stats {
    unsigned attempts;          /* tries of the whole download (1 + retries) */
    unsigned resumes;           /* attempts that continued at a byte > 0 */
    unsigned requests;          /* HTTP requests, redirect hops included */
    uint64_t bytes_received;    /* body bytes received, over all requests */
    uint64_t bytes_discarded;   /* bytes received again and thrown away
                                   (a server that ignored Range) */
    bool length_verified;       /* success, and every byte of the
                                   Content-Length was delivered */
};

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
    unsigned retries;              /* retries after the first attempt, 0 = none */
    long retry_delay_ms;           /* first backoff delay; doubles, capped at
                                      30 s, jittered +-25% */
    long retry_max_time;           /* seconds for all attempts, 0 = no limit */
    bool resume_unvalidated;       /* resume even when the server sent no
                                      ETag or Last-Modified (set when a
                                      --sha256 will catch a spliced file) */
    void (*notice)(void *ctx, const char *msg); /* retry notes, may be NULL */
    void *notice_ctx;
    struct http_source_stats *stats; /* filled if not NULL */
    int verbose;                   /* >1: libcurl verbose to stderr */
};

/*
 * Download `o->url` with libcurl: http, https and file URLs; redirects
 * followed (at most 10, to http/https only) by us, not by libcurl, so that
 * the `headers` are sent only to the origin (scheme, host and port) of
 * `o->url`: an Authorization header never leaks to the host a redirect
 * points at.  Credentials from ~/.netrc (`netrc`) are matched per host by
 * libcurl.  TLS verified unless `insecure` (the caller warns the user);
 * http_proxy/https_proxy/no_proxy from the environment honoured; no
 * Accept-Encoding is sent, so the bytes pushed are the file as stored on
 * the server.  User agent "rzup-extract/0.1".
 *
 * Resume and retry.  A failed attempt is retried (up to `retries` times,
 * after an exponential, jittered backoff, within `retry_max_time`) when
 * the cause is transient: could not connect, connect or stall timeout,
 * connection reset or closed early, a body shorter than Content-Length,
 * HTTP 408, 429, 500, 502, 503, 504 (429 and 503 honour Retry-After, in
 * seconds or as an HTTP-date, up to 300 s).  Never retried: other 4xx,
 * DNS, TLS and URL errors, a changed file, a downstream failure, `stop`.
 * Each retry is announced through `notice` with its reason.
 *
 * When N > 0 bytes were already pushed, the retry walks the redirects from
 * `o->url` again (a signed redirect target may have expired) and asks for
 * `Range: bytes=N-` with `If-Range:` the first response's strong ETag, or
 * its Last-Modified when there is no strong ETag.  Downstream sees one
 * unbroken stream: no byte is pushed twice, none is skipped.
 *   - 206 whose Content-Range starts at N (and whose total and ETag, when
 *     sent, match the first response): the body is pushed on.
 *   - 200 with the same validator (a server that ignores Range): the first
 *     N bytes are received, counted in bytes_discarded, and dropped.
 *   - 200 with another or no validator, 416, a Content-Range starting
 *     elsewhere or with another total: RZ_E_NET_CHANGED, not retried.
 *   - the first response had no validator: a splice could not be detected,
 *     so the download fails at the first drop (the drop's own error, with
 *     "cannot resume" in detail) unless `resume_unvalidated`.
 * A failure before any body byte is retried from the start.
 *
 * A final HTTP status >= 400, or a 3xx that could not be followed (no
 * Location), fails with RZ_E_NET_HTTP_STATUS, "HTTP 404 from URL" in
 * detail (the URL after redirects, without user:password), before any body
 * byte is pushed.  A body shorter than Content-Length (or a chunked body cut
 * short) fails with RZ_E_NET_TRUNCATED.  Other failures: RZ_E_NET_RESOLVE,
 * NET_CONNECT, NET_TLS, NET_TIMEOUT (connect_timeout or stall_timeout),
 * NET_URL (unsupported scheme, malformed URL), IO_READ (file:// unreadable),
 * otherwise NET_TRANSFER with libcurl's message in detail.  After retries
 * the error is the last attempt's, with the number of attempts in detail.
 */
int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    struct rz_error *err);

/*
 * Read `fd` to end of file in reads of up to 128 KiB (one buffer allocated
 * per call).  EINTR and EAGAIN (a non-blocking fd) are retried after
 * checking `stop`.  A read error fails with RZ_E_IO_READ and its errno.
 * The fd is not closed.
 */
int fd_source_run(int fd, stage_push_fn push, void *ctx,
                  volatile sig_atomic_t *stop, struct rz_error *err);

/*
 * True if `s` looks like a URL ("scheme://", scheme per RFC 3986), so that
 * it goes to http_source rather than being opened as a path; a scheme this
 * build cannot fetch then fails there with RZ_E_NET_URL.
 */
bool source_is_url(const char *s);

#endif
