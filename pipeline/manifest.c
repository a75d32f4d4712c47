/*
 * manifest.c: libyaml's document loader, then a walk over the nodes that
 * checks the shape and reports the first problem at its node's position.
 */
#include "manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "digest.h"

struct walk {
    yaml_document_t *doc;
    const char *path;
    const char *base_dir;
    const char *home;
    char *msg;
    size_t size;
    struct manifest *m;
};

static int fail_at(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->msg, w->size, "%s:%zu:%zu: %s", w->path,
             n ? n->start_mark.line + 1 : 1,
             n ? n->start_mark.column + 1 : 1, what);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int want_scalar(struct walk *w, const yaml_node_t *n, const char *key)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(w, n, "'%s' must be a single value, not a %s", key,
                       n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (strlen(scalar(n)) != n->data.scalar.length)
        return fail_at(w, n, "'%s' contains a NUL byte", key);
    return 0;
}

static int want_number(struct walk *w, const yaml_node_t *n, const char *key,
                       unsigned lo, unsigned hi, unsigned *out)
{
    const char *s;
    unsigned long v;
    char *end;
    if (want_scalar(w, n, key) < 0)
        return -1;
    s = scalar(n);
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v < lo || v > hi)
        return fail_at(w, n, "'%s' must be a whole number from %u to %u, "
                       "not '%s'", key, lo, hi, s);
    *out = (unsigned)v;
    return 0;
}

/* A copy of `s` with "." components, repeated and trailing slashes gone. */
static char *normalise(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 2), *o = out;
    if (!out)
        return NULL;
    if (*s == '/')
        *o++ = '/';
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0)
            break;
        if (!(len == 1 && s[0] == '.')) {
            if (o > out && o[-1] != '/')
                *o++ = '/';
            memcpy(o, s, len);
            o += len;
        }
        s += len;
    }
    if (o == out)
        *o++ = '.';
    *o = '\0';
    return out;
}

/* "~", "~/x", absolute, or relative to `base`; normalised. */
static char *resolve(struct walk *w, const char *base, const char *p)
{
    char buf[PATH_MAX * 2];
    if (p[0] == '~' && (p[1] == '\0' || p[1] == '/'))
        snprintf(buf, sizeof buf, "%s%s", w->home, p + 1);
    else if (p[0] == '/')
        snprintf(buf, sizeof buf, "%s", p);
    else
        snprintf(buf, sizeof buf, "%s/%s", base, p);
    return normalise(buf);
}

static bool good_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || strchr("._+-", *s)))
            return false;
    return true;
}

static bool good_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0
           || strncmp(s, "file://", 7) == 0;
}

static bool header_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
            return false;
    return true;
}

static int parse_headers(struct walk *w, const yaml_node_t *n,
                         struct manifest_component *c)
{
    size_t count;
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(w, n, "'headers' must be a mapping of header name "
                       "to value");
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    c->headers = calloc(count ? count : 1, sizeof *c->headers);
    if (!c->headers)
        return fail_at(w, n, "out of memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (want_scalar(w, k, "header name") < 0
            || want_scalar(w, v, "header value") < 0)
            return -1;
        if (!header_token(scalar(k)))
            return fail_at(w, k, "'%s' is not a valid HTTP header name",
                           scalar(k));
        if (strpbrk(scalar(v), "\r\n"))
            return fail_at(w, v, "header '%s' contains a line break",
                           scalar(k));
        for (size_t i = 0; i < c->n_headers; i++)
            if (strncasecmp(c->headers[i], scalar(k), strlen(scalar(k))) == 0
                && c->headers[i][strlen(scalar(k))] == ':')
                return fail_at(w, k, "header '%s' given twice", scalar(k));
        size_t len = strlen(scalar(k)) + strlen(scalar(v)) + 3;
        if (!(c->headers[c->n_headers] = malloc(len)))
            return fail_at(w, n, "out of memory");
        snprintf(c->headers[c->n_headers++], len, "%s: %s", scalar(k),
                 scalar(v));
    }
    return 0;
}

