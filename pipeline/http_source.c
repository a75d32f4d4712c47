/*
 * http_source.c: one download with libcurl's easy interface, pushed into
 * the pipeline straight from the write callback, resumed in flight when
 * the network fails.
 *
 * libcurl hands us the body in the buffers it read into; we push each one
 * downstream as it comes and keep nothing, so the pipeline runs at the pace
 * of the network.
 *
 * Structure: http_transfer holds everything that outlives one request
 * (handle, bytes pushed so far, the first response's validator, counters).
 * request_once performs one HTTP request; transfer_attempt walks redirects
 * from the user's URL with request_once; http_source_run retries attempts
 * with backoff.  The header callback records what each response says
 * (status, ETag, Last-Modified, Content-Range, Retry-After) and
 * response_begin decides, once per request, what its body is: the stream
 * (pushed), the stream again from byte 0 (the first N bytes dropped: a
 * server that ignored Range), or not ours (a redirect's body, dropped).
 * Downstream never learns that a connection broke: the decoder and the
 * SHA-256 tap just see the next bytes.
 *
 * Redirects are followed here rather than by libcurl because libcurl sends
 * custom headers (-H) to every host it is redirected to; we send them only
 * to the origin of the user's URL.
 *
 * The decisions (is a response ours, may an attempt be retried and when,
 * may a redirect be followed and with which headers) are http_policy's:
 * this file performs what it decides.
 *
 * Two error records: the caller's *err receives downstream failures, the
 * stop flag, and, when we give up, the last attempt's failure; t->aerr
 * holds the current attempt's own failure, which a retry clears.  Errors
 * found inside a callback are recorded at once and the callback aborts the
 * transfer; when libcurl returns, a recorded error wins over the CURLcode
 * the abort produced (the first cause is the one to report).
 */
#include "source.h"

#include "http_policy.h"
#include "http_source.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define HTTP_USER_AGENT "rzup-extract/0.1"
#define HTTP_URL_MAX 400        /* how much of a URL goes into an error detail */
#define HTTP_SLEEP_SLICE_MS 50L     /* how often the stop flag is checked */

/* What this request's body is, decided at its first byte. */
enum body_kind {
    BODY_UNDECIDED,   /* waiting for the first body byte or the end */
    BODY_STREAM,      /* bytes of the file: skip the first `skip`, push */
    BODY_IGNORE,      /* a redirect's body, or a 416's: received, dropped */
};

struct http_transfer {
    const struct http_source_options *o;
    CURL *h;
    struct curl_slist *headers;
    stage_push_fn push;
    void *ctx;
    stage_push_fn down;       /* with a driver: push is its put, and */
    void *down_ctx;           /* the driver's perform pushes to down */
    volatile sig_atomic_t *stop;
    struct rz_error *err;     /* the caller's: downstream, stop, final */
    struct rz_error aerr;     /* this attempt's own failure */
    bool retryable;           /* aerr is a transient failure */
    long retry_after;         /* seconds the server asked for, or -1 */
    struct http_source_stats st;
    struct http_retry_state rs;
    uint64_t pushed;          /* body bytes pushed, over all attempts */
    struct http_stream stream;  /* the file as its first response said */
    /* This request. */
    char *url;                /* the URL being requested (malloc'd) */
    struct http_hop hop;      /* what the request may carry */
    struct http_response resp;
    enum body_kind body;
    uint64_t resume_from;     /* Range start sent, 0 = no Range */
    uint64_t skip;            /* body bytes still to drop (200 to a Range) */
    bool redirect;            /* the response is a redirect to follow */
    bool complete;            /* a 416 said every byte had arrived */
    curl_off_t last_dlnow;    /* progress seen at last_byte_time */
    double last_byte_time;    /* monotonic seconds when bytes last came */
    uint64_t rng;             /* backoff jitter (xorshift64) */
    char errbuf[CURL_ERROR_SIZE];
};

