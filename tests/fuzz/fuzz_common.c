/* fuzz_common.c: the checking null sink; see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    abort();
}

uint64_t fuzz_hash(uint64_t h, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
    return fuzz_hash(h, &v, sizeof v);
}

void null_sink_init(struct null_sink *s, struct rz_error *err)
{
    memset(s, 0, sizeof *s);
    s->err = err;
    s->hash = FUZZ_HASH_INIT;
}

/* Counts the callback; returns -1 if this one is the one to fail. */
static int maybe_fail(struct null_sink *s)
{
    FUZZ_CHECK(!s->failed);
    FUZZ_CHECK(s->err->code == RZ_E_OK);
    s->callbacks++;
    if (s->fail_at == 0 || s->callbacks != s->fail_at)
        return 0;
    s->failed = true;
    if (!s->fail_silent)
        rz_error_set(s->err, RZ_E_IO_WRITE, 0, RZ_OFF_NONE, 0, NULL, 0,
                     "fuzz: callback %u fails", s->callbacks);
    return -1;
}

static uint64_t hash_text(uint64_t h, const char *t, size_t len)
{
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(strlen(t) == len);
    h = hash_u64(h, len);
    return fuzz_hash(h, t, len);
}

static uint64_t hash_entry(uint64_t h, const struct tar_entry *e)
{
    h = hash_u64(h, (uint64_t)e->type);
    h = hash_u64(h, (uint64_t)(uint8_t)e->typeflag);
    h = hash_text(h, e->path, e->path_len);
    h = hash_text(h, e->linkpath, e->linkpath_len);
    h = hash_text(h, e->uname, strlen(e->uname));
    h = hash_text(h, e->gname, strlen(e->gname));
    uint64_t f[] = { e->size, e->mode, e->uid, e->gid, (uint64_t)e->mtime,
                     e->mtime_nsec, e->devmajor, e->devminor, e->offset };
    return fuzz_hash(h, f, sizeof f);
}

static int ns_begin(void *ctx, const struct tar_entry *e)
{
    struct null_sink *s = ctx;
    FUZZ_CHECK(!s->in_entry);
    FUZZ_CHECK(e != NULL);
    FUZZ_CHECK(e->mode <= 07777);
    FUZZ_CHECK(e->size <= INT64_MAX);
    FUZZ_CHECK(e->mtime_nsec < 1000000000u);
    FUZZ_CHECK(e->offset % TAR_BLOCK == 0);
    FUZZ_CHECK(!s->have_offset || e->offset > s->last_offset);
    s->have_offset = true;
    s->last_offset = e->offset;
    s->hash = hash_entry(hash_u64(s->hash, 'B'), e);
    if (maybe_fail(s) < 0)
        return -1;
    s->in_entry = true;
    s->is_reg = e->type == TAR_REG;
    s->size = e->size;
    s->seen = 0;
    s->entries++;
    return 0;
}

static int ns_data(void *ctx, const uint8_t *buf, size_t len)
{
    struct null_sink *s = ctx;
    FUZZ_CHECK(s->in_entry);
    FUZZ_CHECK(s->is_reg);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= s->size - s->seen);
    s->seen += len;
    /* The data's content, not its chunking: splits must not change it. */
    s->hash = fuzz_hash(s->hash, buf, len);
    return maybe_fail(s);
}

static int ns_end(void *ctx)
{
    struct null_sink *s = ctx;
    FUZZ_CHECK(s->in_entry);
    FUZZ_CHECK(!s->is_reg || s->seen == s->size);
    s->in_entry = false;
    s->hash = hash_u64(s->hash, 'E');
    return maybe_fail(s);
}

/* A hole of a sparse file: counted like data, hashed by its length (the
 * parser delivers each hole whole, whatever the split). */
static int ns_hole(void *ctx, uint64_t len)
{
    struct null_sink *s = ctx;
    FUZZ_CHECK(s->in_entry && s->is_reg && len > 0);
    FUZZ_CHECK(len <= s->size - s->seen);
    s->seen += len;
    s->hash = hash_u64(hash_u64(s->hash, 'H'), len);
    return maybe_fail(s);
}

const struct tar_callbacks null_sink_callbacks = {
    .entry_begin = ns_begin,
    .entry_data = ns_data,
    .entry_end = ns_end,
    .entry_hole = ns_hole,
};

void null_sink_check_end(const struct null_sink *s,
                         const struct tar_parser *p, int rc)
{
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == (s->err->code == RZ_E_OK));
    if (s->failed)
        FUZZ_CHECK(rc == -1);
    if (s->failed && s->fail_silent)
        FUZZ_CHECK(s->err->code == RZ_E_INTERNAL);
    if (s->failed && !s->fail_silent)
        FUZZ_CHECK(s->err->code == RZ_E_IO_WRITE);
    if (rc == 0) {
        FUZZ_CHECK(!s->in_entry);
        /* without its end blocks only when told to accept that */
        FUZZ_CHECK(tar_parser_at_end(p) || p->proven
                   || (p->flags & TAR_PARSER_LENIENT_TRAILER));
    }
    FUZZ_CHECK(s->err->code < RZ_E__COUNT);
    FUZZ_CHECK(memchr(s->err->entry, 0, sizeof s->err->entry) != NULL);
    FUZZ_CHECK(memchr(s->err->detail, 0, sizeof s->err->detail) != NULL);
}

size_t fuzz_split(uint8_t b, size_t len)
{
    return (size_t)(((uint64_t)len * b) / 255);
}

bool fuzz_error_equal(const struct rz_error *a, const struct rz_error *b)
{
    return a->code == b->code && a->offset_kind == b->offset_kind
           && a->offset == b->offset && strcmp(a->entry, b->entry) == 0
           && strcmp(a->detail, b->detail) == 0;
}
