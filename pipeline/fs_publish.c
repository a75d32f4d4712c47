/*
 * fs_publish.c: the staging directory's life outside entry creation: where
 * it is made, the end-of-archive checks and fixups (fs_sink_finish), moving
 * it into place (fs_sink_publish), and removing it (fs_sink_abort).
 *
 * The staging directory sits on the destination's filesystem so that
 * publishing is rename(2), never a copy.  Directory modes are applied last,
 * deepest first, because a directory without owner write permission could
 * not be filled (or, when merging, emptied) afterwards.  When merging, the
 * fixups run on the destination after the entries have moved, since moving
 * a directory to a new parent needs write permission on it.
 *
 * Nothing here follows a symlink below the destination: lookups go through
 * openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) or openat(O_NOFOLLOW), and
 * rename/unlink act on the link itself.
 */
#include "fs_sink_private.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ------------------------------------------------------------ staging */

static int dest_fail(struct fs_sink *s, int e, const char *what)
{
    return rz_error_set(s->err, RZ_E_IO_DEST, e, RZ_OFF_NONE, 0, s->o.dest,
                        strlen(s->o.dest), "%s", what);
}

/* Splits the destination into an open parent fd and a final name. */
static int open_dest_parent(struct fs_sink *s, const char *dest)
{
    size_t len = strlen(dest);
    char *copy = strdup(dest);

    if (!copy)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    const char *name = slash ? slash + 1 : copy;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name) {
        free(copy);
        return dest_fail(s, EINVAL, "cannot replace this directory by name");
    }
    s->dest_name = strdup(name);
    if (slash == copy)
        copy[1] = '\0';       /* "/name": the parent is "/" */
    else if (slash)
        *slash = '\0';
    else
        strcpy(copy, ".");
    s->parentfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    s->stage_dir = copy;
    if (!s->dest_name)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    if (s->parentfd < 0)
        return dest_fail(s, e, "cannot open the destination's parent");
    return 0;
}

/*
 * Decides how to publish.  The destination path is trusted (it comes from
 * the user), so it may go through symlinks; everything below it may not.
 */
