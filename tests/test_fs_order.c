/*
 * test_fs_order.c: the ordering rules of parallel entry creation
 * (pipeline/fs_order.h), against a model of the sink's semantics.
 *
 * The model is a tree of paths (directory, file with content, symlink)
 * and the sink's rules: missing parents are created; a file or symlink on
 * the way of a later parent is refused (a symlink: an escape); a
 * non-directory never replaces a directory, a directory replaces a
 * non-directory; a hardlink needs a regular file of this run as target.
 * A serial run applies the entries in order and stops at the first
 * failure.  A parallel run follows what fs_sink.c does: the reader takes
 * each entry in order, waits for every pending file when fs_order_blocks
 * says so, creates the parents of a handed-over file, then a "writer"
 * completes pending files at random moments and in random order (and
 * re-checks that their parents are still directories, as the writer's
 * lookup does).  The reader learns of a writer's failure late, at random,
 * and goes on until then; the failure reported is the one
 * fs_order_error_first keeps.  The tree (on success) and the failure
 * (entry and code) must equal the serial run's, for every sequence of
 * three entries over a small alphabet and for long random sequences, each
 * under many schedules.  A mutation check: a rule with the parent test
 * removed is caught (test_model_catches_missing_rule).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/fs_order.h"
#include "check.h"

enum op_type { O_FILE, O_FAILFILE, O_DIR, O_LINK, O_HARD };
enum err { E_OK, E_ESCAPE, E_PARENT_NOT_DIR, E_NONDIR_OVER_DIR, E_HARDLINK,
           E_IO, E_BUG };

struct op {
    enum op_type type;
    const char *path;
    const char *target;   /* O_HARD */
    bool fits;            /* a file the reader may hand over */
};

enum kind { K_NONE, K_DIR, K_FILE, K_LINK };

#define NODES 32
struct tree {
    const char *path[NODES];
    enum kind kind[NODES];
    int content[NODES];
    int n;
};

static int find(const struct tree *t, const char *p, size_t len)
{
    for (int i = 0; i < t->n; i++)
        if (strlen(t->path[i]) == len && memcmp(t->path[i], p, len) == 0)
            return i;
    return -1;
}

static enum kind kind_of(const struct tree *t, const char *p, size_t len)
{
    int i = find(t, p, len);
    return i < 0 ? K_NONE : t->kind[i];
}

static void set(struct tree *t, const char *p, size_t len, enum kind k,
                int content)
{
    int i = find(t, p, len);
    if (i < 0) {
        i = t->n++;
        t->path[i] = strndup(p, len);
    }
    t->kind[i] = k;
    t->content[i] = content;
}

static void tree_free(struct tree *t)
{
    for (int i = 0; i < t->n; i++)
        free((char *)t->path[i]);
    t->n = 0;
}

/* Every proper prefix of path: created when missing, refused otherwise. */
static enum err parents(struct tree *t, const char *path, bool create)
{
    for (size_t i = 0; path[i]; i++) {
        if (path[i] != '/')
            continue;
        switch (kind_of(t, path, i)) {
        case K_NONE:
            if (!create)
                return E_BUG;
            set(t, path, i, K_DIR, 0);
            break;
        case K_DIR: break;
        case K_LINK: return E_ESCAPE;
        case K_FILE: return E_PARENT_NOT_DIR;
        }
    }
    return E_OK;
}

/* The entry itself, once its parents exist. */
static enum err create(struct tree *t, const struct op *o, int seq)
{
    size_t len = strlen(o->path);
    enum kind here = kind_of(t, o->path, len);

