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
 * Exit status: 0 listed, 1 libtar failed, 2 usage, 77 format not supported.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <libtar.h>

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

int main(int argc, char **argv)
{
    TAR *t;
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: libtar_ref FILE.tar\n");
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
