/*
 * tar_parser.h: a push parser for tar streams (ustar, GNU, pax, v7).
 *
 * The caller owns a struct tar_parser (embed it anywhere), and feeds the
 * uncompressed tar stream with tar_parser_push in pieces of any size, down to
 * one byte; the events delivered are identical for every split.  The parser
 * never pulls input and never blocks.  len == 0 is legal and does nothing.
 *
 * Events are delivered through struct tar_callbacks:
 *   entry_begin(ctx, entry)   once per archive member, after all its headers
 *                             (pax 'x', global pax 'g', GNU 'L'/'K') are read.
 *                             `entry` and the strings it points to are valid
 *                             until entry_end returns.
 *   entry_data(ctx, buf, len) zero or more times, regular files only
 *                             (TAR_REG), with the member's data in order,
 *                             len > 0.  The buffer is borrowed: it always
 *                             points into the buffer passed to
 *                             tar_parser_push (no copy).  Padding to 512
 *                             bytes is never delivered.  Data of other types
 *                             (a dir or link with size > 0, TAR_OTHER) is
 *                             skipped: entry->size says how much.
 *   entry_end(ctx)            once after the last data byte (before the
 *                             padding).
 * A callback returns 0 to continue or -1 to stop; it must fill the shared
 * struct rz_error first (if it does not, RZ_E_INTERNAL is recorded).  The
 * parser then stops for good: push and finish return -1 from then on, as
 * they do whenever err->code is already set by any stage.
 *
 * What the header fields become:
 *   - path: pax 'path' > GNU 'L' > ustar prefix '/' name (the prefix only
 *     with the POSIX magic "ustar\0"; old GNU "ustar  \0" uses that area
 *     for other things; v7 headers have no magic).  A GNU long name ends at
 *     its first NUL.  linkpath likewise: pax 'linkpath' > GNU 'K' > header.
 *   - size, uid, gid, mtime: pax 'x' > pax 'g' > header (POSIX: global
 *     records act as if repeated in every later 'x').  'size' is taken from
 *     'x' only; global path/linkpath/size are ignored.  mtime keeps up to 9
 *     fraction digits in mtime_nsec; "-1.25" is mtime -2, nsec 750000000.
 *     uname/gname: 'x' > 'g' > header (ustar and GNU only).  A pax record
 *     with an empty value removes that key (the next level applies again).
 *     Unknown pax keys are ignored; any GNU.sparse.* key makes the entry
 *     TAR_OTHER (its data is a sparse map, not the file).
 *   - type: see enum tar_type.  '0' or '\0' whose path ends in '/' is a
 *     directory.  Old GNU sparse 'S' is TAR_OTHER; its extension blocks are
 *     consumed so the stream stays in step.
 *   - mode is masked to 07777; devmajor/devminor are read for TAR_CHR and
 *     TAR_BLK only (other writers leave junk there).
 *   - an all-blank numeric field reads as 0.
 *
 * Strictness (POLICY.md rules 13-15) and the errors it gives:
 *   RZ_E_TAR_CHECKSUM     checksum field not octal, or neither the unsigned
 *                         nor the signed sum matches; also a lone zero block
 *                         followed by a non-zero block (a zero block is not a
 *                         valid header; GNU tar would silently stop there).
 *   RZ_E_TAR_NUMBER       a numeric header field that is not octal (space or
 *                         NUL terminated), a negative base-256 number, or a
 *                         value over 2^63-1 (device numbers: over 2^32-1).
 *                         The detail names the field and shows its bytes.
 *   RZ_E_TAR_PAX          a malformed pax record ("LEN key=value\n" with
 *                         LEN exact, value may hold '='; no trailing bytes),
 *                         or a pax size/uid/gid that is not a decimal number
 *                         up to 2^63-1, or an mtime that is not [-]D[.D].
 *   RZ_E_POL_NUL_NAME     a NUL byte in a pax path or linkpath.
 *   RZ_E_TAR_PAX_TOO_BIG / RZ_E_TAR_LONGNAME_TOO_BIG
 *                         an 'x'/'g' or 'L'/'K' header declaring more than
 *                         TAR_EXT_MAX bytes, or 'x'+'L'+'K' for one entry
 *                         declaring more than TAR_EXT_MAX together.  This
 *                         fails on the header block itself: memory for
 *                         extension data grows only as bytes arrive, never
 *                         from a declared size.
 *   RZ_E_TAR_ORPHAN_EXT   an 'x', 'L' or 'K' followed by a zero block or by
 *                         the end of input (a 'g' alone is fine).
 *   RZ_E_TAR_TRAILING     a non-zero byte after the end-of-archive blocks
 *                         (offset: that byte), unless
 *                         TAR_PARSER_LENIENT_TRAILER, which ignores all input
 *                         after them.  Zero bytes there are always fine (GNU
 *                         tar pads to a 10240-byte record).
 *   RZ_E_TAR_TRUNCATED    (finish) input ended inside a header block,
 *                         extension data, member data or padding; the detail
 *                         says which and how many bytes are missing, e.g.
 *                         "in the data of X, N bytes missing".
 *   RZ_E_TAR_NO_EOA       (finish) input ended at a member boundary without
 *                         two zero blocks (one zero block is not enough).
 *   RZ_E_INTERNAL         push after finish; a callback's silent -1.
 *   RZ_E_NOMEM            growing an extension buffer failed.
 *
 * Offsets in errors are RZ_OFF_ARCHIVE: the offending header block (for
 * pax errors the 'x'/'g' header, for truncation the member's first header;
 * the detail adds where the input ended).  err->entry names the member when
 * it is known.  entry->offset is the member's first header, its 'x'/'L'/'K'
 * if any ('g' headers belong to no member).
 *
 * Sizes up to 2^63-1 are handled without overflow.  No I/O.  Allocation:
 * none in init; the extension buffer and pending long names grow as bytes
 * arrive, up to TAR_EXT_MAX + 1 each, and are reused for later entries
 * until tar_parser_free.
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

/* Private: an owned, NUL-terminated byte string. */
struct tar_text {
    char *s;
    size_t len, cap;
};

