/*
 * handoff.c: single-producer, single-consumer ring of slots.
 *
 * Slots head .. head+count-1 belong to the consumer (the one at head is
 * being processed until count is decremented); the slot at tail belongs to
 * the producer while count < HANDOFF_SLOTS.  So the two threads never touch
 * the same slot, and the mutex only guards the indices and flags.
 *
 * Signals: the writer thread is created with every signal blocked but the
 * faults (SEGV, BUS, FPE...).  Asynchronous ones (INT, TERM, HUP) then go
 * to the producer's thread, where they interrupt the source's poll or
 * libcurl's wait, and the handlers (which set a flag the producer reads)
 * never run on the writer: no flag is written by one thread while another
 * reads it.  The writer's own synchronous signals stay pending on it: a
 * write past RLIMIT_FSIZE fails with EFBIG instead of killing the process
 * before it can clean up (SIGXFSZ is dropped), and a write to a closed
 * pipe fails with EPIPE, its SIGPIPE taken by the writer before it exits
 * and raised again on the producer's thread after the join, so the
 * process sees it as it would without a second thread.  The producer never
 * waits for the writer without a timeout, so a stop flag set while the
 * queue is full, or while the writer drains it at the end, is seen within
 * HANDOFF_WAIT_MS; the writer looks at `abort` between pieces of
 * HANDOFF_PIECE bytes, so stopping does not wait for a whole slot.
 *
 * Wake-ups: waking a sleeping thread costs the waker a futex syscall and,
 * in a VM, an inter-processor interrupt; on the toolchain .tar.gz the
 * decoder thread (the bottleneck) spent 6.7% of its samples in futex_wake,
 * waking the idle writer for every slot and the idle receiver for every
 * slot freed.  So a sleeping consumer is woken only once half the slots
 * are full, and a sleeping producer once half are free.  Neither can then
 * wait for the other forever: the producer sleeps only with every slot
 * full (past the consumer's threshold), the consumer only with none (and
 * end of stream, abort and failure always signal).  So that a slow stream
 * is not held back (a drip-fed download would reach the writer only every
 * half-queue, and the progress bar's current entry lag behind), bytes the
 * consumer has not been told about for HANDOFF_LATENCY_NS are handed over
 * at the producer's next push: its partial slot is sent, and the consumer
 * woken.  At full speed slots fill far faster than that and nothing
 * changes.
 */
#include "handoff.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HANDOFF_WAIT_MS 100
#define HANDOFF_PIECE (64 * 1024)
#define HANDOFF_WINDOW_MIN (16 * 1024) /* smaller rests of a slot: send it */
#define HANDOFF_LATENCY_NS (20 * 1000000LL) /* see "Wake-ups" above */

struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t filled;      /* consumer waits: a slot is ready, or end */
    pthread_cond_t freed;       /* producer waits: a slot became free, or
                                   the consumer is done (CLOCK_MONOTONIC) */
    pthread_t thread;
    bool running;               /* thread started and not yet joined */
    uint8_t *slot[HANDOFF_SLOTS_MAX];
    size_t len[HANDOFF_SLOTS_MAX];
    unsigned nslots;            /* slots in use, <= HANDOFF_SLOTS_MAX */
    size_t slot_size;
    unsigned head, tail, count;
    bool eof;                   /* producer has no more data */
    bool abort;                 /* producer gave up: discard and exit */
    bool failed;                /* downstream returned -1 */
    bool done;                  /* consumer left its loop */
    bool sigpipe;               /* the consumer took a SIGPIPE of its own */
    bool idle;                  /* the consumer waits for a slot */
    volatile sig_atomic_t *stop;/* read on the producer's thread only */
    struct handoff *upstream;   /* the handoff whose consumer is our
                                   producer, or NULL (handoff_set_upstream) */
    uint64_t handed;            /* bytes accepted by handoff_push */
    uint64_t in_place;          /* of which written into a lent window */
    uint8_t *cur;               /* producer's slot being filled, or NULL */
    size_t cur_fill;
    int64_t unsignaled_since;   /* producer: when the oldest byte the
                                   consumer was not woken for came, or 0 */
    stage_push_fn down;
    void *down_ctx;
    struct rz_error *err;       /* the caller's record */
    struct rz_error down_err;   /* the downstream's record */
};

static bool aborted(struct handoff *h)
{
    pthread_mutex_lock(&h->mu);
    bool a = h->abort;
    pthread_mutex_unlock(&h->mu);
    return a;
}