double http_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Record this attempt's failure (first cause wins); always -1. */
static int attempt_fail(struct http_transfer *t, bool retryable,
                        enum rz_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int attempt_fail(struct http_transfer *t, bool retryable,
                        enum rz_code code, const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;
    if (t->aerr.code != RZ_E_OK)
        return -1;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    t->retryable = retryable;
    return rz_error_set(&t->aerr, code, 0, RZ_OFF_RAW, t->pushed, NULL, 0,
                        "%s", detail);
}

static bool failed(const struct http_transfer *t)
{
    return t->err->code != RZ_E_OK || t->aerr.code != RZ_E_OK;
}

/* ----------------------------------------------------------------- URLs */

static bool scheme_char(char c, bool first)
{
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (first)
        return alpha;
    return alpha || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

bool source_is_url(const char *s)
{
    size_t i = 0;
    if (!s || !scheme_char(s[0], true))
        return false;
    while (scheme_char(s[i], i == 0))
        i++;
    return strncmp(s + i, "://", 3) == 0;
}

/* The URL requested last, for a message (see http_policy_url_text). */
static void url_for_message(struct http_transfer *t, char *out, size_t size)
{
    http_policy_url_text(t->url ? t->url : t->o->url, out, size);
}

/* ------------------------------------------------------ response headers */

/*
 * One header line of any response (interim 1xx ones too: each status line
 * starts a fresh record; CONNECT responses of a proxy are suppressed).
 */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * nmemb;
    http_response_line(&t->resp, data, len, time(NULL));
    return len;
}

/* ------------------------------------------------- deciding what a body is */

static int changed(struct http_transfer *t, const char *what)
{
    char url[HTTP_URL_MAX];
    url_for_message(t, url, sizeof url);
    return attempt_fail(t, false, RZ_E_NET_CHANGED,
                        "%s when resuming at byte %" PRIu64 " (%s)", what,
                        t->resume_from, url);
}

static int status_failed(struct http_transfer *t,
                         const struct http_body_decision *d)
{
    char url[HTTP_URL_MAX], reason[HTTP_REASON_MAX * 4 + 8] = "";
    long s = t->resp.status;

    url_for_message(t, url, sizeof url);
    if (t->resp.reason[0]) {
        reason[0] = ' ';
        rz_escape(t->resp.reason, strlen(t->resp.reason), reason + 1,
                  sizeof reason - 1);
    }
    t->retry_after = d->retry_after;
    return attempt_fail(t, d->retryable, RZ_E_NET_HTTP_STATUS,
                        "HTTP %ld%s from %s%s%s%s", s, reason, url,
                        d->why ? " (" : "", d->why ? d->why : "",
                        d->why ? ")" : "");
}

/*
 * Called once per request, at its first body byte or when it ended
 * without one.  file:// has no status (0) and is always the stream.
 */
static int response_begin(struct http_transfer *t)
{
    struct http_body_decision d;
    char range[HTTP_RANGE_TEXT_MAX * 4 + 4];

    http_policy_body(&t->resp, t->resume_from, -1,
                     t->resume_from > 0 ? &t->stream : NULL, &d);
    switch (d.verdict) {
    case HTTP_BODY_REDIRECT:
        /* libcurl resolves the Location into CURLINFO_REDIRECT_URL only
           once the response has ended: follow_redirect reads it then. */
        t->redirect = true;
        t->body = BODY_IGNORE;
        return 0;
    case HTTP_BODY_STATUS:
        return status_failed(t, &d);
    case HTTP_BODY_COMPLETE:
        t->complete = true;
        t->body = BODY_IGNORE;
        return 0;
    case HTTP_BODY_PROTOCOL:
        return attempt_fail(t, false, RZ_E_NET_TRANSFER, "%s", d.why);
    case HTTP_BODY_CHANGED:
        if (t->resp.range_text[0] && strstr(d.why, "Content-Range")) {
            rz_escape(t->resp.range_text, strlen(t->resp.range_text), range,
                      sizeof range);
            char why[RZ_ERROR_DETAIL_MAX];
            snprintf(why, sizeof why, "%s (\"%s\")", d.why, range);
            return changed(t, why);
        }
        return changed(t, d.why);
    case HTTP_BODY_STREAM:
        break;
    }
    if (t->resume_from == 0) {
        http_policy_stream_begin(&t->resp, &t->stream);
        if (t->o->on_total && t->stream.total >= 0)
            t->o->on_total(t->o->notice_ctx, t->stream.total);
    }
    t->skip = d.skip;
    t->body = BODY_STREAM;
    return 0;
}

/* ------------------------------------------------------------ callbacks */

static int check_stop(struct http_transfer *t)
{
    if (t->stop && *t->stop)
        return rz_error_set(t->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW,
                            t->pushed, NULL, 0, NULL);
    return 0;
}

/* Push what remains of `data` after dropping the bytes still to skip. */
static int stream_body(struct http_transfer *t, const char *data, size_t len)
{
    size_t drop = t->skip < len ? (size_t)t->skip : len;
    t->skip -= drop;
    t->st.bytes_discarded += drop;
    data += drop;
    len -= drop;
    if (len == 0)
        return 0;
    if (t->push(t->ctx, (const uint8_t *)data, len) < 0)
        return rz_error_downstream(t->err, RZ_OFF_RAW, t->pushed,
                                   "a stage after the download");
    t->pushed += len;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * nmemb;

    if (t->o->driver) {      /* on the driver's thread: t->err is not ours */
        const struct http_driver *d = t->o->driver;
        int room = t->aerr.code != RZ_E_OK ? -1 : d->room(d->dctx, len);
        if (room == 0)
            return CURL_WRITEFUNC_PAUSE;
        if (room < 0)
            return 0;
    } else if (failed(t) || check_stop(t) < 0) {
        return 0;
    }
    if (t->body == BODY_UNDECIDED && response_begin(t) < 0)
        return 0;
    t->st.bytes_received += len;
    if (t->body == BODY_STREAM && stream_body(t, data, len) < 0)
        return 0;
    return len;
}

/*
 * libcurl calls this often while bytes flow and about once a second while
 * idle.  It carries the stop flag and the stall timeout.  We time stalls
 * ourselves: CURLOPT_LOW_SPEED_TIME averages speed over several seconds,
 * so a few early bytes delay its verdict well past the limit.
 */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    struct http_transfer *t = ud;
    double now = http_monotonic();
    long stall = t->o->stall_timeout;
    (void)dltotal, (void)ultotal, (void)ulnow;

    if (t->o->driver) {
        if (t->o->driver->paused(t->o->driver->dctx))
            t->last_byte_time = now;   /* waiting for our pipeline */
    } else if (check_stop(t) < 0) {
        return 1;
    }
    if (dlnow != t->last_dlnow) {
        t->last_dlnow = dlnow;
        t->last_byte_time = now;
    } else if (stall > 0 && now - t->last_byte_time >= (double)stall) {
        attempt_fail(t, true, RZ_E_NET_TIMEOUT, "no data received for %ld s",
                     stall);
        return 1;
    }
    return 0;
}

