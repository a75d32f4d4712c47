/*
 * Unit tests for http_policy: the retry, resume and redirect decisions and
 * the text of messages, with no socket and no clock (milliseconds in all).
 */
#include "../pipeline/http_policy.h"
#include "check.h"

#include <string.h>

static void feed(struct http_response *r, const char *line)
{
    http_response_line(r, line, strlen(line), 1700000000);
}

/* A response from its status line and header lines. */
static void response(struct http_response *r, const char *const *lines)
{
    http_response_reset(r, 0);
    for (; *lines; lines++)
        feed(r, *lines);
}

static const struct http_stream etag_stream = {"\"v1\"", true, 1000};

static void test_parse_headers(void)
{
    struct http_response r;
    const char *const l[] = {"HTTP/1.1 206 Partial Content\r\n",
                             "ETag:  \"abc\"\r\n",
                             "content-range: bytes 100-199/1000\r\n",
                             "Content-Length: 100\r\n",
                             "Retry-After: 7\r\n", NULL};
    response(&r, l);
    CHECK_EQ_INT(r.status, 206);
    CHECK_EQ_STR(r.reason, "Partial Content");
    CHECK_EQ_STR(r.etag, "\"abc\"");
    CHECK(r.have_range);
    CHECK_EQ_INT(r.range_start, 100);
    CHECK_EQ_INT(r.range_end, 199);
    CHECK_EQ_INT(r.range_total, 1000);
    CHECK_EQ_INT(r.length, 100);
    CHECK_EQ_INT(r.retry_after, 7);
    /* a new status line starts afresh (interim 1xx, or the next hop) */
    feed(&r, "HTTP/1.1 416 Range Not Satisfiable\r\n");
    feed(&r, "Content-Range: bytes */1000\r\n");
    CHECK_EQ_INT(r.status, 416);
    CHECK(!r.have_range);
    CHECK_EQ_INT(r.range_total, 1000);
    CHECK_EQ_STR(r.etag, "");
    /* Retry-After as an HTTP-date, 30 s after "now" */
    feed(&r, "HTTP/1.1 503 Busy\r\n");
    feed(&r, "Retry-After: Tue, 14 Nov 2023 22:13:50 GMT\r\n");
    CHECK_EQ_INT(r.retry_after, 30);
    feed(&r, "HTTP/2 200\r\n");
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.reason, "");
}

static void test_fresh_response_starts_the_stream(void)
{
    struct http_response r;
    struct http_body_decision d;
    struct http_stream s;
    const char *const ok[] = {"HTTP/1.1 200 OK\r\n", "ETag: W/\"weak\"\r\n",
                              "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n",
                              "Content-Length: 1000\r\n", NULL};
    response(&r, ok);
    http_policy_body(&r, 0, -1, NULL, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STREAM);
    CHECK_EQ_INT(d.skip, 0);
    http_policy_stream_begin(&r, &s);
    /* a weak ETag is no validator for a byte range: Last-Modified is */
    CHECK(!s.validator_is_etag);
    CHECK_EQ_STR(s.validator, "Mon, 01 Jan 2024 00:00:00 GMT");
    CHECK_EQ_INT(s.total, 1000);

    const char *const unasked[] = {"HTTP/1.1 206 Partial\r\n",
                                   "Content-Range: bytes 0-9/10\r\n", NULL};
    response(&r, unasked);
    http_policy_body(&r, 0, -1, NULL, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_PROTOCOL);
    /* a bounded range from 0 (the first chunk of several connections) */
    http_policy_body(&r, 0, 1023, NULL, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STREAM);
    http_policy_stream_begin(&r, &s);
    CHECK_EQ_INT(s.total, 10);
}

