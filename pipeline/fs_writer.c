/*
 * fs_writer.c: the creation of every entry beneath the staging directory,
 * on one thread (see fs_writer.h).
 *
 * Containment is the kernel's job: every lookup below the staging fd goes
 * through openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) (or the checked walk
 * of fs_walk.c), and the last component is created with an *at() call that
 * does not follow it (mkdirat, symlinkat, linkat without
 * AT_SYMLINK_FOLLOW, openat with O_EXCL|O_NOFOLLOW).  Names are already
 * free of ".." (tar_path_normalize), so the only way out would be a
 * symlink, and no lookup crosses one.
 *
 * Cost: each file costs openat, write, futimens and close (fchmod only
 * when the umask would alter the archive's mode), and the parent directory
 * fd is cached because archives list the files of one directory together.
 * Directories are created 0700 (owner-writable while we fill them) and get
 * their final mode at the end (fs_publish.c, from the tree record).
 */
#include "fs_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static int wfail(struct fs_writer *s, enum rz_code code, int sys_errno,
            const char *path, const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;

    detail[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    if (s->cur)
        return rz_error_set(s->err, code, sys_errno, RZ_OFF_ARCHIVE,
                            s->cur->offset, s->cur->path, s->cur->path_len,
                            "%s", detail);
    return rz_error_set(s->err, code, sys_errno, RZ_OFF_NONE, 0, path,
                        path ? strlen(path) : 0, "%s", detail);
}

/* Disk full and quota are one failure for the user: say how far we got. */
static int io_fail(struct fs_writer *s, enum rz_code code, int e,
                   const char *what)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return wfail(s, e == EFBIG ? RZ_E_IO_FILE_LIMIT : RZ_E_IO_NOSPC, e,
                       NULL, "%s: %llu bytes written so far", what,
                       (unsigned long long)s->bytes);
    return wfail(s, code, e, NULL, "%s", what);
}

static void warn(struct fs_writer *s, const char *what, const char *name,
                 size_t len)
{
    char esc[512], msg[700];

    if (!s->o->warn)
        return;
    rz_escape(name, len, esc, sizeof esc);
    snprintf(msg, sizeof msg, "%s: %s", what, esc);
    s->o->warn(s->o->warn_ctx, msg);
}

static uint32_t final_mode(uint32_t mode)
{
    return mode & 0755; /* no setuid/setgid/sticky, no group/other write */
}

static struct timespec mtime_of(int64_t sec, uint32_t nsec)
{
    struct timespec t;

    t.tv_sec = (time_t)sec;
    t.tv_nsec = nsec < 1000000000u ? (long)nsec : 0;
    return t;
}

/* The last component of the current path, and the length of its parent. */
static const char *base_name(const struct fs_writer *s, size_t *parent_len)
{
    const char *slash = memrchr(s->path, '/', s->path_len);

    *parent_len = slash ? (size_t)(slash - s->path) : 0;
    return slash ? slash + 1 : s->path;
}

/* ------------------------------------------------------------ records */

static int record_dir(struct fs_writer *s, const char *path, uint32_t mode,
                      int64_t mtime, uint32_t nsec, bool named, bool mode_set)
{
    if (!s->rec)
        return wfail(s, RZ_E_INTERNAL, 0, NULL, "a directory to create "
                     "on a writer thread");
    if (fs_record_dir(s->rec, path, mode, mtime, nsec, named,
                      s->cur ? s->cur->offset : 0) < 0)
        return wfail(s, RZ_E_NOMEM, 0, NULL, NULL);
    s->rec->dirs[s->rec->ndirs - 1].mode_set = mode_set;
    return 0;
}

static int record_link(struct fs_writer *s, const char *path)
{
    if (fs_record_link(s->rec, path) < 0)
        return wfail(s, RZ_E_NOMEM, 0, NULL, NULL);
    return 0;
}

/* ------------------------------------------------------------ parents */

/*
 * The mode a directory is created with: its final mode when that keeps it
 * owner-writable (rwx, so it can be filled) and the umask leaves it
 * intact, so the end needs no fchmod (*exact); else 0700, fixed at the
 * end.  The staging directory is 0700, so nobody else reaches it anyway.
 */
