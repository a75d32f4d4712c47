/*
 * manifest.h: the install manifest (`rzup-extract install MANIFEST.yaml`),
 * read with libyaml into plain structs, checked whole before anything is
 * downloaded.
 *
 *   root: ~/.risc0              # optional; relative dests resolve against
 *                               # it; a relative root against the
 *                               # manifest's directory; ~ is $HOME
 *   jobs: 3                     # optional, 1..64 (--jobs overrides)
 *   components:                 # required, at least one
 *     - name: rust              # required: letters, digits, . _ + -
 *       url: https://...        # required: http, https or file URL
 *       sha256: 0123...cdef     # required: 64 hex digits, or sha256:HEX
 *       dest: toolchains/rust/1.81.0   # required
 *       strip-components: 1     # optional, 0..1024
 *       headers:                # optional; sent only to the url's origin
 *         Authorization: Bearer TOKEN
 *       include: [bin, lib]     # optional glob patterns, or one
 *       exclude: ['*.a', doc]   # string; as --include / --exclude
 *
 * Refused, with "FILE:LINE:COLUMN: what" (1-based, at the offending node):
 * malformed YAML (libyaml's problem and position), a document that is not
 * this shape, unknown or repeated keys, missing fields, a bad name, URL,
 * digest or number, a header with a bad name or a line break, two
 * components with one name or one dest, and one dest inside another; for
 * include/exclude: not a string or list of strings, an empty pattern, one
 * starting with "/" or "./" (names are matched without them, so it could
 * never match), more than MANIFEST_MAX_PATTERNS.
 * Without `root`, relative dests resolve against the manifest's directory.
 * Paths are compared after dropping "." components and repeated or
 * trailing slashes (".." is kept as written).
 */
#ifndef RZ_MANIFEST_H
#define RZ_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct manifest_component {
    char *name;
    char *url;
    char *dest;                   /* absolute, normalised */
    uint8_t sha256[32];
    char sha256_hex[65];          /* lower case */
    unsigned strip_components;
    char **headers;               /* "Name: value" */
    size_t n_headers;
    char **include;               /* glob patterns (pipeline.h's rules) */
    size_t n_include;
    char **exclude;
    size_t n_exclude;
    unsigned line, column;        /* of the component's mapping */
};

struct manifest {
    char *root;                   /* absolute, normalised */
    unsigned jobs;                /* 0 when not given */
    struct manifest_component *components;
    size_t n;
};

#define MANIFEST_MAX_BYTES (1u << 20)
#define MANIFEST_MAX_COMPONENTS 256
#define MANIFEST_MAX_PATTERNS 256     /* per key and component */

/*
 * Read and check `path`.  `home` expands "~" (NULL: $HOME).  Returns 0, or
 * -1 with a one-line message in msg (the struct is then empty; freeing it
 * is still allowed).
 */
int manifest_load(struct manifest *m, const char *path, const char *home,
                  char *msg, size_t size);
/* The same on text in memory; `path` is for messages, `base_dir` resolves
 * a relative root or dest. */
int manifest_parse(struct manifest *m, const char *path, const char *text,
                   size_t len, const char *base_dir, const char *home,
                   char *msg, size_t size);
void manifest_free(struct manifest *m);

#endif
