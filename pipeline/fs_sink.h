/*
 * fs_sink.h: the safe filesystem writer.  It receives tar parser events and
 * creates entries beneath a staging directory, then publishes the staging
 * tree at the destination.  It is the only code that writes to disk, and it
 * implements POLICY.md rules 1-12.  (fs_sink.c creates entries;
 * fs_publish.c makes, finishes, publishes and removes the staging tree.)
 *
 * Life cycle:
 *   fs_sink_new      resolves the destination once (the path is trusted: it
 *                    may go through symlinks, and a destination that is a
 *                    symlink is resolved here so every mode works on the
 *                    directory it leads to; nothing below it may), chooses
 *                    the containment method once (openat2, or the checked
 *                    walk of fs_walk.c when openat2 answers ENOSYS, EPERM
 *                    or EINVAL; a note says which with verbose > 0), deals
 *                    with staging directories that killed runs left for
 *                    this destination (fs_journal.c: removed, or their
 *                    committed merge or publish completed; a live run's,
 *                    whose lock is held, never touched), and creates the
 *                    staging directory (mode 0700, holding "lock",
 *                    flock'ed for the sink's life, and "tree", the staged
 *                    root) next to it on the same filesystem:
 *                      - destination absent: "<parent>/.<name>.rzup-XXXXXX",
 *                        the parent must exist;
 *                      - destination exists (merge, default): inside it,
 *                        "<dest>/.rzup-staging-XXXXXX" (same filesystem even
 *                        when dest is a mount point);
 *                      - destination exists and FS_SINK_REPLACE: in the
 *                        parent; "/" and mount points are refused
 *                        (RZ_E_IO_DEST: a rename cannot move them).
 *                    An existing non-directory destination, or a dangling
 *                    symlink, is refused (RZ_E_IO_DEST).  `o` is copied;
 *                    its strings need only live during the call, warn_ctx
 *                    as long as the sink.
 *   fs_sink_callbacks  (pass to tar_parser_init with the sink as ctx)
 *                    every entry name goes through tar_path_normalize with
 *                    strip_components (a stripped leading '/' warns once;
 *                    an entry stripped away entirely is skipped) and is
 *                    created beneath the staging fd: parents through
 *                    openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 *                    RESOLVE_NO_MAGICLINKS) or the checked walk, so an
 *                    entry below any symlink,
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
 *                    tree's own mode and mtime when this run creates the
 *                    destination, and nothing when it merges; as a
 *                    non-directory it is RZ_E_POL_NONDIR_OVER_DIR.  Modes
 *                    keep the permission
 *                    bits minus setuid, setgid, sticky and group/other write
 *                    (mode & 0755).  A file's mode and mtime (with
 *                    nanoseconds) are set as soon as it is complete.  Limits
 *                    are checked against declared sizes at entry begin and
 *                    against the bytes as they arrive.  With verbose > 0 each
 *                    extracted name (normalised, escaped, "/" after a
 *                    directory) goes to on_entry, on the calling thread;
 *                    the sink itself never prints.
 *   fs_sink_finish   after the parser (and the digest) succeeded: checks every
 *                    symlink against the real staging tree (no chain escapes
 *                    such as cur -> ., par -> cur/..: RZ_E_POL_SYMLINK_OUTSIDE;
 *                    dangling links are fine), then, unless merging, sets
 *                    directory modes and mtimes deepest first and the
 *                    root's (0755 when the archive has no root entry).
 *   fs_sink_publish  moves the staging tree into place (POLICY.md rule 3):
 *                    rename with RENAME_NOREPLACE (absent; if another run
 *                    published the destination meanwhile, a merge into it),
 *                    renameat2(RENAME_EXCHANGE) then removal of the old tree
 *                    (FS_SINK_REPLACE), or merge (fs_merge.c): a dry run
 *                    that changes nothing (a non-directory over an existing
 *                    directory; a destination symlink where the archive has
 *                    a directory that does not resolve, by fs_tree_resolve,
 *                    to a directory inside: RZ_E_POL_DEST_SYMLINK naming
 *                    it; every staged symlink followed through the tree the
 *                    merge will produce: RZ_E_POL_SYMLINK_OUTSIDE), the
 *                    commit (fs_journal_commit), then one rename per entry
 *                    (a copy to a temporary name and a rename across a
 *                    mount point), directory modes (new directories get the
 *                    archive's; existing ones keep theirs unless named; one
 *                    reached through a destination symlink, and the
 *                    destination itself, keep theirs; the destination's
 *                    mtime is put back), and removal of the staging
 *                    directory.  Last, before modes, the kernel re-checks
 *                    the staged symlinks in place; this fires only if the
 *                    destination changed during the merge (the link is then
 *                    removed, the rest stays, and the call fails).  A
 *                    failure while entries move keeps the staging directory
 *                    and its journal (a warning says so) for the next run to
 *                    complete.  renameat2 flags answering EINVAL switch the
 *                    sink to the fallbacks of README "Where files go".
 *                    Call once, after a successful fs_sink_finish.
 *   fs_sink_abort    stops the writer threads without touching the error
 *                    record (which may be gone by then: call
 *                    fs_sink_settle first), removes the staging directory
 *                    (also safe after a
 *                    failed publish, and idempotent), never following a
 *                    symlink; what it cannot remove is named in a warning.
 *                    When merging and nothing had moved yet, the
 *                    destination's mtime is restored too.  A merge that
 *                    failed after its commit is left for the next run.
 *   fs_sink_free     closes fds and frees memory; aborts if not published.
 *
 * All functions return 0, or -1 with the shared struct rz_error filled
 * (entry name and archive offset of the entry being written, or the path
 * concerned during finish and publish).  Disk full reports RZ_E_IO_NOSPC
 * with the number of bytes written so far in detail.  Errors are sticky:
 * every callback returns -1 at once if err->code is already set.
 *
 * Threads (fs_sink_options.threads > 1): regular files that fit a 64 KiB
 * buffer are created by writer threads (fs_pool.c), everything else by
 * the thread that calls the callbacks, under the ordering rules of
 * fs_order.h: the tree, and the failure reported (the first in archive
 * order), are those of a serial run.  threads == 1 is the serial path.
 *
 * No global state: several sinks may run at once in different threads.
 * Uses openat2 (Linux 5.6+) where the kernel allows it, else the walk.
 * Test hook: RZUP_TEST_STOP_AFTER_RENAMES=N in the environment makes the
 * merge stop the process (SIGSTOP) after N entries have moved.
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
    int verbose;                /* >0: each entry name to on_entry, as tar -v */
    uint64_t max_size;          /* 0 = unlimited: total bytes of file data */
    uint64_t max_entries;       /* 0 = unlimited */
    uint64_t max_file_size;     /* 0 = unlimited */
    unsigned threads;           /* threads creating entries (--threads):
                                   0 = the default, 1 = serial */
    /* Called for warnings (skipped device, stripped '/'); may be NULL. */
    void (*warn)(void *warn_ctx, const char *msg);
    void *warn_ctx;
    /* Called with verbose > 0 for notes (which containment this run uses,
     * a rename fallback, staging recovered from a killed run); may be
     * NULL.  Shares warn_ctx. */
    void (*note)(void *warn_ctx, const char *msg);
    /* With verbose > 0, called with each extracted name; may be NULL. */
    void (*on_entry)(void *entry_ctx, const char *name);
    void *entry_ctx;
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

/*
 * With threads > 1: waits for the writer threads and, if one of them
 * failed, puts that failure into the sink's error record and into `also`
 * (another record holding a copy, e.g. the caller's after a handoff; may
 * be NULL) wherever it comes first in archive order (fs_order.h).  Call
 * after the thread feeding the sink has stopped, before reading the
 * error; 0, or -1 if a writer thread failed.  Nothing with threads == 1.
 */
int fs_sink_settle(struct fs_sink *s, struct rz_error *also);

/* Statistics for the summary line. */
uint64_t fs_sink_entries(const struct fs_sink *s);
uint64_t fs_sink_bytes(const struct fs_sink *s);

/* Path of the staging directory (for tests and cleanup messages). */
const char *fs_sink_staging_path(const struct fs_sink *s);
/* The staged tree's directory fd (owned by the sink; valid until publish):
 * files a caller adds there before fs_sink_publish are published too. */
int fs_sink_tree_fd(const struct fs_sink *s);

#endif
