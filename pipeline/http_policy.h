/*
 * http_policy.h: the decisions of a download, apart from the transfers.
 *
 * Everything here is pure: no sockets, no clocks, no randomness, no
 * allocation.  Callers pass the time, the jitter and what the server said;
 * the functions say what to do.  This is what lets the retry, resume and
 * redirect rules be tested in milliseconds (tests/test_http_policy.c) and
 * shared by both HTTP sources (http_source.c: one connection;
 * http_multi.c: several ranged connections).  libcurl is used only for
 * its pure helpers (URL parsing, curl_getdate).
 *
 *   http_response_*   what one response said: status line and headers
 *   http_policy_body  may this response continue the stream?
 *   http_policy_retry may a failed attempt be retried, after how long?
 *   http_policy_redirect  may a redirect be followed, and with what?
 *   http_policy_curl_text  libcurl's message without repetition, escaped
 *   http_policy_connections  one more connection, or not (the default)
 */
#ifndef RZ_HTTP_POLICY_H
#define RZ_HTTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_VALIDATOR_MAX 256   /* longest ETag / Last-Modified we keep */
#define HTTP_REASON_MAX 128      /* longest reason phrase we keep */
#define HTTP_RANGE_TEXT_MAX 96   /* the Content-Range header as received */
#define HTTP_MAX_REDIRS 10
#define HTTP_BACKOFF_MAX_MS 30000L
#define HTTP_RETRY_AFTER_MAX 300L   /* seconds; a longer wait is not retried */

/* ------------------------------------------------------------ responses */

/* What one response said in its headers (reset at each status line). */
struct http_response {
    long status;                /* 0 until a status line (and for file://) */
    char reason[HTTP_REASON_MAX];   /* raw reason phrase (escape to print) */
    bool have_range;            /* a Content-Range "bytes A-B/T" was parsed */
    uint64_t range_start;
    uint64_t range_end;         /* B (inclusive) */
    int64_t range_total;        /* T, or -1 for "*" */
    char range_text[HTTP_RANGE_TEXT_MAX];  /* raw Content-Range value */
    int64_t length;             /* Content-Length, or -1 */
    bool location;              /* a non-empty Location header came */
    long retry_after;           /* seconds, or -1 */
    char etag[HTTP_VALIDATOR_MAX];
    char last_modified[HTTP_VALIDATOR_MAX];
};

/* An empty record for a response with this status. */
void http_response_reset(struct http_response *r, long status);

/*
 * Feed one header line as libcurl delivers it (with its CR LF): a status
 * line ("HTTP/1.1 206 Partial Content") starts a fresh record, a
 * "Name: value" line fills the fields above, anything else is ignored.
 * `now` is the wall-clock time, for a Retry-After given as an HTTP-date.
 */
void http_response_line(struct http_response *r, const char *line,
                        size_t len, time_t now);

/* ------------------------------------------------------- resume rules */

/* What the stream is, as the response that started it described it. */
struct http_stream {
    char validator[HTTP_VALIDATOR_MAX];  /* strong ETag, else Last-Modified,
                                            else "" */
    bool validator_is_etag;
    int64_t total;              /* the file's length, or -1 */
};

enum http_body_verdict {
    HTTP_BODY_REDIRECT,   /* 3xx with Location: follow it, drop the body */
    HTTP_BODY_STREAM,     /* the file's bytes: drop the first `skip`, push */
    HTTP_BODY_COMPLETE,   /* 416 and every byte already arrived: the
                             download is done (a Content-Length that lied) */
    HTTP_BODY_STATUS,     /* an HTTP error (retryable if transient) */
    HTTP_BODY_CHANGED,    /* not the file the stream began with */
    HTTP_BODY_PROTOCOL,   /* a response that makes no sense (206 unasked) */
};

struct http_body_decision {
    enum http_body_verdict verdict;
    uint64_t skip;        /* STREAM: bytes to drop (a server that ignored
                             Range and restarted at 0) */
    bool retryable;       /* STATUS: a transient status */
    long retry_after;     /* STATUS 429/503: seconds asked for, or -1 */
    const char *why;      /* CHANGED/PROTOCOL/STATUS: a static phrase */
};

