/*
 * fs_sink.c: the sink's tar callbacks.  Each entry goes through the writer
 * of the thread that runs the parser (fs_writer.c), in archive order; with
 * more than one thread (fs_sink_options.threads), a regular file that fits
 * a buffer is handed to a writer thread instead (fs_pool.c), within the
 * ordering rules of fs_order.h.  Staging, finish and publish are in
 * fs_publish.c, which only calls fs_sink_stop_writers here; nothing here
 * calls into fs_publish.c.
 */
#include "fs_sink_private.h"

#include <stdlib.h>
#include <unistd.h>

#include "fs_order.h"
#include "fs_pool.h"

/* The default of --threads (0): one thread creates entries.  A measured
 * choice: see the note of issue 10 §3 (README, Performance). */
#define THREADS_AUTO 1u

static int start_writers(struct fs_sink *s)
{
    unsigned threads = s->o.threads;
    const char *hook = getenv("RZUP_TEST_THREADS");

    /* test hook: the default for a whole test run (tests/run.py) */
    if (threads == 0 && hook)
        threads = (unsigned)strtoul(hook, NULL, 10);
    if (threads == 0)
        threads = THREADS_AUTO;

    fs_writer_init(&s->w, &s->o, s->stagefd, s->resolver, s->umask,
                   s->same_owner, &s->rec, s->err);
    s->writers_on = true;
    if (threads > 1 && fs_pool_new(&s->pool, threads - 1, &s->w, s->err) < 0)
        return -1;
    return 0;
}

int fs_sink_stop_writers(struct fs_sink *s, bool report)
{
    int rc = 0;

    if (!s->writers_on)
        return 0;
    if (s->pool) {
        if (report)
            rc = fs_pool_drain(s->pool);
        fs_pool_free(s->pool);
        s->pool = NULL;
    }
    fs_writer_close(&s->w);
    s->writers_on = false;
    return rc;
}

int fs_sink_settle(struct fs_sink *s, struct rz_error *also)
{
    if (!s || !s->pool)
        return 0;
    int rc = fs_pool_drain(s->pool);
    if (also && also != s->err &&
        fs_order_error_first(also, fs_pool_failure(s->pool)))
        *also = *fs_pool_failure(s->pool);
    return rc;
}

static int sink_begin(void *ctx, const struct tar_entry *e)
{
    struct fs_sink *s = ctx;

    if (s->err->code != RZ_E_OK)
        return -1;
    if (!s->writers_on && start_writers(s) < 0)
        return -1;
    s->pooled = false;
    if (!s->pool)
        return fs_writer_begin(&s->w, e);
    if (fs_pool_check(s->pool) < 0)
        return -1;
    int rc = fs_writer_prepare(&s->w, e);
    if (rc > 0)
        return 0;
    if (rc < 0) {
        fs_pool_drain(s->pool);
        return -1;
    }
    size_t len;
    const char *path = fs_writer_path(&s->w, &len);
    if (fs_pool_clear(s->pool, path, len, fs_writer_target(&s->w)) < 0)
        return -1;
    if (fs_order_route(e, FS_POOL_FILE_MAX, FS_POOL_NAME_MAX,
                       s->o.flags & FS_SINK_XATTRS) == FS_ROUTE_INLINE) {
        if (fs_writer_create(&s->w) == 0)
            return 0;
        fs_pool_drain(s->pool);
        return -1;
    }
    if (fs_writer_parent(&s->w) < 0) {
        fs_pool_drain(s->pool);
        return -1;
    }
    if (fs_pool_open(s->pool, e, path, len, s->w.bytes) < 0)
        return -1;
    s->pooled = true;
    return 0;
}

static int sink_data(void *ctx, const uint8_t *buf, size_t len)
{
    struct fs_sink *s = ctx;

    if (s->err->code != RZ_E_OK)
        return -1;
    if (!s->pooled)
        return fs_writer_data(&s->w, buf, len);
    if (fs_writer_take(&s->w, len) < 0) {
        fs_pool_cancel(s->pool);
        fs_pool_drain(s->pool);
        return -1;
    }
    return fs_pool_append(s->pool, buf, len);
}

static int sink_hole(void *ctx, uint64_t len)
{
    struct fs_sink *s = ctx;

    if (s->err->code != RZ_E_OK)
        return -1;
    return fs_writer_hole(&s->w, len);   /* sparse files are never pooled */
}

static int sink_end(void *ctx)
{
    struct fs_sink *s = ctx;

    if (s->err->code != RZ_E_OK)
        return -1;
    if (!s->pooled) {
        if (fs_writer_end(&s->w) == 0)
            return 0;
        if (s->pool)
            fs_pool_drain(s->pool);
        return -1;
    }
    s->pooled = false;
    fs_writer_end(&s->w);
    return fs_pool_submit(s->pool);
}

const struct tar_callbacks fs_sink_callbacks = {
    sink_begin,
    sink_data,
    sink_end,
    sink_hole,
};

/* ------------------------------------------------------------ stats */

uint64_t fs_sink_entries(const struct fs_sink *s)
{
    return s->w.entries;
}

uint64_t fs_sink_bytes(const struct fs_sink *s)
{
    return s->w.bytes;
}

const char *fs_sink_staging_path(const struct fs_sink *s)
{
    return s->stage_path;
}

int fs_sink_tree_fd(const struct fs_sink *s)
{
    return s->stagefd;
}