/* include / exclude: one pattern, or a list of them. */
static int parse_patterns(struct walk *w, const yaml_node_t *n,
                          const char *key, char ***out, size_t *count)
{
    size_t total = 1;
    if (n->type == YAML_SEQUENCE_NODE)
        total = (size_t)(n->data.sequence.items.top
                         - n->data.sequence.items.start);
    else if (n->type != YAML_SCALAR_NODE)
        return fail_at(w, n, "'%s' must be a glob pattern or a list of them",
                       key);
    if (total > MANIFEST_MAX_PATTERNS)
        return fail_at(w, n, "'%s' has %zu patterns (at most %u)", key,
                       total, MANIFEST_MAX_PATTERNS);
    *out = calloc(total ? total : 1, sizeof **out);
    if (!*out)
        return fail_at(w, n, "out of memory");
    for (size_t i = 0; i < total; i++) {
        const yaml_node_t *v = n->type == YAML_SEQUENCE_NODE
            ? yaml_document_get_node(w->doc,
                                     n->data.sequence.items.start[i])
            : n;
        if (!v || v->type != YAML_SCALAR_NODE)
            return fail_at(w, v ? v : n, "each pattern in '%s' must be a "
                           "string", key);
        const char *s = scalar(v);
        if (!*s)
            return fail_at(w, v, "an empty pattern in '%s'", key);
        if (s[0] == '/' || strncmp(s, "./", 2) == 0)
            return fail_at(w, v, "pattern '%s' in '%s' starts with '%s': "
                           "names are matched without it, so it would "
                           "never match (write '%s')", s, key,
                           s[0] == '/' ? "/" : "./",
                           s + (s[0] == '/' ? strspn(s, "/") : 2));
        if (!((*out)[i] = strdup(s)))
            return fail_at(w, v, "out of memory");
        (*count)++;
    }
    return 0;
}

static const char *const component_keys[] = {
    "name", "url", "sha256", "dest", "strip-components", "headers",
    "include", "exclude",
};
#define N_COMPONENT_KEYS 8
#define COMPONENT_KEY_LIST "name, url, sha256, dest, strip-components, " \
                           "headers, include, exclude"

static int key_index(const char *k)
{
    for (int i = 0; i < N_COMPONENT_KEYS; i++)
        if (strcmp(k, component_keys[i]) == 0)
            return i;
    return -1;
}

static int component_value(struct walk *w, struct manifest_component *c,
                           int key, const yaml_node_t *v)
{
    struct rz_error err;
    const char *s;
    if (key == 5)
        return parse_headers(w, v, c);
    if (key == 6)
        return parse_patterns(w, v, "include", &c->include, &c->n_include);
    if (key == 7)
        return parse_patterns(w, v, "exclude", &c->exclude, &c->n_exclude);
    if (key == 4)
        return want_number(w, v, "strip-components", 0, 1024,
                           &c->strip_components);
    if (want_scalar(w, v, component_keys[key]) < 0)
        return -1;
    s = scalar(v);
    switch (key) {
    case 0:
        if (!good_name(s))
            return fail_at(w, v, "name '%s' must be 1 to 64 letters, digits, "
                           "'.', '_', '+' or '-'", s);
        c->name = strdup(s);
        break;
    case 1:
        if (!good_url(s))
            return fail_at(w, v, "url '%s' must start with http://, https:// "
                           "or file://", s);
        c->url = strdup(s);
        break;
    case 2:
        rz_error_clear(&err);
        if (sha256_parse_digest(s, c->sha256, &err) < 0)
            return fail_at(w, v, "sha256 must be 64 hexadecimal digits or "
                           "sha256:HEX (%s)", err.detail);
        sha256_to_hex(c->sha256, c->sha256_hex);
        return 0;
    case 3:
        if (!*s)
            return fail_at(w, v, "dest is empty");
        c->dest = resolve(w, w->m->root, s);
        break;
    }
    return ((key == 0 && !c->name) || (key == 1 && !c->url)
            || (key == 3 && !c->dest)) ? fail_at(w, v, "out of memory") : 0;
}

