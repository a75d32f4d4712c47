/*
 * test_manifest.c: the pure decisions of install mode and the filters, in
 * milliseconds: manifest shapes and path resolution, the include/exclude
 * rules, the digest forms people paste, and progress mode names.  (The
 * installer itself is tested end to end in tests/test_install.py.)
 */
#include <stdlib.h>
#include <string.h>

#include "../pipeline/digest.h"
#include "../pipeline/manifest.h"
#include "../pipeline/pipeline.h"
#include "../pipeline/progress.h"
#include "check.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(struct manifest *m, const char *text, char *msg, size_t n)
{
    return manifest_parse(m, "m.yaml", text, strlen(text), "/base/dir",
                          "/home/u", msg, n);
}

static void test_good_manifest(void)
{
    struct manifest m;
    char msg[512] = "";
    const char *text =
        "root: ~/.risc0\n"
        "jobs: 2\n"
        "components:\n"
        "  - name: rust\n"
        "    url: https://example.com/rust.tar.gz\n"
        "    sha256: sha256:" HEX "\n"
        "    dest: toolchains//rust/./1.81.0/\n"
        "    strip-components: 1\n"
        "    headers:\n"
        "      Authorization: Bearer TOKEN\n"
        "  - name: cpp\n"
        "    url: http://example.com/cpp.tar.xz\n"
        "    sha256: " HEX "\n"
        "    dest: /opt/cpp\n";
    CHECK_EQ_INT(parse(&m, text, msg, sizeof msg), 0);
    CHECK_EQ_STR(msg, "");
    CHECK_EQ_STR(m.root, "/home/u/.risc0");
    CHECK_EQ_INT(m.jobs, 2);
    CHECK_EQ_INT(m.n, 2);
    if (m.n == 2) {
        CHECK_EQ_STR(m.components[0].dest, "/home/u/.risc0/toolchains/rust/1.81.0");
        CHECK_EQ_STR(m.components[0].sha256_hex, HEX);
        CHECK_EQ_INT(m.components[0].strip_components, 1);
        CHECK_EQ_INT(m.components[0].n_headers, 1);
        CHECK_EQ_STR(m.components[0].headers[0], "Authorization: Bearer TOKEN");
        CHECK_EQ_INT(m.components[0].line, 4);
        CHECK_EQ_STR(m.components[1].dest, "/opt/cpp");
        CHECK_EQ_INT(m.components[1].strip_components, 0);
    }
    manifest_free(&m);
}

static void test_relative_root_and_no_root(void)
{
    struct manifest m;
    char msg[512];
    CHECK_EQ_INT(parse(&m, "root: r\ncomponents:\n  - name: a\n    url: "
                       "file:///x\n    sha256: " HEX "\n    dest: d\n", msg,
                       sizeof msg), 0);
    CHECK_EQ_STR(m.root, "/base/dir/r");
    CHECK_EQ_STR(m.components[0].dest, "/base/dir/r/d");
    manifest_free(&m);
    CHECK_EQ_INT(parse(&m, "components:\n  - name: a\n    url: file:///x\n"
                       "    sha256: " HEX "\n    dest: d\n", msg, sizeof msg),
                 0);
    CHECK_EQ_STR(m.components[0].dest, "/base/dir/d");
    manifest_free(&m);
}

/* Each error names file, line and column of the node at fault. */
static void expect_error(const char *text, const char *where, const char *what)
{
    struct manifest m;
    char msg[512] = "";
    CHECK_EQ_INT(parse(&m, text, msg, sizeof msg), -1);
    if (strncmp(msg, where, strlen(where)) != 0 || !strstr(msg, what))
        fprintf(stderr, "  got: %s\n  want: %s ... %s\n", msg, where, what);
    CHECK(strncmp(msg, where, strlen(where)) == 0);
    CHECK(strstr(msg, what) != NULL);
    CHECK_EQ_INT(m.n, 0);   /* nothing half-parsed is left */
    manifest_free(&m);
}

