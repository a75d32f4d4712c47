/*
 * list_sink.h: the sink for -t/--list.  It prints one line per entry, the
 * way `tar -t` (names only) or `tar -tv` (mode, owner, size, date, name,
 * link target) does, and writes nothing to disk.  Names are escaped
 * (rz_escape), so hostile names cannot drive the terminal.
 *
 * Pass list_sink_callbacks to tar_parser_init with a struct list_sink as
 * ctx.  Each line (without its newline) goes to `emit`, which returns 0 or
 * the errno of a failed write (e.g. EPIPE when piped into `head`): that
 * fails with RZ_E_IO_WRITE.  The sink itself never prints.
 */
#ifndef RZ_LIST_SINK_H
#define RZ_LIST_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"

typedef int (*list_emit_fn)(void *ctx, const char *line);

struct list_sink {
    list_emit_fn emit;
    void *emit_ctx;
    int verbose;
    struct rz_error *err;
    uint64_t entries;
    uint64_t bytes;
};

void list_sink_init(struct list_sink *l, list_emit_fn emit, void *emit_ctx,
                    int verbose, struct rz_error *err);
extern const struct tar_callbacks list_sink_callbacks;

#endif
