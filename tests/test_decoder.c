/*
 * test_decoder.c: the decoder stage, attacked at its boundaries.
 *
 * Gzip inputs are made here with zlib's deflate (gzip wrapper, windowBits
 * 31), so every expected output is known exactly.  Each stream is fed whole,
 * one byte at a time and split at every offset; truncated at every offset;
 * and corrupted in its trailer, its deflate data and after its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../formats/decoder.h"
#include "check.h"

/* --------------------------------------------------------------- helpers */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
}

/* The downstream stage: collects output, can be told to fail. */
struct sink {
    struct buf got;
    int calls;
    int fail_at_call;        /* 1-based call that fails, 0 = never */
    size_t max_piece;
    const uint8_t *first_ptr;
    struct rz_error *err;
};

static int sink_push(void *ctx, const uint8_t *p, size_t len)
{
    struct sink *s = ctx;
    s->calls++;
    if (!s->first_ptr)
        s->first_ptr = p;
    if (len > s->max_piece)
        s->max_piece = len;
    if (s->calls == s->fail_at_call)
        return rz_error_set(s->err, RZ_E_LIMIT_SIZE, 0, RZ_OFF_ARCHIVE, 7,
                            NULL, 0, "sink says no");
    buf_add(&s->got, p, len);
    return 0;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Random bytes, or text-like bytes that compress well. */
static void fill(struct buf *b, size_t len, uint32_t seed, bool compressible)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)xorshift(&seed);
        if (compressible)
            c = (uint8_t)("tar archive "[c % 12] + (i / 4096) % 3);
        buf_add(b, &c, 1);
    }
}

/* Append one gzip member holding `data`; with a name and extra field. */
static void gzip_member(struct buf *out, const uint8_t *data, size_t len,
                        bool named)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    gz_header h;
    memset(&h, 0, sizeof h);
    if (named) {
        h.name = (Bytef *)"archive.tar";
        h.extra = (Bytef *)"XYabcd";
        h.extra_len = 6;
        h.hcrc = 1;
        deflateSetHeader(&z, &h);
    }
    size_t cap = deflateBound(&z, len) + 64;
    uint8_t *tmp = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = tmp;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    buf_add(out, tmp, cap - z.avail_out);
    deflateEnd(&z);
    free(tmp);
}

struct run {
    struct rz_error err;
    struct sink sink;
    struct decoder d;
    int push_rc;   /* -1 if any push failed */
    int finish_rc;
};

static void run_start(struct run *r)
{
    memset(r, 0, sizeof *r);
    rz_error_clear(&r->err);
    r->sink.err = &r->err;
    if (decoder_init(&r->d, sink_push, &r->sink, &r->err) != 0)
        abort();
}

static void run_end(struct run *r)
{
    decoder_free(&r->d);
    free(r->sink.got.p);
}

/* Feed `in` in pieces of `step` (the last may be shorter), then finish. */
static void run_steps(struct run *r, const uint8_t *in, size_t len,
                      size_t step)
{
    run_start(r);
    for (size_t i = 0; i < len && r->push_rc == 0; i += step) {
        size_t n = len - i < step ? len - i : step;
        r->push_rc = decoder_push(&r->d, in + i, n);
    }
    r->finish_rc = r->push_rc == 0 ? decoder_finish(&r->d) : -1;
}

/* Feed `in` as two pieces split at `at`, then finish. */
static void run_split(struct run *r, const uint8_t *in, size_t len, size_t at)
{
    run_start(r);
    r->push_rc = decoder_push(&r->d, in, at);
    if (r->push_rc == 0)
        r->push_rc = decoder_push(&r->d, in + at, len - at);
    r->finish_rc = r->push_rc == 0 ? decoder_finish(&r->d) : -1;
}

static bool same(const struct run *r, const struct buf *want)
{
    return r->sink.got.len == want->len
           && (want->len == 0 || memcmp(r->sink.got.p, want->p, want->len) == 0);
}

/* Decode `gz` whole, byte by byte and in odd steps; expect `want`. */
static void expect_decodes(const struct buf *gz, const struct buf *want)
{
    static const size_t steps[] = {SIZE_MAX, 1, 7, 4096, 65537};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct run r;
        size_t step = steps[i] == SIZE_MAX ? gz->len : steps[i];
        run_steps(&r, gz->p, gz->len, step ? step : 1);
        CHECK_EQ_INT(r.finish_rc, 0);
        CHECK_EQ_INT(r.err.code, RZ_E_OK);
        CHECK(same(&r, want));
        CHECK(r.sink.max_piece <= DECODER_OUT_SIZE);
        CHECK_EQ_INT(r.d.in_bytes, gz->len);
        CHECK_EQ_INT(r.d.out_bytes, want->len);
        CHECK_EQ_STR(decoder_name(&r.d), "gzip");
        run_end(&r);
    }
}

