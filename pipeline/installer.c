/*
 * installer.c: a pool of `jobs` worker threads takes components in
 * manifest order; the calling thread waits for them, forwarding a signal
 * to every pipeline's own stop flag.
 */
#include "installer.h"
#include "install_multi.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum outcome { OUT_PENDING, OUT_INSTALLED, OUT_UP_TO_DATE, OUT_FAILED };

struct component_run {
    struct installer *in;
    size_t i;
    volatile sig_atomic_t stop;
    enum outcome outcome;
    struct rz_error err;
    struct pipeline_stats st;
    struct http_source_stats net;
    double seconds;
};

struct installer {
    const struct installer_options *o;
    struct install_multi *im;         /* --driver=multi, else NULL */
    struct component_run *runs;
    atomic_size_t next;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t finished;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ receipts */

int installer_receipt_matches(const char *dest, const char *url,
                              const char *sha256_hex)
{
    char path[PATH_MAX], buf[8192], want[8192];
    int fd;
    ssize_t n;
    if (snprintf(path, sizeof path, "%s/%s", dest, INSTALLER_RECEIPT)
        >= (int)sizeof path)
        return 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    snprintf(want, sizeof want, "\nurl %s\nsha256 %s\n", url, sha256_hex);
    return strstr(buf, want) != NULL;
}

static int write_receipt(void *ctx, int dfd, const char *staging,
                         struct rz_error *err)
{
    struct component_run *r = ctx;
    const struct manifest_component *c = &r->in->o->m->components[r->i];
    char text[8192];
    int fd, len;
    len = snprintf(text, sizeof text, "rzup-extract receipt 1\nname %s\n"
                   "url %s\nsha256 %s\n", c->name, c->url, c->sha256_hex);
    unlinkat(dfd, INSTALLER_RECEIPT, 0);   /* the archive's, if it had one */
    fd = openat(dfd, INSTALLER_RECEIPT,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return rz_error_set(err, RZ_E_IO_WRITE, e, RZ_OFF_NONE, 0, NULL, 0,
                            "writing the receipt %s in the staging "
                            "directory %s", INSTALLER_RECEIPT, staging);
    }
    close(fd);
    return 0;
}

/* ------------------------------------------------------------ callbacks */

static void on_retry(void *ctx, const char *msg)
{
    struct component_run *r = ctx;
    progress_retry(r->in->o->progress, r->i, msg);
}

static void on_total(void *ctx, int64_t total)
{
    struct component_run *r = ctx;
    atomic_store(&progress_item_counters(r->in->o->progress, r->i)->total,
                 total);
}

static void on_notice(void *ctx, const char *msg)
{
    struct component_run *r = ctx;
    if (!r->in->o->quiet)
        progress_notice(r->in->o->progress, r->i, msg);
}

static void on_warn(void *ctx, const char *msg)
{
    struct component_run *r = ctx;
    if (!r->in->o->quiet)
        progress_warn(r->in->o->progress, r->i, msg);
}

static int on_line(void *ctx, const char *name)
{
    struct component_run *r = ctx;
    char line[8192];
    snprintf(line, sizeof line, "%s: %s", r->in->o->m->components[r->i].name,
             name);
    return progress_line(r->in->o->progress, line) < 0
           ? progress_out_errno(r->in->o->progress) : 0;
}

/* mkdir -p of dest's parent. */
static int make_parents(const char *dest, struct rz_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dest);
    char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    *slash = '\0';
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char ch = *p;
            *p = '\0';
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return rz_error_set(err, RZ_E_IO_DEST, errno, RZ_OFF_NONE, 0,
                                    NULL, 0, "creating %s", path);
            *p = ch;
            if (ch == '\0')
                break;
        }
    }
    return 0;
}

