/*
 * fs_journal.c: the staging directory's lock and journal, and what a run
 * does with staging directories that killed runs left behind (POLICY.md
 * rule 4).  dpkg's discipline is the model: new content is written under
 * names nobody uses (our staging tree, dpkg's .dpkg-new), a durable record
 * says when the switch-over began, and every switch is a rename.
 *
 * Layout: STAGING/lock and STAGING/tree.  The lock file is created already
 * flock'ed (O_TMPFILE, flock, then linkat into place), so no other run
 * ever finds it unlocked while its owner lives; the kernel drops the lock
 * when the owner dies, however it dies.  It stays empty until the commit
 * point, when the journal is written into it and fsync'ed:
 *
 *   merge     written after the dry run, before the first entry moves
 *             (after syncfs of the staged tree when the merge meets a name
 *             DIR already has, so a power cut cannot leave replaced entries
 *             whose new data never reached the disk);
 *   publish   --replace where renameat2(RENAME_EXCHANGE) is refused: before
 *             the old tree is moved aside.
 *
 * A run, before making its own staging directory, looks beside the
 * destination (".NAME.rzup-XXXXXX") and inside it (".rzup-staging-XXXXXX")
 * and, for each one whose lock it can take, does what fs_recovery_decide
 * says: remove it (nothing was committed: a roll-back that touches nothing
 * outside it), finish the merge (move what is left, apply the journal's
 * directory modes), or rename the tree into place.
 */
#include "fs_sink_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define SUFFIX_LEN 6
/* The lock file starts with one fixed-size line, written before anyone can
 * see the file: the destination's mtime when the staging is inside it
 * (creating it there changed that mtime; a roll-back puts it back).  The
 * journal follows it. */
#define PRELUDE 64

static int write_prelude(struct fs_sink *s, int fd)
{
    char line[PRELUDE + 1];

    if (s->mode == FS_PUB_MERGE)
        snprintf(line, sizeof line, "rzup-dest-mtime %lld %ld",
                 (long long)s->dest_mtime.tv_sec, s->dest_mtime.tv_nsec);
    else
        snprintf(line, sizeof line, "rzup-dest-mtime none");
    size_t n = strlen(line);
    memset(line + n, ' ', PRELUDE - 1 - n);
    line[PRELUDE - 1] = '\n';
    return pwrite(fd, line, PRELUDE, 0) == PRELUDE ? 0 : -1;
}

/* ------------------------------------------------------------ the lock */

/* Links an O_TMPFILE into dirfd as `name`. */
static int link_tmpfile(int fd, int dirfd, const char *name)
{
    char proc[64];

    if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno != ENOENT && errno != EPERM && errno != EINVAL)
        return -1;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

int fs_stage_lock(struct fs_sink *s)
{
    struct stat st;
    int fd = openat(s->stagedirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
                    0600);

    if (fd >= 0) {
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || write_prelude(s, fd) < 0 ||
            link_tmpfile(fd, s->stagedirfd, "lock") < 0)
            goto fail;
    } else {
        /* no O_TMPFILE here (NFS, some FUSE): create, then lock; a cleaner
         * that got in between is seen as a lock we cannot take, or as a
         * file that is no longer linked: try again under another name */
        fd = openat(s->stagedirfd, "lock", O_CREAT | O_EXCL | O_RDWR |
                    O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            errno = ENOENT;
            goto fail;
        }
        if (write_prelude(s, fd) < 0)
            goto fail;
    }
    if (fstat(fd, &st) < 0 || st.st_nlink == 0) {
        errno = ENOENT;
        goto fail;
    }
    s->lockfd = fd;
    return 0;
fail:;
    int e = errno == EWOULDBLOCK ? ENOENT : errno;
    close(fd);
    errno = e;
    return -1;
}

/* ------------------------------------------------------------ the commit */

