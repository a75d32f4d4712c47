/*
 * http_source.h: what the two HTTP sources share (http_source.c, one
 * connection; http_multi.c, several).  Internal to pipeline/; the public
 * contract of both is in source.h.
 */
#ifndef RZ_HTTP_SOURCE_H
#define RZ_HTTP_SOURCE_H

#include <curl/curl.h>
#include <stdbool.h>

#include "../formats/rz_error.h"
#include "source.h"

/*
 * The options every easy handle of a download gets: `protocols` (a
 * CURLOPT_PROTOCOLS_STR list), redirects left to us, user agent, TLS
 * verification and CA file, connect timeout, keep-alive, no signals, no
 * FAILONERROR, and for -vv the escaped trace.  -1 with *err on failure.
 */
int http_easy_connection(CURL *h, const struct http_source_options *o,
                         const char *protocols, struct rz_error *err);

/* CURLOPT_DEBUGFUNCTION for -vv: libcurl's text and headers, escaped. */
int http_trace(CURL *h, curl_infotype type, char *data, size_t size,
               void *ud);

/* The error code for a libcurl failure, and whether a retry may cure it. */
enum rz_code http_code_for(CURLcode rc);
bool http_transient_curl(CURLcode rc);

/* Monotonic seconds. */
double http_monotonic(void);

#endif
