/*
 * tar_sparse.h: GNU sparse maps (old GNU 'S' headers, pax sparse 0.0, 0.1
 * and 1.0), checked and stored.  Pure: no I/O.
 *
 * A map is a list of chunks (offset, length) of a file of `realsize`
 * bytes; the archive stores only the chunks' bytes, in order, and the rest
 * of the file is holes.  The map is accepted only when it is strictly
 * increasing and non-overlapping (each chunk starts at or after the end of
 * the previous one), every chunk ends within realsize, and the chunks'
 * lengths add up to the data the archive stores.  Zero-length chunks are
 * allowed (GNU tar ends every map with one at realsize).
 *
 * Memory grows as chunks arrive, never from a declared count: a map
 * declaring a million chunks fails on its count line (1.0) or when chunk
 * TAR_SPARSE_MAX + 1 arrives, before anything near that is allocated.
 */
#ifndef RZ_TAR_SPARSE_H
#define RZ_TAR_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAR_SPARSE_MAX 65536   /* chunks per file: 1 MiB of map */

struct tar_sparse_chunk {
    uint64_t offset, len;
};

struct tar_sparse {
    struct tar_sparse_chunk *v;
    size_t n, cap;
    uint64_t data;      /* sum of the lengths */
    uint64_t end;       /* end of the last chunk */
    /* the pax 1.0 text map ("N\n" then N pairs of lines), being read */
    uint64_t text_bytes;    /* map bytes consumed */
    uint64_t text_count;    /* N, once read */
    uint64_t text_num;      /* the number being read */
    uint64_t text_offset;   /* a pair's offset, awaiting its length */
    unsigned text_digits;
    uint64_t text_lines;    /* numbers read, N included */
};

/* Returned by tar_sparse_add / tar_sparse_text when memory ran out. */
extern const char tar_sparse_nomem[];

/* Empties the map (keeps its memory for the next one). */
void tar_sparse_reset(struct tar_sparse *s);
void tar_sparse_free(struct tar_sparse *s);

/* Appends a chunk.  NULL, tar_sparse_nomem, or why the map is refused. */
const char *tar_sparse_add(struct tar_sparse *s, uint64_t offset,
                           uint64_t len);

/*
 * Appends the chunks of a pax 0.1 GNU.sparse.map value, "off,len,off,len"
 * (decimal, no spaces, an even count).  NULL, tar_sparse_bad_list when the
 * text is not such a list, or what tar_sparse_add said (the first problem;
 * the rest of the list is still read for its syntax).
 */
extern const char tar_sparse_bad_list[];
const char *tar_sparse_list(struct tar_sparse *s, const char *v, size_t n);

/* The whole map against the file: NULL or why it is refused. */
const char *tar_sparse_check(const struct tar_sparse *s, uint64_t realsize,
                             uint64_t stored);

/*
 * Feeds pax 1.0 map text.  Consumes up to the map's last newline; returns
 * 1 when the map is complete (*used bytes were map), 0 when all `len`
 * bytes were consumed and more are needed, -1 with *why when malformed.
 */
int tar_sparse_text(struct tar_sparse *s, const uint8_t *buf, size_t len,
                    size_t *used, const char **why);

#endif
