/* list_sink.c: -t/--list output, modelled on GNU tar's -t and -tv. */
#include "list_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

void list_sink_init(struct list_sink *l, FILE *out, int verbose,
                    struct rz_error *err)
{
    l->out = out;
    l->verbose = verbose;
    l->err = err;
    l->entries = 0;
    l->bytes = 0;
}

static char type_char(enum tar_type t)
{
    switch (t) {
    case TAR_DIR: return 'd';
    case TAR_SYMLINK: return 'l';
    case TAR_HARDLINK: return 'h';
    case TAR_CHR: return 'c';
    case TAR_BLK: return 'b';
    case TAR_FIFO: return 'p';
    case TAR_REG: return '-';
    default: return '?';
    }
}

static void mode_string(const struct tar_entry *e, char s[11])
{
    static const char rwx[] = "rwxrwxrwx";
    s[0] = type_char(e->type);
    for (int i = 0; i < 9; i++)
        s[i + 1] = (e->mode & (0400u >> i)) ? rwx[i] : '-';
    if (e->mode & 04000) s[3] = (e->mode & 0100) ? 's' : 'S';
    if (e->mode & 02000) s[6] = (e->mode & 0010) ? 's' : 'S';
    if (e->mode & 01000) s[9] = (e->mode & 0001) ? 't' : 'T';
    s[10] = '\0';
}

static void print_verbose(struct list_sink *l, const struct tar_entry *e,
                          const char *name)
{
    char mode[11], date[32], owner[160];
    char uname[64], gname[64];
    time_t t = (time_t)e->mtime;
    struct tm tm;
    mode_string(e, mode);
    if (gmtime_r(&t, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
    else
        snprintf(date, sizeof date, "%" PRId64, e->mtime);
    rz_escape(e->uname, strlen(e->uname), uname, sizeof uname);
    rz_escape(e->gname, strlen(e->gname), gname, sizeof gname);
    if (uname[0] || gname[0])
        snprintf(owner, sizeof owner, "%s/%s", uname[0] ? uname : "?",
                 gname[0] ? gname : "?");
    else
        snprintf(owner, sizeof owner, "%" PRIu64 "/%" PRIu64, e->uid, e->gid);
    fprintf(l->out, "%s %s %10" PRIu64 " %s %s", mode, owner,
            e->type == TAR_REG ? e->size : 0, date, name);
}

static int list_begin(void *ctx, const struct tar_entry *e)
{
    struct list_sink *l = ctx;
    char name[8192], link[8192];
    rz_escape(e->path, e->path_len, name, sizeof name);
    if (l->verbose) {
        print_verbose(l, e, name);
        if (e->type == TAR_SYMLINK || e->type == TAR_HARDLINK) {
            rz_escape(e->linkpath, e->linkpath_len, link, sizeof link);
            fprintf(l->out, " %s %s", e->type == TAR_SYMLINK ? "->" : "link to",
                    link);
        }
        fputc('\n', l->out);
    } else {
        fprintf(l->out, "%s\n", name);
    }
    l->entries++;
    if (e->type == TAR_REG)
        l->bytes += e->size;
    if (ferror(l->out))
        return rz_error_set(l->err, RZ_E_IO_WRITE, errno, RZ_OFF_ARCHIVE,
                            e->offset, e->path, e->path_len,
                            "writing the listing");
    return 0;
}

static int list_data(void *ctx, const uint8_t *buf, size_t len)
{
    return 0;
}

static int list_end(void *ctx)
{
    return 0;
}

static int list_hole(void *ctx, uint64_t len)
{
    return 0;
}

const struct tar_callbacks list_sink_callbacks = {
    list_begin, list_data, list_end, list_hole,
};
