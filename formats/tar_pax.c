/* tar_pax.c: pax record splitting (contract in the header). */
#include "tar_pax.h"

#include <string.h>

const char *tar_pax_record(const char *r, size_t avail, size_t max_len,
                           size_t *reclen, const char **key, size_t *klen,
                           const char **val, size_t *vlen)
{
    size_t len = 0, i = 0;
    const char *eq;
    for (; i < avail && r[i] >= '0' && r[i] <= '9'; i++) {
        if (len > max_len)
            return "the length is too large";
        len = len * 10 + (size_t)(r[i] - '0');
    }
    if (i == 0)
        return "it does not start with a length";
    if (i == avail || r[i] != ' ')
        return "the length is not followed by a space";
    if (len > avail)
        return "the length runs past the end of the header";
    if (len < i + 4 || r[len - 1] != '\n')
        return "the length does not end the record at its newline";
    *key = r + i + 1;
    eq = memchr(*key, '=', len - i - 2);
    if (!eq || eq == *key)
        return "it has no key=value";
    *klen = (size_t)(eq - *key);
    if (memchr(*key, '\0', *klen))
        return "its key contains a NUL byte";
    *val = eq + 1;
    *vlen = (size_t)(r + len - 1 - *val);
    *reclen = len;
    return NULL;
}

bool tar_pax_key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

bool tar_pax_key_has_prefix(const char *key, size_t klen, const char *prefix)
{
    size_t n = strlen(prefix);
    return klen > n && memcmp(key, prefix, n) == 0;
}
