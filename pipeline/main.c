/*
 * main.c: the rzup-extract command line.  Parses options into a struct
 * pipeline_options, installs the signal handlers that turn SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE into a clean stop (staging removed, destination as it
 * was), runs the pipeline (or, for `install MANIFEST`, the installer) and
 * maps the error to an exit code.  Everything printed while a pipeline
 * runs goes through the progress reporter (pipeline/progress.h).
 *
 * Adding an option: an OPT_ value, a long_opts line, a case in one of the
 * parse_* switches, and a line in usage() (or full_usage()).
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/tar_parser.h"
#include "digest.h"
#include "installer.h"
#include "manifest.h"
#include "pipeline.h"
#include "progress.h"

#define RZ_VERSION "0.1.0"
#define MAX_HEADERS 64
#define MAX_PATTERNS 256

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

/* The common options: one 80x24 screen. */
static void usage(FILE *f)
{
    fputs(
"Usage: rzup-extract [OPTIONS] [SOURCE]\n"
"       rzup-extract install [OPTIONS] MANIFEST.yaml\n"
"Download a .tar.gz or .tar and extract it while it downloads.  SOURCE is a\n"
"URL, a path, or - (stdin, the default when it is not a terminal).  Nothing\n"
"appears in DIR until the whole archive was received, decoded and verified.\n"
"\n"
"  -C, --directory DIR        extract into DIR (default: .)\n"
"      --strip-components N   drop N leading path components from names\n"
"      --sha256 DIGEST        expected SHA-256 (HEX, sha256:HEX or a line of\n"
"                             sha256sum output); checked before publishing\n"
"      --sha256-url URL       fetch the expected SHA-256 from a .sha256 file\n"
"  -t, --list                 list the entries (-tv: with modes and sizes)\n"
"  -v, --verbose              print each entry as it is written\n"
"      --include/--exclude GLOB  extract only / skip matching entries\n"
"      --progress MODE        auto, bar, plain, json or none (default auto)\n"
"  -H, --header 'Name: value' extra HTTP request header (repeatable)\n"
"      --replace              replace DIR atomically instead of merging\n"
"  -j, --jobs N               install: components at once (default: all)\n"
"  -q, --quiet                print errors only\n"
"  -h, --help                 this help; --help all: every option\n"
"\n"
"Exit: 0 ok, 2 usage, 3 network, 4 integrity, 5 malformed archive, 6 refused\n"
"by the safety policy, 7 local I/O, 128+N signal N.  See rzup-extract(1).\n",
        f);
}

