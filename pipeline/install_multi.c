/*
 * install_multi.c: the multi thread and the per-component rings
 * (install_multi.h).
 *
 * Locking: one mutex (im->lock) guards every slot's state and ring
 * indices.  The multi thread never holds it while calling into libcurl
 * (curl_easy_pause calls the write callback, which takes it); a
 * component's thread never holds it while pushing into its pipeline (the
 * ring's filled part is only read by the consumer and its free part only
 * written by the producer, so the copy and the push run unlocked).
 */
#include "install_multi.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum slot_state {
    SLOT_IDLE,      /* no request */
    SLOT_ADD,       /* perform asked for its handle to be added */
    SLOT_RUNNING,   /* in the multi */
    SLOT_DONE,      /* ended (or never added): result holds its CURLcode */
};

struct slot {
    struct install_multi *im;
    struct http_driver drv;
    CURL *easy;
    enum slot_state state;
    CURLcode result;
    bool abort;              /* the pipeline failed or was stopped */
    bool paused;             /* a body piece did not fit: transfer paused */
    uint8_t *ring;
    uint64_t head, tail;     /* bytes put, bytes pushed (this request) */
    pthread_cond_t changed;  /* data, or the end: the component waits */
};

struct install_multi {
    CURLM *m;
    pthread_t thread;
    pthread_mutex_t lock;
    bool quit;
    unsigned long pauses;
    size_t n;
    struct slot *slots;
};

static size_t ring_free(const struct slot *s)
{
    return INSTALL_MULTI_RING - (size_t)(s->head - s->tail);
}

/* ------------------------------------------ on the multi thread (callbacks) */

static int slot_room(void *dctx, size_t len)
{
    struct slot *s = dctx;
    int rc;
    pthread_mutex_lock(&s->im->lock);
    if (s->abort)
        rc = -1;
    else if (len > INSTALL_MULTI_RING / 2)
        rc = -1;             /* libcurl delivers at most 16 KiB at once */
    else if (ring_free(s) < len) {
        if (!s->paused)
            s->im->pauses++;
        s->paused = true;
        rc = 0;
    } else {
        rc = 1;
    }
    pthread_mutex_unlock(&s->im->lock);
    return rc;
}

static int slot_put(void *dctx, const uint8_t *buf, size_t len)
{
    struct slot *s = dctx;
    pthread_mutex_lock(&s->im->lock);
    size_t at = (size_t)(s->head % INSTALL_MULTI_RING);
    size_t first = INSTALL_MULTI_RING - at < len ? INSTALL_MULTI_RING - at
                                                 : len;
    memcpy(s->ring + at, buf, first);
    memcpy(s->ring, buf + first, len - first);
    s->head += len;
    pthread_cond_signal(&s->changed);
    pthread_mutex_unlock(&s->im->lock);
    return 0;
}

static bool slot_paused(void *dctx)
{
    struct slot *s = dctx;
    pthread_mutex_lock(&s->im->lock);
    bool p = s->paused;
    pthread_mutex_unlock(&s->im->lock);
    return p;
}

/* ------------------------------------------------------- the multi thread */

static void end_slot(struct slot *s, CURLcode rc)
{
    s->state = SLOT_DONE;
    s->result = rc;
    s->paused = false;
    pthread_cond_signal(&s->changed);
}

static void *multi_thread(void *arg)
{
    struct install_multi *im = arg;
    /* Handles to add, to remove (aborted) and to resume, found under the
     * lock and acted on outside it: libcurl may call our callbacks from
     * any of these calls, and they take the lock. */
    struct slot **add = calloc(im->n ? im->n : 1, sizeof *add);
    struct slot **drop = calloc(im->n ? im->n : 1, sizeof *drop);
    struct slot **resume = calloc(im->n ? im->n : 1, sizeof *resume);
    if (!add || !drop || !resume) {
        /* Cannot run: end every request as it comes. */
        free(add), free(drop), free(resume);
        add = drop = resume = NULL;
    }
    for (;;) {
        size_t n_add = 0, n_drop = 0, n_resume = 0, active = 0;
        pthread_mutex_lock(&im->lock);
        for (size_t i = 0; i < im->n; i++) {
            struct slot *s = &im->slots[i];
            if (s->state == SLOT_ADD && (s->abort || !add)) {
                end_slot(s, add ? CURLE_ABORTED_BY_CALLBACK
                                : CURLE_OUT_OF_MEMORY);
            } else if (s->state == SLOT_ADD) {
                s->state = SLOT_RUNNING;
                add[n_add++] = s;
            } else if (s->state == SLOT_RUNNING && s->abort) {
                drop[n_drop++] = s;
            } else if (s->state == SLOT_RUNNING && s->paused
                       && ring_free(s) >= INSTALL_MULTI_RING / 2) {
                s->paused = false;
                resume[n_resume++] = s;
            }
            if (s->state == SLOT_RUNNING)
                active++;
        }
        bool quit = im->quit && active == 0;
        pthread_mutex_unlock(&im->lock);
        if (quit)
            break;
        for (size_t k = 0; k < n_add; k++) {
            CURLMcode mc = curl_multi_add_handle(im->m, add[k]->easy);
            if (mc != CURLM_OK) {
                pthread_mutex_lock(&im->lock);
                end_slot(add[k], mc == CURLM_OUT_OF_MEMORY
                                     ? CURLE_OUT_OF_MEMORY
                                     : CURLE_FAILED_INIT);
                pthread_mutex_unlock(&im->lock);
            }
        }
        for (size_t k = 0; k < n_drop; k++) {
            curl_multi_remove_handle(im->m, drop[k]->easy);
            pthread_mutex_lock(&im->lock);
            end_slot(drop[k], CURLE_ABORTED_BY_CALLBACK);
            pthread_mutex_unlock(&im->lock);
        }
        /* May call the write callback at once. */
        for (size_t k = 0; k < n_resume; k++)
            curl_easy_pause(resume[k]->easy, CURLPAUSE_CONT);
        int running = 0;
        curl_multi_perform(im->m, &running);
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(im->m, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(im->m, e);
            pthread_mutex_lock(&im->lock);
            for (size_t i = 0; i < im->n; i++)
                if (im->slots[i].easy == e
                    && im->slots[i].state == SLOT_RUNNING)
                    end_slot(&im->slots[i], rc);
            pthread_mutex_unlock(&im->lock);
        }
        /* Woken by libcurl's own timers, a socket, or curl_multi_wakeup. */
        curl_multi_poll(im->m, NULL, 0, 1000, NULL);
    }
    free(add), free(drop), free(resume);
    return NULL;
}

