/*
 * main.c: the rzup-extract command line.  Parses options into a struct
 * extract_options, installs the signal handlers that turn SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE into a clean stop (staging removed, destination as it
 * was), runs the pipeline and maps the error to an exit code.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../formats/tar_parser.h"
#include "digest.h"
#include "extract.h"

#define RZ_VERSION "0.1.0"
#define MAX_HEADERS 64

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/*
 * Removing a staging tree, and merging one, hold an fd or two per directory
 * level, and the name policy allows 1024 levels: the usual soft limit of
 * 1024 open files would make a hostile deep archive leave its staging
 * directory behind.  Raise the soft limit to the hard one.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void install_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;   /* no SA_RESTART: blocking reads return */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

static void usage(FILE *f)
{
    fputs(
"Usage: rzup-extract [OPTIONS] [SOURCE]\n"
"Download a .tar.gz or .tar and extract it while it downloads.\n"
"SOURCE is an http://, https:// or file:// URL, a path, or - (standard input;\n"
"the default when standard input is not a terminal).  Nothing appears in the\n"
"destination until the whole archive was received, decoded and verified.\n"
"\n"
"  -C, --directory DIR        extract into DIR (default: .); created if absent\n"
"      --strip-components N   drop N leading path components from names\n"
"  -t, --list                 list the entries; write nothing\n"
"  -v, --verbose              print each entry (twice: details / curl trace)\n"
"  -q, --quiet                print errors only\n"
"      --sha256 HEX           expected SHA-256 of the download; checked before\n"
"                             anything is published\n"
"  -H, --header 'Name: value' extra HTTP request header (repeatable)\n"
"      --cacert FILE          trust the CA certificates in FILE\n"
"  -k, --insecure             do not verify the server's TLS certificate\n"
"      --netrc                read credentials from ~/.netrc\n"
"      --connect-timeout S    give up connecting after S seconds\n"
"      --stall-timeout S      a transfer with no byte for S seconds has failed\n"
"                             (default 30; 0: never)\n"
"      --retries N            retry a failed download N times (default 5),\n"
"                             resuming where it stopped\n"
"      --retry-delay S        first backoff delay (default 0.5; doubles each\n"
"                             retry, at most 30 s)\n"
"      --retry-max-time S     give up retrying after S seconds in all\n"
"      --replace              replace DIR atomically instead of merging into it\n"
"      --allow-outside-symlinks  keep symlinks that point outside DIR\n"
"      --no-strict-trailer    ignore data after the end-of-archive blocks, and\n"
"                             accept a plain tar that lacks them\n"
"  -i, --ignore-zeros         read past zero blocks (concatenated archives)\n"
"      --xattrs               restore user.* extended attributes\n"
"      --same-owner           keep archive owners (root only)\n"
"      --keep-special-files   create devices and FIFOs (root only)\n"
"      --max-size BYTES       refuse archives with more file data than this\n"
"      --max-entries N        refuse archives with more entries than this\n"
"      --max-file-size BYTES  refuse any file larger than this\n"
"      --max-ratio R          refuse compression ratios above R:1 (bombs)\n"
"      --zstd-max-window BYTES  largest zstd window accepted (default 128M,\n"
"                             as zstd -d; a frame asking for more fails)\n"
"      --xz-memlimit BYTES    memory liblzma may use for xz/lzma (default 1G)\n"
"      --xz-threads N         threads for multi-block xz (default: CPUs, at\n"
"                             most 8; 1: single-threaded)\n"
"      --gzip-engine E        inflate gzip with isal (ISA-L, the default when\n"
"                             built in) or zlib; the output is identical\n"
"  -h, --help                 show this help\n"
"  -V, --version              show the version\n"
"\n"
"Sizes take K, M, G or T suffixes (powers of 1024).\n"
"\n"
"Exit status: 0 success, 1 internal error, 2 usage, 3 network, 4 integrity\n"
"(digest or CRC), 5 malformed archive, 6 refused by the safety policy or a\n"
"limit, 7 local I/O error, 128+N killed by signal N (e.g. 130 for Ctrl-C).\n",
        f);
}

enum {
    OPT_STRIP = 256, OPT_SHA256, OPT_CACERT, OPT_NETRC, OPT_CONNECT_TIMEOUT,
    OPT_REPLACE, OPT_ALLOW_OUTSIDE, OPT_NO_STRICT, OPT_SAME_OWNER,
    OPT_KEEP_SPECIAL, OPT_MAX_SIZE, OPT_MAX_ENTRIES, OPT_MAX_FILE_SIZE,
    OPT_MAX_RATIO, OPT_STALL_TIMEOUT, OPT_RETRIES, OPT_RETRY_DELAY,
    OPT_RETRY_MAX_TIME,
    OPT_XATTRS,
    OPT_ZSTD_MAX_WINDOW, OPT_XZ_MEMLIMIT, OPT_XZ_THREADS,
    OPT_GZIP_ENGINE,
};

