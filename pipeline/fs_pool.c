/*
 * fs_pool.c: writer threads for handed-over regular files (fs_pool.h).
 *
 * One mutex guards the slots' states and the queue; the pending set
 * (fs_order) and the error bookkeeping are the reader's alone and change
 * only when the reader collects finished slots.  A slot goes FREE ->
 * FILLING (the reader copies the file in) -> QUEUED -> RUNNING (a writer
 * thread creates the file) -> DONE -> FREE (collected by the reader).
 * Queued files are taken in archive order; their failures are compared by
 * archive offset when collected.
 */
#include "fs_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs_order.h"

#define SLOTS_PER_THREAD 4u
#define THREADS_MAX (FS_ORDER_MAX / SLOTS_PER_THREAD)

enum slot_state { S_FREE, S_FILLING, S_QUEUED, S_RUNNING, S_DONE };

struct slot {
    enum slot_state state;
    uint64_t id;
    struct tar_entry e;          /* e.path points to name */
    char name[FS_POOL_NAME_MAX + 1];
    char path[TAR_PATH_MAX + 1];
    size_t plen;
    uint8_t *data;
    size_t len;
    uint64_t bytes_before;
    struct rz_error err;
};

struct worker {
    struct fs_pool *p;
    pthread_t tid;
    bool started;
    struct fs_writer w;
};

struct fs_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;         /* a slot was queued, or stop */
    pthread_cond_t done;         /* a slot is DONE */
    struct slot *slots;
    unsigned nslots;
    unsigned *queue;             /* ring of QUEUED slot indices */
    unsigned qhead, qlen;
    bool stop;
    unsigned idle;               /* threads waiting for work */
    bool reader_waits;           /* the reader waits on `done` */
    atomic_uint ndone;           /* slots DONE, not yet collected: lets
                                    the reader skip the lock */
    struct worker *workers;
    unsigned nworkers;
    uint8_t *data;

    /* the reader's */
    struct fs_order order;
    int open;                    /* the FILLING slot, or -1 */
    unsigned held;               /* slots QUEUED, RUNNING or DONE */
    uint64_t next_id;
    bool failed;
    struct rz_error first;       /* the earliest failure of a thread */
    struct rz_error *err;
};

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    struct fs_pool *p = k->p;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->qlen == 0) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
        }
        if (p->qlen == 0)
            break;
        struct slot *s = &p->slots[p->queue[p->qhead]];
        p->qhead = (p->qhead + 1) % p->nslots;
        p->qlen--;
        s->state = S_RUNNING;
        pthread_mutex_unlock(&p->mu);

        rz_error_clear(&s->err);
        k->w.err = &s->err;
        fs_writer_put(&k->w, &s->e, s->path, s->plen, s->data, s->len,
                      s->bytes_before);

        pthread_mutex_lock(&p->mu);
        s->state = S_DONE;
        atomic_fetch_add_explicit(&p->ndone, 1, memory_order_release);
        if (p->reader_waits)     /* a futex call only when it matters */
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Reader, lock held: frees DONE slots and takes note of their failures. */
static void collect(struct fs_pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        if (s->state != S_DONE)
            continue;
        fs_order_done(&p->order, s->id);
        if (s->err.code != RZ_E_OK) {
            if (fs_order_error_first(&p->first, &s->err))
                p->first = s->err;
            p->failed = true;
        }
        s->state = S_FREE;
        p->held--;
        atomic_fetch_sub_explicit(&p->ndone, 1, memory_order_relaxed);
    }
}

/* Reader: waits until at most `keep` slots are held. */
static void wait_held(struct fs_pool *p, unsigned keep)
{
    pthread_mutex_lock(&p->mu);
    collect(p);
    while (p->held > keep) {
        p->reader_waits = true;
        pthread_cond_wait(&p->done, &p->mu);
        p->reader_waits = false;
        collect(p);
    }
    pthread_mutex_unlock(&p->mu);
}

/* After a failure: everything held is finished, then the earliest failure
 * goes to the reader's record. */
static int failed(struct fs_pool *p)
{
    fs_pool_cancel(p);
    wait_held(p, 0);
    if (fs_order_error_first(p->err, &p->first))
        *p->err = p->first;
    return -1;
}

static int pool_fail(struct fs_pool *p, enum rz_code code, int e,
                     const char *what)
{
    rz_error_set(&p->first, code, e, RZ_OFF_NONE, 0, NULL, 0, "%s", what);
    p->failed = true;
    return failed(p);
}

