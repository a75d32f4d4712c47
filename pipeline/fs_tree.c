/*
 * fs_tree.c: the sink's pure decisions (see fs_tree.h): resolving a
 * destination symlink lexically, the journal's byte format, and what to do
 * with a staging directory found at start-up.  No I/O: the tree is seen
 * through a lookup callback, the journal is a buffer.
 */
#include "fs_tree.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/tar_path.h"

#define RESOLVE_FOLLOWS 40

/* ------------------------------------------------------------ resolve */

struct res {
    char cur[TAR_PATH_MAX + 1];   /* real directories only */
    size_t cur_len;
    char *rest;                   /* what is left to resolve; owned */
    size_t pos;
    char target[TAR_PATH_MAX + 1];
};

char *fs_tree_splice(const char *target, const char *rest)
{
    size_t tlen = strlen(target), left = strlen(rest);
    char *n = malloc(tlen + 1 + left + 1);

    if (!n)
        return NULL;
    memcpy(n, target, tlen);
    n[tlen] = '/';
    memcpy(n + tlen + 1, rest, left + 1);
    return n;
}

/* rest := target + "/" + rest[pos..] */
static int splice_rest(struct res *r)
{
    char *n = fs_tree_splice(r->target, r->rest + r->pos);

    if (!n)
        return -1;
    free(r->rest);
    r->rest = n;
    r->pos = 0;
    return 0;
}

/* One component; FS_RES_DIR to go on, another fs_res to stop, -1. */
static int step(struct res *r, const char *name, size_t n, int *follows,
                fs_lookup_fn lookup, void *ctx)
{
    if (n == 1 && name[0] == '.')
        return FS_RES_DIR;
    if (n == 2 && name[0] == '.' && name[1] == '.') {
        if (r->cur_len == 0)
            return FS_RES_ESCAPE;
        char *slash = memrchr(r->cur, '/', r->cur_len);
        r->cur_len = slash ? (size_t)(slash - r->cur) : 0;
        r->cur[r->cur_len] = '\0';
        return FS_RES_DIR;
    }
    int k = lookup(ctx, r->cur, name, r->target);
    if (k < 0)
        return -1;
    if (k == FS_K_LINK) {
        if (++*follows > RESOLVE_FOLLOWS || !r->target[0])
            return FS_RES_NOTDIR;
        if (r->target[0] == '/') {         /* RESOLVE_IN_ROOT */
            r->cur_len = 0;
            r->cur[0] = '\0';
        }
        return splice_rest(r) < 0 ? -1 : FS_RES_DIR;
    }
    if (k != FS_K_DIR || r->cur_len + 1 + n > TAR_PATH_MAX)
        return FS_RES_NOTDIR;
    if (r->cur_len > 0)
        r->cur[r->cur_len++] = '/';
    memcpy(r->cur + r->cur_len, name, n);
    r->cur_len += n;
    r->cur[r->cur_len] = '\0';
    return FS_RES_DIR;
}

