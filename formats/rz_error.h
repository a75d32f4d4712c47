/*
 * rz_error.h: the one table of error codes, and the error record every stage
 * shares.
 *
 * Ownership: the caller of a pipeline owns one `struct rz_error` and hands a
 * pointer to it to every stage's init.  The first stage that fails fills it
 * (rz_error_set does nothing once a code is set), so the record always
 * describes the root cause, never a knock-on failure.  Errors are sticky:
 * every stage's push/finish checks `err->code` first and returns -1 if it is
 * already set.
 *
 * Functions in this project return 0 on success and -1 on failure with
 * *err filled.  Nothing here does I/O; rz_error_format writes into a caller
 * buffer.
 */
#ifndef RZ_ERROR_H
#define RZ_ERROR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Exit codes of the command line tool, one per class of failure. */
enum rz_exit {
    RZ_EXIT_OK = 0,
    RZ_EXIT_INTERNAL = 1,    /* a bug or out of memory */
    RZ_EXIT_USAGE = 2,       /* bad command line */
    RZ_EXIT_NETWORK = 3,     /* could not download */
    RZ_EXIT_INTEGRITY = 4,   /* digest or CRC mismatch */
    RZ_EXIT_MALFORMED = 5,   /* not a valid archive */
    RZ_EXIT_POLICY = 6,      /* refused by the safety policy or a limit */
    RZ_EXIT_IO = 7,          /* local filesystem failure */
    RZ_EXIT_INTERRUPTED = 8, /* a signal stopped the run (the CLI exits
                                128+signal instead, as shells do) */
};

/*
 * X(NAME, EXIT_CLASS, "what happened", "what the user can do")
 * Messages are lower case, without a final period.
 */