static void test_errors(void)
{
    expect_error("components:\n  - name: a\n    dest: [\n", "m.yaml:4:1: ",
                 "malformed YAML");
    expect_error("components: {}\n", "m.yaml:1:13: ", "must be a list");
    expect_error("components:\n  - 3\n", "m.yaml:2:5: ", "must be a mapping");
    expect_error("components:\n  - name: a\n    url: file:///x\n"
                 "    sha256: " HEX "\n", "m.yaml:2:5: ", "has no 'dest'");
    expect_error("components:\n  - name: a\n    dest: ''\n", "m.yaml:3:11: ",
                 "dest is empty");
    expect_error("components:\n  - name: a\n    headers: x\n", "m.yaml:3:14: ",
                 "mapping of header name");
    expect_error("components:\n  - name: a\n    headers:\n      'A B': x\n",
                 "m.yaml:4:7: ", "not a valid HTTP header name");
    expect_error("components:\n  - name: a\n    headers:\n      A: x\n"
                 "      a: y\n", "m.yaml:5:7: ", "given twice");
    expect_error("components:\n  - name: a\n    sha256: sha256:12\n",
                 "m.yaml:3:13: ", "sha256 must be");
    expect_error("jobs: 65\ncomponents: []\n", "m.yaml:1:7: ", "1 to 64");
    expect_error("root: ''\ncomponents: []\n", "m.yaml:1:7: ", "root is empty");
    /* "/" contains everything */
    expect_error("components:\n  - name: a\n    url: file:///x\n    sha256: "
                 HEX "\n    dest: /\n  - name: b\n    url: file:///y\n"
                 "    sha256: " HEX "\n    dest: /b\n", "m.yaml:6:5: ",
                 "inside one another");
}

static void test_pattern_keys(void)
{
    struct manifest m;
    char msg[512] = "";
    const char *head = "components:\n  - name: a\n    url: file:///x\n"
                       "    sha256: " HEX "\n    dest: d\n";
    char text[1024];
    snprintf(text, sizeof text, "%s    include: [bin, 'lib/*.so*']\n"
             "    exclude: '*.a'\n", head);
    CHECK_EQ_INT(parse(&m, text, msg, sizeof msg), 0);
    CHECK_EQ_STR(msg, "");
    if (m.n == 1) {
        CHECK_EQ_INT(m.components[0].n_include, 2);
        CHECK_EQ_STR(m.components[0].include[0], "bin");
        CHECK_EQ_STR(m.components[0].include[1], "lib/*.so*");
        CHECK_EQ_INT(m.components[0].n_exclude, 1);
        CHECK_EQ_STR(m.components[0].exclude[0], "*.a");
    }
    manifest_free(&m);
    snprintf(text, sizeof text, "%s    include:\n      - bin\n      - ''\n",
             head);
    expect_error(text, "m.yaml:8:9: ", "an empty pattern in 'include'");
    snprintf(text, sizeof text, "%s    exclude: {a: b}\n", head);
    expect_error(text, "m.yaml:6:14: ", "'exclude' must be a glob pattern");
    snprintf(text, sizeof text, "%s    include: [bin, [x]]\n", head);
    expect_error(text, "m.yaml:6:20: ", "each pattern in 'include' must be");
    snprintf(text, sizeof text, "%s    include: [/usr/bin]\n", head);
    expect_error(text, "m.yaml:6:15: ", "(write 'usr/bin')");
    snprintf(text, sizeof text, "%s    exclude: ./doc\n", head);
    expect_error(text, "m.yaml:6:14: ", "starts with './'");
    snprintf(text, sizeof text, "%s    include: a\n    include: b\n", head);
    expect_error(text, "m.yaml:7:5: ", "key 'include' given twice");
    snprintf(text, sizeof text, "%s    includes: a\n", head);
    expect_error(text, "m.yaml:6:5: ", "unknown key 'includes'");
}

static void test_prefix_is_not_inside(void)
{
    struct manifest m;
    char msg[512];
    /* /t/ab is not inside /t/a */
    CHECK_EQ_INT(parse(&m, "components:\n  - name: a\n    url: file:///x\n"
                       "    sha256: " HEX "\n    dest: /t/a\n  - name: b\n"
                       "    url: file:///y\n    sha256: " HEX "\n"
                       "    dest: /t/ab\n", msg, sizeof msg), 0);
    manifest_free(&m);
}

static bool sel(const char *name, const char *const *inc, size_t ni,
                const char *const *exc, size_t ne)
{
    struct pipeline_options o;
    memset(&o, 0, sizeof o);
    o.include = inc;
    o.n_include = ni;
    o.exclude = exc;
    o.n_exclude = ne;
    return pipeline_name_selected(&o, name, strlen(name));
}

