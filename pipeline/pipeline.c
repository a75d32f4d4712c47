/*
 * pipeline.c: wires the stages of one run together and orders the end of
 * the stream: verify, finish, publish, or abort.  (Was extract.c.)
 */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../formats/decoder.h"
#include "../formats/tar_parser.h"
#include "digest.h"
#include "handoff.h"
#include "list_sink.h"

/* The receive handoff: libcurl hands over at most 16 KiB per callback, a
 * pipe 64 KiB per read; 4 slots of 64 KiB keep the decoder fed through a
 * scheduling hiccup for 256 KiB of RSS. */
#define RECV_SLOTS 4
#define RECV_SLOT_SIZE (64 * 1024)

/* Below this many decoded bytes the ratio check stays quiet: tiny archives
 * of zeros compress absurdly well and are harmless. */
#define RATIO_MIN_BYTES (1u << 20)

/*
 * Threads, for a network or pipe source: the source runs on the caller's
 * thread (libcurl's receive, TLS, the socket copies) and hands raw bytes
 * through a small handoff (`recv`) to a decoder thread running tap and
 * decoder; the second handoff carries decoded bytes to a writer thread
 * that runs parser and sink.  So receiving, inflating and writing overlap:
 * on the toolchain .tar.gz over loopback the caller's thread was 70% of
 * the samples, a third of it receiving, and inflate waited for it.  A file
 * path (mmap'ed, nothing to receive) and the inline writer skip `recv`:
 * tap and decoder then run on the caller's thread.
 *
 * Each side reports into its own error record: the caller's (err: source,
 * stop), the decoder thread's (derr, recv's downstream record: tap,
 * decoder, ratio) and the writer's (cerr: parser, sink).  A failure moves
 * upstream as the threads are joined (handoff.c adopts), and after the
 * joins the caller's thread finishes decoder, parser and sink itself,
 * still with their own records, merged into err at the end in that order.
 */
struct pipeline {
    const struct pipeline_options *o;
    struct pipeline_options copy;   /* o points here */
    struct rz_error *err;       /* source, stop flag */
    struct rz_error *derr;      /* tap, decoder (recv's record, or err) */
    struct rz_error *cerr;      /* parser, sink (the handoff's record) */
    struct handoff *recv;       /* raw bytes to the decoder thread, or NULL */
    struct handoff *handoff;
    struct sha256_tap tap;
    bool tap_on;
    struct decoder dec;
    struct tar_parser tar;
    struct fs_sink *fs;
    struct list_sink list;
    const struct tar_callbacks *down;   /* sink behind the filter */
    void *down_ctx;
    bool skipping;                      /* the current entry is dropped */
    uint64_t raw_bytes;
    uint64_t archive_bytes;
    bool length_verified;               /* HTTP delivered all of
                                           Content-Length */
    bool finished;
    bool failed;                        /* set-up failed */
};

static int check_stop(struct pipeline *r)
{
    if (r->o->stop && *r->o->stop)
        return rz_error_set(r->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW,
                            r->raw_bytes, NULL, 0, NULL);
    return 0;
}

/* First stage: count raw bytes, honour the stop flag, feed tap or decoder. */
static int raw_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    if (r->err->code != RZ_E_OK || check_stop(r) < 0)
        return -1;
    r->raw_bytes += len;
    if (r->o->counters)
        atomic_fetch_add_explicit(&r->o->counters->bytes, len,
                                  memory_order_relaxed);
    if (r->recv)
        return handoff_push(r->recv, buf, len);
    if (r->tap_on)
        return sha256_tap_push(&r->tap, buf, len);
    return decoder_push(&r->dec, buf, len);
}

/* On the decoder thread: what came through recv. */
static int received_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    if (r->tap_on)
        return sha256_tap_push(&r->tap, buf, len);
    return decoder_push(&r->dec, buf, len);
}

