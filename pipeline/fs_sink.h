/*
 * fs_sink.h: the safe filesystem writer.  It receives tar parser events and
 * creates entries beneath a staging directory, then publishes the staging
 * tree at the destination.  It is the only code that writes to disk, and it
 * implements POLICY.md rules 1-12.
 *
 * Life cycle:
 *   fs_sink_init     resolves the destination, creates the staging directory
 *                    (mode 0700) next to it on the same filesystem:
 *                      - destination absent: "<parent>/.<name>.rzup-XXXXXX",
 *                        the parent must exist;
 *                      - destination exists (merge, default): inside it,
 *                        "<dest>/.rzup-staging-XXXXXX" (same filesystem even
 *                        when dest is a mount point);
 *                      - destination exists and FS_SINK_REPLACE: in the parent.
 *   fs_sink_callbacks  (pass to tar_parser_init with the sink as ctx)
 *                    every entry is created beneath the staging fd: parents
 *                    through openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 *                    RESOLVE_NO_MAGICLINKS) (missing parents are created
 *                    0700 and fixed up if a later entry names them), files
 *                    with O_CREAT|O_EXCL|O_NOFOLLOW after unlinking an
 *                    earlier non-directory of the same name, symlinks
 *                    lexically checked with tar_link_escapes, hardlinks with
 *                    linkat(..., 0) to a regular file of this run.  Devices,
 *                    FIFOs and sockets are skipped with a warning; unknown
 *                    types refused.  File mode and mtime are set as soon as
 *                    the file is complete.
 *   fs_sink_finish   after the parser (and the digest) succeeded: checks every
 *                    symlink against the real staging tree (no chain escapes),
 *                    sets directory modes and mtimes deepest first.
 *   fs_sink_publish  moves the staging tree into place (POLICY.md rule 3):
 *                    rename (absent), renameat2(RENAME_EXCHANGE) then removal
 *                    of the old tree (FS_SINK_REPLACE), or merge: a dry-run
 *                    pass that refuses a non-directory over an existing
 *                    directory, then renames entry by entry, never following
 *                    a symlink in the destination.
 *   fs_sink_abort    removes the staging tree (also safe after a failed
 *                    publish, and idempotent).
 *   fs_sink_free     closes fds and frees memory; aborts if not published.
 *
 * All functions return 0, or -1 with the shared struct rz_error filled
 * (entry name and archive offset of the entry being written).  Disk full
 * reports RZ_E_IO_NOSPC with the number of bytes written so far in detail.
 */
#ifndef RZ_FS_SINK_H
#define RZ_FS_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"

#define FS_SINK_REPLACE 0x01u         /* --replace: atomic swap */
#define FS_SINK_ALLOW_OUTSIDE_LINKS 0x02u
#define FS_SINK_SAME_OWNER 0x04u      /* chown to archive uid/gid (root only) */
#define FS_SINK_KEEP_SPECIAL 0x08u    /* create devices and FIFOs (root only) */

struct fs_sink_options {
    const char *dest;           /* destination directory path */
    unsigned strip_components;
    unsigned flags;             /* FS_SINK_* */
    int verbose;                /* >0: print each entry name to stdout, as tar -v */
    uint64_t max_size;          /* 0 = unlimited: total bytes of file data */
    uint64_t max_entries;       /* 0 = unlimited */
    uint64_t max_file_size;     /* 0 = unlimited */
    /* Called for warnings (skipped device, stripped '/'); may be NULL. */
    void (*warn)(void *warn_ctx, const char *msg);
    void *warn_ctx;
};

struct fs_sink;   /* private; allocated by fs_sink_new */

/* Allocates the sink and creates the staging directory. */
int fs_sink_new(struct fs_sink **out, const struct fs_sink_options *o,
                struct rz_error *err);
extern const struct tar_callbacks fs_sink_callbacks;
int fs_sink_finish(struct fs_sink *s);
int fs_sink_publish(struct fs_sink *s);
void fs_sink_abort(struct fs_sink *s);
void fs_sink_free(struct fs_sink *s);

/* Statistics for the summary line. */
uint64_t fs_sink_entries(const struct fs_sink *s);
uint64_t fs_sink_bytes(const struct fs_sink *s);

/* Path of the staging directory (for tests and cleanup messages). */
const char *fs_sink_staging_path(const struct fs_sink *s);

#endif
