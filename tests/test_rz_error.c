/* Unit tests for the error table, the sticky error record and escaping. */
#include "../formats/rz_error.h"
#include "check.h"

#include <errno.h>

static void test_table(void)
{
    CHECK_EQ_STR(rz_code_name(RZ_E_TAR_CHECKSUM), "TAR_CHECKSUM");
    CHECK_EQ_INT(rz_code_exit(RZ_E_TAR_CHECKSUM), RZ_EXIT_MALFORMED);
    CHECK_EQ_INT(rz_code_exit(RZ_E_DIGEST_MISMATCH), RZ_EXIT_INTEGRITY);
    CHECK_EQ_INT(rz_code_exit(RZ_E_NET_HTTP_STATUS), RZ_EXIT_NETWORK);
    CHECK_EQ_INT(rz_code_exit(RZ_E_POL_DOTDOT), RZ_EXIT_POLICY);
    CHECK_EQ_INT(rz_code_exit(RZ_E_IO_NOSPC), RZ_EXIT_IO);
    CHECK_EQ_INT(rz_code_exit(RZ_E_USAGE), RZ_EXIT_USAGE);
    CHECK_EQ_INT(rz_code_exit(RZ_E_INTERRUPTED), RZ_EXIT_INTERRUPTED);
    CHECK_EQ_STR(rz_code_name((enum rz_code)9999), "INTERNAL");
    /* every code has a message, and every failure a hint */
    for (int c = 0; c < RZ_E__COUNT; c++) {
        CHECK(rz_code_message((enum rz_code)c)[0] != '\0');
        if (c != RZ_E_OK)
            CHECK(rz_code_hint((enum rz_code)c)[0] != '\0');
    }
}

static void test_sticky(void)
{
    struct rz_error e;
    rz_error_clear(&e);
    CHECK_EQ_INT(rz_error_set(&e, RZ_E_TAR_CHECKSUM, 0, RZ_OFF_ARCHIVE, 1536,
                              "a/b", 3, "stored %o", 0123), -1);
    rz_error_set(&e, RZ_E_IO_WRITE, EIO, RZ_OFF_RAW, 7, "x", 1, "later");
    CHECK_EQ_INT(e.code, RZ_E_TAR_CHECKSUM);
    CHECK_EQ_INT(e.offset, 1536);
    CHECK_EQ_STR(e.entry, "a/b");
    CHECK_EQ_STR(e.detail, "stored 123");
    char buf[512];
    rz_error_format(&e, buf, sizeof buf);
    CHECK(strstr(buf, "tar header checksum mismatch: stored 123") == buf);
    CHECK(strstr(buf, "entry: a/b") != NULL);
    CHECK(strstr(buf, "byte 1536 of the uncompressed archive") != NULL);
    CHECK(strstr(buf, "what to do:") != NULL);
    /* truncation keeps a NUL */
    char small[10];
    size_t n = rz_error_format(&e, small, sizeof small);
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_INT(strlen(small), 9);
}

static void test_escape(void)
{
    char out[64];
    rz_escape("a\nb\\c\x01", 6, out, sizeof out);
    CHECK_EQ_STR(out, "a\\nb\\\\c\\x01");
    rz_escape("caf\xc3\xa9", 5, out, sizeof out);        /* valid UTF-8 kept */
    CHECK_EQ_STR(out, "caf\xc3\xa9");
    rz_escape("\xff\xc3", 2, out, sizeof out);           /* invalid escaped */
    CHECK_EQ_STR(out, "\\xff\\xc3");
    rz_escape("\xed\xa0\x80", 3, out, sizeof out);       /* surrogate */
    CHECK_EQ_STR(out, "\\xed\\xa0\\x80");
    rz_escape("a\0b", 3, out, sizeof out);
    CHECK_EQ_STR(out, "a\\x00b");
    char tiny[8];
    rz_escape("abcdefghijkl", 12, tiny, sizeof tiny);
    CHECK_EQ_STR(tiny, "abcd...");
}

int main(void)
{
    RUN(test_table);
    RUN(test_sticky);
    RUN(test_escape);
    return check_summary();
}
