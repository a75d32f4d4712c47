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
 *                             (pax 'x', global pax 'g', GNU 'L'/'K',
 *                             Solaris 'X') are read.  `entry` and the
 *                             strings it points to are valid until
 *                             entry_end returns.
 *   entry_data(ctx, buf, len) zero or more times, regular files only
 *                             (TAR_REG), with the member's data in order,
 *                             len > 0.  The buffer is borrowed: it always
 *                             points into the buffer passed to
 *                             tar_parser_push (no copy).  Padding to 512
 *                             bytes is never delivered.
 *   entry_hole(ctx, len)      sparse files only (entry->sparse), between
 *                             entry_data calls: the next `len` bytes of the
 *                             file (len > 0) are a hole (zeros).  Holes and
 *                             data together add up to entry->size, in file
 *                             order; a file may end in a hole.  When
 *                             entry_hole is NULL the hole is delivered to
 *                             entry_data as zeros from a static buffer.
 *   entry_end(ctx)            once after the last data byte (before the
 *                             padding).
 * A callback returns 0 to continue or -1 to stop; it must fill the shared
 * struct rz_error first (if it does not, RZ_E_INTERNAL is recorded).  The
 * parser then stops for good: push and finish return -1 from then on, as
 * they do whenever err->code is already set by any stage.
 *
 * Members that are not entries (never delivered): GNU volume labels 'V'
 * (ignored, their data skipped), Solaris ACLs 'A' (skipped with a warning),
 * and the extension headers themselves.
 *
 * What the header fields become:
 *   - path: GNU.sparse.name (sparse files) > pax 'path' > GNU 'L' > ustar
 *     prefix '/' name (the prefix only with the POSIX magic "ustar\0"; see
 *     the ambiguity rules for other magics).  A GNU long name ends at its
 *     first NUL.  linkpath likewise: pax 'linkpath' > GNU 'K' > header.
 *   - size, uid, gid, mtime: pax 'x' > header.  A global 'g' header that
 *     sets any attribute is ambiguous (bsdtar ignores global headers, GNU
 *     tar and Python apply them); one holding only keys nobody applies
 *     (comment, as git archive writes) or deletions is fine.  mtime keeps up to 9 fraction digits in mtime_nsec; "-1.25"
 *     is mtime -2, nsec 750000000; a negative base-256 header mtime is
 *     legal.  uname/gname: 'x' > header (ustar and GNU only).  A pax
 *     record with an empty value removes that key (POSIX; bsdtar does the
 *     same), so the next level applies again.  Unknown pax keys are ignored.
 *   - type: see enum tar_type.  '\0' whose path ends in '/' is a
 *     directory ('0' or '7' with such a path is ambiguous); GNU
 *     dumpdirs 'D' are directories (their data, a list of names, is
 *     skipped).  Old GNU sparse 'S' and pax sparse files are TAR_REG with
 *     entry->sparse set.
 *   - size: for header-only types (links, devices, FIFOs, directories) the
 *     header's size field is ignored, and the next header follows at once,
 *     as GNU tar's extraction, bsdtar, Go and Python read them; size is 0.
 *     For sparse files it is the expanded (real) size.
 *   - mode is masked to 07777; devmajor/devminor are read for TAR_CHR and
 *     TAR_BLK only (other writers leave junk there).
 *   - xattrs: the SCHILY.xattr.* records of the entry's 'x' header (name
 *     without the prefix, value raw bytes), in archive order; count 0 when
 *     none.
 *
 * Ambiguity (README "Ambiguity"): where GNU tar, bsdtar, Python's tarfile
 * and Go's archive/tar read an archive differently, it is refused with
 * RZ_E_TAR_AMBIGUOUS, the detail naming the case:
 *   "two pax extended headers in a row" (unless the earlier ones set
 *   no key any reader applies),
 *   "two GNU long names in a row" and "two GNU long link names in a row"
 *   (with different values), "GNU long name and pax path disagree" (path or
 *   GNU.sparse.name), "GNU long link and pax linkpath disagree" (the pax
 *   header after the GNU one; before it, pax wins everywhere), "GNU.sparse.name
 *   and pax path disagree" (path the later record), "ustar magic with a bad version
 *   and a prefix" (any magic but "ustar\0" with a non-empty prefix field,
 *   on a non-sparse member), "global header sets path" (or any attribute;
 *   linkpath only when a link follows), "pax size on a header-only entry",
 *   "regular-file type on a name ending in '/'", "GNU.sparse keys on a
 *   non-regular entry", "GNU sparse entry whose name ends in '/'", "GNU
 *   sparse 'S' header without the GNU magic", "old GNU sparse map goes on
 *   after an empty entry", "GNU long name runs past its size" (and long
 *   link, pax header data: the first padding byte after extension data
 *   must be NUL, unless a long name's NUL came within its size), "Solaris
 *   ACL header not followed by its file".
 * Sparse maps that are malformed, overlapping, out of order, beyond the
 * real size, or do not add up are RZ_E_TAR_SPARSE; a map's memory grows
 * only as its chunks arrive (tar_sparse.h).
 *
 * Strictness (POLICY.md rules 13-15) and the errors it gives:
 *   RZ_E_TAR_CHECKSUM     checksum field not octal, or neither the unsigned
 *                         nor the signed sum matches; also a lone zero block
 *                         followed by a non-zero block (a zero block is not a
 *                         valid header; GNU tar would silently stop there),
 *                         unless TAR_PARSER_IGNORE_ZEROS.
 *   RZ_E_TAR_NUMBER       a numeric header field not spelled as
 *                         tar_numeric.h accepts, a negative number other
 *                         than an mtime, or a value over 2^63-1 (device
 *                         numbers: over 2^32-1).  The detail names the
 *                         field and shows its bytes.
 *   RZ_E_TAR_PAX          a malformed pax record ("LEN key=value\n" with
 *                         LEN exact, value may hold '=', no NUL in the key;
 *                         no trailing bytes), or a pax size/uid/gid that is
 *                         not a decimal number up to 2^63-1, or an mtime
 *                         that is not [-]D[.[D]].
 *   RZ_E_POL_NUL_NAME     a NUL byte in a pax path, linkpath or
 *                         GNU.sparse.name.
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
 *                         two zero blocks (one zero block is not enough),
 *                         unless the outer layer proved the input complete
 *                         (tar_parser_input_complete) or
 *                         TAR_PARSER_LENIENT_TRAILER: then it is accepted
 *                         with a warning.  The detail says the last entry
 *                         ended cleanly: this is not truncation mid-entry.
 *   RZ_E_INTERNAL         push after finish; a callback's silent -1.
 *   RZ_E_NOMEM            growing an extension buffer or a sparse map failed.
 *
 * TAR_PARSER_IGNORE_ZEROS (tar -i): zero blocks are skipped wherever a
 * header may start, so concatenated archives read as one; the input must
 * still end with two zero blocks (or the rules above for their absence).
 *
 * Offsets in errors are RZ_OFF_ARCHIVE: the offending header block (for
 * pax errors the 'x'/'g' header, for truncation the member's first header;
 * the detail adds where the input ended).  err->entry names the member when
 * it is known.  entry->offset is the member's first header, its 'x'/'L'/'K'
 * if any ('g' headers belong to no member).
 *
 * Sizes up to 2^63-1 are handled without overflow.  No I/O.  Allocation:
 * none in init; the extension buffer and pending long names grow as bytes
 * arrive, up to TAR_EXT_MAX + 1 each, sparse maps up to TAR_SPARSE_MAX
 * chunks, and all are reused for later entries until tar_parser_free.
 */