/* Private: the attributes of one pax header ('x') or of the global ones. */
struct tar_pax {
    unsigned have;            /* TAR_PAX_* bits of the keys present */
    bool sparse;              /* a GNU.sparse.* key was present */
    uint64_t size, uid, gid;
    int64_t mtime;
    uint32_t mtime_nsec;
    struct tar_text path, linkpath, uname, gname;
};

/* Opaque to callers except for its size; fields are the parser's own. */
struct tar_parser {
    int state;                /* enum tar_state in tar_parser.c */
    struct rz_error *err;
    const struct tar_callbacks *cb;
    void *ctx;
    unsigned flags;
    uint64_t offset;          /* bytes consumed so far */
    uint64_t hdr_offset;      /* offset of the block in `block` */
    uint64_t ext_offset;      /* offset of the extension header being read */
    uint64_t zero_offset;     /* offset of the first end-of-archive block */
    uint64_t member_offset;   /* offset of the current member's first header */
    /* the header (or GNU sparse) block being assembled */
    uint8_t block[TAR_BLOCK];
    size_t block_fill;
    uint64_t remaining;       /* data or extension bytes still to come */
    uint64_t padding;         /* padding bytes still to skip */
    int zero_blocks;          /* consecutive zero blocks seen */
    /* extension data ('x', 'g', 'L', 'K') being collected */
    char ext_type;
    uint8_t *ext;             /* grows as bytes arrive, up to TAR_EXT_MAX+1 */
    size_t ext_len, ext_cap;
    uint64_t ext_total;       /* extension bytes declared for this entry */
    bool ext_pending;         /* an 'x', 'L' or 'K' awaits its entry */
    bool ext_padding;         /* the padding being skipped follows one */
    /* pending overrides for the next entry, and global pax defaults */
    struct tar_text long_name, long_link; /* GNU 'L' / 'K' */
    bool have_long_name, have_long_link;
    struct tar_pax pax, glob;
    /* the entry being delivered, and storage for its short names */
    struct tar_entry entry;
    char name_buf[155 + 1 + 100 + 1]; /* prefix '/' name */
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