/* One slot downstream, in pieces: -1 failed, 1 aborted, 0 done. */
static int deliver(struct handoff *h, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < HANDOFF_PIECE ? len : HANDOFF_PIECE;
        if (aborted(h))
            return 1;
        if (h->down(h->down_ctx, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

/* On the writer: accept a SIGPIPE pending on it (its own write to a
 * closed pipe); true if there was one. */
static bool take_sigpipe(void)
{
    sigset_t pending, pipe;
    struct timespec now = {0, 0};
    if (sigpending(&pending) < 0 || !sigismember(&pending, SIGPIPE))
        return false;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    return sigtimedwait(&pipe, NULL, &now) == SIGPIPE;
}

static void *consume(void *arg)
{
    struct handoff *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->count == 0 && !h->eof && !h->abort) {
            h->idle = true;
            pthread_cond_wait(&h->filled, &h->mu);
            h->idle = false;
        }
        if (h->abort || h->count == 0)
            break;
        uint8_t *buf = h->slot[h->head];
        size_t len = h->len[h->head];
        pthread_mutex_unlock(&h->mu);
        int rc = deliver(h, buf, len);
        pthread_mutex_lock(&h->mu);
        h->head = (h->head + 1) % h->nslots;
        h->count--;
        if (h->count <= h->nslots / 2)   /* see "Wake-ups" above */
            pthread_cond_signal(&h->freed);
        if (rc < 0)
            h->failed = true;
        if (rc != 0)
            break;
    }
    h->done = true;
    h->sigpipe = take_sigpipe();
    pthread_cond_signal(&h->freed);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Start the writer with every signal but the faults blocked (see top). */
static int start_thread(struct handoff *h)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS,
                                 SIGTRAP, SIGABRT};
    sigset_t block, old;
    sigfillset(&block);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&block, faults[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&h->thread, NULL, consume, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int handoff_new(struct handoff **out, stage_push_fn down, void *down_ctx,
                struct rz_error *err)
{
    return handoff_new_sized(out, HANDOFF_SLOTS, HANDOFF_SLOT_SIZE, down,
                             down_ctx, err);
}

int handoff_new_sized(struct handoff **out, unsigned slots, size_t slot_size,
                      stage_push_fn down, void *down_ctx,
                      struct rz_error *err)
{
    struct handoff *h;
    *out = NULL;
    if (slots < 2 || slots > HANDOFF_SLOTS_MAX
        || slot_size < 2 * HANDOFF_WINDOW_MIN)
        return rz_error_set(err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "handoff of %u slots of %zu bytes", slots,
                            slot_size);
    h = calloc(1, sizeof *h);
    if (!h)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->filled, NULL);
    pthread_cond_init(&h->freed, &ca);
    pthread_condattr_destroy(&ca);
    h->down = down;
    h->down_ctx = down_ctx;
    h->err = err;
    h->nslots = slots;
    h->slot_size = slot_size;
    *out = h;
    for (unsigned i = 0; i < slots; i++)
        if (!(h->slot[i] = malloc(slot_size)))
            return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                                0, NULL);
    int rc = start_thread(h);
    if (rc != 0)
        return rz_error_set(err, RZ_E_INTERNAL, rc, RZ_OFF_NONE, 0, NULL, 0,
                            "cannot start a pipeline thread");
    h->running = true;
    return 0;
}

struct rz_error *handoff_err(struct handoff *h)
{
    return &h->down_err;
}

uint64_t handoff_in_place(const struct handoff *h)
{
    return h->in_place;
}

void handoff_set_stop(struct handoff *h, volatile sig_atomic_t *stop)
{
    h->stop = stop;
}

void handoff_set_upstream(struct handoff *h, struct handoff *upstream)
{
    h->upstream = upstream;
}

/*
 * With the mutex held: wait for `freed` at most HANDOFF_WAIT_MS.  False
 * when the stop flag is set (checked before waiting).
 */
static bool wait_freed(struct handoff *h)
{
    struct timespec ts;
    if (h->stop && *h->stop)
        return false;
    if (h->upstream && aborted(h->upstream))   /* lock order: ours, then
                                                  the upstream's */
        return false;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += HANDOFF_WAIT_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&h->freed, &h->mu, &ts);
    return true;
}

/* The stop flag was seen while waiting for the writer: stop it, fail. */
static int interrupted(struct handoff *h)
{
    handoff_stop(h);
    return rz_error_set(h->err, RZ_E_INTERRUPTED, 0, RZ_OFF_ARCHIVE,
                        h->handed, NULL, 0, "while the writer was busy");
}

/* After the join, on the producer's thread: the writer's SIGPIPE. */
static void reap(struct handoff *h)
{
    pthread_join(h->thread, NULL);
    h->running = false;
    if (h->sigpipe) {
        h->sigpipe = false;
        pthread_kill(pthread_self(), SIGPIPE);
    }
}

