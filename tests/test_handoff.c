/*
 * Unit tests for the handoff stage: bytes arrive on the writer thread in
 * order and unchanged whatever the push sizes, a downstream failure comes
 * back to the producer as the downstream's own error, and stopping early
 * never hangs or leaks.
 */
#include "../pipeline/handoff.h"
#include "check.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct collector {
    uint8_t *buf;
    size_t len, cap;
    size_t fail_after;          /* fail once this many bytes arrived (0: never) */
    int slow_us;                /* sleep per call, to fill the queue */
    struct rz_error *err;       /* the handoff's record */
};

static int collect(void *ctx, const uint8_t *buf, size_t len)
{
    struct collector *c = ctx;
    if (c->slow_us)
        usleep(c->slow_us);
    if (c->len + len > c->cap)
        return -1;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    if (c->fail_after && c->len >= c->fail_after)
        return rz_error_set(c->err, RZ_E_POL_DOTDOT, 0, RZ_OFF_ARCHIVE,
                            c->len, "a/../b", 6, NULL);
    return 0;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    return p;
}

static void run_sizes(size_t total, size_t step, int slow_us)
{
    uint8_t *in = pattern(total);
    struct collector c = {malloc(total), 0, total, 0, slow_us, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    for (size_t off = 0; off < total; off += step) {
        size_t n = total - off < step ? total - off : step;
        CHECK_EQ_INT(handoff_push(h, in + off, n), 0);
    }
    CHECK_EQ_INT(handoff_push(h, in, 0), 0);      /* len 0 means nothing */
    CHECK_EQ_INT(handoff_finish(h), 0);
    CHECK_EQ_INT(c.len, total);
    CHECK(memcmp(c.buf, in, total) == 0);
    CHECK_EQ_INT(err.code, RZ_E_OK);
    handoff_free(h);
    free(c.buf);
    free(in);
}

static void test_order_and_content(void)
{
    run_sizes(1, 1, 0);
    run_sizes(5 * HANDOFF_SLOT_SIZE + 17, 1000, 0);
    run_sizes(3 * HANDOFF_SLOT_SIZE, HANDOFF_SLOT_SIZE, 0);
    run_sizes(10 * HANDOFF_SLOT_SIZE + 1, 3 * HANDOFF_SLOT_SIZE + 7, 0);
    run_sizes(20 * HANDOFF_SLOT_SIZE, 65536, 2000); /* slow consumer */
}

static void test_empty_stream(void)
{
    struct collector c = {NULL, 0, 0, 0, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    CHECK_EQ_INT(handoff_finish(h), 0);
    CHECK_EQ_INT(c.len, 0);
    handoff_free(h);
}

static void test_downstream_failure_reaches_producer(void)
{
    size_t total = 40 * HANDOFF_SLOT_SIZE;
    uint8_t *in = pattern(total);
    struct collector c = {malloc(total), 0, total, 2 * HANDOFF_SLOT_SIZE, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    int rc = 0;
    size_t off;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    for (off = 0; off < total && rc == 0; off += 4096)
        rc = handoff_push(h, in + off, 4096);
    CHECK_EQ_INT(rc, -1);
    CHECK(off < total);                          /* stopped early */
    CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);     /* the downstream's error */
    CHECK_EQ_STR(err.entry, "a/../b");
    CHECK_EQ_INT(handoff_push(h, in, 10), -1);   /* sticky */
    CHECK_EQ_INT(handoff_finish(h), -1);
    handoff_free(h);
    free(c.buf);
    free(in);
}

static void test_failure_seen_at_finish(void)
{
    uint8_t *in = pattern(1000);
    struct collector c = {malloc(1000), 0, 1000, 500, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    CHECK_EQ_INT(handoff_push(h, in, 1000), 0);  /* fits in one slot */
    CHECK_EQ_INT(handoff_finish(h), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);
    handoff_free(h);
    free(c.buf);
    free(in);
}

static void test_free_while_running(void)
{
    size_t total = 8 * HANDOFF_SLOT_SIZE;
    uint8_t *in = pattern(total);
    struct collector c = {malloc(total), 0, total, 0, 20000, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    CHECK_EQ_INT(handoff_push(h, in, total / 2), 0);
    handoff_stop(h);                             /* producer gives up */
    CHECK(c.len < total / 2 + 1);
    handoff_free(h);
    free(c.buf);
    free(in);
}

/* Windows written in place, mixed with copied pushes of odd sizes: the
 * writer sees the exact stream, windows are never under 16 KiB, and only
 * the in-place bytes are counted as such. */
static void test_windows_in_place(void)
{
    size_t total = 3 * 1024 * 1024 + 77;
    uint8_t *in = pattern(total);
    struct collector c = {malloc(total), 0, total, 0, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    size_t off = 0, copied = 0, small = 0;
    static const size_t sizes[] = {1, 4000, 70000, 16383, 300000, 5};
    for (int i = 0; off < total; i++) {
        size_t want = sizes[i % 6];
        if (want > total - off)
            want = total - off;
        if (i % 3 == 2) {                     /* a copied push */
            CHECK_EQ_INT(handoff_push(h, in + off, want), 0);
            copied += want;
            off += want;
            continue;
        }
        uint8_t *w;
        size_t cap;
        CHECK_EQ_INT(handoff_window(h, &w, &cap), 0);
        if (cap < 16 * 1024)
            small++;
        size_t n = want < cap ? want : cap;
        memcpy(w, in + off, n);
        CHECK_EQ_INT(handoff_push(h, w, n), 0);
        off += n;
    }
    CHECK_EQ_INT(small, 0);
    CHECK_EQ_INT(handoff_finish(h), 0);
    CHECK_EQ_INT(c.len, total);
    CHECK(memcmp(c.buf, in, total) == 0);
    CHECK_EQ_INT(handoff_in_place(h), total - copied);
    CHECK(handoff_in_place(h) > 0);
    handoff_free(h);
    free(c.buf);
    free(in);
}

/* A failed writer makes handoff_window fail with the writer's error. */
static void test_window_after_failure(void)
{
    size_t total = 8 * 1024 * 1024;
    struct collector c = {malloc(total), 0, total, 300000, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++) {
        uint8_t *w;
        size_t cap;
        rc = handoff_window(h, &w, &cap);
        if (rc == 0) {
            memset(w, 'x', cap);
            rc = handoff_push(h, w, cap);
        }
    }
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);
    handoff_free(h);
    free(c.buf);
}

/* Sizes handoff_new_sized accepts, and the stream through each: the
 * wake-up thresholds (half the slots) differ with the count. */
static void test_sized(void)
{
    static const unsigned counts[] = {2, 3, 5, 8};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new_sized(&h, 1, 65536, collect, NULL, &err), -1);
    CHECK_EQ_INT(err.code, RZ_E_INTERNAL);
    CHECK(h == NULL);
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new_sized(&h, HANDOFF_SLOTS_MAX + 1, 65536, collect,
                                   NULL, &err), -1);
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new_sized(&h, 4, 16 * 1024, collect, NULL, &err), -1);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        for (int slow = 0; slow < 2; slow++) {
            size_t total = 700 * 1024 + 3;
            uint8_t *in = pattern(total);
            struct collector c = {malloc(total), 0, total, 0,
                                  slow ? 300 : 0, NULL};
            rz_error_clear(&err);
            CHECK_EQ_INT(handoff_new_sized(&h, counts[i], 32 * 1024, collect,
                                           &c, &err), 0);
            c.err = handoff_err(h);
            for (size_t off = 0; off < total; off += 5000)
                CHECK_EQ_INT(handoff_push(h, in + off, total - off < 5000
                                          ? total - off : 5000), 0);
            CHECK_EQ_INT(handoff_finish(h), 0);
            CHECK_EQ_INT(c.len, total);
            CHECK(memcmp(c.buf, in, total) == 0);
            handoff_free(h);
            free(c.buf);
            free(in);
        }
    }
}

