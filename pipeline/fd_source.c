/*
 * fd_source.c: read a pipe or file to its end and push what arrives.
 *
 * The read buffer is allocated per call, not on the stack (threads may have
 * small stacks) and not static (several sources may run at once).
 *
 * Before each read we poll with a 100 ms timeout.  A signal handler
 * installed with SA_RESTART would otherwise leave read(2) blocked on a
 * quiet pipe and the stop flag unseen; poll(2) is never restarted, and the
 * timeout bounds the wait even when the signal went to another thread.
 * For regular files poll returns at once, so the cost is one cheap system
 * call per 128 KiB.
 */
#include "source.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#define FD_SOURCE_BUF (128 * 1024)
#define FD_SOURCE_POLL_MS 100

struct fd_reader {
    int fd;
    volatile sig_atomic_t *stop;
    struct rz_error *err;
    uint64_t pushed;
};

static int check_stop(struct fd_reader *r)
{
    if (r->stop && *r->stop)
        return rz_error_set(r->err, RZ_E_INTERRUPTED, 0, RZ_OFF_RAW,
                            r->pushed, NULL, 0, NULL);
    return 0;
}

/*
 * Wait until a read will not block, or the stop flag is set.  Any poll
 * outcome other than a timeout or EINTR lets read(2) speak for itself.
 */
static int wait_readable(struct fd_reader *r)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (r->fd < 0)
        return 0;   /* poll would ignore it and wait; read says EBADF */
    for (;;) {
        if (check_stop(r) < 0)
            return -1;
        int n = poll(&p, 1, FD_SOURCE_POLL_MS);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 0;
    }
}

/* One read: bytes read (0 at end of file), or -1 with *err filled. */
static ssize_t read_some(struct fd_reader *r, uint8_t *buf, size_t size)
{
    for (;;) {
        if (wait_readable(r) < 0)
            return -1;
        ssize_t n = read(r->fd, buf, size);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return rz_error_set(r->err, RZ_E_IO_READ, errno, RZ_OFF_RAW,
                                r->pushed, NULL, 0,
                                "read from file descriptor %d", r->fd);
    }
}

static int pump(struct fd_reader *r, uint8_t *buf, stage_push_fn push,
                void *ctx)
{
    for (;;) {
        ssize_t n = read_some(r, buf, FD_SOURCE_BUF);
        if (n < 0)
            return -1;
        /* A signal often comes with end of input (the writer of the
         * pipe got the same Ctrl-C): the signal is the cause. */
        if (check_stop(r) < 0)
            return -1;
        if (n == 0)
            return 0;
        if (push(ctx, buf, (size_t)n) < 0)
            return rz_error_downstream(r->err, RZ_OFF_RAW, r->pushed,
                                       "a stage after the input");
        r->pushed += (uint64_t)n;
    }
}

int fd_source_run(int fd, stage_push_fn push, void *ctx,
                  volatile sig_atomic_t *stop, struct rz_error *err)
{
    struct fd_reader r = {.fd = fd, .stop = stop, .err = err};
    int rc;
    if (err->code != RZ_E_OK)
        return -1;
    uint8_t *buf = malloc(FD_SOURCE_BUF);
    if (!buf)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                            "read buffer");
    rc = pump(&r, buf, push, ctx);
    free(buf);
    return rc;
}
