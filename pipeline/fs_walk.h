/*
 * fs_walk.h: containment beneath a directory fd (fs_walk.c).
 *
 * fs_open_beneath opens path beneath dirfd, never through a symlink or
 * magic link and never above dirfd (ELOOP for a symlink on the way, EXDEV
 * for an escape).  fs_resolve_beneath follows symlinks that stay beneath
 * (O_PATH result).  fs_resolver_probe chooses the method once per run: the
 * walk when openat2 answers ENOSYS, EPERM or EINVAL (*why = that errno).
 * No state: safe from any thread.
 */
#ifndef RZ_FS_WALK_H
#define RZ_FS_WALK_H

/* How paths beneath a directory fd are resolved. */
enum fs_resolver {
    FS_RESOLVE_OPENAT2,  /* openat2(RESOLVE_BENEATH|...) */
    FS_RESOLVE_WALK,     /* checked openat(O_NOFOLLOW) walk */
};

enum fs_resolver fs_resolver_probe(int dirfd, int *why);
int fs_open_beneath(enum fs_resolver r, int dirfd, const char *path,
                    int flags);
int fs_resolve_beneath(enum fs_resolver r, int dirfd, const char *path);

#endif
