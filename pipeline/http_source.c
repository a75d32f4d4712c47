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
 * Two error records: the caller's *err receives downstream failures, the
 * stop flag, and, when we give up, the last attempt's failure; t->aerr
 * holds the current attempt's own failure, which a retry clears.  Errors
 * found inside a callback are recorded at once and the callback aborts the
 * transfer; when libcurl returns, a recorded error wins over the CURLcode
 * the abort produced (the first cause is the one to report).
 */
#include "source.h"

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

#define HTTP_USER_AGENT "rzup-extract/0.1"
#define HTTP_MAX_REDIRS 10
#define HTTP_URL_MAX 400        /* how much of a URL goes into an error detail */
#define HTTP_VALIDATOR_MAX 256  /* longest ETag / Last-Modified we keep */
#define HTTP_BACKOFF_MAX_MS 30000L
#define HTTP_RETRY_AFTER_MAX 300L   /* seconds; a longer wait is not retried */
#define HTTP_SLEEP_SLICE_MS 50L     /* how often the stop flag is checked */

/* What one response said in its headers (reset at each status line). */
struct http_response {
    long status;                /* 0 until a status line (and for file://) */
    bool have_range;            /* a Content-Range "bytes A-B/T" was parsed */
    uint64_t range_start;
    int64_t range_total;        /* T, or -1 for "*" */
    int64_t length;             /* Content-Length, or -1 */
    bool location;              /* a Location header came */
    long retry_after;           /* seconds, or -1 */
    char etag[HTTP_VALIDATOR_MAX];
    char last_modified[HTTP_VALIDATOR_MAX];
};

/* What this request's body is, decided at its first byte. */
enum body_kind {
    BODY_UNDECIDED,   /* waiting for the first body byte or the end */
    BODY_STREAM,      /* bytes of the file: skip the first `skip`, push */
    BODY_IGNORE,      /* a redirect's body: received and dropped */
};

struct http_transfer {
    const struct http_source_options *o;
    CURL *h;
    struct curl_slist *headers;
    stage_push_fn push;
    void *ctx;
    volatile sig_atomic_t *stop;
    struct rz_error *err;     /* the caller's: downstream, stop, final */
    struct rz_error aerr;     /* this attempt's own failure */
    bool retryable;           /* aerr is a transient failure */
    long retry_after;         /* seconds the server asked for, or -1 */
    struct http_source_stats st;
    uint64_t pushed;          /* body bytes pushed, over all attempts */
    /* The file as the response that started the stream described it. */
    char validator[HTTP_VALIDATOR_MAX];  /* strong ETag or Last-Modified */
    bool validator_is_etag;
    int64_t total;            /* its length, or -1 */
    /* This request. */
    char *url;                /* the URL being requested (malloc'd) */
    struct http_response resp;
    enum body_kind body;
    uint64_t resume_from;     /* Range start sent, 0 = no Range */
    uint64_t skip;            /* body bytes still to drop (200 to a Range) */
    bool redirect;            /* the response is a redirect to follow */
    curl_off_t last_dlnow;    /* progress seen at last_byte_time */
    double last_byte_time;    /* monotonic seconds when bytes last came */
    uint64_t rng;             /* backoff jitter (xorshift64) */
    char errbuf[CURL_ERROR_SIZE];
};

static double monotonic_seconds(void)
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

/*
 * The URL to show in messages: the one requested last, with any
 * user:password removed (they may have come from the command line).
 */
static void url_for_message(struct http_transfer *t, char *out, size_t size)
{
    const char *url = t->url ? t->url : t->o->url;
    char *clean = NULL;
    CURLU *u = curl_url();

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK)
        url = clean;
    snprintf(out, size, "%s", url);
    curl_free(clean);
    curl_url_cleanup(u);
}