static int resolve_dest(struct fs_sink *s)
{
    const char *dest = s->o.dest;
    struct stat st;

    if (!dest || !*dest)
        return rz_error_set(s->err, RZ_E_USAGE, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "no destination directory");
    bool exists = stat(dest, &st) == 0;
    if (!exists && errno != ENOENT)
        return dest_fail(s, errno, "cannot examine the destination");
    if (exists && !(s->o.flags & FS_SINK_REPLACE)) {
        if (!S_ISDIR(st.st_mode))
            return dest_fail(s, ENOTDIR, "not a directory");
        s->mode = FS_PUB_MERGE;
        s->destfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->destfd < 0 || fstat(s->destfd, &st) < 0)
            return dest_fail(s, errno, "cannot open the destination");
        s->dest_mtime = st.st_mtim;
        s->parentfd = dup(s->destfd);
        if (s->parentfd < 0)
            return dest_fail(s, errno, "dup");
        s->stage_dir = strdup(dest);
        return s->stage_dir ? 0 : fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    }
    if (open_dest_parent(s, dest) < 0)
        return -1;
    if (exists) {
        s->mode = FS_PUB_REPLACE;
        return 0;
    }
    s->mode = FS_PUB_ABSENT;
    if (fstatat(s->parentfd, s->dest_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return dest_fail(s, EEXIST, "a dangling symlink is in the way");
    return 0;
}

/* Six random letters; a counter and the clock when getrandom fails. */
static void random_suffix(char *out, unsigned attempt)
{
    static const char set[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[6];
    struct timespec t;

    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t x = (uint64_t)t.tv_nsec * 2654435761u + attempt +
                     (uint64_t)getpid() * 40503u;
        for (size_t i = 0; i < sizeof r; i++, x >>= 8)
            r[i] = (unsigned char)x;
    }
    for (size_t i = 0; i < sizeof r; i++)
        out[i] = set[r[i] % (sizeof set - 1)];
    out[sizeof r] = '\0';
}

static int make_staging(struct fs_sink *s)
{
    unsigned attempt;

    for (attempt = 0; attempt < 100; attempt++) {
        char suffix[8];
        random_suffix(suffix, attempt);
        if (s->mode == FS_PUB_MERGE)
            snprintf(s->stage_name, sizeof s->stage_name,
                     ".rzup-staging-%s", suffix);
        else   /* keep within NAME_MAX whatever the destination's name */
            snprintf(s->stage_name, sizeof s->stage_name, ".%.200s.rzup-%s",
                     s->dest_name, suffix);
        if (mkdirat(s->parentfd, s->stage_name, 0700) == 0)
            break;
        if (errno != EEXIST)
            return dest_fail(s, errno, "cannot create the staging directory");
    }
    if (attempt == 100)
        return dest_fail(s, EEXIST, "cannot create the staging directory");
    s->staging_exists = true;
    s->stagefd = openat(s->parentfd, s->stage_name, DIR_FLAGS);
    if (s->stagefd < 0)
        return dest_fail(s, errno, "cannot open the staging directory");
    size_t n = strlen(s->stage_dir) + strlen(s->stage_name) + 2;
    s->stage_path = malloc(n);
    if (!s->stage_path)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    snprintf(s->stage_path, n, "%s%s%s", s->stage_dir,
             strcmp(s->stage_dir, "/") == 0 ? "" : "/", s->stage_name);
    return 0;
}

/* The process umask without changing it (umask(2) can only set it, which
 * would race with other threads creating files); -1 when unknown. */
static int read_umask(void)
{
    char line[128];
    unsigned mask;
    int found = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return -1;
    while (found < 0 && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            found = (int)(mask & 0777);
    fclose(f);
    return found;
}

int fs_sink_new(struct fs_sink **out, const struct fs_sink_options *o,
                struct rz_error *err)
{
    struct fs_sink *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s)
        return rz_error_set(err, RZ_E_NOMEM, 0, RZ_OFF_NONE, 0, NULL, 0,
                            NULL);
    s->o = *o;
    s->err = err;
    s->parentfd = s->destfd = s->stagefd = s->cache_fd = s->file_fd = -1;
    s->same_owner = (o->flags & FS_SINK_SAME_OWNER) && geteuid() == 0;
    s->umask = read_umask();
    if ((o->flags & FS_SINK_SAME_OWNER) && !s->same_owner && o->warn)
        o->warn(o->warn_ctx, "--same-owner needs root; owners are ignored");
    if (resolve_dest(s) < 0 || make_staging(s) < 0) {
        fs_sink_free(s);
        return -1;
    }
    *out = s;
    return 0;
}


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
static int rm_move_up(struct rm_queue *q, int topfd, int fd, const char *name)
{
    char up[64];

    for (;;) {
        snprintf(up, sizeof up, ".rzup-rm-%lu", q->counter++);
        if (renameat2(fd, name, topfd, up, RENAME_NOREPLACE) == 0)
            return rm_push(q, up);
        if (errno != EEXIST)
            return -1;
    }
}

/* Unlinks the non-directories in fd and queues its subdirectories. */
static int rm_empty(struct rm_queue *q, int topfd, int fd, bool is_top)
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
                        : rm_move_up(q, topfd, fd, names[i]);
        }
        if (rc < 0 && !first)
            first = errno ? errno : ENOMEM;
    }
    free_names(names, n);
    errno = first;
    return first ? -1 : 0;
}

/* Removes dirfd/name and everything below it; keeps going after a failure
 * and returns -1 with the first errno. */
