/*
 * http_multi.c: one file over several ranged connections, on libcurl's
 * multi interface in one thread, pushed downstream in file order from
 * bounded per-chunk buffers.  The contract is in source.h; the decisions
 * (is this response ours, may this chunk be retried, may this redirect be
 * followed) are http_policy's, the same as for the one-connection source.
 *
 * Structure: N slots, each an easy handle; N - 1 buffers of one chunk.
 * Chunk k lives in slot k mod N.  `head` is the chunk being pushed: once
 * what its slot buffered before it became the head is pushed, the buffer
 * goes back to the pool and the head's bytes go downstream straight from
 * libcurl's buffer as they arrive (no copy).  The other N - 1 slots hold
 * one buffer each.  When the head is whole and pushed, its slot takes
 * chunk head + N (with the buffer the new head gives back) and the head
 * moves on.  A slot is IDLE (nothing to
 * fetch), BUSY (its handle is in the multi) or WAITING (backoff before a
 * retry, until retry_at).  The loop: start due retries, let libcurl run,
 * handle finished transfers, push what the head has, wait on the sockets
 * (at most 100 ms, so the stop flag and retry timers are seen).
 *
 * Slot 0's first request (chunk 0) is the probe: its response tells the
 * file's length and validator, and whether the server honours Range at
 * all; the other slots start when it has been judged.  If it cannot be
 * used, the run falls back to http_source_run before a byte was pushed.
 *
 * Errors: as in http_source.c, the caller's *err takes downstream
 * failures, the stop flag and the final failure; each slot's aerr holds
 * its current attempt's own failure.
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
#include <unistd.h>

#include "http_policy.h"
#include "http_source.h"

#define MULTI_URL_MAX 400
#define MULTI_WAIT_MS 100

enum slot_state {
    SLOT_IDLE,      /* no chunk to fetch, or its chunk is whole */
    SLOT_BUSY,      /* a request of its chunk is in the multi handle */
    SLOT_WAITING,   /* its chunk failed; retried at retry_at */
};

enum body_kind {
    BODY_UNDECIDED, /* waiting for the first body byte or the end */
    BODY_CHUNK,     /* bytes of the chunk: into the buffer */
    BODY_IGNORE,    /* a redirect's body: received and dropped */
};

struct http_multi;

struct slot {
    struct http_multi *m;
    int index;
    CURL *h;
    struct curl_slist *headers;
    enum slot_state state;
    /* the chunk */
    uint64_t chunk;             /* its index */
    uint64_t start;             /* its first byte in the file */
    size_t len;                 /* its length */
    uint8_t *buf;               /* chunk_size bytes from the pool, or NULL:
                                   the head pushes straight through */
    size_t have;                /* bytes received into buf */
    /* the attempt */
    struct http_retry_state rs;
    struct rz_error aerr;
    bool retryable;
    long retry_after;
    double retry_at;
    bool walk;                  /* start from the user's URL (a retry) */
    /* the request */
    char *url;
    struct http_hop hop;
    int hops;
    uint64_t from;              /* Range start sent */
    struct http_response resp;
    enum body_kind body;
    bool redirect;
    curl_off_t last_dlnow;
    double last_byte_time;
    char errbuf[CURL_ERROR_SIZE];
};