/* "scheme://host:port" of `url`, lower case, into out; -1 if unparsable. */
static int url_origin(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
               == CURLUE_OK) {
        snprintf(out, size, "%s://%s:%s", scheme, host, port);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static bool same_origin(const char *a, const char *b)
{
    char oa[HTTP_URL_MAX], ob[HTTP_URL_MAX];
    return url_origin(a, oa, sizeof oa) == 0
           && url_origin(b, ob, sizeof ob) == 0 && strcmp(oa, ob) == 0;
}

static bool is_http_url(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0
           || strncasecmp(url, "https://", 8) == 0;
}

/* ------------------------------------------------------ response headers */

/* Copy a header value without surrounding blanks and CR LF. */
static void header_value(const char *v, size_t len, char *out, size_t size)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n'
                   || v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len >= size)
        len = size - 1;   /* a validator this long is compared truncated */
    memcpy(out, v, len);
    out[len] = '\0';
}

/* "bytes A-B/T", or "bytes A-B/" followed by a star (total unknown). */
static void parse_content_range(struct http_response *r, const char *v)
{
    unsigned long long a, b, total;
    char c = 0;
    int n = sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &total);
    if (n == 3) {
        r->range_total = (int64_t)total;
    } else if (n == 2 && sscanf(v, "bytes %*u-%*u/%c", &c) == 1 && c == '*') {
        r->range_total = -1;
    } else {
        return;
    }
    r->have_range = true;
    r->range_start = a;
}

/* Retry-After: delay-seconds or an HTTP-date. */
static long parse_retry_after(const char *v)
{
    char *end;
    long secs = strtol(v, &end, 10);
    if (end != v && *end == '\0')
        return secs < 0 ? 0 : secs;
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static void response_header(struct http_response *r, const char *name,
                            size_t name_len, const char *v)
{
#define IS(n) (name_len == sizeof n - 1 && strncasecmp(name, n, name_len) == 0)
    if (IS("etag"))
        snprintf(r->etag, sizeof r->etag, "%s", v);
    else if (IS("last-modified"))
        snprintf(r->last_modified, sizeof r->last_modified, "%s", v);
    else if (IS("content-range"))
        parse_content_range(r, v);
    else if (IS("content-length"))
        r->length = strtoll(v, NULL, 10);
    else if (IS("location"))
        r->location = v[0] != '\0';
    else if (IS("retry-after"))
        r->retry_after = parse_retry_after(v);
#undef IS
}

static void response_reset(struct http_response *r, long status)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->range_total = -1;
    r->length = -1;
    r->retry_after = -1;
}

/*
 * One header line of any response (interim 1xx ones too: each status line
 * starts a fresh record; CONNECT responses of a proxy are suppressed).
 */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * nmemb;
    char value[HTTP_VALIDATOR_MAX];
    const char *colon = memchr(data, ':', len);
    int status;

    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', len);
        status = sp ? atoi(sp + 1) : 0;
        response_reset(&t->resp, status);
    } else if (colon) {
        size_t name_len = (size_t)(colon - data);
        header_value(colon + 1, len - name_len - 1, value, sizeof value);
        response_header(&t->resp, data, name_len, value);
    }
    return len;
}

/* ------------------------------------------------- deciding what a body is */

static bool transient_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503
           || s == 504;
}

/* The strong ETag, else Last-Modified, of a response; NULL if neither. */
static const char *response_validator(const struct http_response *r,
                                      bool *is_etag)
{
    *is_etag = r->etag[0] && strncmp(r->etag, "W/", 2) != 0;
    if (*is_etag)
        return r->etag;
    return r->last_modified[0] ? r->last_modified : NULL;
}

/* The response of a request without Range: the stream starts here. */
static int begin_fresh(struct http_transfer *t)
{
    const char *v = response_validator(&t->resp, &t->validator_is_etag);
    snprintf(t->validator, sizeof t->validator, "%s", v ? v : "");
    t->total = t->resp.status == 200 ? t->resp.length : -1;
    t->body = BODY_STREAM;
    return 0;
}

static int changed(struct http_transfer *t, const char *what)
{
    char url[HTTP_URL_MAX];
    url_for_message(t, url, sizeof url);
    return attempt_fail(t, false, RZ_E_NET_CHANGED,
                        "%s when resuming at byte %" PRIu64 " (%s)", what,
                        t->resume_from, url);
}

/* Does this response carry the validator the stream started with? */
static bool same_validator(struct http_transfer *t)
{
    const char *mine = t->validator_is_etag ? t->resp.etag
                                            : t->resp.last_modified;
    return strcmp(mine, t->validator) == 0;
}

