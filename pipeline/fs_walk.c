/*
 * fs_walk.c: containment beneath a directory fd, with openat2 where the
 * kernel offers it and a checked walk where it does not (POLICY.md rule 1).
 *
 * openat2 answers ENOSYS before Linux 5.6 and under gVisor, EPERM under
 * container seccomp profiles that predate it, and EINVAL where a filter or
 * an old kernel rejects the resolve flags.  The run then walks each path
 * itself, as filepath-securejoin's fallback does: one component at a time
 * with openat(O_PATH|O_NOFOLLOW|O_DIRECTORY) from the previous fd, each new
 * fd checked with fstat (it must be a directory; a symlink is reported as
 * ELOOP, or followed when asked, lexically beneath the root), ".." handled
 * by popping the path we walked and walking it again from the root, never
 * by opening "..".  The last component is opened with the caller's flags
 * plus O_NOFOLLOW.  What the walk does not give: openat2's check that no
 * directory on the path was renamed out of the root while we walked.  The
 * trees we walk are our own 0700 staging directory and the destination,
 * so this matters only against someone who can already write there.
 */
#include "fs_walk.h"

#include <stdbool.h>

#include "../formats/tar_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WALK_FOLLOWS 40

static int openat2_beneath(int dirfd, const char *path, int flags,
                           bool follow)
{
    struct open_how how;

    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                  (follow ? 0 : RESOLVE_NO_SYMLINKS);
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

enum fs_resolver fs_resolver_probe(int dirfd, int *why)
{
    int fd = openat2_beneath(dirfd, ".", O_PATH | O_DIRECTORY, false);

    *why = 0;
    if (fd >= 0) {
        close(fd);
        return FS_RESOLVE_OPENAT2;
    }
    if (errno == ENOSYS || errno == EPERM || errno == EINVAL) {
        *why = errno;
        return FS_RESOLVE_WALK;
    }
    return FS_RESOLVE_OPENAT2;   /* some other trouble: let each call say */
}

/* ------------------------------------------------------------ the walk */

struct walker {
    int root;
    int fd;                       /* cur, or root when cur is "" */
    char cur[TAR_PATH_MAX + 1];   /* real directories walked so far */
    size_t cur_len;
    char *rest;                   /* components left; owned */
    size_t pos;
    int follows;
    bool follow;
};

static void set_fd(struct walker *w, int fd)
{
    if (w->fd != w->root)
        close(w->fd);
    w->fd = fd;
}

/* Walks cur again from the root (after ".." or an absolute restart). */
static int rewalk(struct walker *w)
{
    set_fd(w, w->root);
    if (w->cur_len == 0)
        return 0;
    int fd = fs_open_beneath(FS_RESOLVE_WALK, w->root, w->cur,
                             O_PATH | O_DIRECTORY);
    if (fd < 0)
        return -1;
    set_fd(w, fd);
    return 0;
}

/* rest := target + "/" + rest[pos..] */
static int splice_in(struct walker *w, const char *target)
{
    size_t tlen = strlen(target), left = strlen(w->rest + w->pos);
    char *n = malloc(tlen + 1 + left + 1);

    if (!n)
        return -1;
    memcpy(n, target, tlen);
    n[tlen] = '/';
    memcpy(n + tlen + 1, w->rest + w->pos, left + 1);
    free(w->rest);
    w->rest = n;
    w->pos = 0;
    return 0;
}

/* A symlink met at w->fd/name: ELOOP, or its target spliced in. */
static int meet_link(struct walker *w, const char *name)
{
    char target[TAR_PATH_MAX + 1];

    if (!w->follow) {
        errno = ELOOP;
        return -1;
    }
    ssize_t n = readlinkat(w->fd, name, target, TAR_PATH_MAX);
    if (n < 0)
        return -1;
    target[n] = '\0';
    if (++w->follows > WALK_FOLLOWS) {
        errno = ELOOP;
        return -1;
    }
    if (target[0] == '/' || n == 0) {   /* RESOLVE_BENEATH: never */
        errno = n == 0 ? ENOENT : EXDEV;
        return -1;
    }
    return splice_in(w, target);
}

/* One intermediate component: a real directory, or a link to follow. */
static int walk_dir(struct walker *w, const char *name, size_t n)
{
    struct stat st;

    if (n == 1 && name[0] == '.')
        return 0;
    if (n == 2 && name[0] == '.' && name[1] == '.') {
        if (w->cur_len == 0) {
            errno = EXDEV;
            return -1;
        }
        char *slash = memrchr(w->cur, '/', w->cur_len);
        w->cur_len = slash ? (size_t)(slash - w->cur) : 0;
        w->cur[w->cur_len] = '\0';
        return rewalk(w);
    }
    int fd = openat(w->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        close(fd);
        return meet_link(w, name);
    }
    if (!S_ISDIR(st.st_mode) || w->cur_len + 1 + n > TAR_PATH_MAX) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? ENAMETOOLONG : ENOTDIR;
        return -1;
    }
    set_fd(w, fd);
    if (w->cur_len > 0)
        w->cur[w->cur_len++] = '/';
    memcpy(w->cur + w->cur_len, name, n);
    w->cur_len += n;
    w->cur[w->cur_len] = '\0';
    return 0;
}