static void test_resumed_206(void)
{
    struct http_response r;
    struct http_body_decision d;
    const char *const good[] = {"HTTP/1.1 206 Partial\r\n", "ETag: \"v1\"\r\n",
                                "Content-Range: bytes 500-999/1000\r\n", NULL};
    response(&r, good);
    http_policy_body(&r, 500, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STREAM);
    CHECK_EQ_INT(d.skip, 0);
    http_policy_body(&r, 400, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    CHECK(strstr(d.why, "Content-Range") != NULL);

    const char *const etag[] = {"HTTP/1.1 206 Partial\r\n", "ETag: \"v2\"\r\n",
                                "Content-Range: bytes 500-999/1000\r\n", NULL};
    response(&r, etag);
    http_policy_body(&r, 500, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    CHECK_EQ_STR(d.why, "the ETag changed");

    const char *const len[] = {"HTTP/1.1 206 Partial\r\n",
                               "Content-Range: bytes 500-1999/2000\r\n", NULL};
    response(&r, len);
    http_policy_body(&r, 500, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    CHECK_EQ_STR(d.why, "the file's length changed");
}

static void test_server_ignoring_range(void)
{
    struct http_response r;
    struct http_body_decision d;
    const char *const same[] = {"HTTP/1.1 200 OK\r\n", "ETag: \"v1\"\r\n",
                                "Content-Length: 1000\r\n", NULL};
    response(&r, same);
    http_policy_body(&r, 600, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STREAM);
    CHECK_EQ_INT(d.skip, 600);       /* received again and dropped */
    const char *const other[] = {"HTTP/1.1 200 OK\r\n", "ETag: \"v2\"\r\n",
                                 NULL};
    response(&r, other);
    http_policy_body(&r, 600, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    const char *const none[] = {"HTTP/1.1 200 OK\r\n", NULL};
    response(&r, none);
    http_policy_body(&r, 600, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
}

static void test_416_after_the_last_byte_is_complete(void)
{
    struct http_response r;
    struct http_body_decision d;
    const char *const all[] = {"HTTP/1.1 416 Range Not Satisfiable\r\n",
                               "Content-Range: bytes */1000\r\n", NULL};
    response(&r, all);
    http_policy_body(&r, 1000, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_COMPLETE);
    /* the file is now shorter than what we have: changed */
    http_policy_body(&r, 1200, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    const char *const bare[] = {"HTTP/1.1 416 Range Not Satisfiable\r\n",
                                NULL};
    response(&r, bare);
    http_policy_body(&r, 1000, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_CHANGED);
    /* 416 to a request without Range is just an error status */
    http_policy_body(&r, 0, -1, NULL, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STATUS);
    CHECK(!d.retryable);
}

static void test_statuses(void)
{
    struct http_response r;
    struct http_body_decision d;
    static const long transient[] = {408, 429, 500, 502, 503, 504};
    static const long permanent[] = {400, 401, 403, 404, 410, 501};
    for (size_t i = 0; i < 6; i++) {
        http_response_reset(&r, transient[i]);
        http_policy_body(&r, 0, -1, NULL, &d);
        CHECK_EQ_INT(d.verdict, HTTP_BODY_STATUS);
        CHECK(d.retryable);
        http_response_reset(&r, permanent[i]);
        http_policy_body(&r, 0, -1, NULL, &d);
        CHECK_EQ_INT(d.verdict, HTTP_BODY_STATUS);
        CHECK(!d.retryable);
    }
    const char *const busy[] = {"HTTP/1.1 503 Busy\r\n", "Retry-After: 3\r\n",
                                NULL};
    response(&r, busy);
    http_policy_body(&r, 0, -1, NULL, &d);
    CHECK_EQ_INT(d.retry_after, 3);
    const char *const moved[] = {"HTTP/1.1 302 Found\r\n", "Location: /x\r\n",
                                 NULL};
    response(&r, moved);
    http_policy_body(&r, 700, -1, &etag_stream, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_REDIRECT);
    http_response_reset(&r, 302);
    http_policy_body(&r, 0, -1, NULL, &d);
    CHECK_EQ_INT(d.verdict, HTTP_BODY_STATUS);
    CHECK(strstr(d.why, "without a Location") != NULL);
}

/* ------------------------------------------------------------ retries */

static const struct http_retry_policy pol = {3, 500, 0, false};

static enum http_retry_verdict fail_at(struct http_retry_state *st,
                                       uint64_t delivered, long *delay)
{
    struct http_attempt a = {true, delivered, true, -1, 0, 0.5};
    return http_policy_retry(&pol, st, &a, delay);
}

static void test_backoff(void)
{
    CHECK_EQ_INT(http_policy_backoff_ms(500, 1, 0.5), 500);
    CHECK_EQ_INT(http_policy_backoff_ms(500, 2, 0.5), 1000);
    CHECK_EQ_INT(http_policy_backoff_ms(500, 4, 0.5), 4000);
    CHECK_EQ_INT(http_policy_backoff_ms(500, 40, 0.5), HTTP_BACKOFF_MAX_MS);
    CHECK_EQ_INT(http_policy_backoff_ms(1000, 1, 0.0), 750);
    CHECK(http_policy_backoff_ms(1000, 1, 0.999) <= 1250);
    CHECK(http_policy_backoff_ms(1000, 1, 0.999) > 1240);
}

static void test_attempts_without_progress_give_up(void)
{
    struct http_retry_state st = {0};
    long delay;
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(fail_at(&st, 0, &delay), HTTP_RETRY);
    CHECK_EQ_INT(delay, 500);
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(fail_at(&st, 0, &delay), HTTP_RETRY);
    CHECK_EQ_INT(delay, 1000);
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(fail_at(&st, 0, &delay), HTTP_RETRY);
    CHECK_EQ_INT(delay, 2000);
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(fail_at(&st, 0, &delay), HTTP_GIVE_UP_COUNT);
    CHECK_EQ_INT(st.attempts, 4);
    char why[200];
    struct http_attempt a = {true, 0, true, -1, 0, 0.5};
    http_policy_give_up_text(HTTP_GIVE_UP_COUNT, &pol, &st, &a, why,
                             sizeof why);
    CHECK_EQ_STR(why, "gave up after 4 attempts");
}

static void test_progress_resets_count_and_backoff(void)
{
    /* drops every 3 MB of a 20 MB file: 7 drops, each after progress */
    struct http_retry_state st = {0};
    long delay;
    uint64_t at = 0;
    for (int i = 0; i < 7; i++) {
        http_retry_begin(&st, at);
        at += 3000000;
        CHECK_EQ_INT(fail_at(&st, at, &delay), HTTP_RETRY);
        CHECK_EQ_INT(delay, 500);       /* never doubles */
        CHECK_EQ_INT(st.stalled, 1);
    }
    CHECK_EQ_INT(st.attempts, 7);
    /* then it stalls: the count starts from the last progress; the
       attempt that made it was the first of the run (retry 1/3) */
    for (int i = 1; i <= 2; i++) {
        http_retry_begin(&st, at);
        CHECK_EQ_INT(fail_at(&st, at, &delay), HTTP_RETRY);
        CHECK_EQ_INT(delay, 500L << (i));
    }
    http_retry_begin(&st, at);
    CHECK_EQ_INT(fail_at(&st, at, &delay), HTTP_GIVE_UP_COUNT);
    char why[200];
    struct http_attempt a = {true, at, true, -1, 0, 0.5};
    http_policy_give_up_text(HTTP_GIVE_UP_COUNT, &pol, &st, &a, why,
                             sizeof why);
    CHECK_EQ_STR(why, "gave up after 3 attempts without progress (10 in all)");
}

static void test_retry_limits(void)
{
    struct http_retry_state st = {0};
    long delay;
    struct http_attempt a = {false, 0, true, -1, 0, 0.5};
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&pol, &st, &a, &delay), HTTP_GIVE_UP);

    /* Retry-After replaces the backoff, up to 300 s */
    memset(&st, 0, sizeof st);
    a = (struct http_attempt){true, 0, true, 7, 0, 0.5};
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&pol, &st, &a, &delay), HTTP_RETRY);
    CHECK_EQ_INT(delay, 7000);
    a.retry_after = 301;
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&pol, &st, &a, &delay),
                 HTTP_GIVE_UP_RETRY_AFTER);

    /* the whole run, waits included, stays within --retry-max-time */
    struct http_retry_policy timed = {100, 500, 10, false};
    memset(&st, 0, sizeof st);
    a = (struct http_attempt){true, 0, true, -1, 9.4, 0.5};
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&timed, &st, &a, &delay), HTTP_RETRY);
    a.elapsed = 9.6;
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&timed, &st, &a, &delay),
                 HTTP_GIVE_UP_TIME);

    /* resuming without a validator: only with resume_unvalidated */
    memset(&st, 0, sizeof st);
    a = (struct http_attempt){true, 100, false, -1, 0, 0.5};
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&pol, &st, &a, &delay),
                 HTTP_GIVE_UP_UNVALIDATED);
    struct http_retry_policy digest = pol;
    digest.resume_unvalidated = true;
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&digest, &st, &a, &delay), HTTP_RETRY);
    /* a failure before any byte restarts from 0: nothing to validate */
    a.delivered = 0;
    memset(&st, 0, sizeof st);
    http_retry_begin(&st, 0);
    CHECK_EQ_INT(http_policy_retry(&pol, &st, &a, &delay), HTTP_RETRY);
}