static int remove_tree(int dirfd, const char *name)
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
    if (rm_empty(&q, top, top, true) < 0)
        first = errno;
    while (q.n > 0) {
        char *sub = q.names[--q.n];
        int fd = openat(top, sub, DIR_FLAGS);
        if ((fd < 0 || rm_empty(&q, top, fd, false) < 0) && !first)
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

/* ------------------------------------------------------------ finish */

/* Resolves a symlink beneath rootfd, following it but never leaving. */
static int resolve_link(int rootfd, const char *path)
{
    struct open_how how;

    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* Unlinks a refused symlink that is already in the destination. */
static void unlink_beneath(int rootfd, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *parent = slash ? strndup(path, (size_t)(slash - path)) : NULL;
    int pfd = parent ? fs_open_beneath(rootfd, parent, O_PATH | O_DIRECTORY)
                     : rootfd;

    if (pfd >= 0) {
        unlinkat(pfd, slash ? slash + 1 : path, 0);
        if (pfd != rootfd)
            close(pfd);
    }
    free(parent);
}

/*
 * The lexical check cannot see chains (cur -> ., par -> cur/..): resolve
 * every symlink in the real tree and refuse any that leads out (EXDEV).
 * Dangling or looping links are harmless: the kernel cannot follow them.
 */
static int check_links(struct fs_sink *s, int rootfd, bool published)
{
    for (size_t i = 0; i < s->nlinks; i++) {
        int fd = resolve_link(rootfd, s->links[i]);
        if (fd >= 0) {
            close(fd);
            continue;
        }
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            continue;
        int e = errno;
        if (e != EXDEV)
            return fs_fail(s, published ? RZ_E_IO_PUBLISH : RZ_E_IO_CREATE,
                           e, s->links[i], "checking the symlink's target");
        if (published)
            unlink_beneath(rootfd, s->links[i]);
        return fs_fail(s, RZ_E_POL_SYMLINK_OUTSIDE, 0, s->links[i],
                       published ? "through a symlink already in the "
                       "destination; the link was removed"
                       : "through other symlinks of the archive");
    }
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct fs_dir_rec *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts the records by path and keeps the last one of each path.  In that
 * order every descendant follows its ancestors, so walking it backwards
 * is deepest first. */
void fs_sort_dirs(struct fs_sink *s)
{
    size_t j = 0;

    if (s->ndirs > 1)
        qsort(s->dirs, s->ndirs, sizeof *s->dirs, cmp_rec);
    for (size_t i = 0; i < s->ndirs; i++) {
        if (j > 0 && strcmp(s->dirs[j - 1].path, s->dirs[i].path) == 0) {
            free(s->dirs[j - 1].path);
            s->dirs[j - 1] = s->dirs[i];
        } else {
            s->dirs[j++] = s->dirs[i];
        }
    }
    s->ndirs = j;
}

static int fix_fd(int fd, uint32_t mode, bool named, int64_t mtime,
                  uint32_t nsec)
{
    struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)mtime, (long)nsec}};

    if (nsec >= 1000000000u)
        ts[1].tv_nsec = 0;
    if (fchmod(fd, mode) < 0)
        return -1;
    return named ? futimens(fd, ts) : 0;
}

/* Reopens a recorded directory beneath rootfd (never through a symlink),
 * checks it still is one, and applies its mode and mtime. */
static int fix_dir(struct fs_sink *s, int rootfd, const struct fs_dir_rec *r,
                   enum rz_code code)
{
    struct stat st;
    int fd = fs_open_beneath(rootfd, r->path, DIR_FLAGS);

    if (fd < 0)
        return fs_fail(s, errno == ELOOP || errno == EXDEV ? RZ_E_POL_ESCAPE
                       : code, errno, r->path, "reopening the directory");
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) ||
        fix_fd(fd, r->mode, r->named, r->mtime, r->mtime_nsec) < 0) {
        int e = errno;
        close(fd);
        return fs_fail(s, code, e, r->path, "setting the directory's mode");
    }
    close(fd);
    return 0;
}

/* Deepest first; when merging, a directory the destination already had
 * keeps its mode unless an entry names it. */
static int fix_dirs(struct fs_sink *s, int rootfd, enum rz_code code)
{
    for (size_t i = s->ndirs; i-- > 0;) {
        const struct fs_dir_rec *r = &s->dirs[i];
        if (r->existed && !r->named)
            continue;
        if (fix_dir(s, rootfd, r, code) < 0)
            return -1;
    }
    return 0;
}

/* The root: its entry's mode and mtime, else 0755 for a new tree. */
static int fix_root(struct fs_sink *s, int fd, enum rz_code code)
{
    if (!s->root_named && s->mode == FS_PUB_MERGE)
        return 0;
    if (fix_fd(fd, s->root_named ? s->root_mode : 0755, s->root_named,
               s->root_mtime, s->root_nsec) < 0)
        return fs_fail(s, code, errno, NULL, "setting the root's mode");
    return 0;
}

int fs_sink_finish(struct fs_sink *s)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    if (s->finished || !s->staging_exists)
        return fs_fail(s, RZ_E_INTERNAL, 0, NULL, "fs_sink_finish misuse");
    assert(s->file_fd < 0);
    s->cur = NULL;
    if (s->cache_fd >= 0)
        close(s->cache_fd);
    s->cache_fd = -1;
    if (check_links(s, s->stagefd, false) < 0)
        return -1;
    fs_sort_dirs(s);
    if (s->mode != FS_PUB_MERGE &&
        (fix_dirs(s, s->stagefd, RZ_E_IO_CREATE) < 0 ||
         fix_root(s, s->stagefd, RZ_E_IO_CREATE) < 0))
        return -1;
    s->finished = true;
    return 0;
}

/* ------------------------------------------------------------ publish */

