/*
 * libtar_write: write a tar archive of a directory tree with libtar, so the
 * conformance tests include archives from a tar implementation we did not
 * write.
 *
 *   libtar_write [--ustar] OUT.tar DIR NAME    archive DIR/NAME as NAME
 *
 * By default libtar's TAR_GNU option is on: names and link targets over
 * 100 bytes go into GNU 'L'/'K' records.  --ustar leaves it off: libtar
 * then splits long names into the ustar prefix field and cannot store
 * longer ones.  The tree is walked by tar_append_tree (tar_append_file for
 * each member: regular files, directories, symlinks, and hardlinks, which
 * libtar detects by device and inode).
 */
#include <errno.h>
#include <fcntl.h>
#include <libtar.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    TAR *t;
    char real[4096];
    int options = TAR_GNU;

    if (argc == 5 && strcmp(argv[1], "--ustar") == 0) {
        options = 0;
        argv++;
        argc--;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: libtar_write [--ustar] OUT.tar DIR NAME\n");
        return 2;
    }
    snprintf(real, sizeof real, "%s/%s", argv[2], argv[3]);
    if (tar_open(&t, argv[1], NULL, O_WRONLY | O_CREAT | O_TRUNC, 0644,
                 options) != 0) {
        fprintf(stderr, "libtar_write: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (tar_append_tree(t, real, argv[3]) != 0 || tar_append_eof(t) != 0) {
        fprintf(stderr, "libtar_write: %s: %s\n", real, strerror(errno));
        tar_close(t);
        return 1;
    }
    return tar_close(t) == 0 ? 0 : 1;
}
