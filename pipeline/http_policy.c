/*
 * http_policy.c: what a download does next, decided from what it knows.
 * See http_policy.h; nothing here touches a socket, a clock or the heap
 * (libcurl's URL parser allocates and frees inside one call).
 */
#include "http_policy.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../formats/rz_error.h"

/* ------------------------------------------------------------ responses */

void http_response_reset(struct http_response *r, long status)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->range_total = -1;
    r->length = -1;
    r->retry_after = -1;
}

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
    snprintf(r->range_text, sizeof r->range_text, "%.*s",
             (int)sizeof r->range_text - 1, v);
    if (n == 3) {
        r->range_total = (int64_t)total;
    } else if (n == 2 && sscanf(v, "bytes %*u-%*u/%c", &c) == 1 && c == '*') {
        r->range_total = -1;
    } else if (sscanf(v, "bytes */%llu", &total) == 1) {
        r->range_total = (int64_t)total;     /* a 416's: no range, a total */
        return;
    } else {
        return;
    }
    if (b < a)
        return;
    r->have_range = true;
    r->range_start = a;
    r->range_end = b;
}

/* Retry-After: delay-seconds or an HTTP-date. */
static long parse_retry_after(const char *v, time_t now)
{
    char *end;
    long secs = strtol(v, &end, 10);
    if (end != v && *end == '\0')
        return secs < 0 ? 0 : secs;
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    return when > now ? (long)(when - now) : 0;
}

static void response_header(struct http_response *r, const char *name,
                            size_t name_len, const char *v, time_t now)
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
        r->retry_after = parse_retry_after(v, now);
#undef IS
}

void http_response_line(struct http_response *r, const char *line,
                        size_t len, time_t now)
{
    char value[HTTP_VALIDATOR_MAX];
    const char *colon = memchr(line, ':', len);

    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', len);
        const char *reason = NULL;
        long status = 0;
        if (sp) {
            char *end;
            status = strtol(sp + 1, &end, 10);
            if (end < line + len && *end == ' ')
                reason = end + 1;
        }
        http_response_reset(r, status);
        if (reason)
            header_value(reason, (size_t)(line + len - reason), r->reason,
                         sizeof r->reason);
    } else if (colon) {
        size_t name_len = (size_t)(colon - line);
        header_value(colon + 1, len - name_len - 1, value, sizeof value);
        response_header(r, line, name_len, value, now);
    }
}

/* ------------------------------------------------------- resume rules */

static bool transient_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503
           || s == 504;
}

void http_policy_stream_begin(const struct http_response *r,
                              struct http_stream *s)
{
    bool strong = r->etag[0] && strncmp(r->etag, "W/", 2) != 0;
    const char *v = strong ? r->etag : r->last_modified;
    snprintf(s->validator, sizeof s->validator, "%s", v);
    s->validator_is_etag = strong;
    if (r->status == 206 && r->have_range)
        s->total = r->range_total;
    else if (r->status == 200)
        s->total = r->length;
    else
        s->total = -1;
}

static void verdict(struct http_body_decision *d, enum http_body_verdict v,
                    const char *why)
{
    d->verdict = v;
    d->why = why;
}

/* Does `r` carry another validator than the stream's? (absent: no) */
static const char *validator_changed(const struct http_response *r,
                                     const struct http_stream *s)
{
    const char *theirs = s->validator_is_etag ? r->etag : r->last_modified;
    if (!s->validator[0] || !theirs[0] || strcmp(theirs, s->validator) == 0)
        return NULL;
    return s->validator_is_etag ? "the ETag changed" : "Last-Modified changed";
}

static void resumed_body(const struct http_response *r, uint64_t from,
                         const struct http_stream *s,
                         struct http_body_decision *d)
{
    const char *why;
    if (r->status == 416) {
        if (r->range_total >= 0 && (uint64_t)r->range_total == from)
            return verdict(d, HTTP_BODY_COMPLETE, NULL);
        return verdict(d, HTTP_BODY_CHANGED,
                       "HTTP 416 (range not satisfiable)");
    }
    if (r->status == 206) {
        if (!r->have_range || r->range_start != from)
            return verdict(d, HTTP_BODY_CHANGED,
                           "Content-Range does not start where asked");
        if (s->total >= 0 && r->range_total >= 0 && r->range_total != s->total)
            return verdict(d, HTTP_BODY_CHANGED, "the file's length changed");
        if ((why = validator_changed(r, s)))
            return verdict(d, HTTP_BODY_CHANGED, why);
        return verdict(d, HTTP_BODY_STREAM, NULL);
    }
    /* 200: the whole file again; ours only if provably the same file.  A
       server that ignores Range sends the validator it always sends. */
    const char *theirs = s->validator_is_etag ? r->etag : r->last_modified;
    if (s->validator[0] && strcmp(theirs, s->validator) != 0)
        return verdict(d, HTTP_BODY_CHANGED,
                       s->validator_is_etag ? "the ETag changed"
                                            : "Last-Modified changed");
    if (s->total >= 0 && r->length >= 0 && r->length != s->total)
        return verdict(d, HTTP_BODY_CHANGED, "the file's length changed");
    d->skip = from;
    verdict(d, HTTP_BODY_STREAM, NULL);
}

