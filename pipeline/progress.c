/*
 * progress.c: the counters pipelines update, and the one thread that
 * writes what the user sees (see progress.h for the modes).
 *
 * Everything written to `out` or `err` is written holding p->lock, by the
 * reporter's thread (queued lines, redraws, plain and JSON ticks) or by the
 * thread reporting an event (JSON and plain event lines).  The queue is a
 * byte ring of records "stream byte, text, NUL"; a producer waits for room,
 * the reporter drains it whole before each redraw.
 */
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../formats/rz_error.h"

#define QUEUE_SIZE (64 * 1024)
#define LINE_MAX_QUEUED (8 * 1024)     /* longer lines are cut */
#define BAR_PERIOD 0.2                 /* seconds between redraws */
#define PLAIN_QUIET 3.0                /* no plain line in the first 3 s */
#define PLAIN_GAP 3.0                  /* at most one per 3 s per item */
#define PLAIN_UNKNOWN_GAP 10.0         /* unknown total: every 10 s */
#define JSON_PERIOD 1.0
#define STALL_SHOWN 3.0                /* no byte for 3 s: no ETA guess */

struct item {
    char name[PROGRESS_NAME_MAX];
    struct progress_counters c;
    enum progress_state state;
    double t_start, t_end;
    double last_plain;
    int last_step;
    bool plain_any;
    double rate, rate_t;
    uint64_t rate_bytes;
    uint64_t seen_bytes;               /* bytes at the last change */
    double seen_t;                     /* when they last changed */
    char why[256];
};

struct progress {
    enum progress_mode mode;
    bool multi;
    FILE *out, *err;
    size_t n;
    struct item *items;
    pthread_mutex_t lock;
    pthread_cond_t data, room;
    pthread_t thread;
    bool running, quit;
    char queue[QUEUE_SIZE];
    size_t q_head, q_used;             /* ring: start and bytes in use */
    int out_errno;
    int drawn;                         /* bar lines on screen */
    double next_bar, next_json;
};

/* ------------------------------------------------------------ counters */

void progress_counters_init(struct progress_counters *c)
{
    atomic_init(&c->bytes, 0);
    atomic_init(&c->total, -1);
    atomic_init(&c->entries, 0);
    pthread_mutex_init(&c->lock, NULL);
    c->current[0] = '\0';
}

void progress_counters_destroy(struct progress_counters *c)
{
    pthread_mutex_destroy(&c->lock);
}

void progress_counters_entry(struct progress_counters *c, const char *name,
                             size_t len)
{
    pthread_mutex_lock(&c->lock);
    rz_escape(name, len, c->current, sizeof c->current);
    pthread_mutex_unlock(&c->lock);
}

int progress_mode_parse(const char *s, enum progress_mode *out)
{
    static const char *const names[] = {"auto", "bar", "plain", "json",
                                        "none"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum progress_mode)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------ helpers */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_format_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024.0 && u < 4)
        v /= 1024.0, u++;
    if (u == 0)
        snprintf(buf, size, "%" PRIu64 " B", n);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
}