#define RZ_ERRORS(X)                                                          \
    X(OK, OK, "success", "")                                                  \
    X(NOMEM, INTERNAL, "out of memory", "free memory and retry")              \
    X(INTERNAL, INTERNAL, "internal error", "please report this as a bug")    \
    X(USAGE, USAGE, "invalid usage", "see rzup-extract --help")               \
    /* network */                                                             \
    X(NET_URL, NETWORK, "unsupported or malformed URL",                       \
      "use an http://, https:// or file:// URL, a path, or - for stdin")      \
    X(NET_RESOLVE, NETWORK, "could not resolve host",                         \
      "check the host name and your DNS or proxy settings")                   \
    X(NET_CONNECT, NETWORK, "could not connect",                              \
      "check that the server is reachable, or your proxy settings")           \
    X(NET_TLS, NETWORK, "TLS handshake or certificate verification failed",   \
      "check the server certificate, or pass --cacert FILE")                  \
    X(NET_HTTP_STATUS, NETWORK, "server returned an HTTP error",              \
      "check the URL; the server refused or could not serve it")              \
    X(NET_TRANSFER, NETWORK, "download failed",                               \
      "retry; the connection was interrupted or timed out")                   \
    X(NET_TRUNCATED, NETWORK, "download ended early",                         \
      "retry; the server closed the connection before the whole body")        \
    X(NET_CHANGED, NETWORK, "the file changed on the server during download", \
      "retry from the start")                                                 \
    X(NET_TIMEOUT, NETWORK, "the transfer timed out",                         \
      "retry, or raise --connect-timeout / --stall-timeout")                  \
    X(NET_DOWNGRADE, NETWORK, "refused a redirect from https to plain http",  \
      "ask for an https URL; --allow-downgrade follows it (without -H "       \
      "headers or netrc credentials)")                                        \
    /* integrity */                                                           \
    X(DIGEST_MISMATCH, INTEGRITY, "SHA-256 of the download does not match",   \
      "the download is corrupt or was tampered with; nothing was installed")  \
    X(DIGEST_FORMAT, USAGE, "--sha256 needs 64 hexadecimal digits",           \
      "pass the digest as printed by sha256sum")                              \
    X(GZIP_CRC, INTEGRITY, "gzip CRC or length check failed",                 \
      "the download is corrupt; retry")                                       \
    /* malformed compressed stream */                                         \
    X(DECODE_DATA, MALFORMED, "corrupt compressed data",                      \
      "the archive is damaged; download it again")                            \
    X(DECODE_TRUNCATED, MALFORMED, "compressed stream ends early",            \
      "the archive is truncated; download it again")                          \
    X(DECODE_TRAILING, MALFORMED, "garbage after the end of the compressed stream", \
      "the file is not a clean archive; check its source")                    \
    X(DECODE_UNSUPPORTED, MALFORMED, "unsupported compression format",        \
      "recompress it with a supported format (see README.md)")                \
    X(DECODE_NOT_BUILT, MALFORMED, "compression format not built in",        \
      "install its -dev package and rebuild (see README.md), or decompress it first") \
    X(DECODE_EMPTY, MALFORMED, "0 bytes were received",                       \
      "the file or download is empty; check the URL or path")                 \
    X(DECODE_HTML, MALFORMED, "the input is an HTML page, not an archive",    \
      "the server sent a web page (a login or error page?); check the URL and credentials") \
    X(DECODE_ZIP, MALFORMED, "the input is a zip archive, not a tar archive", \
      "rzup-extract reads tar archives; use unzip or bsdtar for zip files")   \
    X(DECODE_UNKNOWN, MALFORMED, "not a tar archive or a known compression format", \
      "supported: tar, plain or compressed with gzip, xz, zstd, bzip2, lz4, lzma or compress (.Z)") \
    X(DECODE_WINDOW, POLICY, "zstd window larger than --zstd-max-window",     \
      "raise --zstd-max-window if you trust the archive")                     \
    X(DECODE_MEMLIMIT, POLICY, "xz/lzma stream needs more memory than --xz-memlimit", \
      "raise --xz-memlimit if you trust the archive")                         \
    X(DECODE_CHECK, INTEGRITY, "integrity check of the compressed stream failed", \
      "the download is corrupt; retry")                                       \
    /* malformed tar */                                                       \
    X(TAR_CHECKSUM, MALFORMED, "tar header checksum mismatch",                \
      "the archive is damaged or is not a tar archive")                       \
    X(TAR_NUMBER, MALFORMED, "invalid numeric field in tar header",           \
      "the archive is damaged or was written by a broken archiver")           \
    X(TAR_PAX, MALFORMED, "malformed pax extended header",                    \
      "the archive is damaged or was written by a broken archiver")           \
    X(TAR_PAX_TOO_BIG, MALFORMED, "extended header larger than 1 MiB",        \
      "refused to avoid unbounded memory use; the archive is hostile or broken") \
    X(TAR_LONGNAME_TOO_BIG, MALFORMED, "GNU long name or link larger than 1 MiB", \
      "refused to avoid unbounded memory use; the archive is hostile or broken") \
    X(TAR_ORPHAN_EXT, MALFORMED, "extended header not followed by an entry",  \
      "the archive is damaged or truncated")                                  \
    X(TAR_TRUNCATED, MALFORMED, "archive ends in the middle of an entry",     \
      "the archive is truncated; download it again")                          \
    X(TAR_NO_EOA, MALFORMED, "archive has no end-of-archive blocks",          \
      "the input may have been cut short between entries: download it again, or pass --no-strict-trailer if its producer omits these blocks") \
    X(TAR_TRAILING, MALFORMED, "non-zero data after the end of the archive",  \
      "pass --no-strict-trailer to ignore it if you trust the archive")       \
    X(TAR_AMBIGUOUS, MALFORMED, "tar readers disagree on what this archive contains", \
      "refused: other tools would extract something else; rebuild the archive with a standard tar") \
    X(TAR_SPARSE, MALFORMED, "malformed GNU sparse file map",                 \
      "the archive is damaged or was written by a broken archiver")           \
    /* policy */                                                              \
    X(POL_DOTDOT, POLICY, "entry name contains a '..' component",             \
      "the archive tries to write outside the destination; nothing was written") \
    X(POL_EMPTY_NAME, POLICY, "entry has an empty name",                      \
      "the archive is hostile or broken")                                     \
    X(POL_NUL_NAME, POLICY, "entry name contains a NUL byte",                 \
      "the archive is hostile or broken")                                     \
    X(POL_NAME_TOO_LONG, POLICY, "entry name too long (over 4096 bytes, 255 per component, or 1024 components)", \
      "the archive is hostile or broken")                                     \
    X(POL_ESCAPE, POLICY, "entry would be written through a symlink or outside the destination", \
      "the archive tries to write outside the destination; nothing was written") \
    X(POL_SYMLINK_OUTSIDE, POLICY, "symlink points outside the destination",  \
      "pass --allow-outside-symlinks if you trust the archive")               \
    X(POL_HARDLINK, POLICY, "hardlink target is not a regular file extracted by this archive", \
      "the archive is hostile or broken")                                     \
    X(POL_NONDIR_OVER_DIR, POLICY, "refusing to replace a directory with a non-directory", \
      "remove the directory first, or extract elsewhere")                     \
    X(POL_PARENT_NOT_DIR, POLICY, "an earlier entry that is not a directory stands where this entry needs its parent directory", \
      "tar readers disagree on such an archive (a listing shows a file, an extraction a directory); fix the archive") \
    X(POL_UNKNOWN_TYPE, POLICY, "unsupported entry type",                     \
      "the archive uses a tar feature rzup-extract does not extract")         \
    X(POL_DEST_SYMLINK, POLICY, "the destination has a symlink where the archive has a directory", \
      "it is followed only when it leads to a directory inside the destination; fix or remove the link, or extract elsewhere") \
    X(LIMIT_SIZE, POLICY, "archive exceeds --max-size", "raise --max-size if you trust the archive") \
    X(LIMIT_ENTRIES, POLICY, "archive exceeds --max-entries", "raise --max-entries if you trust the archive") \
    X(LIMIT_FILE_SIZE, POLICY, "file exceeds --max-file-size", "raise --max-file-size if you trust the archive") \
    X(LIMIT_RATIO, POLICY, "compression ratio exceeds --max-ratio (a decompression bomb?)", \
      "raise --max-ratio if you trust the archive")                          \
    /* local I/O */                                                           \
    X(IO_READ, IO, "could not read input", "check the input file or pipe")   \
    X(IO_DEST, IO, "destination is not usable",                              \
      "check that the directory's parent exists and is writable")            \
    X(IO_CREATE, IO, "could not create entry", "check permissions and free space") \
    X(IO_WRITE, IO, "could not write file", "check permissions and free space") \
    X(IO_NOSPC, IO, "no space left on device",                               \
      "free some space; nothing was installed")                               \
    X(IO_FILE_LIMIT, IO, "file size limit reached",                          \
      "raise the limit (ulimit -f) or the filesystem's maximum file size; "  \
      "nothing was installed")                                                \
    X(IO_PUBLISH, IO, "could not move the extracted tree into place",        \
      "check the destination's permissions and free space (a warning names " \
      "anything left behind)")                                               \
    X(IO_CLEANUP, IO, "installed, but a leftover directory could not be removed", \
      "the new tree is in place; remove the named directory by hand")         \
    X(INTERRUPTED, INTERRUPTED, "interrupted by a signal",                   \
      "nothing was installed")