/*
 * Decide what the body of response `r` is.  `from` is the byte the request
 * asked to start at (Range: bytes=from-), 0 for no Range; `s` describes the
 * stream, or is NULL when this response may start it (then from is 0).  `want_end` is the
 * last byte asked for (inclusive, a bounded range of the multi-connection
 * source), or -1 for "to the end".
 *
 *   3xx with Location: REDIRECT (3xx without one: STATUS).
 *   >= 400 but 416: STATUS, retryable for 408 429 500 502 503 504.
 *   s == NULL: 200 starts the stream (STREAM, skip 0); 206 is PROTOCOL
 *     unless a bounded range was asked for (then it must start at 0).
 *   s != NULL (a resume, or a later range of several connections):
 *     206: Content-Range must start at `from`, and its total and validator
 *       (when sent) match `s`; else CHANGED.  STREAM.
 *     200: the whole file again (Range ignored): the same validator and
 *       length as `s`, else CHANGED; STREAM with skip = from.
 *     416: COMPLETE if its total ("bytes * /T") equals `from` (all bytes
 *       arrived; the server declared a longer Content-Length); else CHANGED.
 */
void http_policy_body(const struct http_response *r, uint64_t from,
                      int64_t want_end, const struct http_stream *s,
                      struct http_body_decision *d);

/* The stream a fresh 200 (or a 206 at byte 0) starts: validator, length. */
void http_policy_stream_begin(const struct http_response *r,
                              struct http_stream *s);

/* ------------------------------------------------------------ retries */

struct http_retry_policy {
    unsigned retries;           /* consecutive attempts without progress
                                   that may be retried */
    long delay_ms;              /* first backoff; doubles per attempt
                                   without progress, at most 30 s */
    long max_time;              /* seconds for the whole run, 0 = no limit */
    bool resume_unvalidated;    /* resume without a validator */
};

/* Carried across the attempts of one download (zero it to start). */
struct http_retry_state {
    unsigned attempts;          /* attempts so far */
    unsigned stalled;           /* failed attempts since the last progress,
                                   the one that made it included */
    bool progressed;            /* the first of them made progress */
    uint64_t mark;              /* bytes delivered when the last attempt
                                   began */
};

/* What one failed attempt left behind. */
struct http_attempt {
    bool retryable;             /* the failure is transient */
    uint64_t delivered;         /* bytes of the stream delivered so far */
    bool have_validator;        /* the stream has one (for a resume) */
    long retry_after;           /* seconds the server asked for, or -1 */
    double elapsed;             /* seconds since the download began */
    double jitter;              /* uniform in [0, 1): spreads the backoff */
};

enum http_retry_verdict {
    HTTP_RETRY,                 /* wait *delay_ms, then try again */
    HTTP_GIVE_UP,               /* not transient: the failure speaks */
    HTTP_GIVE_UP_COUNT,         /* --retries attempts in a row without
                                   progress */
    HTTP_GIVE_UP_TIME,          /* --retry-max-time would be passed */
    HTTP_GIVE_UP_UNVALIDATED,   /* cannot resume safely: no validator */
    HTTP_GIVE_UP_RETRY_AFTER,   /* the server asks for more than 300 s */
};

/*
 * Call once when an attempt begins (records the progress mark and counts
 * the attempt) ...
 */
void http_retry_begin(struct http_retry_state *st, uint64_t delivered);

/*
 * ... and once when it failed.  An attempt that delivered bytes past the
 * mark made progress: the count and the backoff start again (the next wait
 * is `delay_ms`).  After it, `retries` attempts in a row without progress
 * are retried; the next one without progress gives up.  `retries` 0 never
 * retries.  The wait
 * is the backoff (delay_ms * 2^(stalled-1), capped at 30 s, times 0.75 to
 * 1.25 by `jitter`) or the server's Retry-After (at most 300 s).  The whole
 * run, waits included, stays within max_time.
 */
enum http_retry_verdict http_policy_retry(const struct http_retry_policy *p,
                                          struct http_retry_state *st,
                                          const struct http_attempt *a,
                                          long *delay_ms);

/*
 * Why the download gave up, for the error detail ("" for HTTP_GIVE_UP:
 * the failure speaks for itself).
 */
void http_policy_give_up_text(enum http_retry_verdict v,
                              const struct http_retry_policy *p,
                              const struct http_retry_state *st,
                              const struct http_attempt *a, char *out,
                              size_t size);

/* The jittered backoff before the n-th consecutive retry (n >= 1), ms. */
long http_policy_backoff_ms(long first_ms, unsigned n, double jitter);

/* ----------------------------------------------------------- redirects */

enum http_redirect_verdict {
    HTTP_REDIRECT_FOLLOW,
    HTTP_REDIRECT_TOO_MANY,     /* more than HTTP_MAX_REDIRS hops */
    HTTP_REDIRECT_NOT_HTTP,     /* to file:, ftp:, or not a URL */
    HTTP_REDIRECT_DOWNGRADE,    /* https -> http, not allowed */
};

