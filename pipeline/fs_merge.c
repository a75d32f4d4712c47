/*
 * fs_merge.c: merging a staged tree into an existing destination (POLICY.md
 * rule 3, the default mode), and the dry run that comes first.
 *
 * The dry run changes nothing: it refuses a non-directory over an existing
 * directory, a destination symlink where the archive has a directory unless
 * it leads to a directory inside the destination, and a staged symlink that
 * the destination's own links would make escape (the overlay walk below).
 * Then the run commits (fs_journal.c) and the real pass moves entries:
 *
 *   - a non-directory: one rename over whatever non-directory is there
 *     (a symlink is replaced itself, never followed);
 *   - a directory where the destination has none: one rename;
 *   - a directory where the destination has one: merged into it, then the
 *     emptied staged directory is removed;
 *   - a directory where the destination has a symlink that resolves, by
 *     fs_tree_resolve, to a directory inside: merged into that directory
 *     (recorded as a remap, so modes and link checks find the real path);
 *   - a directory over a non-directory: exchanged with it
 *     (RENAME_EXCHANGE), then the old entry, now in staging, is unlinked;
 *   - across a mount point (EXDEV): files, links and special files are
 *     copied to ".rzup-new-SUFFIX" beside the target and renamed over it;
 *     a directory is created (at that temporary name when it replaces a
 *     non-directory) and its entries merged into it one by one.
 *
 * Memory: the real pass reads each staged directory with one readdir
 * stream while it moves entries out (every processed entry leaves the
 * staged directory), then reads it again until a pass finds it empty, as
 * POSIX leaves unspecified whether readdir returns entries once others are
 * removed.  No list of names is kept, so a directory of 2 M files costs
 * nothing per file.  The dry run reads with the same stream and moves
 * nothing.
 */
#include "fs_sink_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ------------------------------------------------------------ overlay */

/*
 * Merging cannot ask the kernel where a staged symlink will lead: the tree
 * it would resolve in (staging laid over the destination) does not exist
 * until entries move.  So the dry run walks it in user space, looking each
 * name up as the merge will leave it: the staged entry if there is one
 * (it wins over the destination's), else the destination's.  `cur` only
 * ever holds directories, never a symlink, so ".." is dropping its last
 * component; ".." at the root, or an absolute target met on the way, is an
 * escape (what RESOLVE_BENEATH calls EXDEV).  A missing name, a file in
 * the middle, a name over NAME_MAX or more than WALK_FOLLOWS links stop the
 * walk harmlessly, as they stop the kernel.
 */
#define WALK_FOLLOWS 40

struct walk {
    char cur[TAR_PATH_MAX + 1];  /* directory reached, relative to root */
    size_t cur_len;
    char *rest;                  /* components still to resolve; owned */
    size_t pos;                  /* next unread byte of rest */
    char target[TAR_PATH_MAX + 1];
};

/* lstat (and readlink) of cur/name in one tree: 1 found, 0 absent, -1. */
static int lookup_in(struct fs_sink *s, int rootfd, const char *cur,
                     const char *name, struct stat *st, char *target)
{
    int fd = *cur ? fs_open_beneath(s->resolver, rootfd, cur,
                                    O_PATH | O_DIRECTORY)
                  : rootfd;
    int rc = 1;

    if (fd < 0)   /* no such directory on this side, or not a real one */
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -1;
    if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = errno == ENOENT ? 0 : -1;
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlinkat(fd, name, target, TAR_PATH_MAX);
        if (n < 0)
            rc = -1;
        else
            target[n] = '\0';
    }
    if (fd != rootfd) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return rc;
}

/* Staged directory paths whose content lands at the physical path cur:
 * cur itself unless a remap moves it, and from + rest for every remap
 * (from -> to) with cur == to + rest.  Calls fn on each until it returns
 * non-zero. */