/* Every two-piece split of `gz` decodes to `want`. */
static void expect_every_split(const struct buf *gz, const struct buf *want)
{
    int bad = 0;
    for (size_t at = 0; at <= gz->len; at++) {
        struct run r;
        run_split(&r, gz->p, gz->len, at);
        if (r.finish_rc != 0 || !same(&r, want))
            bad++;
        run_end(&r);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Feed `in` whole; expect failure with `code` (at push or finish). */
static void expect_error(const uint8_t *in, size_t len, enum rz_code code,
                         const char *detail_part)
{
    struct run r;
    size_t steps[2] = {len ? len : 1, 1};
    for (int i = 0; i < 2; i++) {
        run_steps(&r, in, len, steps[i]);
        CHECK_EQ_INT(r.finish_rc, -1);
        CHECK_EQ_STR(rz_code_name(r.err.code), rz_code_name(code));
        CHECK_EQ_INT(r.err.offset_kind, RZ_OFF_RAW);
        CHECK(r.err.offset <= len);
        if (detail_part && !strstr(r.err.detail, detail_part)) {
            fprintf(stderr, "  detail \"%s\" lacks \"%s\"\n", r.err.detail,
                    detail_part);
            CHECK(!"detail");
        }
        run_end(&r);
    }
}

/* ----------------------------------------------------------------- tests */

static void test_gzip_random_and_compressible(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 300000, 1, false);
    fill(&data, 700000, 2, true);
    gzip_member(&gz, data.p, data.len, false);
    expect_decodes(&gz, &data);
    free(data.p);
    free(gz.p);
}

static void test_gzip_big_output_from_small_input(void)
{
    struct buf data = {0}, gz = {0};
    uint8_t zero[4096] = {0};
    for (int i = 0; i < 1024; i++)
        buf_add(&data, zero, sizeof zero);   /* 4 MiB of zeros */
    gzip_member(&gz, data.p, data.len, false);
    CHECK(gz.len < 10000);
    expect_decodes(&gz, &data);
    free(data.p);
    free(gz.p);
}

static void test_gzip_multi_member(void)
{
    struct buf a = {0}, b = {0}, all = {0}, gz = {0};
    fill(&a, 200000, 3, true);
    fill(&b, 50000, 4, false);
    gzip_member(&gz, a.p, a.len, false);
    gzip_member(&gz, NULL, 0, false);            /* an empty member */
    gzip_member(&gz, b.p, b.len, true);
    gzip_member(&gz, a.p, 1000, false);
    buf_add(&all, a.p, a.len);
    buf_add(&all, b.p, b.len);
    buf_add(&all, a.p, 1000);
    expect_decodes(&gz, &all);

    struct run r;
    run_steps(&r, gz.p, gz.len, gz.len);
    CHECK_EQ_INT(r.d.members, 4);
    run_end(&r);
    free(a.p);
    free(b.p);
    free(all.p);
    free(gz.p);
}

static void test_gzip_every_split_small(void)
{
    struct buf data = {0}, gz = {0}, two = {0};
    fill(&data, 3000, 5, true);
    gzip_member(&gz, data.p, data.len, true);    /* FNAME, FEXTRA, FHCRC */
    expect_every_split(&gz, &data);

    /* Two members and zero padding: splits across every boundary. */
    gzip_member(&gz, data.p, 100, false);
    buf_add(&gz, "\0\0\0\0", 4);
    buf_add(&two, data.p, data.len);
    buf_add(&two, data.p, 100);
    expect_every_split(&gz, &two);
    expect_decodes(&gz, &two);
    free(data.p);
    free(gz.p);
    free(two.p);
}

/* Every proper prefix fails at finish; none is accepted, none crashes. */
static void test_gzip_truncated_everywhere(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 5000, 6, true);
    gzip_member(&gz, data.p, data.len, true);
    int accepted = 0, wrong_code = 0;
    for (size_t cut = 2; cut < gz.len; cut++) {
        struct run r;
        run_steps(&r, gz.p, cut, cut);
        if (r.finish_rc == 0)
            accepted++;
        if (r.err.code != RZ_E_DECODE_TRUNCATED)
            wrong_code++;
        if (r.finish_rc != 0)
            CHECK_EQ_INT(r.err.offset, cut);
        run_end(&r);
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(wrong_code, 0);

    /* Cut inside the second member, or after its 1f: still truncated. */
    size_t first = gz.len;
    gzip_member(&gz, data.p, 10, false);
    for (size_t cut = first + 1; cut < gz.len; cut++) {
        struct run r;
        run_steps(&r, gz.p, cut, 1);
        CHECK_EQ_INT(r.finish_rc, -1);
        CHECK_EQ_INT(r.err.code, RZ_E_DECODE_TRUNCATED);
        run_end(&r);
    }
    free(data.p);
    free(gz.p);
}

/* Fewer than two bytes cannot be gzip: passed on for the tar parser. */
static void test_short_input_is_identity(void)
{
    static const uint8_t one[] = {0x1f};
    struct run r;
    run_steps(&r, one, 1, 1);
    CHECK_EQ_INT(r.finish_rc, 0);
    CHECK_EQ_INT(r.sink.got.len, 1);
    CHECK_EQ_STR(decoder_name(&r.d), "tar");
    run_end(&r);

    run_steps(&r, one, 0, 1);
    CHECK_EQ_INT(r.finish_rc, 0);
    CHECK_EQ_INT(r.sink.calls, 0);
    CHECK_EQ_STR(decoder_name(&r.d), "tar");
    run_end(&r);

    /* A partial xz magic at the end is not an xz stream either. */
    static const uint8_t xz3[] = {0xfd, 0x37, 0x7a};
    run_steps(&r, xz3, 3, 1);
    CHECK_EQ_INT(r.finish_rc, 0);
    CHECK_EQ_INT(r.sink.got.len, 3);
    run_end(&r);
}

static void test_crc_and_length_trailer(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 20000, 7, false);
    gzip_member(&gz, data.p, data.len, false);
    gz.p[gz.len - 8] ^= 0x01;                    /* CRC-32 */
    expect_error(gz.p, gz.len, RZ_E_GZIP_CRC, "incorrect data check");
    gz.p[gz.len - 8] ^= 0x01;
    gz.p[gz.len - 2] ^= 0x40;                    /* ISIZE */
    expect_error(gz.p, gz.len, RZ_E_GZIP_CRC, "incorrect length check");

    /* A bad CRC in a later member is caught too. */
    gz.p[gz.len - 2] ^= 0x40;
    size_t first = gz.len;
    gzip_member(&gz, data.p, 100, false);
    gz.p[gz.len - 5] ^= 0x80;
    expect_error(gz.p, gz.len, RZ_E_GZIP_CRC, "member 2");
    (void)first;
    free(data.p);
    free(gz.p);
}

