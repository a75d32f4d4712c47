/*
 * test_tar_path.c: the name rules of POLICY.md rule 5 and the lexical
 * symlink check of rule 8, at and around every boundary.
 */
#include <stdlib.h>

#include "../formats/tar_path.h"
#include "check.h"

static char out[TAR_PATH_MAX + 1];
static bool slash;
static struct rz_error err;

static int norm_strip(const char *in, size_t len, unsigned strip)
{
    size_t out_len = 0;

    rz_error_clear(&err);
    memset(out, 'X', sizeof out);
    int rc = tar_path_normalize(in, len, strip, out, sizeof out, &out_len,
                                &slash, 77, &err);
    if (rc == TAR_PATH_OK && (out_len != strlen(out) || out_len == 0))
        return 99; /* inconsistent result: fails every CHECK below */
    if (rc == -1 && (err.code == RZ_E_OK || err.offset != 77))
        return 98;
    if (rc != -1 && err.code != RZ_E_OK)
        return 97;
    return rc;
}

static int norm(const char *in)
{
    return norm_strip(in, strlen(in), 0);
}

/* Expects TAR_PATH_OK and the given normalised result. */
#define NORM_OK(in, strip, want)                                           \
    do {                                                                   \
        CHECK_EQ_INT(norm_strip(in, strlen(in), strip), TAR_PATH_OK);      \
        CHECK_EQ_STR(out, want);                                           \
    } while (0)

#define NORM_ERR(in, want_code)                                            \
    do {                                                                   \
        CHECK_EQ_INT(norm(in), -1);                                        \
        CHECK_EQ_INT(err.code, want_code);                                 \
    } while (0)

static void test_plain(void)
{
    NORM_OK("a", 0, "a");
    CHECK(!slash);
    NORM_OK("a/b/c", 0, "a/b/c");
    NORM_OK("a/b/", 0, "a/b");
    NORM_OK("a/./b", 0, "a/b");
    NORM_OK("./a", 0, "a");
    NORM_OK("././a/.", 0, "a");
    NORM_OK("...", 0, "...");
    NORM_OK("..a", 0, "..a");
    NORM_OK("a..", 0, "a..");
    NORM_OK(".a/.b", 0, ".a/.b");
    NORM_OK("a\\..\\b", 0, "a\\..\\b"); /* backslash is an ordinary byte */
    NORM_OK("dir with space/f", 0, "dir with space/f");
}

static void test_slashes(void)
{
    NORM_OK("/etc/passwd", 0, "etc/passwd");
    CHECK(slash);
    NORM_OK("//a//b/", 0, "a/b");
    CHECK(slash);
    NORM_OK("a//b", 0, "a/b");
    CHECK(!slash);
    NORM_OK("///a", 0, "a");
    CHECK(slash);
}

static void test_root(void)
{
    CHECK_EQ_INT(norm("."), TAR_PATH_ROOT);
    CHECK_EQ_INT(norm("./"), TAR_PATH_ROOT);
    CHECK(!slash);
    CHECK_EQ_INT(norm("/"), TAR_PATH_ROOT);
    CHECK(slash);
    CHECK_EQ_INT(norm("//"), TAR_PATH_ROOT);
    CHECK_EQ_INT(norm("./././/"), TAR_PATH_ROOT);
    CHECK_EQ_INT(norm("/./"), TAR_PATH_ROOT);
}

static void test_dotdot(void)
{
    NORM_ERR("..", RZ_E_POL_DOTDOT);
    NORM_ERR("../x", RZ_E_POL_DOTDOT);
    NORM_ERR("a/..", RZ_E_POL_DOTDOT);
    NORM_ERR("a/../b", RZ_E_POL_DOTDOT);
    NORM_ERR("a/../../x", RZ_E_POL_DOTDOT);
    NORM_ERR("./../x", RZ_E_POL_DOTDOT);
    NORM_ERR("/../etc", RZ_E_POL_DOTDOT);
    NORM_ERR("a/b/c/d/..", RZ_E_POL_DOTDOT);
    NORM_ERR("../", RZ_E_POL_DOTDOT);
    /* --strip-components applies first: a stripped ".." is gone, one
     * that is left is refused */
    NORM_OK("../a/b", 1, "a/b");
    NORM_OK("./../a/b", 1, "a/b");
    NORM_OK("x/../a", 2, "a");
    CHECK_EQ_INT(norm_strip("a/../b", 6, 1), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);
    CHECK_EQ_INT(norm_strip("../../b", 7, 1), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_DOTDOT);
    CHECK_EQ_STR(err.entry, "../../b");
    CHECK_EQ_INT(norm_strip("../b", 4, 2), TAR_PATH_SKIP);
}