/* Every option. */
static void full_usage(FILE *f)
{
    fputs(
"Usage: rzup-extract [OPTIONS] [SOURCE]\n"
"       rzup-extract install [OPTIONS] MANIFEST.yaml\n"
"Download a .tar.gz or .tar and extract it while it downloads.\n"
"SOURCE is an http://, https:// or file:// URL, a path, or - (standard input;\n"
"the default when standard input is not a terminal).  Nothing appears in the\n"
"destination until the whole archive was received, decoded and verified.\n"
"install reads a YAML manifest of components (name, url, sha256, dest) and\n"
"installs them in parallel, each atomically; see rzup-extract(1).\n"
"\n"
"Extraction:\n"
"  -C, --directory DIR        extract into DIR (default: .); created if absent\n"
"      --strip-components N   drop N leading path components from names\n"
"                             (before the safety checks)\n"
"  -t, --list                 list the entries; write nothing (-tv: details)\n"
"  -v, --verbose              print each entry (twice: details / curl trace)\n"
"  -q, --quiet                print errors only\n"
"      --include GLOB         extract only entries matching GLOB (repeatable;\n"
"                             a directory brings its contents)\n"
"      --exclude GLOB         skip entries matching GLOB at any depth\n"
"      --wildcards            accepted for tar compatibility (always on)\n"
"      --replace              replace DIR atomically instead of merging into it\n"
"      --allow-outside-symlinks  keep symlinks that point outside DIR\n"
"      --no-strict-trailer    ignore data after the end-of-archive blocks, and\n"
"                             accept a plain tar that lacks them\n"
"  -i, --ignore-zeros         read past zero blocks (concatenated archives)\n"
"      --xattrs               restore user.* extended attributes\n"
"      --same-owner           keep archive owners (root only)\n"
"      --keep-special-files   create devices and FIFOs (root only)\n"
"      --threads N            threads creating files (1 to 16, or auto, the\n"
"                             default; 1: one thread, in archive order)\n"
"\n"
"Integrity and limits:\n"
"      --sha256 DIGEST        expected SHA-256 of the download: 64 hex digits,\n"
"                             sha256:HEX, or a pasted sha256sum line\n"
"      --sha256-url URL       fetch the expected SHA-256 from URL (a .sha256\n"
"                             file as rustup publishes: 'HEX  name' lines)\n"
"      --max-size BYTES       refuse archives with more file data than this\n"
"      --max-entries N        refuse archives with more entries than this\n"
"      --max-file-size BYTES  refuse any file larger than this\n"
"      --max-ratio R          refuse compression ratios above R:1 (bombs)\n"
"\n"
"Network:\n"
"  -H, --header 'Name: value' extra HTTP request header (repeatable; sent only\n"
"                             to the URL's own origin)\n"
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
"      --connections N        fetch N ranges at once, delivered in order\n"
"                             (default: 1, up to 4 while the network is\n"
"                             the limit; 1: one connection)\n"
"      --chunk-size BYTES     bytes per ranged request (default 1M); memory\n"
"                             for the download is at most N x BYTES\n"
"      --allow-downgrade      follow https:// -> http:// redirects (sending no\n"
"                             -H headers or netrc credentials there)\n"
"\n"
"Decompression (the format is always found from the first bytes):\n"
"      --zstd-max-window BYTES  largest zstd window accepted (default 128M,\n"
"                             as zstd -d; a frame asking for more fails)\n"
"      --xz-memlimit BYTES    memory liblzma may use for xz/lzma (default 1G)\n"
"      --xz-threads N         threads for multi-block xz (default: CPUs, at\n"
"                             most 8; 1: single-threaded)\n"
"      --gzip-engine E        inflate gzip with isal (ISA-L, the default when\n"
"                             built in) or zlib; the output is identical\n"
"\n"
"Display and installer:\n"
"      --progress MODE        auto (a bar on a terminal, plain lines in a log),\n"
"                             bar, plain, json (one object per line on\n"
"                             stderr) or none\n"
"  -j, --jobs N               install: at most N components at once (default:\n"
"                             the manifest's jobs, else all)\n"
"      --force                install: ignore receipts, install everything\n"
"      --driver D             install: threads (each download on its\n"
"                             component's thread) or multi (one curl multi\n"
"                             thread for all downloads)\n"
"  -h, --help [all]           show the common options [or all of them]\n"
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
    OPT_CONNECTIONS, OPT_CHUNK_SIZE, OPT_ALLOW_DOWNGRADE,
    OPT_PROGRESS, OPT_INCLUDE, OPT_EXCLUDE, OPT_WILDCARDS, OPT_SHA256_URL,
    OPT_FORCE, OPT_HELP_ALL,
    OPT_ZSTD_MAX_WINDOW, OPT_XZ_MEMLIMIT, OPT_XZ_THREADS,
    OPT_GZIP_ENGINE,
    OPT_XATTRS,
    OPT_THREADS,
    OPT_DRIVER,
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
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
    {"allow-downgrade", no_argument, NULL, OPT_ALLOW_DOWNGRADE},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"allow-outside-symlinks", no_argument, NULL, OPT_ALLOW_OUTSIDE},
    {"no-strict-trailer", no_argument, NULL, OPT_NO_STRICT},
    {"ignore-zeros", no_argument, NULL, 'i'},
    {"xattrs", no_argument, NULL, OPT_XATTRS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"same-owner", no_argument, NULL, OPT_SAME_OWNER},
    {"keep-special-files", no_argument, NULL, OPT_KEEP_SPECIAL},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
    {"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"wildcards", no_argument, NULL, OPT_WILDCARDS},
    {"sha256-url", required_argument, NULL, OPT_SHA256_URL},
    {"jobs", required_argument, NULL, 'j'},
    {"force", no_argument, NULL, OPT_FORCE},
    {"driver", required_argument, NULL, OPT_DRIVER},
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
    struct pipeline_options o;
    const char *headers[MAX_HEADERS];
    const char *include[MAX_PATTERNS];
    const char *exclude[MAX_PATTERNS];
    struct http_source_stats net;
    bool quiet;
    bool install;                  /* `rzup-extract install MANIFEST` */
    bool full_help;
    enum progress_mode progress;
    unsigned jobs;
    bool force;
    int driver;                    /* enum installer_driver */
    const char *sha256_url;
    struct progress *p;
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
static int parse_other_option(struct pipeline_options *o, int opt,
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
    case OPT_THREADS: {
        uint64_t v = 0;
        if (strcmp(arg, "auto") != 0 &&
            (parse_size(arg, &v, false) < 0 || v == 0 || v > 16))
            return bad_value("--threads (1 to 16, or auto)", arg);
        o->sink.threads = (unsigned)v;
        break;
    }
    case OPT_XZ_THREADS: {
        uint64_t v;
        if (parse_size(arg, &v, false) < 0 || v == 0 || v > 64)
            return bad_value("--xz-threads (1 to 64)", arg);
        o->decoder.xz_threads = (unsigned)v;
        break;
    }
    case 'h': usage(stdout); return RZ_EXIT_OK;
    case OPT_HELP_ALL: full_usage(stdout); return RZ_EXIT_OK;
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
static int parse_network_option(struct pipeline_options *o, int opt,
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
    case OPT_CONNECTIONS:
        if (parse_size(arg, &v, false) < 0 || v < 1 || v > HTTP_MULTI_MAX)
            return bad_value("--connections", arg);
        o->http.connections = (unsigned)v;
        o->http.connections_asked = true;
        break;
    case OPT_CHUNK_SIZE:
        if (parse_size(arg, &v, true) < 0 || v < HTTP_MULTI_CHUNK_MIN
            || v > HTTP_MULTI_CHUNK_MAX)
            return bad_value("--chunk-size", arg);
        o->http.chunk_size = (size_t)v;
        break;
    case OPT_ALLOW_DOWNGRADE: o->http.allow_downgrade = true; break;
    default:
        return parse_other_option(o, opt, arg);
    }
    return -1;
}

/* Progress, filters, the installer; -1 to go on, or an exit code. */
static int parse_display_option(struct cli *c, int opt, const char *arg)
{
    uint64_t v;
    switch (opt) {
    case OPT_PROGRESS:
        if (progress_mode_parse(arg, &c->progress) < 0)
            return bad_value("--progress (auto, bar, plain, json, none)", arg);
        break;
    case OPT_INCLUDE:
        if (c->o.n_include == MAX_PATTERNS)
            return bad_value("--include (at most 256)", arg);
        c->include[c->o.n_include++] = arg;
        break;
    case OPT_EXCLUDE:
        if (c->o.n_exclude == MAX_PATTERNS)
            return bad_value("--exclude (at most 256)", arg);
        c->exclude[c->o.n_exclude++] = arg;
        break;
    case OPT_WILDCARDS: break;
    case OPT_SHA256_URL: c->sha256_url = arg; break;
    case 'j':
        if (parse_size(arg, &v, false) < 0 || v < 1 || v > 64)
            return bad_value("--jobs (1 to 64)", arg);
        c->jobs = (unsigned)v;
        break;
    case OPT_FORCE: c->force = true; break;
    case OPT_DRIVER:
        if (strcmp(arg, "threads") == 0)
            c->driver = INSTALLER_THREADS;
        else if (strcmp(arg, "multi") == 0)
            c->driver = INSTALLER_MULTI;
        else
            return bad_value("--driver (threads, multi)", arg);
        break;
    default:
        return parse_network_option(&c->o, opt, arg);
    }
    return -1;
}

/* Returns -1 to go on, or an exit code. */
static int parse_option(struct cli *c, int opt, const char *arg)
{
    struct pipeline_options *o = &c->o;
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
        if (sha256_parse_digest(arg, o->sha256, &err) < 0) {
            fprintf(stderr, "rzup-extract: %s\n", err.detail);
            return bad_value("--sha256 (64 hex digits, sha256:HEX or a "
                             "sha256sum line)", arg);
        }
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
        return parse_display_option(c, opt, arg);
    }
    return -1;
}

/* Everything printed while the pipeline runs goes through c->p. */
static void warn(void *ctx, const char *msg)
{
    struct cli *c = ctx;
    if (!c->quiet)
        progress_warn(c->p, 0, msg);
}

static void retry_note(void *ctx, const char *msg)
{
    struct cli *c = ctx;
    if (!c->quiet || progress_get_mode(c->p) == PROGRESS_JSON)
        progress_retry(c->p, 0, msg);
}

static void note(void *ctx, const char *msg)
{
    struct cli *c = ctx;
    if (!c->quiet || progress_get_mode(c->p) == PROGRESS_JSON)
        progress_notice(c->p, 0, msg);
}

static void on_total(void *ctx, int64_t total)
{
    struct cli *c = ctx;
    atomic_store(&progress_item_counters(c->p, 0)->total, total);
}

/*
 * A single run whose stdout reader went away stops as tar would on
 * SIGPIPE (exit 141).  The reporter's thread, which wrote, blocks signals,
 * so the broken pipe arrives here as EPIPE and is turned into the signal's
 * stop.  (The installer ignores SIGPIPE: one pipeline's EPIPE is its own.)
 */
static int on_line(void *ctx, const char *line)
{
    struct cli *c = ctx;
    if (progress_line(c->p, line) == 0)
        return 0;
    if (progress_out_errno(c->p) == EPIPE && !stop_signal)
        stop_signal = SIGPIPE;
    return progress_out_errno(c->p);
}

static void set_defaults(struct cli *c)
{
    struct http_source_options *h = &c->o.http;
    c->o.sink.dest = ".";
    h->retries = 5;
    h->retry_delay_ms = 500;
    h->stall_timeout = 30;
    h->connections = HTTP_MULTI_DEFAULT;
    h->notice = note;
    h->on_retry = retry_note;
    h->notice_ctx = c;
    h->on_total = on_total;
    h->stats = &c->net;
    c->o.on_line = on_line;
    c->o.on_warn = warn;
    c->o.on_note = note;
    c->o.out_ctx = c;
    c->o.http.headers = c->headers;
    c->o.include = c->include;
    c->o.exclude = c->exclude;
}

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "rzup-extract: ");
    fprintf(stderr, fmt, what);
    fputs("\nTry 'rzup-extract --help'.\n", stderr);
    return RZ_EXIT_USAGE;
}