static int staged_sources(struct fs_sink *s, const char *cur,
                          int (*fn)(struct fs_sink *, const char *, void *),
                          void *ctx)
{
    char cand[TAR_PATH_MAX + 1], back[TAR_PATH_MAX + 1];
    size_t clen = strlen(cur);
    int rc;

    if (fs_remap_path(s, cur, back, sizeof back) == 0 && !strcmp(back, cur)
        && (rc = fn(s, cur, ctx)) != 0)
        return rc;
    for (size_t i = 0; i < s->nremaps; i++) {
        const char *to = s->remaps[i].to, *from = s->remaps[i].from;
        size_t tlen = strlen(to);
        if (tlen > clen || memcmp(cur, to, tlen) != 0 ||
            (tlen > 0 && cur[tlen] != '/' && cur[tlen] != '\0'))
            continue;
        const char *rest = cur + tlen + (tlen > 0 && cur[tlen] == '/');
        if (snprintf(cand, sizeof cand, "%s%s%s", from, *rest ? "/" : "",
                     rest) >= (int)sizeof cand)
            continue;
        if (fs_remap_path(s, cand, back, sizeof back) == 0 &&
            !strcmp(back, cur) && (rc = fn(s, cand, ctx)) != 0)
            return rc;
    }
    return 0;
}

struct staged_find {
    struct walk *w;
    const char *name;
    struct stat *st;
    char *src;           /* the staged directory it was found in */
};

static int find_staged(struct fs_sink *s, const char *dir, void *ctx)
{
    struct staged_find *f = ctx;
    int rc = lookup_in(s, s->stagefd, dir, f->name, f->st, f->w->target);

    if (rc == 1)
        snprintf(f->src, TAR_PATH_MAX + 1, "%s", dir);
    return rc;
}

/*
 * The merged tree's entry cur/name (cur is a physical path: where things
 * are once merged): a staged entry that lands there wins over the
 * destination's (where the staging directory itself does not count),
 * except that a staged directory over a destination symlink is merged
 * where the link leads, so the walk goes on there (*moved set).
 */
static int lookup_merged(struct fs_sink *s, struct walk *w, const char *name,
                         struct stat *st, bool *moved)
{
    char src[TAR_PATH_MAX + 1], path[TAR_PATH_MAX + 1];
    struct staged_find f = {w, name, st, src};
    int rc = staged_sources(s, w->cur, find_staged, &f);

    *moved = false;
    if (rc < 0)
        return -1;
    if (rc == 1 && S_ISDIR(st->st_mode)) {
        if (snprintf(path, sizeof path, "%s%s%s", src, *src ? "/" : "", name)
            >= (int)sizeof path)
            return 0;
        if (fs_remap_path(s, path, w->cur, sizeof w->cur) < 0)
            return 0;
        w->cur_len = strlen(w->cur);
        *moved = true;
        return 1;
    }
    if (rc == 1)
        return 1;
    if (w->cur_len == 0 && strcmp(name, s->stage_name) == 0)
        return 0;
    return lookup_in(s, s->destfd, w->cur, name, st, w->target);
}

/* Replaces the resolved part of rest with a link's target. */
static int splice_target(struct walk *w)
{
    char *r = fs_tree_splice(w->target, w->rest + w->pos);

    if (!r)
        return -1;
    free(w->rest);
    w->rest = r;
    w->pos = 0;
    return 0;
}

/* The next component of rest into name; false at the end. */
static bool next_name(struct walk *w, char *name, size_t *n)
{
    const char *p = w->rest + w->pos;

    while (*p == '/')
        p++;
    size_t len = strcspn(p, "/");
    w->pos = (size_t)(p - w->rest) + len;
    *n = len;
    if (len > NAME_MAX)
        return len > 0;          /* caller sees n > NAME_MAX and stops */
    memcpy(name, p, len);
    name[len] = '\0';
    return len > 0;
}