#ifndef RZ_TAR_PARSER_H
#define RZ_TAR_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rz_error.h"
#include "tar_sparse.h"

#define TAR_BLOCK 512
#define TAR_EXT_MAX (1024 * 1024) /* pax data or GNU long name, per entry */

enum tar_type {
    TAR_REG,      /* '0', '\0', '7' (contiguous), GNU sparse 'S' */
    TAR_HARDLINK, /* '1' */
    TAR_SYMLINK,  /* '2' */
    TAR_CHR,      /* '3' */
    TAR_BLK,      /* '4' */
    TAR_DIR,      /* '5', GNU dumpdir 'D', or an old-style '\0' entry
                     whose name ends in '/' */
    TAR_FIFO,     /* '6' */
    TAR_OTHER,    /* anything else (vendor types, GNU multivolume 'M') */
};

/* One SCHILY.xattr.NAME=VALUE record. */
struct tar_xattr {
    const char *name;        /* NAME, NUL-terminated */
    const uint8_t *value;    /* raw bytes (may hold NUL) */
    size_t value_len;
};

struct tar_entry {
    enum tar_type type;
    char typeflag;           /* the raw header byte */
    const char *path;        /* raw bytes, NUL-terminated, no NUL inside */
    size_t path_len;
    const char *linkpath;    /* symlink target / hardlink target, or "" */
    size_t linkpath_len;
    uint64_t size;           /* file bytes (pax 'size' overrides the header;
                                0 for header-only types; expanded size for
                                sparse files) */
    bool sparse;             /* data comes with entry_hole events */
    uint64_t stored;         /* bytes the archive stores for it */
    uint32_t mode;           /* permission bits as stored (07777 mask) */
    uint64_t uid, gid;
    const char *uname, *gname; /* "" when absent */
    int64_t mtime;           /* seconds since the epoch (may be negative in pax) */
    uint32_t mtime_nsec;     /* from pax mtime fraction, else 0 */
    uint32_t devmajor, devminor;
    uint64_t offset;         /* archive offset of this member's first header */
    const struct tar_xattr *xattrs;
    size_t xattr_count;
};

struct tar_callbacks {
    int (*entry_begin)(void *ctx, const struct tar_entry *e);
    int (*entry_data)(void *ctx, const uint8_t *buf, size_t len);
    int (*entry_end)(void *ctx);
    int (*entry_hole)(void *ctx, uint64_t len);   /* may be NULL */
};