/* Two handoffs in a chain, as the pipeline has them (receive -> decoder
 * thread -> writer thread): the relay is A's downstream and B's producer. */
struct relay {
    struct handoff *b;
};

static int relay_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct relay *r = ctx;
    return handoff_push(r->b, buf, len);
}

static void test_chain_carries_stream_and_errors(void)
{
    for (int fail = 0; fail < 2; fail++) {
        size_t total = 3 * 1024 * 1024 + 11;
        uint8_t *in = pattern(total);
        struct collector c = {malloc(total), 0, total,
                              fail ? 2 * 1024 * 1024 : 0, 0, NULL};
        struct relay rl;
        struct rz_error err;
        struct handoff *a, *b;
        int rc = 0;
        rz_error_clear(&err);
        CHECK_EQ_INT(handoff_new_sized(&a, 4, 64 * 1024, relay_push, &rl,
                                       &err), 0);
        CHECK_EQ_INT(handoff_new(&b, collect, &c, handoff_err(a)), 0);
        handoff_set_upstream(b, a);
        rl.b = b;
        c.err = handoff_err(b);
        for (size_t off = 0; rc == 0 && off < total; off += 16384)
            rc = handoff_push(a, in + off,
                              total - off < 16384 ? total - off : 16384);
        if (rc == 0)
            rc = handoff_finish(a);
        if (rc == 0)                   /* A joined: B from this thread */
            rc = handoff_finish(b);
        if (fail) {
            /* the writer's own error, through both records */
            CHECK_EQ_INT(rc, -1);
            CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);
        } else {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT(c.len, total);
            CHECK(memcmp(c.buf, in, total) == 0);
        }
        handoff_stop(a);
        handoff_set_upstream(b, NULL);
        handoff_free(a);
        handoff_free(b);
        free(c.buf);
        free(in);
    }
}