/* ----------------------------------------------------------- redirects */

static void test_redirect_origins_and_headers(void)
{
    struct http_hop hop;
    const char *user = "https://dl.example/a";
    http_policy_first_hop(true, &hop);
    CHECK(hop.send_headers && hop.send_netrc && !hop.downgraded);
    CHECK_EQ_INT(http_policy_redirect(user, user, "https://cdn.example/b", 1,
                                      true, false, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(!hop.send_headers);      /* another host */
    CHECK(hop.send_netrc);         /* netrc is matched by host by libcurl */
    CHECK_EQ_INT(http_policy_redirect(user, "https://cdn.example/b",
                                      "https://DL.example:443/c", 2, true,
                                      false, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(hop.send_headers);       /* back on the user's origin */
    CHECK_EQ_INT(http_policy_redirect(user, user, "https://dl.example:8443/",
                                      1, true, false, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(!hop.send_headers);      /* another port */
    CHECK_EQ_INT(http_policy_redirect(user, user, "file:///etc/passwd", 1,
                                      true, false, &hop),
                 HTTP_REDIRECT_NOT_HTTP);
    CHECK_EQ_INT(http_policy_redirect(user, user, NULL, 1, true, false, &hop),
                 HTTP_REDIRECT_NOT_HTTP);
    CHECK_EQ_INT(http_policy_redirect(user, user, "https://x/", 11, true,
                                      false, &hop),
                 HTTP_REDIRECT_TOO_MANY);
}

static void test_downgrade(void)
{
    struct http_hop hop;
    const char *user = "https://dl.example/a";
    http_policy_first_hop(true, &hop);
    CHECK_EQ_INT(http_policy_redirect(user, user, "http://dl.example/a", 1,
                                      true, false, &hop),
                 HTTP_REDIRECT_DOWNGRADE);
    CHECK_EQ_INT(http_policy_redirect(user, user, "HTTP://dl.example/a", 1,
                                      true, false, &hop),
                 HTTP_REDIRECT_DOWNGRADE);
    /* allowed: no headers, no netrc, on that hop and every later one,
       even back over https to the user's origin */
    CHECK_EQ_INT(http_policy_redirect(user, user, "http://dl.example/a", 1,
                                      true, true, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(hop.downgraded && !hop.send_headers && !hop.send_netrc);
    CHECK_EQ_INT(http_policy_redirect(user, "http://dl.example/a", user, 2,
                                      true, true, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(!hop.send_headers && !hop.send_netrc);
    /* http -> https -> http: the second hop is a downgrade too */
    http_policy_first_hop(false, &hop);
    CHECK_EQ_INT(http_policy_redirect("http://a/", "http://a/", "https://a/",
                                      1, false, false, &hop),
                 HTTP_REDIRECT_FOLLOW);
    CHECK(!hop.send_headers);      /* the scheme is part of the origin */
    CHECK_EQ_INT(http_policy_redirect("http://a/", "https://a/", "http://a/",
                                      2, false, false, &hop),
                 HTTP_REDIRECT_DOWNGRADE);
}

/* ------------------------------------------------------------- messages */

static void test_curl_text_is_not_repeated(void)
{
    char out[256];
    http_policy_curl_text("Couldn't connect to server",
                          "Failed to connect to 127.0.0.1 port 1 after 0 ms: "
                          "Couldn't connect to server", out, sizeof out);
    CHECK_EQ_STR(out, "Failed to connect to 127.0.0.1 port 1 after 0 ms");
    http_policy_curl_text("Timeout was reached", "", out, sizeof out);
    CHECK_EQ_STR(out, "Timeout was reached");
    http_policy_curl_text("Timeout was reached", NULL, out, sizeof out);
    CHECK_EQ_STR(out, "Timeout was reached");
    http_policy_curl_text("X", "Could not resolve host: a\x1b[2Kb\n", out,
                          sizeof out);
    CHECK_EQ_STR(out, "Could not resolve host: a\\x1b[2Kb");
    http_policy_curl_text("X", "Could not resolve host: a\xc2\x9b" "2Jb", out,
                          sizeof out);
    CHECK_EQ_STR(out, "Could not resolve host: a\\xc2\\x9b2Jb");
}

static void test_url_text_is_escaped_and_without_password(void)
{
    char out[256];
    http_policy_url_text("https://u:secret@h.example/a?b=1", out, sizeof out);
    CHECK(strstr(out, "secret") == NULL);
    CHECK(strstr(out, "h.example/a?b=1") != NULL);
    /* a URL libcurl will not parse is still shown, escaped */
    http_policy_url_text("http://h/\x1b[2K\x1b[1Gdone\r", out, sizeof out);
    CHECK(strchr(out, '\x1b') == NULL && strchr(out, '\r') == NULL);
    CHECK(strstr(out, "\\x1b[2K") != NULL);
}

/* One more connection only while the downstream waits for the network,
 * and kept only if the bytes received rose with it. */
static void test_connections_grow_only_when_the_network_is_the_limit(void)
{
    struct http_conn_state st;
    http_conn_begin(&st, 4);
    CHECK_EQ_INT(st.active, 1);
    /* too short a window to judge: keep summing */
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 0.05, 0.0, 1000),
                 HTTP_CONN_WAIT);
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 0.0 / 0.0, 0.0, 1000),
                 HTTP_CONN_WAIT);
    /* the decoder's queue was full a quarter of the time or more: keep */
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 1.0, 0.25, 1000000),
                 HTTP_CONN_KEEP);
    CHECK_EQ_INT(st.active, 1);
    /* the pushes hardly waited: the network is the limit, probe a second */
    CHECK_EQ_INT(http_policy_connections(&st, 2.0, 0.1, 0.01, 100000),
                 HTTP_CONN_GROW);
    CHECK_EQ_INT(st.active, 2);
    /* a probe is judged over HTTP_CONN_PROBE s */
    CHECK_EQ_INT(http_policy_connections(&st, 2.1, 0.1, 0.0, 200000),
                 HTTP_CONN_WAIT);
    /* it paid (1 MB/s -> 1.9 MB/s, at least 1.5x for a second): and the
     * network is still the limit, so a third is probed */
    CHECK_EQ_INT(http_policy_connections(&st, 2.4, 0.3, 0.0, 570000),
                 HTTP_CONN_GROW);
    CHECK_EQ_INT(st.active, 3);
    /* the third brought 1.2x where 1.25x was the least: dropped, and no
     * probe for HTTP_CONN_QUIET s */
    CHECK_EQ_INT(http_policy_connections(&st, 2.7, 0.3, 0.0, 684000),
                 HTTP_CONN_SHRINK);
    CHECK_EQ_INT(st.active, 2);
    CHECK_EQ_INT(http_policy_connections(&st, 3.0, 0.2, 0.0, 1),
                 HTTP_CONN_KEEP);
    CHECK_EQ_INT(http_policy_connections(&st, 2.7 + HTTP_CONN_QUIET - 0.01,
                                         0.2, 0.0, 1), HTTP_CONN_KEEP);
    CHECK_EQ_INT(st.active, 2);
    CHECK_EQ_INT(http_policy_connections(&st, 2.7 + HTTP_CONN_QUIET, 0.2,
                                         0.0, 1), HTTP_CONN_GROW);
    CHECK_EQ_INT(st.active, 3);
    /* a probe that paid up to the maximum, which then holds */
    http_conn_begin(&st, 2);
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 0.1, 0.0, 100),
                 HTTP_CONN_GROW);
    CHECK_EQ_INT(http_policy_connections(&st, 1.3, 0.3, 0.0, 600),
                 HTTP_CONN_KEEP);
    CHECK_EQ_INT(st.active, 2);
    CHECK_EQ_INT(http_policy_connections(&st, 9.0, 5.0, 0.0, 1),
                 HTTP_CONN_KEEP);
    CHECK_EQ_INT(st.active, 2);
    /* a CPU-bound receive: the probe added nothing, whatever the pushes */
    http_conn_begin(&st, 4);
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 0.1, 0.0, 1000000),
                 HTTP_CONN_GROW);
    CHECK_EQ_INT(http_policy_connections(&st, 1.3, 0.3, 0.0, 3000000),
                 HTTP_CONN_SHRINK);
    CHECK_EQ_INT(st.active, 1);
    /* one connection at most: never a probe */
    http_conn_begin(&st, 1);
    CHECK_EQ_INT(http_policy_connections(&st, 1.0, 1.0, 0.0, 1),
                 HTTP_CONN_KEEP);
}

int main(void)
{
    RUN(test_parse_headers);
    RUN(test_fresh_response_starts_the_stream);
    RUN(test_resumed_206);
    RUN(test_server_ignoring_range);
    RUN(test_416_after_the_last_byte_is_complete);
    RUN(test_statuses);
    RUN(test_backoff);
    RUN(test_attempts_without_progress_give_up);
    RUN(test_progress_resets_count_and_backoff);
    RUN(test_retry_limits);
    RUN(test_redirect_origins_and_headers);
    RUN(test_downgrade);
    RUN(test_curl_text_is_not_repeated);
    RUN(test_url_text_is_escaped_and_without_password);
    RUN(test_connections_grow_only_when_the_network_is_the_limit);
    return check_summary();
}