static int tap_to_decoder(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    return decoder_push(&r->dec, buf, len);
}

/* Between decoder and parser: count archive bytes, check --max-ratio. */
static int decoded_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    uint64_t ratio = r->o->max_ratio;
    r->archive_bytes += len;
    if (ratio && r->archive_bytes > RATIO_MIN_BYTES
        && r->archive_bytes / ratio > r->dec.in_bytes)
        return rz_error_set(r->derr, RZ_E_LIMIT_RATIO, 0, RZ_OFF_RAW,
                            r->dec.in_bytes, NULL, 0,
                            "%" PRIu64 " bytes decoded from %" PRIu64
                            " (limit %" PRIu64 ":1)", r->archive_bytes,
                            r->dec.in_bytes, ratio);
    if (!r->handoff)
        return tar_parser_push(&r->tar, buf, len);
    return handoff_push(r->handoff, buf, len);
}

/* ------------------------------------------------------------ filter */

/* The name as stored, without leading "./" and "/" or a trailing "/". */
static const char *bare_name(const char *name, size_t *len)
{
    size_t n = *len;
    for (;;) {
        if (n >= 2 && name[0] == '.' && name[1] == '/')
            name += 2, n -= 2;
        else if (n >= 1 && name[0] == '/')
            name++, n--;
        else
            break;
    }
    while (n > 0 && name[n - 1] == '/')
        n--;
    *len = n;
    return name;
}

/* Does `pat` match name[from, to) for some end `to` at a component end?
 * (A match on a directory takes its contents.)  */
static bool match_prefixes(const char *pat, const char *name, size_t from,
                           size_t len, char *tmp)
{
    for (size_t to = from; to <= len; to++) {
        if (to < len && name[to] != '/')
            continue;
        if (to == from)
            continue;
        memcpy(tmp, name + from, to - from);
        tmp[to - from] = '\0';
        if (fnmatch(pat, tmp, 0) == 0)
            return true;
    }
    return false;
}

static bool match_any_part(const char *pat, const char *name, size_t len,
                           char *tmp)
{
    for (size_t from = 0; from < len; from++)
        if ((from == 0 || name[from - 1] == '/')
            && match_prefixes(pat, name, from, len, tmp))
            return true;
    return false;
}

bool pipeline_name_selected(const struct pipeline_options *o,
                            const char *raw, size_t raw_len)
{
    size_t len = raw_len;
    const char *name = bare_name(raw, &len);
    bool keep = o->n_include == 0;
    char *tmp;

    if (o->n_include == 0 && o->n_exclude == 0)
        return true;
    if (memchr(name, '\0', len) || !(tmp = malloc(len + 1)))
        return true;   /* the sink refuses a NUL; out of memory keeps all */
    for (size_t i = 0; !keep && i < o->n_include; i++)
        keep = match_prefixes(o->include[i], name, 0, len, tmp);
    for (size_t i = 0; keep && i < o->n_exclude; i++)
        keep = !match_any_part(o->exclude[i], name, len, tmp);
    free(tmp);
    return keep;
}

/* On the writer thread: between the parser and the sink. */
static int filter_begin(void *ctx, const struct tar_entry *e)
{
    struct pipeline *r = ctx;
    r->skipping = !pipeline_name_selected(r->o, e->path, e->path_len);
    if (r->skipping)
        return 0;
    if (r->o->counters) {
        atomic_fetch_add_explicit(&r->o->counters->entries, 1,
                                  memory_order_relaxed);
        progress_counters_entry(r->o->counters, e->path, e->path_len);
    }
    return r->down->entry_begin(r->down_ctx, e);
}

static int filter_data(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    return r->skipping ? 0 : r->down->entry_data(r->down_ctx, buf, len);
}