/* Join the consumer (it has stopped or was told to) and adopt its error. */
static int join(struct handoff *h)
{
    if (h->running)
        reap(h);
    rz_error_adopt(h->err, &h->down_err);
    if (h->failed)
        rz_error_downstream(h->err, RZ_OFF_NONE, 0, "the writer stage");
    return h->failed || h->down_err.code != RZ_E_OK ? -1 : 0;
}

static int64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Hand the producer's slot to the consumer; with `wake`, wake it whatever
 * the count (see "Wake-ups" above). */
static void send_slot_wake(struct handoff *h, bool wake)
{
    pthread_mutex_lock(&h->mu);
    h->len[h->tail] = h->cur_fill;
    h->tail = (h->tail + 1) % h->nslots;
    h->count++;
    if (wake || h->count >= h->nslots / 2) {
        pthread_cond_signal(&h->filled);
        h->unsignaled_since = 0;
    }
    pthread_mutex_unlock(&h->mu);
    h->cur = NULL;
    h->cur_fill = 0;
}

static void send_slot(struct handoff *h)
{
    send_slot_wake(h, false);
}

/* After bytes were added: hand over what waited too long for a consumer
 * that sits idle.  A busy consumer comes to the queued slots by itself,
 * so then nothing is sent early (that would only make slots smaller). */
static void hand_over_stale(struct handoff *h)
{
    int64_t now = coarse_ns();
    bool idle;
    if (h->unsignaled_since == 0) {
        h->unsignaled_since = now;
        return;
    }
    if (now - h->unsignaled_since < HANDOFF_LATENCY_NS)
        return;
    pthread_mutex_lock(&h->mu);
    idle = h->idle;
    if (idle && !(h->cur && h->cur_fill > 0))
        pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
    if (idle && h->cur && h->cur_fill > 0)
        send_slot_wake(h, true);
    h->unsignaled_since = idle ? 0 : now;
}

/* Get a free slot for the producer; -1 if the consumer failed or stop. */
static int take_slot(struct handoff *h)
{
    bool failed, go = true;
    pthread_mutex_lock(&h->mu);
    while (go && h->count == h->nslots && !h->failed)
        go = wait_freed(h);
    failed = h->failed;
    if (go && !failed)
        h->cur = h->slot[h->tail];
    pthread_mutex_unlock(&h->mu);
    if (failed)
        return join(h);
    return go ? 0 : interrupted(h);
}

int handoff_window(void *hv, uint8_t **p, size_t *cap)
{
    struct handoff *h = hv;
    if (h->err->code != RZ_E_OK || !h->running)
        return -1;
    if (h->cur && h->slot_size - h->cur_fill < HANDOFF_WINDOW_MIN)
        send_slot(h);
    if (!h->cur && take_slot(h) < 0)
        return -1;
    *p = h->cur + h->cur_fill;
    *cap = h->slot_size - h->cur_fill;
    return 0;
}

int handoff_push(void *hv, const uint8_t *buf, size_t len)
{
    struct handoff *h = hv;
    if (h->err->code != RZ_E_OK || !h->running)
        return -1;
    if (h->cur && buf == h->cur + h->cur_fill
        && len <= h->slot_size - h->cur_fill) {
        /* written in place through handoff_window: nothing to copy */
        h->cur_fill += len;
        h->handed += len;
        h->in_place += len;
        if (h->cur_fill == h->slot_size)
            send_slot(h);
        if (len > 0)
            hand_over_stale(h);
        return 0;
    }
    while (len > 0) {
        if (!h->cur && take_slot(h) < 0)
            return -1;
        size_t n = h->slot_size - h->cur_fill;
        if (n > len)
            n = len;
        memcpy(h->cur + h->cur_fill, buf, n);
        h->cur_fill += n;
        h->handed += n;
        buf += n;
        len -= n;
        if (h->cur_fill == h->slot_size)
            send_slot(h);
        if (len == 0)
            hand_over_stale(h);
    }
    return 0;
}

int handoff_finish(struct handoff *h)
{
    if (!h->running)
        return join(h);
    if (h->cur && h->cur_fill > 0)
        send_slot(h);
    bool go = true;
    pthread_mutex_lock(&h->mu);
    h->eof = true;
    pthread_cond_signal(&h->filled);
    while (go && !h->done)
        go = wait_freed(h);
    pthread_mutex_unlock(&h->mu);
    return go ? join(h) : interrupted(h);
}

void handoff_stop(struct handoff *h)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    h->abort = true;
    pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
    reap(h);
}

void handoff_free(struct handoff *h)
{
    if (!h)
        return;
    handoff_stop(h);
    for (unsigned i = 0; i < h->nslots; i++)
        free(h->slot[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->filled);
    pthread_cond_destroy(&h->freed);
    free(h);
}