struct http_multi {
    const struct http_source_options *o;
    stage_push_fn push;
    void *ctx;
    volatile sig_atomic_t *stop;
    struct rz_error *err;
    CURLM *mh;
    struct slot *slots;
    unsigned n;
    size_t chunk_size;
    struct http_retry_policy policy;
    double started;
    uint64_t rng;
    /* the file, once the probe has been judged */
    bool judged;
    bool fallback;              /* use one connection instead */
    const char *fallback_why;
    struct http_stream stream;
    uint64_t total;
    uint64_t chunks;
    char *final_url;            /* where the probe's redirects ended */
    struct http_hop final_hop;
    /* chunk buffers not held by a slot (at most N - 1 are ever made) */
    uint8_t **pool;
    unsigned pooled;
    /* delivery */
    uint64_t head;              /* chunk being pushed */
    size_t given;               /* bytes of it pushed */
    uint64_t pushed;            /* bytes pushed in all */
    /* how many connections (http_policy_connections) */
    unsigned active;            /* chunks fetched at once: head .. head +
                                   active - 1; n when the user chose N */
    bool adaptive;              /* the default: start at 1, probe more */
    struct http_conn_state conn;
    double window_start;        /* the current window began */
    double blocked;             /* seconds spent in push since then */
    uint64_t received;          /* body bytes received since then */
    uint64_t probe_chunk;       /* a probe's window starts at this chunk's
                                   first body byte (UINT64_MAX: started) */
    bool kick;                  /* a request was added: run libcurl before
                                   waiting (a new handle has no socket yet,
                                   and curl_multi_poll would sleep) */
    struct http_source_stats st;
};

/* ---------------------------------------------------------------- errors */