/*
 * -vv: libcurl's trace, escaped.  Its text and the headers both ways are
 * printed (a header line per line); bodies are not.  Whatever the server
 * sent reaches the terminal only through rz_escape.
 */
int http_trace(CURL *h, curl_infotype type, char *data, size_t size,
                      void *ud)
{
    static const char *const prefix[] = {"* ", "< ", "> "};
    char line[1024];
    int which;
    (void)h, (void)ud;

    if (type == CURLINFO_TEXT)
        which = 0;
    else if (type == CURLINFO_HEADER_IN)
        which = 1;
    else if (type == CURLINFO_HEADER_OUT)
        which = 2;
    else
        return 0;
    while (size > 0) {
        const char *nl = memchr(data, '\n', size);
        size_t n = nl ? (size_t)(nl - data) + 1 : size, len = n;
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            len--;
        if (len) {
            rz_escape(data, len, line, sizeof line);
            fprintf(stderr, "%s%s\n", prefix[which], line);
        }
        data += n;
        size -= n;
    }
    return 0;
}

/* --------------------------------------------------------------- set-up */

static int setopt_failed(struct http_transfer *t, const char *name,
                         CURLcode rc)
{
    return rz_error_set(t->err, rc == CURLE_OUT_OF_MEMORY ? RZ_E_NOMEM
                                                          : RZ_E_INTERNAL,
                        0, RZ_OFF_NONE, 0, NULL, 0, "libcurl %s: %s", name,
                        curl_easy_strerror(rc));
}

