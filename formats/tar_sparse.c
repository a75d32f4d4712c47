/* tar_sparse.c: sparse maps (contract in the header). */
#include "tar_sparse.h"

#include <stdlib.h>

#include "tar_numeric.h"

#define NUM_MAX ((uint64_t)INT64_MAX)

const char tar_sparse_nomem[] = "out of memory for the sparse map";
const char tar_sparse_bad_list[] = "not a list of offset,size pairs";

void tar_sparse_reset(struct tar_sparse *s)
{
    struct tar_sparse_chunk *v = s->v;
    size_t cap = s->cap;
    *s = (struct tar_sparse){0};
    s->v = v;
    s->cap = cap;
}

void tar_sparse_free(struct tar_sparse *s)
{
    free(s->v);
    *s = (struct tar_sparse){0};
}

const char *tar_sparse_add(struct tar_sparse *s, uint64_t offset,
                           uint64_t len)
{
    if (s->n >= TAR_SPARSE_MAX)
        return "more than 65536 chunks";
    if (offset > NUM_MAX || len > NUM_MAX - offset)
        return "a chunk ends beyond 2^63 bytes";
    if (offset < s->end)
        return "chunks overlap or are out of order";
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct tar_sparse_chunk *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return tar_sparse_nomem;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct tar_sparse_chunk){offset, len};
    s->end = offset + len;
    s->data += len;     /* <= end <= 2^63 */
    return NULL;
}

const char *tar_sparse_list(struct tar_sparse *s, const char *v, size_t n)
{
    const char *first = NULL, *why;
    uint64_t pair[2];
    size_t i = 0;
    int k = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        if (!tar_decimal(v + i, j - i, &pair[k]))
            return tar_sparse_bad_list;
        if (++k == 2) {
            why = tar_sparse_add(s, pair[0], pair[1]);
            if (why && !first)
                first = why;
            k = 0;
        }
        if (j < n && j + 1 == n)
            return tar_sparse_bad_list;     /* a trailing comma */
        i = j + 1;
    }
    return k == 0 ? first : tar_sparse_bad_list;
}

const char *tar_sparse_check(const struct tar_sparse *s, uint64_t realsize,
                             uint64_t stored)
{
    if (s->end > realsize)
        return "a chunk ends beyond the file's size";
    if (s->data != stored)
        return "the chunks' lengths do not add up to the stored data";
    return NULL;
}

/* One number of the text map has ended. */
static const char *text_number(struct tar_sparse *s)
{
    uint64_t v = s->text_num;
    s->text_num = 0;
    s->text_digits = 0;
    if (s->text_lines++ == 0) {
        if (v > TAR_SPARSE_MAX)
            return "the map declares more than 65536 chunks";
        s->text_count = v;
        return NULL;
    }
    if (s->text_lines % 2 == 0) {
        s->text_offset = v;
        return NULL;
    }
    return tar_sparse_add(s, s->text_offset, v);
}

static bool text_done(const struct tar_sparse *s)
{
    return s->text_lines > 0 && s->text_lines == 1 + 2 * s->text_count;
}

int tar_sparse_text(struct tar_sparse *s, const uint8_t *buf, size_t len,
                    size_t *used, const char **why)
{
    size_t i = 0;
    *why = NULL;
    if (text_done(s)) {
        *used = 0;
        return 1;
    }
    while (i < len) {
        uint8_t c = buf[i++];
        s->text_bytes++;
        if (c == '\n' && s->text_digits > 0) {
            *why = text_number(s);
            if (*why) {
                *used = i;
                return -1;
            }
            if (text_done(s)) {
                *used = i;
                return 1;
            }
            continue;
        }
        if (c < '0' || c > '9' || s->text_digits >= 19) {
            *why = "the map is not decimal numbers on lines";
            *used = i;
            return -1;
        }
        s->text_num = s->text_num * 10 + (uint64_t)(c - '0');
        s->text_digits++;
    }
    *used = i;
    return 0;
}