int fs_tree_resolve(const char *dir, const char *target, fs_lookup_fn lookup,
                    void *ctx, char *out, size_t out_cap)
{
    struct res *r = calloc(1, sizeof *r);
    char name[NAME_MAX + 1];
    int follows = 0, rc = FS_RES_DIR;

    if (!r)
        return -1;
    r->cur_len = strlen(dir);
    if (r->cur_len > TAR_PATH_MAX || !*target) {
        free(r);
        return FS_RES_NOTDIR;
    }
    memcpy(r->cur, dir, r->cur_len + 1);
    if (target[0] == '/')
        r->cur_len = 0, r->cur[0] = '\0';
    r->rest = strdup(target);
    while (r->rest && rc == FS_RES_DIR) {
        const char *p = r->rest + r->pos;
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        r->pos = (size_t)(p - r->rest) + n;
        if (n == 0)
            break;
        if (n > NAME_MAX) {
            rc = FS_RES_NOTDIR;
            break;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        rc = step(r, name, n, &follows, lookup, ctx);
    }
    if (!r->rest)
        rc = -1;
    if (rc == FS_RES_DIR) {
        if (r->cur_len + 1 > out_cap)
            rc = FS_RES_NOTDIR;
        else
            memcpy(out, r->cur, r->cur_len + 1);
    }
    free(r->rest);
    free(r);
    return rc;
}

/* ------------------------------------------------------------ journal */

static const char *const kind_names[] = {"none", "publish", "merge"};
#define MAGIC "rzup-journal 1 "

static int append(char **buf, size_t *len, size_t *cap, const void *p,
                  size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b) {
            free(*buf);
            *buf = NULL;
            *len = *cap = 0;
            return -1;
        }
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int fs_journal_header(char **buf, size_t *len, size_t *cap,
                      enum fs_jkind kind)
{
    char line[64];
    int n = snprintf(line, sizeof line, MAGIC "%s\n", kind_names[kind]);

    return append(buf, len, cap, line, (size_t)n);
}

int fs_journal_record(char **buf, size_t *len, size_t *cap,
                      const struct fs_jrec *r)
{
    char line[160];
    int n;

    if (r->type == 'r')
        n = snprintf(line, sizeof line, "r %zu %zu\n", r->path_len,
                     r->to_len);
    else
        n = snprintf(line, sizeof line, "d %" PRIo32 " %" PRId64 " %" PRIu32
                     " %" PRIu32 " %zu\n", r->mode, r->mtime, r->nsec,
                     r->flags, r->path_len);
    if (append(buf, len, cap, line, (size_t)n) < 0 ||
        append(buf, len, cap, r->path, r->path_len) < 0 ||
        append(buf, len, cap, "\n", 1) < 0)
        return -1;
    if (r->type == 'r' && (append(buf, len, cap, r->to, r->to_len) < 0 ||
                           append(buf, len, cap, "\n", 1) < 0))
        return -1;
    return 0;
}

int fs_journal_end(char **buf, size_t *len, size_t *cap)
{
    return append(buf, len, cap, "end\n", 4);
}

/* The line at *pos (without its '\n') copied into line; false if none. */
static bool get_line(const char *buf, size_t len, size_t *pos, char *line,
                     size_t cap)
{
    const char *nl = memchr(buf + *pos, '\n', len - *pos);

    if (!nl || (size_t)(nl - (buf + *pos)) >= cap)
        return false;
    size_t n = (size_t)(nl - (buf + *pos));
    memcpy(line, buf + *pos, n);
    line[n] = '\0';
    *pos += n + 1;
    return true;
}

/* n bytes then '\n' at *pos; false if short. */
static bool get_bytes(const char *buf, size_t len, size_t *pos, size_t n,
                      const char **p)
{
    if (n > TAR_PATH_MAX || len - *pos < n + 1 || buf[*pos + n] != '\n')
        return false;
    *p = buf + *pos;
    *pos += n + 1;
    return true;
}

/* One record at *pos into r: 1 a record, 0 the end line, -1 malformed. */
static int get_record(const char *buf, size_t len, size_t *pos,
                      struct fs_jrec *r)
{
    char line[160];
    char extra;

    memset(r, 0, sizeof *r);
    if (!get_line(buf, len, pos, line, sizeof line))
        return -1;
    if (strcmp(line, "end") == 0)
        return *pos == len ? 0 : -1;
    if (sscanf(line, "r %zu %zu%c", &r->path_len, &r->to_len, &extra) == 2) {
        r->type = 'r';
        return get_bytes(buf, len, pos, r->path_len, &r->path) &&
               get_bytes(buf, len, pos, r->to_len, &r->to) ? 1 : -1;
    }
    if (sscanf(line, "d %" SCNo32 " %" SCNd64 " %" SCNu32 " %" SCNu32
               " %zu%c", &r->mode, &r->mtime, &r->nsec, &r->flags,
               &r->path_len, &extra) == 5) {
        r->type = 'd';
        return get_bytes(buf, len, pos, r->path_len, &r->path) ? 1 : -1;
    }
    return -1;
}

int fs_journal_parse(const char *buf, size_t len,
                     int (*rec)(void *ctx, const struct fs_jrec *r),
                     void *ctx)
{
    char line[64];
    size_t pos = 0, start;
    struct fs_jrec r;
    int kind = -1, rc;

    if (!get_line(buf, len, &pos, line, sizeof line) ||
        strncmp(line, MAGIC, strlen(MAGIC)) != 0)
        return FS_J_NONE;
    for (int k = FS_J_PUBLISH; k <= FS_J_MERGE; k++)
        if (strcmp(line + strlen(MAGIC), kind_names[k]) == 0)
            kind = k;
    if (kind < 0)
        return FS_J_NONE;
    start = pos;
    while ((rc = get_record(buf, len, &pos, &r)) == 1)
        ;
    if (rc < 0)
        return FS_J_NONE;       /* torn or damaged: nothing committed */
    pos = start;
    while (rec && get_record(buf, len, &pos, &r) == 1)
        if (rec(ctx, &r) < 0)
            return -1;
    return kind;
}

/* ------------------------------------------------------------ recovery */

enum fs_recovery fs_recovery_decide(bool live, enum fs_jkind kind,
                                    bool has_tree, bool dest_exists)
{
    if (live)
        return FS_REC_LEAVE;
    if (kind == FS_J_MERGE && has_tree && dest_exists)
        return FS_REC_FINISH_MERGE;
    if (kind == FS_J_PUBLISH && has_tree && !dest_exists)
        return FS_REC_PUBLISH_TREE;
    return FS_REC_REMOVE;
}
