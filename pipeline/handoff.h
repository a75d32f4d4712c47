/*
 * handoff.h: a stage that moves the stream to a second thread through a
 * small bounded queue, so decompression (upstream, on the caller's thread)
 * overlaps with parsing and writing files (downstream, on the handoff's
 * thread).  On two cores this turns "inflate + write" into "the slower of
 * inflate and write" (DESIGN.md, performance model).
 *
 * Memory: HANDOFF_SLOTS buffers of HANDOFF_SLOT_SIZE bytes (or what
 * handoff_new_sized asks), allocated when it is made; nothing afterwards.  handoff_push copies the caller's bytes
 * into the current slot (batching small pushes), or takes them in place when
 * they were written into a window lent by handoff_window, and hands full
 * slots over;
 * it blocks while every slot is in use, which is what bounds memory when
 * the disk is slower than the network.
 *
 * Errors: the downstream stages run on the handoff's thread and must be
 * given their own struct rz_error, handoff_err(h), never the caller's (no
 * error record is written by two threads).  When the downstream fails, the
 * next handoff_push that needs a fresh slot (so at most one slot, 256 KiB,
 * later: the failure is checked where the lock is taken anyway, not per
 * push) or handoff_finish joins the thread, copies that error into the
 * caller's record (unless it already holds one) and returns -1.
 * handoff_finish hands over the last partial slot, waits until the
 * downstream consumed everything and joins the thread; after it returns the
 * downstream stages may be used from the caller's thread again (e.g. to call
 * their finish), still with handoff_err(h).
 * handoff_stop stops the thread if it still runs (discarding queued data)
 * and joins it, so handoff_err(h) can be read; handoff_free stops, then
 * frees everything.  Both are safe after any failure.
 *
 * Signals and stopping: the handoff's thread runs with every signal but
 * the faults blocked, so SIGINT, SIGTERM, SIGHUP... reach the caller's
 * thread and their handlers never run on the handoff's.  Its own writes
 * past RLIMIT_FSIZE fail with EFBIG (no SIGXFSZ); a write to a closed pipe
 * fails with EPIPE and its SIGPIPE is raised on the caller's thread when
 * the thread is joined (handoff_push, _finish, _stop or _free).  After handoff_set_stop(h, stop) (stop may be NULL; read on the
 * caller's thread only), a producer waiting for the writer (queue full in
 * handoff_push, or draining in handoff_finish) checks *stop every 100 ms;
 * when it is set the thread is stopped (it drops queued data between
 * pieces of 64 KiB) and the call fails with RZ_E_INTERRUPTED at the
 * number of bytes handed over.
 */
#ifndef RZ_HANDOFF_H
#define RZ_HANDOFF_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/rz_error.h"
#include "../formats/stage.h"

#define HANDOFF_SLOTS 4
#define HANDOFF_SLOT_SIZE (256 * 1024)
#define HANDOFF_SLOTS_MAX 8

struct handoff;

int handoff_new(struct handoff **out, stage_push_fn down, void *down_ctx,
                struct rz_error *err);
/* The same with `slots` (2..HANDOFF_SLOTS_MAX) of `slot_size` bytes (at
 * least 32 KiB); anything else fails with RZ_E_INTERNAL. */
int handoff_new_sized(struct handoff **out, unsigned slots, size_t slot_size,
                      stage_push_fn down, void *down_ctx,
                      struct rz_error *err);
/* The error record for the downstream stages (valid until handoff_free). */
struct rz_error *handoff_err(struct handoff *h);
void handoff_set_stop(struct handoff *h, volatile sig_atomic_t *stop);
/*
 * Chained handoffs (source -> A -> decoder -> B -> writer): B's producer
 * is A's consumer thread, so B must not read the stop flag (it is the
 * signal handler's, read on the caller's thread only).  After
 * handoff_set_upstream(B, A), B's producer waiting for B's consumer also
 * gives up, as on a stop, once A is being stopped (handoff_stop(A), which
 * the caller does when it sees the stop flag), so a stop reaches every
 * thread within two waits.  Clear it (NULL) before A is freed.
 */
void handoff_set_upstream(struct handoff *h, struct handoff *upstream);
int handoff_push(void *h, const uint8_t *buf, size_t len);
/*
 * One copy per byte: lends the free part of the producer's current slot
 * (at least 16 KiB: a smaller rest is handed over first and a fresh slot
 * taken, blocking like handoff_push while all are in use).  The producer
 * writes into *p (up to *cap bytes) and then calls handoff_push with buf ==
 * *p: those bytes are taken in place, not copied.  Any other push is
 * copied as before.  Returns 0, or -1 with the caller's error filled (the
 * downstream failed, or the stop flag was seen).  A decoder uses it through
 * decoder_set_window (formats/decoder.h).
 */
int handoff_window(void *h, uint8_t **p, size_t *cap);
/* Bytes handoff_push took in place (for tests and -v). */
uint64_t handoff_in_place(const struct handoff *h);
int handoff_finish(struct handoff *h);
void handoff_stop(struct handoff *h);
void handoff_free(struct handoff *h);

#endif