    switch (o->type) {
    case O_DIR:
        set(t, o->path, len, K_DIR, 0);
        return E_OK;
    case O_FILE:
    case O_FAILFILE:
    case O_LINK:
        if (here == K_DIR)
            return E_NONDIR_OVER_DIR;
        if (o->type == O_FAILFILE)
            return E_IO;
        set(t, o->path, len, o->type == O_LINK ? K_LINK : K_FILE, seq);
        return E_OK;
    case O_HARD: {
        enum err e = E_OK;
        const char *tg = o->target;
        for (size_t i = 0; tg[i] && e == E_OK; i++)
            if (tg[i] == '/') {
                enum kind k = kind_of(t, tg, i);
                e = k == K_LINK ? E_ESCAPE : k == K_DIR ? E_OK : E_HARDLINK;
            }
        if (e != E_OK)
            return e;
        int ti = find(t, tg, strlen(tg));
        if (ti < 0 || t->kind[ti] != K_FILE)
            return E_HARDLINK;
        if (strcmp(tg, o->path) == 0)
            return E_OK;
        if (here == K_DIR)
            return E_NONDIR_OVER_DIR;
        set(t, o->path, len, K_FILE, t->content[ti]);
        return E_OK;
    }
    }
    return E_BUG;
}

struct result {
    enum err code;
    int seq;              /* the failing entry, or -1 */
};

static struct result serial(const struct op *ops, int n, struct tree *t)
{
    for (int i = 0; i < n; i++) {
        enum err e = parents(t, ops[i].path, true);
        if (e == E_OK)
            e = create(t, &ops[i], i);
        if (e != E_OK)
            return (struct result){e, i};
    }
    return (struct result){E_OK, -1};
}

/* ------------------------------------------------------------ parallel */

static uint64_t rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng_state >> 33) % n);
}

typedef bool (*blocks_fn)(const struct fs_order *o, const char *path,
                          size_t len, const char *target, size_t tlen);

/* fs_order_blocks without the parent rule: must be caught. */
static bool blocks_no_parent(const struct fs_order *o, const char *path,
                             size_t len, const char *target, size_t tlen)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->len[i] == len && memcmp(o->path[i], path, len) == 0)
            return true;
        if (target && o->len[i] == tlen && memcmp(o->path[i], target, tlen) == 0)
            return true;
    }
    return false;
}

#define SLOTS 3
struct sim {
    struct tree *t;
    const struct op *ops;
    struct fs_order order;
    int pending[SLOTS];
    int npending;
    struct rz_error first;     /* the writers' earliest failure */
    bool failed, seen;         /* a writer failed; the reader knows */
};

static void fail_rec(struct rz_error *r, enum err code, int seq)
{
    rz_error_clear(r);
    r->code = RZ_E_IO_CREATE;
    r->sys_errno = (int)code;   /* the model's code, carried along */
    r->offset_kind = RZ_OFF_ARCHIVE;
    r->offset = (uint64_t)seq * 512;
}

/* A writer completes pending file k. */
static void complete(struct sim *s, int k)
{
    int seq = s->pending[k];
    const struct op *o = &s->ops[seq];
    enum err e = parents(s->t, o->path, false);   /* the writer's lookup */
    if (e == E_OK)
        e = create(s->t, o, seq);
    if (e != E_OK) {
        struct rz_error r;
        fail_rec(&r, e, seq);
        if (fs_order_error_first(&s->first, &r))
            s->first = r;
        s->failed = true;
    }
    fs_order_done(&s->order, (uint64_t)seq);
    s->pending[k] = s->pending[--s->npending];
}

static void complete_some(struct sim *s)
{
    while (s->npending > 0 && rnd(3) == 0)
        complete(s, (int)rnd((unsigned)s->npending));
}

static void complete_all(struct sim *s)
{
    while (s->npending > 0)
        complete(s, (int)rnd((unsigned)s->npending));
}