/* A sparse file's hole: passed on, or as zeros to a sink without holes. */
static int filter_hole(void *ctx, uint64_t len)
{
    static const uint8_t zeros[4096];
    struct pipeline *r = ctx;
    if (r->skipping)
        return 0;
    if (r->down->entry_hole)
        return r->down->entry_hole(r->down_ctx, len);
    for (; len > 0; len -= len < sizeof zeros ? len : sizeof zeros)
        if (r->down->entry_data(r->down_ctx, zeros,
                                len < sizeof zeros ? len : sizeof zeros) < 0)
            return -1;
    return 0;
}

static int filter_end(void *ctx)
{
    struct pipeline *r = ctx;
    return r->skipping ? 0 : r->down->entry_end(r->down_ctx);
}

static const struct tar_callbacks filter_callbacks = {
    .entry_begin = filter_begin,
    .entry_data = filter_data,
    .entry_end = filter_end,
    .entry_hole = filter_hole,
};

/* ------------------------------------------------------------ output */

static int list_line(void *ctx, const char *line)
{
    struct pipeline *r = ctx;
    return r->o->on_line ? r->o->on_line(r->o->out_ctx, line) : 0;
}

static void sink_entry(void *ctx, const char *name)
{
    struct pipeline *r = ctx;
    if (r->o->on_line)
        r->o->on_line(r->o->out_ctx, name);
}

static void sink_warn(void *ctx, const char *msg)
{
    struct pipeline *r = ctx;
    if (r->o->on_warn)
        r->o->on_warn(r->o->out_ctx, msg);
}

static void sink_note(void *ctx, const char *msg)
{
    struct pipeline *r = ctx;
    if (r->o->on_note)
        r->o->on_note(r->o->out_ctx, msg);
}

/* On the writer thread (or the caller's, with inline_writer). */
static int parser_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct pipeline *r = ctx;
    return tar_parser_push(&r->tar, buf, len);
}

/* A source with receiving to do: the network or a pipe, or a caller that
 * pushes.  Not with an http driver (install --driver=multi): its libcurl
 * thread receives for every component into rings, and this thread only
 * takes bytes out of one, so it may as well decode them. */
static bool wants_receive_thread(const struct pipeline_options *o)
{
    return !o->inline_writer && !o->http.driver
           && (!o->source || source_is_url(o->source)
               || strcmp(o->source, "-") == 0);
}

static int setup(struct pipeline *r)
{
    const struct pipeline_options *o = r->o;
    struct fs_sink_options so = o->sink;

    r->derr = r->err;
    if (wants_receive_thread(o)) {
        if (handoff_new_sized(&r->recv, RECV_SLOTS, RECV_SLOT_SIZE,
                              received_push, r, r->err) < 0)
            return -1;
        r->derr = handoff_err(r->recv);
        handoff_set_stop(r->recv, o->stop);
    }
    if (o->inline_writer) {
        r->cerr = r->err;
    } else {
        if (handoff_new(&r->handoff, parser_push, r, r->derr) < 0)
            return -1;
        r->cerr = handoff_err(r->handoff);
        if (r->recv)    /* its producer is the decoder thread */
            handoff_set_upstream(r->handoff, r->recv);
        else
            handoff_set_stop(r->handoff, o->stop);
    }
    if (o->list) {
        list_sink_init(&r->list, list_line, r, o->verbose, r->cerr);
        r->down = &list_sink_callbacks;
        r->down_ctx = &r->list;
    } else {
        so.on_entry = sink_entry;
        so.entry_ctx = r;
        so.warn = sink_warn;
        so.note = sink_note;   /* shares warn_ctx */
        so.warn_ctx = r;
        if (fs_sink_new(&r->fs, &so, r->cerr) < 0)
            return -1;
        r->down = &fs_sink_callbacks;
        r->down_ctx = r->fs;
    }
    if (tar_parser_init(&r->tar, &filter_callbacks, r, r->cerr,
                        o->tar_flags) < 0)
        return -1;
    tar_parser_set_warn(&r->tar, sink_warn, r);
    if (decoder_init(&r->dec, decoded_push, r, r->derr) < 0)
        return -1;
    decoder_set_options(&r->dec, &o->decoder);
    /* decode straight into the handoff's slots (decoded_push passes the
     * window's pointer on unchanged, so handoff_push takes it in place) */
    if (r->handoff)
        decoder_set_window(&r->dec, handoff_window, r->handoff);
    if (o->have_sha256) {
        if (sha256_tap_init(&r->tap, tap_to_decoder, r, r->derr) < 0)
            return -1;
        r->tap_on = true;
    }
    return 0;
}

