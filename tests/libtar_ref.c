/*
 * libtar_ref.c: list an uncompressed tar with libtar, in the canonical
 * format of `test_tar_parser --dump`, so tests/run.py can diff our parser
 * against a tar reader we did not write.
 *
 *   libtar_ref FILE.tar
 *
 * One line per member:
 *   <type> <mode as 4 octal digits> <size> <mtime> <crc32 of data> <path>
 * followed by " -> <target>" for symlinks and hardlinks.  <type> is one of
 * - d l h c b p ?.  Names are printed raw; a trailing '/' is stripped.
 *
 * What libtar does not understand, and what we do about it:
 *   - pax headers ('x', 'g'): libtar would list them as members and ignore
 *     their contents, so we stop and exit 77 ("skip"): those fixtures are
 *     not compared.
 *   - base-256 numbers (GNU, for sizes >= 8 GiB, negative or huge times and
 *     ids): libtar reads them as octal garbage; exit 77 as well.
 *   - sizes and mtimes above 2^31 are read through an int; exit 77.
 * libtar handles GNU long names and links ('L', 'K'), the ustar prefix
 * field, and v7 headers.
 *
 * Normalised so identical archives print identically: mode masked to 07777
 * (libtar adds type bits); a hardlink has size 0 and no data (libtar writes
 * the target's size in its header but no data; ustar says to ignore it);
 * data of other non-regular members is skipped by its size and printed as
 * the CRC of nothing; trailing '/' stripped from names.
 *
 *   libtar_ref --fields FILE.tar
 *
 * The header differential (issue 8 section 3): decodes every member's
 * header with libtar's th_* accessors and with our tar_parser, and compares
 * them field by field: type, path, link target, mode, uid, gid, uname,
 * gname, size, mtime, devmajor/devminor (devices only) and the CRC-32 of
 * the data.  Prints one line per member ("= ..." when both agree, "! ..."
 * with both values for each field that differs) and exits 1 on any
 * difference or if the member counts differ.  Same exit 77 for what libtar
 * cannot read (pax headers, base-256 numbers, numbers over 2^31).
 *
 * Exit status: 0 listed (or identical), 1 libtar failed or fields differ,
 * 2 usage, 77 format not supported.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <libtar.h>

#include "../formats/rz_error.h"
#include "../formats/tar_parser.h"

#define EXIT_SKIP 77

/* True if a numeric field holds a value libtar cannot represent. */
static int unsupported_number(const char *field, size_t n)
{
    unsigned long long v = 0;
    if ((unsigned char)field[0] & 0x80)
        return 1;   /* base-256 */
    for (size_t i = 0; i < n && field[i] >= '0' && field[i] <= '7'; i++)
        v = v * 8 + (unsigned long long)(field[i] - '0');
    return v > 0x7fffffffull;
}

static char type_char(TAR *t)
{
    /* most specific first: libtar's REG and DIR tests overlap */
    if (TH_ISLNK(t)) return 'h';
    if (TH_ISSYM(t)) return 'l';
    if (TH_ISCHR(t)) return 'c';
    if (TH_ISBLK(t)) return 'b';
    if (TH_ISFIFO(t)) return 'p';
    if (TH_ISDIR(t)) return 'd';
    if (t->th_buf.typeflag == REGTYPE || t->th_buf.typeflag == AREGTYPE ||
        t->th_buf.typeflag == CONTTYPE)
        return '-';
    return '?';
}

/* Read (or skip) `size` bytes of member data in whole blocks. */
static int read_data(TAR *t, unsigned long long size, uLong *crc)
{
    char block[T_BLOCKSIZE];
    *crc = crc32(0, NULL, 0);
    while (size > 0) {
        size_t n = size < T_BLOCKSIZE ? (size_t)size : T_BLOCKSIZE;
        if (tar_block_read(t, block) != T_BLOCKSIZE)
            return -1;
        *crc = crc32(*crc, (const Bytef *)block, (uInt)n);
        size -= n;
    }
    return 0;
}