/* Which credentials a request may carry. */
struct http_hop {
    bool downgraded;            /* an https -> http hop happened on the way */
    bool send_headers;          /* the user's -H headers */
    bool send_netrc;            /* ~/.netrc credentials */
};

/*
 * The first request of an attempt, to the user's URL: headers always,
 * netrc when asked for.
 */
void http_policy_first_hop(bool netrc, struct http_hop *hop);

/*
 * May a redirect from `from` to `to` (absolute URLs) be followed as hop
 * number `hops` (1 = the first redirect)?  When it may, *hop (the previous
 * hop's, updated in place) says what the next request carries: the -H
 * headers only to the origin (scheme, host, port) of `user_url` and never
 * after a downgrade; netrc credentials (matched by libcurl by host name)
 * never after a downgrade.  A downgrade (from https to http) is refused
 * unless `allow_downgrade`.
 */
enum http_redirect_verdict http_policy_redirect(const char *user_url,
                                                const char *from,
                                                const char *to, int hops,
                                                bool netrc,
                                                bool allow_downgrade,
                                                struct http_hop *hop);

/* "scheme://host:port" of `url`, lower case; -1 if it does not parse. */
int http_policy_origin(const char *url, char *out, size_t size);

/* True for an absolute http:// or https:// URL. */
bool http_policy_is_http(const char *url);

/* ------------------------------------------------------------- messages */

/*
 * A URL for a message: without user:password (they may have come from the
 * command line), escaped (rz_escape: a Location header chose it, and may
 * hold terminal control sequences).
 */
void http_policy_url_text(const char *url, char *out, size_t size);

/*
 * libcurl's account of a failure for a message: its error buffer `detail`
 * (may be NULL or "") when it says more than `generic` (curl_easy_strerror),
 * without a trailing ": <generic>" that would repeat it; else `generic`.
 * Escaped (rz_escape): the buffer can quote a host or URL the server chose.
 */
void http_policy_curl_text(const char *generic, const char *detail,
                           char *out, size_t size);

/* ---------------------------------------------- how many connections */

/*
 * With the default --connections (the user did not choose N), http_multi
 * starts with one connection and tries one more at a time, up to `max`,
 * keeping each only if it paid.  The caller keeps windows: over each it
 * sums the seconds that passed (`elapsed`), the seconds its pushes
 * downstream took (`blocked`: a push waits while the decoder's queue is
 * full) and the body bytes received on every connection (`received`), and
 * asks as it goes; after any verdict but WAIT it starts a fresh window.
 *
 *   HTTP_CONN_WAIT    the window is too short to judge (HTTP_CONN_WINDOW
 *                     s, or HTTP_CONN_PROBE s for a probe): keep summing;
 *   HTTP_CONN_KEEP    the pushes blocked at least HTTP_CONN_BUSY of the
 *                     time (the stages behind the download are the limit,
 *                     another connection would only cost a chunk buffer),
 *                     or at `max`, or quiet after a probe that did not pay;
 *   HTTP_CONN_GROW    the downstream waited for the download: add one (a
 *                     probe).  The caller starts the probe's window when
 *                     the new connection's first body byte arrives, so
 *                     its connect and TLS handshake are not held against
 *                     it;
 *   HTTP_CONN_SHRINK  the probe's window received less than half of what
 *                     one more connection should have added (n to n+1
 *                     connections: at least 1 + 0.5/n times the window
 *                     before): the limit is not per connection (a server
 *                     or a CPU shared by all of them): drop the one added
 *                     and try again only after HTTP_CONN_QUIET s.
 * `st->active` is updated with the verdict.
 */
#define HTTP_CONN_WINDOW 0.1
#define HTTP_CONN_PROBE 0.3
#define HTTP_CONN_BUSY 0.25
#define HTTP_CONN_QUIET 10.0

enum http_conn_verdict {
    HTTP_CONN_WAIT, HTTP_CONN_KEEP, HTTP_CONN_GROW, HTTP_CONN_SHRINK
};

struct http_conn_state {
    unsigned active;            /* connections in use (starts at 1) */
    unsigned max;
    bool probing;               /* the window running follows a GROW */
    double rate_before;         /* bytes/s received in the window before */
    double quiet_until;         /* no probe before this time */
};

void http_conn_begin(struct http_conn_state *st, unsigned max);
enum http_conn_verdict http_policy_connections(struct http_conn_state *st,
                                               double now, double elapsed,
                                               double blocked,
                                               uint64_t received);

#endif