static void run_one(struct component_run *r)
{
    const struct installer_options *o = r->in->o;
    const struct manifest_component *c = &o->m->components[r->i];
    struct pipeline_options po = o->base;
    char msg[4096];
    double t0 = now();

    if (!o->force && installer_receipt_matches(c->dest, c->url, c->sha256_hex)) {
        r->outcome = OUT_UP_TO_DATE;
        progress_skip(o->progress, r->i, "receipt matches");
        return;
    }
    po.source = c->url;
    po.have_sha256 = true;
    memcpy(po.sha256, c->sha256, 32);
    po.sink.dest = c->dest;
    po.sink.strip_components = c->strip_components;
    po.include = (const char *const *)c->include;
    po.n_include = c->n_include;
    po.exclude = (const char *const *)c->exclude;
    po.n_exclude = c->n_exclude;
    po.http.headers = (const char *const *)c->headers;
    po.http.n_headers = c->n_headers;
    po.http.resume_unvalidated = true;   /* the digest catches a splice */
    po.http.notice = on_notice;
    po.http.on_retry = on_retry;
    po.http.on_total = on_total;
    po.http.notice_ctx = r;
    po.http.stats = &r->net;
    /* One transfer per component on the multi; not file:// (libcurl reads
     * a file in one go and would hold what a paused transfer cannot
     * deliver in memory): that one runs on the component's thread. */
    if (r->in->im && (strncasecmp(c->url, "http://", 7) == 0
                      || strncasecmp(c->url, "https://", 8) == 0)) {
        po.http.driver = install_multi_driver(r->in->im, r->i);
        po.http.connections = 1;
    }
    po.on_line = o->base.verbose ? on_line : NULL;
    po.on_warn = on_warn;
    po.on_note = o->base.verbose ? on_notice : NULL;
    po.out_ctx = r;
    po.before_publish = write_receipt;
    po.publish_ctx = r;
    po.counters = progress_item_counters(o->progress, r->i);
    po.stop = &r->stop;
    po.list = false;
    progress_begin(o->progress, r->i);
    if (make_parents(c->dest, &r->err) == 0)
        pipeline_run(&po, &r->st, &r->err);
    r->seconds = now() - t0;
    if (r->err.code == RZ_E_OK) {
        r->outcome = OUT_INSTALLED;
        progress_done(o->progress, r->i);
    } else {
        r->outcome = OUT_FAILED;
        rz_error_format(&r->err, msg, sizeof msg);
        progress_fail(o->progress, r->i, rz_code_exit(r->err.code), msg);
    }
}

static void *worker(void *arg)
{
    struct installer *in = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&in->next, 1);
        if (i >= in->o->m->n)
            break;
        run_one(&in->runs[i]);
        pthread_mutex_lock(&in->lock);
        in->finished++;
        pthread_cond_signal(&in->changed);
        pthread_mutex_unlock(&in->lock);
    }
    return NULL;
}

/* On the calling thread: wait, passing a signal on to every pipeline. */
static void wait_all(struct installer *in)
{
    pthread_mutex_lock(&in->lock);
    while (in->finished < in->o->m->n) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&in->changed, &in->lock, &ts);
        if (in->o->signal && *in->o->signal)
            for (size_t i = 0; i < in->o->m->n; i++)
                in->runs[i].stop = *in->o->signal;
    }
    pthread_mutex_unlock(&in->lock);
}

/* ------------------------------------------------------------ summary */

