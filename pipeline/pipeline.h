/*
 * pipeline.h: the chain of stages for one run, source to published tree.
 * One object, used by the CLI (one run), the installer (several at once,
 * one thread each) and the fuzz targets (bytes pushed from memory).  It
 * keeps no global state and shares nothing with another pipeline: its own
 * stop flag, its own error record, its own counters.
 *
 *   source (http_source or fd_source), or pipeline_push from the caller
 *     -> meter (raw byte count, stop flag, progress counters)
 *     -> handoff to the decoder thread (network, pipe and pushed sources;
 *        not a file path, nor with `inline_writer`)
 *     -> sha256_tap (when a digest is expected)
 *     -> decoder (chosen by magic: gzip, xz, zstd, bzip2, lz4, lzma, .Z, tar)
 *     -> meter (decoded byte count, --max-ratio)
 *     -> handoff to the writer thread (unless `inline_writer`)
 *     -> tar_parser
 *     -> filter (include/exclude patterns, entry count, current name)
 *     -> fs_sink (extract) or list_sink (-t)
 *
 * After the input ends cleanly the digest is verified first (a mismatch is
 * the root cause of anything that follows), then decoder and parser are
 * finished (end of stream, CRC, end-of-archive blocks), then the sink checks
 * its tree, `before_publish` may add files to the staging directory (the
 * installer's receipt), and the tree is published.  Any failure aborts the
 * sink, which removes the staging directory: the destination is left as it
 * was.
 *
 * Output: the pipeline never writes to stdout or stderr itself.  -t lines
 * and -v names go to `on_line`, warnings to `on_warn` and the sink's notes
 * to `on_note`; all are called
 * on the writer thread and must not block for long (the progress
 * reporter's queue is made for this).
 *
 * Stopping: `stop` (may be NULL) is this pipeline's own flag.  It is checked
 * by the source before every push and while it waits, by the handoff while
 * the caller waits for the writer thread, and before finish, before and
 * after the sink's finish.  Once publishing has begun it is not acted on:
 * the publish completes (a half-merged destination would be worse) and the
 * run succeeds.  A run that fails while `stop` is set fails with
 * RZ_E_INTERRUPTED whatever the first failure was (end of input, a broken
 * pipe: usually the signal's doing); that failure is kept in the detail.
 *
 * Patterns (`include`, `exclude`) are fnmatch(3) globs against the entry's
 * name as stored in the archive (leading "./" and "/" and a trailing "/"
 * dropped), before --strip-components, as tar --wildcards does: '*' also
 * matches '/'.  An include pattern is anchored and takes a directory's
 * contents with it; an exclude pattern matches any run of whole
 * components (so "*.o" and "doc" work at any depth) and also takes the
 * contents.  With includes, an entry is kept when one matches; an exclude
 * match always drops it.  A hardlink to a dropped file fails as any link
 * to a file not extracted does.
 */
#ifndef RZ_PIPELINE_H
#define RZ_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../formats/decoder.h"
#include "../formats/rz_error.h"
#include "fs_sink.h"
#include "progress.h"
#include "source.h"

struct pipeline_options {
    const char *source;              /* URL, path, or "-" for stdin; NULL
                                        when the caller pushes the bytes */
    bool list;                       /* -t: list entries, write nothing */
    int verbose;                     /* -v: names to on_line; -tv: details */
    bool have_sha256;
    uint8_t sha256[32];
    unsigned tar_flags;              /* TAR_PARSER_* */
    uint64_t max_ratio;              /* 0 = unlimited */
    struct decoder_options decoder;  /* zstd window, xz memory and threads,
                                        gzip engine */
    const char *const *include;      /* glob patterns, see above */
    size_t n_include;
    const char *const *exclude;
    size_t n_exclude;
    bool inline_writer;              /* parse and write on the caller's
                                        thread (fuzz targets) */
    struct http_source_options http; /* url is taken from `source` */
    struct fs_sink_options sink;     /* its on_entry is the pipeline's */
    /* returns 0, or an errno when the line could not be written */
    int (*on_line)(void *ctx, const char *line);
    void (*on_warn)(void *ctx, const char *msg);
    void (*on_note)(void *ctx, const char *msg); /* the sink's -v notes
                                        (containment, fallbacks, recovery);
                                        may be NULL */
    void *out_ctx;
    /* Called after the sink's finish, before publishing, with the staged
     * tree's directory fd (borrowed; what it adds there is published with
     * the rest) and the tree's path for messages; may be NULL. */
    int (*before_publish)(void *ctx, int tree_fd, const char *tree_path,
                          struct rz_error *err);
    void *publish_ctx;
    struct progress_counters *counters; /* may be NULL */
    volatile sig_atomic_t *stop;     /* this pipeline's stop flag */
};

struct pipeline_stats {
    uint64_t raw_bytes;              /* bytes downloaded / read */
    uint64_t archive_bytes;          /* uncompressed tar bytes */
    uint64_t entries;
    uint64_t file_bytes;             /* bytes of regular file data */
    const char *format;              /* decoder_name(): "gzip", "xz", "tar"... */
};

struct pipeline;

/*
 * Build the chain (stages allocated, staging directory created).  *out is
 * set even on failure, and must be given to pipeline_free.
 */
int pipeline_new(struct pipeline **out, const struct pipeline_options *o,
                 struct rz_error *err);
/* The first stage, for a caller that brings the bytes (a stage_push_fn). */
int pipeline_push(void *p, const uint8_t *buf, size_t len);
/* Run the source named by o->source to its end. */
int pipeline_feed(struct pipeline *p);
/*
 * End of input: verify, finish, publish.  Call once, also after a failed
 * push or feed (it then only collects the error).  Returns 0, or -1 with
 * the error record filled with the first failure.
 */
int pipeline_finish(struct pipeline *p);
/* Abort unless published, free everything; fills *st if not NULL. */
void pipeline_free(struct pipeline *p, struct pipeline_stats *st);

/* new + feed + finish + free.  Returns 0, or -1 with *err filled. */
int pipeline_run(const struct pipeline_options *o, struct pipeline_stats *st,
                 struct rz_error *err);

/* The pattern rules above, for one name (exposed for unit tests). */
bool pipeline_name_selected(const struct pipeline_options *o,
                            const char *name, size_t len);

#endif