static int run_source(struct pipeline *r)
{
    const struct pipeline_options *o = r->o;
    if (source_is_url(o->source)) {
        struct http_source_options h = o->http;
        struct http_source_stats st = {0};
        int rc;
        h.url = o->source;
        if (!h.stats)
            h.stats = &st;
        if (h.connections > 1)
            rc = http_multi_run(&h, raw_push, r, o->stop, r->err);
        else
            rc = http_source_run(&h, raw_push, r, o->stop, r->err);
        r->length_verified = h.stats->length_verified;
        return rc;
    }
    if (strcmp(o->source, "-") == 0)
        return fd_source_run(STDIN_FILENO, raw_push, r, o->stop, r->err);
    int fd = open(o->source, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rz_error_set(r->err, RZ_E_IO_READ, errno, RZ_OFF_NONE, 0,
                            NULL, 0, "%s", o->source);
    int rc = fd_source_run(fd, raw_push, r, o->stop, r->err);
    close(fd);
    return rc;
}

static int finish(struct pipeline *r)
{
    if (check_stop(r) < 0)
        return -1;
    /* Join the decoder thread; from here on its stages run on ours. */
    if (r->recv) {
        if (handoff_finish(r->recv) < 0)
            return -1;
        if (r->handoff)
            handoff_set_stop(r->handoff, r->o->stop);
    }
    if (r->tap_on && sha256_tap_verify(&r->tap, r->o->sha256) < 0)
        return -1;
    if (decoder_finish(&r->dec) < 0
        || (r->handoff && handoff_finish(r->handoff) < 0))
        return -1;
    /* The writer thread has been joined: finish its stages here.  A
     * compressed stream whose trailer the decoder checked, or a download
     * of all its Content-Length, proves the tar complete without its
     * end-of-archive blocks. */
    if (decoder_end_checked(&r->dec) || r->length_verified)
        tar_parser_input_complete(&r->tar);
    if (tar_parser_finish(&r->tar) < 0)
        return -1;
    if (check_stop(r) < 0)
        return -1;
    if (!r->fs)
        return 0;
    if (fs_sink_finish(r->fs) < 0 || check_stop(r) < 0)
        return -1;
    if (r->o->before_publish
        && r->o->before_publish(r->o->publish_ctx, fs_sink_tree_fd(r->fs),
                                fs_sink_staging_path(r->fs), r->cerr) < 0)
        return rz_error_downstream(r->cerr, RZ_OFF_NONE, 0, "before publish");
    if (fs_sink_publish(r->fs) < 0)
        return -1;
    return 0;
}

static void teardown(struct pipeline *r, struct pipeline_stats *st)
{
    /* Stop the threads, decoder first (it feeds the writer), before
     * anything they use goes away. */
    if (r->recv) {
        handoff_stop(r->recv);
        if (r->handoff)
            handoff_set_upstream(r->handoff, NULL);
        handoff_free(r->recv);
        r->recv = NULL;
    }
    if (r->handoff) {
        handoff_free(r->handoff);
        r->handoff = NULL;
    }
    if (st) {
        st->raw_bytes = r->raw_bytes;
        st->archive_bytes = r->archive_bytes;
        st->entries = r->fs ? fs_sink_entries(r->fs) : r->list.entries;
        st->file_bytes = r->fs ? fs_sink_bytes(r->fs) : r->list.bytes;
        st->format = decoder_name(&r->dec);
    }
    if (r->fs) {
        if (r->err->code != RZ_E_OK)
            fs_sink_abort(r->fs);
        fs_sink_free(r->fs);
    }
    if (r->tap_on)
        sha256_tap_free(&r->tap);
    decoder_free(&r->dec);
    tar_parser_free(&r->tar);
}

/*
 * A run that failed after a stop signal reports the signal: the failure is
 * usually its consequence (the pipe's writer died of the same Ctrl-C, the
 * listing's reader went away with SIGPIPE).  The first message is kept as
 * detail.
 */
static void blame_signal(struct pipeline *r)
{
    struct rz_error first = *r->err;
    char msg[RZ_ERROR_DETAIL_MAX + 128];   /* rz_error_set truncates */
    if (!r->o->stop || !*r->o->stop || first.code == RZ_E_OK
        || first.code == RZ_E_INTERRUPTED)
        return;
    snprintf(msg, sizeof msg, "%s%s%s", rz_code_message(first.code),
             first.detail[0] ? ": " : "", first.detail);
    rz_error_clear(r->err);
    rz_error_set(r->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW, r->raw_bytes,
                 NULL, 0, "then: %s", msg);
}

int pipeline_new(struct pipeline **out, const struct pipeline_options *o,
                 struct rz_error *err)
{
    struct pipeline *r = calloc(1, sizeof *r);
    *out = r;
    if (!r)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                            NULL);
    r->copy = *o;
    r->o = &r->copy;
    r->err = err;
    if (setup(r) == 0)
        return 0;
    r->finished = true;      /* nothing to finish: collect the error */
    r->failed = true;
    if (r->derr && r->derr != err)
        rz_error_adopt(err, r->derr);
    if (r->cerr && r->cerr != err)
        rz_error_adopt(err, r->cerr);
    rz_error_downstream(err, RZ_OFF_NONE, 0, "set-up");
    return -1;
}

