/*
 * tar_numeric.h: the number spellings tar headers and pax records use.
 * Pure functions over memory; no allocation, no I/O.
 *
 * What is accepted is decided by what GNU tar 1.34, bsdtar 3.6 and Python's
 * tarfile all read the same way (README, "Ambiguity"): a spelling one of
 * them reads differently, or refuses, is refused here.
 */
#ifndef RZ_TAR_NUMERIC_H
#define RZ_TAR_NUMERIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A numeric header field of n bytes (n >= 1):
 *   - octal: optional leading spaces, octal digits (the whole field may be
 *     digits, with no terminator), then only spaces and NULs; a field of
 *     only spaces and NULs reads as 0.  A leading NUL before digits is
 *     refused (GNU tar skips it, Python and bsdtar read 0) unless every
 *     digit after it is 0 (then all read 0), and so is any
 *     byte other than space or NUL after the digits (Python refuses "12 3",
 *     bsdtar "12\0x").
 *   - GNU base-256 when the top bit of the first byte is set: a big-endian
 *     two's complement number of 8n-1 bits.  Negative values are accepted
 *     only when `negative_ok` (mtime: pre-1970 times).
 * On success stores the value (within [INT64_MIN, INT64_MAX]) and returns
 * NULL; otherwise returns why not ("is not an octal number", "is too
 * large", "is a negative base-256 number").
 */
const char *tar_number_field(const uint8_t *f, size_t n, bool negative_ok,
                             int64_t *out);

/* Decimal digits only, at least one, value at most INT64_MAX. */
bool tar_decimal(const char *s, size_t n, uint64_t *out);

/*
 * A pax time: [-]digits[.[digits]] ("1." is 1: all peers read it so).
 * The fraction is kept to nanoseconds (more digits are truncated); a
 * negative time with a fraction is normalised, "-1.25" is sec -2,
 * nsec 750000000.  Anything else (trailing garbage, "+1", ".5", "1e3")
 * returns false.
 */
bool tar_pax_time(const char *s, size_t n, int64_t *sec, uint32_t *nsec);

#endif