static mode_t dir_create_mode(const struct fs_writer *s, uint32_t mode,
                              bool *exact)
{
    *exact = (mode & 0700) == 0700 && s->umask >= 0 &&
             (mode & (uint32_t)s->umask) == 0 && !s->same_owner;
    return *exact ? (mode_t)mode : 0700;
}

static int lookup_fail(struct fs_writer *s, int e, const char *what)
{
    if (e == ELOOP || e == EXDEV)
        return wfail(s, RZ_E_POL_ESCAPE, e, NULL, "%s", what);
    return io_fail(s, RZ_E_IO_CREATE, e, what);
}

/*
 * Creates the missing directories of scratch (a parent path) one component
 * at a time; each one we create is recorded to get mode 0755 at the end.
 */
/*
 * An earlier entry of this run left a regular file (or FIFO, device) where
 * a later entry needs a parent directory ("a", then "a/b").  GNU tar
 * replaces the file with a directory, while every reader's listing shows
 * the file: two views of one archive, so it is refused (POLICY.md, "two
 * readers must never see different entries").  A symlink there is left to
 * the lookup, which refuses the entry as an escape.  Returns 1 (leave the
 * name alone) or -1 with the error filled.
 */
static int refuse_file_parent(struct fs_writer *s, int fd, const char *name)
{
    struct stat st;
    char esc[256];
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "fstatat");
    if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))
        return 1;
    rz_escape(s->scratch, strlen(s->scratch), esc, sizeof esc);
    return wfail(s, RZ_E_POL_PARENT_NOT_DIR, 0, NULL, "%s", esc);
}

static int make_parents(struct fs_writer *s, size_t len)
{
    char *p = s->scratch;
    int fd = s->stagefd;
    size_t i = 0;

    while (i < len) {
        size_t end = i;
        int made;
        while (end < len && p[end] != '/')
            end++;
        p[end] = '\0';
        bool exact;
        made = mkdirat(fd, p + i, dir_create_mode(s, 0755, &exact));
        if (made < 0 && errno == EEXIST) {
            if (refuse_file_parent(s, fd, p + i) < 0)
                goto fail;
            errno = EEXIST;
        }
        if (made == 0) {
            if (record_dir(s, p, 0755, 0, 0, false, exact) < 0)
                goto fail;
        } else if (errno != EEXIST) {
            io_fail(s, RZ_E_IO_CREATE, errno, "creating a parent directory");
            goto fail;
        }
        int next = fs_open_beneath(s->resolver, fd, p + i, O_PATH | O_DIRECTORY);
        if (next < 0) {
            lookup_fail(s, errno, "opening a parent directory");
            goto fail;
        }
        if (fd != s->stagefd)
            close(fd);
        fd = next;
        if (end < len)
            p[end] = '/';
        i = end + 1;
    }
    return fd;
fail:
    if (fd != s->stagefd)
        close(fd);
    return -1;
}

/* Opens path[0..len) beneath the staging fd; the result is owned. */
static int open_dir(struct fs_writer *s, const char *path, size_t len,
                    bool create)
{
    memcpy(s->scratch, path, len);
    s->scratch[len] = '\0';
    create = create && s->rec != NULL;  /* a writer thread never creates */
    int fd = fs_open_beneath(s->resolver, s->stagefd, s->scratch, O_PATH | O_DIRECTORY);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR) && create)
        return make_parents(s, len);
    if (fd < 0)
        return lookup_fail(s, errno, "opening the parent directory");
    return fd;
}

/* The parent of the current entry, creating it if needed; not owned. */
static int parent_fd(struct fs_writer *s, size_t len)
{
    if (len == 0)
        return s->stagefd;
    if (s->cache_fd >= 0 && s->cache_len == len &&
        memcmp(s->cache_path, s->path, len) == 0)
        return s->cache_fd;
    int fd = open_dir(s, s->path, len, true);
    if (fd < 0)
        return -1;
    if (s->cache_fd >= 0)
        close(s->cache_fd);
    s->cache_fd = fd;
    s->cache_len = len;
    memcpy(s->cache_path, s->path, len);
    return fd;
}

