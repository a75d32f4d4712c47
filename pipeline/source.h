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
    unsigned connections;       /* http_multi: ranged requests it had in
                                   flight at most (0: one connection) */
};

/*
 * A driver performs each request of http_source_run for it (install
 * --driver=multi: one curl multi thread for every component's download,
 * install_multi.h).  The body callbacks then run on the driver's thread,
 * which must never block:
 *   room(dctx, len): 1 the next `len` body bytes may be taken now, 0 not
 *     now (the transfer pauses until the driver resumes it), -1 end this
 *     request (the source's pipeline failed or was stopped);
 *   put(dctx, buf, len): take them (only after room said 1; copies; 0);
 *   paused(dctx): the transfer waits for room (not a stall);
 *   perform(dctx, easy, push, pctx, stop, err): on the source's thread,
 *     run the request on the CURL handle `easy`, pushing what put took to
 *     push(pctx) in order, until the request ended and everything was
 *     pushed; returns the request's CURLcode.  A failed push, or `stop`,
 *     ends the request (CURLE_ABORTED_BY_CALLBACK) with *err filled.
 * The stop flag and *err are then read and written on the source's thread
 * only.  Retries, resume and redirects are http_source_run's, unchanged.
 */
struct http_driver {
    int (*perform)(void *dctx, void *easy, stage_push_fn push, void *pctx,
                   volatile sig_atomic_t *stop, struct rz_error *err);
    int (*room)(void *dctx, size_t len);
    int (*put)(void *dctx, const uint8_t *buf, size_t len);
    bool (*paused)(void *dctx);
    void *dctx;
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
    bool allow_downgrade;          /* follow https -> http redirects (with
                                      no -H headers or netrc credentials) */
    unsigned connections;          /* http_multi: ranged connections, 0/1 =
                                      one (http_source) */
    bool connections_asked;        /* the user chose `connections`: falling
                                      back to one is announced through
                                      `notice` (else only when verbose) */
    size_t chunk_size;             /* http_multi: bytes per ranged request,
                                      0 = HTTP_MULTI_CHUNK_DEFAULT */
    void (*notice)(void *ctx, const char *msg); /* notes (a fallback, a
                                      download found complete), may be NULL */
    void (*on_retry)(void *ctx, const char *msg); /* "retry N/M in S s: why";
                                      may be NULL (then `notice` has them) */
    void *notice_ctx;
    /* The body's full size when a response declares it; may be NULL. */
    void (*on_total)(void *ctx, int64_t total);
    struct http_source_stats *stats; /* filled if not NULL */
    const struct http_driver *driver; /* NULL: curl_easy_perform here */
    int verbose;                   /* >1: libcurl verbose to stderr */
};

/*
 * Download `o->url` with libcurl: http, https and file URLs; redirects
 * followed (at most 10, to http/https only) by us, not by libcurl, so that
 * the `headers` are sent only to the origin (scheme, host and port) of
 * `o->url`: an Authorization header never leaks to the host a redirect
 * points at.  Credentials from ~/.netrc (`netrc`) are matched per host
 * (not port) by libcurl.  A redirect from https to http fails with
 * RZ_E_NET_DOWNGRADE unless `allow_downgrade`; then neither the headers
 * nor netrc credentials go to that hop or any after it.  The rules are
 * http_policy's (http_policy.h).  TLS verified unless `insecure` (the caller warns the user);
 * http_proxy/https_proxy/no_proxy from the environment honoured; no
 * Accept-Encoding is sent, so the bytes pushed are the file as stored on
 * the server.  User agent "rzup-extract/0.1".
 *
 * Resume and retry.  A failed attempt is retried (after an exponential,
 * jittered backoff, within `retry_max_time`; `retries` counts the attempts
 * in a row that delivered no new byte: one that did resets the count and
 * the backoff) when the cause is transient: could not connect, connect or stall timeout,
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
 *   - 416 whose Content-Range total is N: every byte arrived (a
 *     Content-Length that lied); the download ends cleanly, announced
 *     through `notice`, and the stages after it judge the stream.
 *   - 200 with another or no validator, another 416, a Content-Range
 *     starting elsewhere or with another total: RZ_E_NET_CHANGED, not
 *     retried.
 *   - the first response had no validator: a splice could not be detected,
 *     so the download fails at the first drop (the drop's own error, with
 *     "cannot resume" in detail) unless `resume_unvalidated`.
 * A failure before any body byte is retried from the start.
 *
 * A final HTTP status >= 400, or a 3xx that could not be followed (no
 * Location), fails with RZ_E_NET_HTTP_STATUS, "HTTP 404 Not Found from
 * URL" in detail (the URL after redirects, without user:password), before
 * any body byte is pushed.  Every text in a detail or notice that came from
 * outside (URLs, reason phrases, header values, libcurl's messages) is
 * escaped with rz_escape; libcurl's message is given once, not repeated.  A body shorter than Content-Length (or a chunked body cut
 * short) fails with RZ_E_NET_TRUNCATED.  Other failures: RZ_E_NET_RESOLVE,
 * NET_CONNECT, NET_TLS, NET_TIMEOUT (connect_timeout or stall_timeout),
 * NET_URL (unsupported scheme, malformed URL), IO_READ (file:// unreadable),
 * otherwise NET_TRANSFER with libcurl's message in detail.  After retries
 * the error is the last attempt's, with the number of attempts in detail.
 */