/* One step; 1 = escapes, 0 = go on, 2 = stop harmlessly, -1 = error. */
static int walk_step(struct fs_sink *s, struct walk *w, const char *name,
                     size_t n, int *follows)
{
    struct stat st;

    if (n > NAME_MAX || (n == 1 && name[0] == '.'))
        return n > NAME_MAX ? 2 : 0;
    if (n == 2 && name[0] == '.' && name[1] == '.') {
        if (w->cur_len == 0)
            return 1;
        char *slash = memrchr(w->cur, '/', w->cur_len);
        w->cur_len = slash ? (size_t)(slash - w->cur) : 0;
        w->cur[w->cur_len] = '\0';
        return 0;
    }
    bool moved;
    int rc = lookup_merged(s, w, name, &st, &moved);
    if (rc <= 0)
        return rc < 0 ? -1 : 2;
    if (moved)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        if (++*follows > WALK_FOLLOWS)
            return 2;
        if (w->target[0] == '/')
            return 1;
        return splice_target(w) < 0 ? -1 : 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 2;
    if (w->cur_len + 1 + n > TAR_PATH_MAX)
        return 1;                /* deeper than we can follow: refuse */
    if (w->cur_len > 0)
        w->cur[w->cur_len++] = '/';
    memcpy(w->cur + w->cur_len, name, n + 1);
    w->cur_len += n;
    return 0;
}

/* Walks from the link's own directory, starting with the link itself. */
static int merged_link_escapes(struct fs_sink *s, const char *link)
{
    const char *slash = strrchr(link, '/');
    struct walk *w = calloc(1, sizeof *w);
    char name[NAME_MAX + 1];
    size_t n;
    int follows = 0, rc = 0;

    if (!w)
        return -1;
    w->cur_len = slash ? (size_t)(slash - link) : 0;
    memcpy(w->cur, link, w->cur_len);
    w->cur[w->cur_len] = '\0';
    if (s->nremaps > 0) {        /* start where the link's directory lands */
        char parent[TAR_PATH_MAX + 1];
        memcpy(parent, w->cur, w->cur_len + 1);
        if (fs_remap_path(s, parent, w->cur, sizeof w->cur) < 0) {
            free(w);
            return 1;
        }
        w->cur_len = strlen(w->cur);
    }
    w->rest = strdup(slash ? slash + 1 : link);
    while (w->rest && rc == 0 && next_name(w, name, &n))
        rc = walk_step(s, w, name, n, &follows);
    if (!w->rest)
        rc = -1;
    free(w->rest);
    free(w);
    return rc == 2 ? 0 : rc;
}

/* Every staged symlink, resolved in the tree the merge would produce. */
int fs_check_merged_links(struct fs_sink *s)
{
    for (size_t i = 0; i < s->rec.nlinks; i++) {
        int rc = merged_link_escapes(s, s->rec.links[i]);
        if (rc < 0)
            return pub_fail(s, errno ? errno : ENOMEM, s->rec.links[i],
                            "following the symlink through the destination");
        if (rc == 1)
            return fs_fail(s, RZ_E_POL_SYMLINK_OUTSIDE, 0, s->rec.links[i],
                           "through what the destination already holds; "
                           "nothing was moved");
    }
    return 0;
}


/* ------------------------------------------------------------ remaps */

/* The destination path of a staged path: the longest remap that is a
 * prefix of it (at a component boundary) replaced by its target. */

static int add_remap(struct fs_sink *s, const char *from, const char *to)
{
    for (size_t i = 0; i < s->nremaps; i++)
        if (strcmp(s->remaps[i].from, from) == 0)
            return 0;
    if (s->nremaps == s->remaps_cap) {
        size_t cap = s->remaps_cap ? 2 * s->remaps_cap : 8;
        struct fs_remap *r = realloc(s->remaps, cap * sizeof *r);
        if (!r)
            return -1;
        s->remaps = r;
        s->remaps_cap = cap;
    }
    struct fs_remap *r = &s->remaps[s->nremaps];
    r->from = strdup(from);
    r->to = strdup(to);
    if (!r->from || !r->to) {
        free(r->from);
        free(r->to);
        return -1;
    }
    s->nremaps++;
    return 0;
}

/* ------------------------------------------------------------ records */

static void mark_existed(struct fs_sink *s, const char *path, bool followed)
{
    struct fs_dir_rec *r = fs_record_find(&s->rec, path);
    if (r) {
        r->existed = true;
        r->followed = r->followed || followed;
    }
}

/* ------------------------------------------------------------ dest links */

struct dest_lookup {
    struct fs_sink *s;
};

