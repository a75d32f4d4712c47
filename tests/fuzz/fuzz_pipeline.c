/*
 * fuzz_pipeline: bytes pushed into the real pipeline object
 * (pipeline/pipeline.c: decoder -> tar_parser -> filter -> fs_sink, on a
 * real filesystem, then finish + publish, or abort), the same chain the CLI
 * and the installer run, with the writer on the fuzzer's thread
 * (inline_writer) so a run is deterministic.
 *
 * Layout, made once per process in LLVMFuzzerInitialize:
 *   /tmp/rzfuzz-XXXXXX/           the fuzzer's own directory: a tmpfs when
 *                                 we may mount one (root), else plain disk
 *     canary                      a file that must never change
 *     box/                        the throwaway directory
 *       d<N>                      one fresh destination per input
 * Containment is checked after every input: the fuzzer's directory must
 * hold exactly canary (unchanged, one link) and box, and box only the
 * destination (no staging directory left behind, nothing written beside
 * it).  Then the destination is removed with an fd-based walk that never
 * follows a symlink, and box must be empty.
 *
 * Bytes 0-1 of the input choose the options (they are also archive bytes:
 * a tar header's first bytes are a name, gzip's are the magic, so both
 * still parse):
 *   byte 0 bits 0-1  destination: absent, existing (merge), existing +
 *                    FS_SINK_REPLACE, existing with a planted symlink
 *                    "planted" -> "../.." (merge: the two-archive attack)
 *   byte 0 bit 2     FS_SINK_ALLOW_OUTSIDE_LINKS (containment holds anyway)
 *   byte 1 bits 0-1  strip_components 0..3
 * Limits keep runs small: 4 MiB of file data, 4096 entries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../pipeline/pipeline.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY "do not touch\n"

/* Where this process works (set once in LLVMFuzzerInitialize). */
static struct {
    char top[64];     /* /tmp/rzfuzz-XXXXXX */
    char box[80];     /* top/box */
    bool mounted;
    unsigned long long seq;
} w;

static void cleanup_at_exit(void)
{
    if (w.mounted)
        umount2(w.top, MNT_DETACH);
    else {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", w.top);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_pipeline: could not remove %s\n", w.top);
    }
    rmdir(w.top);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(w.top, sizeof w.top, "/tmp/rzfuzz-XXXXXX");
    FUZZ_CHECK(mkdtemp(w.top) != NULL);
    w.mounted = mount("rzfuzz", w.top, "tmpfs", MS_NOSUID | MS_NODEV,
                      "size=256m,mode=0700") == 0;
    snprintf(w.box, sizeof w.box, "%s/box", w.top);
    FUZZ_CHECK(mkdir(w.box, 0700) == 0);
    char path[128];
    snprintf(path, sizeof path, "%s/canary", w.top);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f != NULL && fputs(CANARY, f) >= 0 && fclose(f) == 0);
    /* deep archives: the sink and our removal each hold a chain of fds */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    atexit(cleanup_at_exit);
    fprintf(stderr, "fuzz_pipeline: working in %s (%s)\n", w.top,
            w.mounted ? "tmpfs" : "disk: not root, no tmpfs");
    return 0;
}

/* Removes everything inside dirfd, never following a symlink; closes it. */
static void remove_inside(int dirfd)
{
    DIR *d = fdopendir(dirfd);
    FUZZ_CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        FUZZ_CHECK(fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
        if (S_ISDIR(st.st_mode)) {
            int fd = openat(dirfd, de->d_name,
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            FUZZ_CHECK(fd >= 0);
            remove_inside(fd);
            FUZZ_CHECK(unlinkat(dirfd, de->d_name, AT_REMOVEDIR) == 0);
        } else {
            FUZZ_CHECK(unlinkat(dirfd, de->d_name, 0) == 0);
        }
        rewinddir(d); /* entries were removed while reading */
    }
    closedir(d);
}

/* Calls fn for every name in dir except . and .. */
static void each_name(const char *dir, void (*fn)(const char *, void *),
                      void *ctx)
{
    DIR *d = opendir(dir);
    FUZZ_CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            fn(de->d_name, ctx);
    closedir(d);
}

static void top_name(const char *name, void *ctx)
{
    if (strcmp(name, "canary") != 0 && strcmp(name, "box") != 0) {
        fprintf(stderr, "fuzz_pipeline: %s/%s appeared\n", w.top, name);
        FUZZ_CHECK(!"something was written outside the throwaway dir");
    }
}

static void box_name(const char *name, void *ctx)
{
    const char *dest_name = ctx;
    if (dest_name == NULL || strcmp(name, dest_name) != 0) {
        fprintf(stderr, "fuzz_pipeline: %s/%s left behind\n", w.box, name);
        FUZZ_CHECK(!"staging or stray entry left beside the destination");
    }
}

static void check_outside(void)
{
    each_name(w.top, top_name, NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/canary", w.top);
    struct stat st;
    FUZZ_CHECK(lstat(path, &st) == 0);
    FUZZ_CHECK(S_ISREG(st.st_mode) && st.st_nlink == 1);
    FUZZ_CHECK(st.st_size == (off_t)strlen(CANARY));
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    FUZZ_CHECK(strcmp(buf, CANARY) == 0);
}

static void make_dest(const char *dest, unsigned kind)
{
    if (kind == 0)
        return;
    FUZZ_CHECK(mkdir(dest, 0755) == 0);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/old", dest);
    FUZZ_CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/old/file", dest);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
    if (kind == 3) {
        snprintf(path, sizeof path, "%s/planted", dest);
        FUZZ_CHECK(symlink("../..", path) == 0);
    }
}

/* One run through the pipeline object; returns its status. */
static int extract(const uint8_t *data, size_t size,
                   const struct fs_sink_options *so, struct rz_error *err)
{
    struct pipeline_options o;
    struct pipeline *p;
    memset(&o, 0, sizeof o);
    o.sink = *so;
    o.inline_writer = true;
    int rc = pipeline_new(&p, &o, err);
    FUZZ_CHECK(rc == 0); /* our destinations are always usable */
    rc = pipeline_push(p, data, size);
    rc = pipeline_finish(p);
    FUZZ_CHECK((rc == 0) == (err->code == RZ_E_OK));
    pipeline_free(p, NULL);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t b0 = size > 0 ? data[0] : 0, b1 = size > 1 ? data[1] : 0;
    unsigned kind = b0 & 3;
    char name[32], dest[160];
    snprintf(name, sizeof name, "d%llu", w.seq++);
    snprintf(dest, sizeof dest, "%s/%s", w.box, name);
    make_dest(dest, kind);

    struct fs_sink_options o = {
        .dest = dest,
        .strip_components = b1 & 3,
        .flags = (kind == 2 ? FS_SINK_REPLACE : 0)
                 | (b0 & 4 ? FS_SINK_ALLOW_OUTSIDE_LINKS : 0),
        .max_size = 4u << 20,
        .max_entries = 4096,
    };
    struct rz_error err;
    rz_error_clear(&err);
    int rc = extract(data, size, &o, &err);

    check_outside();
    struct stat st;
    bool dest_exists = lstat(dest, &st) == 0;
    if (rc == 0 || kind != 0)
        FUZZ_CHECK(dest_exists && S_ISDIR(st.st_mode));
    else
        FUZZ_CHECK(!dest_exists); /* a failed run publishes nothing */
    each_name(w.box, box_name, dest_exists ? name : NULL);
    if (dest_exists) {
        int fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        remove_inside(fd);
        FUZZ_CHECK(rmdir(dest) == 0);
    }
    each_name(w.box, box_name, NULL);
    return 0;
}