static void test_corrupt_deflate_data(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 20000, 8, true);
    gzip_member(&gz, data.p, data.len, false);
    gz.p[10] |= 0x06;                            /* BTYPE 11: reserved */
    expect_error(gz.p, gz.len, RZ_E_DECODE_DATA, "invalid block type");

    static const uint8_t bad_method[] = {0x1f, 0x8b, 0x09, 0, 0, 0, 0, 0,
                                         0, 3, 0, 0, 0, 0};
    expect_error(bad_method, sizeof bad_method, RZ_E_DECODE_DATA,
                 "unknown compression method");
    free(data.p);
    free(gz.p);
}

static void test_trailing_bytes(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 1000, 9, true);
    gzip_member(&gz, data.p, data.len, false);
    size_t end = gz.len;

    buf_add(&gz, "\0\0\0\0\0\0\0\0", 8);       /* padding: fine */
    expect_decodes(&gz, &data);

    buf_add(&gz, "x", 1);                        /* zeros, then garbage */
    expect_error(gz.p, gz.len, RZ_E_DECODE_TRAILING, "0x78");

    gz.len = end;
    buf_add(&gz, "garbage", 7);
    expect_error(gz.p, gz.len, RZ_E_DECODE_TRAILING, "after gzip member 1");

    gz.len = end;
    buf_add(&gz, "\x1f\x00", 2);                 /* 1f, but no 8b */
    expect_error(gz.p, gz.len, RZ_E_DECODE_TRAILING, NULL);

    struct run r;
    gz.len = end;
    buf_add(&gz, "q", 1);
    run_steps(&r, gz.p, gz.len, gz.len);
    CHECK_EQ_INT(r.err.offset, end + 1);
    run_end(&r);
    free(data.p);
    free(gz.p);
}

