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

/* A directory whose final mode and mtime are applied at the end. */
struct fs_dir_rec {
    char *path;          /* normalised, relative to the root; owned */
    uint32_t mode;       /* final permission bits */
    int64_t mtime;
    uint32_t mtime_nsec;
    bool named;          /* an entry names it (else an implied parent) */
    bool existed;        /* merge: the destination already had a directory */
    uint64_t seq;        /* arrival order, so the last record wins */
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
    struct timespec dest_mtime;  /* merge: restored by abort */
    char *dest_name;     /* absent/replace: dest's name in parentfd */
    char *stage_dir;     /* path of parentfd, for messages */
    char stage_name[256];
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

/* openat2 beneath dirfd, never through a symlink or magic link. */
int fs_open_beneath(int dirfd, const char *path, int flags);

#endif