/* fs_tree_resolve's view of the destination (the staging dir hidden). */
static int dest_lookup(void *ctx, const char *dir, const char *name,
                       char *target)
{
    struct fs_sink *s = ((struct dest_lookup *)ctx)->s;
    struct stat st;

    if (!*dir && strcmp(name, s->stage_name) == 0 && s->parentfd >= 0 &&
        s->stagedirfd >= 0) {
        struct stat a;
        if (fstat(s->stagedirfd, &a) == 0 &&
            fstatat(s->destfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_dev == st.st_dev && a.st_ino == st.st_ino)
            return FS_K_ABSENT;
    }
    int fd = *dir ? fs_open_beneath(s->resolver, s->destfd, dir,
                                    O_PATH | O_DIRECTORY) : s->destfd;
    int k;
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP
               ? FS_K_ABSENT : -1;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        k = errno == ENOENT ? FS_K_ABSENT : -1;
    } else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(fd, name, target, TAR_PATH_MAX);
        k = n < 0 ? -1 : FS_K_LINK;
        if (n >= 0)
            target[n] = '\0';
    } else {
        k = S_ISDIR(st.st_mode) ? FS_K_DIR : FS_K_OTHER;
    }
    if (fd != s->destfd) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return k;
}

/*
 * The staged directory s->path meets a symlink `name` in the destination
 * directory dfd: where it leads, into out (a path beneath destfd), or a
 * refusal naming the link.  Nothing is changed either way.
 */
static int follow_dest_link(struct fs_sink *s, int dfd, const char *name,
                            size_t rel_len, char *out, size_t cap)
{
    char parent[TAR_PATH_MAX + 1], target[TAR_PATH_MAX + 1];
    char esc[256], where[TAR_PATH_MAX + 1];
    struct dest_lookup ctx = {s};
    ssize_t n = readlinkat(dfd, name, target, TAR_PATH_MAX);

    if (n < 0)
        return pub_fail(s, errno, s->path, "reading a destination symlink");
    target[n] = '\0';
    memcpy(parent, s->path, rel_len > 0 ? rel_len - 1 : 0);
    parent[rel_len > 0 ? rel_len - 1 : 0] = '\0';
    if (fs_remap_path(s, parent, where, sizeof where) < 0)
        return pub_fail(s, errno, s->path, "path too long");
    int rc = fs_tree_resolve(where, target, dest_lookup, &ctx, out, cap);
    if (rc < 0)
        return pub_fail(s, errno, s->path, "resolving a destination symlink");
    if (rc == FS_RES_DIR)
        return 0;
    rz_escape(target, (size_t)n, esc, sizeof esc);
    return fs_fail(s, RZ_E_POL_DEST_SYMLINK, 0, s->path,
                   "the destination's symlink -> %s %s; it was kept and "
                   "nothing was installed", esc,
                   rc == FS_RES_ESCAPE ? "leads outside the destination"
                   : "does not lead to a directory inside the destination");
}

/* ------------------------------------------------------------ the test hook */

/* RZUP_TEST_STOP_AFTER_RENAMES=N: the run stops itself (SIGSTOP) after N
 * entries have moved, so a test can kill -9 it in the middle of a merge. */
void fs_counted_rename(struct fs_sink *s)
{
    if (++s->renames == s->stop_after)
        raise(SIGSTOP);
}

/* ------------------------------------------------------------ across mounts */

static int copy_data(int in, int out, off_t size)
{
    off_t left = size;

    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                      errno == EOPNOTSUPP))
            n = sendfile(out, in, NULL, (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        left -= n;
    }
    return 0;
}

/* A staged non-directory copied to dfd/tmp with its mode, owner and
 * times; the caller renames it over the target. */
