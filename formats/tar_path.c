/*
 * tar_path.c: entry name normalisation and the lexical symlink check.
 *
 * Both functions walk the name once, component by component, without
 * copying it first: a component is the bytes between two '/' (empty
 * components and "." are dropped).  Nothing here consults the filesystem;
 * the sink relies on the kernel (openat2 RESOLVE_BENEATH) for containment,
 * and these rules only refuse names no honest archive needs.
 */
#include "tar_path.h"

#include <string.h>

/* Finds the next component at or after *pos; returns false at the end. */
static bool next_component(const char *s, size_t len, size_t *pos,
                           const char **comp, size_t *comp_len)
{
    size_t i = *pos;

    while (i < len && s[i] == '/')
        i++;
    if (i == len)
        return false;
    size_t start = i;
    while (i < len && s[i] != '/')
        i++;
    *comp = s + start;
    *comp_len = i - start;
    *pos = i;
    return true;
}

static bool is_dot(const char *c, size_t n)
{
    return n == 1 && c[0] == '.';
}

static bool is_dotdot(const char *c, size_t n)
{
    return n == 2 && c[0] == '.' && c[1] == '.';
}

static int refuse(struct rz_error *err, enum rz_code code, const char *in,
                  size_t len, uint64_t offset, const char *why)
{
    return rz_error_set(err, code, 0, RZ_OFF_ARCHIVE, offset, in, len,
                        "%s", why);
}

/* Checks every rule that concerns the whole name; counts real components.
 * A ".." among the first `strip` components is stripped, not refused:
 * --strip-components applies before the name rules, as in GNU tar. */
static int check_name(const char *in, size_t len, uint64_t offset,
                      unsigned strip, size_t *ncomp, struct rz_error *err)
{
    const char *c;
    size_t n, pos = 0, count = 0;

    if (len == 0)
        return refuse(err, RZ_E_POL_EMPTY_NAME, in, len, offset, "empty name");
    if (memchr(in, '\0', len) != NULL)
        return refuse(err, RZ_E_POL_NUL_NAME, in, len, offset,
                      "NUL byte inside the name");
    if (len > TAR_PATH_MAX)
        return rz_error_set(err, RZ_E_POL_NAME_TOO_LONG, 0, RZ_OFF_ARCHIVE,
                            offset, in, len, "name of %zu bytes", len);
    while (next_component(in, len, &pos, &c, &n)) {
        if (is_dotdot(c, n) && count >= strip)
            return refuse(err, RZ_E_POL_DOTDOT, in, len, offset,
                          "'..' component");
        if (n > TAR_NAME_MAX)
            return rz_error_set(err, RZ_E_POL_NAME_TOO_LONG, 0,
                                RZ_OFF_ARCHIVE, offset, in, len,
                                "component of %zu bytes", n);
        if (!is_dot(c, n) && ++count > TAR_DEPTH_MAX)
            return rz_error_set(err, RZ_E_POL_NAME_TOO_LONG, 0,
                                RZ_OFF_ARCHIVE, offset, in, len,
                                "more than %d components", TAR_DEPTH_MAX);
    }
    *ncomp = count;
    return 0;
}

int tar_path_normalize(const char *in, size_t len, unsigned strip,
                       char *out, size_t out_size, size_t *out_len,
                       bool *had_slash, uint64_t offset, struct rz_error *err)
{
    const char *c;
    size_t n, ncomp = 0, pos = 0, o = 0, seen = 0;

    *had_slash = len > 0 && in[0] == '/';
    *out_len = 0;
    if (out_size > 0)
        out[0] = '\0';
    if (check_name(in, len, offset, strip, &ncomp, err) < 0)
        return -1;
    if (ncomp == 0)
        return strip == 0 ? TAR_PATH_ROOT : TAR_PATH_SKIP;
    if (ncomp <= strip)
        return TAR_PATH_SKIP;
    while (next_component(in, len, &pos, &c, &n)) {
        if (is_dot(c, n) || seen++ < strip)
            continue;
        /* o + '/' + component + NUL must fit. */
        if (o + (o > 0) + n + 1 > out_size)
            return refuse(err, RZ_E_POL_NAME_TOO_LONG, in, len, offset,
                          "name does not fit the output buffer");
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, c, n);
        o += n;
    }
    out[o] = '\0';
    *out_len = o;
    return TAR_PATH_OK;
}

bool tar_link_escapes(const char *link_path, size_t link_path_len,
                      const char *target, size_t target_len)
{
    const char *c;
    size_t n, pos = 0, depth = 0;

    if (target_len > 0 && target[0] == '/')
        return true;
    /* Depth of the directory holding the link: its components minus one. */
    while (next_component(link_path, link_path_len, &pos, &c, &n))
        if (!is_dot(c, n))
            depth++;
    if (depth > 0)
        depth--;
    pos = 0;
    while (next_component(target, target_len, &pos, &c, &n)) {
        if (is_dot(c, n))
            continue;
        if (is_dotdot(c, n)) {
            if (depth == 0)
                return true;
            depth--;
        } else {
            depth++;
        }
    }
    return false;
}

enum rz_code tar_link_target_check(const char *target, size_t target_len)
{
    const char *c;
    size_t n, pos = 0;

    if (target_len == 0)
        return RZ_E_POL_EMPTY_NAME;
    if (target_len > TAR_PATH_MAX)
        return RZ_E_POL_NAME_TOO_LONG;
    while (next_component(target, target_len, &pos, &c, &n))
        if (n > TAR_NAME_MAX)
            return RZ_E_POL_NAME_TOO_LONG;
    return RZ_E_OK;
}