/* The response to `Range: bytes=N-`. */
static int begin_resumed(struct http_transfer *t)
{
    struct http_response *r = &t->resp;
    bool have_validator = t->validator[0] != '\0';

    if (r->status == 416)
        return changed(t, "HTTP 416 (range not satisfiable)");
    if (r->status == 206) {
        if (!r->have_range || r->range_start != t->resume_from)
            return changed(t, "Content-Range does not start where asked");
        if (t->total >= 0 && r->range_total >= 0 && r->range_total != t->total)
            return changed(t, "the file's length changed");
        if (have_validator && !same_validator(t)
            && (t->validator_is_etag ? r->etag : r->last_modified)[0])
            return changed(t, t->validator_is_etag ? "the ETag changed"
                                                   : "Last-Modified changed");
        t->body = BODY_STREAM;
        return 0;
    }
    /* 200: the whole file again; ours only if provably the same file. */
    if (have_validator && !same_validator(t))
        return changed(t, t->validator_is_etag ? "the ETag changed"
                                               : "Last-Modified changed");
    if (t->total >= 0 && r->length >= 0 && r->length != t->total)
        return changed(t, "the file's length changed");
    t->skip = t->resume_from;
    t->body = BODY_STREAM;
    return 0;
}

static int status_failed(struct http_transfer *t)
{
    char url[HTTP_URL_MAX];
    long s = t->resp.status;
    bool retry = transient_status(s);

    url_for_message(t, url, sizeof url);
    if (retry && (s == 429 || s == 503))
        t->retry_after = t->resp.retry_after;
    return attempt_fail(t, retry, RZ_E_NET_HTTP_STATUS, "HTTP %ld from %s%s",
                        s, url,
                        s < 400 ? " (a redirect without a Location)" : "");
}

/*
 * Called once per request, at its first body byte or when it ended
 * without one.  file:// has no status (0) and is always the stream.
 */