static int copy_nondir(struct fs_sink *s, int sfd, int dfd, const char *name,
                       const char *tmp, const struct stat *ss)
{
    struct timespec ts[2] = {{0, UTIME_OMIT}, ss->st_mtim};
    int rc = 0;

    if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
        return -1;          /* ours, from a killed run of this staging */
    if (S_ISLNK(ss->st_mode)) {
        char target[TAR_PATH_MAX + 1];
        ssize_t n = readlinkat(sfd, name, target, TAR_PATH_MAX);
        if (n < 0)
            return -1;
        target[n] = '\0';
        if (symlinkat(target, dfd, tmp) < 0)
            return -1;
    } else if (!S_ISREG(ss->st_mode)) {
        if (mknodat(dfd, tmp, ss->st_mode, ss->st_rdev) < 0)
            return -1;
    } else {
        int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int out = in < 0 ? -1 : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
                                       O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out >= 0)
            rc = copy_data(in, out, ss->st_size);
        if (out >= 0 && rc == 0 && (fchmod(out, ss->st_mode & 07777) < 0 ||
                                    futimens(out, ts) < 0))
            rc = -1;
        int e = errno;
        if (in >= 0)
            close(in);
        if (out >= 0 && close(out) < 0 && rc == 0)
            rc = -1, e = errno;
        errno = e;
        if (in < 0 || out < 0 || rc < 0) {
            unlinkat(dfd, tmp, 0);
            errno = e;
            return -1;
        }
        return s->same_owner &&
               fchownat(dfd, tmp, ss->st_uid, ss->st_gid, AT_SYMLINK_NOFOLLOW)
               < 0 ? -1 : 0;
    }
    if (utimensat(dfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0 ||
        (s->same_owner &&
         fchownat(dfd, tmp, ss->st_uid, ss->st_gid, AT_SYMLINK_NOFOLLOW) < 0))
        return -1;
    return 0;
}

static void tmp_name(const struct fs_sink *s, char *out, size_t cap)
{
    snprintf(out, cap, ".rzup-new-%s", s->stage_suffix);
}

/* EXDEV for a non-directory: copy beside the target, rename over it. */
static int move_across(struct fs_sink *s, int sfd, int dfd, const char *name,
                       const struct stat *ss)
{
    char tmp[32];

    tmp_name(s, tmp, sizeof tmp);
    if (copy_nondir(s, sfd, dfd, name, tmp, ss) < 0) {
        /* not RZ_E_IO_NOSPC, whose advice says nothing was installed:
         * entries have moved by now, and the warning says what is kept */
        return pub_fail(s, errno, s->path,
                        "copying across a mount point in the destination");
    }
    if (renameat(dfd, tmp, dfd, name) < 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        return pub_fail(s, e, s->path, "renaming the copy into place");
    }
    if (unlinkat(sfd, name, 0) < 0)
        return pub_fail(s, errno, s->path, "removing the staged copy");
    return 0;
}

/* ------------------------------------------------------------ merging */

static int merge_dir(struct fs_sink *s, int sfd, int dfd, size_t rel_len,
                     bool dry);

/* Merges staged sfd/name into the open destination directory sub_d, then
 * (real pass) removes the emptied staged directory. */
static int merge_into(struct fs_sink *s, int sfd, const char *name, int sub_d,
                      size_t rel_len, bool dry)
{
    int sub_s = openat(sfd, name, DIR_FLAGS);
    int rc;

    if (sub_s < 0)
        return pub_fail(s, errno, s->path, "opening a staged directory");
    if (!dry)
        (void)fchmod(sub_s, 0700);   /* ours; a finished tree may be 0555 */
    rc = merge_dir(s, sub_s, sub_d, rel_len, dry);
    close(sub_s);
    s->path[rel_len] = '\0';
    if (rc == 0 && !dry && unlinkat(sfd, name, AT_REMOVEDIR) < 0)
        rc = pub_fail(s, errno, s->path, "removing a merged staged directory");
    return rc;
}

static int merge_subdir(struct fs_sink *s, int sfd, int dfd, const char *name,
                        size_t rel_len, bool dry)
{
    int sub_d = openat(dfd, name, DIR_FLAGS);
    int rc;

    mark_existed(s, s->path, false);
    if (sub_d < 0)
        return pub_fail(s, errno, s->path, "opening a directory to merge");
    rc = merge_into(s, sfd, name, sub_d, rel_len, dry);
    close(sub_d);
    return rc;
}

