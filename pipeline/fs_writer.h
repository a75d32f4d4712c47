/*
 * fs_writer.h: the creation of entries beneath the staging directory, one
 * writer per thread (POLICY.md rules 1, 2, 4-12; the contract of each entry
 * type is in fs_sink.h).  A writer holds what one thread needs while it
 * creates entries: the entry being written, its normalised path, the open
 * file, and a cache of the last parent directory opened (archives group
 * the files of one directory).  Everything a run must remember after an
 * entry is done goes to the shared tree record (fs_record.h), which only
 * the writer that reads the archive holds.
 *
 * Two ways to use a writer:
 *
 *   In archive order (the thread that runs the parser, w->rec set):
 *     fs_writer_begin / fs_writer_data / fs_writer_hole / fs_writer_end
 *     are the tar callbacks' bodies: prepare, create, write, finish one
 *     entry.  fs_writer_begin is also available in two steps:
 *       fs_writer_prepare  limits, name normalisation, type checks, the
 *                          root entry, the skip of special files, and the
 *                          -v name (0: create it; 1: skip it; -1: error);
 *       fs_writer_create   the parent (created when missing) and the
 *                          entry itself.
 *     A caller that hands a regular file to another thread instead calls
 *     fs_writer_parent (the parent directory exists afterwards),
 *     fs_writer_take for the file's bytes (limits and counts, nothing
 *     written) and fs_writer_end.
 *
 *   For one regular file handed over (a writer thread of fs_pool.c,
 *   w->rec NULL): fs_writer_put creates it from its whole data (parent
 *   looked up, never created), sets mode, owner, mtime, closes it.
 *
 * All functions return 0 (or as stated), or -1 with *w->err filled, naming
 * the entry (raw name) and its archive offset.  Errors are sticky per
 * writer.  No global state; one writer is used by one thread at a time.
 */
#ifndef RZ_FS_WRITER_H
#define RZ_FS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"
#include "../formats/tar_path.h"
#include "fs_record.h"
#include "fs_sink.h"
#include "fs_walk.h"

struct fs_writer {
    /* set by fs_writer_init; shared, read-only */
    const struct fs_sink_options *o;
    int stagefd;
    enum fs_resolver resolver;
    int umask;           /* the process umask, or -1 if unknown */
    bool same_owner;
    struct fs_record *rec;   /* NULL: may create regular files only */
    struct rz_error *err;

    /* private */
    int cache_fd;
    size_t cache_len;
    char cache_path[TAR_PATH_MAX + 1];
    const struct tar_entry *cur;
    int file_fd;
    uint32_t file_mode;
    bool file_chmod;     /* the mode still needs an fchmod at the end */
    bool warned_slash;
    uint64_t file_written;
    size_t path_len;
    char path[TAR_PATH_MAX + 1];    /* the entry's normalised path */
    char tpath[TAR_PATH_MAX + 1];   /* hardlink target, normalised */
    char scratch[TAR_PATH_MAX + 1]; /* NUL-terminated copies of prefixes */

    uint64_t entries, bytes;        /* counted entries and accepted bytes */
};

void fs_writer_init(struct fs_writer *w, const struct fs_sink_options *o,
                    int stagefd, enum fs_resolver resolver, int umask,
                    bool same_owner, struct fs_record *rec,
                    struct rz_error *err);
/* Closes the open file and the cached directory. */
void fs_writer_close(struct fs_writer *w);

int fs_writer_begin(struct fs_writer *w, const struct tar_entry *e);
int fs_writer_prepare(struct fs_writer *w, const struct tar_entry *e);
int fs_writer_create(struct fs_writer *w);
int fs_writer_parent(struct fs_writer *w);
int fs_writer_take(struct fs_writer *w, size_t len);
int fs_writer_data(struct fs_writer *w, const uint8_t *buf, size_t len);
int fs_writer_hole(struct fs_writer *w, uint64_t len);
int fs_writer_end(struct fs_writer *w);

/* After fs_writer_prepare returned 0: the normalised path, and for a
 * hardlink the normalised target (else NULL). */
const char *fs_writer_path(const struct fs_writer *w, size_t *len);
const char *fs_writer_target(const struct fs_writer *w);

/*
 * Creates the regular file `path` (normalised, plen bytes) for entry e
 * (e->path, e->offset name it in errors; mode, mtime, uid and gid are
 * used) with its whole data.  bytes_before: the run's byte count before
 * this file, for the disk-full message.
 */
int fs_writer_put(struct fs_writer *w, const struct tar_entry *e,
                  const char *path, size_t plen, const uint8_t *data,
                  size_t len, uint64_t bytes_before);

#endif