/* --------------------------------------------- on the component's thread */

static void wait_slice(struct slot *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&s->changed, &s->im->lock, &ts);
}

/* Ask the multi thread to drop the request; wait until it has. */
static void abort_request(struct slot *s)
{
    s->abort = true;
    curl_multi_wakeup(s->im->m);
    while (s->state != SLOT_DONE)
        wait_slice(s);
}

static int slot_perform(void *dctx, void *easy, stage_push_fn push,
                        void *pctx, volatile sig_atomic_t *stop,
                        struct rz_error *err)
{
    struct slot *s = dctx;
    struct install_multi *im = s->im;
    CURLcode rc;

    pthread_mutex_lock(&im->lock);
    s->easy = easy;
    s->head = s->tail = 0;
    s->abort = s->paused = false;
    s->state = SLOT_ADD;
    curl_multi_wakeup(im->m);
    for (;;) {
        if (stop && *stop) {
            abort_request(s);
            rz_error_set(err, RZ_E_INTERRUPTED, 0, RZ_OFF_NONE, 0, NULL, 0,
                         NULL);
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (s->head != s->tail) {
            size_t at = (size_t)(s->tail % INSTALL_MULTI_RING);
            size_t len = (size_t)(s->head - s->tail);
            if (len > INSTALL_MULTI_RING - at)
                len = INSTALL_MULTI_RING - at;
            pthread_mutex_unlock(&im->lock);
            int prc = push(pctx, s->ring + at, len);
            pthread_mutex_lock(&im->lock);
            if (prc < 0) {
                abort_request(s);
                rc = CURLE_ABORTED_BY_CALLBACK;
                break;
            }
            s->tail += len;
            if (s->paused && ring_free(s) >= INSTALL_MULTI_RING / 2)
                curl_multi_wakeup(im->m);
            continue;
        }
        if (s->state == SLOT_DONE) {
            rc = s->result;
            break;
        }
        wait_slice(s);
    }
    s->state = SLOT_IDLE;
    s->easy = NULL;
    pthread_mutex_unlock(&im->lock);
    return (int)rc;
}

/* ------------------------------------------------------------ lifetime */

struct install_multi *install_multi_new(size_t n)
{
    struct install_multi *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->n = n;
    im->slots = calloc(n ? n : 1, sizeof *im->slots);
    im->m = curl_multi_init();
    pthread_mutex_init(&im->lock, NULL);
    bool ok = im->slots && im->m;
    for (size_t i = 0; ok && i < n; i++) {
        struct slot *s = &im->slots[i];
        s->im = im;
        s->drv = (struct http_driver){slot_perform, slot_room, slot_put,
                                      slot_paused, s};
        pthread_cond_init(&s->changed, NULL);
        ok = (s->ring = malloc(INSTALL_MULTI_RING)) != NULL;
    }
    if (ok) {
        /* Signals stay with the installer's thread, which forwards them. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        ok = pthread_create(&im->thread, NULL, multi_thread, im) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (!ok) {
        im->quit = true;    /* no thread to join */
        im->thread = 0;
        for (size_t i = 0; im->slots && i < n; i++) {
            free(im->slots[i].ring);
            if (im->slots[i].im)
                pthread_cond_destroy(&im->slots[i].changed);
        }
        if (im->m)
            curl_multi_cleanup(im->m);
        pthread_mutex_destroy(&im->lock);
        free(im->slots);
        free(im);
        return NULL;
    }
    return im;
}

const struct http_driver *install_multi_driver(struct install_multi *im,
                                               size_t i)
{
    return &im->slots[i].drv;
}

unsigned long install_multi_pauses(const struct install_multi *im)
{
    return im->pauses;
}

void install_multi_free(struct install_multi *im)
{
    if (!im)
        return;
    pthread_mutex_lock(&im->lock);
    im->quit = true;
    pthread_mutex_unlock(&im->lock);
    curl_multi_wakeup(im->m);
    pthread_join(im->thread, NULL);
    for (size_t i = 0; i < im->n; i++) {
        free(im->slots[i].ring);
        pthread_cond_destroy(&im->slots[i].changed);
    }
    curl_multi_cleanup(im->m);
    pthread_mutex_destroy(&im->lock);
    free(im->slots);
    free(im);
}
