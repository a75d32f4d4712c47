/*
 * tar_path.h: the name rules of POLICY.md (rule 5 and the lexical part of
 * rule 8), as pure functions.
 *
 * tar_path_normalize turns a raw entry name into the relative path that is
 * created beneath the destination:
 *   - leading '/' are removed (*had_slash set so the caller warns once);
 *   - empty components ("a//b") and "." components are dropped;
 *   - a ".." component anywhere is refused (RZ_E_POL_DOTDOT), except among
 *     the first `strip` components, which are removed (--strip-components
 *     applies before the policy's checks, as in GNU tar);
 *   - a NUL byte inside, or an empty name, is refused;
 *   - over 4096 bytes, a component over 255 bytes, or more than 1024
 *     components is refused (RZ_E_POL_NAME_TOO_LONG);
 *   - then `strip` leading components are removed (--strip-components).
 * Returns TAR_PATH_OK with the result in out (NUL-terminated, no leading,
 * trailing or doubled '/'), TAR_PATH_ROOT when the name is the root itself
 * ("." or "./" or "/") and strip is 0, TAR_PATH_SKIP when stripping removed
 * every component (the root itself counts as nothing left when strip > 0),
 * or -1 with *err filled (entry name and `offset` recorded).  The limits
 * apply to the raw name (its length) and to its real components (those
 * left after dropping "" and "."), before stripping.  The output is never
 * longer than the input, so out_size >= len + 1 always suffices; a smaller
 * buffer that turns out too short gives RZ_E_POL_NAME_TOO_LONG.  On every
 * return *had_slash tells whether the raw name began with '/'.
 *
 * tar_link_escapes is the lexical symlink check: true if `target`, resolved
 * from the directory that contains `link_path` (a normalized path), is
 * absolute or climbs above the root at any point (so "../d/x" from a link
 * at the top escapes even if d is the destination's own name).  An empty
 * target does not escape.  It
 * does not know about other symlinks; the sink checks chains against the
 * real tree.
 *
 * tar_link_target_check applies rule 5's shape limits to a symlink target,
 * which the kernel would otherwise refuse with an I/O error: RZ_E_OK, or
 * RZ_E_POL_EMPTY_NAME for an empty target (symlink(2) says ENOENT), or
 * RZ_E_POL_NAME_TOO_LONG for a target over 4096 bytes or with a component
 * over 255 bytes (a target that could never resolve; every lookup through it
 * fails with ENAMETOOLONG).  A NUL is the caller's check.
 */
#ifndef RZ_TAR_PATH_H
#define RZ_TAR_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rz_error.h"

#define TAR_PATH_MAX 4096
#define TAR_NAME_MAX 255
#define TAR_DEPTH_MAX 1024

enum { TAR_PATH_OK = 0, TAR_PATH_ROOT = 1, TAR_PATH_SKIP = 2 };

int tar_path_normalize(const char *in, size_t len, unsigned strip,
                       char *out, size_t out_size, size_t *out_len,
                       bool *had_slash, uint64_t offset, struct rz_error *err);

bool tar_link_escapes(const char *link_path, size_t link_path_len,
                      const char *target, size_t target_len);

enum rz_code tar_link_target_check(const char *target, size_t target_len);

#endif