/* Makes room for a non-directory: an earlier non-directory is unlinked. */
static int clear_nondir(struct fs_writer *s, int pfd, const char *name)
{
    struct stat st;

    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0
                               : io_fail(s, RZ_E_IO_CREATE, errno, "fstatat");
    if (S_ISDIR(st.st_mode))
        return wfail(s, RZ_E_POL_NONDIR_OVER_DIR, 0, NULL,
                       "a directory of that name was extracted earlier");
    if (unlinkat(pfd, name, 0) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno,
                       "removing an earlier entry of that name");
    return 0;
}

static int set_owner(struct fs_writer *s, int pfd, const char *name)
{
    if (!s->same_owner)
        return 0;
    if (fchownat(pfd, name, (uid_t)s->cur->uid, (gid_t)s->cur->gid,
                 AT_SYMLINK_NOFOLLOW) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "fchownat");
    return 0;
}

/* ------------------------------------------------------------ entries */

/*
 * When the umask leaves the final mode intact, the file is created with it
 * and needs no fchmod: one syscall less per file.  Permissions are checked
 * only when a file is opened, so a 0444 file is still written through the
 * descriptor O_CREAT returned.
 */
static int begin_file(struct fs_writer *s, int pfd, const char *name)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    uint32_t mode = final_mode(s->cur->mode);
    bool exact = s->umask >= 0 && (mode & (uint32_t)s->umask) == 0
                 && !s->same_owner;
    mode_t create = exact ? (mode_t)mode : 0600;
    int fd = openat(pfd, name, flags, create);

    if (fd < 0 && errno == EEXIST) {
        if (clear_nondir(s, pfd, name) < 0)
            return -1;
        fd = openat(pfd, name, flags, create);
    }
    if (fd < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "creating the file");
    s->file_fd = fd;
    s->file_mode = mode;
    s->file_chmod = !exact;
    s->file_written = 0;
    return 0;
}

static int end_file(struct fs_writer *s)
{
    struct timespec ts[2] = {{0, UTIME_OMIT},
                             mtime_of(s->cur->mtime, s->cur->mtime_nsec)};
    int fd = s->file_fd;

    s->file_fd = -1;
    if (s->same_owner &&
        fchown(fd, (uid_t)s->cur->uid, (gid_t)s->cur->gid) < 0)
        goto fail;
    if ((s->file_chmod && fchmod(fd, s->file_mode) < 0) || futimens(fd, ts) < 0)
        goto fail;
    /* close reports delayed write errors on some filesystems */
    if (close(fd) < 0 && errno != EINTR)
        return io_fail(s, RZ_E_IO_WRITE, errno, "closing the file");
    return 0;
fail:
    io_fail(s, RZ_E_IO_WRITE, errno, "setting mode, owner or time");
    close(fd);
    return -1;
}

static int begin_dir(struct fs_writer *s, int pfd, const char *name)
{
    struct stat st;
    bool exact;
    mode_t create = dir_create_mode(s, final_mode(s->cur->mode), &exact);

    if (mkdirat(pfd, name, create) < 0) {
        exact = false;           /* it was there: fixed at the end */
        if (errno != EEXIST)
            return io_fail(s, RZ_E_IO_CREATE, errno, "mkdirat");
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return io_fail(s, RZ_E_IO_CREATE, errno, "fstatat");
        if (!S_ISDIR(st.st_mode)) {
            if (unlinkat(pfd, name, 0) < 0 || mkdirat(pfd, name, 0700) < 0)
                return io_fail(s, RZ_E_IO_CREATE, errno,
                               "replacing an earlier non-directory");
        }
    }
    if (set_owner(s, pfd, name) < 0)
        return -1;
    return record_dir(s, s->path, final_mode(s->cur->mode), s->cur->mtime,
                      s->cur->mtime_nsec, true, exact);
}

static int begin_symlink(struct fs_writer *s, int pfd, const char *name)
{
    const struct tar_entry *e = s->cur;
    struct timespec ts[2] = {{0, UTIME_OMIT}, mtime_of(e->mtime, e->mtime_nsec)};

    if (symlinkat(e->linkpath, pfd, name) < 0) {
        if (errno != EEXIST)
            return io_fail(s, RZ_E_IO_CREATE, errno, "symlinkat");
        if (clear_nondir(s, pfd, name) < 0)
            return -1;
        if (symlinkat(e->linkpath, pfd, name) < 0)
            return io_fail(s, RZ_E_IO_CREATE, errno, "symlinkat");
    }
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "setting the link's time");
    if (set_owner(s, pfd, name) < 0)
        return -1;
    if (s->o->flags & FS_SINK_ALLOW_OUTSIDE_LINKS)
        return 0;
    return record_link(s, s->path);
}