static int pub_fail(struct fs_sink *s, int e, const char *path,
                    const char *what)
{
    return fs_fail(s, RZ_E_IO_PUBLISH, e, path, "%s", what);
}

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
static int lookup_in(int rootfd, const char *cur, const char *name,
                     struct stat *st, char *target)
{
    int fd = *cur ? fs_open_beneath(rootfd, cur, O_PATH | O_DIRECTORY)
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

/* The merged tree's entry cur/name: staging first, then the destination
 * (where the staging directory itself does not count). */
static int lookup_merged(struct fs_sink *s, struct walk *w, const char *name,
                         struct stat *st)
{
    int rc = lookup_in(s->stagefd, w->cur, name, st, w->target);

    if (rc != 0)
        return rc;
    if (w->cur_len == 0 && strcmp(name, s->stage_name) == 0)
        return 0;
    return lookup_in(s->destfd, w->cur, name, st, w->target);
}

/* Replaces the resolved part of rest with a link's target. */
static int splice_target(struct walk *w)
{
    size_t tlen = strlen(w->target), left = strlen(w->rest + w->pos);
    char *r = malloc(tlen + 1 + left + 1);

    if (!r)
        return -1;
    memcpy(r, w->target, tlen);
    r[tlen] = '/';
    memcpy(r + tlen + 1, w->rest + w->pos, left + 1);
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
    int rc = lookup_merged(s, w, name, &st);
    if (rc <= 0)
        return rc < 0 ? -1 : 2;
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
static int check_merged_links(struct fs_sink *s)
{
    for (size_t i = 0; i < s->nlinks; i++) {
        int rc = merged_link_escapes(s, s->links[i]);
        if (rc < 0)
            return pub_fail(s, errno ? errno : ENOMEM, s->links[i],
                            "following the symlink through the destination");
        if (rc == 1)
            return fs_fail(s, RZ_E_POL_SYMLINK_OUTSIDE, 0, s->links[i],
                           "through what the destination already holds; "
                           "nothing was moved");
    }
    return 0;
}

static int cmp_key(const void *key, const void *rec)
{
    return strcmp(key, ((const struct fs_dir_rec *)rec)->path);
}

static void mark_existed(struct fs_sink *s, const char *path)
{
    struct fs_dir_rec *r = bsearch(path, s->dirs, s->ndirs, sizeof *s->dirs,
                                   cmp_key);
    if (r)
        r->existed = true;
}

static int merge_dir(struct fs_sink *s, int sfd, int dfd, size_t rel_len,
                     bool dry);

static int merge_subdir(struct fs_sink *s, int sfd, int dfd, const char *name,
                        size_t rel_len, bool dry)
{
    int sub_s = openat(sfd, name, DIR_FLAGS);
    int sub_d = sub_s < 0 ? -1 : openat(dfd, name, DIR_FLAGS);
    int rc;

    if (!dry)
        mark_existed(s, s->path);
    if (sub_d < 0)
        rc = pub_fail(s, errno, s->path, "opening a directory to merge");
    else
        rc = merge_dir(s, sub_s, sub_d, rel_len, dry);
    if (sub_s >= 0)
        close(sub_s);
    if (sub_d >= 0)
        close(sub_d);
    return rc;
}

/* Moves one staged entry over whatever non-directory the destination has;
 * rename and unlink act on a destination symlink itself, never through. */
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
    if (!S_ISDIR(ss->st_mode))
        return renameat(sfd, name, dfd, name) < 0
                   ? pub_fail(s, errno, s->path, "renaming into place") : 0;
    if (ds && unlinkat(dfd, name, 0) < 0)
        return pub_fail(s, errno, s->path, "removing a non-directory");
    if (renameat2(sfd, name, dfd, name, RENAME_NOREPLACE) == 0)
        return 0;
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
    if (dfd == s->destfd && strcmp(name, s->stage_name) == 0)
        return pub_fail(s, EEXIST, s->path, "name of the staging directory");
    if (fstatat(sfd, name, &ss, AT_SYMLINK_NOFOLLOW) < 0)
        return pub_fail(s, errno, s->path, "fstatat in staging");
    bool have = fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have && errno != ENOENT)
        return pub_fail(s, errno, s->path, "fstatat in the destination");
    if (have && S_ISDIR(ss.st_mode) && S_ISDIR(ds.st_mode))
        return merge_subdir(s, sfd, dfd, name, len, dry);
    if (dry) {
        if (have && S_ISDIR(ds.st_mode))
            return fs_fail(s, RZ_E_POL_NONDIR_OVER_DIR, 0, s->path,
                           "the destination has a directory there");
        return 0;
    }
    return move_entry(s, sfd, dfd, name, len, &ss, have ? &ds : NULL);
}