static void test_patterns(void)
{
    const char *inc[] = {"pkg/bin"};
    const char *inc2[] = {"*/lib/*.so"};
    const char *exc[] = {"*.o", "doc"};
    CHECK(sel("anything", NULL, 0, NULL, 0));
    CHECK(sel("pkg/bin", inc, 1, NULL, 0));
    CHECK(sel("./pkg/bin/", inc, 1, NULL, 0));
    CHECK(sel("pkg/bin/tool", inc, 1, NULL, 0));       /* contents */
    CHECK(!sel("pkg/binx", inc, 1, NULL, 0));
    CHECK(!sel("other/pkg/bin", inc, 1, NULL, 0));     /* anchored */
    CHECK(sel("pkg/lib/a.so", inc2, 1, NULL, 0));
    CHECK(sel("pkg/x/lib/a.so", inc2, 1, NULL, 0));    /* '*' matches '/' */
    CHECK(!sel("pkg/lib/a.so.1", inc2, 1, NULL, 0));
    CHECK(!sel("a.o", NULL, 0, exc, 2));
    CHECK(!sel("src/x/a.o", NULL, 0, exc, 2));         /* any depth */
    CHECK(!sel("pkg/doc", NULL, 0, exc, 2));
    CHECK(!sel("pkg/doc/README", NULL, 0, exc, 2));    /* contents */
    CHECK(sel("pkg/docs/README", NULL, 0, exc, 2));
    CHECK(sel("pkg/a.oo", NULL, 0, exc, 2));
    CHECK(!sel("pkg/bin/x.o", inc, 1, exc, 2));        /* exclude wins */
}

static void test_digest_forms(void)
{
    uint8_t d[32], want[32];
    struct rz_error err;
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_hex(HEX, want, &err), 0);
    const char *good[] = {HEX, "sha256:" HEX, "SHA256:" HEX, "  " HEX "\n",
                          HEX "  rust.tar.gz", HEX " *rust.tar.gz\n"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rz_error_clear(&err);
        memset(d, 0, 32);
        CHECK_EQ_INT(sha256_parse_digest(good[i], d, &err), 0);
        CHECK(memcmp(d, want, 32) == 0);
    }
    const char *bad[] = {"", "sha256:", "md5:0123", HEX "0", HEX "x",
                         "sha512:" HEX, HEX "\n" HEX, "x" HEX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rz_error_clear(&err);
        CHECK_EQ_INT(sha256_parse_digest(bad[i], d, &err), -1);
        CHECK_EQ_INT(err.code, RZ_E_DIGEST_FORMAT);
    }
}

static void test_sum_file(void)
{
    uint8_t d[32], want[32];
    struct rz_error err;
    const char *other = "1111111111111111111111111111111111111111111111111111111111111111";
    char text[512];
    rz_error_clear(&err);
    sha256_parse_hex(HEX, want, &err);
    snprintf(text, sizeof text, "%s  a.tgz\n%s  dist/b.tgz\n", other, HEX);
    CHECK_EQ_INT(sha256_parse_sum_file(text, strlen(text), "b.tgz", d, &err), 0);
    CHECK(memcmp(d, want, 32) == 0);
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_sum_file(text, strlen(text), "c.tgz", d, &err), -1);
    CHECK(strstr(err.detail, "none is for 'c.tgz'") != NULL);
    /* one line: taken whatever its name (rustup's own files match anyway) */
    snprintf(text, sizeof text, "%s  renamed.tgz\n", HEX);
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_sum_file(text, strlen(text), "b.tgz", d, &err), 0);
    snprintf(text, sizeof text, "# comment\n%s\n", HEX);
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_sum_file(text, strlen(text), "b.tgz", d, &err), 0);
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_sum_file("<html>", 6, "b.tgz", d, &err), -1);
    rz_error_clear(&err);
    CHECK_EQ_INT(sha256_parse_sum_file("", 0, "b.tgz", d, &err), -1);
}

static void test_progress_modes(void)
{
    enum progress_mode m;
    CHECK_EQ_INT(progress_mode_parse("json", &m), 0);
    CHECK_EQ_INT(m, PROGRESS_JSON);
    CHECK_EQ_INT(progress_mode_parse("auto", &m), 0);
    CHECK_EQ_INT(m, PROGRESS_AUTO);
    CHECK_EQ_INT(progress_mode_parse("bars", &m), -1);
    char b[32];
    progress_format_bytes(1023, b, sizeof b);
    CHECK_EQ_STR(b, "1023 B");
    progress_format_bytes(3u << 20, b, sizeof b);
    CHECK_EQ_STR(b, "3.0 MiB");
}

int main(void)
{
    RUN(test_good_manifest);
    RUN(test_relative_root_and_no_root);
    RUN(test_errors);
    RUN(test_prefix_is_not_inside);
    RUN(test_pattern_keys);
    RUN(test_patterns);
    RUN(test_digest_forms);
    RUN(test_sum_file);
    RUN(test_progress_modes);
    return check_summary();
}