/* Refuses a target with a NUL, of an impossible shape, or one that leaves
 * the root lexically. */
static int check_symlink(struct fs_writer *s)
{
    const struct tar_entry *e = s->cur;
    char esc[256];

    enum rz_code shape;

    if (memchr(e->linkpath, '\0', e->linkpath_len) != NULL)
        return wfail(s, RZ_E_POL_NUL_NAME, 0, NULL, "in the link target");
    if ((shape = tar_link_target_check(e->linkpath, e->linkpath_len)))
        return wfail(s, shape, 0, NULL, "%s", shape == RZ_E_POL_EMPTY_NAME
                       ? "the link target is empty"
                       : "in the link target (over 4096 bytes, or a "
                         "component over 255)");
    if ((s->o->flags & FS_SINK_ALLOW_OUTSIDE_LINKS) ||
        !tar_link_escapes(s->path, s->path_len, e->linkpath, e->linkpath_len))
        return 0;
    rz_escape(e->linkpath, e->linkpath_len, esc, sizeof esc);
    return wfail(s, RZ_E_POL_SYMLINK_OUTSIDE, 0, NULL, "-> %s", esc);
}

/* The hardlink target's parent beneath staging (owned unless stagefd). */
static int open_target_parent(struct fs_writer *s, size_t tplen)
{
    if (tplen == 0)
        return s->stagefd;
    memcpy(s->scratch, s->tpath, tplen);
    s->scratch[tplen] = '\0';
    int fd = fs_open_beneath(s->resolver, s->stagefd, s->scratch, O_PATH | O_DIRECTORY);
    if (fd >= 0)
        return fd;
    if (errno == ENOENT || errno == ENOTDIR)
        return wfail(s, RZ_E_POL_HARDLINK, 0, NULL, "target is missing");
    return lookup_fail(s, errno, "opening the link target's directory");
}

static int link_retry(struct fs_writer *s, int tfd, const char *tname, int pfd,
                      const char *name)
{
    if (linkat(tfd, tname, pfd, name, 0) == 0)
        return 0;
    if (errno != EEXIST)
        return io_fail(s, RZ_E_IO_CREATE, errno, "linkat");
    if (clear_nondir(s, pfd, name) < 0)
        return -1;
    if (linkat(tfd, tname, pfd, name, 0) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "linkat");
    return 0;
}

/* Checks that the target (s->tpath) is a regular file of this run, then
 * links it with linkat(..., 0), which never follows a symlink. */
static int begin_hardlink(struct fs_writer *s, int pfd, const char *name)
{
    const char *slash = strrchr(s->tpath, '/');
    size_t tplen = slash ? (size_t)(slash - s->tpath) : 0;
    const char *tname = slash ? slash + 1 : s->tpath;
    struct stat st;
    int rc = -1;
    int tfd = open_target_parent(s, tplen);

    if (tfd < 0)
        return -1;
    if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
        wfail(s, RZ_E_POL_HARDLINK, 0, NULL, "target is missing");
    else if (!S_ISREG(st.st_mode))
        wfail(s, RZ_E_POL_HARDLINK, 0, NULL, "target is a %s",
                S_ISLNK(st.st_mode) ? "symlink" : S_ISDIR(st.st_mode)
                ? "directory" : "special file");
    else if (strcmp(s->tpath, s->path) == 0)
        rc = 0; /* a link to itself: nothing to do */
    else
        rc = link_retry(s, tfd, tname, pfd, name);
    if (tfd != s->stagefd)
        close(tfd);
    return rc;
}