void http_policy_body(const struct http_response *r, uint64_t from,
                      int64_t want_end, const struct http_stream *s,
                      struct http_body_decision *d)
{
    long st = r->status;
    memset(d, 0, sizeof *d);
    d->retry_after = -1;
    if (st >= 300 && st < 400 && r->location)
        return verdict(d, HTTP_BODY_REDIRECT, NULL);
    if (st == 416 && from > 0)
        return resumed_body(r, from, s, d);
    if (st >= 300) {
        d->retryable = transient_status(st);
        if (st == 429 || st == 503)
            d->retry_after = r->retry_after;
        return verdict(d, HTTP_BODY_STATUS,
                       st < 400 ? "a redirect without a Location" : NULL);
    }
    if (from == 0 && !s) {
        if (st == 206 && (want_end < 0 || !r->have_range
                          || r->range_start != 0))
            return verdict(d, HTTP_BODY_PROTOCOL,
                           want_end < 0 ? "HTTP 206 to a request without Range"
                                        : "Content-Range does not start at 0");
        return verdict(d, HTTP_BODY_STREAM, NULL);
    }
    if (st != 200 && st != 206 && st != 0)
        return verdict(d, HTTP_BODY_PROTOCOL, "an unexpected 2xx status");
    resumed_body(r, from, s, d);
}

/* ---------------------------------------------- how many connections */

void http_conn_begin(struct http_conn_state *st, unsigned max)
{
    *st = (struct http_conn_state){.active = 1, .max = max ? max : 1};
}

enum http_conn_verdict http_policy_connections(struct http_conn_state *st,
                                               double now, double elapsed,
                                               double blocked,
                                               uint64_t received)
{
    double want = st->probing ? HTTP_CONN_PROBE : HTTP_CONN_WINDOW;
    if (!(elapsed >= want))              /* also NaN */
        return HTTP_CONN_WAIT;
    double rate = (double)received / elapsed;
    if (st->probing) {
        unsigned before = st->active - 1;
        st->probing = false;
        if (rate < st->rate_before * (1.0 + 0.5 / before)) {
            st->active = before;
            st->quiet_until = now + HTTP_CONN_QUIET;
            return HTTP_CONN_SHRINK;
        }
    }
    if (st->active >= st->max || now < st->quiet_until
        || blocked >= HTTP_CONN_BUSY * elapsed)
        return HTTP_CONN_KEEP;
    st->rate_before = rate;
    st->probing = true;
    st->active++;
    return HTTP_CONN_GROW;
}

/* ------------------------------------------------------------ retries */

long http_policy_backoff_ms(long first_ms, unsigned n, double jitter)
{
    long d = first_ms;
    for (unsigned i = 1; i < n && d < HTTP_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > HTTP_BACKOFF_MAX_MS)
        d = HTTP_BACKOFF_MAX_MS;
    /* +-25%: clients dropped together do not come back together */
    if (jitter < 0)
        jitter = 0;
    if (jitter >= 1)
        jitter = 0.999999;
    return (long)((double)d * (0.75 + 0.5 * jitter));
}

void http_retry_begin(struct http_retry_state *st, uint64_t delivered)
{
    st->attempts++;
    st->mark = delivered;
}

enum http_retry_verdict http_policy_retry(const struct http_retry_policy *p,
                                          struct http_retry_state *st,
                                          const struct http_attempt *a,
                                          long *delay_ms)
{
    bool progress = a->delivered > st->mark;
    if (progress)
        st->stalled = 0;          /* count and backoff restart */
    if (st->stalled == 0)
        st->progressed = progress;
    st->stalled++;
    *delay_ms = 0;
    if (!a->retryable)
        return HTTP_GIVE_UP;
    if (st->stalled > p->retries)
        return HTTP_GIVE_UP_COUNT;
    if (a->delivered > 0 && !a->have_validator && !p->resume_unvalidated)
        return HTTP_GIVE_UP_UNVALIDATED;
    *delay_ms = http_policy_backoff_ms(p->delay_ms, st->stalled, a->jitter);
    if (a->retry_after >= 0) {
        if (a->retry_after > HTTP_RETRY_AFTER_MAX)
            return HTTP_GIVE_UP_RETRY_AFTER;
        *delay_ms = a->retry_after * 1000;
    }
    if (p->max_time > 0
        && a->elapsed + (double)*delay_ms / 1000.0 > (double)p->max_time)
        return HTTP_GIVE_UP_TIME;
    return HTTP_RETRY;
}

