/*
 * fs_tree_ops.c: operations on a tree beneath a directory fd that the
 * staging, the merge and the recovery of a killed run's staging share:
 * renames that never replace, removal of a tree, the directory fixups at
 * the end (mode and mtime from the tree record), the remap of a staged
 * path to where a merge put it, and freeing the records.  It calls no
 * other file of the sink but fs_record.c, fs_report.c and fs_walk.c.
 */
#include "fs_sink_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ------------------------------------------------------------ trees */

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* All names in a directory but "." and "..", read before anything changes
 * it (removing entries while readdir runs may skip some). */
static int list_dir(int dirfd, char ***out, size_t *count)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p)
                goto fail;
            names = p;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto fail;
        n++;
    }
    if (errno)
        goto fail;
    closedir(d);
    *out = names;
    *count = n;
    return 0;
fail:;
    int e = errno ? errno : ENOMEM;
    free_names(names, n);
    closedir(d);
    errno = e;
    return -1;
}

/*
 * Tree removal holds at most three fds whatever the depth: a hostile
 * archive may nest 1024 directories, and one fd per level could exhaust
 * the open-file limit and leave the staging tree behind.  So subdirectories
 * are not recursed into: each is renamed up to the top of the tree being
 * removed (it is ours and about to go) and queued, and the queue is emptied
 * one directory at a time.  Never follows a symlink.
 */
struct rm_queue {
    char **names;           /* directories directly under the top, to empty */
    size_t n, cap;
    unsigned long counter;  /* for the names of moved-up directories */
};

static int rm_push(struct rm_queue *q, const char *name)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        char **p = realloc(q->names, cap * sizeof *p);
        if (!p)
            return -1;
        q->names = p;
        q->cap = cap;
    }
    if (!(q->names[q->n] = strdup(name)))
        return -1;
    q->n++;
    return 0;
}

/* A subdirectory of fd (not the top): move it up to topfd and queue it. */
static int rm_move_up(struct fs_sink *s, struct rm_queue *q, int topfd, int fd,
                      const char *name)
{
    char up[64];

    for (;;) {
        snprintf(up, sizeof up, ".rzup-rm-%lu", q->counter++);
        if (fs_rename_noreplace(s, fd, name, topfd, up) == 0)
            return rm_push(q, up);
        if (errno != EEXIST)
            return -1;
    }
}

/* Unlinks the non-directories in fd and queues its subdirectories. */
static int rm_empty(struct fs_sink *s, struct rm_queue *q, int topfd, int fd,
                    bool is_top)
{
    struct stat st;
    char **names;
    size_t n;
    int first = 0;

    if (list_dir(fd, &names, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = errno == ENOENT ? 0 : -1;
        } else if (!S_ISDIR(st.st_mode)) {
            rc = unlinkat(fd, names[i], 0);
        } else {
            /* a read-only directory (a 0555 entry) must be made writable
             * to be moved and emptied by a non-root user */
            if ((st.st_mode & 0700) != 0700)
                (void)fchmodat(fd, names[i], 0700, 0);
            rc = is_top ? rm_push(q, names[i])
                        : rm_move_up(s, q, topfd, fd, names[i]);
        }
        if (rc < 0 && !first)
            first = errno ? errno : ENOMEM;
    }
    free_names(names, n);
    errno = first;
    return first ? -1 : 0;
}

int fs_remove_tree(struct fs_sink *s, int dirfd, const char *name)
{
    struct rm_queue q = {NULL, 0, 0, 0};
    struct stat st;
    int first = 0;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    if ((st.st_mode & 0700) != 0700)
        (void)fchmodat(dirfd, name, 0700, 0); /* just seen: a dir, ours */
    int top = openat(dirfd, name, DIR_FLAGS);
    if (top < 0)
        return -1;
    if (rm_empty(s, &q, top, top, true) < 0)
        first = errno;
    while (q.n > 0) {
        char *sub = q.names[--q.n];
        int fd = openat(top, sub, DIR_FLAGS);
        if ((fd < 0 || rm_empty(s, &q, top, fd, false) < 0) && !first)
            first = errno;
        if (fd >= 0)
            close(fd);
        if (unlinkat(top, sub, AT_REMOVEDIR) < 0 && !first)
            first = errno;
        free(sub);
    }
    free(q.names);
    close(top);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !first)
        first = errno;
    errno = first;
    return first ? -1 : 0;
}

/* ------------------------------------------------------------ renames */

