/*
 * extract.c: wires the stages of one run together and orders the end of the
 * stream: verify, finish, publish, or abort.
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
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

/* Below this many decoded bytes the ratio check stays quiet: tiny archives
 * of zeros compress absurdly well and are harmless. */
#define RATIO_MIN_BYTES (1u << 20)

/*
 * Threads: source, tap and decoder run on the caller's thread; the handoff
 * carries decoded bytes to a writer thread that runs parser and sink.  The
 * writer side reports into its own error record (cerr), merged into the
 * caller's at the end; after handoff_finish has joined the writer, the
 * caller's thread finishes parser and sink itself.
 */
struct run {
    const struct extract_options *o;
    struct rz_error *err;       /* source, tap, decoder */
    struct rz_error *cerr;      /* parser, sink (the handoff's record) */
    struct handoff *handoff;
    struct sha256_tap tap;
    bool tap_on;
    struct decoder dec;
    struct tar_parser tar;
    struct fs_sink *fs;
    struct list_sink list;
    uint64_t raw_bytes;
    uint64_t archive_bytes;
    bool length_verified;       /* HTTP delivered all of Content-Length */
};

static int check_stop(struct run *r)
{
    if (r->o->stop && *r->o->stop)
        return rz_error_set(r->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW,
                            r->raw_bytes, NULL, 0, NULL);
    return 0;
}

/* First stage: count raw bytes, honour the stop flag, feed tap or decoder. */
static int raw_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    if (r->err->code != RZ_E_OK || check_stop(r) < 0)
        return -1;
    r->raw_bytes += len;
    if (r->tap_on)
        return sha256_tap_push(&r->tap, buf, len);
    return decoder_push(&r->dec, buf, len);
}

static int tap_to_decoder(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    return decoder_push(&r->dec, buf, len);
}

/* Between decoder and parser: count archive bytes, check --max-ratio. */
static int decoded_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    uint64_t ratio = r->o->max_ratio;
    r->archive_bytes += len;
    if (ratio && r->archive_bytes > RATIO_MIN_BYTES
        && r->archive_bytes / ratio > r->dec.in_bytes)
        return rz_error_set(r->err, RZ_E_LIMIT_RATIO, 0, RZ_OFF_RAW,
                            r->dec.in_bytes, NULL, 0,
                            "%" PRIu64 " bytes decoded from %" PRIu64
                            " (limit %" PRIu64 ":1)", r->archive_bytes,
                            r->dec.in_bytes, ratio);
    return handoff_push(r->handoff, buf, len);
}

/* On the writer thread. */
static int parser_push(void *ctx, const uint8_t *buf, size_t len)
{
    struct run *r = ctx;
    return tar_parser_push(&r->tar, buf, len);
}

static int run_source(struct run *r)
{
    const struct extract_options *o = r->o;
    if (source_is_url(o->source)) {
        struct http_source_options h = o->http;
        struct http_source_stats st = {0};
        h.url = o->source;
        if (!h.stats)
            h.stats = &st;
        int rc = http_source_run(&h, raw_push, r, o->stop, r->err);
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

static int setup(struct run *r)
{
    const struct extract_options *o = r->o;
    const struct tar_callbacks *cb = &list_sink_callbacks;
    void *sink_ctx = &r->list;

    if (handoff_new(&r->handoff, parser_push, r, r->err) < 0)
        return -1;
    r->cerr = handoff_err(r->handoff);
    handoff_set_stop(r->handoff, o->stop);
    if (o->list) {
        list_sink_init(&r->list, o->list_out, o->verbose, r->cerr);
    } else {
        if (fs_sink_new(&r->fs, &o->sink, r->cerr) < 0)
            return -1;
        cb = &fs_sink_callbacks;
        sink_ctx = r->fs;
    }
    if (tar_parser_init(&r->tar, cb, sink_ctx, r->cerr, o->tar_flags) < 0)
        return -1;
    tar_parser_set_warn(&r->tar, o->sink.warn, o->sink.warn_ctx);
    if (decoder_init(&r->dec, decoded_push, r, r->err) < 0)
        return -1;
    decoder_set_options(&r->dec, &o->decoder);
    /* decode straight into the handoff's slots (decoded_push passes the
     * window's pointer on unchanged, so handoff_push takes it in place) */
    decoder_set_window(&r->dec, handoff_window, r->handoff);
    if (o->have_sha256) {
        if (sha256_tap_init(&r->tap, tap_to_decoder, r, r->err) < 0)
            return -1;
        r->tap_on = true;
    }
    return 0;
}

/*
 * Formats whose decoder ends only at a checked end of stream (gzip's CRC
 * and length, xz's index and footer, bzip2's stream CRC, zstd's and lz4's
 * last-block marks, lzma-alone's size or end marker).  compress (.Z) has
 * no trailer: its stream can be cut anywhere, so it proves nothing.
 */
static bool trailer_proves_end(const char *format)
{
    static const char *const proven[] = {"gzip", "xz", "zstd", "bzip2",
                                         "lz4", "lzma"};
    for (size_t i = 0; i < sizeof proven / sizeof *proven; i++)
        if (strcmp(format, proven[i]) == 0)
            return true;
    return false;
}

static int finish(struct run *r)
{
    if (check_stop(r) < 0)
        return -1;
    if (r->tap_on && sha256_tap_verify(&r->tap, r->o->sha256) < 0)
        return -1;
    if (decoder_finish(&r->dec) < 0 || handoff_finish(r->handoff) < 0)
        return -1;
    /* The writer thread has been joined: finish its stages here.  A
     * compressed stream whose trailer the decoder checked, or a download
     * of all its Content-Length, proves the tar complete without its
     * end-of-archive blocks. */
    if (trailer_proves_end(decoder_name(&r->dec)) || r->length_verified)
        tar_parser_input_complete(&r->tar);
    if (tar_parser_finish(&r->tar) < 0)
        return -1;
    if (check_stop(r) < 0)
        return -1;
    if (r->fs && (fs_sink_finish(r->fs) < 0 || check_stop(r) < 0
                  || fs_sink_publish(r->fs) < 0))
        return -1;
    return 0;
}

static void teardown(struct run *r, struct extract_stats *st)
{
    /* Stop the writer thread before anything it uses goes away. */
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
static void blame_signal(struct run *r)
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

int extract_run(const struct extract_options *o, struct extract_stats *st,
                struct rz_error *err)
{
    struct run *r = calloc(1, sizeof *r);
    int rc;
    if (!r)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                            NULL);
    r->o = o;
    r->err = err;
    rc = setup(r);
    if (rc == 0)
        rc = run_source(r);
    if (rc == 0)
        rc = finish(r);
    /* Stop the writer before reading its error record. */
    if (r->handoff)
        handoff_stop(r->handoff);
    if (r->cerr)
        rz_error_adopt(err, r->cerr);
    if (rc < 0)
        rz_error_downstream(err, RZ_OFF_NONE, 0, "a stage");
    blame_signal(r);
    teardown(r, st);
    free(r);
    return err->code == RZ_E_OK ? 0 : -1;
}
