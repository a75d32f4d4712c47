/*
 * fs_record.c: the tree record of one run (see fs_record.h).
 */
#include "fs_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_rec(const void *a, const void *b)
{
    const struct fs_dir_rec *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    return c ? c : (x->offset > y->offset) - (x->offset < y->offset);
}

void fs_record_sort(struct fs_record *r)
{
    size_t j = 0;

    if (r->ndirs > 1)
        qsort(r->dirs, r->ndirs, sizeof *r->dirs, cmp_rec);
    for (size_t i = 0; i < r->ndirs; i++) {
        if (j > 0 && strcmp(r->dirs[j - 1].path, r->dirs[i].path) == 0) {
            free(r->dirs[j - 1].path);
            r->dirs[j - 1] = r->dirs[i];
        } else {
            r->dirs[j++] = r->dirs[i];
        }
    }
    r->ndirs = j;
}

static int cmp_key(const void *key, const void *rec)
{
    return strcmp(key, ((const struct fs_dir_rec *)rec)->path);
}

struct fs_dir_rec *fs_record_find(const struct fs_record *r,
                                  const char *path)
{
    if (r->ndirs == 0)
        return NULL;
    return bsearch(path, r->dirs, r->ndirs, sizeof *r->dirs, cmp_key);
}

int fs_record_dir(struct fs_record *r, const char *path, uint32_t mode,
                  int64_t mtime, uint32_t nsec, bool named, uint64_t offset)
{
    if (r->ndirs == r->dirs_cap) {
        fs_record_sort(r);        /* drop repeats before growing */
        if (r->dirs_cap == 0 || r->ndirs > r->dirs_cap / 2) {
            size_t cap = r->dirs_cap ? 2 * r->dirs_cap : 64;
            struct fs_dir_rec *d = realloc(r->dirs, cap * sizeof *d);
            if (!d)
                return errno = ENOMEM, -1;
            r->dirs = d;
            r->dirs_cap = cap;
        }
    }
    struct fs_dir_rec *d = &r->dirs[r->ndirs];
    d->path = strdup(path);
    if (!d->path)
        return errno = ENOMEM, -1;
    d->mode = mode;
    d->mtime = mtime;
    d->mtime_nsec = nsec;
    d->named = named;
    d->existed = false;
    d->followed = false;
    d->mode_set = false;
    d->offset = offset;
    r->ndirs++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the symlink list and drops repeated paths. */
static void dedupe_links(struct fs_record *r)
{
    size_t j = 0;

    qsort(r->links, r->nlinks, sizeof *r->links, cmp_str);
    for (size_t i = 0; i < r->nlinks; i++) {
        if (j > 0 && strcmp(r->links[j - 1], r->links[i]) == 0)
            free(r->links[i]);
        else
            r->links[j++] = r->links[i];
    }
    r->nlinks = j;
}

int fs_record_link(struct fs_record *r, const char *path)
{
    if (r->nlinks == r->links_cap) {
        if (r->nlinks > 1)
            dedupe_links(r);    /* drop repeats before growing */
        if (r->links_cap == 0 || r->nlinks > r->links_cap / 2) {
            size_t cap = r->links_cap ? 2 * r->links_cap : 16;
            char **l = realloc(r->links, cap * sizeof *l);
            if (!l)
                return errno = ENOMEM, -1;
            r->links = l;
            r->links_cap = cap;
        }
    }
    r->links[r->nlinks] = strdup(path);
    if (!r->links[r->nlinks])
        return errno = ENOMEM, -1;
    r->nlinks++;
    return 0;
}

void fs_record_root(struct fs_record *r, uint32_t mode, int64_t mtime,
                    uint32_t nsec)
{
    r->root_named = true;
    r->root_mode = mode;
    r->root_mtime = mtime;
    r->root_nsec = nsec;
}

void fs_record_free(struct fs_record *r)
{
    for (size_t i = 0; i < r->ndirs; i++)
        free(r->dirs[i].path);
    free(r->dirs);
    for (size_t i = 0; i < r->nlinks; i++)
        free(r->links[i]);
    free(r->links);
    memset(r, 0, sizeof *r);
}
