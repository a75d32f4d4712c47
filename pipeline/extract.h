/*
 * extract.h: one whole run, source to published tree.  This is the glue the
 * CLI calls (and the manifest installer will call, several at once: it keeps
 * no global state).
 *
 *   source (http_source or fd_source)
 *     -> meter (raw byte count, stop flag)
 *     -> sha256_tap (when a digest is expected)
 *     -> decoder (chosen by magic: gzip, xz, zstd, bzip2, lz4, lzma, .Z, tar)
 *     -> meter (decoded byte count, --max-ratio)
 *     -> tar_parser
 *     -> fs_sink (extract) or list_sink (-t)
 *
 * After the source ends cleanly the digest is verified first (a mismatch is
 * the root cause of anything that follows), then decoder and parser are
 * finished (end of stream, CRC, end-of-archive blocks), then the sink checks
 * its tree and publishes it.  Any failure aborts the sink, which removes the
 * staging directory: the destination is left as it was.
 *
 * Signals: `stop` (set by the program's handlers) is checked by the source
 * before every push and while it waits, by the handoff while the caller
 * waits for the writer thread, and before finish, before and after the
 * sink's finish.  Once publishing has begun a signal is not acted on: the
 * publish completes (a half-merged destination would be worse) and the run
 * succeeds.  A run that fails while `stop` is set fails with
 * RZ_E_INTERRUPTED whatever the first failure was (end of input, a broken
 * pipe: usually the signal's doing); that failure is kept in the detail.
 *
 * Returns 0, or -1 with *err filled (the first failure).
 */
#ifndef RZ_EXTRACT_H
#define RZ_EXTRACT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../formats/decoder.h"
#include "../formats/rz_error.h"
#include "fs_sink.h"
#include "source.h"

struct extract_options {
    const char *source;              /* URL, path, or "-" for stdin */
    bool list;                       /* -t: print entries, write nothing */
    FILE *list_out;                  /* where -t prints (stdout) */
    int verbose;
    bool have_sha256;
    uint8_t sha256[32];
    unsigned tar_flags;              /* TAR_PARSER_* */
    uint64_t max_ratio;              /* 0 = unlimited */
    struct decoder_options decoder;  /* zstd window, xz memory and threads */
    struct http_source_options http; /* url is taken from `source` */
    struct fs_sink_options sink;
    volatile sig_atomic_t *stop;     /* set by signal handlers */
};

struct extract_stats {
    uint64_t raw_bytes;              /* bytes downloaded / read */
    uint64_t archive_bytes;          /* uncompressed tar bytes */
    uint64_t entries;
    uint64_t file_bytes;             /* bytes of regular file data */
    const char *format;              /* decoder_name(): "gzip", "xz", "tar"... */
};

int extract_run(const struct extract_options *o, struct extract_stats *st,
                struct rz_error *err);

#endif