#define TAR_PARSER_LENIENT_TRAILER 0x1u
#define TAR_PARSER_IGNORE_ZEROS 0x2u

/* Private: an owned, NUL-terminated byte string. */
struct tar_text {
    char *s;
    size_t len, cap;
};

/* Private: the attributes of one pax header ('x') or of the global ones. */
struct tar_pax {
    unsigned have;            /* TAR_PAX_* bits of the keys present */
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
    bool pad_check;           /* its first padding byte must be NUL */
    /* pending overrides for the next entry, and global pax defaults */
    struct tar_text long_name, long_link; /* GNU 'L' / 'K' */
    bool have_long_name, have_long_link;
    uint64_t long_name_offset, long_link_offset; /* their headers */
    struct tar_pax pax, glob;
    /* the entry being delivered, and storage for its short names */
    struct tar_entry entry;
    char name_buf[155 + 1 + 100 + 1]; /* prefix '/' name */
    char link_buf[100 + 1];
    char uname_buf[32 + 1], gname_buf[32 + 1];
    /* what this entry's extension headers set */
    bool have_x;              /* an 'x' or 'X' was read */
    uint64_t x_offset;        /* ...at this offset */
    size_t x_records;         /* ...with this many records */
    unsigned x_keys;          /* ...setting these keys (PAX_* bits) */
    size_t x_path_rec, x_spname_rec; /* ...path, GNU.sparse.name: which
                                        record (1-based), 0 if none */
    /* earlier 'x' headers of this entry (README "Ambiguity"): Python
     * applies them too, the first winning; GNU tar, bsdtar and Go only
     * the last one (in `pax`).  Fine only where they agree. */
    struct tar_pax pax_early; /* what the earlier ones set, first winning */
    bool have_early;          /* ...one of them set a key */
    uint64_t early_offset;    /* ...the first of them */
    unsigned x_empty_nums;    /* PAX_* bits of numbers the 'x' being read
                                 left empty (size=): refused at the entry
                                 unless another 'x' follows */
    bool long_link_split;     /* two 'K' records with different targets */
    uint64_t long_link_split_offset;
    unsigned glob_keys;       /* PAX_* bits a global header ever set
                                 (mtime, uid, gid, uname, gname) */
    bool glob_link;           /* a global header set linkpath */
    uint64_t glob_link_offset;
    bool acl_pending;         /* a Solaris 'A' awaits the file it names */
    uint64_t acl_offset;
    struct tar_text acl_name;
    unsigned sp_keys;         /* SP_* bits: GNU.sparse.* keys seen */
    uint64_t sp_realsize, sp_size, sp_numblocks, sp_major, sp_minor;
    uint64_t sp_offset;       /* a 0.0 GNU.sparse.offset awaiting numbytes */
    struct tar_text sp_name;
    const char *sp_why;       /* a map error met while reading records */
    struct tar_sparse map;
    /* SCHILY.xattr records: bytes, then positions, then the public array */
    struct tar_text xattr_bytes;
    struct tar_xattr_pos { size_t name, value, value_len; } *xattr_pos;
    struct tar_xattr *xattrs;
    size_t xattr_n, xattr_cap;
    /* delivery of the member's data */
    int data_mode;            /* enum data_mode in tar_parser.c */
    size_t sp_chunk;          /* sparse: the chunk being delivered */
    uint64_t sp_left;         /* ...bytes of it still to come */
    uint64_t map_pad;         /* pax 1.0: padding after the map to skip */
    uint64_t sp_pos;          /* ...file offset reached */
    /* end of input */
    bool proven;              /* the outer layer proved the input complete */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    bool ended;               /* end-of-archive seen */
    bool finished;
};

int tar_parser_init(struct tar_parser *p, const struct tar_callbacks *cb,
                    void *ctx, struct rz_error *err, unsigned flags);
int tar_parser_push(struct tar_parser *p, const uint8_t *buf, size_t len);
int tar_parser_finish(struct tar_parser *p);
void tar_parser_free(struct tar_parser *p);

/*
 * Warnings (a skipped Solaris ACL, an archive accepted without its
 * end-of-archive blocks): `warn` is called with a message naming the entry
 * or offset; the message lives only during the call.  Optional.
 */
void tar_parser_set_warn(struct tar_parser *p,
                         void (*warn)(void *ctx, const char *msg), void *ctx);

/*
 * The outer layer proved the input complete (a compression trailer was
 * checked, or HTTP delivered all of Content-Length): tar_parser_finish then
 * accepts a missing or single end-of-archive block with a warning.  Call
 * before tar_parser_finish.
 */
void tar_parser_input_complete(struct tar_parser *p);

/* True once the end-of-archive blocks have been seen. */
bool tar_parser_at_end(const struct tar_parser *p);

/* "regular file", "directory", ... for messages and listings. */
const char *tar_type_name(enum tar_type t);

#endif