/* A staged directory where the destination has a symlink. */
static int merge_followed(struct fs_sink *s, int sfd, int dfd,
                          const char *name, size_t rel_len, size_t len,
                          bool dry)
{
    char to[TAR_PATH_MAX + 1];

    if (follow_dest_link(s, dfd, name, rel_len, to, sizeof to) < 0)
        return -1;
    if (add_remap(s, s->path, to) < 0)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    mark_existed(s, s->path, true);
    int sub_d = *to ? fs_open_beneath(s->resolver, s->destfd, to, DIR_FLAGS)
                    : openat(s->destfd, ".", DIR_FLAGS);
    if (sub_d < 0)
        return pub_fail(s, errno, s->path,
                        "opening the directory a destination symlink leads to");
    int rc = merge_into(s, sfd, name, sub_d, len, dry);
    close(sub_d);
    return rc;
}

/* EXDEV for a directory: created in dfd (at the temporary name when it
 * replaces a non-directory, then exchanged), entries merged into it. */
static int dir_across(struct fs_sink *s, int sfd, int dfd, const char *name,
                      size_t len, bool replaces)
{
    char tmp[32];
    const char *at = name;

    tmp_name(s, tmp, sizeof tmp);
    if (replaces)
        at = tmp;
    if (mkdirat(dfd, at, 0700) < 0 && errno != EEXIST)
        return pub_fail(s, errno, s->path, "creating a directory across a "
                        "mount point in the destination");
    int sub_d = openat(dfd, at, DIR_FLAGS);
    if (sub_d < 0)
        return pub_fail(s, errno, s->path, "opening a directory to merge");
    int rc = merge_into(s, sfd, name, sub_d, len, false);
    close(sub_d);
    if (rc < 0 || !replaces)
        return rc;
    if (renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == 0)
        return unlinkat(dfd, tmp, 0) < 0
                   ? pub_fail(s, errno, s->path, "removing the old entry") : 0;
    if (errno != EINVAL)
        return pub_fail(s, errno, s->path, "exchanging into place");
    if (unlinkat(dfd, name, 0) < 0 || renameat(dfd, tmp, dfd, name) < 0)
        return pub_fail(s, errno, s->path, "renaming into place");
    return 0;
}

/* A directory over a non-directory: one exchange, then the old entry
 * (now in staging) is unlinked; unlink then rename without EXCHANGE. */
static int dir_over_nondir(struct fs_sink *s, int sfd, int dfd,
                           const char *name, size_t len)
{
    if (!s->rename_compat &&
        renameat2(sfd, name, dfd, name, RENAME_EXCHANGE) == 0)
        return unlinkat(sfd, name, 0) < 0
                   ? pub_fail(s, errno, s->path, "removing the old entry") : 0;
    if (errno == EXDEV)
        return dir_across(s, sfd, dfd, name, len, true);
    if (!s->rename_compat && errno != EINVAL)
        return pub_fail(s, errno, s->path, "exchanging into place");
    if (!s->rename_compat) {
        s->rename_compat = true;
        fs_note(s, "renameat2 flags are not supported here: using "
                "check-then-rename (see README)");
    }
    if (unlinkat(dfd, name, 0) < 0)
        return pub_fail(s, errno, s->path, "removing a non-directory");
    if (renameat(sfd, name, dfd, name) == 0)
        return 0;
    return pub_fail(s, errno, s->path, "renaming into place");
}

/*
 * A non-directory replaces whatever non-directory the destination has
 * (rename replaces a symlink itself, never follows it).  A directory is
 * renamed in only where nothing is; if another run created a directory
 * there since the dry run (two installs into one destination), it is
 * merged into that one instead of failing.
 */
static int move_entry(struct fs_sink *s, int sfd, int dfd, const char *name,
                      size_t len, const struct stat *ss, const struct stat *ds)
{
    struct stat now;

    if (ds && S_ISDIR(ds->st_mode))
        return fs_fail(s, RZ_E_POL_NONDIR_OVER_DIR, 0, s->path,
                       "the destination has a directory there");
    fs_counted_rename(s);
    if (!S_ISDIR(ss->st_mode)) {
        if (renameat(sfd, name, dfd, name) == 0)
            return 0;
        if (errno == EXDEV)
            return move_across(s, sfd, dfd, name, ss);
        return pub_fail(s, errno, s->path, "renaming into place");
    }
    if (ds)
        return dir_over_nondir(s, sfd, dfd, name, len);
    if (fs_rename_noreplace(s, sfd, name, dfd, name) == 0)
        return 0;
    if (errno == EXDEV)
        return dir_across(s, sfd, dfd, name, len, false);
    if (errno == EEXIST && fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISDIR(now.st_mode))
        return merge_subdir(s, sfd, dfd, name, len, false);
    return pub_fail(s, errno, s->path, "renaming into place");
}

