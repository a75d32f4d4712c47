/*
 * install_multi.h: `install --driver=multi`: one thread runs libcurl's
 * multi interface over every component's download; each component's
 * pipeline (digest, decoder, handoff to its writer) still runs on that
 * component's own thread.
 *
 * Between the two, per component, a ring of INSTALL_MULTI_RING bytes: the
 * multi thread's write callback copies a body piece into it when it fits,
 * and otherwise pauses that transfer (CURL_WRITEFUNC_PAUSE); the
 * component's thread pushes what the ring holds into its pipeline and,
 * once half the ring is free again, wakes the multi thread, which resumes
 * the transfer with curl_easy_pause(CURLPAUSE_CONT).  The multi thread
 * never blocks on a pipeline: a slow disk or decoder behind one component
 * pauses that component's transfer only.
 *
 * Each component talks to the multi thread through its own struct
 * http_driver (source.h), so http_source_run keeps its retries, resume,
 * redirects and stall timeout per component, unchanged: only its
 * curl_easy_perform becomes "add the handle to the multi, push what
 * arrives, return the request's result".  Components share no state but
 * the multi handle and its lock: a failed push or a stop flag ends that
 * component's request only (its handle is removed from the multi), never
 * another's.
 *
 * Only http(s) components use it: a file:// URL runs on its component's
 * thread as with --driver=threads (libcurl reads a file in one go, and
 * would keep in memory whatever a paused transfer could not deliver).
 * --connections N (ranged connections per component) does not apply.
 *
 * Memory: one ring per component, allocated in install_multi_new.
 */
#ifndef RZ_INSTALL_MULTI_H
#define RZ_INSTALL_MULTI_H

#include <stddef.h>

#include "source.h"

#define INSTALL_MULTI_RING (1u << 20)

struct install_multi;

/* Start the multi thread with `n` component slots.  NULL on failure. */
struct install_multi *install_multi_new(size_t n);
/* Component i's driver (valid until install_multi_free). */
const struct http_driver *install_multi_driver(struct install_multi *im,
                                               size_t i);
/* Times a transfer was paused for room, over all components (-v, tests). */
unsigned long install_multi_pauses(const struct install_multi *im);
/* Stop the thread (every perform must have returned) and free. */
void install_multi_free(struct install_multi *im);

#endif