int fs_pool_new(struct fs_pool **out, unsigned threads,
                const struct fs_writer *proto, struct rz_error *err)
{
    struct fs_pool *p = calloc(1, sizeof *p);
    sigset_t all, old;

    *out = NULL;
    if (!p)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                            0, "writer threads");
    if (threads > THREADS_MAX)
        threads = THREADS_MAX;
    p->err = err;
    p->open = -1;
    fs_order_init(&p->order);
    rz_error_clear(&p->first);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->nslots = threads * SLOTS_PER_THREAD;
    p->slots = calloc(p->nslots, sizeof *p->slots);
    p->queue = calloc(p->nslots, sizeof *p->queue);
    p->data = malloc((size_t)p->nslots * FS_POOL_FILE_MAX);
    p->workers = calloc(threads, sizeof *p->workers);
    if (!p->slots || !p->queue || !p->data || !p->workers) {
        fs_pool_free(p);
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL,
                            0, "writer threads");
    }
    for (unsigned i = 0; i < p->nslots; i++)
        p->slots[i].data = p->data + (size_t)i * FS_POOL_FILE_MAX;
    /* signals are the main thread's (the stop flag) */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        struct worker *k = &p->workers[i];
        k->p = p;
        fs_writer_init(&k->w, proto->o, proto->stagefd, proto->resolver,
                       proto->umask, proto->same_owner, NULL, NULL);
        int e = pthread_create(&k->tid, NULL, worker_main, k);
        if (e != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            fs_pool_free(p);
            return rz_error_set(err, RZ_E_NOMEM, e, RZ_OFF_NONE, 0, NULL, 0,
                                "starting a writer thread");
        }
        k->started = true;
        p->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = p;
    return 0;
}

int fs_pool_check(struct fs_pool *p)
{
    if (!p->failed &&
        atomic_load_explicit(&p->ndone, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        collect(p);
        pthread_mutex_unlock(&p->mu);
    }
    return p->failed ? failed(p) : 0;
}

int fs_pool_clear(struct fs_pool *p, const char *path, size_t len,
                  const char *target)
{
    if (fs_pool_check(p) < 0)
        return -1;
    if (fs_order_blocks(&p->order, path, len, target,
                        target ? strlen(target) : 0))
        wait_held(p, 0);
    return p->failed ? failed(p) : 0;
}

int fs_pool_open(struct fs_pool *p, const struct tar_entry *e,
                 const char *path, size_t plen, uint64_t bytes_before)
{
    if (p->failed)
        return failed(p);
    if (p->open >= 0 || e->path_len > FS_POOL_NAME_MAX || plen > TAR_PATH_MAX)
        return pool_fail(p, RZ_E_INTERNAL, 0, "fs_pool_open misuse");
    pthread_mutex_lock(&p->mu);
    collect(p);
    while (p->held > p->nslots - 1) {
        p->reader_waits = true;
        pthread_cond_wait(&p->done, &p->mu);
        p->reader_waits = false;
        collect(p);
    }
    unsigned i = 0;
    while (p->slots[i].state != S_FREE)   /* one is free: held < nslots */
        i++;
    struct slot *s = &p->slots[i];
    s->state = S_FILLING;
    pthread_mutex_unlock(&p->mu);
    if (p->failed) {
        p->open = (int)i;
        return failed(p);      /* cancels the slot */
    }
    s->id = p->next_id++;
    s->e = *e;
    memcpy(s->name, e->path, e->path_len);
    s->name[e->path_len] = '\0';
    s->e.path = s->name;
    s->e.linkpath = "";
    s->e.linkpath_len = 0;
    s->e.uname = s->e.gname = "";
    s->e.xattrs = NULL;
    s->e.xattr_count = 0;
    memcpy(s->path, path, plen);
    s->path[plen] = '\0';
    s->plen = plen;
    s->len = 0;
    s->bytes_before = bytes_before;
    p->open = (int)i;
    return 0;
}

int fs_pool_append(struct fs_pool *p, const uint8_t *buf, size_t len)
{
    if (p->open < 0)
        return pool_fail(p, RZ_E_INTERNAL, 0, "fs_pool_append misuse");
    struct slot *s = &p->slots[p->open];
    if (len > FS_POOL_FILE_MAX - s->len)
        return pool_fail(p, RZ_E_INTERNAL, 0,
                         "more file data than the entry declared");
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return 0;
}

int fs_pool_submit(struct fs_pool *p)
{
    if (p->open < 0)
        return pool_fail(p, RZ_E_INTERNAL, 0, "fs_pool_submit misuse");
    struct slot *s = &p->slots[p->open];
    if (fs_order_add(&p->order, s->id, s->path, s->plen) < 0)
        return pool_fail(p, RZ_E_INTERNAL, 0, "pending set full");
    p->open = -1;
    pthread_mutex_lock(&p->mu);
    s->state = S_QUEUED;
    p->queue[(p->qhead + p->qlen) % p->nslots] = (unsigned)(s - p->slots);
    p->qlen++;
    p->held++;
    if (p->idle > 0)
        pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void fs_pool_cancel(struct fs_pool *p)
{
    if (p->open < 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->slots[p->open].state = S_FREE;
    pthread_mutex_unlock(&p->mu);
    p->open = -1;
}

int fs_pool_drain(struct fs_pool *p)
{
    wait_held(p, 0);
    return p->failed ? failed(p) : 0;
}

const struct rz_error *fs_pool_failure(const struct fs_pool *p)
{
    return &p->first;
}

void fs_pool_free(struct fs_pool *p)
{
    if (!p)
        return;
    fs_pool_cancel(p);
    if (p->slots)
        wait_held(p, 0);
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (p->workers[i].started)
            pthread_join(p->workers[i].tid, NULL);
        fs_writer_close(&p->workers[i].w);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->data);
    free(p->queue);
    free(p->slots);
    free(p);
}
