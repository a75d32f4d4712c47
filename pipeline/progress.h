/*
 * progress.h: what a long run shows while it runs, to a person at a
 * terminal and to a CI or Docker log.
 *
 * Two halves:
 *
 *   struct progress_counters  one per pipeline (per component).  The
 *       pipeline updates it from its own threads with relaxed atomics (one
 *       add per push, one per entry: nothing measurable) and a mutex-held
 *       copy of the current entry's name.  Anyone may read it.
 *
 *   struct progress           the reporter: one per process.  It owns
 *       every byte the program writes while pipelines run: the renderer
 *       (bar, plain, json, none) on stderr, and the lines other threads
 *       hand it for stdout (-v names, -t listing) through a bounded queue.
 *       Its own thread drains the queue and redraws; no pipeline thread
 *       ever writes to a terminal, so lines never tear and a writer thread
 *       never blocks on a slow terminal for longer than the queue lets it.
 *
 * Modes (--progress):
 *   PROGRESS_BAR    a live display on stderr (a TTY): one line per item
 *                   with bytes of total, percentage, rate, ETA, entries
 *                   and the current entry, redrawn 5 times a second.
 *   PROGRESS_PLAIN  for logs: one line per item at each 10 % step (or
 *                   every 10 s when the total is unknown), at most one
 *                   per 3 s per item, and none at all for an item that
 *                   finishes within 3 s; a last line when such an item
 *                   ends.
 *   PROGRESS_JSON   one JSON object per line on stderr: "event" (start,
 *                   progress (once a second), retry, done, error),
 *                   "component", "bytes" (raw bytes received), "total"
 *                   (bytes or null), "entries"; error adds "code" (the
 *                   exit code) and "message"; retry adds "message"; done
 *                   and error add "seconds".  Warnings come as "warning"
 *                   events with a "message".
 *   PROGRESS_NONE   nothing but what the caller prints.
 *   PROGRESS_AUTO   resolved by progress_new: BAR when stderr is a TTY,
 *                   else PLAIN.
 *
 * Threads: progress_start spawns the reporter's thread; every other
 * function may be called from any thread.  progress_stop drains the queue,
 * draws the final state and joins the thread; call it before printing a
 * summary so the summary comes last.
 */
#ifndef RZ_PROGRESS_H
#define RZ_PROGRESS_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum progress_mode {
    PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_PLAIN, PROGRESS_JSON, PROGRESS_NONE,
};

#define PROGRESS_NAME_MAX 160

struct progress_counters {
    _Atomic uint64_t bytes;      /* raw bytes pushed into the pipeline */
    _Atomic int64_t total;       /* raw size when known, else -1 */
    _Atomic uint64_t entries;    /* entries written (or listed) */
    pthread_mutex_t lock;        /* guards `current` */
    char current[PROGRESS_NAME_MAX];
};

void progress_counters_init(struct progress_counters *c);
void progress_counters_destroy(struct progress_counters *c);
/* The entry now being written (raw bytes, escaped when drawn). */
void progress_counters_entry(struct progress_counters *c, const char *name,
                             size_t len);

/* Parse "auto", "bar", "plain", "json", "none"; -1 if none of them. */
int progress_mode_parse(const char *s, enum progress_mode *out);

enum progress_state {
    PROGRESS_WAITING, PROGRESS_RUNNING, PROGRESS_DONE, PROGRESS_SKIPPED,
    PROGRESS_FAILED,
};

struct progress;

/*
 * `n_items` items, named by progress_item_name.  `err` is where the
 * renderer writes (stderr), `out` where queued lines go (stdout).
 * `multi`: installer layout (one line per component, final lines kept)
 * rather than the single run's (the bar is erased at the end).
 * Returns NULL when out of memory.
 */
struct progress *progress_new(enum progress_mode mode, size_t n_items,
                              bool multi, FILE *out, FILE *err);
enum progress_mode progress_get_mode(const struct progress *p);
/* Name of item i (copied). */
void progress_item_name(struct progress *p, size_t i, const char *name);
/* Counters of item i, for its pipeline. */
struct progress_counters *progress_item_counters(struct progress *p, size_t i);

int progress_start(struct progress *p);

/* Events for item i; each prints at once in JSON mode. */
void progress_begin(struct progress *p, size_t i);
void progress_skip(struct progress *p, size_t i, const char *why);
void progress_retry(struct progress *p, size_t i, const char *message);
void progress_done(struct progress *p, size_t i);
void progress_fail(struct progress *p, size_t i, int exit_code,
                   const char *message);

/*
 * Queue one line for `out` (a newline is added).  Blocks while the queue
 * is full.  Returns 0, or -1 once writing `out` has failed (EPIPE: the
 * reader went away); the line is then dropped, as every later one is.
 */
int progress_line(struct progress *p, const char *line);
/* Queue one line for `err` (messages, warnings), in order with the rest. */
void progress_note(struct progress *p, const char *line);
/* A warning about item i, queued: a "warning" event in JSON mode, else
 * "rzup-extract: [NAME: ]warning: MSG". */
void progress_warn(struct progress *p, size_t i, const char *msg);
/* A notice about item i (a fallback taken, a download found complete, -v
 * notes): a "notice" event in JSON mode, else "rzup-extract: [NAME: ]MSG". */
void progress_notice(struct progress *p, size_t i, const char *msg);
/* The errno of the failed write to `out`, or 0. */
int progress_out_errno(const struct progress *p);

/* Drain, draw the final state, join the thread (idempotent). */
void progress_stop(struct progress *p);
void progress_free(struct progress *p);

/* "1.2 MiB" into buf; for summaries and the bar. */
void progress_format_bytes(uint64_t n, char *buf, size_t size);

#endif