static int parse_component(struct walk *w, const yaml_node_t *n,
                           struct manifest_component *c)
{
    bool seen[N_COMPONENT_KEYS] = {false};
    c->line = (unsigned)n->start_mark.line + 1;
    c->column = (unsigned)n->start_mark.column + 1;
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(w, n, "each component must be a mapping with "
                       COMPONENT_KEY_LIST);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (want_scalar(w, k, "key") < 0)
            return -1;
        int i = key_index(scalar(k));
        if (i < 0)
            return fail_at(w, k, "unknown key '%s' in a component "
                           "(expected " COMPONENT_KEY_LIST ")", scalar(k));
        if (seen[i])
            return fail_at(w, k, "key '%s' given twice", scalar(k));
        seen[i] = true;
        if (component_value(w, c, i, v) < 0)
            return -1;
    }
    for (int i = 0; i < 4; i++)
        if (!seen[i])
            return fail_at(w, n, "component%s%s has no '%s'",
                           c->name ? " " : "", c->name ? c->name : "",
                           component_keys[i]);
    return 0;
}

/* Two names alike, two dests alike, or one dest inside another. */
static int check_distinct(struct walk *w, const yaml_node_t *list)
{
    struct manifest *m = w->m;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct manifest_component *a = &m->components[j];
            const struct manifest_component *b = &m->components[i];
            yaml_node_t *bn = yaml_document_get_node(
                w->doc, list->data.sequence.items.start[i]);
            size_t la = strlen(a->dest), lb = strlen(b->dest);
            if (strcmp(a->name, b->name) == 0)
                return fail_at(w, bn, "two components named '%s' (the "
                               "first at line %u)", b->name, a->line);
            if (strcmp(a->dest, b->dest) == 0)
                return fail_at(w, bn, "components '%s' and '%s' have the same "
                               "dest %s", a->name, b->name, b->dest);
            if ((la < lb && strncmp(a->dest, b->dest, la) == 0
                 && (b->dest[la] == '/' || la == 1))
                || (lb < la && strncmp(a->dest, b->dest, lb) == 0
                    && (a->dest[lb] == '/' || lb == 1)))
                return fail_at(w, bn, "the dests of '%s' (%s) and '%s' (%s) "
                               "are inside one another", a->name, a->dest,
                               b->name, b->dest);
        }
    }
    return 0;
}

static int parse_components(struct walk *w, const yaml_node_t *n)
{
    size_t count;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(w, n, "'components' must be a list");
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0)
        return fail_at(w, n, "'components' is empty");
    if (count > MANIFEST_MAX_COMPONENTS)
        return fail_at(w, n, "more than %d components",
                       MANIFEST_MAX_COMPONENTS);
    w->m->components = calloc(count, sizeof *w->m->components);
    if (!w->m->components)
        return fail_at(w, n, "out of memory");
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *c = yaml_document_get_node(w->doc,
                                                n->data.sequence.items.start[i]);
        w->m->n = i + 1;
        if (parse_component(w, c, &w->m->components[i]) < 0)
            return -1;
    }
    return check_distinct(w, n);
}

