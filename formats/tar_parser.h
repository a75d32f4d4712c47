/*
 * tar_parser.h: a push parser for tar streams (ustar, GNU, pax).
 *
 * The caller owns a struct tar_parser (embed it anywhere), and feeds the
 * uncompressed tar stream with tar_parser_push in pieces of any size, down to
 * one byte; the events delivered are identical for every split.  The parser
 * never pulls input and never blocks.
 *
 * Events are delivered through struct tar_callbacks:
 *   entry_begin(ctx, entry)   once per archive member, after all its headers
 *                             (pax 'x', global pax 'g', GNU 'L'/'K') are read.
 *                             `entry` and the strings it points to are valid
 *                             until entry_end returns.
 *   entry_data(ctx, buf, len) zero or more times, regular files only
 *                             (TAR_REG), with the member's data in order.  The
 *                             buffer is borrowed: it points into the caller's
 *                             input whenever possible (no copy).  Padding to
 *                             512 bytes is never delivered.  Data of other
 *                             types (e.g. a dir with size > 0) is skipped.
 *   entry_end(ctx)            once after the last data byte.
 * A callback returns 0 to continue or -1 to stop; it must fill the shared
 * struct rz_error first.  The parser then stops for good (sticky).
 *
 * Strictness (POLICY.md rule 13-15): checksums must match (signed or unsigned
 * sum accepted, as every tar does); numeric fields are octal (space/NUL
 * terminated) or non-negative GNU base-256; pax records are "LEN key=value\n"
 * with LEN exact, total extended data per entry at most TAR_EXT_MAX bytes;
 * GNU long names/links at most TAR_EXT_MAX; an extension header must be
 * followed by a real entry; a pax path or linkpath containing a NUL byte is
 * refused (RZ_E_POL_NUL_NAME).  Memory for extension data grows only as the
 * bytes actually arrive, never from a header-declared size.
 *
 * End of archive: two consecutive zero blocks.  After them, remaining input
 * must be zero bytes (GNU tar pads to a 10240-byte record) unless
 * TAR_PARSER_LENIENT_TRAILER is set, in which case anything is ignored.
 * tar_parser_finish fails with RZ_E_TAR_TRUNCATED inside an entry or header,
 * or RZ_E_TAR_NO_EOA when the stream stops at an entry boundary without the
 * end-of-archive blocks.
 *
 * Offsets in errors are RZ_OFF_ARCHIVE: the byte of the uncompressed stream
 * where the offending header (or the truncation) starts.
 *
 * No I/O; allocation only in init and bounded growth of the extension buffer.
 */
#ifndef RZ_TAR_PARSER_H
#define RZ_TAR_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rz_error.h"

#define TAR_BLOCK 512
#define TAR_EXT_MAX (1024 * 1024) /* pax data or GNU long name, per entry */

enum tar_type {
    TAR_REG,      /* '0', '\0', '7' (contiguous) */
    TAR_HARDLINK, /* '1' */
    TAR_SYMLINK,  /* '2' */
    TAR_CHR,      /* '3' */
    TAR_BLK,      /* '4' */
    TAR_DIR,      /* '5', or an old-style regular entry whose name ends in '/' */
    TAR_FIFO,     /* '6' */
    TAR_OTHER,    /* anything else (GNU sparse 'S', volume 'V', vendor types) */
};

struct tar_entry {
    enum tar_type type;
    char typeflag;           /* the raw header byte */
    const char *path;        /* raw bytes, NUL-terminated, no NUL inside */
    size_t path_len;
    const char *linkpath;    /* symlink target / hardlink target, or "" */
    size_t linkpath_len;
    uint64_t size;           /* data bytes (pax 'size' overrides the header) */
    uint32_t mode;           /* permission bits as stored (07777 mask) */
    uint64_t uid, gid;
    const char *uname, *gname; /* "" when absent */
    int64_t mtime;           /* seconds since the epoch (may be negative in pax) */
    uint32_t mtime_nsec;     /* from pax mtime fraction, else 0 */
    uint32_t devmajor, devminor;
    uint64_t offset;         /* archive offset of this member's first header */
};

struct tar_callbacks {
    int (*entry_begin)(void *ctx, const struct tar_entry *e);
    int (*entry_data)(void *ctx, const uint8_t *buf, size_t len);
    int (*entry_end)(void *ctx);
};

#define TAR_PARSER_LENIENT_TRAILER 0x1u

/* Opaque to callers except for its size; fields are the parser's own. */
struct tar_parser {
    /* state machine */
    int state;
    struct rz_error *err;
    const struct tar_callbacks *cb;
    void *ctx;
    unsigned flags;
    uint64_t offset;          /* bytes consumed so far */
    uint64_t entry_offset;    /* offset of current member's first header */
    /* current header block being assembled */
    uint8_t block[TAR_BLOCK];
    size_t block_fill;
    uint64_t remaining;       /* data or extension bytes still to come */
    uint64_t padding;         /* padding bytes still to skip */
    int zero_blocks;          /* consecutive zero blocks seen */
    /* extension data ('x', 'g', 'L', 'K') being collected */
    char ext_type;
    uint8_t *ext;             /* grows up to TAR_EXT_MAX */
    size_t ext_len, ext_cap;
    /* pending overrides for the next entry */
    char *long_name, *long_link;      /* GNU L / K, owned */
    size_t long_name_len, long_link_len;
    char *pax_path, *pax_linkpath;    /* owned */
    size_t pax_path_len, pax_linkpath_len;
    char *pax_uname, *pax_gname;
    unsigned pax_have;        /* bitmask of pax numeric keys present */
    uint64_t pax_size, pax_uid, pax_gid;
    int64_t pax_mtime; uint32_t pax_mtime_nsec;
    /* global pax defaults ('g') */
    unsigned glob_have;
    uint64_t glob_uid, glob_gid;
    int64_t glob_mtime; uint32_t glob_mtime_nsec;
    char *glob_uname, *glob_gname;
    /* the entry being delivered, and storage for its short names */
    struct tar_entry entry;
    char name_buf[256 + 1 + 155 + 1]; /* prefix '/' name */
    char link_buf[100 + 1];
    char uname_buf[32 + 1], gname_buf[32 + 1];
    bool ended;               /* end-of-archive seen */
    bool finished;
};

int tar_parser_init(struct tar_parser *p, const struct tar_callbacks *cb,
                    void *ctx, struct rz_error *err, unsigned flags);
int tar_parser_push(struct tar_parser *p, const uint8_t *buf, size_t len);
int tar_parser_finish(struct tar_parser *p);
void tar_parser_free(struct tar_parser *p);

/* True once the end-of-archive blocks have been seen. */
bool tar_parser_at_end(const struct tar_parser *p);

/* "regular file", "directory", ... for messages and listings. */
const char *tar_type_name(enum tar_type t);

#endif
