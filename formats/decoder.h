/*
 * decoder.h: the decompression stage, one interface for every format.
 *
 * The caller owns a struct decoder (embed it anywhere; a zeroed struct may
 * be passed to decoder_free).  decoder_init allocates the output buffer
 * (DECODER_OUT_SIZE bytes).  The backend's state is allocated once, when
 * the format has been recognised (liblzma, libzstd, libbz2, liblz4 and
 * the LZW tables); push allocates nothing else (the libraries allocate their
 * windows once, sized by the stream's header and bounded by the limits
 * below).
 *
 * The compressed stream is pushed in pieces of any size, down to one byte;
 * the output is identical for every split.  The format is chosen by the
 * first bytes only (formats/magic.h says how), never by a name:
 *   gzip (1f 8b; inflated by ISA-L or zlib, see gzip_engine), xz (fd 37 7a 58 5a 00), zstd (28 b5 2f fd), lz4 frame
 *   (04 22 4d 18), bzip2 ("BZh" + level + block magic), compress .Z (1f 9d),
 *   lzma-alone (.lzma), or plain tar (a valid header checksum or the ustar
 *   magic at offset 257).
 * A skippable frame (magic 5? 2a 4d 18, used by zstd and lz4) may come first:
 * it is skipped and the bytes after it decide.  Anything else fails:
 * RZ_E_DECODE_EMPTY (0 bytes), RZ_E_DECODE_HTML, RZ_E_DECODE_ZIP,
 * RZ_E_DECODE_UNSUPPORTED (a format recognised but not read: 7z, rar, ar,
 * lzip, lz4 legacy), RZ_E_DECODE_UNKNOWN (the detail shows the first
 * bytes).  A format whose library was not found by configure.py fails with
 * RZ_E_DECODE_NOT_BUILT.  Until enough bytes have arrived to decide (at most
 * DECODER_MAGIC_MAX), they are held in the struct; a short input that ends
 * before that is decided on what arrived (a short tar prefix is passed on so
 * the tar parser reports where it ends).
 *
 * Decoded bytes are passed to `out(out_ctx, buf, len)` in pieces of at most
 * DECODER_OUT_SIZE bytes (identity passes slices of the caller's buffer);
 * the buffer is borrowed for the call.  `out` is never called with len 0.
 *
 * Every format decodes all concatenated streams/members/frames.  Gzip: after
 * a member, 1f 8b starts another member, 00 starts zero padding after which
 * only zero bytes may follow; anything else is RZ_E_DECODE_TRAILING.  xz:
 * stream padding (multiples of 4 zero bytes) between and after streams.
 * zstd and lz4: skippable frames anywhere.  Data after the last stream that
 * does not start a new one is RZ_E_DECODE_TRAILING.  decoder_finish fails
 * with RZ_E_DECODE_TRUNCATED if a stream is incomplete.  Corrupt data is
 * RZ_E_DECODE_DATA; a failed gzip CRC-32/ISIZE is RZ_E_GZIP_CRC, a failed
 * xz/zstd/lz4 check RZ_E_DECODE_CHECK (libbz2 does not tell a CRC failure
 * from other corruption: RZ_E_DECODE_DATA).  Limits: a zstd frame whose
 * window exceeds zstd_max_window is RZ_E_DECODE_WINDOW; an xz/lzma stream
 * needing more than xz_memlimit is RZ_E_DECODE_MEMLIMIT.
 *
 * Error offsets are RZ_OFF_RAW: compressed bytes consumed when the problem
 * was detected (libraries that buffer internally may be a little ahead of
 * the exact byte).  Errors are sticky: once err->code is set, push and
 * finish return -1 without calling `out`.  Errors returned by `out` are
 * passed up unchanged (the downstream stage already filled *err).
 *
 * Threads: a multi-block xz stream is decoded by liblzma's threaded decoder
 * (threads inside liblzma; push and finish are still called from one thread
 * and `out` is called on that thread).
 *
 * decoder_finish does not finish the downstream stage; the caller does.
 * Returns: 0 on success, -1 with *err filled.  No I/O.
 */
#ifndef RZ_DECODER_H
#define RZ_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rz_error.h"
#include "stage.h"

#define DECODER_OUT_SIZE (128 * 1024)
#define DECODER_MAGIC_MAX 512 /* one tar header: the longest look we take */

#define DECODER_ZSTD_WINDOW_DEFAULT ((uint64_t)128 << 20) /* as zstd(1) */
#define DECODER_XZ_MEMLIMIT_DEFAULT ((uint64_t)1 << 30)
#define DECODER_XZ_THREADS_MAX 8

