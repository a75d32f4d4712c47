/*
 * fs_order.h: the ordering rules of parallel entry creation, as pure
 * decisions (no I/O, no threads; tests/test_fs_order.c checks them against
 * a model of the sink over random and exhaustive interleavings).
 *
 * The thread that reads the archive (the reader) takes every entry in
 * archive order.  It may hand a regular file, with all its bytes, to a
 * writer thread (fs_pool.c) and go on; everything else it creates itself,
 * in order.  The rules that keep the tree the same as a serial run's:
 *
 *   fs_order_route     which entries may be handed over: regular files,
 *                      not sparse, whose whole data fits a buffer, with no
 *                      xattrs to restore, whose raw name fits one.  The
 *                      reader creates each handed-over file's parent
 *                      directories before handing it over, so a directory
 *                      always precedes its children.
 *   fs_order_blocks    true when an entry (its normalised path, and a
 *                      hardlink's normalised target) must wait until the
 *                      handed-over files still pending are done: its path
 *                      is one of theirs (the last duplicate wins), one of
 *                      theirs is a parent of its path (a file in the way
 *                      of a later parent is refused as in a serial run),
 *                      or its target is, or lies below, one of theirs (a
 *                      hardlink after its target).  The reader then waits
 *                      for all pending files (a barrier), which keeps the
 *                      rule simple; real archives rarely trigger it.
 *                      A pending path below the entry's own path needs no
 *                      wait: its parent is already a directory, which no
 *                      later entry replaces.
 *   fs_order_error_first  whether `cand`, a writer thread's failure, is
 *                      reported instead of `have`: the failure reported is
 *                      the first in archive order, whichever thread hit it.
 *                      Every handed-over file precedes in archive order
 *                      whatever the reader was doing when it learnt of the
 *                      failure, so cand wins over an empty record and over
 *                      any failure at a later archive offset; failures
 *                      without an archive offset (the network, the
 *                      decoder, an interrupt) stand.
 *
 * Directory metadata is applied at the end (fs_publish.c), after every
 * writer thread has stopped.
 *
 * The pending set holds at most FS_ORDER_MAX paths; the strings belong to
 * the caller and must stay valid while pending.
 */
#ifndef RZ_FS_ORDER_H
#define RZ_FS_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"

#define FS_ORDER_MAX 64

struct fs_order {
    const char *path[FS_ORDER_MAX];
    size_t len[FS_ORDER_MAX];
    uint64_t id[FS_ORDER_MAX];
    size_t n;
};

enum fs_route { FS_ROUTE_INLINE, FS_ROUTE_POOL };

void fs_order_init(struct fs_order *o);
/* Adds a pending path under `id`; -1 when FS_ORDER_MAX are pending. */
int fs_order_add(struct fs_order *o, uint64_t id, const char *path,
                 size_t len);
/* Removes the path pending under `id` (nothing if none). */
void fs_order_done(struct fs_order *o, uint64_t id);
size_t fs_order_pending(const struct fs_order *o);

/* target may be NULL (tlen then ignored). */
bool fs_order_blocks(const struct fs_order *o, const char *path, size_t len,
                     const char *target, size_t tlen);

/* max_file: the largest data a buffer holds; xattrs: --xattrs is on. */
enum fs_route fs_order_route(const struct tar_entry *e, size_t max_file,
                             size_t max_name, bool xattrs);

bool fs_order_error_first(const struct rz_error *have,
                          const struct rz_error *cand);

#endif
