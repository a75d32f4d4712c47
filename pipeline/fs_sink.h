/*
 * fs_sink.h: the safe filesystem writer.  It receives tar parser events and
 * creates entries beneath a staging directory, then publishes the staging
 * tree at the destination.  It is the only code that writes to disk, and it
 * implements POLICY.md rules 1-12.  (fs_sink.c creates entries;
 * fs_publish.c makes, finishes, publishes and removes the staging tree.)
 *
 * Life cycle:
 *   fs_sink_new      resolves the destination once (the path is trusted: it
 *                    may go through symlinks; nothing below it may) and
 *                    creates the staging directory (mode 0700) next to it on
 *                    the same filesystem:
 *                      - destination absent: "<parent>/.<name>.rzup-XXXXXX",
 *                        the parent must exist;
 *                      - destination exists (merge, default): inside it,
 *                        "<dest>/.rzup-staging-XXXXXX" (same filesystem even
 *                        when dest is a mount point);
 *                      - destination exists and FS_SINK_REPLACE: in the parent.
 *                    An existing non-directory destination is refused
 *                    (RZ_E_IO_DEST) unless FS_SINK_REPLACE.  `o` is copied;
 *                    its strings need only live during the call, warn_ctx
 *                    as long as the sink.
 *   fs_sink_callbacks  (pass to tar_parser_init with the sink as ctx)
 *                    every entry name goes through tar_path_normalize with
 *                    strip_components (a stripped leading '/' warns once;
 *                    an entry stripped away entirely is skipped) and is
 *                    created beneath the staging fd: parents through
 *                    openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 *                    RESOLVE_NO_MAGICLINKS), so an entry below any symlink,
 *                    even one pointing inside, is RZ_E_POL_ESCAPE; missing
 *                    parents are created and end with mode 0755 unless an
 *                    entry names them; files with O_CREAT|O_EXCL|O_NOFOLLOW
 *                    after unlinking an earlier non-directory of the same
 *                    name (a non-directory never replaces a directory:
 *                    RZ_E_POL_NONDIR_OVER_DIR; a directory replaces an
 *                    earlier non-directory); symlinks lexically checked with
 *                    tar_link_escapes; hardlinks with linkat(..., 0) to a
 *                    regular file of this run (a target stripped away by
 *                    strip_components: skipped with a warning).  Devices and
 *                    FIFOs are skipped with a warning (created when
 *                    FS_SINK_KEEP_SPECIAL and running as root); TAR_OTHER is
 *                    RZ_E_POL_UNKNOWN_TYPE.  The root entry ("./") gives the
 *                    tree's own mode and mtime; as a non-directory it is
 *                    RZ_E_POL_NONDIR_OVER_DIR.  Modes keep the permission
 *                    bits minus setuid, setgid, sticky and group/other write
 *                    (mode & 0755).  A file's mode and mtime (with
 *                    nanoseconds) are set as soon as it is complete.  Limits
 *                    are checked against declared sizes at entry begin and
 *                    against the bytes as they arrive.  With verbose > 0 each
 *                    extracted name (normalised, escaped) is printed to
 *                    stdout.
 *   fs_sink_finish   after the parser (and the digest) succeeded: checks every
 *                    symlink against the real staging tree (no chain escapes
 *                    such as cur -> ., par -> cur/..: RZ_E_POL_SYMLINK_OUTSIDE;
 *                    dangling links are fine), then, unless merging, sets
 *                    directory modes and mtimes deepest first and the
 *                    root's (0755 when the archive has no root entry).
 *   fs_sink_publish  moves the staging tree into place (POLICY.md rule 3):
 *                    rename with RENAME_NOREPLACE (absent),
 *                    renameat2(RENAME_EXCHANGE) then removal of the old tree
 *                    (FS_SINK_REPLACE), or merge: a dry-run pass that refuses
 *                    a non-directory over an existing directory and changes
 *                    nothing, then renames entry by entry, never following a
 *                    symlink in the destination (a destination symlink or
 *                    file where the archive has a directory is unlinked and
 *                    the directory moved in).  The dry run also follows
 *                    every staged symlink through the tree the merge would
 *                    produce (a name resolves to the staged entry if there
 *                    is one, else to the destination's; ".." at the root
 *                    or an absolute target on the way is an escape; a
 *                    missing name, a file in the middle or 40 links stop
 *                    harmlessly, as for the kernel), because a symlink
 *                    already in the destination can complete an escaping
 *                    chain (dest "cur -> .", archive "par -> cur/.."):
 *                    RZ_E_POL_SYMLINK_OUTSIDE before anything moves.  Not
 *                    covered: a symlink already in the destination that
 *                    the new entries make escape (dest "a -> b/..",
 *                    archive "b -> ."); only staged links are followed.
 *                    Merging then applies directory modes and mtimes in
 *                    the destination: to directories it created, and to
 *                    existing ones only when an entry names them; the
 *                    destination's own only with a root entry.  Last, the
 *                    kernel re-checks the staged symlinks in place; this
 *                    fires only if the destination changed during the
 *                    merge (the link is then removed, the rest stays, and
 *                    the call fails).  Call once, after a successful
 *                    fs_sink_finish.
 *   fs_sink_abort    removes the staging tree (also safe after a failed
 *                    publish, and idempotent), never following a symlink.
 *                    When merging and nothing had moved yet, the
 *                    destination's mtime is restored too.  A merge that
 *                    failed halfway keeps what it had moved.
 *   fs_sink_free     closes fds and frees memory; aborts if not published.
 *
 * All functions return 0, or -1 with the shared struct rz_error filled
 * (entry name and archive offset of the entry being written, or the path
 * concerned during finish and publish).  Disk full reports RZ_E_IO_NOSPC
 * with the number of bytes written so far in detail.  Errors are sticky:
 * every callback returns -1 at once if err->code is already set.
 *
 * No global state: several sinks may run at once in different threads.
 * Requires Linux 5.6+ (openat2).
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
#define FS_SINK_XATTRS 0x10u          /* --xattrs: restore user.* xattrs of
                                         regular files (others: warning) */

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