int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    struct rz_error *err);

/* Several connections (http_multi_run): defaults and bounds. */
#define HTTP_MULTI_DEFAULT 4                 /* --connections */
#define HTTP_MULTI_MAX 16
#define HTTP_MULTI_CHUNK_DEFAULT (1u << 20)  /* --chunk-size: 1 MiB */
#define HTTP_MULTI_CHUNK_MIN (64u << 10)
#define HTTP_MULTI_CHUNK_MAX (64u << 20)

/*
 * Download `o->url` over `o->connections` connections at once, on
 * libcurl's multi interface in the calling thread, and push it downstream
 * as one stream in file order, exactly as http_source_run would (same
 * contract, same errors; the SHA-256 and the --max-* limits downstream see
 * the same bytes).
 *
 * The file is cut into chunks of `o->chunk_size` bytes (C).  The first
 * request asks for `Range: bytes=0-(C-1)`; its 206 gives the file's length
 * and validator (strong ETag, else Last-Modified).  Then each connection
 * fetches consecutive chunks, `Range: bytes=A-B` with `If-Range:` that
 * validator, each into its own buffer of C bytes: chunk k goes to
 * connection k mod N, and a connection starts its next chunk once its last
 * one has been pushed downstream.  The chunk at the head of the stream is
 * pushed as its bytes arrive; the others wait, complete or not, in their
 * buffers.  Memory: (N - 1) x C bytes at most (the head chunk goes
 * straight through; default 3 x 1 MiB), allocated as connections start,
 * whatever the file's size.  When the user did not choose N
 * (`connections_asked` false), the run starts with one connection and
 * adds one at a time up to N while the stages behind it wait for the
 * network (http_policy_connections); with a fast network and a busy
 * decoder it stays at one.  While push blocks (a slow disk), the
 * other connections wait in the kernel's socket buffers; the time spent in
 * push does not count as a stall.
 *
 * A chunk whose transfer fails is resumed by itself at its first missing
 * byte under http_source_run's retry rules (`retries` counts its attempts
 * in a row without progress; one that delivered bytes resets the count and
 * the backoff); `retry_max_time` bounds the whole run.  Retries walk the
 * redirects from `o->url` again; first attempts of later chunks go to the
 * URL the first request ended at.  A 206 with another validator, another
 * total or another start, or a 200 to a chunk's range (the If-Range failed):
 * RZ_E_NET_CHANGED, not retried; the run fails and nothing downstream is
 * finished.
 *
 * Falls back to http_source_run (one connection, announced once through
 * `notice`) when: connections <= 1, the URL is not http(s), the first
 * response is a 200 (Range not honoured) or a 416 (an empty file), its
 * length is unknown, or it has no validator and `resume_unvalidated` is
 * not set.  A file no longer than C is a single request.
 */
int http_multi_run(const struct http_source_options *o, stage_push_fn push,
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