static int parse_operands(struct cli *c, int argc, char **argv)
{
    int n = argc - optind;
    if (c->install) {
        if (n != 1)
            return usage_error("install takes one MANIFEST.yaml%s", "");
        c->o.source = argv[optind];
        return -1;
    }
    if (n > 1) {
        fprintf(stderr, "rzup-extract: one SOURCE expected, got %d\n"
                "Try 'rzup-extract --help'.\n", n);
        return RZ_EXIT_USAGE;
    }
    if (n == 1)
        c->o.source = argv[optind];
    else if (!isatty(STDIN_FILENO))
        c->o.source = "-";
    else
        return usage_error("no SOURCE given and standard input is a "
                           "terminal%s", "");
    return -1;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    int opt, rc;
    set_defaults(c);
    if (argc > 1 && strcmp(argv[1], "install") == 0) {
        c->install = true;
        argv++, argc--;
    }
    while ((opt = getopt_long(argc, argv, "C:tvqH:khVj:i", long_opts, NULL))
           != -1) {
        /* --help all */
        if (opt == 'h' && optind < argc && strcmp(argv[optind], "all") == 0)
            opt = OPT_HELP_ALL;
        if ((rc = parse_option(c, opt, optarg)) >= 0)
            return rc;
    }
    if ((rc = parse_operands(c, argc, argv)) >= 0)
        return rc;
    if (c->quiet && c->progress == PROGRESS_AUTO)
        c->progress = PROGRESS_NONE;
    c->o.sink.verbose = c->o.verbose;
    c->o.http.verbose = c->o.verbose;
    if (c->install && c->o.list)
        return usage_error("install cannot list (-t)%s", "");
    return -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The name a single run's progress shows: the URL or path. */
static const char *display_name(const char *source)
{
    return strcmp(source, "-") == 0 ? "stdin" : source;
}

static int report(const struct cli *c, const struct pipeline_stats *st,
                  const struct rz_error *err, double secs)
{
    char msg[2048];
    const struct http_source_stats *n = &c->net;
    bool json = progress_get_mode(c->p) == PROGRESS_JSON;
    int rc = err->code == RZ_E_OK ? RZ_EXIT_OK : rz_code_exit(err->code);
    if (err->code == RZ_E_INTERRUPTED && stop_signal)
        rc = 128 + stop_signal;
    if (err->code != RZ_E_OK) {
        rz_error_format(err, msg, sizeof msg);
        progress_fail(c->p, 0, rc, msg);
    } else {
        progress_done(c->p, 0);
    }
    progress_stop(c->p);
    if (json)
        return rc;     /* stderr holds JSON only */
    if (c->o.verbose && n->attempts > 0)
        fprintf(stderr, "rzup-extract: network: %u attempts, %u resumes, %u "
                "requests, %" PRIu64 " bytes received, %" PRIu64
                " bytes re-downloaded, %u connection%s\n", n->attempts,
                n->resumes, n->requests, n->bytes_received,
                n->bytes_discarded, n->connections ? n->connections : 1,
                n->connections > 1 ? "s" : "");
    if (err->code == RZ_E_OK) {
        if (c->o.verbose && !c->o.list)
            fprintf(stderr, "rzup-extract: %" PRIu64 " entries, %" PRIu64
                    " bytes of files from %" PRIu64 " bytes (%s) in %.2f s\n",
                    st->entries, st->file_bytes, st->raw_bytes,
                    st->format ? st->format : "?", secs);
        return rc;
    }
    fprintf(stderr, "rzup-extract: error: %s\n", msg);
    return rc;
}

/* --sha256-url: the digest file, fetched whole (at most 64 KiB). */
struct fetched {
    char buf[64 * 1024];
    size_t len;
    struct rz_error *err;
};

static int collect(void *ctx, const uint8_t *buf, size_t len)
{
    struct fetched *f = ctx;
    if (len > sizeof f->buf - f->len)
        return rz_error_set(f->err, RZ_E_DIGEST_FORMAT, 0, RZ_OFF_RAW, f->len,
                            NULL, 0, "the --sha256-url file is over 64 KiB: "
                            "not a digest file");
    memcpy(f->buf + f->len, buf, len);
    f->len += len;
    return 0;
}

/* "scheme://host:port" of a URL: its length (up to the path). */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

static bool same_origin(const char *a, const char *b)
{
    size_t la = origin_len(a), lb = origin_len(b);
    return la > 0 && la == lb && strncasecmp(a, b, la) == 0;
}

static int fetch_sha256(struct cli *c, struct rz_error *err)
{
    struct fetched *f = calloc(1, sizeof *f);
    struct http_source_options h = c->o.http;
    const char *base = strrchr(c->o.source, '/');
    char want[1024];
    int rc;
    if (!f)
        return rz_error_set(err, RZ_E_NOMEM, ENOMEM, RZ_OFF_NONE, 0, NULL, 0,
                            NULL);
    /* the archive's name, without a query string */
    snprintf(want, sizeof want, "%s", base ? base + 1 : c->o.source);
    want[strcspn(want, "?#")] = '\0';
    f->err = err;
    h.url = c->sha256_url;
    /* -H headers are for the archive's origin: never sent elsewhere */
    if (!same_origin(c->sha256_url, c->o.source)) {
        h.headers = NULL;
        h.n_headers = 0;
    }
    h.on_total = NULL;
    h.stats = NULL;
    rc = http_source_run(&h, collect, f, &stop_signal, err);
    if (rc == 0 && sha256_parse_sum_file(f->buf, f->len, want, c->o.sha256,
                                         err) == 0)
        c->o.have_sha256 = true;
    else if (err->code == RZ_E_DIGEST_FORMAT)
        snprintf(err->detail + strlen(err->detail),
                 sizeof err->detail - strlen(err->detail), " (from %s)",
                 c->sha256_url);
    free(f);
    return c->o.have_sha256 ? 0 : -1;
}

static int run_single(struct cli *c)
{
    struct pipeline_stats st;
    struct rz_error err;
    double t0 = now();
    memset(&st, 0, sizeof st);
    rz_error_clear(&err);
    c->p = progress_new(c->o.list ? PROGRESS_NONE : c->progress, 1, false,
                        stdout, stderr);
    if (!c->p) {
        fputs("rzup-extract: error: out of memory\n", stderr);
        return RZ_EXIT_INTERNAL;
    }
    if (c->o.verbose)
        setvbuf(stdout, NULL, _IOLBF, 0);
    progress_item_name(c->p, 0, display_name(c->o.source));
    c->o.counters = progress_item_counters(c->p, 0);
    if (!source_is_url(c->o.source) && strcmp(c->o.source, "-") != 0) {
        struct stat sb;
        if (stat(c->o.source, &sb) == 0 && S_ISREG(sb.st_mode))
            atomic_store(&c->o.counters->total, (int64_t)sb.st_size);
    }
    progress_start(c->p);
    progress_begin(c->p, 0);
    /* the digest, checked before publishing, catches a spliced file */
    if (c->sha256_url && !c->o.have_sha256)
        fetch_sha256(c, &err);
    c->o.http.resume_unvalidated = c->o.have_sha256;
    if (err.code == RZ_E_OK)
        pipeline_run(&c->o, &st, &err);
    int rc = report(c, &st, &err, now() - t0);
    progress_free(c->p);
    return rc;
}

static int run_install(struct cli *c)
{
    struct manifest m;
    char msg[2048];
    struct installer_options io;
    int rc;
    if (c->driver == INSTALLER_MULTI && c->o.http.connections_asked
        && c->o.http.connections > 1) {
        fputs("rzup-extract: --connections N applies to --driver=threads: "
              "--driver=multi runs one transfer per component\n"
              "Try 'rzup-extract --help all'.\n", stderr);
        return RZ_EXIT_USAGE;
    }
    if (manifest_load(&m, c->o.source, NULL, msg, sizeof msg) < 0) {
        fprintf(stderr, "rzup-extract: error: %s\n", msg);
        return RZ_EXIT_USAGE;
    }
    c->p = progress_new(c->progress, m.n, true, stdout, stderr);
    if (!c->p) {
        manifest_free(&m);
        fputs("rzup-extract: error: out of memory\n", stderr);
        return RZ_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < m.n; i++)
        progress_item_name(c->p, i, m.components[i].name);
    memset(&io, 0, sizeof io);
    io.m = &m;
    io.jobs = c->jobs;
    io.base = c->o;
    io.base.source = NULL;
    io.base.http.headers = NULL;     /* per component, from the manifest */
    io.base.http.n_headers = 0;
    io.progress = c->p;
    io.signal = &stop_signal;
    io.force = c->force;
    io.driver = (enum installer_driver)c->driver;
    io.quiet = c->quiet;
    io.summary = progress_get_mode(c->p) == PROGRESS_JSON ? NULL : stderr;
    /* a broken pipe is one pipeline's error, never the process's stop */
    signal(SIGPIPE, SIG_IGN);
    progress_start(c->p);
    rc = installer_run(&io);
    progress_free(c->p);
    manifest_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli c;
    int rc;

    memset(&c, 0, sizeof c);
    if ((rc = parse_args(&c, argc, argv)) >= 0)
        return rc;
    if (c.install && (c.o.n_include || c.o.n_exclude || c.sha256_url
                      || c.o.have_sha256 || c.o.http.n_headers
                      || strcmp(c.o.sink.dest, ".") != 0
                      || c.o.sink.strip_components))
        return usage_error("install: -C, --strip-components, -H, --sha256, "
                           "--include and --exclude are per component: they "
                           "belong in the manifest%s", "");
    if (c.o.http.insecure && !c.quiet)
        fputs("rzup-extract: warning: --insecure: the server's TLS "
              "certificate is not verified\n", stderr);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("rzup-extract: error: libcurl failed to initialise\n", stderr);
        return RZ_EXIT_INTERNAL;
    }
    install_signals();
    raise_fd_limit();
    c.o.stop = &stop_signal;
    rc = c.install ? run_install(&c) : run_single(&c);
    curl_global_cleanup();
    return rc;
}