static struct result parallel(const struct op *ops, int n, struct tree *t,
                              blocks_fn blocks)
{
    struct sim s = {.t = t, .ops = ops};
    struct rz_error mine;     /* the reader's own failure */

    fs_order_init(&s.order);
    rz_error_clear(&s.first);
    rz_error_clear(&mine);
    for (int i = 0; i < n && !s.seen; i++) {
        const struct op *o = &ops[i];
        complete_some(&s);
        if (s.failed && rnd(2) == 0) {
            s.seen = true;      /* the reader notices, at last */
            break;
        }
        if (blocks(&s.order, o->path, strlen(o->path),
                   o->type == O_HARD ? o->target : NULL,
                   o->type == O_HARD ? strlen(o->target) : 0))
            complete_all(&s);
        enum err e = parents(t, o->path, true);
        bool pool = (o->type == O_FILE || o->type == O_FAILFILE) && o->fits;
        if (e == E_OK && pool) {
            if (s.npending == SLOTS)
                complete(&s, (int)rnd(SLOTS));
            s.pending[s.npending++] = i;
            fs_order_add(&s.order, (uint64_t)i, o->path, strlen(o->path));
            continue;
        }
        if (e == E_OK)
            e = create(t, o, i);
        if (e != E_OK) {
            fail_rec(&mine, e, i);
            break;
        }
    }
    complete_all(&s);
    if (fs_order_error_first(&mine, &s.first))
        mine = s.first;
    if (mine.code == RZ_E_OK)
        return (struct result){E_OK, -1};
    return (struct result){(enum err)mine.sys_errno, (int)(mine.offset / 512)};
}

static bool same_tree(const struct tree *a, const struct tree *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++) {
        int j = find(b, a->path[i], strlen(a->path[i]));
        if (j < 0 || a->kind[i] != b->kind[j] ||
            (a->kind[i] == K_FILE && a->content[i] != b->content[j]))
            return false;
    }
    return true;
}

/* One sequence under `schedules` random schedules; false on a mismatch. */
static bool agree(const struct op *ops, int n, int schedules, blocks_fn b)
{
    struct tree ts = {0};
    struct result want = serial(ops, n, &ts);
    bool ok = true;

    for (int k = 0; k < schedules && ok; k++) {
        struct tree tp = {0};
        struct result got = parallel(ops, n, &tp, b);
        ok = got.code == want.code && got.seq == want.seq &&
             (want.code != E_OK || same_tree(&ts, &tp));
        tree_free(&tp);
    }
    tree_free(&ts);
    return ok;
}

static const char *const small_paths[] = {"a", "a/b", "b"};
static const char *const paths[] = {"a", "b", "a/b", "a/c", "b/a", "a/b/c"};

/* Every op over the small alphabet. */
static int alphabet(struct op *out)
{
    int n = 0;
    for (int p = 0; p < 3; p++) {
        out[n++] = (struct op){O_FILE, small_paths[p], NULL, true};
        out[n++] = (struct op){O_FAILFILE, small_paths[p], NULL, true};
        out[n++] = (struct op){O_DIR, small_paths[p], NULL, false};
        out[n++] = (struct op){O_LINK, small_paths[p], NULL, false};
        for (int q = 0; q < 3; q++)
            out[n++] = (struct op){O_HARD, small_paths[p], small_paths[q],
                                   false};
    }
    return n;
}

static int exhaustive(blocks_fn b, int schedules)
{
    struct op a[32], seq[3];
    int n = alphabet(a), bad = 0;

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++) {
                seq[0] = a[i], seq[1] = a[j], seq[2] = a[k];
                if (!agree(seq, 3, schedules, b))
                    bad++;
            }
    return bad;
}

static void test_exhaustive_three_entries(void)
{
    rng_state = 1;
    CHECK_EQ_INT(exhaustive(fs_order_blocks, 24), 0);
}

static void random_ops(struct op *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const char *p = paths[rnd(6)];
        unsigned t = rnd(20);
        /* mostly files, as real archives; few failures */
        ops[i] = (struct op){t < 11 ? O_FILE : t < 12 ? O_FAILFILE
                             : t < 15 ? O_DIR : t < 17 ? O_LINK : O_HARD,
                             p, paths[rnd(6)], rnd(4) != 0};
    }
}