#define SETOPT(t, opt, val)                                                \
    do {                                                                   \
        CURLcode setopt_rc_ = curl_easy_setopt((t)->h, opt, val);          \
        if (setopt_rc_ != CURLE_OK)                                        \
            return setopt_failed(t, #opt, setopt_rc_);                     \
    } while (0)

static int add_header(struct http_transfer *t, const char *line)
{
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (!l)
        return rz_error_set(t->err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                            0, "HTTP header list");
    t->headers = l;
    return 0;
}

/* The user's headers (to the user's origin only) and If-Range. */
static int set_headers(struct http_transfer *t)
{
    char line[HTTP_VALIDATOR_MAX + 16];

    curl_slist_free_all(t->headers);
    t->headers = NULL;
    for (size_t i = 0; t->hop.send_headers && i < t->o->n_headers; i++)
        if (add_header(t, t->o->headers[i]) < 0)
            return -1;
    if (t->resume_from > 0 && t->stream.validator[0]) {
        snprintf(line, sizeof line, "If-Range: %s", t->stream.validator);
        if (add_header(t, line) < 0)
            return -1;
    }
    SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
    return 0;
}

/* What changes from one request to the next: URL, headers, Range. */
static int set_request(struct http_transfer *t)
{
    char range[32];
    SETOPT(t, CURLOPT_URL, t->url);
    SETOPT(t, CURLOPT_NETRC, t->hop.send_netrc ? (long)CURL_NETRC_OPTIONAL
                                               : (long)CURL_NETRC_IGNORED);
    if (t->resume_from > 0) {
        snprintf(range, sizeof range, "%" PRIu64 "-", t->resume_from);
        SETOPT(t, CURLOPT_RANGE, range);
    } else {
        SETOPT(t, CURLOPT_RANGE, (char *)NULL);
    }
    return set_headers(t);
}

#define EASY_SET(h, opt, val)                                              \
    do {                                                                   \
        CURLcode setopt_rc_ = curl_easy_setopt(h, opt, val);               \
        if (setopt_rc_ != CURLE_OK)                                        \
            return easy_setopt_failed(err, #opt, setopt_rc_);              \
    } while (0)

static int easy_setopt_failed(struct rz_error *err, const char *name,
                              CURLcode rc)
{
    return rz_error_set(err, rc == CURLE_OUT_OF_MEMORY ? RZ_E_NOMEM
                                                       : RZ_E_INTERNAL,
                        0, RZ_OFF_NONE, 0, NULL, 0, "libcurl %s: %s", name,
                        curl_easy_strerror(rc));
}

/* One trust rule for every connection, one or several: when the CA file
 * (--cacert, or libcurl's built-in bundle) is readable, the CA directory is
 * left out. Debian's libcurl sets both, and a CA directory stops libcurl
 * sharing its parsed store between handles, so each connection parsed the
 * whole bundle again (about 0.95 MiB each, measured by tools/bench --rss).
 * On Debian the bundle is built from the same certificates as the directory
 * (update-ca-certificates); a certificate dropped into /etc/ssl/certs by hand
 * without that step is no longer trusted: trust only narrows, never widens.
 * With no readable file, libcurl's defaults stand. */
static int ca_file_only(CURL *h, const struct http_source_options *o,
                        struct rz_error *err)
{
#if LIBCURL_VERSION_NUM >= 0x075400     /* CURLINFO_CAINFO: 7.84.0 */
    char *cainfo = (char *)o->cacert;
    if (o->insecure)
        return 0;
    if (!cainfo && curl_easy_getinfo(h, CURLINFO_CAINFO, &cainfo) != CURLE_OK)
        return 0;
    if (cainfo && access(cainfo, R_OK) == 0)
        EASY_SET(h, CURLOPT_CAPATH, NULL);
#else
    (void)h; (void)o; (void)err;
#endif
    return 0;
}

int http_easy_connection(CURL *h, const struct http_source_options *o,
                         const char *protocols, struct rz_error *err)
{
    EASY_SET(h, CURLOPT_PROTOCOLS_STR, protocols);
    EASY_SET(h, CURLOPT_FOLLOWLOCATION, 0L);   /* we follow: see the top */
    EASY_SET(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    EASY_SET(h, CURLOPT_USERAGENT, HTTP_USER_AGENT);
    EASY_SET(h, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    EASY_SET(h, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->cacert)
        EASY_SET(h, CURLOPT_CAINFO, o->cacert);
    if (ca_file_only(h, o, err) < 0)
        return -1;
    if (o->connect_timeout > 0)
        EASY_SET(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
    EASY_SET(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* No signals from libcurl: several transfers may run in threads. */
    EASY_SET(h, CURLOPT_NOSIGNAL, 1L);
    /* Status is checked by us, so an error body is never pushed. */
    EASY_SET(h, CURLOPT_FAILONERROR, 0L);
    if (o->verbose > 1) {
        EASY_SET(h, CURLOPT_DEBUGFUNCTION, http_trace);
        EASY_SET(h, CURLOPT_VERBOSE, 1L);
    }
    return 0;
}

/* How the body and events come back to us. */
static int set_callbacks(struct http_transfer *t)
{
    SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
    SETOPT(t, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(t, CURLOPT_HEADERDATA, t);
    SETOPT(t, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(t, CURLOPT_WRITEDATA, t);
    SETOPT(t, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(t, CURLOPT_XFERINFODATA, t);
    SETOPT(t, CURLOPT_NOPROGRESS, 0L);
    return 0;
}

static int transfer_setup(struct http_transfer *t)
{
    t->h = curl_easy_init();
    if (!t->h)
        return rz_error_set(t->err, RZ_E_NOMEM, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "curl_easy_init failed");
    if (http_easy_connection(t->h, t->o, "http,https,file", t->err) < 0
        || set_callbacks(t) < 0)
        return -1;
    if (getrandom(&t->rng, sizeof t->rng, GRND_NONBLOCK) != sizeof t->rng)
        t->rng = (uint64_t)(http_monotonic() * 1e9);
    t->rng |= 1;
    t->stream.total = -1;
    return 0;
}

/* ------------------------------------------------------------- requests */

enum rz_code http_code_for(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return RZ_E_NET_RESOLVE;
    case CURLE_COULDNT_CONNECT:
        return RZ_E_NET_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return RZ_E_NET_TLS;
    case CURLE_OPERATION_TIMEDOUT:
        return RZ_E_NET_TIMEOUT;
    case CURLE_PARTIAL_FILE:
        return RZ_E_NET_TRUNCATED;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return RZ_E_NET_URL;
    case CURLE_FILE_COULDNT_READ_FILE:
        return RZ_E_IO_READ;
    case CURLE_OUT_OF_MEMORY:
        return RZ_E_NOMEM;
    default:
        return RZ_E_NET_TRANSFER;
    }
}

/* Failures a new connection may cure. */
bool http_transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static int curl_failed(struct http_transfer *t, CURLcode rc)
{
    char url[HTTP_URL_MAX], why[CURL_ERROR_SIZE * 4];

    url_for_message(t, url, sizeof url);
    http_policy_curl_text(curl_easy_strerror(rc), t->errbuf, why, sizeof why);
    if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_WRITE_ERROR)
        return rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, t->pushed,
                            NULL, 0, "transfer aborted with no cause: %s",
                            why);
    return attempt_fail(t, http_transient_curl(rc), http_code_for(rc), "%s (%s)", why,
                        url);
}

/* A 416 said the bytes already pushed are the whole file. */
static int complete(struct http_transfer *t)
{
    char msg[160];
    if (t->o->notice) {
        snprintf(msg, sizeof msg, "the server has no bytes after %" PRIu64
                 " (HTTP 416): the download is complete", t->pushed);
        t->o->notice(t->o->notice_ctx, msg);
    }
    return 0;
}

/* One request on t->url: 0 the stream ended, 1 a redirect, -1 failed. */
static int request_once(struct http_transfer *t)
{
    if (set_request(t) < 0)
        return -1;
    http_response_reset(&t->resp, 0);
    t->body = BODY_UNDECIDED;
    t->skip = 0;
    t->redirect = false;
    t->complete = false;
    t->errbuf[0] = '\0';
    t->last_dlnow = 0;
    t->last_byte_time = http_monotonic();
    t->st.requests++;
    const struct http_driver *d = t->o->driver;
    CURLcode rc = d ? (CURLcode)d->perform(d->dctx, t->h, t->down,
                                           t->down_ctx, t->stop, t->err)
                    : curl_easy_perform(t->h);
    if (failed(t))
        return -1;          /* a callback recorded the first cause */
    if (rc != CURLE_OK)
        return curl_failed(t, rc);
    /* An empty body never reached on_body: decide now. */
    if (t->body == BODY_UNDECIDED && response_begin(t) < 0)
        return -1;
    if (t->redirect)
        return 1;
    if (t->complete)
        return complete(t);
    if (t->skip > 0)        /* a 200 shorter than what we already have */
        return changed(t, "the file became shorter");
    return 0;
}

/* Move t->url to the Location of the response just received. */
static int follow_redirect(struct http_transfer *t, int hops)
{
    char *location = NULL, *copy;
    char url[HTTP_URL_MAX], to[HTTP_URL_MAX];
    const struct http_source_options *o = t->o;

    url_for_message(t, url, sizeof url);
    curl_easy_getinfo(t->h, CURLINFO_REDIRECT_URL, &location);
    switch (http_policy_redirect(o->url, t->url, location, hops, o->netrc,
                                 o->allow_downgrade, &t->hop)) {
    case HTTP_REDIRECT_FOLLOW:
        break;
    case HTTP_REDIRECT_TOO_MANY:
        return attempt_fail(t, false, RZ_E_NET_HTTP_STATUS,
                            "more than %d redirects (at %s)", HTTP_MAX_REDIRS,
                            url);
    case HTTP_REDIRECT_NOT_HTTP:
        return attempt_fail(t, false, RZ_E_NET_URL,
                            "redirect from %s to a URL that is not http(s)",
                            url);
    case HTTP_REDIRECT_DOWNGRADE:
        http_policy_url_text(location, to, sizeof to);
        return attempt_fail(t, false, RZ_E_NET_DOWNGRADE,
                            "from %s to %s", url, to);
    }
    if (!(copy = strdup(location)))
        return rz_error_set(t->err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                            0, "redirect URL");
    free(t->url);
    t->url = copy;
    return 0;
}

/*
 * One attempt of the download: from the user's URL through its redirects
 * to the end of the body, asking for the bytes after t->pushed.
 */
static int transfer_attempt(struct http_transfer *t)
{
    free(t->url);
    if (!(t->url = strdup(t->o->url)))
        return rz_error_set(t->err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                            0, "URL");
    http_policy_first_hop(t->o->netrc, &t->hop);
    t->resume_from = t->pushed;
    if (t->resume_from > 0)
        t->st.resumes++;
    for (int hops = 1;; hops++) {
        int rc = request_once(t);
        if (rc <= 0)
            return rc;
        if (follow_redirect(t, hops) < 0)
            return -1;
    }
}

/* -------------------------------------------------------------- retries */

static double next_jitter(struct http_transfer *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return (double)(t->rng >> 11) / 9007199254740992.0;
}

/* Wait `ms`, waking every slice to honour the stop flag. */
static int sleep_ms(struct http_transfer *t, long ms)
{
    double end = http_monotonic() + (double)ms / 1000.0;
    for (;;) {
        if (check_stop(t) < 0)
            return -1;
        double left = end - http_monotonic();
        if (left <= 0)
            return 0;
        double slice = left < HTTP_SLEEP_SLICE_MS / 1000.0
                           ? left : HTTP_SLEEP_SLICE_MS / 1000.0;
        struct timespec ts = {(time_t)slice,
                              (long)((slice - (double)(time_t)slice) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void announce_retry(struct http_transfer *t, long delay_ms)
{
    char msg[RZ_ERROR_DETAIL_MAX + 256];
    char at[96] = "";
    const struct rz_error *e = &t->aerr;

    if (!t->o->on_retry && !t->o->notice)
        return;
    if (t->pushed > 0)
        snprintf(at, sizeof at, " (resuming at byte %" PRIu64 ")", t->pushed);
    snprintf(msg, sizeof msg, "retry %u/%u in %.1f s: %s%s%s%s",
             t->rs.stalled, t->o->retries, (double)delay_ms / 1000.0,
             rz_code_message(e->code), e->detail[0] ? ": " : "", e->detail,
             at);
    (t->o->on_retry ? t->o->on_retry : t->o->notice)(t->o->notice_ctx, msg);
}

/* Hand the last attempt's failure to the caller, with `why` appended. */
static void give_up(struct http_transfer *t, const char *why)
{
    const struct rz_error *e = &t->aerr;
    if (e->code == RZ_E_OK)
        return;
    rz_error_set(t->err, e->code, e->sys_errno, e->offset_kind, e->offset,
                 NULL, 0, "%s%s%s", e->detail, why[0] ? "; " : "", why);
}

static int run_attempts(struct http_transfer *t)
{
    const struct http_source_options *o = t->o;
    struct http_retry_policy p = {o->retries, o->retry_delay_ms,
                                  o->retry_max_time, o->resume_unvalidated};
    double started = http_monotonic();
    char why[RZ_ERROR_DETAIL_MAX];
    long delay_ms = 0;

    for (;;) {
        t->st.attempts++;
        t->retryable = false;
        t->retry_after = -1;
        rz_error_clear(&t->aerr);
        http_retry_begin(&t->rs, t->pushed);
        if (transfer_attempt(t) == 0)
            return 0;
        if (t->err->code != RZ_E_OK)
            return -1;
        struct http_attempt a = {
            .retryable = t->retryable, .delivered = t->pushed,
            .have_validator = t->stream.validator[0] != '\0',
            .retry_after = t->retry_after,
            .elapsed = http_monotonic() - started,
            .jitter = next_jitter(t)};
        enum http_retry_verdict v = http_policy_retry(&p, &t->rs, &a,
                                                      &delay_ms);
        if (v != HTTP_RETRY) {
            http_policy_give_up_text(v, &p, &t->rs, &a, why, sizeof why);
            give_up(t, why);
            return -1;
        }
        announce_retry(t, delay_ms);
        if (sleep_ms(t, delay_ms) < 0)
            return -1;
    }
}

int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    struct rz_error *err)
{
    struct http_transfer t = {.o = o, .push = push, .ctx = ctx, .stop = stop,
                              .err = err};
    int rc = -1;
    if (err->code != RZ_E_OK)
        return -1;
    rz_error_clear(&t.aerr);
    if (o->driver) {
        t.down = push, t.down_ctx = ctx;
        t.push = o->driver->put, t.ctx = o->driver->dctx;
    }
    if (transfer_setup(&t) == 0)
        rc = run_attempts(&t);
    curl_easy_cleanup(t.h);    /* NULL is fine */
    curl_slist_free_all(t.headers);
    free(t.url);
    /* not after a 416 that ended a download shorter than its
       Content-Length said */
    t.st.length_verified = rc == 0 && t.stream.total >= 0
                           && t.pushed == (uint64_t)t.stream.total;
    if (o->stats)
        *o->stats = t.st;
    return rc;
}