static int slot_fail(struct slot *s, bool retryable, enum rz_code code,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int slot_fail(struct slot *s, bool retryable, enum rz_code code,
                     const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;
    if (s->aerr.code != RZ_E_OK)
        return -1;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    s->retryable = retryable;
    return rz_error_set(&s->aerr, code, 0, RZ_OFF_RAW, s->start + s->have,
                        NULL, 0, "%s", detail);
}

static int nomem(struct http_multi *m, const char *what)
{
    return rz_error_set(m->err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                        "%s", what);
}

static int check_stop(struct http_multi *m)
{
    if (m->stop && *m->stop)
        return rz_error_set(m->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW,
                            m->pushed, NULL, 0, NULL);
    return 0;
}

static bool slot_failed(const struct slot *s)
{
    return s->m->err->code != RZ_E_OK || s->aerr.code != RZ_E_OK;
}

static void url_text(const struct slot *s, char *out, size_t size)
{
    http_policy_url_text(s->url ? s->url : s->m->o->url, out, size);
}

/* A note, or with `retry` a retry announcement (see source.h). */
static void notice(struct http_multi *m, bool retry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void notice(struct http_multi *m, bool retry, const char *fmt, ...)
{
    char msg[RZ_ERROR_DETAIL_MAX + 256];
    va_list ap;
    void (*say)(void *, const char *) =
        retry && m->o->on_retry ? m->o->on_retry : m->o->notice;
    if (!say)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    say(m->o->notice_ctx, msg);
}

/* ------------------------------------------------------ judging responses */

/* The probe's 206: the file's length and validator; the others may go. */
static int judge_probe(struct slot *s)
{
    struct http_multi *m = s->m;
    const struct http_response *r = &s->resp;

    m->judged = true;
    if (r->status != 206) {
        m->fallback = true;
        m->fallback_why = r->status == 416 ? "the file is empty"
                                           : "the server does not honour Range";
        return -1;
    }
    http_policy_stream_begin(r, &m->stream);
    if (m->stream.total <= 0) {
        m->fallback = true;
        m->fallback_why = "the server does not say the file's length";
        return -1;
    }
    if (!m->stream.validator[0] && !m->o->resume_unvalidated) {
        m->fallback = true;
        m->fallback_why = "the server sends no ETag or Last-Modified, so "
                          "the ranges could come from different files";
        return -1;
    }
    m->total = (uint64_t)m->stream.total;
    if (m->o->on_total)
        m->o->on_total(m->o->notice_ctx, m->stream.total);
    m->chunks = (m->total + m->chunk_size - 1) / m->chunk_size;
    s->len = m->total < m->chunk_size ? (size_t)m->total : m->chunk_size;
    if (!(m->final_url = strdup(s->url)))
        return nomem(m, "URL");
    m->final_hop = s->hop;
    return 0;
}

static int chunk_changed(struct slot *s, const char *why)
{
    char url[MULTI_URL_MAX];
    url_text(s, url, sizeof url);
    return slot_fail(s, false, RZ_E_NET_CHANGED,
                     "%s in the range at byte %" PRIu64 " (%s)", why, s->from,
                     url);
}

static int status_failed(struct slot *s, const struct http_body_decision *d)
{
    char url[MULTI_URL_MAX], reason[HTTP_REASON_MAX * 4 + 8] = "";
    url_text(s, url, sizeof url);
    if (s->resp.reason[0]) {
        reason[0] = ' ';
        rz_escape(s->resp.reason, strlen(s->resp.reason), reason + 1,
                  sizeof reason - 1);
    }
    s->retry_after = d->retry_after;
    return slot_fail(s, d->retryable, RZ_E_NET_HTTP_STATUS,
                     "HTTP %ld%s from %s%s%s%s", s->resp.status, reason, url,
                     d->why ? " (" : "", d->why ? d->why : "",
                     d->why ? ")" : "");
}

/* Once per request, at its first body byte or its end. */
static int response_begin(struct slot *s)
{
    struct http_multi *m = s->m;
    struct http_body_decision d;
    bool probe = !m->judged;
    int64_t want_end = (int64_t)(s->start + (probe ? m->chunk_size : s->len))
                       - 1;

    http_policy_body(&s->resp, s->from, want_end, probe ? NULL : &m->stream,
                     &d);
    if (probe && (d.verdict == HTTP_BODY_STREAM
                  || (s->resp.status == 416))) {
        if (judge_probe(s) < 0)
            return -1;
        s->body = BODY_CHUNK;
        return 0;
    }
    switch (d.verdict) {
    case HTTP_BODY_REDIRECT:
        s->redirect = true;
        s->body = BODY_IGNORE;
        return 0;
    case HTTP_BODY_STATUS:
        return status_failed(s, &d);
    case HTTP_BODY_PROTOCOL:
        return slot_fail(s, false, RZ_E_NET_TRANSFER, "%s", d.why);
    case HTTP_BODY_CHANGED:
        return chunk_changed(s, d.why);
    case HTTP_BODY_COMPLETE:    /* we know the length: it shrank */
        return chunk_changed(s, "HTTP 416 (the file became shorter)");
    case HTTP_BODY_STREAM:
        break;
    }
    if (s->resp.status != 206)     /* If-Range failed, or Range ignored */
        return chunk_changed(s, "the whole file (HTTP 200) came back for a "
                                "range: the file changed, or the server "
                                "stopped honouring Range");
    s->body = BODY_CHUNK;
    return 0;
}

/* -------------------------------------------------------------- callbacks */

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct slot *s = ud;
    size_t len = size * nmemb;
    http_response_line(&s->resp, data, len, time(NULL));
    return len;
}

/* The head, its buffer given back: bytes go downstream as they come. */
/* Push downstream, timing how long the push took (a full queue behind it
 * blocks it): that is what says whether another connection would pay. */
static int push_down(struct http_multi *m, const uint8_t *buf, size_t len)
{
    double t0 = m->adaptive ? http_monotonic() : 0;
    if (m->push(m->ctx, buf, len) < 0)
        return rz_error_downstream(m->err, RZ_OFF_RAW, m->pushed,
                                   "a stage after the download");
    if (m->adaptive)
        m->blocked += http_monotonic() - t0;
    return 0;
}

static int push_through(struct slot *s, const char *data, size_t len)
{
    struct http_multi *m = s->m;
    if (push_down(m, (const uint8_t *)data, len) < 0)
        return -1;
    m->given += len;
    m->pushed += len;
    /* time spent in push is not the network's stall */
    double now = http_monotonic();
    for (unsigned i = 0; i < m->n; i++)
        m->slots[i].last_byte_time = now;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct slot *s = ud;
    struct http_multi *m = s->m;
    size_t len = size * nmemb;

    if (slot_failed(s) || check_stop(m) < 0)
        return 0;
    if (s->body == BODY_UNDECIDED && response_begin(s) < 0)
        return 0;
    m->st.bytes_received += len;
    if (s->body != BODY_CHUNK)
        return len;
    m->received += len;
    if (s->chunk == m->probe_chunk) {   /* the probe's connection is up */
        m->probe_chunk = UINT64_MAX;
        m->window_start = http_monotonic();
        m->blocked = 0;
        m->received = len;
    }
    size_t room = s->len - s->have;
    size_t take = len > room ? room : len;
    if (s->buf)
        memcpy(s->buf + s->have, data, take);
    else if (take > 0 && push_through(s, data, take) < 0)
        return 0;
    s->have += take;
    /* more than the range asked for: keep the chunk, end the request */
    return len > room ? 0 : len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    struct slot *s = ud;
    double now = http_monotonic();
    long stall = s->m->o->stall_timeout;
    (void)dltotal, (void)ultotal, (void)ulnow;

    if (check_stop(s->m) < 0)
        return 1;
    if (dlnow != s->last_dlnow) {
        s->last_dlnow = dlnow;
        s->last_byte_time = now;
    } else if (stall > 0 && now - s->last_byte_time >= (double)stall) {
        slot_fail(s, true, RZ_E_NET_TIMEOUT, "no data received for %ld s",
                  stall);
        return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- requests */

#define SET(s, opt, val)                                                   \
    do {                                                                   \
        if (curl_easy_setopt((s)->h, opt, val) != CURLE_OK)                \
            return rz_error_set((s)->m->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE,\
                                0, NULL, 0, "libcurl %s", #opt);           \
    } while (0)

/* The CA trust rule (one parsed store shared by every connection) is
 * http_easy_connection's, in http_source.c: one rule for one and several
 * connections. */
static int slot_setup(struct slot *s)
{
    struct http_multi *m = s->m;
    if (!(s->h = curl_easy_init()))
        return nomem(m, "curl_easy_init failed");
    if (http_easy_connection(s->h, m->o, "http,https", m->err) < 0)
        return -1;
    SET(s, CURLOPT_ERRORBUFFER, s->errbuf);
    SET(s, CURLOPT_HEADERFUNCTION, on_header);
    SET(s, CURLOPT_HEADERDATA, s);
    SET(s, CURLOPT_WRITEFUNCTION, on_body);
    SET(s, CURLOPT_WRITEDATA, s);
    SET(s, CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(s, CURLOPT_XFERINFODATA, s);
    SET(s, CURLOPT_NOPROGRESS, 0L);
    SET(s, CURLOPT_PRIVATE, s);
    return 0;
}

static int add_header(struct slot *s, const char *line)
{
    struct curl_slist *l = curl_slist_append(s->headers, line);
    if (!l)
        return nomem(s->m, "HTTP header list");
    s->headers = l;
    return 0;
}

/* Put the slot's next request (s->url, from s->from) in the multi. */
static int request_start(struct slot *s)
{
    struct http_multi *m = s->m;
    char range[64], line[HTTP_VALIDATOR_MAX + 16];
    uint64_t last = s->start + (m->judged ? s->len : m->chunk_size) - 1;

    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, s->from, last);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    for (size_t i = 0; s->hop.send_headers && i < m->o->n_headers; i++)
        if (add_header(s, m->o->headers[i]) < 0)
            return -1;
    if (m->judged && m->stream.validator[0]) {
        snprintf(line, sizeof line, "If-Range: %s", m->stream.validator);
        if (add_header(s, line) < 0)
            return -1;
    }
    SET(s, CURLOPT_URL, s->url);
    SET(s, CURLOPT_RANGE, range);
    SET(s, CURLOPT_HTTPHEADER, s->headers);
    SET(s, CURLOPT_NETRC, s->hop.send_netrc ? (long)CURL_NETRC_OPTIONAL
                                            : (long)CURL_NETRC_IGNORED);
    http_response_reset(&s->resp, 0);
    s->body = BODY_UNDECIDED;
    s->redirect = false;
    s->errbuf[0] = '\0';
    s->last_dlnow = 0;
    s->last_byte_time = http_monotonic();
    m->st.requests++;
    if (curl_multi_add_handle(m->mh, s->h) != CURLM_OK)
        return rz_error_set(m->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "curl_multi_add_handle failed");
    s->state = SLOT_BUSY;
    m->kick = true;
    return 0;
}

static int set_url(struct slot *s, const char *url)
{
    char *copy = strdup(url);
    if (!copy)
        return nomem(s->m, "URL");
    free(s->url);
    s->url = copy;
    return 0;
}

/* A new attempt at the slot's chunk, from its first missing byte. */
static int attempt_start(struct slot *s)
{
    struct http_multi *m = s->m;
    bool walk = s->walk || !m->final_url;

    rz_error_clear(&s->aerr);
    s->retryable = false;
    s->retry_after = -1;
    s->from = s->start + s->have;
    s->hops = 0;
    if (set_url(s, walk ? m->o->url : m->final_url) < 0)
        return -1;
    if (walk)
        http_policy_first_hop(m->o->netrc, &s->hop);
    else
        s->hop = m->final_hop;
    http_retry_begin(&s->rs, s->have);
    m->st.attempts++;
    if (s->from > s->start)
        m->st.resumes++;
    return request_start(s);
}

/* A chunk buffer from the pool (made on first use). */
static int buffer_take(struct slot *s)
{
    struct http_multi *m = s->m;
    if (s->buf)
        return 0;
    if (m->pooled > 0)
        s->buf = m->pool[--m->pooled];
    else if (!(s->buf = malloc(m->chunk_size)))
        return nomem(m, "chunk buffer");
    return 0;
}

static void buffer_give_back(struct slot *s)
{
    struct http_multi *m = s->m;
    if (!s->buf)
        return;
    if (m->pooled + 1 < m->active)     /* a smaller window frees its spare */
        m->pool[m->pooled++] = s->buf;
    else
        free(s->buf);
    s->buf = NULL;
}

/* Give the slot chunk `k`, and start fetching it. */
static int chunk_start(struct slot *s, uint64_t k)
{
    struct http_multi *m = s->m;
    if (k != m->head && buffer_take(s) < 0)
        return -1;
    uint64_t left = m->total - k * m->chunk_size;
    s->chunk = k;
    s->start = k * m->chunk_size;
    s->len = left < m->chunk_size ? (size_t)left : m->chunk_size;
    s->have = 0;
    s->walk = false;
    memset(&s->rs, 0, sizeof s->rs);
    return attempt_start(s);
}

/* ----------------------------------------------------- finished transfers */

static double next_jitter(struct http_multi *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (double)(m->rng >> 11) / 9007199254740992.0;
}

/* The slot's attempt failed: retry its chunk later, or give up the run. */
static int attempt_failed(struct slot *s)
{
    struct http_multi *m = s->m;
    char why[RZ_ERROR_DETAIL_MAX];
    long delay = 0;
    const struct rz_error *e = &s->aerr;

    if (m->err->code != RZ_E_OK)
        return -1;
    struct http_attempt a = {
        .retryable = s->retryable, .delivered = s->have,
        .have_validator = m->stream.validator[0] != '\0' || !m->judged,
        .retry_after = s->retry_after,
        .elapsed = http_monotonic() - m->started, .jitter = next_jitter(m)};
    enum http_retry_verdict v = http_policy_retry(&m->policy, &s->rs, &a,
                                                  &delay);
    if (v != HTTP_RETRY) {
        http_policy_give_up_text(v, &m->policy, &s->rs, &a, why, sizeof why);
        return rz_error_set(m->err, e->code, e->sys_errno, e->offset_kind,
                            e->offset, NULL, 0, "%s%s%s", e->detail,
                            why[0] ? "; " : "", why);
    }
    notice(m, true, "retry %u/%u in %.1f s: %s%s%s (connection %d, resuming at "
           "byte %" PRIu64 ")", s->rs.stalled, m->o->retries,
           (double)delay / 1000.0, rz_code_message(e->code),
           e->detail[0] ? ": " : "", e->detail, s->index + 1,
           s->start + s->have);
    s->state = SLOT_WAITING;
    s->retry_at = http_monotonic() + (double)delay / 1000.0;
    s->walk = true;
    return 0;
}

static int curl_failed(struct slot *s, CURLcode rc)
{
    char url[MULTI_URL_MAX], why[CURL_ERROR_SIZE * 4];
    url_text(s, url, sizeof url);
    http_policy_curl_text(curl_easy_strerror(rc), s->errbuf, why, sizeof why);
    return slot_fail(s, http_transient_curl(rc), http_code_for(rc),
                     "%s (%s)", why, url);
}

static int follow_redirect(struct slot *s)
{
    struct http_multi *m = s->m;
    char *location = NULL;
    char url[MULTI_URL_MAX], to[MULTI_URL_MAX];

    url_text(s, url, sizeof url);
    curl_easy_getinfo(s->h, CURLINFO_REDIRECT_URL, &location);
    switch (http_policy_redirect(m->o->url, s->url, location, ++s->hops,
                                 m->o->netrc, m->o->allow_downgrade,
                                 &s->hop)) {
    case HTTP_REDIRECT_FOLLOW:
        break;
    case HTTP_REDIRECT_TOO_MANY:
        return slot_fail(s, false, RZ_E_NET_HTTP_STATUS,
                         "more than %d redirects (at %s)", HTTP_MAX_REDIRS,
                         url);
    case HTTP_REDIRECT_NOT_HTTP:
        return slot_fail(s, false, RZ_E_NET_URL,
                         "redirect from %s to a URL that is not http(s)", url);
    case HTTP_REDIRECT_DOWNGRADE:
        http_policy_url_text(location, to, sizeof to);
        return slot_fail(s, false, RZ_E_NET_DOWNGRADE, "from %s to %s", url,
                         to);
    }
    if (set_url(s, location) < 0)
        return -1;
    return request_start(s);
}

/* A transfer of slot `s` ended with `rc`. */
static int transfer_done(struct slot *s, CURLcode rc)
{
    struct http_multi *m = s->m;
    bool full = s->body == BODY_CHUNK && s->have == s->len && m->judged;

    curl_multi_remove_handle(m->mh, s->h);
    s->state = SLOT_IDLE;
    if (m->err->code != RZ_E_OK || m->fallback)
        return -1;
    if (full) {     /* whatever came after the chunk's last byte */
        rz_error_clear(&s->aerr);
        return 0;
    }
    if (s->aerr.code == RZ_E_OK && rc != CURLE_OK)
        curl_failed(s, rc);
    if (s->aerr.code == RZ_E_OK && s->body == BODY_UNDECIDED)
        response_begin(s);       /* an empty body never reached on_body */
    if (m->err->code != RZ_E_OK || m->fallback)
        return -1;
    if (s->aerr.code == RZ_E_OK && s->redirect) {
        if (follow_redirect(s) == 0)
            return 0;
        if (m->err->code != RZ_E_OK)
            return -1;
    }
    if (s->aerr.code == RZ_E_OK && s->have < s->len) {
        char url[MULTI_URL_MAX];
        url_text(s, url, sizeof url);
        slot_fail(s, true, RZ_E_NET_TRUNCATED, "the range ended %zu bytes "
                  "short (%s)", s->len - s->have, url);
    }
    if (s->aerr.code != RZ_E_OK)
        return attempt_failed(s);
    return 0;
}

static int read_messages(struct http_multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->mh, &left))) {
        struct slot *s = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (transfer_done(s, msg->data.result) < 0)
            return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- delivery */

/*
 * Fetch chunks head .. head + active - 1.  Chunk k's slot is k mod N; the
 * chunk it held before (k - N or older) is below the head, so pushed whole
 * and its slot idle.  Called after the head gave its buffer back, so at
 * most active - 1 buffers are held.
 */
static int fill_window(struct http_multi *m)
{
    for (uint64_t k = m->head; k < m->chunks && k < m->head + m->active;
         k++) {
        struct slot *s = &m->slots[k % m->n];
        if (s->chunk != k && chunk_start(s, k) < 0)
            return -1;
    }
    return 0;
}

/* The default: probe one more connection while the network is the
 * limit, keep it if it paid (http_policy_connections). */
static void maybe_grow(struct http_multi *m)
{
    double now = http_monotonic(), elapsed = now - m->window_start;
    double rate = elapsed > 0 ? (double)m->received / elapsed : 0;
    if (!m->adaptive || m->probe_chunk != UINT64_MAX)
        return;                 /* a probe's connection is not up yet */
    enum http_conn_verdict v = http_policy_connections(
        &m->conn, now, elapsed, m->blocked, m->received);
    if (v == HTTP_CONN_WAIT)
        return;
    if (v == HTTP_CONN_GROW) {
        m->active = m->conn.active;
        if (m->active > m->st.connections)
            m->st.connections = m->active;
        m->probe_chunk = m->head + m->active - 1;
        if (m->o->verbose > 0)
            notice(m, false, "the network is the limit (%.0f%% of %.2f s "
                   "waiting for it, %.1f MB/s): trying %u connections",
                   100.0 * (1.0 - m->blocked / elapsed), elapsed,
                   rate / 1e6, m->active);
    } else if (v == HTTP_CONN_SHRINK) {
        m->active = m->conn.active;
        if (m->o->verbose > 0)
            notice(m, false, "%u connections received %.1f MB/s, no more "
                   "than %u: back to %u", m->active + 1, rate / 1e6,
                   m->active, m->active);
    }
    m->window_start = now;
    m->blocked = 0;
    m->received = 0;
}

/* Push what the head chunk's slot buffered, give its buffer back (the
 * rest of the head comes straight through, see on_body); move on when the
 * head is whole.  Then (every window of HTTP_CONN_WINDOW s) the default
 * may add a connection, and the chunks fetched are refilled, after the new
 * head has given its buffer back. */
static int deliver(struct http_multi *m)
{
    bool pushed_any = false;
    while (m->head < m->chunks) {
        struct slot *s = &m->slots[m->head % m->n];
        if (s->chunk != m->head)
            break;
        if (s->buf && s->have > m->given) {
            size_t len = s->have - m->given;
            if (push_down(m, s->buf + m->given, len) < 0)
                return -1;
            pushed_any = true;
            m->given += len;
            m->pushed += len;
        }
        buffer_give_back(s);
        if (m->given < s->len || s->state != SLOT_IDLE)
            break;
        m->head++;
        m->given = 0;
    }
    maybe_grow(m);
    if (fill_window(m) < 0)
        return -1;
    if (pushed_any) {
        /* time spent in push is not the network's stall */
        double now = http_monotonic();
        for (unsigned i = 0; i < m->n; i++)
            m->slots[i].last_byte_time = now;
    }
    return 0;
}

static int start_due_retries(struct http_multi *m, long *wait_ms)
{
    double now = http_monotonic();
    for (unsigned i = 0; i < m->n; i++) {
        struct slot *s = &m->slots[i];
        if (s->state != SLOT_WAITING)
            continue;
        if (s->retry_at <= now) {
            if (attempt_start(s) < 0)
                return -1;
        } else if ((s->retry_at - now) * 1000 < (double)*wait_ms) {
            *wait_ms = (long)((s->retry_at - now) * 1000) + 1;
        }
    }
    return 0;
}

static int run_loop(struct http_multi *m)
{
    for (;;) {
        long wait_ms = MULTI_WAIT_MS;
        int running;
        if (check_stop(m) < 0 || start_due_retries(m, &wait_ms) < 0)
            return -1;
        if (curl_multi_perform(m->mh, &running) != CURLM_OK)
            return rz_error_set(m->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0,
                                NULL, 0, "curl_multi_perform failed");
        if (read_messages(m) < 0)
            return -1;
        if (m->judged && deliver(m) < 0)
            return -1;
        if (m->judged && m->head == m->chunks)
            return 0;
        if (m->kick) {
            m->kick = false;
            continue;
        }
        if (curl_multi_poll(m->mh, NULL, 0, (int)wait_ms, NULL) != CURLM_OK)
            return rz_error_set(m->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0,
                                NULL, 0, "curl_multi_poll failed");
    }
}

/* ------------------------------------------------------------------- run */

static int multi_setup(struct http_multi *m)
{
    const struct http_source_options *o = m->o;
    m->n = o->connections;
    m->adaptive = !o->connections_asked;
    m->active = m->adaptive ? 1 : m->n;
    http_conn_begin(&m->conn, m->n);
    m->probe_chunk = UINT64_MAX;
    m->st.connections = m->active;
    m->chunk_size = o->chunk_size ? o->chunk_size : HTTP_MULTI_CHUNK_DEFAULT;
    m->policy = (struct http_retry_policy){o->retries, o->retry_delay_ms,
                                           o->retry_max_time,
                                           o->resume_unvalidated};
    m->started = http_monotonic();
    m->window_start = m->started;
    if (getrandom(&m->rng, sizeof m->rng, GRND_NONBLOCK) != sizeof m->rng)
        m->rng = (uint64_t)(m->started * 1e9);
    m->rng |= 1;
    m->stream.total = -1;
    if (!(m->mh = curl_multi_init()))
        return nomem(m, "curl_multi_init failed");
    /* one connection per transfer: an HTTP/2 server would otherwise carry
       them all as streams of one connection, under one rate cap */
    curl_multi_setopt(m->mh, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    curl_multi_setopt(m->mh, CURLMOPT_MAX_HOST_CONNECTIONS, (long)m->n);
    if (!(m->slots = calloc(m->n, sizeof *m->slots))
        || !(m->pool = calloc(m->n, sizeof *m->pool)))
        return nomem(m, "connection slots");
    for (unsigned i = 0; i < m->n; i++) {
        m->slots[i].m = m;
        m->slots[i].index = (int)i;
        m->slots[i].chunk = UINT64_MAX;
        if (slot_setup(&m->slots[i]) < 0)
            return -1;
    }
    /* the probe: chunk 0 on slot 0, its length not yet known */
    struct slot *s = &m->slots[0];
    s->chunk = 0;
    s->len = m->chunk_size;
    return attempt_start(s);
}

static void multi_free(struct http_multi *m)
{
    for (unsigned i = 0; m->slots && i < m->n; i++) {
        struct slot *s = &m->slots[i];
        if (s->h) {
            if (s->state == SLOT_BUSY)
                curl_multi_remove_handle(m->mh, s->h);
            curl_easy_cleanup(s->h);
        }
        curl_slist_free_all(s->headers);
        free(s->url);
        free(s->buf);
    }
    for (unsigned i = 0; i < m->pooled; i++)
        free(m->pool[i]);
    free(m->pool);
    free(m->slots);
    free(m->final_url);
    if (m->mh)
        curl_multi_cleanup(m->mh);
}

int http_multi_run(const struct http_source_options *o, stage_push_fn push,
                   void *ctx, volatile sig_atomic_t *stop,
                   struct rz_error *err)
{
    struct http_multi m = {.o = o, .push = push, .ctx = ctx, .stop = stop,
                           .err = err};
    int rc = -1;

    if (err->code != RZ_E_OK)
        return -1;
    if (o->connections <= 1 || !http_policy_is_http(o->url))
        return http_source_run(o, push, ctx, stop, err);
    if (multi_setup(&m) == 0)
        rc = run_loop(&m);
    multi_free(&m);
    if (m.fallback && err->code == RZ_E_OK && m.pushed == 0) {
        if (o->connections_asked || o->verbose > 0)
            notice(&m, false, "%s: using one connection", m.fallback_why);
        rc = http_source_run(o, push, ctx, stop, err);
        if (o->stats)
            o->stats->requests += m.st.requests;
        return rc;
    }
    if (rc < 0 && err->code == RZ_E_OK)
        rz_error_downstream(err, RZ_OFF_RAW, m.pushed, "http_multi");
    m.st.length_verified = rc == 0 && m.total > 0 && m.pushed == m.total;
    if (o->stats)
        *o->stats = m.st;
    return rc;
}