/* The next component into name (n its length); false at the end. */
static bool next_name(struct walker *w, char *name, size_t *n, bool *last)
{
    const char *p = w->rest + w->pos;

    while (*p == '/')
        p++;
    size_t len = strcspn(p, "/");
    const char *q = p + len;
    while (*q == '/')
        q++;
    w->pos = (size_t)(p - w->rest) + len;
    *n = len;
    *last = *q == '\0';
    if (len == 0)
        return false;
    if (len > NAME_MAX) {
        *n = NAME_MAX + 1;
        return true;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    return true;
}

/* The final component, opened with the caller's flags, never followed
 * unless the walk follows links (then a link is spliced in: returns -2). */
static int open_last(struct walker *w, const char *name, size_t n, int flags)
{
    struct stat st;

    if ((n == 1 && name[0] == '.') || (n == 2 && !strcmp(name, ".."))) {
        if (walk_dir(w, name, n) < 0)
            return -1;
        return openat(w->fd, ".", flags | O_CLOEXEC);
    }
    if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        return meet_link(w, name) < 0 ? -1 : -2;
    int fd = openat(w->fd, name, flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY) &&
        fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        errno = ELOOP;          /* replaced by a link since the fstatat */
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) ||
        ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode))) {
        int e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int walk(int root, const char *path, int flags, bool follow)
{
    struct walker w;
    char name[NAME_MAX + 1];
    size_t n;
    bool last;
    int fd = -1;

    memset(&w, 0, sizeof w);
    w.root = w.fd = root;
    w.follow = follow;
    if (path[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    w.rest = strdup(path);
    if (!w.rest)
        return -1;
    for (;;) {
        if (!next_name(&w, name, &n, &last)) {
            fd = openat(w.fd, ".", flags | O_CLOEXEC);   /* "" or "a/" */
            break;
        }
        if (n > NAME_MAX) {
            errno = ENAMETOOLONG;
            break;
        }
        if (!last) {
            if (walk_dir(&w, name, n) < 0)
                break;
            continue;
        }
        fd = open_last(&w, name, n, flags);
        if (fd != -2)
            break;
        fd = -1;
    }
    int e = errno;
    set_fd(&w, root);
    free(w.rest);
    errno = e;
    return fd;
}

/* ------------------------------------------------------------ entry points */

/*
 * openat2 answers EAGAIN when a rename anywhere on the system raced with a
 * ".." it resolved (it cannot then prove the ".." stayed beneath): retry,
 * and if the system keeps renaming, let the walk answer this one call.
 */
static int beneath(enum fs_resolver r, int dirfd, const char *path,
                   int flags, bool follow)
{
    if (r == FS_RESOLVE_OPENAT2) {
        for (int i = 0; i < 16; i++) {
            int fd = openat2_beneath(dirfd, path, flags, follow);
            if (fd >= 0 || errno != EAGAIN)
                return fd;
        }
    }
    return walk(dirfd, path, flags, follow);
}

int fs_open_beneath(enum fs_resolver r, int dirfd, const char *path,
                    int flags)
{
    return beneath(r, dirfd, path, flags, false);
}

int fs_resolve_beneath(enum fs_resolver r, int dirfd, const char *path)
{
    return beneath(r, dirfd, path, O_PATH, true);
}