static int begin_special(struct fs_writer *s, int pfd, const char *name)
{
    const struct tar_entry *e = s->cur;
    struct timespec ts[2] = {{0, UTIME_OMIT}, mtime_of(e->mtime, e->mtime_nsec)};
    mode_t type = e->type == TAR_CHR ? S_IFCHR
                : e->type == TAR_BLK ? S_IFBLK : S_IFIFO;
    dev_t dev = makedev(e->devmajor, e->devminor);

    if (mknodat(pfd, name, type | final_mode(e->mode), dev) < 0) {
        if (errno != EEXIST)
            return io_fail(s, RZ_E_IO_CREATE, errno, "mknodat");
        if (clear_nondir(s, pfd, name) < 0)
            return -1;
        if (mknodat(pfd, name, type | final_mode(e->mode), dev) < 0)
            return io_fail(s, RZ_E_IO_CREATE, errno, "mknodat");
    }
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return io_fail(s, RZ_E_IO_CREATE, errno, "setting the time");
    return set_owner(s, pfd, name);
}

/* Limits and type checks that need no name. */
static int check_entry(struct fs_writer *s, const struct tar_entry *e)
{
    const struct fs_sink_options *o = s->o;

    s->entries++;
    if (o->max_entries && s->entries > o->max_entries)
        return wfail(s, RZ_E_LIMIT_ENTRIES, 0, NULL, "limit %llu",
                       (unsigned long long)o->max_entries);
    if (e->type == TAR_OTHER) {
        unsigned char t = (unsigned char)e->typeflag;
        if (t > 0x20 && t < 0x7f)
            return wfail(s, RZ_E_POL_UNKNOWN_TYPE, 0, NULL,
                           "type flag '%c'", t);
        return wfail(s, RZ_E_POL_UNKNOWN_TYPE, 0, NULL,
                       "type flag 0x%02x", t);
    }
    if (e->type != TAR_REG)
        return 0;
    if (o->max_file_size && e->size > o->max_file_size)
        return wfail(s, RZ_E_LIMIT_FILE_SIZE, 0, NULL,
                       "declared size %llu", (unsigned long long)e->size);
    if (o->max_size && e->size > o->max_size - s->bytes)
        return wfail(s, RZ_E_LIMIT_SIZE, 0, NULL,
                       "%llu bytes so far, next file declares %llu",
                       (unsigned long long)s->bytes,
                       (unsigned long long)e->size);
    return 0;
}

static void print_name(const struct fs_writer *s, bool root)
{
    char esc[4 * TAR_PATH_MAX + 8];
    size_t n;

    if (!s->o->on_entry)
        return;
    n = root ? (size_t)snprintf(esc, sizeof esc, "./")
             : rz_escape(s->path, s->path_len, esc, sizeof esc - 1);
    if (!root && s->cur->type == TAR_DIR && n + 1 < sizeof esc)
        esc[n++] = '/', esc[n] = '\0';
    s->o->on_entry(s->o->entry_ctx, esc);
}

/* Normalises the hardlink target; 1 means "skip this entry".  A refused
 * target is reported against the entry, with the target in the detail. */
static int normalize_target(struct fs_writer *s)
{
    const struct tar_entry *e = s->cur;
    struct rz_error terr;
    size_t n;
    bool slash;

    rz_error_clear(&terr);
    int rc = tar_path_normalize(e->linkpath, e->linkpath_len,
                                s->o->strip_components, s->tpath,
                                sizeof s->tpath, &n, &slash, e->offset,
                                &terr);
    if (rc < 0)
        return wfail(s, terr.code, 0, NULL, "in the hardlink target %s%s%s",
                       terr.entry, *terr.detail ? ": " : "", terr.detail);
    if (rc == TAR_PATH_SKIP) {
        warn(s, "hardlink target removed by --strip-components, skipping",
             e->path, e->path_len);
        return 1;
    }
    if (rc == TAR_PATH_ROOT)
        return wfail(s, RZ_E_POL_HARDLINK, 0, NULL,
                       "target is the root directory");
    return rc;
}

/* Everything that can refuse or skip an entry before it touches the disk:
 * returns 0 to go on, 1 to skip the entry, -1 on error. */
