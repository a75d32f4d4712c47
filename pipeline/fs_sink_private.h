/*
 * fs_sink_private.h: the state of one sink: the staging directory and its
 * publication (fs_publish.c, fs_merge.c, fs_journal.c), the writers that
 * create entries (fs_sink.c over fs_writer.c and fs_pool.c), and the tree
 * record they share (fs_record.h).  Not for use outside those files.
 *
 * Calls between the files go one way (no cycle): fs_publish.c -> fs_journal.c
 * -> fs_merge.c -> fs_tree_ops.c -> fs_record.c, fs_report.c, fs_walk.c;
 * fs_publish.c -> fs_sink.c (fs_sink_stop_writers) -> fs_pool.c ->
 * fs_writer.c -> fs_record.c, fs_walk.c; fs_order.c is pure.
 */
#ifndef RZ_FS_SINK_PRIVATE_H
#define RZ_FS_SINK_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../formats/tar_path.h"
#include "fs_record.h"
#include "fs_sink.h"
#include "fs_tree.h"
#include "fs_walk.h"
#include "fs_writer.h"

struct fs_pool;

/* Merge: a staged directory that lands where a destination symlink leads
 * (merged /usr: "bin" -> "usr/bin"); paths below `from` are below `to`. */
struct fs_remap {
    char *from, *to;     /* relative to the root; owned */
};

enum fs_pub_mode {
    FS_PUB_ABSENT,       /* rename the staging dir to the destination */
    FS_PUB_REPLACE,      /* exchange it with the destination */
    FS_PUB_MERGE,        /* move its entries into the destination */
};

struct fs_sink {
    struct fs_sink_options o;
    struct rz_error *err;
    enum fs_pub_mode mode;
    int parentfd;        /* holds the staging dir (dest itself when merging) */
    int destfd;          /* merge: the destination, else -1 */
    int stagedirfd;      /* the staging dir: holds "lock" and "tree" */
    int lockfd;          /* stagedir/lock: flock'ed while we live; journal */
    enum fs_resolver resolver;
    int resolver_errno;  /* why openat2 was not used, or 0 */
    bool rename_compat;  /* renameat2 flags answered EINVAL: fallbacks */
    bool created_dest;   /* this run created the destination */
    uint64_t renames;    /* entries moved by the merge (for the test hook) */
    uint64_t stop_after; /* RZUP_TEST_STOP_AFTER_RENAMES: SIGSTOP after N */
    struct fs_remap *remaps;
    size_t nremaps, remaps_cap;
    struct timespec dest_mtime;  /* merge: restored by abort */
    char *dest_name;     /* absent/replace: dest's name in parentfd */
    char *dest_path;     /* dest was a symlink: the directory it leads to */
    char *stage_dir;     /* path of parentfd, for messages */
    char stage_name[256];
    char stage_suffix[8];
    char *stage_path;
    int stagefd;
    bool staging_exists, finished, published, same_owner;
    bool dest_touched;   /* merge: entries have started to move */
    bool meets_existing; /* merge dry run: some staged name exists in DIR */

    int umask;           /* the process umask, or -1 if unknown */
    char path[TAR_PATH_MAX + 1];    /* the merge's walk (fs_merge.c) */

    /* entry creation (fs_sink.c): the writer of the thread that reads the
     * archive, and with --threads > 1 the writer threads (fs_pool.c) */
    bool writers_on;
    struct fs_writer w;
    struct fs_pool *pool;
    bool pooled;         /* the current entry goes to the pool */

    /* what finish and publish need: the shared tree record */
    struct fs_record rec;
};

/*
 * fs_report.c: records an error naming `path` (may be NULL), without an
 * offset (errors of entries are the writers', fs_writer.c).
 */
int fs_fail(struct fs_sink *s, enum rz_code code, int sys_errno,
            const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A note for -v (the chosen containment, a rename fallback); never NULL-safe
 * callers: does nothing unless verbose and a note callback is set. */
void fs_note(struct fs_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* fs_tree_ops.c: fchmod (if chmod) then, if named, futimens of an open
 * directory; 0 or -1 (errno). */
int fs_fix_fd(int fd, uint32_t mode, bool chmod, bool named, int64_t mtime,
              uint32_t nsec);

/*
 * fs_tree_ops.c.  Renames with RENAME_NOREPLACE (EEXIST if newname exists), falling back,
 * once renameat2 flags answered EINVAL, to a check then a plain rename
 * (ENOTEMPTY and ENOTDIR from it are EEXIST).
 */
int fs_rename_noreplace(struct fs_sink *s, int ofd, const char *oname,
                        int nfd, const char *nname);

/* Removes dirfd/name and everything below it, never following a symlink;
 * keeps going after a failure and returns -1 with the first errno. */
int fs_remove_tree(struct fs_sink *s, int dirfd, const char *name);

/*
 * fs_journal.c: the lock and journal of a staging directory, and what the
 * next run does with staging left by a killed one.
 *   fs_stage_lock     creates stagedirfd/lock already flock'ed (O_TMPFILE
 *                     then linkat, so no other run ever sees it unlocked);
 *   fs_journal_commit writes the journal (kind, and for a merge the
 *                     directory records and remaps) and fsyncs it, after
 *                     syncfs of the staged tree (not for a merge whose dry
 *                     run met no existing name: meets_existing); the commit
 *                     point;
 *   fs_recover_stale  scans the destination's parent (".NAME.rzup-*") and,
 *                     when it exists, the destination (".rzup-staging-*"),
 *                     and deals with each per fs_recovery_decide; reports
 *                     through the warn callback, never fails the run.
 */
int fs_stage_lock(struct fs_sink *s);
int fs_journal_commit(struct fs_sink *s, enum fs_jkind kind);
bool fs_recover_stale(struct fs_sink *s);   /* true: dest changed */

/* fs_sink.c: stops the writer threads (waiting for what they hold),
 * closes the writers' fds; with report, the first failure in archive
 * order, if any, is then in s->err (0, or -1 with s->err set); without,
 * s->err is not touched (abort: the record may be gone, and
 * fs_sink_settle already reported).  Idempotent. */
int fs_sink_stop_writers(struct fs_sink *s, bool report);

/* fs_merge.c (also for the recovery): the merge pass (no dry run) of an
 * open staged tree into destfd, then directory fixups; 0 or -1 (s->err
 * set). */
int fs_merge_pass(struct fs_sink *s);
int fs_merge_dry_run(struct fs_sink *s);
int fs_check_merged_links(struct fs_sink *s);
/* Counts one move of an entry (the RZUP_TEST_STOP_AFTER_RENAMES hook). */
void fs_counted_rename(struct fs_sink *s);
/* fs_report.c: an RZ_E_IO_PUBLISH failure naming path. */
int pub_fail(struct fs_sink *s, int e, const char *path, const char *what);
/* fs_tree_ops.c: path (staged, relative) -> where it is in the
 * destination, per remaps; the directory records' modes and mtimes,
 * deepest first (see fix_dir there); freeing the records and remaps. */
int fs_remap_path(const struct fs_sink *s, const char *path, char *out,
                  size_t cap);
int fs_fix_dirs(struct fs_sink *s, int rootfd, enum rz_code code);
void fs_free_records(struct fs_sink *s);

#endif
