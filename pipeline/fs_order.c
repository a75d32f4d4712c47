/*
 * fs_order.c: the ordering rules of parallel entry creation (fs_order.h).
 */
#include "fs_order.h"

#include <string.h>

void fs_order_init(struct fs_order *o)
{
    o->n = 0;
}

int fs_order_add(struct fs_order *o, uint64_t id, const char *path,
                 size_t len)
{
    if (o->n == FS_ORDER_MAX)
        return -1;
    o->path[o->n] = path;
    o->len[o->n] = len;
    o->id[o->n] = id;
    o->n++;
    return 0;
}

void fs_order_done(struct fs_order *o, uint64_t id)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->id[i] != id)
            continue;
        o->n--;
        o->path[i] = o->path[o->n];
        o->len[i] = o->len[o->n];
        o->id[i] = o->id[o->n];
        return;
    }
}

size_t fs_order_pending(const struct fs_order *o)
{
    return o->n;
}

/* Is p[0..plen) the path x itself or one of its parents? */
static bool covers(const char *p, size_t plen, const char *x, size_t xlen)
{
    if (plen > xlen || memcmp(p, x, plen) != 0)
        return false;
    return plen == xlen || x[plen] == '/';
}

bool fs_order_blocks(const struct fs_order *o, const char *path, size_t len,
                     const char *target, size_t tlen)
{
    for (size_t i = 0; i < o->n; i++) {
        if (covers(o->path[i], o->len[i], path, len))
            return true;
        if (target && covers(o->path[i], o->len[i], target, tlen))
            return true;
    }
    return false;
}

enum fs_route fs_order_route(const struct tar_entry *e, size_t max_file,
                             size_t max_name, bool xattrs)
{
    if (e->type != TAR_REG || e->sparse || e->size > max_file)
        return FS_ROUTE_INLINE;
    if (e->path_len > max_name || (xattrs && e->xattr_count > 0))
        return FS_ROUTE_INLINE;
    return FS_ROUTE_POOL;
}

bool fs_order_error_first(const struct rz_error *have,
                          const struct rz_error *cand)
{
    if (cand->code == RZ_E_OK)
        return false;
    if (have->code == RZ_E_OK)
        return true;
    return have->offset_kind == RZ_OFF_ARCHIVE &&
           cand->offset_kind == RZ_OFF_ARCHIVE && cand->offset < have->offset;
}
