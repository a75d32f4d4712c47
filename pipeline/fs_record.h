/*
 * fs_record.h: the tree record of one run -- what the run created beneath
 * the staging directory that is needed after the entries are written:
 * every directory (its final mode and mtime, applied at the end), the root
 * entry's mode and mtime, and every symlink (checked against the real tree
 * at finish).  Memory only, no I/O.
 *
 * Records are keyed by the archive offset of the entry that made them
 * (an implied parent gets the offset of the entry that needed it); of
 * several records for one path the one of the highest offset wins, which
 * is the "last duplicate wins" rule of tar.
 *
 * Threads: a record is written by one thread at a time (the thread that
 * reads the archive: in parallel runs only regular files are created by
 * other threads, and they record nothing), and read after the writers
 * have stopped.  No locking here.
 *
 *   fs_record_dir     appends a directory record (path copied);
 *   fs_record_link    appends a symlink's path (copied);
 *   fs_record_root    the root entry ("./"): mode and mtime;
 *   fs_record_sort    sorts directory records by path and keeps the last
 *                     (highest offset) of each path; then every descendant
 *                     follows its ancestors, so walking backwards is
 *                     deepest first.  Also run whenever the array is full,
 *                     so an archive naming the same directories over and
 *                     over cannot grow memory beyond twice the number of
 *                     distinct directories (links likewise, deduplicated);
 *   fs_record_find    the record of a path after fs_record_sort, or NULL;
 *   fs_record_free    frees everything; the record is then empty.
 * The append functions return 0, or -1 when memory ran out (ENOMEM).
 */
#ifndef RZ_FS_RECORD_H
#define RZ_FS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A directory whose final mode and mtime are applied at the end. */
struct fs_dir_rec {
    char *path;          /* normalised, relative to the root; owned */
    uint32_t mode;       /* final permission bits */
    int64_t mtime;
    uint32_t mtime_nsec;
    bool named;          /* an entry names it (else an implied parent) */
    bool existed;        /* merge: the destination already had a directory */
    bool followed;       /* merge: reached through a destination symlink */
    bool mode_set;       /* created with its final mode: no fchmod at the
                            end (set by the writer, false otherwise) */
    uint64_t offset;     /* archive offset of the entry that made it: the
                            key, the highest one wins */
};

struct fs_record {
    struct fs_dir_rec *dirs;
    size_t ndirs, dirs_cap;
    bool root_named;
    uint32_t root_mode;
    int64_t root_mtime;
    uint32_t root_nsec;
    char **links;        /* symlinks to check against the real tree */
    size_t nlinks, links_cap;
};

int fs_record_dir(struct fs_record *r, const char *path, uint32_t mode,
                  int64_t mtime, uint32_t nsec, bool named, uint64_t offset);
int fs_record_link(struct fs_record *r, const char *path);
void fs_record_root(struct fs_record *r, uint32_t mode, int64_t mtime,
                    uint32_t nsec);
void fs_record_sort(struct fs_record *r);
struct fs_dir_rec *fs_record_find(const struct fs_record *r,
                                  const char *path);
void fs_record_free(struct fs_record *r);

#endif