static void test_empty_nul(void)
{
    NORM_ERR("", RZ_E_POL_EMPTY_NAME);
    CHECK_EQ_INT(norm_strip("a\0b", 3, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NUL_NAME);
    CHECK_EQ_INT(norm_strip("\0", 1, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NUL_NAME);
    CHECK_EQ_INT(norm_strip("abc\0", 4, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NUL_NAME);
}

static void test_strip(void)
{
    NORM_OK("pkg/bin/tool", 1, "bin/tool");
    NORM_OK("pkg/bin/tool", 2, "tool");
    CHECK_EQ_INT(norm_strip("pkg/bin/tool", 12, 3), TAR_PATH_SKIP);
    CHECK_EQ_INT(norm_strip("pkg/bin/tool", 12, 9), TAR_PATH_SKIP);
    CHECK_EQ_INT(norm_strip("pkg/", 4, 1), TAR_PATH_SKIP);
    CHECK_EQ_INT(norm_strip("./", 2, 1), TAR_PATH_SKIP);
    CHECK_EQ_INT(norm_strip("/", 1, 1), TAR_PATH_SKIP);
    CHECK(slash);
    /* "." and empty components do not count as components */
    NORM_OK("./pkg/./bin//tool", 1, "bin/tool");
    NORM_OK("/pkg/bin/", 1, "bin");
    CHECK(slash);
}

static void test_length(void)
{
    char *s = malloc(TAR_PATH_MAX + 2);
    size_t i;

    /* 4096 bytes: components of 200 bytes, the last one shorter */
    for (i = 0; i < TAR_PATH_MAX + 1; i++)
        s[i] = (i % 201 == 200) ? '/' : 'a';
    CHECK_EQ_INT(norm_strip(s, TAR_PATH_MAX, 0), TAR_PATH_OK);
    CHECK_EQ_INT(strlen(out), TAR_PATH_MAX);
    CHECK_EQ_INT(norm_strip(s, TAR_PATH_MAX + 1, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    /* the length counts the raw name, "./" included */
    memset(s, '/', TAR_PATH_MAX + 1);
    s[TAR_PATH_MAX] = 'x';
    CHECK_EQ_INT(norm_strip(s, TAR_PATH_MAX + 1, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    CHECK_EQ_INT(norm_strip(s + 1, TAR_PATH_MAX, 0), TAR_PATH_OK);
    CHECK_EQ_STR(out, "x");
    free(s);
}

static void test_component_length(void)
{
    char s[600];

    memset(s, 'c', sizeof s);
    memcpy(s, "d/", 2);
    CHECK_EQ_INT(norm_strip(s, 2 + 255, 0), TAR_PATH_OK);
    CHECK_EQ_INT(strlen(out), 257);
    CHECK_EQ_INT(norm_strip(s, 2 + 256, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    /* a long component is refused even if strip would remove it */
    memset(s, 'c', sizeof s);
    s[256] = '/';
    CHECK_EQ_INT(norm_strip(s, 258, 1), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    CHECK_EQ_INT(norm_strip(s + 1, 257, 1), TAR_PATH_OK);
    CHECK_EQ_STR(out, "c");
}

static void test_depth(void)
{
    char s[2 * 1025 + 8];
    size_t i;

    for (i = 0; i < 1024; i++)
        memcpy(s + 2 * i, "a/", 2);
    CHECK_EQ_INT(norm_strip(s, 2 * 1024, 0), TAR_PATH_OK);
    CHECK_EQ_INT(strlen(out), 2 * 1024 - 1);
    memcpy(s + 2 * 1024, "a/", 2);
    CHECK_EQ_INT(norm_strip(s, 2 * 1025, 0), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    /* "." components are not counted */
    for (i = 0; i < 1025; i++)
        memcpy(s + 2 * i, "./", 2);
    memcpy(s, "a/", 2);
    CHECK_EQ_INT(norm_strip(s, 2 * 1025, 0), TAR_PATH_OK);
    CHECK_EQ_STR(out, "a");
}

static void test_small_buffer(void)
{
    char small[4];
    size_t n;
    bool sl;

    rz_error_clear(&err);
    CHECK_EQ_INT(tar_path_normalize("abc", 3, 0, small, sizeof small, &n,
                                    &sl, 0, &err), TAR_PATH_OK);
    CHECK_EQ_STR(small, "abc");
    CHECK_EQ_INT(tar_path_normalize("abcd", 4, 0, small, sizeof small, &n,
                                    &sl, 0, &err), -1);
    CHECK_EQ_INT(err.code, RZ_E_POL_NAME_TOO_LONG);
    rz_error_clear(&err);
    CHECK_EQ_INT(tar_path_normalize("/./abc/", 7, 0, small, sizeof small, &n,
                                    &sl, 0, &err), TAR_PATH_OK);
    CHECK_EQ_STR(small, "abc");
    CHECK_EQ_INT(n, 3);
}

#define ESC(link, target) tar_link_escapes(link, strlen(link), target, strlen(target))

static void test_link_escapes(void)
{
    CHECK(!ESC("a/b", "../x"));
    CHECK(ESC("a", "../x"));
    CHECK(ESC("a/b", "../../x"));
    CHECK(!ESC("a/b/c", "../../x"));
    CHECK(ESC("a", "/etc"));
    CHECK(ESC("a/b/c", "/"));
    CHECK(ESC("a", "a/../../x"));
    CHECK(ESC("a/l", "x/../../../y"));
    CHECK(!ESC("a/l", "x/../../y"));
    CHECK(ESC("l", "./../x"));
    CHECK(ESC("l", ".."));
    CHECK(!ESC("l", "."));
    CHECK(!ESC("l", "./"));
    CHECK(!ESC("l", "x"));
    CHECK(!ESC("l", "x/y/../z"));
    CHECK(!ESC("a/b/l", "../../c"));
    CHECK(!ESC("l", ""));
    CHECK(!ESC("l", "..."));
    CHECK(!ESC("l", "..a/b"));
    CHECK(!ESC("a/l", "..//.//x"));
    CHECK(ESC("a/l", "..//..//x"));
    CHECK(ESC("l", "//x"));
    /* going above and coming back is still an escape */
    CHECK(ESC("d/l", "../../d/x"));
}

#define TGT(target) tar_link_target_check(target, strlen(target))

static void test_link_target_shape(void)
{
    char big[TAR_PATH_MAX + 2];
    CHECK_EQ_INT(TGT("x"), RZ_E_OK);
    CHECK_EQ_INT(TGT("../a/b"), RZ_E_OK);
    CHECK_EQ_INT(TGT(""), RZ_E_POL_EMPTY_NAME);
    memset(big, 'q', 255);
    big[255] = '\0';
    CHECK_EQ_INT(TGT(big), RZ_E_OK);            /* 255: the largest name */
    big[255] = 'q';
    big[256] = '\0';
    CHECK_EQ_INT(TGT(big), RZ_E_POL_NAME_TOO_LONG);
    big[100] = '/';                               /* two short components */
    CHECK_EQ_INT(TGT(big), RZ_E_OK);
    for (size_t i = 0; i <= TAR_PATH_MAX; i++)
        big[i] = i % 100 == 99 ? '/' : 'q';
    big[TAR_PATH_MAX] = '\0';
    CHECK_EQ_INT(TGT(big), RZ_E_OK);            /* 4096 bytes */
    big[TAR_PATH_MAX] = 'q';
    big[TAR_PATH_MAX + 1] = '\0';
    CHECK_EQ_INT(TGT(big), RZ_E_POL_NAME_TOO_LONG);
}

int main(void)
{
    RUN(test_plain);
    RUN(test_slashes);
    RUN(test_root);
    RUN(test_dotdot);
    RUN(test_empty_nul);
    RUN(test_strip);
    RUN(test_length);
    RUN(test_component_length);
    RUN(test_depth);
    RUN(test_small_buffer);
    RUN(test_link_escapes);
    RUN(test_link_target_shape);
    return check_summary();
}
