/*
 * fs_sink_private.h: the fs_sink state shared by fs_sink.c (entry
 * creation) and fs_publish.c (staging, finish, publish, abort, removal).  Not
 * for use outside those two files.
 */
#ifndef RZ_FS_SINK_PRIVATE_H
#define RZ_FS_SINK_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../formats/tar_path.h"
#include "fs_sink.h"
#include "fs_tree.h"

/* A directory whose final mode and mtime are applied at the end. */
struct fs_dir_rec {
    char *path;          /* normalised, relative to the root; owned */
    uint32_t mode;       /* final permission bits */
    int64_t mtime;
    uint32_t mtime_nsec;
    bool named;          /* an entry names it (else an implied parent) */
    bool existed;        /* merge: the destination already had a directory */
    bool followed;       /* merge: reached through a destination symlink */
    uint64_t seq;        /* arrival order, so the last record wins */
};

/* Merge: a staged directory that lands where a destination symlink leads
 * (merged /usr: "bin" -> "usr/bin"); paths below `from` are below `to`. */
struct fs_remap {
    char *from, *to;     /* relative to the root; owned */
};

/* How paths beneath a directory fd are resolved (fs_walk.c). */
enum fs_resolver {
    FS_RESOLVE_OPENAT2,  /* openat2(RESOLVE_BENEATH|...) */
    FS_RESOLVE_WALK,     /* checked openat(O_NOFOLLOW) walk */
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
    bool staging_exists, finished, published, warned_slash, same_owner;
    bool dest_touched;   /* merge: entries have started to move */

    /* the last parent directory opened, as archives group files by dir */
    int cache_fd;
    size_t cache_len;
    char cache_path[TAR_PATH_MAX + 1];

    /* the entry being written */
    const struct tar_entry *cur;
    int umask;           /* the process umask, or -1 if unknown */
    int file_fd;
    uint32_t file_mode;
    bool file_chmod;     /* the mode still needs an fchmod at the end */
    uint64_t file_written;
    size_t path_len;
    char path[TAR_PATH_MAX + 1];
    char tpath[TAR_PATH_MAX + 1];   /* hardlink target, normalised */
    char scratch[TAR_PATH_MAX + 1]; /* NUL-terminated copies of prefixes */

    /* what finish and publish need */
    struct fs_dir_rec *dirs;
    size_t ndirs, dirs_cap;
    uint64_t dir_seq;    /* next record's seq */
    bool root_named;
    uint32_t root_mode;
    int64_t root_mtime;
    uint32_t root_nsec;
    char **links;        /* symlinks to check against the real tree */
    size_t nlinks, links_cap;

    uint64_t entries, bytes;
};

/*
 * Records an error: the current entry's name and archive offset when an
 * entry is being written, else `path` (may be NULL) without an offset.
 */
int fs_fail(struct fs_sink *s, enum rz_code code, int sys_errno,
            const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Sorts the directory records by path and keeps the last record of each
 * path (fs_publish.c).  Run at finish, and whenever the array is full, so a
 * hostile archive naming the same directories over and over cannot grow
 * memory beyond twice the number of distinct directories.
 */
void fs_sort_dirs(struct fs_sink *s);

/*
 * fs_walk.c: opens path beneath dirfd, never through a symlink or magic
 * link and never above dirfd (ELOOP for a symlink on the way, EXDEV for an
 * escape).  fs_resolve_beneath follows symlinks that stay beneath (O_PATH
 * result).  fs_resolver_probe chooses the method once per run: the walk
 * when openat2 answers ENOSYS, EPERM or EINVAL (*why = that errno).
 */
enum fs_resolver fs_resolver_probe(int dirfd, int *why);
int fs_open_beneath(enum fs_resolver r, int dirfd, const char *path,
                    int flags);
int fs_resolve_beneath(enum fs_resolver r, int dirfd, const char *path);

/* A note for -v (the chosen containment, a rename fallback); never NULL-safe
 * callers: does nothing unless verbose and a note callback is set. */
void fs_note(struct fs_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Renames with RENAME_NOREPLACE (EEXIST if newname exists), falling back,
 * once renameat2 flags answered EINVAL, to a check then a plain rename
 * (ENOTEMPTY and ENOTDIR from it are EEXIST).  fs_publish.c.
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
 *                     syncfs of the staged tree: the commit point;
 *   fs_recover_stale  scans the destination's parent (".NAME.rzup-*") and,
 *                     when it exists, the destination (".rzup-staging-*"),
 *                     and deals with each per fs_recovery_decide; reports
 *                     through the warn callback, never fails the run.
 */
int fs_stage_lock(struct fs_sink *s);
int fs_journal_commit(struct fs_sink *s, enum fs_jkind kind);
bool fs_recover_stale(struct fs_sink *s);   /* true: dest changed */

/* fs_publish.c, for the recovery: the merge pass (no dry run) of an open
 * staged tree into destfd, then directory fixups; 0 or -1 (s->err set). */
int fs_merge_pass(struct fs_sink *s);
int fs_merge_dry_run(struct fs_sink *s);
int fs_check_merged_links(struct fs_sink *s);
/* path (staged, relative) -> where it is in the destination, per remaps */
int fs_remap_path(const struct fs_sink *s, const char *path, char *out,
                  size_t cap);
int pub_fail(struct fs_sink *s, int e, const char *path, const char *what);
/* Counts one move of an entry (the RZUP_TEST_STOP_AFTER_RENAMES hook). */
void fs_counted_rename(struct fs_sink *s);
int fs_fix_dirs(struct fs_sink *s, int rootfd, enum rz_code code);
void fs_free_records(struct fs_sink *s);

#endif
