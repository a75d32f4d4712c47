/*
 * handoff.c: single-producer, single-consumer ring of slots.
 *
 * Slots head .. head+count-1 belong to the consumer (the one at head is
 * being processed until count is decremented); the slot at tail belongs to
 * the producer while count < HANDOFF_SLOTS.  So the two threads never touch
 * the same slot, and the mutex only guards the indices and flags.
 */
#include "handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t filled;      /* consumer waits: a slot is ready, or end */
    pthread_cond_t freed;       /* producer waits: a slot became free */
    pthread_t thread;
    bool running;               /* thread started and not yet joined */
    uint8_t *slot[HANDOFF_SLOTS];
    size_t len[HANDOFF_SLOTS];
    unsigned head, tail, count;
    bool eof;                   /* producer has no more data */
    bool abort;                 /* producer gave up: discard and exit */
    bool failed;                /* downstream returned -1 */
    uint8_t *cur;               /* producer's slot being filled, or NULL */
    size_t cur_fill;
    stage_push_fn down;
    void *down_ctx;
    struct rz_error *err;       /* the caller's record */
    struct rz_error down_err;   /* the downstream's record */
};

static void *consume(void *arg)
{
    struct handoff *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->count == 0 && !h->eof && !h->abort)
            pthread_cond_wait(&h->filled, &h->mu);
        if (h->abort || h->count == 0)
            break;
        uint8_t *buf = h->slot[h->head];
        size_t len = h->len[h->head];
        pthread_mutex_unlock(&h->mu);
        int rc = h->down(h->down_ctx, buf, len);
        pthread_mutex_lock(&h->mu);
        h->head = (h->head + 1) % HANDOFF_SLOTS;
        h->count--;
        pthread_cond_signal(&h->freed);
        if (rc < 0) {
            h->failed = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int handoff_new(struct handoff **out, stage_push_fn down, void *down_ctx,
                struct rz_error *err)
{
    struct handoff *h = calloc(1, sizeof *h);
    *out = NULL;
    if (!h)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0, NULL);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->filled, NULL);
    pthread_cond_init(&h->freed, NULL);
    h->down = down;
    h->down_ctx = down_ctx;
    h->err = err;
    *out = h;
    for (int i = 0; i < HANDOFF_SLOTS; i++)
        if (!(h->slot[i] = malloc(HANDOFF_SLOT_SIZE)))
            return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                                0, NULL);
    int rc = pthread_create(&h->thread, NULL, consume, h);
    if (rc != 0)
        return rz_error_set(err, RZ_E_INTERNAL, rc, RZ_OFF_NONE, 0, NULL, 0,
                            "cannot start the writer thread");
    h->running = true;
    return 0;
}

struct rz_error *handoff_err(struct handoff *h)
{
    return &h->down_err;
}

/* Join the consumer (it has stopped or was told to) and adopt its error. */
static int join(struct handoff *h)
{
    if (h->running) {
        pthread_join(h->thread, NULL);
        h->running = false;
    }
    if (h->down_err.code != RZ_E_OK && h->err->code == RZ_E_OK)
        *h->err = h->down_err;
    if (h->failed && h->err->code == RZ_E_OK)
        rz_error_set(h->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0, NULL, 0,
                     "writer stage failed without saying why");
    return h->failed || h->down_err.code != RZ_E_OK ? -1 : 0;
}

/* Hand the producer's slot to the consumer. */
static void send_slot(struct handoff *h)
{
    pthread_mutex_lock(&h->mu);
    h->len[h->tail] = h->cur_fill;
    h->tail = (h->tail + 1) % HANDOFF_SLOTS;
    h->count++;
    pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
    h->cur = NULL;
    h->cur_fill = 0;
}

/* Get a free slot for the producer; -1 if the consumer failed. */
static int take_slot(struct handoff *h)
{
    bool failed;
    pthread_mutex_lock(&h->mu);
    while (h->count == HANDOFF_SLOTS && !h->failed)
        pthread_cond_wait(&h->freed, &h->mu);
    failed = h->failed;
    if (!failed)
        h->cur = h->slot[h->tail];
    pthread_mutex_unlock(&h->mu);
    return failed ? join(h) : 0;
}

int handoff_push(void *hv, const uint8_t *buf, size_t len)
{
    struct handoff *h = hv;
    if (h->err->code != RZ_E_OK || !h->running)
        return -1;
    while (len > 0) {
        if (!h->cur && take_slot(h) < 0)
            return -1;
        size_t n = HANDOFF_SLOT_SIZE - h->cur_fill;
        if (n > len)
            n = len;
        memcpy(h->cur + h->cur_fill, buf, n);
        h->cur_fill += n;
        buf += n;
        len -= n;
        if (h->cur_fill == HANDOFF_SLOT_SIZE)
            send_slot(h);
    }
    return 0;
}

int handoff_finish(struct handoff *h)
{
    if (!h->running)
        return join(h);
    if (h->cur && h->cur_fill > 0)
        send_slot(h);
    pthread_mutex_lock(&h->mu);
    h->eof = true;
    pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
    return join(h);
}

void handoff_stop(struct handoff *h)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    h->abort = true;
    pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    h->running = false;
}

void handoff_free(struct handoff *h)
{
    if (!h)
        return;
    handoff_stop(h);
    for (int i = 0; i < HANDOFF_SLOTS; i++)
        free(h->slot[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->filled);
    pthread_cond_destroy(&h->freed);
    free(h);
}