static int merge_dir(struct fs_sink *s, int sfd, int dfd, size_t rel_len,
                     bool dry)
{
    char **names;
    size_t n;
    int rc = 0;

    s->path[rel_len] = '\0';
    if (list_dir(sfd, &names, &n) < 0)
        return pub_fail(s, errno, s->path, "reading a staged directory");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = merge_one(s, sfd, dfd, names[i], rel_len, dry);
    free_names(names, n);
    return rc;
}

/* Merge (the default, like tar -C): a dry run first (a non-directory over
 * a directory, and every staged symlink followed through the merged tree,
 * since an old symlink in the destination can complete an escaping chain),
 * so that a refusal changes nothing; then the moves, then modes.  The last
 * re-check by the kernel (before modes are applied) can only fire if the
 * destination changed under us during the merge. */
static int publish_merge(struct fs_sink *s)
{
    if (merge_dir(s, s->stagefd, s->destfd, 0, true) < 0 ||
        check_merged_links(s) < 0)
        return -1;
    s->dest_touched = true;
    if (merge_dir(s, s->stagefd, s->destfd, 0, false) < 0)
        return -1;
    close(s->stagefd);
    s->stagefd = -1;
    if (unlinkat(s->destfd, s->stage_name, AT_REMOVEDIR) < 0 &&
        remove_tree(s->destfd, s->stage_name) < 0)
        return pub_fail(s, errno, s->stage_path, "removing staging");
    s->staging_exists = false;
    s->published = true;
    /* Links first: once modes are applied, a directory without owner
     * search permission would make the check fail for a non-root user. */
    if (check_links(s, s->destfd, true) < 0)
        return -1;
    if (fix_dirs(s, s->destfd, RZ_E_IO_PUBLISH) < 0 ||
        fix_root(s, s->destfd, RZ_E_IO_PUBLISH) < 0)
        return -1;
    return 0;
}

static int publish_rename(struct fs_sink *s)
{
    if (renameat2(s->parentfd, s->stage_name, s->parentfd, s->dest_name,
                  RENAME_NOREPLACE) < 0)
        return pub_fail(s, errno, s->stage_path, "renaming into place");
    s->staging_exists = false;
    s->published = true;
    return 0;
}

/* --replace: one atomic exchange, then the old tree (now under the staging
 * name) is removed.  A destination that vanished meanwhile is renamed to. */
static int publish_replace(struct fs_sink *s)
{
    if (renameat2(s->parentfd, s->stage_name, s->parentfd, s->dest_name,
                  RENAME_EXCHANGE) < 0)
        return errno == ENOENT ? publish_rename(s)
                               : pub_fail(s, errno, s->stage_path,
                                          "exchanging with the destination");
    s->published = true;
    close(s->stagefd);
    s->stagefd = -1;
    if (remove_tree(s->parentfd, s->stage_name) < 0)
        return fs_fail(s, RZ_E_IO_CLEANUP, errno, s->stage_path,
                       "the old tree, now at this path");
    s->staging_exists = false;
    return 0;
}

int fs_sink_publish(struct fs_sink *s)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    if (!s->finished || s->published || !s->staging_exists)
        return fs_fail(s, RZ_E_INTERNAL, 0, NULL, "fs_sink_publish misuse");
    switch (s->mode) {
    case FS_PUB_ABSENT:  return publish_rename(s);
    case FS_PUB_REPLACE: return publish_replace(s);
    default:             return publish_merge(s);
    }
}

/* ------------------------------------------------------------ cleanup */

void fs_sink_abort(struct fs_sink *s)
{
    if (!s)
        return;
    if (s->file_fd >= 0)
        close(s->file_fd);
    if (s->cache_fd >= 0)
        close(s->cache_fd);
    if (s->stagefd >= 0)
        close(s->stagefd);
    s->file_fd = s->cache_fd = s->stagefd = -1;
    if (s->staging_exists && remove_tree(s->parentfd, s->stage_name) == 0) {
        s->staging_exists = false;
        /* merging staged inside dest: undo that change to its mtime */
        if (s->mode == FS_PUB_MERGE && !s->dest_touched)
            futimens(s->destfd, (struct timespec[2]){{0, UTIME_OMIT},
                                                     s->dest_mtime});
    }
}

void fs_sink_free(struct fs_sink *s)
{
    if (!s)
        return;
    if (!s->published || s->staging_exists)
        fs_sink_abort(s);
    if (s->destfd >= 0)
        close(s->destfd);
    if (s->parentfd >= 0)
        close(s->parentfd);
    for (size_t i = 0; i < s->ndirs; i++)
        free(s->dirs[i].path);
    free(s->dirs);
    free_names(s->links, s->nlinks);
    free(s->dest_name);
    free(s->stage_dir);
    free(s->stage_path);
    free(s);
}