enum decoder_kind {
    DECODER_DETECTING, /* waiting for enough bytes to see the magic */
    DECODER_SKIPPING,  /* inside a leading skippable frame */
    DECODER_IDENTITY,
    DECODER_GZIP,
    DECODER_ZSTD,
    DECODER_XZ,
    DECODER_BZIP2,
    DECODER_LZ4,
    DECODER_LZMA,      /* lzma-alone (.lzma) */
    DECODER_COMPRESS,  /* compress(1) .Z, LZW */
    DECODER_REJECTED,  /* not a format we read: the decoder has failed */
};

enum decoder_gzip_engine {
    DECODER_GZIP_DEFAULT, /* ISA-L when built in, else zlib */
    DECODER_GZIP_ZLIB,
    DECODER_GZIP_ISAL,    /* fails with RZ_E_DECODE_NOT_BUILT without it */
};

/* Limits and tuning; a zero field means its default. */
struct decoder_options {
    enum decoder_gzip_engine gzip_engine;
    uint64_t zstd_max_window; /* bytes (DECODER_ZSTD_WINDOW_DEFAULT) */
    uint64_t xz_memlimit;     /* bytes, xz and lzma (DECODER_XZ_MEMLIMIT_DEFAULT) */
    unsigned xz_threads;      /* 0: online CPUs, at most DECODER_XZ_THREADS_MAX */
};

struct decoder_backend; /* formats/dec_backend.h */

/*
 * An output window lent by the caller (decoder_set_window): like zlib's
 * next_out/avail_out, but asked for before each decoding step.  win(ctx,
 * &p, &cap) lends cap > 0 bytes at p (it may block until space is free) or
 * returns -1 with the shared error filled.  The decoder writes into it and
 * then passes what it wrote to `out` as usual, with buf == p: a downstream
 * that lent the window only advances its fill, copying nothing.
 */
typedef int (*decoder_window_fn)(void *ctx, uint8_t **p, size_t *cap);

struct decoder {
    enum decoder_kind kind;
    struct rz_error *err;
    stage_push_fn out;
    void *out_ctx;
    uint64_t in_bytes;      /* compressed bytes consumed so far */
    uint64_t out_bytes;     /* decoded bytes delivered so far */
    uint64_t members;       /* gzip members / xz, bzip2 streams / zstd,
                               lz4 frames completed (where known) */
    struct decoder_options opt;
    uint8_t magic[DECODER_MAGIC_MAX]; /* bytes held while detecting */
    size_t magic_len;
    uint64_t skip_left;     /* DECODER_SKIPPING: bytes of the frame left */
    uint8_t *outbuf;        /* DECODER_OUT_SIZE bytes, for every backend */
    decoder_window_fn win;  /* NULL: decode into outbuf */
    void *win_ctx;
    const struct decoder_backend *be; /* set once the format is known */
    void *state;            /* the backend's own state */
};

int decoder_init(struct decoder *d, stage_push_fn out, void *out_ctx,
                 struct rz_error *err);
/* Optional, after init and before the first push; copies *o. */
void decoder_set_options(struct decoder *d, const struct decoder_options *o);
/* Optional, before the first push: decode into windows lent by `win`
 * instead of outbuf (gzip, xz, lzma, zstd, bzip2, lz4; .Z keeps its own
 * buffer, identity passes the input through).  Windows are used up to
 * DECODER_OUT_SIZE bytes at a time. */
void decoder_set_window(struct decoder *d, decoder_window_fn win, void *ctx);
int decoder_push(struct decoder *d, const uint8_t *buf, size_t len);
int decoder_finish(struct decoder *d);
void decoder_free(struct decoder *d);

/* "gzip", "xz", "zstd", "bzip2", "lz4", "lzma", "compress", "tar"
 * (identity), "rejected", or "unknown" while still detecting. */
const char *decoder_name(const struct decoder *d);

/*
 * After a successful decoder_finish: whether the stream ended at a checked
 * end of its format (gzip's CRC and length, xz's index and footer, bzip2's
 * stream CRC, zstd's and lz4's last-block marks, lzma-alone's size or end
 * marker), which proves the data complete.  False for identity and for
 * compress (.Z), which has no trailer and can be cut anywhere.
 */
bool decoder_end_checked(const struct decoder *d);

/* Whether this build reads `kind` (false for a library configure.py did
 * not find). */
bool decoder_built_in(enum decoder_kind kind);

/* Whether the gzip engine `e` is built in (DEFAULT and ZLIB always are). */
bool decoder_gzip_engine_built_in(enum decoder_gzip_engine e);

/* "isa-l" or "zlib": the engine a gzip stream would get under `o`. */
const char *decoder_gzip_engine_name(const struct decoder_options *o);

#endif
