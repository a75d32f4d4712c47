/*
 * fs_report.c: how the staging, finish and publish code (fs_publish.c,
 * fs_merge.c, fs_journal.c) reports: errors naming a path (never an entry
 * of the archive: those are the writers' own, fs_writer.c) and notes for -v.
 */
#include "fs_sink_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fs_fail(struct fs_sink *s, enum rz_code code, int sys_errno,
            const char *path, const char *fmt, ...)
{
    char detail[RZ_ERROR_DETAIL_MAX];
    va_list ap;

    detail[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    return rz_error_set(s->err, code, sys_errno, RZ_OFF_NONE, 0, path,
                        path ? strlen(path) : 0, "%s", detail);
}

int pub_fail(struct fs_sink *s, int e, const char *path, const char *what)
{
    return fs_fail(s, RZ_E_IO_PUBLISH, e, path, "%s", what);
}

void fs_note(struct fs_sink *s, const char *fmt, ...)
{
    char msg[700];
    va_list ap;

    if (s->o.verbose <= 0 || !s->o.note)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.note(s->o.warn_ctx, msg);
}