static void print_entry(TAR *t, char type, unsigned long long size,
                        uLong crc)
{
    const char *path = th_get_pathname(t);  /* owned by t */
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    printf("%c %04o %llu %lld %08lx %.*s", type,
           (unsigned)(th_get_mode(t) & 07777), size,
           (long long)th_get_mtime(t), crc, (int)plen, path);
    if (type == 'l' || type == 'h') {
        if (t->th_buf.gnu_longlink)
            printf(" -> %s", t->th_buf.gnu_longlink);
        else
            printf(" -> %.100s", t->th_buf.linkname);
    }
    printf("\n");
}

static int list(TAR *t, const char *file)
{
    int rc;
    while ((rc = th_read(t)) == 0) {
        char type = type_char(t);
        unsigned long long size = th_get_size(t);
        uLong crc;
        if (t->th_buf.typeflag == 'x' || t->th_buf.typeflag == 'g') {
            fprintf(stderr, "libtar_ref: %s: pax headers, not supported by"
                    " libtar\n", file);
            return EXIT_SKIP;
        }
        if (unsupported_number(t->th_buf.size, 12) ||
            unsupported_number(t->th_buf.mtime, 12)) {
            fprintf(stderr, "libtar_ref: %s: a number libtar cannot read\n",
                    file);
            return EXIT_SKIP;
        }
        /* libtar itself reads no data after a hardlink whatever its size
         * field says (libtar's writer fills it in); so do we */
        if (type == 'h')
            size = 0;
        if (read_data(t, size, &crc) < 0) {
            fprintf(stderr, "libtar_ref: %s: truncated data\n", file);
            return 1;
        }
        /* our parser delivers data only for regular files */
        if (type != '-')
            crc = crc32(0, NULL, 0);
        print_entry(t, type, size, crc);
    }
    if (rc != 1) {
        fprintf(stderr, "libtar_ref: %s: th_read failed\n", file);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------- --fields: header diff */

#define MAX_MEMBERS 100000

struct fields {
    char type;
    char *path, *link, *uname, *gname;
    unsigned mode;
    unsigned long long uid, gid, size, devmajor, devminor;
    long long mtime;
    unsigned long crc;
};

struct side {
    struct fields *m;
    size_t n;
};

static char *dup_stripped(const char *s, size_t n)
{
    while (n > 1 && s[n - 1] == '/')
        n--;
    char *d = malloc(n + 1);
    if (!d) {
        perror("malloc");
        exit(1);
    }
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char type_of(enum tar_type t)
{
    switch (t) {
    case TAR_REG: return '-';
    case TAR_HARDLINK: return 'h';
    case TAR_SYMLINK: return 'l';
    case TAR_CHR: return 'c';
    case TAR_BLK: return 'b';
    case TAR_DIR: return 'd';
    case TAR_FIFO: return 'p';
    default: return '?';
    }
}

/* libtar's oct_to_int, except for a field with no digits at all (all
 * NUL or blank), where its sscanf leaves the result uninitialised: 0, as
 * every other reader says. */
static unsigned long long libtar_octal(char *field, size_t n)
{
    size_t i = 0;
    while (i < n && field[i] == ' ')
        i++;
    if (i == n || field[i] < '0' || field[i] > '7')
        return 0;
    return (unsigned long long)(unsigned)oct_to_int(field);
}

static struct fields *add(struct side *s)
{
    if (s->n == MAX_MEMBERS) {
        fprintf(stderr, "libtar_ref: more than %d members\n", MAX_MEMBERS);
        exit(1);
    }
    struct fields *f = &s->m[s->n++];
    memset(f, 0, sizeof *f);
    return f;
}

static int ours_begin(void *ctx, const struct tar_entry *e)
{
    struct fields *f = add(ctx);
    f->type = type_of(e->type);
    f->path = dup_stripped(e->path, e->path_len);
    f->link = dup_stripped(e->linkpath, e->linkpath_len);
    f->uname = dup_stripped(e->uname, strlen(e->uname));
    f->gname = dup_stripped(e->gname, strlen(e->gname));
    f->mode = e->mode & 07777;
    f->uid = e->uid;
    f->gid = e->gid;
    /* a hardlink carries no data whatever its size field says */
    f->size = e->type == TAR_HARDLINK ? 0 : e->size;
    f->mtime = e->mtime;
    if (e->type == TAR_CHR || e->type == TAR_BLK) {
        f->devmajor = e->devmajor;
        f->devminor = e->devminor;
    }
    f->crc = crc32(0, NULL, 0);
    return 0;
}

static int ours_data(void *ctx, const uint8_t *buf, size_t len)
{
    struct side *s = ctx;
    struct fields *f = &s->m[s->n - 1];
    f->crc = crc32(f->crc, buf, (uInt)len);
    return 0;
}

static int ours_end(void *ctx)
{
    return 0;
}

/* no entry_hole: holes of sparse files come as zeros through entry_data */
static const struct tar_callbacks ours_cb = {
    .entry_begin = ours_begin, .entry_data = ours_data, .entry_end = ours_end,
};

static int read_ours(const char *file, struct side *s)
{
    struct tar_parser p;
    struct rz_error err;
    uint8_t buf[65536];
    FILE *f = fopen(file, "rb");
    size_t n;
    int rc = 0;
    if (!f) {
        perror(file);
        return -1;
    }
    rz_error_clear(&err);
    tar_parser_init(&p, &ours_cb, s, &err, 0);
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = tar_parser_push(&p, buf, n);
    if (rc == 0)
        rc = tar_parser_finish(&p);
    if (rc != 0)
        fprintf(stderr, "libtar_ref: %s: our parser: %s at offset %llu: %s\n",
                file, err.entry, (unsigned long long)err.offset, err.detail);
    tar_parser_free(&p);
    fclose(f);
    return rc;
}

static int read_libtar(TAR *t, const char *file, struct side *s)
{
    int rc;
    while ((rc = th_read(t)) == 0) {
        if (t->th_buf.typeflag == 'x' || t->th_buf.typeflag == 'g') {
            fprintf(stderr, "libtar_ref: %s: pax headers, not supported by"
                    " libtar\n", file);
            return EXIT_SKIP;
        }
        if (unsupported_number(t->th_buf.size, 12) ||
            unsupported_number(t->th_buf.mtime, 12) ||
            unsupported_number(t->th_buf.uid, 8) ||
            unsupported_number(t->th_buf.gid, 8)) {
            fprintf(stderr, "libtar_ref: %s: a number libtar cannot read\n",
                    file);
            return EXIT_SKIP;
        }
        struct fields *f = add(s);
        const char *path = th_get_pathname(t);
        const char *link = th_get_linkname(t);
        f->type = type_char(t);
        f->path = dup_stripped(path, strlen(path));
        f->link = (f->type == 'l' || f->type == 'h')
            ? dup_stripped(link, strnlen(link, t->th_buf.gnu_longlink ? 1 << 20 : 100))
            : dup_stripped("", 0);
        f->uname = dup_stripped(t->th_buf.uname, strnlen(t->th_buf.uname, 32));
        f->gname = dup_stripped(t->th_buf.gname, strnlen(t->th_buf.gname, 32));
        f->mode = (unsigned)(th_get_mode(t) & 07777);
        /* not th_get_uid/th_get_gid: they return the local passwd
         * database's id for the uname when there is one, and an
         * uninitialised int when the field is blank (npm writes it so);
         * libtar's own octal decoder is what they fall back to */
        f->uid = libtar_octal(t->th_buf.uid, sizeof t->th_buf.uid);
        f->gid = libtar_octal(t->th_buf.gid, sizeof t->th_buf.gid);
        f->size = f->type == 'h' ? 0 : th_get_size(t);
        f->mtime = (long long)th_get_mtime(t);
        if (f->type == 'c' || f->type == 'b') {
            f->devmajor = (unsigned long long)th_get_devmajor(t);
            f->devminor = (unsigned long long)th_get_devminor(t);
        }
        uLong crc;
        if (read_data(t, f->size, &crc) < 0) {
            fprintf(stderr, "libtar_ref: %s: truncated data\n", file);
            return 1;
        }
        f->crc = f->type == '-' ? crc : crc32(0, NULL, 0);
        /* a non-regular member's declared size is skipped by both */
        if (f->type != '-')
            f->size = 0;
    }
    if (rc != 1) {
        fprintf(stderr, "libtar_ref: %s: th_read failed\n", file);
        return 1;
    }
    return 0;
}

#define CMP_STR(field) do { \
        if (strcmp(a->field, b->field) != 0) { \
            printf(" " #field ": libtar '%s' ours '%s'", a->field, b->field); \
            bad = 1; \
        } } while (0)
#define CMP_NUM(field, fmt, cast) do { \
        if (a->field != b->field) { \
            printf(" " #field ": libtar " fmt " ours " fmt, (cast)a->field, \
                   (cast)b->field); \
            bad = 1; \
        } } while (0)

static int compare(const struct side *lt, const struct side *us)
{
    int differ = lt->n != us->n;
    size_t n = lt->n < us->n ? lt->n : us->n;
    for (size_t i = 0; i < n; i++) {
        const struct fields *a = &lt->m[i], *b = &us->m[i];
        int bad = 0;
        printf("%c %s:", a->type, a->path);
        if (a->type != b->type) {
            printf(" type: libtar %c ours %c", a->type, b->type);
            bad = 1;
        }
        CMP_STR(path);
        CMP_STR(link);
        CMP_STR(uname);
        CMP_STR(gname);
        CMP_NUM(mode, "%04o", unsigned);
        CMP_NUM(uid, "%llu", unsigned long long);
        CMP_NUM(gid, "%llu", unsigned long long);
        /* ours reports a non-regular member's declared size, libtar's is
         * normalised to 0 above; compare sizes of regular files only */
        if (a->type == '-')
            CMP_NUM(size, "%llu", unsigned long long);
        CMP_NUM(mtime, "%lld", long long);
        CMP_NUM(devmajor, "%llu", unsigned long long);
        CMP_NUM(devminor, "%llu", unsigned long long);
        CMP_NUM(crc, "%08lx", unsigned long);
        if (!bad && (a->type == 'c' || a->type == 'b'))
            printf(" = %04o %llu/%llu %s/%s %llu,%llu %lld\n", a->mode,
                   a->uid, a->gid, a->uname, a->gname, a->devmajor,
                   a->devminor, a->mtime);
        else if (!bad)
            printf(" = %04o %llu/%llu %s/%s %llu %lld %08lx%s%s\n", a->mode,
                   a->uid, a->gid, a->uname, a->gname, a->size, a->mtime,
                   a->crc, *a->link ? " -> " : "", a->link);
        else
            printf("\n");
        differ |= bad;
    }
    if (lt->n != us->n)
        printf("! member count: libtar %zu, ours %zu\n", lt->n, us->n);
    printf("%zu members, %s\n", lt->n, differ ? "DIFFERENT" : "identical");
    return differ;
}

static void free_side(struct side *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->m[i].path);
        free(s->m[i].link);
        free(s->m[i].uname);
        free(s->m[i].gname);
    }
    free(s->m);
}