/* One staged entry; its path relative to the root is built in s->path. */
static int merge_one(struct fs_sink *s, int sfd, int dfd, const char *name,
                     size_t rel_len, bool dry)
{
    size_t nlen = strlen(name), len = rel_len + (rel_len > 0) + nlen;
    struct stat ss, ds;

    if (len > TAR_PATH_MAX)
        return pub_fail(s, ENAMETOOLONG, name, "path too long");
    if (rel_len > 0)
        s->path[rel_len++] = '/';
    memcpy(s->path + rel_len, name, nlen + 1);
    if (fstatat(sfd, name, &ss, AT_SYMLINK_NOFOLLOW) < 0)
        return pub_fail(s, errno, s->path, "fstatat in staging");
    bool have = fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have && errno != ENOENT)
        return pub_fail(s, errno, s->path, "fstatat in the destination");
    if (dry && have)
        s->meets_existing = true;
    if (have && dfd == s->destfd && s->stagedirfd >= 0) {
        struct stat a;   /* our own staging directory, when inside dest */
        if (fstat(s->stagedirfd, &a) == 0 && a.st_dev == ds.st_dev &&
            a.st_ino == ds.st_ino)
            return pub_fail(s, EEXIST, s->path,
                            "name of the staging directory");
    }
    if (have && S_ISDIR(ss.st_mode) && S_ISDIR(ds.st_mode))
        return merge_subdir(s, sfd, dfd, name, len, dry);
    if (have && S_ISDIR(ss.st_mode) && S_ISLNK(ds.st_mode))
        return merge_followed(s, sfd, dfd, name, rel_len, len, dry);
    if (dry) {
        if (have && S_ISDIR(ds.st_mode))
            return fs_fail(s, RZ_E_POL_NONDIR_OVER_DIR, 0, s->path,
                           "the destination has a directory there");
        return 0;
    }
    return move_entry(s, sfd, dfd, name, len, &ss, have ? &ds : NULL);
}

/* One readdir pass over sfd; *seen counts the entries met. */
static int merge_pass(struct fs_sink *s, DIR *d, int sfd, int dfd,
                      size_t rel_len, bool dry, size_t *seen)
{
    struct dirent *de;
    char name[NAME_MAX + 1];

    *seen = 0;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(name, sizeof name, "%s", de->d_name);
        ++*seen;
        int rc = merge_one(s, sfd, dfd, name, rel_len, dry);
        s->path[rel_len] = '\0';
        if (rc < 0)
            return -1;
    }
    if (errno)
        return pub_fail(s, errno, s->path, "reading a staged directory");
    return 0;
}

static int merge_dir(struct fs_sink *s, int sfd, int dfd, size_t rel_len,
                     bool dry)
{
    int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    size_t seen;
    int rc;

    s->path[rel_len] = '\0';
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return pub_fail(s, e, s->path, "reading a staged directory");
    }
    /* the real pass empties sfd: read again until a pass sees nothing
     * (every entry processed leaves it, so a second pass normally ends it;
     * the bound only guards against a filesystem that keeps showing one) */
    int passes = 0;
    do {
        rc = merge_pass(s, d, sfd, dfd, rel_len, dry, &seen);
        rewinddir(d);
    } while (rc == 0 && !dry && seen > 0 && ++passes < 64);
    if (rc == 0 && !dry && seen > 0)
        rc = pub_fail(s, ENOTEMPTY, s->path, "a staged directory does not "
                      "empty as its entries move");
    closedir(d);
    return rc;
}

int fs_merge_dry_run(struct fs_sink *s)
{
    return merge_dir(s, s->stagefd, s->destfd, 0, true);
}

int fs_merge_pass(struct fs_sink *s)
{
    return merge_dir(s, s->stagefd, s->destfd, 0, false);
}
