/*
 * fs_pool.h: writer threads that create regular files handed over by the
 * thread that reads the archive (the reader), within the ordering rules of
 * fs_order.h.
 *
 * Memory is bounded: the pool owns a fixed number of buffers (slots) of
 * FS_POOL_FILE_MAX bytes each, allocated once; a file is handed over only
 * when its whole data fits one (fs_order_route), and its bytes are copied
 * once, from the parser's window into the slot, then written from there.
 * The reader waits for a free slot when all are in use.
 *
 *   fs_pool_new     starts `threads` writer threads, each with its own
 *                   fs_writer set up like `proto` but recording nothing;
 *                   failures reach the reader's record `err`.
 *   fs_pool_clear   waits, when fs_order_blocks says the entry must, until
 *                   every pending file is done (a barrier).
 *   fs_pool_open    takes a free slot for entry e (its normalised path in
 *                   path[0..plen)); fs_pool_append copies its bytes in,
 *                   fs_pool_submit hands it over, fs_pool_cancel drops it.
 *   fs_pool_check   collects finished files without waiting.
 *   fs_pool_drain   waits until every handed-over file is done.
 *   fs_pool_free    drains, stops and joins the threads, frees.
 *
 * Each function except fs_pool_free returns 0, or -1 once any writer
 * thread failed (or a thread could not start, or memory ran out): the
 * pool then waits for every file still held, and the earliest failure in
 * archive order is put into `err` (replacing what it holds when
 * fs_order_error_first says so).  After a failure nothing more is handed
 * out.  All functions are called from the reader's thread only.
 */
#ifndef RZ_FS_POOL_H
#define RZ_FS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"
#include "fs_writer.h"

#define FS_POOL_FILE_MAX (64u * 1024u)  /* data of one handed-over file */
#define FS_POOL_NAME_MAX 1024u          /* raw name of one (for messages) */

struct fs_pool;

int fs_pool_new(struct fs_pool **out, unsigned threads,
                const struct fs_writer *proto, struct rz_error *err);
int fs_pool_clear(struct fs_pool *p, const char *path, size_t len,
                  const char *target);
int fs_pool_open(struct fs_pool *p, const struct tar_entry *e,
                 const char *path, size_t plen, uint64_t bytes_before);
int fs_pool_append(struct fs_pool *p, const uint8_t *buf, size_t len);
int fs_pool_submit(struct fs_pool *p);
void fs_pool_cancel(struct fs_pool *p);
int fs_pool_check(struct fs_pool *p);
int fs_pool_drain(struct fs_pool *p);
void fs_pool_free(struct fs_pool *p);

/* The error record of the earliest writer-thread failure (code RZ_E_OK if
 * none): for a caller that holds a copy of err elsewhere. */
const struct rz_error *fs_pool_failure(const struct fs_pool *p);

#endif
