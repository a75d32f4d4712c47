/*
 * installer.h: `rzup-extract install MANIFEST.yaml`: every component of a
 * manifest through its own pipeline, at most `jobs` at once, one thread
 * each (each pipeline has its writer thread too).
 *
 * Pipelines share nothing: each has its own stop flag (set from the
 * process's signal flag by the installer's thread, never by another
 * pipeline), its own error record, staging directory and publish.  One
 * component failing, for any reason, never stops or touches another.
 *
 * Receipts: at publish a file INSTALLER_RECEIPT ("name", "url" and
 * "sha256" lines) is written into the staging tree, so it appears in the
 * destination atomically with the files.  A component whose destination
 * already holds a receipt with the same url and sha256 is skipped without
 * any network access (unless `force`).  Missing parents of a destination
 * are created (mode 0755) before its download starts.
 *
 * Output: everything goes through `progress` (one item per component, in
 * manifest order): events, warnings, -v names ("name: entry" on stdout).
 * installer_run prints the summary on `summary` (NULL: none) after the
 * progress display has stopped: one line per component, and each failure
 * with its full message.
 *
 * Returns the exit status: 0 when every component was installed or up to
 * date, 128+N when signal N stopped the run, else the exit code of the
 * first failed component in manifest order.
 */
#ifndef RZ_INSTALLER_H
#define RZ_INSTALLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "manifest.h"
#include "pipeline.h"
#include "progress.h"

#define INSTALLER_RECEIPT ".rzup-receipt"

/*
 * Drivers: THREADS, each component's thread runs its own download with
 * curl_easy_perform; MULTI, one curl multi thread runs every component's
 * download and feeds each component's thread through a bounded ring
 * (install_multi.h).  Either way each component has its own pipeline.
 */
enum installer_driver { INSTALLER_THREADS, INSTALLER_MULTI };

struct installer_options {
    const struct manifest *m;
    unsigned jobs;                    /* 0: manifest's, else all at once */
    struct pipeline_options base;     /* shared settings: http, limits,
                                         sink flags; per-component fields
                                         are filled in */
    struct progress *progress;        /* m->n items */
    volatile sig_atomic_t *signal;    /* the process's signal flag */
    enum installer_driver driver;
    bool force;                       /* ignore receipts */
    bool quiet;                       /* summary: failures only */
    FILE *summary;
};

int installer_run(const struct installer_options *o);

/* 1 if dest holds a receipt for (url, sha256_hex), else 0. */
int installer_receipt_matches(const char *dest, const char *url,
                              const char *sha256_hex);

#endif