static void test_identity_passthrough(void)
{
    struct buf data = {0};
    buf_add(&data, "hello.txt", 9);
    fill(&data, 3 * DECODER_OUT_SIZE + 5, 10, false);
    struct run r;
    run_steps(&r, data.p, data.len, data.len);
    CHECK_EQ_INT(r.finish_rc, 0);
    CHECK(same(&r, &data));
    CHECK(r.sink.max_piece <= DECODER_OUT_SIZE);
    CHECK_EQ_STR(decoder_name(&r.d), "tar");
    run_end(&r);

    /* The first push decides: its buffer goes downstream uncopied. */
    run_start(&r);
    CHECK_EQ_INT(decoder_push(&r.d, data.p, data.len), 0);
    CHECK(r.sink.first_ptr == data.p);
    run_end(&r);

    /* "BZh" then not bzip2: a tar whose first name starts with BZh. */
    data.len = 0;
    buf_add(&data, "BZh9 is a fine name", 19);
    expect_every_split(&data, &data);
    run_steps(&r, data.p, data.len, 1);
    CHECK(same(&r, &data));
    CHECK_EQ_STR(decoder_name(&r.d), "tar");
    run_end(&r);
    free(data.p);
}

static void test_unsupported_formats(void)
{
    static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0x24, 0, 1, 2};
    static const uint8_t xz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4};
    static const uint8_t bz[] = "BZh91AY&SY....";
    static const uint8_t bz_empty[] = {'B', 'Z', 'h', '1', 0x17, 0x72, 0x45,
                                       0x38, 0x50, 0x90, 0, 0, 0, 0};
    expect_error(zstd, sizeof zstd, RZ_E_DECODE_UNSUPPORTED, "zstd");
    expect_error(xz, sizeof xz, RZ_E_DECODE_UNSUPPORTED, "xz");
    expect_error(bz, sizeof bz - 1, RZ_E_DECODE_UNSUPPORTED, "bzip2");
    expect_error(bz_empty, sizeof bz_empty, RZ_E_DECODE_UNSUPPORTED, "bzip2");

    struct run r;
    run_steps(&r, zstd, sizeof zstd, 1);
    CHECK_EQ_INT(r.sink.calls, 0);
    CHECK_EQ_STR(decoder_name(&r.d), "zstd");
    run_end(&r);
}

static void test_downstream_error_is_sticky(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 3 * DECODER_OUT_SIZE, 11, true);
    gzip_member(&gz, data.p, data.len, false);
    for (int gzip = 0; gzip < 2; gzip++) {
        const struct buf *in = gzip ? &gz : &data;
        struct run r;
        run_start(&r);
        r.sink.fail_at_call = 2;
        CHECK_EQ_INT(decoder_push(&r.d, in->p, in->len), -1);
        CHECK_EQ_INT(r.err.code, RZ_E_LIMIT_SIZE);   /* the sink's, as is */
        CHECK_EQ_INT(r.err.offset_kind, RZ_OFF_ARCHIVE);
        CHECK_EQ_INT(r.err.offset, 7);
        CHECK_EQ_INT(r.sink.calls, 2);
        CHECK_EQ_INT(decoder_push(&r.d, in->p, in->len), -1);
        CHECK_EQ_INT(decoder_finish(&r.d), -1);
        CHECK_EQ_INT(r.sink.calls, 2);
        CHECK_EQ_INT(r.err.code, RZ_E_LIMIT_SIZE);
        run_end(&r);
    }
    /* A decoder error is sticky too. */
    static const uint8_t xz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
    struct run r;
    run_start(&r);
    CHECK_EQ_INT(decoder_push(&r.d, xz, sizeof xz), -1);
    CHECK_EQ_INT(decoder_push(&r.d, gz.p, gz.len), -1);
    CHECK_EQ_INT(r.sink.calls, 0);
    run_end(&r);
    free(data.p);
    free(gz.p);
}

static void test_free_zeroed(void)
{
    struct decoder d;
    memset(&d, 0, sizeof d);
    decoder_free(&d);
    CHECK(d.outbuf == NULL);
}

int main(void)
{
    RUN(test_gzip_random_and_compressible);
    RUN(test_gzip_big_output_from_small_input);
    RUN(test_gzip_multi_member);
    RUN(test_gzip_every_split_small);
    RUN(test_gzip_truncated_everywhere);
    RUN(test_short_input_is_identity);
    RUN(test_crc_and_length_trailer);
    RUN(test_corrupt_deflate_data);
    RUN(test_trailing_bytes);
    RUN(test_identity_passthrough);
    RUN(test_unsupported_formats);
    RUN(test_downstream_error_is_sticky);
    RUN(test_free_zeroed);
    return check_summary();
}