int fs_rename_noreplace(struct fs_sink *s, int ofd, const char *oname,
                        int nfd, const char *nname)
{
    struct stat st;

    if (!s->rename_compat) {
        if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EINVAL)
            return -1;
        s->rename_compat = true;
        fs_note(s, "renameat2 flags are not supported here: using "
                "check-then-rename (see README)");
    }
    if (fstatat(nfd, nname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    if (errno != ENOENT)
        return -1;
    if (renameat(ofd, oname, nfd, nname) == 0)
        return 0;
    /* something appeared in between: a plain rename replaces only an
     * empty directory; anything else is refused, as EEXIST */
    if (errno == ENOTEMPTY || errno == ENOTDIR || errno == EISDIR)
        errno = EEXIST;
    return -1;
}

int fs_fix_fd(int fd, uint32_t mode, bool chmod, bool named,
                  int64_t mtime, uint32_t nsec)
{
    struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)mtime, (long)nsec}};

    if (nsec >= 1000000000u)
        ts[1].tv_nsec = 0;
    if (chmod && fchmod(fd, mode) < 0)
        return -1;
    return named ? futimens(fd, ts) : 0;
}

/* Reopens a recorded directory beneath rootfd (never through a symlink),
 * checks it still is one, and applies its mode and mtime.  In the staged
 * tree (not after a merge, whose directories may be new copies), one the
 * writer created with its final mode gets no fchmod, and an implied one
 * then needs nothing at all. */
static int fix_dir(struct fs_sink *s, int rootfd, const struct fs_dir_rec *r,
                   enum rz_code code)
{
    char where[TAR_PATH_MAX + 1];
    const char *path = r->path;
    struct stat st;
    bool chmod = !(r->mode_set && rootfd == s->stagefd);

    if (!chmod && !r->named)
        return 0;

    if (s->nremaps > 0 && s->mode == FS_PUB_MERGE) {
        if (fs_remap_path(s, path, where, sizeof where) < 0)
            return fs_fail(s, code, errno, r->path, "path too long");
        path = where;
    }
    int fd = *path ? fs_open_beneath(s->resolver, rootfd, path, DIR_FLAGS)
                   : openat(rootfd, ".", DIR_FLAGS);

    if (fd < 0)
        return fs_fail(s, errno == ELOOP || errno == EXDEV ? RZ_E_POL_ESCAPE
                       : code, errno, r->path, "reopening the directory");
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) ||
        fs_fix_fd(fd, r->mode, chmod, r->named, r->mtime, r->mtime_nsec) < 0) {
        int e = errno;
        close(fd);
        return fs_fail(s, code, e, r->path, "setting the directory's mode");
    }
    close(fd);
    return 0;
}

/* Deepest first; when merging, a directory the destination already had
 * keeps its mode unless an entry names it, and one reached through a
 * destination symlink always keeps it (it is the link target's). */
int fs_fix_dirs(struct fs_sink *s, int rootfd, enum rz_code code)
{
    for (size_t i = s->rec.ndirs; i-- > 0;) {
        const struct fs_dir_rec *r = &s->rec.dirs[i];
        if ((r->existed && !r->named) || r->followed)
            continue;
        if (fix_dir(s, rootfd, r, code) < 0)
            return -1;
    }
    return 0;
}

int fs_remap_path(const struct fs_sink *s, const char *path, char *out,
                  size_t cap)
{
    const struct fs_remap *best = NULL;
    size_t best_len = 0, plen = strlen(path);

    for (size_t i = 0; i < s->nremaps; i++) {
        size_t n = strlen(s->remaps[i].from);
        if (n > best_len && n <= plen && memcmp(path, s->remaps[i].from, n) == 0
            && (path[n] == '/' || path[n] == '\0')) {
            best = &s->remaps[i];
            best_len = n;
        }
    }
    const char *to = best ? best->to : "";
    const char *rest = path + best_len;
    if (best && *to == '\0' && *rest == '/')
        rest++;
    if (strlen(to) + strlen(rest) + 1 > cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(out, cap, "%s%s", to, rest);
    return 0;
}

void fs_free_records(struct fs_sink *s)
{
    fs_record_free(&s->rec);
    for (size_t i = 0; i < s->nremaps; i++) {
        free(s->remaps[i].from);
        free(s->remaps[i].to);
    }
    free(s->remaps);
    s->remaps = NULL;
    s->nremaps = s->remaps_cap = 0;
}

