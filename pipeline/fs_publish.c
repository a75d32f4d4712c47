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
 * fs_open_beneath (openat2 or the checked walk) or openat(O_NOFOLLOW), and
 * rename/unlink act on the link itself.  One exception, by policy: when
 * merging, a symlink that was already in the destination where the archive
 * has a directory is followed if it leads to a directory inside the
 * destination (merged /usr); that is resolved lexically by fs_tree_resolve
 * and the directory it names is then opened without following anything.
 *
 * The staging directory holds "lock" (flock'ed by the live run; after the
 * commit point also the journal, see fs_journal.c) and "tree", the staged
 * root.  A merge moves each entry with one rename over the old one; across
 * a mount point inside the destination (EXDEV) a file is copied to a
 * temporary name ".rzup-new-SUFFIX" beside its target and renamed over it.
 */
#include "fs_sink_private.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
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

/* --replace swaps by rename, which can move neither "/" nor a mount
 * point: say so instead of failing with EBUSY/EXDEV after the download. */
static int refuse_unswappable(struct fs_sink *s, const char *dest)
{
    struct statx sx, px;

    if (strcmp(dest, "/") == 0)
        return dest_fail(s, EBUSY, "--replace cannot swap the root "
                         "directory \"/\"; drop --replace to merge into it");
    if (statx(AT_FDCWD, dest, 0, STATX_INO, &sx) < 0 ||
        statx(s->parentfd, ".", 0, STATX_INO, &px) < 0)
        return dest_fail(s, errno, "cannot examine the destination");
    bool root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    if (root || sx.stx_dev_major != px.stx_dev_major ||
        sx.stx_dev_minor != px.stx_dev_minor)
        return dest_fail(s, EXDEV, "--replace cannot swap a mount point (a "
                         "rename cannot move it); drop --replace to merge "
                         "into it, or replace a directory inside it");
    return 0;
}

/*
 * The destination path is trusted (it comes from the user), so it may go
 * through symlinks; everything below it may not.  A destination that is
 * itself a symlink is resolved once, here, and every mode works on the
 * directory it leads to (the link itself is never replaced); a dangling
 * one is refused.
 */
static int real_dest(struct fs_sink *s, const char **dest)
{
    struct stat st;

    if (lstat(*dest, &st) < 0 || !S_ISLNK(st.st_mode))
        return 0;
    char *r = realpath(*dest, NULL);
    if (!r)
        return dest_fail(s, errno, "is a symlink that does not lead to an "
                         "existing directory; fix or remove the link");
    free(s->dest_path);
    s->dest_path = r;
    *dest = r;
    return 0;
}