static int fields(const char *file)
{
    TAR *t;
    struct side lt = {calloc(MAX_MEMBERS, sizeof(struct fields)), 0};
    struct side us = {calloc(MAX_MEMBERS, sizeof(struct fields)), 0};
    int rc = 1;
    if (!lt.m || !us.m) {
        perror("calloc");
        goto out;
    }
    if (tar_open(&t, file, NULL, O_RDONLY, 0, TAR_GNU) != 0) {
        perror(file);
        goto out;
    }
    rc = read_libtar(t, file, &lt);
    tar_close(t);
    if (rc != 0)
        goto out;
    rc = 1;
    if (read_ours(file, &us) != 0)
        goto out;
    if (lt.n == 0) {
        fprintf(stderr, "libtar_ref: %s: no members\n", file);
        goto out;
    }
    rc = compare(&lt, &us);
out:
    free_side(&lt);
    free_side(&us);
    return rc;
}

int main(int argc, char **argv)
{
    TAR *t;
    int rc;
    if (argc == 3 && strcmp(argv[1], "--fields") == 0)
        return fields(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: libtar_ref [--fields] FILE.tar\n");
        return 2;
    }
    if (tar_open(&t, argv[1], NULL, O_RDONLY, 0, TAR_GNU) != 0) {
        perror(argv[1]);
        return 1;
    }
    rc = list(t, argv[1]);
    tar_close(t);
    return rc;
}
