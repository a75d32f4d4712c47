/*
 * seccomp_launch.c: runs a command under a real seccomp filter that makes
 * one system call fail, the way older kernels, container runtimes and
 * network filesystems do, so the tests can force rzup-extract's fallbacks.
 *
 *     seccomp_launch MODE COMMAND [ARGS...]
 *
 * MODE:
 *   openat2-enosys    openat2(2) fails with ENOSYS (Linux before 5.6, gVisor)
 *   openat2-eperm     openat2(2) fails with EPERM (Docker's older default
 *                     seccomp profile)
 *   renameat2-einval  renameat2(2) with any flag fails with EINVAL (NFS, 9p,
 *                     some overlayfs); renameat2 with flags 0 still works
 *   syncfs-eio        syncfs(2) fails with EIO (a disk that failed writeback),
 *                     which also shows whether a run calls syncfs at all
 *
 * The filter is classic BPF installed with prctl(PR_SET_SECCOMP) after
 * PR_SET_NO_NEW_PRIVS; it is inherited across execve and cannot be removed.
 * Any other architecture than the one compiled for is killed (a filter
 * matching syscall numbers is only meaningful for one ABI).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp_launch: unsupported architecture"
#endif

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define RET(k) BPF_STMT(BPF_RET | BPF_K, (k))

/* args[4] of renameat2 is the flags word; its low half on little-endian */
#define ARG4_LO (offsetof(struct seccomp_data, args) + 4 * sizeof(__u64))

static int install(const char *mode)
{
    struct sock_filter f_open[] = {
        LD(offsetof(struct seccomp_data, arch)),
        JEQ(ARCH, 1, 0),
        RET(SECCOMP_RET_KILL_PROCESS),
        LD(offsetof(struct seccomp_data, nr)),
        JEQ(SYS_openat2, 0, 1),
        RET(SECCOMP_RET_ERRNO | 0),   /* errno patched below */
        RET(SECCOMP_RET_ALLOW),
    };
    struct sock_filter f_rename[] = {
        LD(offsetof(struct seccomp_data, arch)),
        JEQ(ARCH, 1, 0),
        RET(SECCOMP_RET_KILL_PROCESS),
        LD(offsetof(struct seccomp_data, nr)),
        JEQ(SYS_renameat2, 0, 3),
        LD(ARG4_LO),
        JEQ(0, 1, 0),
        RET(SECCOMP_RET_ERRNO | EINVAL),
        RET(SECCOMP_RET_ALLOW),
    };
    struct sock_filter f_sync[] = {
        LD(offsetof(struct seccomp_data, arch)),
        JEQ(ARCH, 1, 0),
        RET(SECCOMP_RET_KILL_PROCESS),
        LD(offsetof(struct seccomp_data, nr)),
        JEQ(SYS_syncfs, 0, 1),
        RET(SECCOMP_RET_ERRNO | EIO),
        RET(SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog;

    if (strcmp(mode, "openat2-enosys") == 0 ||
        strcmp(mode, "openat2-eperm") == 0) {
        f_open[5].k = SECCOMP_RET_ERRNO |
                      (strcmp(mode, "openat2-enosys") == 0 ? ENOSYS : EPERM);
        prog.filter = f_open;
        prog.len = sizeof f_open / sizeof f_open[0];
    } else if (strcmp(mode, "renameat2-einval") == 0) {
        prog.filter = f_rename;
        prog.len = sizeof f_rename / sizeof f_rename[0];
    } else if (strcmp(mode, "syncfs-eio") == 0) {
        prog.filter = f_sync;
        prog.len = sizeof f_sync / sizeof f_sync[0];
    } else {
        fprintf(stderr, "seccomp_launch: unknown mode '%s'\n", mode);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("seccomp_launch: installing the filter");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: seccomp_launch openat2-enosys|openat2-eperm|"
                        "renameat2-einval|syncfs-eio COMMAND [ARGS...]\n");
        return 2;
    }
    if (install(argv[1]) < 0)
        return 2;
    execvp(argv[2], argv + 2);
    fprintf(stderr, "seccomp_launch: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