/* Decides how to publish. */
static int resolve_dest(struct fs_sink *s)
{
    const char *dest = s->o.dest;
    struct stat st;

    if (!dest || !*dest)
        return rz_error_set(s->err, RZ_E_USAGE, 0, RZ_OFF_NONE, 0, NULL, 0,
                            "no destination directory");
    if (real_dest(s, &dest) < 0)
        return -1;
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
    if (exists && strcmp(dest, "/") == 0)
        return refuse_unswappable(s, dest);
    if (open_dest_parent(s, dest) < 0)
        return -1;
    if (exists) {
        if (!S_ISDIR(st.st_mode))
            return dest_fail(s, ENOTDIR, "not a directory");
        s->mode = FS_PUB_REPLACE;
        return refuse_unswappable(s, dest);
    }
    s->mode = FS_PUB_ABSENT;
    s->created_dest = true;
    if (fstatat(s->parentfd, s->dest_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return dest_fail(s, EEXIST, "a dangling symlink is in the way");
    return 0;
}

/* Forgets what resolve_dest found (the recovery may have changed it). */
static void unresolve_dest(struct fs_sink *s)
{
    if (s->destfd >= 0)
        close(s->destfd);
    if (s->parentfd >= 0)
        close(s->parentfd);
    s->destfd = s->parentfd = -1;
    free(s->dest_name);
    free(s->stage_dir);
    s->dest_name = s->stage_dir = NULL;
    s->created_dest = false;
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

/* One attempt at stage_name: the directory, its lock, its tree.  ENOENT
 * means a cleaning run removed it before the lock was in place: retry. */
static int try_staging(struct fs_sink *s)
{
    if (mkdirat(s->parentfd, s->stage_name, 0700) < 0)
        return -1;
    s->staging_exists = true;
    s->stagedirfd = openat(s->parentfd, s->stage_name, DIR_FLAGS);
    if (s->stagedirfd < 0 || fs_stage_lock(s) < 0 ||
        mkdirat(s->stagedirfd, "tree", 0700) < 0)
        return -1;
    s->stagefd = openat(s->stagedirfd, "tree", DIR_FLAGS);
    return s->stagefd < 0 ? -1 : 0;
}

static void drop_staging_fds(struct fs_sink *s)
{
    if (s->stagefd >= 0)
        close(s->stagefd);
    if (s->lockfd >= 0)
        close(s->lockfd);
    if (s->stagedirfd >= 0)
        close(s->stagedirfd);
    s->stagefd = s->lockfd = s->stagedirfd = -1;
}

static int make_staging(struct fs_sink *s)
{
    unsigned attempt;

    for (attempt = 0; attempt < 100; attempt++) {
        random_suffix(s->stage_suffix, attempt);
        if (s->mode == FS_PUB_MERGE)
            snprintf(s->stage_name, sizeof s->stage_name,
                     ".rzup-staging-%s", s->stage_suffix);
        else   /* keep within NAME_MAX whatever the destination's name */
            snprintf(s->stage_name, sizeof s->stage_name, ".%.200s.rzup-%s",
                     s->dest_name, s->stage_suffix);
        if (try_staging(s) == 0)
            break;
        int e = errno;
        drop_staging_fds(s);
        if (s->staging_exists)
            (void)fs_remove_tree(s, s->parentfd, s->stage_name);
        s->staging_exists = false;
        if (e != EEXIST && e != ENOENT)
            return dest_fail(s, e, "cannot create the staging directory");
    }
    if (attempt == 100)
        return dest_fail(s, EEXIST, "cannot create the staging directory");
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
    s->parentfd = s->destfd = s->stagefd = -1;
    s->stagedirfd = s->lockfd = -1;
    s->same_owner = (o->flags & FS_SINK_SAME_OWNER) && geteuid() == 0;
    s->umask = read_umask();
    const char *hook = getenv("RZUP_TEST_STOP_AFTER_RENAMES");
    s->stop_after = hook ? strtoull(hook, NULL, 10) : 0;
    if ((o->flags & FS_SINK_SAME_OWNER) && !s->same_owner && o->warn)
        o->warn(o->warn_ctx, "--same-owner needs root; owners are ignored");
    if (resolve_dest(s) < 0) {
        fs_sink_free(s);
        return -1;
    }
    s->resolver = fs_resolver_probe(s->parentfd, &s->resolver_errno);
    if (s->resolver == FS_RESOLVE_OPENAT2)
        fs_note(s, "containment: openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)");
    else
        fs_note(s, "containment: checked openat(O_NOFOLLOW) walk, since "
                "openat2 answered %s", strerror(s->resolver_errno));
    /* staging left by killed runs; it may have published the destination */
    if (fs_recover_stale(s)) {
        unresolve_dest(s);
        rz_error_clear(s->err);
        if (resolve_dest(s) < 0) {
            fs_sink_free(s);
            return -1;
        }
    }
    struct stat st;  /* after the recovery, which may have changed it */
    if (s->mode == FS_PUB_MERGE && fstat(s->destfd, &st) == 0)
        s->dest_mtime = st.st_mtim;
    if (make_staging(s) < 0) {
        fs_sink_free(s);
        return -1;
    }
    *out = s;
    return 0;
}


/* ------------------------------------------------------------ finish */

/* Unlinks a refused symlink that is already in the destination. */
static void unlink_beneath(struct fs_sink *s, int rootfd, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *parent = slash ? strndup(path, (size_t)(slash - path)) : NULL;
    int pfd = parent ? fs_open_beneath(s->resolver, rootfd, parent,
                                       O_PATH | O_DIRECTORY)
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
    char where[TAR_PATH_MAX + 1];

    for (size_t i = 0; i < s->rec.nlinks; i++) {
        const char *path = s->rec.links[i];
        if (published && s->nremaps > 0) {
            if (fs_remap_path(s, path, where, sizeof where) < 0)
                return pub_fail(s, errno, path, "path too long");
            path = where;
        }
        int fd = fs_resolve_beneath(s->resolver, rootfd, path);
        if (fd >= 0) {
            close(fd);
            continue;
        }
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            continue;
        int e = errno;
        if (e != EXDEV)
            return fs_fail(s, published ? RZ_E_IO_PUBLISH : RZ_E_IO_CREATE,
                           e, s->rec.links[i], "checking the symlink's target");
        if (published)
            unlink_beneath(s, rootfd, path);
        return fs_fail(s, RZ_E_POL_SYMLINK_OUTSIDE, 0, s->rec.links[i],
                       published ? "through a symlink already in the "
                       "destination; the link was removed"
                       : "through other symlinks of the archive");
    }
    return 0;
}

/* The root: its entry's mode and mtime, else 0755, for a tree this run
 * creates; a destination that existed keeps its own (POLICY.md rule 3). */
static int fix_root(struct fs_sink *s, int fd, enum rz_code code)
{
    if (s->mode == FS_PUB_MERGE)
        return 0;
    if (fs_fix_fd(fd, s->rec.root_named ? s->rec.root_mode : 0755, true,
               s->rec.root_named,
               s->rec.root_mtime, s->rec.root_nsec) < 0)
        return fs_fail(s, code, errno, NULL, "setting the root's mode");
    return 0;
}

int fs_sink_finish(struct fs_sink *s)
{
    if (s->err->code != RZ_E_OK)
        return -1;
    if (s->finished || !s->staging_exists)
        return fs_fail(s, RZ_E_INTERNAL, 0, NULL, "fs_sink_finish misuse");
    if (fs_sink_stop_writers(s, true) < 0)
        return -1;
    if (check_links(s, s->stagefd, false) < 0)
        return -1;
    fs_record_sort(&s->rec);
    if (s->mode != FS_PUB_MERGE &&
        (fs_fix_dirs(s, s->stagefd, RZ_E_IO_CREATE) < 0 ||
         fix_root(s, s->stagefd, RZ_E_IO_CREATE) < 0))
        return -1;
    s->finished = true;
    return 0;
}

/* ------------------------------------------------------------ publish */


/* Removes the whole staging directory (lock last, so a killed removal is
 * still recognised); warns, never claims, when something stays. */
static int remove_staging(struct fs_sink *s)
{
    if (s->stagefd >= 0)
        close(s->stagefd);
    s->stagefd = -1;
    if (s->stagedirfd >= 0 && fs_remove_tree(s, s->stagedirfd, "tree") < 0)
        goto fail;
    if (fs_remove_tree(s, s->parentfd, s->stage_name) < 0)
        goto fail;
    if (s->lockfd >= 0)
        close(s->lockfd);
    if (s->stagedirfd >= 0)
        close(s->stagedirfd);
    s->lockfd = s->stagedirfd = -1;
    s->staging_exists = false;
    return 0;
fail:;
    int e = errno;
    if (s->o.warn) {
        char msg[TAR_PATH_MAX + 200];
        snprintf(msg, sizeof msg, "could not remove the staging directory "
                 "%s (%s); the next run into this destination removes it",
                 s->stage_path ? s->stage_path : s->stage_name, strerror(e));
        s->o.warn(s->o.warn_ctx, msg);
    }
    errno = e;
    return -1;
}

/* Merge (the default, like tar -C): a dry run first (a non-directory over
 * a directory, destination symlinks where the archive has directories, and
 * every staged symlink followed through the merged tree, since an old
 * symlink in the destination can complete an escaping chain), so that a
 * refusal changes nothing; then the commit (journal), the moves, the
 * kernel's re-check of the staged links where they now are, modes, and
 * last the staging directory.  A failure after the commit keeps the
 * staging directory and its journal: the next run completes the merge. */
static int publish_merge(struct fs_sink *s)
{
    if (fs_merge_dry_run(s) < 0 || fs_check_merged_links(s) < 0 ||
        fs_journal_commit(s, FS_J_MERGE) < 0)
        return -1;
    s->dest_touched = true;
    if (fs_merge_pass(s) < 0) {
        s->published = true;   /* not removed: the journal completes it */
        if (s->o.warn) {
            char msg[TAR_PATH_MAX + 200];
            snprintf(msg, sizeof msg, "the merge stopped part-way; what was "
                     "not moved yet is kept in %s, and the next run into "
                     "this destination completes it", s->stage_path);
            s->o.warn(s->o.warn_ctx, msg);
        }
        return -1;
    }
    /* every entry has moved: from here a failure leaves nothing to finish */
    int rc = check_links(s, s->destfd, true) < 0 ||
             fs_fix_dirs(s, s->destfd, RZ_E_IO_PUBLISH) < 0 ? -1 : 0;
    s->published = true;
    int removed = remove_staging(s);
    /* the destination keeps its own mtime, as it keeps its mode */
    futimens(s->destfd, (struct timespec[2]){{0, UTIME_OMIT}, s->dest_mtime});
    if (removed < 0 && rc == 0)
        return fs_fail(s, RZ_E_IO_CLEANUP, errno, s->stage_path,
                       "the merge is complete; this directory is left over");
    return rc;
}

/* Two runs into one absent destination: the other published first, so
 * this one merges into what it published. */
static int merge_instead(struct fs_sink *s)
{
    char *path = s->stage_dir;
    size_t n = strlen(path) + strlen(s->dest_name) + 2;
    char *dest = malloc(n);
    struct stat st;

    if (!dest)
        return fs_fail(s, RZ_E_NOMEM, 0, NULL, NULL);
    snprintf(dest, n, "%s%s%s", path, strcmp(path, "/") ? "/" : "",
             s->dest_name);
    s->destfd = openat(s->parentfd, s->dest_name, DIR_FLAGS);
    if (s->destfd < 0 || fstat(s->destfd, &st) < 0) {
        int e = errno;
        free(dest);
        return pub_fail(s, e, s->stage_path, "another run created the "
                        "destination, and it cannot be opened to merge");
    }
    fs_note(s, "another run published %s first: merging into it", dest);
    free(dest);
    s->dest_mtime = st.st_mtim;
    s->mode = FS_PUB_MERGE;
    s->created_dest = false;
    (void)fchmod(s->stagefd, 0700);     /* finish gave it the final mode */
    return publish_merge(s);
}

static int publish_rename(struct fs_sink *s)
{
    if (fs_rename_noreplace(s, s->stagedirfd, "tree", s->parentfd,
                            s->dest_name) < 0)
        return errno == EEXIST ? merge_instead(s)
                               : pub_fail(s, errno, s->stage_path,
                                          "renaming into place");
    s->published = true;
    if (remove_staging(s) < 0)
        return fs_fail(s, RZ_E_IO_CLEANUP, errno, s->stage_path,
                       "installed; this directory is left over");
    return 0;
}

/* --replace without RENAME_EXCHANGE: the old tree moves into our staging
 * directory, the new one to its place.  Between the two renames the path
 * is missing; the journal (committed first) makes the next run finish the
 * second rename if this one is killed there. */
static int replace_compat(struct fs_sink *s)
{
    if (fs_journal_commit(s, FS_J_PUBLISH) < 0)
        return -1;
    if (renameat(s->parentfd, s->dest_name, s->stagedirfd, "old") < 0)
        return pub_fail(s, errno, s->stage_path, "moving the old tree aside");
    fs_counted_rename(s);
    if (fs_rename_noreplace(s, s->stagedirfd, "tree", s->parentfd,
                            s->dest_name) < 0) {
        int e = errno;
        if (renameat(s->stagedirfd, "old", s->parentfd, s->dest_name) < 0)
            return pub_fail(s, e, s->stage_path, "renaming into place, and "
                            "the old tree could not be put back: it is in "
                            "this directory, as \"old\"");
        return pub_fail(s, e, s->stage_path, "renaming into place; the old "
                        "tree was put back");
    }
    return 0;
}

/* --replace: one atomic exchange, then the old tree (now under the staging
 * name) is removed.  A destination that vanished meanwhile is renamed to. */
static int publish_replace(struct fs_sink *s)
{
    int rc = -1;

    if (!s->rename_compat)
        rc = renameat2(s->stagedirfd, "tree", s->parentfd, s->dest_name,
                       RENAME_EXCHANGE);
    if (rc < 0 && errno == ENOENT)
        return publish_rename(s);
    if (rc < 0 && (s->rename_compat || errno == EINVAL)) {
        if (!s->rename_compat)
            fs_note(s, "renameat2 flags are not supported here: using "
                    "check-then-rename (see README)");
        s->rename_compat = true;
        rc = replace_compat(s);
        if (rc < 0)
            return -1;
    } else if (rc < 0) {
        return pub_fail(s, errno, s->stage_path,
                        "exchanging with the destination");
    }
    s->published = true;
    if (remove_staging(s) < 0)
        return fs_fail(s, RZ_E_IO_CLEANUP, errno, s->stage_path,
                       "the old tree, now at this path");
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
    fs_sink_stop_writers(s, false);   /* s->err may be gone: see fs_sink.h */
    if (s->published || !s->staging_exists)
        return;                 /* a committed merge is kept for the next run */
    if (remove_staging(s) == 0) {
        /* merging staged inside dest: undo that change to its mtime */
        if (s->mode == FS_PUB_MERGE && !s->dest_touched && s->destfd >= 0)
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
    drop_staging_fds(s);
    if (s->destfd >= 0)
        close(s->destfd);
    if (s->parentfd >= 0)
        close(s->parentfd);
    fs_free_records(s);
    free(s->dest_name);
    free(s->dest_path);
    free(s->stage_dir);
    free(s->stage_path);
    free(s);
}