static int prepare(struct fs_writer *s, const struct tar_entry *e)
{
    bool slash;
    int rc;

    if (check_entry(s, e) < 0)
        return -1;
    rc = tar_path_normalize(e->path, e->path_len, s->o->strip_components,
                            s->path, sizeof s->path, &s->path_len, &slash,
                            e->offset, s->err);
    if (slash && !s->warned_slash) {
        s->warned_slash = true;
        warn(s, "removing leading '/' from member names", e->path,
             e->path_len);
    }
    if (rc < 0 || rc == TAR_PATH_SKIP)
        return rc < 0 ? -1 : 1;
    if (rc == TAR_PATH_ROOT) {
        if (e->type != TAR_DIR)
            return wfail(s, RZ_E_POL_NONDIR_OVER_DIR, 0, NULL,
                           "the name is the destination itself");
        if (s->rec)
            fs_record_root(s->rec, final_mode(e->mode), e->mtime,
                           e->mtime_nsec);
        if (s->o->verbose > 0)
            print_name(s, true);
        return 1;
    }
    if (e->type == TAR_SYMLINK)
        return check_symlink(s);
    if (e->type == TAR_HARDLINK)
        return normalize_target(s);
    return 0;
}

static bool keep_special(const struct fs_writer *s)
{
    return (s->o->flags & FS_SINK_KEEP_SPECIAL) && geteuid() == 0;
}

int fs_writer_prepare(struct fs_writer *s, const struct tar_entry *e)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    s->cur = e;
    s->file_written = 0;     /* also for a file handed to a writer thread */
    int rc = prepare(s, e);
    if (rc != 0)
        return rc;
    bool special = e->type == TAR_CHR || e->type == TAR_BLK ||
                   e->type == TAR_FIFO;
    if (special && !keep_special(s)) {
        warn(s, e->type == TAR_FIFO ? "skipping FIFO"
                : "skipping device file", s->path, s->path_len);
        return 1;
    }
    if (s->o->verbose > 0)
        print_name(s, false);
    return 0;
}

int fs_writer_parent(struct fs_writer *s)
{
    size_t plen;

    base_name(s, &plen);
    return parent_fd(s, plen) < 0 ? -1 : 0;
}

int fs_writer_create(struct fs_writer *s)
{
    size_t plen;
    const char *name = base_name(s, &plen);
    int pfd = parent_fd(s, plen);

    if (pfd < 0)
        return -1;
    switch (s->cur->type) {
    case TAR_REG:      return begin_file(s, pfd, name);
    case TAR_DIR:      return begin_dir(s, pfd, name);
    case TAR_SYMLINK:  return begin_symlink(s, pfd, name);
    case TAR_HARDLINK: return begin_hardlink(s, pfd, name);
    default:           return begin_special(s, pfd, name);
    }
}

int fs_writer_begin(struct fs_writer *s, const struct tar_entry *e)
{
    int rc = fs_writer_prepare(s, e);

    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return fs_writer_create(s);
}

const char *fs_writer_path(const struct fs_writer *s, size_t *len)
{
    *len = s->path_len;
    return s->path;
}

const char *fs_writer_target(const struct fs_writer *s)
{
    return s->cur && s->cur->type == TAR_HARDLINK ? s->tpath : NULL;
}

static int write_all(struct fs_writer *s, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(s->file_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_fail(s, RZ_E_IO_WRITE, errno, "write");
        if (n == 0)
            return io_fail(s, RZ_E_IO_WRITE, ENOSPC, "write");
        buf += n;
        len -= (size_t)n;
        s->bytes += (uint64_t)n;
        s->file_written += (uint64_t)n;
    }
    return 0;
}

/* --max-file-size and --max-size against `len` more bytes of this file. */
static int check_limits(struct fs_writer *s, uint64_t len)
{
    if (s->o->max_file_size && len > s->o->max_file_size - s->file_written)
        return wfail(s, RZ_E_LIMIT_FILE_SIZE, 0, NULL, "over %llu bytes",
                       (unsigned long long)s->o->max_file_size);
    if (s->o->max_size && len > s->o->max_size - s->bytes)
        return wfail(s, RZ_E_LIMIT_SIZE, 0, NULL, "over %llu bytes",
                       (unsigned long long)s->o->max_size);
    return 0;
}

int fs_writer_take(struct fs_writer *s, size_t len)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    if (check_limits(s, len) < 0)
        return -1;
    s->bytes += len;
    s->file_written += len;
    return 0;
}