static const struct option long_opts[] = {
    {"directory", required_argument, NULL, 'C'},
    {"strip-components", required_argument, NULL, OPT_STRIP},
    {"list", no_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"sha256", required_argument, NULL, OPT_SHA256},
    {"header", required_argument, NULL, 'H'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"netrc", no_argument, NULL, OPT_NETRC},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"allow-outside-symlinks", no_argument, NULL, OPT_ALLOW_OUTSIDE},
    {"no-strict-trailer", no_argument, NULL, OPT_NO_STRICT},
    {"ignore-zeros", no_argument, NULL, 'i'},
    {"xattrs", no_argument, NULL, OPT_XATTRS},
    {"same-owner", no_argument, NULL, OPT_SAME_OWNER},
    {"keep-special-files", no_argument, NULL, OPT_KEEP_SPECIAL},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
    {"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"zstd-max-window", required_argument, NULL, OPT_ZSTD_MAX_WINDOW},
    {"xz-memlimit", required_argument, NULL, OPT_XZ_MEMLIMIT},
    {"xz-threads", required_argument, NULL, OPT_XZ_THREADS},
    {"gzip-engine", required_argument, NULL, OPT_GZIP_ENGINE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Parse a non-negative number with an optional K/M/G/T suffix. */
static int parse_size(const char *s, uint64_t *out, bool suffixes)
{
    char *end;
    uint64_t mult = 1;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    if (suffixes && *end) {
        switch (*end++) {
        case 'k': case 'K': mult = 1ull << 10; break;
        case 'm': case 'M': mult = 1ull << 20; break;
        case 'g': case 'G': mult = 1ull << 30; break;
        case 't': case 'T': mult = 1ull << 40; break;
        default: return -1;
        }
    }
    if (*end || (v && mult > UINT64_MAX / v))
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

/* Seconds with up to three decimals ("0.25"), at most `max`, in ms. */
static int parse_ms(const char *s, long max_seconds, long *ms)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || v > (double)max_seconds)
        return -1;
    *ms = (long)(v * 1000.0 + 0.5);
    return 0;
}

struct cli {
    struct extract_options o;
    const char *headers[MAX_HEADERS];
    struct http_source_stats net;
    bool quiet;
};

static int bad_value(const char *opt, const char *val)
{
    fprintf(stderr, "rzup-extract: invalid value for %s: '%s'\n"
            "Try 'rzup-extract --help'.\n", opt, val);
    return RZ_EXIT_USAGE;
}

/* --version's second line: the formats this build reads. */
static void print_decoders(FILE *f)
{
    static const struct {
        enum decoder_kind kind;
        const char *name;
    } k[] = {
        {DECODER_XZ, "xz"}, {DECODER_ZSTD, "zstd"}, {DECODER_BZIP2, "bzip2"},
        {DECODER_LZ4, "lz4"}, {DECODER_LZMA, "lzma"},
        {DECODER_COMPRESS, "compress (.Z)"},
    };
    struct decoder_options o = {0};
    fprintf(f, "formats: tar, gzip (%s%s)", decoder_gzip_engine_name(&o),
            decoder_gzip_engine_built_in(DECODER_GZIP_ISAL) ? "; zlib with "
            "--gzip-engine=zlib" : "");
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        fprintf(f, ", %s%s", k[i].name,
                decoder_built_in(k[i].kind) ? "" : " (not built in)");
    fputc('\n', f);
}

/* Extraction, limits, help; -1 to go on, or an exit code. */
static int parse_other_option(struct extract_options *o, int opt,
                             const char *arg)
{
    switch (opt) {
    case OPT_REPLACE: o->sink.flags |= FS_SINK_REPLACE; break;
    case OPT_ALLOW_OUTSIDE: o->sink.flags |= FS_SINK_ALLOW_OUTSIDE_LINKS; break;
    case OPT_NO_STRICT: o->tar_flags |= TAR_PARSER_LENIENT_TRAILER; break;
    case OPT_SAME_OWNER: o->sink.flags |= FS_SINK_SAME_OWNER; break;
    case OPT_KEEP_SPECIAL: o->sink.flags |= FS_SINK_KEEP_SPECIAL; break;
    case 'i': o->tar_flags |= TAR_PARSER_IGNORE_ZEROS; break;
    case OPT_XATTRS: o->sink.flags |= FS_SINK_XATTRS; break;
    case OPT_MAX_SIZE:
        if (parse_size(arg, &o->sink.max_size, true) < 0)
            return bad_value("--max-size", arg);
        break;
    case OPT_MAX_ENTRIES:
        if (parse_size(arg, &o->sink.max_entries, false) < 0)
            return bad_value("--max-entries", arg);
        break;
    case OPT_MAX_FILE_SIZE:
        if (parse_size(arg, &o->sink.max_file_size, true) < 0)
            return bad_value("--max-file-size", arg);
        break;
    case OPT_MAX_RATIO:
        if (parse_size(arg, &o->max_ratio, false) < 0 || o->max_ratio == 0)
            return bad_value("--max-ratio", arg);
        break;
    case OPT_ZSTD_MAX_WINDOW:
        if (parse_size(arg, &o->decoder.zstd_max_window, true) < 0
            || o->decoder.zstd_max_window < 1024
            || o->decoder.zstd_max_window > ((uint64_t)1 << 31))
            return bad_value("--zstd-max-window (1K to 2G)", arg);
        break;
    case OPT_XZ_MEMLIMIT:
        if (parse_size(arg, &o->decoder.xz_memlimit, true) < 0
            || o->decoder.xz_memlimit == 0)
            return bad_value("--xz-memlimit", arg);
        break;
    case OPT_GZIP_ENGINE:
        if (strcmp(arg, "zlib") == 0)
            o->decoder.gzip_engine = DECODER_GZIP_ZLIB;
        else if (strcmp(arg, "isal") == 0)
            o->decoder.gzip_engine = DECODER_GZIP_ISAL;
        else
            return bad_value("--gzip-engine (zlib or isal)", arg);
        if (!decoder_gzip_engine_built_in(o->decoder.gzip_engine)) {
            fprintf(stderr, "rzup-extract: --gzip-engine=isal: ISA-L is not "
                    "built in (configure.py did not find libisal)\n");
            return RZ_EXIT_USAGE;
        }
        break;
    case OPT_XZ_THREADS: {
        uint64_t v;
        if (parse_size(arg, &v, false) < 0 || v == 0 || v > 64)
            return bad_value("--xz-threads (1 to 64)", arg);
        o->decoder.xz_threads = (unsigned)v;
        break;
    }
    case 'h': usage(stdout); return RZ_EXIT_OK;
    case 'V':
        printf("rzup-extract %s (%s)\n", RZ_VERSION, curl_version());
        print_decoders(stdout);
        return RZ_EXIT_OK;
    default:
        fputs("Try 'rzup-extract --help'.\n", stderr);
        return RZ_EXIT_USAGE;
    }
    return -1;
}

/* Retry and timeout options; -1 to go on, or an exit code. */
static int parse_network_option(struct extract_options *o, int opt,
                                const char *arg)
{
    uint64_t v;
    switch (opt) {
    case OPT_STALL_TIMEOUT:
        if (parse_size(arg, &v, false) < 0 || v > 86400)
            return bad_value("--stall-timeout", arg);
        o->http.stall_timeout = (long)v;
        break;
    case OPT_RETRIES:
        if (parse_size(arg, &v, false) < 0 || v > 1000)
            return bad_value("--retries", arg);
        o->http.retries = (unsigned)v;
        break;
    case OPT_RETRY_DELAY:
        if (parse_ms(arg, 3600, &o->http.retry_delay_ms) < 0)
            return bad_value("--retry-delay", arg);
        break;
    case OPT_RETRY_MAX_TIME:
        if (parse_size(arg, &v, false) < 0 || v > 86400 * 7)
            return bad_value("--retry-max-time", arg);
        o->http.retry_max_time = (long)v;
        break;
    default:
        return parse_other_option(o, opt, arg);
    }
    return -1;
}

/* Returns -1 to go on, or an exit code. */
static int parse_option(struct cli *c, int opt, const char *arg)
{
    struct extract_options *o = &c->o;
    uint64_t v;
    struct rz_error err;
    switch (opt) {
    case 'C': o->sink.dest = arg; break;
    case OPT_STRIP:
        if (parse_size(arg, &v, false) < 0 || v > 1024)
            return bad_value("--strip-components", arg);
        o->sink.strip_components = (unsigned)v;
        break;
    case 't': o->list = true; break;
    case 'v': o->verbose++; break;
    case 'q': c->quiet = true; break;
    case OPT_SHA256:
        rz_error_clear(&err);
        if (sha256_parse_hex(arg, o->sha256, &err) < 0)
            return bad_value("--sha256 (64 hex digits)", arg);
        o->have_sha256 = true;
        break;
    case 'H':
        if (o->http.n_headers == MAX_HEADERS || !strchr(arg, ':'))
            return bad_value("-H (expects 'Name: value')", arg);
        c->headers[o->http.n_headers++] = arg;
        break;
    case OPT_CACERT: o->http.cacert = arg; break;
    case 'k': o->http.insecure = true; break;
    case OPT_NETRC: o->http.netrc = true; break;
    case OPT_CONNECT_TIMEOUT:
        if (parse_size(arg, &v, false) < 0 || v > 86400)
            return bad_value("--connect-timeout", arg);
        o->http.connect_timeout = (long)v;
        break;
    default:
        return parse_network_option(o, opt, arg);
    }
    return -1;
}

static void warn(void *ctx, const char *msg)
{
    const struct cli *c = ctx;
    if (!c->quiet)
        fprintf(stderr, "rzup-extract: warning: %s\n", msg);
}

static void note(void *ctx, const char *msg)
{
    const struct cli *c = ctx;
    if (!c->quiet)
        fprintf(stderr, "rzup-extract: %s\n", msg);
}

static void set_defaults(struct cli *c)
{
    struct http_source_options *h = &c->o.http;
    c->o.sink.dest = ".";
    h->retries = 5;
    h->retry_delay_ms = 500;
    h->stall_timeout = 30;
    h->notice = note;
    h->notice_ctx = c;
    h->stats = &c->net;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    int opt, rc;
    set_defaults(c);
    c->o.list_out = stdout;
    c->o.http.headers = c->headers;
    c->o.sink.warn = warn;
    c->o.sink.warn_ctx = c;
    while ((opt = getopt_long(argc, argv, "C:tvqH:khVi", long_opts, NULL)) != -1)
        if ((rc = parse_option(c, opt, optarg)) >= 0)
            return rc;
    if (argc - optind > 1) {
        fprintf(stderr, "rzup-extract: one SOURCE expected, got %d\n"
                "Try 'rzup-extract --help'.\n", argc - optind);
        return RZ_EXIT_USAGE;
    }
    if (argc - optind == 1) {
        c->o.source = argv[optind];
    } else if (!isatty(STDIN_FILENO)) {
        c->o.source = "-";
    } else {
        fputs("rzup-extract: no SOURCE given and standard input is a terminal\n"
              "Try 'rzup-extract --help'.\n", stderr);
        return RZ_EXIT_USAGE;
    }
    c->o.sink.verbose = c->o.verbose;
    c->o.http.verbose = c->o.verbose;
    /* the digest, checked before publishing, catches a spliced file */
    c->o.http.resume_unvalidated = c->o.have_sha256;
    if (c->o.http.insecure)
        warn(c, "--insecure: the server's TLS certificate is not verified");
    return -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int report(const struct cli *c, const struct extract_stats *st,
                  const struct rz_error *err, double secs)
{
    char msg[2048];
    const struct http_source_stats *n = &c->net;
    if (c->o.verbose && n->attempts > 0)
        fprintf(stderr, "rzup-extract: network: %u attempts, %u resumes, %u "
                "requests, %" PRIu64 " bytes received, %" PRIu64
                " bytes re-downloaded\n", n->attempts, n->resumes,
                n->requests, n->bytes_received, n->bytes_discarded);
    if (err->code == RZ_E_OK) {
        if (c->o.verbose && !c->o.list)
            fprintf(stderr, "rzup-extract: %" PRIu64 " entries, %" PRIu64
                    " bytes of files from %" PRIu64 " bytes (%s) in %.2f s\n",
                    st->entries, st->file_bytes, st->raw_bytes,
                    st->format ? st->format : "?", secs);
        return RZ_EXIT_OK;
    }
    rz_error_format(err, msg, sizeof msg);
    fprintf(stderr, "rzup-extract: error: %s\n", msg);
    if (err->code == RZ_E_INTERRUPTED && stop_signal)
        return 128 + stop_signal;
    return rz_code_exit(err->code);
}

int main(int argc, char **argv)
{
    struct cli c;
    struct extract_stats st;
    struct rz_error err;
    int rc;

    memset(&c, 0, sizeof c);
    memset(&st, 0, sizeof st);
    rz_error_clear(&err);
    if ((rc = parse_args(&c, argc, argv)) >= 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("rzup-extract: error: libcurl failed to initialise\n", stderr);
        return RZ_EXIT_INTERNAL;
    }
    install_signals();
    raise_fd_limit();
    c.o.stop = &stop_signal;
    double t0 = now();
    extract_run(&c.o, &st, &err);
    rc = report(&c, &st, &err, now() - t0);
    curl_global_cleanup();
    return rc;
}