static int response_begin(struct http_transfer *t)
{
    long s = t->resp.status;

    /* libcurl resolves the Location into CURLINFO_REDIRECT_URL only once
       the response has ended: follow_redirect reads it then. */
    if (s >= 300 && s < 400 && t->resp.location) {
        t->redirect = true;
        t->body = BODY_IGNORE;
        return 0;
    }
    if (s == 416 && t->resume_from > 0)
        return begin_resumed(t);
    if (s >= 300)
        return status_failed(t);
    if (t->resume_from == 0) {
        if (s == 206)
            return attempt_fail(t, false, RZ_E_NET_TRANSFER,
                                "HTTP 206 to a request without Range");
        return begin_fresh(t);
    }
    return begin_resumed(t);
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

    if (failed(t) || check_stop(t) < 0)
        return 0;
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
    double now = monotonic_seconds();
    long stall = t->o->stall_timeout;
    (void)dltotal, (void)ultotal, (void)ulnow;

    if (check_stop(t) < 0)
        return 1;
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
    bool own = same_origin(t->url, t->o->url);

    curl_slist_free_all(t->headers);
    t->headers = NULL;
    for (size_t i = 0; own && i < t->o->n_headers; i++)
        if (add_header(t, t->o->headers[i]) < 0)
            return -1;
    if (t->resume_from > 0 && t->validator[0]) {
        snprintf(line, sizeof line, "If-Range: %s", t->validator);
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
    if (t->resume_from > 0) {
        snprintf(range, sizeof range, "%" PRIu64 "-", t->resume_from);
        SETOPT(t, CURLOPT_RANGE, range);
    } else {
        SETOPT(t, CURLOPT_RANGE, (char *)NULL);
    }
    return set_headers(t);
}

/* Where and how to connect: protocols, TLS, credentials, timeouts. */
static int set_connection(struct http_transfer *t)
{
    const struct http_source_options *o = t->o;
    SETOPT(t, CURLOPT_PROTOCOLS_STR, "http,https,file");
    SETOPT(t, CURLOPT_FOLLOWLOCATION, 0L);   /* we follow: see the top */
    SETOPT(t, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SETOPT(t, CURLOPT_USERAGENT, HTTP_USER_AGENT);
    SETOPT(t, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    SETOPT(t, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->cacert)
        SETOPT(t, CURLOPT_CAINFO, o->cacert);
    if (o->netrc)
        SETOPT(t, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
    if (o->connect_timeout > 0)
        SETOPT(t, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
    SETOPT(t, CURLOPT_TCP_KEEPALIVE, 1L);
    return 0;
}

/* How the body and events come back to us. */
static int set_callbacks(struct http_transfer *t)
{
    /* No signals from libcurl: several transfers may run in threads. */
    SETOPT(t, CURLOPT_NOSIGNAL, 1L);
    /* Status is checked by us, so the error body is never pushed. */
    SETOPT(t, CURLOPT_FAILONERROR, 0L);
    SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
    SETOPT(t, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(t, CURLOPT_HEADERDATA, t);
    SETOPT(t, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(t, CURLOPT_WRITEDATA, t);
    SETOPT(t, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(t, CURLOPT_XFERINFODATA, t);
    SETOPT(t, CURLOPT_NOPROGRESS, 0L);
    if (t->o->verbose > 1)
        SETOPT(t, CURLOPT_VERBOSE, 1L);
    return 0;
}

static int transfer_setup(struct http_transfer *t)
{
    t->h = curl_easy_init();
    if (!t->h)
        return rz_error_set(t->err, RZ_E_NOMEM, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "curl_easy_init failed");
    if (set_connection(t) < 0 || set_callbacks(t) < 0)
        return -1;
    if (getrandom(&t->rng, sizeof t->rng, GRND_NONBLOCK) != sizeof t->rng)
        t->rng = (uint64_t)(monotonic_seconds() * 1e9);
    t->rng |= 1;
    t->total = -1;
    return 0;
}

/* ------------------------------------------------------------- requests */

static enum rz_code code_for(CURLcode rc)
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
static bool transient_curl(CURLcode rc)
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
    char url[HTTP_URL_MAX];
    const char *what = curl_easy_strerror(rc);
    const char *why = t->errbuf[0] ? t->errbuf : what;

    url_for_message(t, url, sizeof url);
    if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_WRITE_ERROR)
        return rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, t->pushed,
                            NULL, 0, "transfer aborted with no cause: %s",
                            why);
    return attempt_fail(t, transient_curl(rc), code_for(rc), "%s%s%s (%s)",
                        what, why == what ? "" : ": ",
                        why == what ? "" : why, url);
}

/* One request on t->url: 0 the stream ended, 1 a redirect, -1 failed. */
static int request_once(struct http_transfer *t)
{
    if (set_request(t) < 0)
        return -1;
    response_reset(&t->resp, 0);
    t->body = BODY_UNDECIDED;
    t->skip = 0;
    t->redirect = false;
    t->errbuf[0] = '\0';
    t->last_dlnow = 0;
    t->last_byte_time = monotonic_seconds();
    t->st.requests++;
    CURLcode rc = curl_easy_perform(t->h);
    if (failed(t))
        return -1;          /* a callback recorded the first cause */
    if (rc != CURLE_OK)
        return curl_failed(t, rc);
    /* An empty body never reached on_body: decide now. */
    if (t->body == BODY_UNDECIDED && response_begin(t) < 0)
        return -1;
    if (t->redirect)
        return 1;
    if (t->skip > 0)        /* a 200 shorter than what we already have */
        return changed(t, "the file became shorter");
    return 0;
}

/* Move t->url to the Location of the response just received. */
static int follow_redirect(struct http_transfer *t, int hops)
{
    char *location = NULL, *copy;
    char url[HTTP_URL_MAX];

    url_for_message(t, url, sizeof url);
    if (hops > HTTP_MAX_REDIRS)
        return attempt_fail(t, false, RZ_E_NET_HTTP_STATUS,
                            "more than %d redirects (at %s)", HTTP_MAX_REDIRS,
                            url);
    curl_easy_getinfo(t->h, CURLINFO_REDIRECT_URL, &location);
    if (!location || !is_http_url(location))
        return attempt_fail(t, false, RZ_E_NET_URL,
                            "redirect from %s to a URL that is not http(s)",
                            url);
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

static uint64_t next_random(struct http_transfer *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return t->rng;
}

/* Backoff before retry number `n` (1-based), in milliseconds. */
static long backoff_ms(struct http_transfer *t, unsigned n)
{
    long d = t->o->retry_delay_ms;
    for (unsigned i = 1; i < n && d < HTTP_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > HTTP_BACKOFF_MAX_MS)
        d = HTTP_BACKOFF_MAX_MS;
    /* +-25%: clients dropped together do not come back together */
    double f = 0.75 + 0.5 * (double)(next_random(t) >> 11) / 9007199254740992.0;
    return (long)((double)d * f);
}

/* Wait `ms`, waking every slice to honour the stop flag. */
static int sleep_ms(struct http_transfer *t, long ms)
{
    double end = monotonic_seconds() + (double)ms / 1000.0;
    for (;;) {
        if (check_stop(t) < 0)
            return -1;
        double left = end - monotonic_seconds();
        if (left <= 0)
            return 0;
        double slice = left < HTTP_SLEEP_SLICE_MS / 1000.0
                           ? left : HTTP_SLEEP_SLICE_MS / 1000.0;
        struct timespec ts = {(time_t)slice,
                              (long)((slice - (double)(time_t)slice) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/*
 * May the failed attempt be retried, and after how long?  When not, a note
 * on why goes into *why (empty if the failure speaks for itself).
 */
static bool retry_allowed(struct http_transfer *t, double started,
                          long *delay_ms, char *why, size_t why_size)
{
    const struct http_source_options *o = t->o;
    unsigned n = t->st.attempts;     /* retries so far + 1 */

    why[0] = '\0';
    if (t->err->code != RZ_E_OK || !t->retryable)
        return false;
    if (n > o->retries) {
        if (o->retries > 0)
            snprintf(why, why_size, "gave up after %u attempts", n);
        return false;
    }
    if (t->pushed > 0 && !t->validator[0] && !o->resume_unvalidated) {
        snprintf(why, why_size, "cannot resume at byte %" PRIu64 ": the "
                 "server sent no ETag or Last-Modified, so a changed file "
                 "would go unnoticed (pass --sha256 to allow it)", t->pushed);
        return false;
    }
    *delay_ms = backoff_ms(t, n);
    if (t->retry_after >= 0) {
        if (t->retry_after > HTTP_RETRY_AFTER_MAX) {
            snprintf(why, why_size, "the server asks to retry after %ld s",
                     t->retry_after);
            return false;
        }
        *delay_ms = t->retry_after * 1000;
    }
    if (o->retry_max_time > 0
        && monotonic_seconds() - started + (double)*delay_ms / 1000.0
               > (double)o->retry_max_time) {
        snprintf(why, why_size, "--retry-max-time %ld s reached after %u "
                 "attempts", o->retry_max_time, n);
        return false;
    }
    return true;
}

static void announce_retry(struct http_transfer *t, long delay_ms)
{
    char msg[RZ_ERROR_DETAIL_MAX + 256];
    char at[96] = "";
    const struct rz_error *e = &t->aerr;

    if (!t->o->notice)
        return;
    if (t->pushed > 0)
        snprintf(at, sizeof at, " (resuming at byte %" PRIu64 ")", t->pushed);
    snprintf(msg, sizeof msg, "retry %u/%u in %.1f s: %s%s%s%s",
             t->st.attempts, t->o->retries, (double)delay_ms / 1000.0,
             rz_code_message(e->code), e->detail[0] ? ": " : "", e->detail,
             at);
    t->o->notice(t->o->notice_ctx, msg);
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
    double started = monotonic_seconds();
    char why[RZ_ERROR_DETAIL_MAX];
    long delay_ms = 0;

    for (;;) {
        t->st.attempts++;
        t->retryable = false;
        t->retry_after = -1;
        rz_error_clear(&t->aerr);
        if (transfer_attempt(t) == 0)
            return 0;
        if (!retry_allowed(t, started, &delay_ms, why, sizeof why)) {
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
    if (transfer_setup(&t) == 0)
        rc = run_attempts(&t);
    curl_easy_cleanup(t.h);    /* NULL is fine */
    curl_slist_free_all(t.headers);
    free(t.url);
    t.st.length_verified = rc == 0 && t.total >= 0;
    if (o->stats)
        *o->stats = t.st;
    return rc;
}