static void test_random_long_sequences(void)
{
    struct op ops[40];
    int bad = 0;

    rng_state = 7;
    for (int r = 0; r < 4000; r++) {
        random_ops(ops, 40);
        if (!agree(ops, 40, 8, fs_order_blocks))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_model_catches_missing_rule(void)
{
    rng_state = 1;
    CHECK(exhaustive(blocks_no_parent, 24) > 0);
}

/* ------------------------------------------------------------ unit */

static void test_blocks(void)
{
    struct fs_order o;

    fs_order_init(&o);
    CHECK(!fs_order_blocks(&o, "a", 1, NULL, 0));
    CHECK_EQ_INT(fs_order_add(&o, 1, "a/b", 3), 0);
    CHECK(fs_order_blocks(&o, "a/b", 3, NULL, 0));       /* duplicate */
    CHECK(fs_order_blocks(&o, "a/b/c", 5, NULL, 0));     /* below it */
    CHECK(!fs_order_blocks(&o, "a/bc", 4, NULL, 0));     /* a sibling */
    CHECK(!fs_order_blocks(&o, "a", 1, NULL, 0));        /* its parent */
    CHECK(fs_order_blocks(&o, "x", 1, "a/b", 3));        /* hardlink */
    CHECK(fs_order_blocks(&o, "x", 1, "a/b/y", 5));
    CHECK(!fs_order_blocks(&o, "x", 1, "a/by", 4));
    CHECK_EQ_INT(fs_order_pending(&o), 1);
    fs_order_done(&o, 2);                                /* not pending */
    CHECK_EQ_INT(fs_order_pending(&o), 1);
    fs_order_done(&o, 1);
    CHECK_EQ_INT(fs_order_pending(&o), 0);
    CHECK(!fs_order_blocks(&o, "a/b", 3, "a/b", 3));
    for (int i = 0; i < FS_ORDER_MAX; i++)
        CHECK_EQ_INT(fs_order_add(&o, (uint64_t)i, "p", 1), 0);
    CHECK_EQ_INT(fs_order_add(&o, 99, "q", 1), -1);      /* full */
}

static void test_route(void)
{
    struct tar_entry e;

    memset(&e, 0, sizeof e);
    e.type = TAR_REG;
    e.size = 100;
    e.path_len = 10;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_POOL);
    e.size = 65536;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_POOL);
    e.size = 65537;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_INLINE);
    e.size = 0;
    e.sparse = true;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_INLINE);
    e.sparse = false;
    e.path_len = 1025;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_INLINE);
    e.path_len = 10;
    e.xattr_count = 1;
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, true), FS_ROUTE_INLINE);
    CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_POOL);
    e.xattr_count = 0;
    static const enum tar_type inline_types[] = {TAR_DIR, TAR_SYMLINK,
        TAR_HARDLINK, TAR_CHR, TAR_BLK, TAR_FIFO, TAR_OTHER};
    for (size_t i = 0; i < sizeof inline_types / sizeof *inline_types; i++) {
        e.type = inline_types[i];
        CHECK_EQ_INT(fs_order_route(&e, 65536, 1024, false), FS_ROUTE_INLINE);
    }
}

static void test_error_first(void)
{
    struct rz_error none, a2, a500, raw, plain;

    rz_error_clear(&none);
    fail_rec(&a2, E_IO, 2);
    fail_rec(&a500, E_IO, 500);
    rz_error_clear(&raw);
    raw.code = RZ_E_DECODE_TRUNCATED;
    raw.offset_kind = RZ_OFF_RAW;
    raw.offset = 1;
    rz_error_clear(&plain);
    plain.code = RZ_E_INTERNAL;
    CHECK(fs_order_error_first(&none, &a2));
    CHECK(fs_order_error_first(&a500, &a2));
    CHECK(!fs_order_error_first(&a2, &a500));
    CHECK(!fs_order_error_first(&a2, &a2));
    CHECK(!fs_order_error_first(&a2, &none));
    CHECK(!fs_order_error_first(&raw, &a2));     /* the decoder's stands */
    CHECK(!fs_order_error_first(&plain, &a2));
}

int main(void)
{
    RUN(test_blocks);
    RUN(test_route);
    RUN(test_error_first);
    RUN(test_exhaustive_three_entries);
    RUN(test_random_long_sequences);
    RUN(test_model_catches_missing_rule);
    return check_summary();
}