int fs_writer_data(struct fs_writer *s, const uint8_t *buf, size_t len)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    if (s->file_fd < 0)
        return 0;
    if (check_limits(s, len) < 0)
        return -1;
    return write_all(s, buf, len);
}

/* A hole of a sparse file: seek past it and extend the file, so it stays
 * a hole on disk.  It counts towards the limits like written bytes. */
int fs_writer_hole(struct fs_writer *s, uint64_t len)
{
    off_t end;

    if (s->err->code != RZ_E_OK)
        return -1;
    if (s->file_fd < 0)
        return 0;
    if (check_limits(s, len) < 0)
        return -1;
    if (len > (uint64_t)INT64_MAX - s->file_written)
        return io_fail(s, RZ_E_IO_WRITE, EFBIG, "making a hole");
    end = lseek(s->file_fd, (off_t)len, SEEK_CUR);
    if (end < 0 || ftruncate(s->file_fd, end) < 0)
        return io_fail(s, RZ_E_IO_WRITE, errno, "making a hole");
    s->bytes += len;
    s->file_written += len;
    return 0;
}

/* --xattrs: user.* only (others need privileges or change security). */
static int set_xattrs(struct fs_writer *s)
{
    const struct tar_entry *e = s->cur;

    if (!(s->o->flags & FS_SINK_XATTRS))
        return 0;
    for (size_t i = 0; i < e->xattr_count; i++) {
        const struct tar_xattr *x = &e->xattrs[i];
        if (strncmp(x->name, "user.", 5) != 0) {
            warn(s, "skipping an extended attribute outside user.*",
                 x->name, strlen(x->name));
            continue;
        }
        if (fsetxattr(s->file_fd, x->name, x->value, x->value_len, 0) == 0)
            continue;
        if (errno == ENOTSUP) {   /* as GNU tar: the filesystem lacks them */
            warn(s, "the filesystem does not support extended attributes",
                 x->name, strlen(x->name));
            return 0;
        }
        return io_fail(s, RZ_E_IO_WRITE, errno,
                       "setting an extended attribute");
    }
    return 0;
}

int fs_writer_end(struct fs_writer *s)
{
    int rc = 0;

    if (s->err->code != RZ_E_OK)
        return -1;
    if (s->file_fd >= 0)
        rc = set_xattrs(s) < 0 ? -1 : end_file(s);
    s->cur = NULL;
    return rc;
}

int fs_writer_put(struct fs_writer *s, const struct tar_entry *e,
                  const char *path, size_t plen, const uint8_t *data,
                  size_t len, uint64_t bytes_before)
{
    const char *name;
    size_t dlen;
    int pfd;

    if (s->err->code != RZ_E_OK)
        return -1;
    s->cur = e;
    s->bytes = bytes_before;
    memcpy(s->path, path, plen);
    s->path[plen] = '\0';
    s->path_len = plen;
    name = base_name(s, &dlen);
    pfd = parent_fd(s, dlen);
    if (pfd < 0 || begin_file(s, pfd, name) < 0 ||
        write_all(s, data, len) < 0) {
        if (s->file_fd >= 0)
            close(s->file_fd);
        s->file_fd = -1;
        s->cur = NULL;
        return -1;
    }
    int rc = end_file(s);
    s->cur = NULL;
    return rc;
}

void fs_writer_init(struct fs_writer *w, const struct fs_sink_options *o,
                    int stagefd, enum fs_resolver resolver, int umask,
                    bool same_owner, struct fs_record *rec,
                    struct rz_error *err)
{
    memset(w, 0, offsetof(struct fs_writer, cache_path));
    w->o = o;
    w->stagefd = stagefd;
    w->resolver = resolver;
    w->umask = umask;
    w->same_owner = same_owner;
    w->rec = rec;
    w->err = err;
    w->cache_fd = w->file_fd = -1;
    w->cur = NULL;
    w->warned_slash = false;
    w->entries = w->bytes = 0;
    w->path_len = 0;
}

void fs_writer_close(struct fs_writer *w)
{
    if (w->file_fd >= 0)
        close(w->file_fd);
    if (w->cache_fd >= 0)
        close(w->cache_fd);
    w->file_fd = w->cache_fd = -1;
    w->cur = NULL;
}