void http_policy_give_up_text(enum http_retry_verdict v,
                              const struct http_retry_policy *p,
                              const struct http_retry_state *st,
                              const struct http_attempt *a, char *out,
                              size_t size)
{
    char all[64] = "";
    if (st->attempts > st->stalled)
        snprintf(all, sizeof all, " (%u in all)", st->attempts);
    out[0] = '\0';
    switch (v) {
    case HTTP_RETRY:
    case HTTP_GIVE_UP:
        break;
    case HTTP_GIVE_UP_COUNT:
        if (p->retries > 0 && st->progressed)
            snprintf(out, size, "gave up after %u attempts without progress%s",
                     st->stalled - 1, all);
        else if (p->retries > 0)
            snprintf(out, size, "gave up after %u attempts%s", st->stalled,
                     all);
        break;
    case HTTP_GIVE_UP_TIME:
        snprintf(out, size, "--retry-max-time %ld s reached after %u "
                 "attempts", p->max_time, st->attempts);
        break;
    case HTTP_GIVE_UP_UNVALIDATED:
        snprintf(out, size, "cannot resume at byte %llu: the server sent no "
                 "ETag or Last-Modified, so a changed file would go "
                 "unnoticed (pass --sha256 to allow it)",
                 (unsigned long long)a->delivered);
        break;
    case HTTP_GIVE_UP_RETRY_AFTER:
        snprintf(out, size, "the server asks to retry after %ld s",
                 a->retry_after);
        break;
    }
}

/* ----------------------------------------------------------- redirects */

bool http_policy_is_http(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0
           || strncasecmp(url, "https://", 8) == 0;
}

static bool is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

int http_policy_origin(const char *url, char *out, size_t size)
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
    char oa[512], ob[512];
    return http_policy_origin(a, oa, sizeof oa) == 0
           && http_policy_origin(b, ob, sizeof ob) == 0 && strcmp(oa, ob) == 0;
}

void http_policy_first_hop(bool netrc, struct http_hop *hop)
{
    hop->downgraded = false;
    hop->send_headers = true;
    hop->send_netrc = netrc;
}

enum http_redirect_verdict http_policy_redirect(const char *user_url,
                                                const char *from,
                                                const char *to, int hops,
                                                bool netrc,
                                                bool allow_downgrade,
                                                struct http_hop *hop)
{
    if (hops > HTTP_MAX_REDIRS)
        return HTTP_REDIRECT_TOO_MANY;
    if (!to || !http_policy_is_http(to))
        return HTTP_REDIRECT_NOT_HTTP;
    if (is_https(from) && !is_https(to)) {
        if (!allow_downgrade)
            return HTTP_REDIRECT_DOWNGRADE;
        hop->downgraded = true;
    }
    hop->send_headers = !hop->downgraded && same_origin(to, user_url);
    hop->send_netrc = netrc && !hop->downgraded;
    return HTTP_REDIRECT_FOLLOW;
}

/* ------------------------------------------------------------- messages */

void http_policy_url_text(const char *url, char *out, size_t size)
{
    char *clean = NULL;
    CURLU *u = curl_url();

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK)
        url = clean;
    rz_escape(url, strlen(url), out, size);
    curl_free(clean);
    curl_url_cleanup(u);
}

void http_policy_curl_text(const char *generic, const char *detail,
                           char *out, size_t size)
{
    size_t dl = detail ? strlen(detail) : 0, gl = strlen(generic);
    const char *text = generic;
    size_t len = gl;

    while (dl && (detail[dl - 1] == '\n' || detail[dl - 1] == ' '))
        dl--;
    if (dl) {
        text = detail;
        len = dl;
        /* "Failed to connect ...: Couldn't connect to server" */
        if (dl > gl + 2 && strncasecmp(detail + dl - gl, generic, gl) == 0
            && strncmp(detail + dl - gl - 2, ": ", 2) == 0)
            len = dl - gl - 2;
    }
    rz_escape(text, len, out, size);
}