static void print_summary(const struct installer *in, double secs)
{
    const struct installer_options *o = in->o;
    size_t counts[4] = {0};
    char msg[4096], b[32];
    FILE *f = o->summary;
    for (size_t i = 0; i < o->m->n; i++)
        counts[in->runs[i].outcome]++;
    if (!o->quiet || counts[OUT_FAILED])
        fprintf(f, "rzup-extract: %zu installed, %zu up to date, %zu failed "
                "(%zu components, %.1f s)\n", counts[OUT_INSTALLED],
                counts[OUT_UP_TO_DATE], counts[OUT_FAILED] + counts[OUT_PENDING],
                o->m->n, secs);
    for (size_t i = 0; i < o->m->n; i++) {
        const struct component_run *r = &in->runs[i];
        const struct manifest_component *c = &o->m->components[i];
        switch (r->outcome) {
        case OUT_INSTALLED:
            if (o->quiet)
                break;
            progress_format_bytes(r->st.raw_bytes, b, sizeof b);
            fprintf(f, "  %-16s installed: %s, %" PRIu64 " entries in %.1f s"
                    " -> %s\n", c->name, b, r->st.entries, r->seconds,
                    c->dest);
            break;
        case OUT_UP_TO_DATE:
            if (!o->quiet)
                fprintf(f, "  %-16s up to date: %s\n", c->name, c->dest);
            break;
        case OUT_FAILED:
        case OUT_PENDING:
            rz_error_format(&r->err, msg, sizeof msg);
            fprintf(f, "  %-16s FAILED: ", c->name);
            if (r->outcome == OUT_PENDING)
                fputs("not run", f);
            for (const char *m = msg; r->outcome == OUT_FAILED && *m; m++)
                fputs(*m == '\n' ? "\n                 " : (char[]){*m, 0},
                      f);
            fputc('\n', f);
            break;
        }
    }
    fflush(f);
}

static int exit_status(const struct installer *in)
{
    const struct installer_options *o = in->o;
    if (o->signal && *o->signal)
        for (size_t i = 0; i < o->m->n; i++)
            if (in->runs[i].outcome == OUT_FAILED)
                return 128 + *o->signal;
    for (size_t i = 0; i < o->m->n; i++)
        if (in->runs[i].outcome == OUT_FAILED)
            return rz_code_exit(in->runs[i].err.code);
        else if (in->runs[i].outcome == OUT_PENDING)
            return RZ_EXIT_INTERNAL;
    return RZ_EXIT_OK;
}

int installer_run(const struct installer_options *o)
{
    struct installer in;
    size_t n = o->m->n;
    unsigned jobs = o->jobs ? o->jobs : o->m->jobs ? o->m->jobs : (unsigned)n;
    pthread_t *threads;
    size_t started = 0;
    double t0 = now();
    int rc;

    memset(&in, 0, sizeof in);
    in.o = o;
    atomic_init(&in.next, 0);
    if (jobs > n)
        jobs = (unsigned)n;
    in.runs = calloc(n, sizeof *in.runs);
    threads = calloc(jobs, sizeof *threads);
    if (!in.runs || !threads) {
        free(in.runs);
        free(threads);
        fputs("rzup-extract: error: out of memory\n", stderr);
        return RZ_EXIT_INTERNAL;
    }
    if (o->driver == INSTALLER_MULTI && !(in.im = install_multi_new(n))) {
        free(in.runs);
        free(threads);
        fputs("rzup-extract: error: cannot start the curl multi thread\n",
              stderr);
        return RZ_EXIT_INTERNAL;
    }
    pthread_mutex_init(&in.lock, NULL);
    pthread_cond_init(&in.changed, NULL);
    for (size_t i = 0; i < n; i++) {
        in.runs[i].in = &in;
        in.runs[i].i = i;
        rz_error_clear(&in.runs[i].err);
    }
    /* Workers leave signals to this thread (it forwards them). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned j = 0; j < jobs; j++)
        if (pthread_create(&threads[j], NULL, worker, &in) == 0)
            started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0)
        worker(&in);          /* no thread at all: run them here */
    else
        wait_all(&in);
    for (size_t j = 0; j < started; j++)
        pthread_join(threads[j], NULL);
    progress_stop(o->progress);
    if (o->summary)
        print_summary(&in, now() - t0);
    if (o->summary && in.im && o->base.verbose)
        fprintf(o->summary, "rzup-extract: curl multi: transfers paused %lu "
                "times for their pipelines\n", install_multi_pauses(in.im));
    rc = exit_status(&in);
    install_multi_free(in.im);
    pthread_mutex_destroy(&in.lock);
    pthread_cond_destroy(&in.changed);
    free(threads);
    free(in.runs);
    return rc;
}
