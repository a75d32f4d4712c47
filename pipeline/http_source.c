/*
 * http_source.c: one download with libcurl's easy interface, pushed into
 * the pipeline straight from the write callback.
 *
 * libcurl hands us the body in the buffers it read into; we push each one
 * downstream as it comes and keep nothing, so the pipeline runs at the pace
 * of the network.
 *
 * Structure: http_transfer holds everything that outlives one connection
 * (handle, header list, bytes pushed so far); transfer_attempt performs one
 * request and turns its outcome into *err; http_source_run sets up and
 * drives.  Resuming with Range/If-Range and retrying fit between the last
 * two without touching the callbacks.
 *
 * Errors found inside a callback are recorded in *err at once and the
 * callback aborts the transfer; when libcurl returns, a set *err wins over
 * whatever CURLcode the abort produced (errors are sticky, the first cause
 * is the one to report).
 */
#include "source.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#define HTTP_USER_AGENT "rzup-extract/0.1"
#define HTTP_MAX_REDIRS 10L
#define HTTP_URL_MAX 400   /* how much of a URL goes into an error detail */

struct http_transfer {
    const struct http_source_options *o;
    CURL *h;
    struct curl_slist *headers;
    stage_push_fn push;
    void *ctx;
    volatile sig_atomic_t *stop;
    struct rz_error *err;
    uint64_t pushed;          /* body bytes pushed, over all attempts */
    curl_off_t last_dlnow;    /* progress seen at last_byte_time */
    double last_byte_time;    /* monotonic seconds when bytes last came */
    bool status_checked;      /* this attempt's final status was looked at */
    char errbuf[CURL_ERROR_SIZE];
};

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
 * The URL to show in messages: the one after redirects, with any
 * user:password removed (they may have come from the command line).
 */
static void url_for_message(struct http_transfer *t, char *out, size_t size)
{
    const char *url = NULL;
    char *clean = NULL;
    CURLU *u = curl_url();

    if (curl_easy_getinfo(t->h, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK
        || !url)
        url = t->o->url;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK)
        url = clean;
    snprintf(out, size, "%s", url);
    curl_free(clean);
    curl_url_cleanup(u);
}

/* ------------------------------------------------------------ callbacks */

/*
 * Fail on an error status before the first body byte goes downstream.  A
 * followed redirect's body never reaches the write callback, so a 3xx seen
 * here is one libcurl could not follow.  file:// has no status (0).
 */
static int check_status(struct http_transfer *t)
{
    long status = 0;
    char url[HTTP_URL_MAX];

    t->status_checked = true;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 300)
        return 0;
    url_for_message(t, url, sizeof url);
    return rz_error_set(t->err, RZ_E_NET_HTTP_STATUS, 0, RZ_OFF_RAW,
                        t->pushed, NULL, 0, "HTTP %ld from %s%s", status, url,
                        status < 400 ? " (a redirect without a Location)"
                                     : "");
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * nmemb;

    if (t->err->code != RZ_E_OK)
        return 0;
    if (!t->status_checked && check_status(t) < 0)
        return 0;
    if (t->stop && *t->stop) {
        rz_error_set(t->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW, t->pushed,
                     NULL, 0, NULL);
        return 0;
    }
    if (len == 0)
        return 0;
    if (t->push(t->ctx, (const uint8_t *)data, len) < 0) {
        if (t->err->code == RZ_E_OK)
            rz_error_set(t->err, RZ_E_INTERNAL, 0, RZ_OFF_RAW, t->pushed,
                         NULL, 0, "a stage failed without saying why");
        return 0;
    }
    t->pushed += len;
    return len;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

    if (t->stop && *t->stop) {
        rz_error_set(t->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW, t->pushed,
                     NULL, 0, NULL);
        return 1;
    }
    if (dlnow != t->last_dlnow) {
        t->last_dlnow = dlnow;
        t->last_byte_time = now;
    } else if (stall > 0 && now - t->last_byte_time >= (double)stall) {
        rz_error_set(t->err, RZ_E_NET_TIMEOUT, 0, RZ_OFF_RAW, t->pushed, NULL,
                     0, "no data received for %ld s", stall);
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

static int set_headers(struct http_transfer *t)
{
    for (size_t i = 0; i < t->o->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(t->headers, t->o->headers[i]);
        if (!l)
            return rz_error_set(t->err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0,
                                NULL, 0, "HTTP header list");
        t->headers = l;
    }
    if (t->headers)
        SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
    return 0;
}

/* Where and how to connect: protocols, redirects, TLS, credentials. */
static int set_connection(struct http_transfer *t)
{
    const struct http_source_options *o = t->o;
    SETOPT(t, CURLOPT_URL, o->url);
    SETOPT(t, CURLOPT_PROTOCOLS_STR, "http,https,file");
    SETOPT(t, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(t, CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(t, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRS);
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
    return set_headers(t);
}

/* How the body and events come back to us. */
static int set_callbacks(struct http_transfer *t)
{
    /* No signals from libcurl: several transfers may run in threads. */
    SETOPT(t, CURLOPT_NOSIGNAL, 1L);
    /* Status is checked by us, so the error body is never pushed. */
    SETOPT(t, CURLOPT_FAILONERROR, 0L);
    SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
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
    return 0;
}

/* ------------------------------------------------------------- attempts */

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
    return rz_error_set(t->err, code_for(rc), 0, RZ_OFF_RAW, t->pushed, NULL,
                        0, "%s%s%s (%s)", what, why == what ? "" : ": ",
                        why == what ? "" : why, url);
}

/* One request from start to end; 0 if the whole body was pushed. */
static int transfer_attempt(struct http_transfer *t)
{
    t->status_checked = false;
    t->errbuf[0] = '\0';
    t->last_dlnow = 0;
    t->last_byte_time = monotonic_seconds();
    CURLcode rc = curl_easy_perform(t->h);
    if (t->err->code != RZ_E_OK)
        return -1;          /* a callback recorded the first cause */
    if (rc != CURLE_OK)
        return curl_failed(t, rc);
    /* An empty body never reached on_body: check the status now. */
    if (!t->status_checked)
        return check_status(t);
    return 0;
}

int http_source_run(const struct http_source_options *o, stage_push_fn push,
                    void *ctx, volatile sig_atomic_t *stop,
                    uint64_t *raw_bytes, struct rz_error *err)
{
    struct http_transfer t = {.o = o, .push = push, .ctx = ctx, .stop = stop,
                              .err = err};
    int rc = -1;
    if (raw_bytes)
        *raw_bytes = 0;
    if (err->code != RZ_E_OK)
        return -1;
    if (transfer_setup(&t) == 0)
        rc = transfer_attempt(&t);
    curl_easy_cleanup(t.h);    /* NULL is fine */
    curl_slist_free_all(t.headers);
    if (raw_bytes)
        *raw_bytes = t.pushed;
    return rc;
}