/* Stopping A reaches B's producer (A's consumer) while it waits for a
 * writer that holds every slot of B: it gives up as on a stop flag,
 * instead of waiting for the writer to free a slot and pushing on. */
static void test_stopping_upstream_reaches_chained_producer(void)
{
    size_t total = 1024 * 1024;
    uint8_t *in = pattern(total);
    struct collector c = {malloc(total), 0, total, 0, 500000, NULL};
    struct relay rl;
    struct rz_error err;
    struct handoff *a, *b;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&a, relay_push, &rl, &err), 0);
    CHECK_EQ_INT(handoff_new_sized(&b, 2, 32 * 1024, collect, &c,
                                   handoff_err(a)), 0);
    handoff_set_upstream(b, a);
    rl.b = b;
    c.err = handoff_err(b);
    CHECK_EQ_INT(handoff_push(a, in, total), 0);   /* A's slots hold it */
    usleep(100000);            /* B is full, its writer in a slow call */
    handoff_stop(a);
    CHECK_EQ_INT(handoff_err(a)->code, RZ_E_INTERRUPTED);
    CHECK(c.len < total);
    handoff_set_upstream(b, NULL);
    handoff_free(a);
    handoff_free(b);
    free(c.buf);
    free(in);
}

/* A slow stream reaches an idle consumer without filling a slot: bytes
 * it was not woken for go over at the producer's next push after 20 ms. */
static void test_slow_stream_is_not_held_back(void)
{
    uint8_t *in = pattern(4096);
    struct collector c = {malloc(4096), 0, 4096, 0, 0, NULL};
    struct rz_error err;
    struct handoff *h;
    rz_error_clear(&err);
    CHECK_EQ_INT(handoff_new(&h, collect, &c, &err), 0);
    c.err = handoff_err(h);
    usleep(50000);                          /* the consumer is idle */
    CHECK_EQ_INT(handoff_push(h, in, 1000), 0);
    usleep(50000);
    CHECK_EQ_INT(handoff_push(h, in + 1000, 1), 0);   /* the next push */
    size_t seen = 0;
    for (int i = 0; i < 200 && seen < 1001; i++) {
        usleep(10000);
        seen = __atomic_load_n(&c.len, __ATOMIC_ACQUIRE);
    }
    CHECK_EQ_INT(seen, 1001);               /* before finish, a whole slot
                                               short of 256 KiB */
    CHECK_EQ_INT(handoff_push(h, in + 1001, 3095), 0);
    CHECK_EQ_INT(handoff_finish(h), 0);
    CHECK_EQ_INT(c.len, 4096);
    CHECK(memcmp(c.buf, in, 4096) == 0);
    handoff_free(h);
    free(c.buf);
    free(in);
}

int main(void)
{
    RUN(test_windows_in_place);
    RUN(test_window_after_failure);
    RUN(test_order_and_content);
    RUN(test_empty_stream);
    RUN(test_downstream_failure_reaches_producer);
    RUN(test_failure_seen_at_finish);
    RUN(test_free_while_running);
    RUN(test_sized);
    RUN(test_chain_carries_stream_and_errors);
    RUN(test_stopping_upstream_reaches_chained_producer);
    RUN(test_slow_stream_is_not_held_back);
    return check_summary();
}