int pipeline_push(void *p, const uint8_t *buf, size_t len)
{
    return raw_push(p, buf, len);
}

int pipeline_feed(struct pipeline *r)
{
    if (r->err->code != RZ_E_OK)
        return -1;
    if (!r->o->source)
        return rz_error_set(r->err, RZ_E_INTERNAL, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "pipeline_feed without a source");
    return run_source(r);
}

int pipeline_finish(struct pipeline *r)
{
    struct rz_error *err = r->err;
    int rc = err->code == RZ_E_OK && !r->failed ? 0 : -1;
    if (rc == 0 && !r->finished)
        rc = finish(r);
    r->finished = true;
    /* Stop the threads (decoder, then writer) before reading their error
     * records. */
    if (r->recv)
        handoff_stop(r->recv);
    if (r->handoff)
        handoff_stop(r->handoff);
    /* writer threads: the first failure in archive order is reported */
    if (r->fs)
        fs_sink_settle(r->fs, err);
    if (r->derr && r->derr != err)
        rz_error_adopt(err, r->derr);
    if (r->cerr && r->cerr != err)
        rz_error_adopt(err, r->cerr);
    if (rc < 0)
        rz_error_downstream(err, RZ_OFF_NONE, 0, "a stage");
    blame_signal(r);
    return err->code == RZ_E_OK ? 0 : -1;
}

void pipeline_free(struct pipeline *r, struct pipeline_stats *st)
{
    if (!r)
        return;
    teardown(r, st);
    free(r);
}

int pipeline_run(const struct pipeline_options *o, struct pipeline_stats *st,
                 struct rz_error *err)
{
    struct pipeline *r;
    int rc = pipeline_new(&r, o, err);
    if (r) {
        if (rc == 0)
            rc = pipeline_feed(r);
        rc = pipeline_finish(r);
        pipeline_free(r, st);
    }
    return rc;
}
