/*
 * magic.h: which format a stream is, from its first bytes only.
 *
 * magic_classify looks at p[0..n) (n <= DECODER_MAGIC_MAX) and returns:
 *   DECODER_DETECTING  more bytes are needed to decide (never if at_end);
 *   a format           the stream is that format;
 *   DECODER_SKIPPING   a skippable frame (zstd/lz4) starts here, its length
 *                      in *skip (header included);
 *   DECODER_REJECTED   not a format we read: *why is the error code and
 *                      magic_describe says what was seen.
 *
 * Order of the checks: strong magics first (gzip, xz, zstd, lz4, the
 * 10-byte bzip2 magic: none can begin a sane tar header); then, with a whole
 * 512-byte header in hand, a plain tar (valid checksum, or "ustar" at 257),
 * so that a tar whose first name starts with "BZh", "<html" or 1f 9d is read
 * as a tar; then the weak magics (compress .Z, lzma-alone) and the named
 * rejections (HTML, zip, 7z, rar, ar/.deb, lzip).  An input that ends
 * before 512 bytes is decided on what arrived: a plausible tar prefix goes to
 * the tar parser (it reports where the archive ends).
 * `after_skip`: a skippable frame was seen, so only zstd or lz4 may follow.
 * Pure; no allocation.
 */
#ifndef RZ_MAGIC_H
#define RZ_MAGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"

enum decoder_kind magic_classify(const uint8_t *p, size_t n, bool at_end,
                                 bool after_skip, uint64_t *skip,
                                 enum rz_code *why);

/* One line for an error detail: what the bytes look like (if name_it),
 * their count, and the first ones in hex and as text.  Returns the length
 * written (NUL-terminated). */
size_t magic_describe(const uint8_t *p, size_t n, bool name_it, char *buf,
                      size_t size);

#endif