static int parse_top(struct walk *w, const yaml_node_t *root)
{
    const yaml_node_t *components = NULL, *root_node = NULL, *jobs = NULL;
    if (!root)
        return fail_at(w, NULL, "the manifest is empty");
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(w, root, "the manifest must be a mapping with "
                       "'components' (and optionally 'root', 'jobs')");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        const yaml_node_t **slot;
        if (want_scalar(w, k, "key") < 0)
            return -1;
        if (strcmp(scalar(k), "components") == 0)
            slot = &components;
        else if (strcmp(scalar(k), "root") == 0)
            slot = &root_node;
        else if (strcmp(scalar(k), "jobs") == 0)
            slot = &jobs;
        else
            return fail_at(w, k, "unknown key '%s' (expected root, jobs, "
                           "components)", scalar(k));
        if (*slot)
            return fail_at(w, k, "key '%s' given twice", scalar(k));
        *slot = v;
    }
    if (root_node) {
        if (want_scalar(w, root_node, "root") < 0)
            return -1;
        if (!*scalar(root_node))
            return fail_at(w, root_node, "root is empty");
        w->m->root = resolve(w, w->base_dir, scalar(root_node));
    } else {
        w->m->root = normalise(w->base_dir);
    }
    if (!w->m->root)
        return fail_at(w, root, "out of memory");
    if (jobs && want_number(w, jobs, "jobs", 1, 64, &w->m->jobs) < 0)
        return -1;
    if (!components)
        return fail_at(w, root, "the manifest has no 'components'");
    return parse_components(w, components);
}

int manifest_parse(struct manifest *m, const char *path, const char *text,
                   size_t len, const char *base_dir, const char *home,
                   char *msg, size_t size)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct walk w = {&doc, path, base_dir, home, msg, size, m};
    int rc;

    memset(m, 0, sizeof *m);
    if (!w.home)
        w.home = getenv("HOME") ? getenv("HOME") : "/";
    if (!yaml_parser_initialize(&parser)) {
        snprintf(msg, size, "%s: out of memory", path);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(msg, size, "%s:%zu:%zu: malformed YAML: %s%s%s", path,
                 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "error",
                 parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    rc = parse_top(&w, yaml_document_get_root_node(&doc));
    if (rc == 0) {
        /* a second document would be silently ignored: refuse it */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            snprintf(msg, size, "%s:%zu:%zu: malformed YAML: %s", path,
                     parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "error");
            rc = -1;
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2)
                rc = fail_at(&w, r2, "a second YAML document: one manifest "
                             "per file");
            yaml_document_delete(&next);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0)
        manifest_free(m);
    return rc;
}

int manifest_load(struct manifest *m, const char *path, const char *home,
                  char *msg, size_t size)
{
    char dir[PATH_MAX], *slash, *buf;
    size_t n = 0;
    int rc;
    FILE *f;

    memset(m, 0, sizeof *m);
    if (!(f = fopen(path, "rb"))) {
        snprintf(msg, size, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(MANIFEST_MAX_BYTES + 1);
    if (buf)
        n = fread(buf, 1, MANIFEST_MAX_BYTES + 1, f);
    if (!buf || ferror(f) || n > MANIFEST_MAX_BYTES) {
        snprintf(msg, size, "%s: %s", path, !buf ? "out of memory"
                 : ferror(f) ? strerror(errno) : "larger than 1 MiB");
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    if (path[0] == '/') {
        snprintf(dir, sizeof dir, "%s", path);
    } else if (getcwd(dir, sizeof dir)) {
        size_t l = strlen(dir);
        snprintf(dir + l, sizeof dir - l, "/%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
    }
    slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    rc = manifest_parse(m, path, buf, n, dir, home, msg, size);
    free(buf);
    return rc;
}

void manifest_free(struct manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        struct manifest_component *c = &m->components[i];
        free(c->name);
        free(c->url);
        free(c->dest);
        for (size_t j = 0; j < c->n_headers; j++)
            free(c->headers[j]);
        free(c->headers);
        for (size_t j = 0; j < c->n_include; j++)
            free(c->include[j]);
        free(c->include);
        for (size_t j = 0; j < c->n_exclude; j++)
            free(c->exclude[j]);
        free(c->exclude);
    }
    free(m->components);
    free(m->root);
    memset(m, 0, sizeof *m);
}
