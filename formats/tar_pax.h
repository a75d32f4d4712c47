/*
 * tar_pax.h: pax extended header records ("LEN key=value\n"), split and
 * their keys compared.  Pure: no allocation, no I/O.  What the records
 * mean is tar_parser.c's business.
 */
#ifndef RZ_TAR_PAX_H
#define RZ_TAR_PAX_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Splits one record off the front of r[0..avail).  LEN is decimal, counts
 * the whole record including itself and the newline, and must end it
 * exactly; the key is non-empty and holds no NUL (readers cut keys there
 * differently); the value runs to the newline and may hold '=' and NUL.
 * LEN above max_len is refused before it can overflow.  Returns NULL with
 * the pieces filled (pointing into r), or why the record is malformed.
 */
const char *tar_pax_record(const char *r, size_t avail, size_t max_len,
                           size_t *reclen, const char **key, size_t *klen,
                           const char **val, size_t *vlen);

/* key[0..klen) is exactly `name`. */
bool tar_pax_key_is(const char *key, size_t klen, const char *name);

/* key[0..klen) starts with `prefix` and has more after it. */
bool tar_pax_key_has_prefix(const char *key, size_t klen, const char *prefix);

#endif