enum rz_code {
#define RZ_X(name, cls, msg, hint) RZ_E_##name,
    RZ_ERRORS(RZ_X)
#undef RZ_X
    RZ_E__COUNT
};

/* Which stream an error offset counts bytes of. */
enum rz_offset_kind {
    RZ_OFF_NONE = 0,
    RZ_OFF_RAW,      /* bytes of the download, as received (compressed) */
    RZ_OFF_ARCHIVE,  /* bytes of the uncompressed tar stream */
};

#define RZ_ERROR_ENTRY_MAX 512
#define RZ_ERROR_DETAIL_MAX 512

struct rz_error {
    enum rz_code code;
    int sys_errno;                   /* errno of the failing call, or 0 */
    enum rz_offset_kind offset_kind;
    uint64_t offset;
    char entry[RZ_ERROR_ENTRY_MAX];  /* escaped entry name, or "" */
    char detail[RZ_ERROR_DETAIL_MAX];/* free text: URL, status, field... */
};

/* Zero the record (code RZ_E_OK). */
void rz_error_clear(struct rz_error *e);

/*
 * Record a failure, unless one is already recorded (sticky: the first cause
 * wins).  `entry` is a raw entry name of `entry_len` bytes (escaped here) or
 * NULL.  `fmt` may be NULL.  Always returns -1, so callers can write
 * `return rz_error_set(...)`.
 */
int rz_error_set(struct rz_error *e, enum rz_code code, int sys_errno,
                 enum rz_offset_kind kind, uint64_t offset,
                 const char *entry, size_t entry_len, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/*
 * For a stage whose downstream returned -1: the downstream's record stands;
 * if it recorded nothing, RZ_E_INTERNAL naming `who` is recorded, so a
 * failure is never silent.  Returns -1.
 */
int rz_error_downstream(struct rz_error *e, enum rz_offset_kind kind,
                        uint64_t offset, const char *who);

/* Copies src into dst unless dst already holds an error (first cause wins). */
void rz_error_adopt(struct rz_error *dst, const struct rz_error *src);

const char *rz_code_name(enum rz_code c);     /* "TAR_CHECKSUM" */
const char *rz_code_message(enum rz_code c);  /* "tar header checksum mismatch" */
const char *rz_code_hint(enum rz_code c);     /* what the user can do */
enum rz_exit rz_code_exit(enum rz_code c);

/*
 * One human-readable paragraph, e.g.
 *   tar header checksum mismatch: stored 0o1234, computed 0o1240
 *     entry: usr/lib/libfoo.so
 *     at: byte 1536 of the uncompressed archive
 *     what to do: the archive is damaged or is not a tar archive
 * Returns the length written (truncated to fit, always NUL-terminated).
 */
size_t rz_error_format(const struct rz_error *e, char *buf, size_t size);

/*
 * Escape raw name bytes for printing: valid UTF-8 other than control
 * characters passes through; control bytes, backslash, DEL, C1 controls
 * (U+0080..U+009F, as \xc2\xHH) and invalid UTF-8 become \n, \t, \\ or
 * \xHH.  Always NUL-terminates; truncates with
 * "..." when out of room.  Returns the length written.
 */
size_t rz_escape(const char *in, size_t len, char *out, size_t size);

#endif
