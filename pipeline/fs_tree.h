/*
 * fs_tree.h: pure decisions of the filesystem sink (no I/O of their own),
 * each unit-tested in milliseconds (tests/test_fs_sink.c):
 *
 *   fs_tree_resolve    where a symlink that already exists in the
 *                      destination leads, resolved lexically beneath the
 *                      destination: absolute targets restart at the
 *                      destination's root (as openat2(RESOLVE_IN_ROOT)
 *                      takes them), ".." above the root is an escape (not
 *                      clamped), further links are followed (40 at most).
 *                      The tree is seen only through the caller's lookup
 *                      function, so a test can give it a tree in memory.
 *   fs_journal_format / fs_journal_parse
 *                      the staging directory's journal (see fs_journal.c):
 *                      a header line naming what was committed, records,
 *                      and an "end" line; anything short of the end line
 *                      parses as "nothing committed".
 *   fs_recovery_decide what a run does with a staging directory left by
 *                      another run.
 */
#ifndef RZ_FS_TREE_H
#define RZ_FS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ resolve */

enum fs_kind { FS_K_ABSENT, FS_K_DIR, FS_K_LINK, FS_K_OTHER };

/*
 * Looks up dir/name ("" is the root; dir holds only real directories):
 * returns an fs_kind, and for FS_K_LINK the NUL-terminated target in
 * `target` (room for 4097 bytes); -1 on an error, errno set.
 */
typedef int (*fs_lookup_fn)(void *ctx, const char *dir, const char *name,
                            char *target);

enum fs_res {
    FS_RES_DIR,      /* a directory inside: its path is in out */
    FS_RES_ESCAPE,   /* ".." above the root on the way */
    FS_RES_NOTDIR,   /* missing, not a directory, a loop, or too long */
};

/* A new string "target/rest" (malloc'd; NULL when out of memory): the rest
 * of a path to walk once a symlink's target replaces what was resolved. */
char *fs_tree_splice(const char *target, const char *rest);

/*
 * Resolves `target`, a link found in directory `dir` (relative to the
 * root, "" for the root itself).  `out` receives the directory's path
 * relative to the root ("" for the root), NUL-terminated, at most
 * `out_cap - 1` bytes.  Returns an fs_res, or -1 (errno) when lookup
 * failed or memory ran out.
 */
int fs_tree_resolve(const char *dir, const char *target, fs_lookup_fn lookup,
                    void *ctx, char *out, size_t out_cap);

/* ------------------------------------------------------------ journal */

enum fs_jkind {
    FS_J_NONE,       /* nothing committed (no journal, torn, unknown) */
    FS_J_PUBLISH,    /* the tree is complete; it was being renamed into place */
    FS_J_MERGE,      /* the tree is complete; its entries were being moved in */
};

#define FS_JREC_NAMED    0x1u   /* an entry names the directory */
#define FS_JREC_EXISTED  0x2u   /* the destination already had it */
#define FS_JREC_FOLLOWED 0x4u   /* reached through a destination symlink */

struct fs_jrec {
    char type;        /* 'd' a directory to fix, 'r' a remap from -> to */
    uint32_t mode, nsec, flags;
    int64_t mtime;
    const char *path; size_t path_len;   /* 'd': the path; 'r': from */
    const char *to; size_t to_len;       /* 'r' only */
};

/* Appends one record (or the header, or the end line) to a growing
 * buffer; 0, or -1 when out of memory (the buffer is then freed). */
int fs_journal_header(char **buf, size_t *len, size_t *cap,
                      enum fs_jkind kind);
int fs_journal_record(char **buf, size_t *len, size_t *cap,
                      const struct fs_jrec *r);
int fs_journal_end(char **buf, size_t *len, size_t *cap);

/*
 * Parses a journal.  Calls rec(ctx, r) for each record (r's strings point
 * into buf, not NUL-terminated) only once the whole journal is known to be
 * complete; returns its kind, FS_J_NONE for anything incomplete or
 * malformed, or -1 if rec returned -1.
 */
int fs_journal_parse(const char *buf, size_t len,
                     int (*rec)(void *ctx, const struct fs_jrec *r),
                     void *ctx);

/* ------------------------------------------------------------ recovery */

enum fs_recovery {
    FS_REC_LEAVE,         /* a live run holds its lock: never touch it */
    FS_REC_REMOVE,        /* nothing committed, or all done: remove it */
    FS_REC_FINISH_MERGE,  /* move the rest of the tree in, fix modes, remove */
    FS_REC_PUBLISH_TREE,  /* rename the tree to the destination, remove */
};

enum fs_recovery fs_recovery_decide(bool live, enum fs_jkind kind,
                                    bool has_tree, bool dest_exists);

#endif
