/* tar_numeric.c: header and pax number spellings (contract in the header). */
#include "tar_numeric.h"

#include <string.h>

#define NUM_MAX ((uint64_t)INT64_MAX)

static const char *base256(const uint8_t *f, size_t n, bool negative_ok,
                           int64_t *out)
{
    bool neg = (f[0] & 0x40) != 0;
    /* for a negative number accumulate the complement: x = -(~x) - 1 */
    uint8_t flip = neg ? 0xff : 0x00;
    uint64_t v = (uint64_t)((f[0] ^ flip) & 0x3f);
    if (neg && !negative_ok)
        return "is a negative base-256 number";
    for (size_t i = 1; i < n; i++) {
        if (v > (NUM_MAX >> 8))
            return "is too large";
        v = (v << 8) | (uint8_t)(f[i] ^ flip);
    }
    *out = neg ? -(int64_t)v - 1 : (int64_t)v;
    return NULL;
}

const char *tar_number_field(const uint8_t *f, size_t n, bool negative_ok,
                             int64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    if (f[0] & 0x80)
        return base256(f, n, negative_ok, out);
    if (f[0] == '\0') {
        /* GNU tar skips one leading NUL and reads the digits after it,
         * Python and bsdtar stop there and read 0: the same only when
         * every digit is 0 ("\0000000\0", written by producers that
         * let the previous field overflow) */
        for (i = 1; i < n && f[i] == '0'; i++)
            ;
        for (; i < n; i++)
            if (f[i] != ' ' && f[i] != '\0')
                return "is not an octal number (digits after a leading NUL)";
        *out = 0;
        return NULL;
    }
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (NUM_MAX >> 3))
            return "is too large";
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return "is not an octal number";
    *out = (int64_t)v;
    return NULL;
}

bool tar_decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (NUM_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool tar_pax_time(const char *s, size_t n, int64_t *sec, uint32_t *nsec)
{
    bool neg = n > 0 && s[0] == '-';
    const char *dot;
    size_t whole_len;
    uint64_t whole;
    uint32_t frac = 0;
    if (neg) {
        s++;
        n--;
    }
    dot = memchr(s, '.', n);
    whole_len = dot ? (size_t)(dot - s) : n;
    if (!tar_decimal(s, whole_len, &whole))
        return false;
    if (dot) {
        size_t flen = n - whole_len - 1;   /* may be 0: "1." */
        for (size_t i = 0; i < flen; i++) {
            if (dot[1 + i] < '0' || dot[1 + i] > '9')
                return false;
            if (i < 9)
                frac = frac * 10 + (uint32_t)(dot[1 + i] - '0');
        }
        for (size_t i = flen; i < 9; i++)
            frac *= 10;
    }
    *sec = neg ? -(int64_t)whole : (int64_t)whole;
    *nsec = frac;
    if (neg && frac) {   /* -1.25 is 1.75 seconds before -1 */
        *sec -= 1;
        *nsec = 1000000000u - frac;
    }
    return true;
}