static int write_all(int fd, const char *buf, size_t len)
{
    off_t off = 0;

    while ((size_t)off < len) {
        ssize_t n = pwrite(fd, buf + off, len - (size_t)off, PRELUDE + off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += n;
    }
    return ftruncate(fd, PRELUDE + (off_t)len);
}

static int build_journal(struct fs_sink *s, enum fs_jkind kind, char **buf,
                         size_t *len)
{
    size_t cap = 0;

    *buf = NULL;
    *len = 0;
    if (fs_journal_header(buf, len, &cap, kind) < 0)
        return -1;
    for (size_t i = 0; kind == FS_J_MERGE && i < s->rec.ndirs; i++) {
        const struct fs_dir_rec *d = &s->rec.dirs[i];
        struct fs_jrec r = {'d', d->mode, d->mtime_nsec,
                            (d->named ? FS_JREC_NAMED : 0) |
                            (d->existed ? FS_JREC_EXISTED : 0) |
                            (d->followed ? FS_JREC_FOLLOWED : 0),
                            d->mtime, d->path, strlen(d->path), NULL, 0};
        if (fs_journal_record(buf, len, &cap, &r) < 0)
            return -1;
    }
    for (size_t i = 0; kind == FS_J_MERGE && i < s->nremaps; i++) {
        struct fs_jrec r = {'r', 0, 0, 0, 0, s->remaps[i].from,
                            strlen(s->remaps[i].from), s->remaps[i].to,
                            strlen(s->remaps[i].to)};
        if (fs_journal_record(buf, len, &cap, &r) < 0)
            return -1;
    }
    return fs_journal_end(buf, len, &cap);
}

int fs_journal_commit(struct fs_sink *s, enum fs_jkind kind)
{
    char *buf;
    size_t len;

    if (build_journal(s, kind, &buf, &len) < 0)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    /* The staged data must be on disk before anything depends on it: before
     * a merge replaces or merges into what DIR already holds.  A merge that
     * meets no existing name (DIR empty, as after mkdir -p) replaces
     * nothing, so it publishes a new tree, and like a rename publish (absent
     * mode, as with tar) it is not synced: the syncfs waited for the whole
     * tree's writeback, 0.33 s of a 0.62 s run on toolchain.tar here. */
    int rc = 0;
    if (kind != FS_J_MERGE || s->meets_existing)
        rc = syncfs(s->stagefd);
    if (rc == 0)
        rc = write_all(s->lockfd, buf, len);
    if (rc == 0)
        rc = fsync(s->lockfd);
    if (rc == 0)
        rc = fsync(s->stagedirfd);
    free(buf);
    if (rc < 0)
        return pub_fail(s, errno, s->stage_path, "writing the journal");
    return 0;
}

/* ------------------------------------------------------------ recovery */

struct stale {
    int scanfd;          /* the directory holding it */
    const char *name;
    int dirfd, lockfd;
    char *journal;       /* the whole lock file */
    size_t journal_len;
    enum fs_jkind kind;
    bool have_mtime;     /* the prelude's destination mtime */
    struct timespec dest_mtime;
};

/* The journal proper, after the prelude. */
static const char *jbody(const struct stale *st, size_t *len)
{
    *len = st->journal_len > PRELUDE ? st->journal_len - PRELUDE : 0;
    return st->journal + (st->journal_len > PRELUDE ? PRELUDE : st->journal_len);
}

/* Reads the whole lock file (journals are small: one line per directory). */
static int read_journal(struct stale *st)
{
    struct stat sb;

    if (fstat(st->lockfd, &sb) < 0)
        return -1;
    if (sb.st_size > (off_t)1 << 30) {
        errno = EFBIG;
        return -1;
    }
    st->journal = malloc((size_t)sb.st_size + 1);
    if (!st->journal)
        return -1;
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = pread(st->lockfd, st->journal + got,
                          (size_t)sb.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    st->journal_len = got;
    st->journal[got] = '\0';
    long long sec;
    long nsec;
    if (got >= PRELUDE && sscanf(st->journal, "rzup-dest-mtime %lld %ld",
                                 &sec, &nsec) == 2) {
        st->have_mtime = true;
        st->dest_mtime.tv_sec = (time_t)sec;
        st->dest_mtime.tv_nsec = nsec;
    }
    size_t blen;
    const char *body = jbody(st, &blen);
    st->kind = fs_journal_parse(body, blen, NULL, NULL);
    if ((int)st->kind < 0)
        st->kind = FS_J_NONE;
    return 0;
}

/* Takes the lock of scanfd/name: 1 taken, 0 held by a live run, -1. */
static int take_lock(struct stale *st)
{
    struct stat sb;

    for (int attempt = 0; attempt < 3; attempt++) {
        st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_NOFOLLOW |
                            O_CLOEXEC);
        if (st->lockfd < 0 && errno == ENOENT)   /* a run just starting, or
                                                    one killed before: our
                                                    lock wins either way */
            st->lockfd = openat(st->dirfd, "lock", O_CREAT | O_EXCL | O_RDWR
                                | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (st->lockfd < 0 && errno == EEXIST)
            continue;
        if (st->lockfd < 0)
            return -1;
        if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0) {
            close(st->lockfd);
            st->lockfd = -1;
            return errno == EWOULDBLOCK ? 0 : -1;
        }
        if (fstat(st->lockfd, &sb) == 0 && sb.st_nlink > 0)
            return 1;
        close(st->lockfd);   /* removed by another cleaner meanwhile */
        st->lockfd = -1;
        errno = ENOENT;
        return -1;
    }
    return -1;
}

static int load_record(void *ctx, const struct fs_jrec *r)
{
    struct fs_sink *t = ctx;

    if (r->type == 'r') {
        if (t->nremaps == t->remaps_cap) {
            size_t cap = t->remaps_cap ? 2 * t->remaps_cap : 8;
            struct fs_remap *p = realloc(t->remaps, cap * sizeof *p);
            if (!p)
                return -1;
            t->remaps = p;
            t->remaps_cap = cap;
        }
        struct fs_remap *m = &t->remaps[t->nremaps];
        m->from = strndup(r->path, r->path_len);
        m->to = strndup(r->to, r->to_len);
        if (!m->from || !m->to) {
            free(m->from);
            free(m->to);
            return -1;
        }
        t->nremaps++;
        return 0;
    }
    if (t->rec.ndirs == t->rec.dirs_cap) {
        size_t cap = t->rec.dirs_cap ? 2 * t->rec.dirs_cap : 64;
        struct fs_dir_rec *p = realloc(t->rec.dirs, cap * sizeof *p);
        if (!p)
            return -1;
        t->rec.dirs = p;
        t->rec.dirs_cap = cap;
    }
    struct fs_dir_rec *d = &t->rec.dirs[t->rec.ndirs];
    memset(d, 0, sizeof *d);
    d->path = strndup(r->path, r->path_len);
    if (!d->path)
        return -1;
    d->mode = r->mode & 0755;
    d->mtime = r->mtime;
    d->mtime_nsec = r->nsec;
    d->named = r->flags & FS_JREC_NAMED;
    d->existed = r->flags & FS_JREC_EXISTED;
    d->followed = r->flags & FS_JREC_FOLLOWED;
    d->offset = t->rec.ndirs;   /* journal order */
    t->rec.ndirs++;
    return 0;
}

/* A sink borrowing s's options and fds, for the killed run's staging. */
static void recovery_sink(struct fs_sink *t, struct fs_sink *s,
                          struct rz_error *err, struct stale *st, int destfd)
{
    memset(t, 0, sizeof *t);
    t->o = s->o;
    t->err = err;
    t->mode = FS_PUB_MERGE;
    t->resolver = s->resolver;
    t->rename_compat = s->rename_compat;
    t->same_owner = s->same_owner;
    t->parentfd = st->scanfd;
    t->destfd = destfd;
    t->stagedirfd = st->dirfd;
    t->lockfd = st->lockfd;
    size_t n = strnlen(st->name, sizeof t->stage_name - 1);
    memcpy(t->stage_name, st->name, n);
    t->stage_name[n] = '\0';
    snprintf(t->stage_suffix, sizeof t->stage_suffix, "%.6s",
             n >= SUFFIX_LEN ? st->name + n - SUFFIX_LEN : st->name);
    t->stage_path = (char *)st->name;
    t->stage_dir = (char *)"";
}

static int finish_merge(struct fs_sink *s, struct stale *st, int destfd)
{
    struct fs_sink t;
    struct rz_error err;
    int rc = -1;

    rz_error_clear(&err);
    recovery_sink(&t, s, &err, st, destfd);
    size_t blen;
    const char *body = jbody(st, &blen);
    if (fs_journal_parse(body, blen, load_record, &t) < 0)
        goto out;
    fs_record_sort(&t.rec);
    t.stagefd = openat(st->dirfd, "tree", DIR_FLAGS);
    if (t.stagefd < 0)
        goto out;
    t.dest_touched = true;
    if (fs_merge_pass(&t) < 0 || fs_fix_dirs(&t, destfd, RZ_E_IO_PUBLISH) < 0)
        goto out;
    rc = 0;
    fs_note(s, "completed the merge of a killed run (%s): %llu entries "
            "moved", st->name, (unsigned long long)t.renames);
out:
    if (rc < 0 && s->o.warn) {
        char msg[RZ_ERROR_DETAIL_MAX + 300];
        snprintf(msg, sizeof msg, "could not complete the merge a killed run "
                 "left in %.255s (%s%s%.300s); it is kept", st->name,
                 rz_code_message(err.code), *err.detail ? ": " : "",
                 err.detail);
        s->o.warn(s->o.warn_ctx, msg);
    }
    if (t.stagefd >= 0)
        close(t.stagefd);
    s->rename_compat = t.rename_compat;
    fs_free_records(&t);
    return rc;
}

static bool stale_name(const char *name, const char *prefix)
{
    size_t p = strlen(prefix), n = strlen(name);

    if (n != p + SUFFIX_LEN || strncmp(name, prefix, p) != 0)
        return false;
    for (size_t i = p; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9')))
            return false;
    return true;
}

/* One candidate; returns true when it published the destination. */
static bool recover_one(struct fs_sink *s, int scanfd, const char *name,
                        int destfd, const char *dest_name)
{
    struct stale st = {scanfd, name, -1, -1, NULL, 0, FS_J_NONE, false,
                       {0, 0}};
    struct stat sb;
    bool published = false;

    st.dirfd = openat(scanfd, name, DIR_FLAGS);
    if (st.dirfd < 0)
        return false;
    int locked = take_lock(&st);
    if (locked <= 0 || read_journal(&st) < 0)
        goto out;
    bool has_tree = fstatat(st.dirfd, "tree", &sb, AT_SYMLINK_NOFOLLOW) == 0
                    && S_ISDIR(sb.st_mode);
    bool dest_exists = destfd >= 0 ||
        (dest_name && fstatat(scanfd, dest_name, &sb, AT_SYMLINK_NOFOLLOW)
         == 0);
    int own_dest = -1;
    switch (fs_recovery_decide(false, st.kind, has_tree, dest_exists)) {
    case FS_REC_LEAVE:
        goto out;
    case FS_REC_FINISH_MERGE:
        if (destfd < 0 && dest_name)
            own_dest = openat(scanfd, dest_name, DIR_FLAGS);
        if (finish_merge(s, &st, destfd >= 0 ? destfd : own_dest) < 0) {
            if (own_dest >= 0)
                close(own_dest);
            goto out;            /* kept, and said so */
        }
        if (own_dest >= 0)
            close(own_dest);
        break;
    case FS_REC_PUBLISH_TREE:
        if (fs_rename_noreplace(s, st.dirfd, "tree", scanfd, dest_name) == 0) {
            published = true;
            fs_note(s, "published the tree a killed run had committed (%s)",
                    name);
        }
        break;
    case FS_REC_REMOVE:
        break;
    }
    if (fs_remove_tree(s, st.dirfd, "tree") == 0 &&
        fs_remove_tree(s, scanfd, name) == 0) {
        fs_note(s, "removed the staging directory of a killed run: %s",
                name);
        /* staged inside the destination: its mtime as before that run */
        if (scanfd == destfd && st.have_mtime)
            futimens(destfd, (struct timespec[2]){{0, UTIME_OMIT},
                                                  st.dest_mtime});
    }
    else if (s->o.warn) {
        char msg[600];
        snprintf(msg, sizeof msg, "could not remove the staging directory a "
                 "killed run left: %.255s (%s)", name, strerror(errno));
        s->o.warn(s->o.warn_ctx, msg);
    }
out:
    if (st.lockfd >= 0)
        close(st.lockfd);
    close(st.dirfd);
    free(st.journal);
    return published;
}

/* Every matching directory in scanfd (names are read first: the scan
 * removes some). */
static bool scan(struct fs_sink *s, int scanfd, const char *prefix,
                 int destfd, const char *dest_name)
{
    int fd = openat(scanfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    char found[16][256];
    size_t n = 0;
    bool published = false, more = true;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    while (more) {       /* at most 16 at a time: no list grows unbounded */
        n = 0;
        rewinddir(d);
        while (n < 16 && (de = readdir(d)) != NULL)
            if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
                stale_name(de->d_name, prefix))
                snprintf(found[n++], sizeof found[0], "%s", de->d_name);
        more = n == 16;
        size_t before = n;
        for (size_t i = 0; i < n; i++) {
            struct stat sb;
            if (fstatat(scanfd, found[i], &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                !S_ISDIR(sb.st_mode))
                continue;
            published |= recover_one(s, scanfd, found[i], destfd, dest_name);
            if (fstatat(scanfd, found[i], &sb, AT_SYMLINK_NOFOLLOW) == 0)
                before--;        /* still there (live, or kept) */
        }
        if (before == 0)
            more = false;        /* nothing removable this round: stop */
    }
    closedir(d);
    return published;
}

/* Merging: the destination's parent and name, to look beside it too. */
static int open_parent(const struct fs_sink *s, char *name, size_t cap)
{
    const char *dest = s->dest_path ? s->dest_path : s->o.dest;
    char *copy = strdup(dest);
    int fd = -1;

    if (!copy)
        return -1;
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    if (*base && strcmp(base, ".") && strcmp(base, "..") &&
        strlen(base) < cap) {
        snprintf(name, cap, "%s", base);
        if (slash == copy)
            fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else if (slash) {
            *slash = '\0';
            fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else {
            fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
    }
    free(copy);
    return fd;
}

bool fs_recover_stale(struct fs_sink *s)
{
    char prefix[300], name[256];
    bool published = false;

    if (s->mode == FS_PUB_MERGE) {
        (void)scan(s, s->destfd, ".rzup-staging-", s->destfd, NULL);
        int pfd = open_parent(s, name, sizeof name);
        if (pfd >= 0) {
            snprintf(prefix, sizeof prefix, ".%.200s.rzup-", name);
            (void)scan(s, pfd, prefix, -1, name);
            close(pfd);
        }
    } else if (s->dest_name && s->parentfd >= 0) {
        snprintf(prefix, sizeof prefix, ".%.200s.rzup-", s->dest_name);
        published = scan(s, s->parentfd, prefix, -1, s->dest_name);
    }
    return published;
}