static void format_duration(double s, char *buf, size_t size)
{
    long t = s < 0 ? 0 : s > 359999 ? 359999 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* JSON string body (without quotes) of `s`. */
static void json_escape(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

static void snapshot(struct item *it, uint64_t *bytes, int64_t *total,
                     uint64_t *entries)
{
    *bytes = atomic_load_explicit(&it->c.bytes, memory_order_relaxed);
    *total = atomic_load_explicit(&it->c.total, memory_order_relaxed);
    *entries = atomic_load_explicit(&it->c.entries, memory_order_relaxed);
}

/* ------------------------------------------------------------ setup */

struct progress *progress_new(enum progress_mode mode, size_t n_items,
                              bool multi, FILE *out, FILE *err)
{
    struct progress *p = calloc(1, sizeof *p);
    if (!p || !(p->items = calloc(n_items ? n_items : 1, sizeof *p->items))) {
        free(p);
        return NULL;
    }
    if (mode == PROGRESS_AUTO)
        mode = isatty(fileno(err)) ? PROGRESS_BAR : PROGRESS_PLAIN;
    p->mode = mode;
    p->multi = multi;
    p->out = out;
    p->err = err;
    p->n = n_items;
    for (size_t i = 0; i < n_items; i++) {
        progress_counters_init(&p->items[i].c);
        p->items[i].last_step = 0;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->data, NULL);
    pthread_cond_init(&p->room, NULL);
    return p;
}

enum progress_mode progress_get_mode(const struct progress *p)
{
    return p->mode;
}

void progress_item_name(struct progress *p, size_t i, const char *name)
{
    rz_escape(name, strlen(name), p->items[i].name, sizeof p->items[i].name);
}

struct progress_counters *progress_item_counters(struct progress *p, size_t i)
{
    return &p->items[i].c;
}

/* ------------------------------------------------------------ the bar */

static int term_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static int term_rows(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 4)
        return ws.ws_row;
    return 24;
}

/*
 * Which items get a line: all of them when they fit in the terminal less
 * two rows (the cursor can only go back up over lines still on screen);
 * else the running ones first, and one line counting the others.
 */
static bool shown(const struct progress *p, const struct item *it,
                  bool crowded)
{
    if (!p->multi)
        return it->state == PROGRESS_RUNNING;
    return !crowded || it->state == PROGRESS_RUNNING;
}

/* Cut `s` to `width` columns without splitting a UTF-8 sequence (one
 * column per character: close enough for names). */
static void fit(char *s, int width)
{
    int cols = 0;
    for (char *c = s; *c; c++) {
        if (((unsigned char)*c & 0xC0) != 0x80 && ++cols > width) {
            *c = '\0';
            return;
        }
    }
}

static void update_rate(struct item *it, uint64_t bytes, double t)
{
    if (bytes != it->seen_bytes || it->seen_t == 0) {
        it->seen_bytes = bytes;
        it->seen_t = t;
    }
    if (it->rate_t == 0) {
        it->rate_t = it->t_start;
        it->rate_bytes = 0;
    }
    if (t - it->rate_t >= 1.0) {
        double inst = (double)(bytes - it->rate_bytes) / (t - it->rate_t);
        it->rate = it->rate > 0 ? 0.5 * it->rate + 0.5 * inst : inst;
        it->rate_t = t;
        it->rate_bytes = bytes;
    } else if (it->rate == 0 && t - it->t_start > 0.1) {
        it->rate = (double)bytes / (t - it->t_start);
    }
}

/* The figures of a running item: "45%  12.0 MiB / 26.6 MiB  3.1 MiB/s
 * ETA 0:04  1234 entries". */
static void figures(struct item *it, double t, char *buf, size_t size,
                    int *percent)
{
    uint64_t bytes, entries;
    int64_t total;
    char b[32], tot[32], rate[32], eta[32] = "";
    snapshot(it, &bytes, &total, &entries);
    update_rate(it, bytes, t);
    progress_format_bytes(bytes, b, sizeof b);
    progress_format_bytes((uint64_t)(it->rate > 0 ? it->rate : 0), rate,
                          sizeof rate);
    *percent = -1;
    if (total > 0) {
        *percent = (int)(bytes >= (uint64_t)total ? 100
                         : bytes * 100 / (uint64_t)total);
        progress_format_bytes((uint64_t)total, tot, sizeof tot);
        if (t - it->seen_t > STALL_SHOWN) {
            snprintf(eta, sizeof eta, "  ETA --:--");
        } else if (it->rate > 0 && bytes < (uint64_t)total) {
            char d[24];
            format_duration((double)((uint64_t)total - bytes) / it->rate, d,
                            sizeof d);
            snprintf(eta, sizeof eta, "  ETA %s", d);
        }
        snprintf(buf, size, "%3d%%  %s / %s  %s/s%s  %" PRIu64 " entries",
                 *percent, b, tot, rate, eta, entries);
    } else {
        snprintf(buf, size, "%s  %s/s  %" PRIu64 " entries", b, rate,
                 entries);
    }
}

static void bar_line(struct progress *p, struct item *it, double t,
                     char *line, size_t size, int width)
{
    char fig[160], cur[PROGRESS_NAME_MAX], meter[32], name[48] = "";
    char tot[32];
    uint64_t bytes, entries;
    int64_t total;
    int percent;

    if (p->multi)
        snprintf(name, sizeof name, "%-14.14s ", it->name);
    snapshot(it, &bytes, &total, &entries);
    switch (it->state) {
    case PROGRESS_WAITING:
        snprintf(line, size, "%swaiting", name);
        break;
    case PROGRESS_SKIPPED:
        snprintf(line, size, "%sup to date (%s)", name, it->why);
        break;
    case PROGRESS_FAILED:
        snprintf(line, size, "%sFAILED: %s", name, it->why);
        break;
    case PROGRESS_DONE:
        progress_format_bytes(bytes, tot, sizeof tot);
        snprintf(line, size, "%sdone: %s, %" PRIu64 " entries in %.1f s",
                 name, tot, entries, it->t_end - it->t_start);
        break;
    case PROGRESS_RUNNING:
        figures(it, t, fig, sizeof fig, &percent);
        pthread_mutex_lock(&it->c.lock);
        snprintf(cur, sizeof cur, "%s", it->c.current);
        pthread_mutex_unlock(&it->c.lock);
        if (percent >= 0) {
            int fill = percent * 20 / 100;
            memset(meter, '#', (size_t)fill);
            memset(meter + fill, '-', (size_t)(20 - fill));
            meter[20] = '\0';
            snprintf(line, size, "%s[%s] %s  %s", name, meter, fig, cur);
        } else {
            snprintf(line, size, "%s%s  %s", name, fig, cur);
        }
        break;
    }
    fit(line, width - 1);
}

static void bar_erase(struct progress *p)
{
    if (p->drawn == 0)
        return;
    fputs("\r\033[K", p->err);
    for (int i = 1; i < p->drawn; i++)
        fputs("\033[A\033[K", p->err);
    p->drawn = 0;
}

static void bar_draw(struct progress *p, double t)
{
    char line[512];
    int width = term_width(p->err), room = term_rows(p->err) - 2;
    bool crowded = p->multi && p->n > (size_t)room;
    size_t counts[5] = {0};
    bar_erase(p);
    for (size_t i = 0; i < p->n; i++) {
        struct item *it = &p->items[i];
        if (!shown(p, it, crowded) || (crowded && p->drawn >= room - 1)) {
            counts[it->state]++;
            continue;
        }
        bar_line(p, it, t, line, sizeof line, width);
        fprintf(p->err, "%s%s", p->drawn ? "\n" : "", line);
        p->drawn++;
    }
    if (crowded) {
        snprintf(line, sizeof line, "(and %zu more: %zu waiting, %zu done, "
                 "%zu up to date, %zu failed)", counts[PROGRESS_WAITING]
                 + counts[PROGRESS_DONE] + counts[PROGRESS_SKIPPED]
                 + counts[PROGRESS_FAILED] + counts[PROGRESS_RUNNING],
                 counts[PROGRESS_WAITING], counts[PROGRESS_DONE],
                 counts[PROGRESS_SKIPPED], counts[PROGRESS_FAILED]);
        fit(line, width - 1);
        fprintf(p->err, "%s%s", p->drawn ? "\n" : "", line);
        p->drawn++;
    }
    fflush(p->err);
}

/* ------------------------------------------------------------ plain, json */

static void plain_tick(struct progress *p, struct item *it, double t)
{
    char fig[160];
    int percent;
    int64_t total = atomic_load_explicit(&it->c.total, memory_order_relaxed);
    uint64_t bytes = atomic_load_explicit(&it->c.bytes, memory_order_relaxed);

    update_rate(it, bytes, t);
    if (it->state != PROGRESS_RUNNING || t - it->t_start < PLAIN_QUIET)
        return;
    if (t - it->last_plain < PLAIN_GAP)
        return;
    if (total > 0) {
        int step = (int)(bytes >= (uint64_t)total ? 10
                         : bytes * 10 / (uint64_t)total);
        if (step <= it->last_step && t - it->last_plain < PLAIN_UNKNOWN_GAP * 3)
            return;
        it->last_step = step;
    } else if (t - it->last_plain < PLAIN_UNKNOWN_GAP) {
        return;
    }
    figures(it, t, fig, sizeof fig, &percent);
    fprintf(p->err, "rzup-extract: %s: %s\n", it->name, fig);
    fflush(p->err);
    it->last_plain = t;
    it->plain_any = true;
}

/* One JSON event line (without newline) into buf. */
static void json_format(struct item *it, const char *event, int code,
                        const char *message, double t, char *buf, size_t size)
{
    char name[2 * PROGRESS_NAME_MAX], msg[2048], total_s[32];
    uint64_t bytes, entries;
    int64_t total;
    size_t o;
    snapshot(it, &bytes, &total, &entries);
    json_escape(it->name, name, sizeof name);
    if (total >= 0)
        snprintf(total_s, sizeof total_s, "%" PRId64, total);
    else
        snprintf(total_s, sizeof total_s, "null");
    o = (size_t)snprintf(buf, size, "{\"event\":\"%s\",\"component\":\"%s\","
                         "\"bytes\":%" PRIu64 ",\"total\":%s,\"entries\":%"
                         PRIu64, event, name, bytes, total_s, entries);
    if (o < size && (strcmp(event, "done") == 0 || strcmp(event, "error") == 0))
        o += (size_t)snprintf(buf + o, size - o, ",\"seconds\":%.3f",
                              t - it->t_start);
    if (o < size && strcmp(event, "error") == 0)
        o += (size_t)snprintf(buf + o, size - o, ",\"code\":%d", code);
    if (o < size && message) {
        json_escape(message, msg, sizeof msg);
        o += (size_t)snprintf(buf + o, size - o, ",\"message\":\"%s\"", msg);
    }
    if (o < size)
        snprintf(buf + o, size - o, "}");
}

static void json_event(struct progress *p, struct item *it, const char *event,
                       int code, const char *message, double t)
{
    char line[4096];
    json_format(it, event, code, message, t, line, sizeof line);
    fprintf(p->err, "%s\n", line);
    fflush(p->err);
}

/* ------------------------------------------------------------ the queue */

/* Pop one record into buf; returns its stream (1 = err) or -1 if empty. */
static int queue_pop(struct progress *p, char *buf, size_t size)
{
    size_t i = 0;
    int stream;
    if (p->q_used == 0)
        return -1;
    stream = p->queue[p->q_head];
    p->q_head = (p->q_head + 1) % QUEUE_SIZE;
    p->q_used--;
    for (;;) {
        char ch = p->queue[p->q_head];
        p->q_head = (p->q_head + 1) % QUEUE_SIZE;
        p->q_used--;
        if (ch == '\0')
            break;
        if (i + 1 < size)
            buf[i++] = ch;
    }
    buf[i] = '\0';
    return stream;
}

/* With the lock held: write every queued line. */
static void drain(struct progress *p)
{
    static char line[LINE_MAX_QUEUED + 2];
    int stream;
    bool any = false, wrote_out = false;
    while ((stream = queue_pop(p, line, LINE_MAX_QUEUED + 1)) >= 0) {
        if (!any)
            bar_erase(p);
        any = true;
        if (stream == 1) {
            if (wrote_out && !p->out_errno)
                fflush(p->out);        /* keep the two streams in order */
            wrote_out = false;
            fprintf(p->err, "%s\n", line);
            continue;
        }
        if (p->out_errno)
            continue;
        if (fprintf(p->out, "%s\n", line) < 0)
            p->out_errno = errno ? errno : EIO;
        wrote_out = true;
    }
    /* one flush per batch: line by line to a reader, without a write(2)
     * per name when names come faster than the reader takes them */
    if (wrote_out && !p->out_errno && fflush(p->out) != 0)
        p->out_errno = errno ? errno : EIO;
    if (any) {
        fflush(p->err);
        pthread_cond_broadcast(&p->room);
    }
}

static int enqueue(struct progress *p, int stream, const char *line)
{
    size_t len = strnlen(line, LINE_MAX_QUEUED);
    size_t need = len + 2;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (stream == 0 && p->out_errno) {
        rc = -1;
    } else if (!p->running) {
        /* no reporter (not started or stopped): write it here */
        drain(p);
        fprintf(stream ? p->err : p->out, "%.*s\n", (int)len, line);
    } else {
        while (QUEUE_SIZE - p->q_used < need && !p->quit
               && !(stream == 0 && p->out_errno))
            pthread_cond_wait(&p->room, &p->lock);
        if (stream == 0 && p->out_errno) {
            rc = -1;
        } else if (QUEUE_SIZE - p->q_used < need) {
            /* stopping with a full queue: empty it here, then write */
            drain(p);
            fprintf(stream ? p->err : p->out, "%.*s\n", (int)len, line);
        } else {
            size_t tail = (p->q_head + p->q_used) % QUEUE_SIZE;
            p->queue[tail] = (char)stream;
            for (size_t i = 0; i <= len; i++)
                p->queue[(tail + 1 + i) % QUEUE_SIZE] = i < len ? line[i] : 0;
            p->q_used += need;
            pthread_cond_signal(&p->data);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int progress_line(struct progress *p, const char *line)
{
    return enqueue(p, 0, line);
}

void progress_note(struct progress *p, const char *line)
{
    enqueue(p, 1, line);
}

/* A message about item i: a JSON `event` object, else a line with `word`. */
static void message(struct progress *p, size_t i, const char *event,
                    const char *word, const char *msg)
{
    char line[4096];
    if (p->mode == PROGRESS_JSON) {
        json_format(&p->items[i], event, 0, msg, now(), line, sizeof line);
    } else if (p->multi) {
        snprintf(line, sizeof line, "rzup-extract: %s: %s%s",
                 p->items[i].name, word, msg);
    } else {
        snprintf(line, sizeof line, "rzup-extract: %s%s", word, msg);
    }
    enqueue(p, 1, line);
}

void progress_warn(struct progress *p, size_t i, const char *msg)
{
    message(p, i, "warning", "warning: ", msg);
}

void progress_notice(struct progress *p, size_t i, const char *msg)
{
    message(p, i, "notice", "", msg);
}

int progress_out_errno(const struct progress *p)
{
    return p->out_errno;
}

/* ------------------------------------------------------------ the thread */

static void tick(struct progress *p, double t)
{
    if (p->mode == PROGRESS_BAR && t >= p->next_bar) {
        bar_draw(p, t);
        p->next_bar = t + BAR_PERIOD;
    } else if (p->mode == PROGRESS_PLAIN) {
        for (size_t i = 0; i < p->n; i++)
            plain_tick(p, &p->items[i], t);
    } else if (p->mode == PROGRESS_JSON && t >= p->next_json) {
        for (size_t i = 0; i < p->n; i++)
            if (p->items[i].state == PROGRESS_RUNNING
                && t - p->items[i].t_start >= JSON_PERIOD)
                json_event(p, &p->items[i], "progress", 0, NULL, t);
        p->next_json = t + JSON_PERIOD;
    }
}

static void *reporter(void *arg)
{
    struct progress *p = arg;
    pthread_mutex_lock(&p->lock);
    p->next_bar = now() + 0.3;   /* a quick run shows no bar at all */
    p->next_json = now() + JSON_PERIOD;
    while (!p->quit || p->q_used) {
        drain(p);
        double t = now();
        tick(p, t);
        if (p->quit)
            continue;
        double wake = t + (p->mode == PROGRESS_BAR ? BAR_PERIOD / 2 : 0.25);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double d = wake - t;
        ts.tv_sec += (time_t)d;
        ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&p->data, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int progress_start(struct progress *p)
{
    sigset_t all, old;
    int rc;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals go elsewhere */
    rc = pthread_create(&p->thread, NULL, reporter, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        p->running = true;
    return rc == 0 ? 0 : -1;
}

void progress_stop(struct progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (!p->running) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->quit = true;
    pthread_cond_broadcast(&p->data);
    pthread_cond_broadcast(&p->room);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->lock);
    p->running = false;
    drain(p);
    if (p->mode == PROGRESS_BAR && p->multi) {
        bar_draw(p, now());
        if (p->drawn)
            fputc('\n', p->err);
        p->drawn = 0;
    } else {
        bar_erase(p);
    }
    fflush(p->err);
    pthread_mutex_unlock(&p->lock);
}

void progress_free(struct progress *p)
{
    if (!p)
        return;
    progress_stop(p);
    for (size_t i = 0; i < p->n; i++)
        progress_counters_destroy(&p->items[i].c);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->data);
    pthread_cond_destroy(&p->room);
    free(p->items);
    free(p);
}

/* ------------------------------------------------------------ events */

/* Plain lines for the installer's events (a single run stays quiet). */
static void plain_event(struct progress *p, struct item *it, const char *what)
{
    if (p->mode != PROGRESS_PLAIN || (!p->multi && !it->plain_any))
        return;
    bar_erase(p);
    fprintf(p->err, "rzup-extract: %s: %s\n", it->name, what);
    fflush(p->err);
}

void progress_begin(struct progress *p, size_t i)
{
    struct item *it = &p->items[i];
    pthread_mutex_lock(&p->lock);
    it->state = PROGRESS_RUNNING;
    it->t_start = now();
    it->last_plain = it->t_start;
    if (p->mode == PROGRESS_JSON)
        json_event(p, it, "start", 0, NULL, it->t_start);
    if (p->multi)
        plain_event(p, it, "started");
    pthread_mutex_unlock(&p->lock);
}

void progress_skip(struct progress *p, size_t i, const char *why)
{
    struct item *it = &p->items[i];
    char line[320];
    pthread_mutex_lock(&p->lock);
    it->state = PROGRESS_SKIPPED;
    it->t_start = it->t_end = now();
    snprintf(it->why, sizeof it->why, "%s", why);
    if (p->mode == PROGRESS_JSON) {
        json_event(p, it, "start", 0, NULL, it->t_start);
        json_event(p, it, "done", 0, "up to date", it->t_end);
    }
    snprintf(line, sizeof line, "up to date (%s)", why);
    plain_event(p, it, line);
    pthread_mutex_unlock(&p->lock);
}

void progress_retry(struct progress *p, size_t i, const char *message)
{
    struct item *it = &p->items[i];
    pthread_mutex_lock(&p->lock);
    if (p->mode == PROGRESS_JSON) {
        json_event(p, it, "retry", 0, message, now());
    } else if (p->mode != PROGRESS_NONE || !p->multi) {
        bar_erase(p);
        if (p->multi)
            fprintf(p->err, "rzup-extract: %s: %s\n", it->name, message);
        else
            fprintf(p->err, "rzup-extract: %s\n", message);
        fflush(p->err);
    }
    pthread_mutex_unlock(&p->lock);
}

void progress_done(struct progress *p, size_t i)
{
    struct item *it = &p->items[i];
    char line[160], b[32];
    pthread_mutex_lock(&p->lock);
    drain(p);
    it->state = PROGRESS_DONE;
    it->t_end = now();
    if (p->mode == PROGRESS_JSON)
        json_event(p, it, "done", 0, NULL, it->t_end);
    progress_format_bytes(atomic_load(&it->c.bytes), b, sizeof b);
    snprintf(line, sizeof line, "done: %s, %" PRIu64 " entries in %.1f s", b,
             (uint64_t)atomic_load(&it->c.entries), it->t_end - it->t_start);
    plain_event(p, it, line);
    pthread_mutex_unlock(&p->lock);
}

void progress_fail(struct progress *p, size_t i, int exit_code,
                   const char *message)
{
    struct item *it = &p->items[i];
    char line[320];
    pthread_mutex_lock(&p->lock);
    drain(p);
    it->state = PROGRESS_FAILED;
    it->t_end = now();
    snprintf(it->why, sizeof it->why, "%s", message);
    char *nl = strchr(it->why, '\n');
    if (nl)
        *nl = '\0';
    if (p->mode == PROGRESS_JSON)
        json_event(p, it, "error", exit_code, message, it->t_end);
    snprintf(line, sizeof line, "FAILED: %s", it->why);
    if (p->multi)
        plain_event(p, it, line);
    pthread_mutex_unlock(&p->lock);
}
