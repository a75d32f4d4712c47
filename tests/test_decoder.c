/*
 * test_decoder.c: the decoder stage and every backend, attacked at their
 * boundaries.
 *
 * Inputs are made here by the real encoders: zlib's deflate (gzip wrapper),
 * liblzma (xz, multi-block xz from its threaded encoder, lzma-alone),
 * libzstd, libbz2, liblz4, and the compress(1) program (ncompress) for .Z,
 * so every expected output is known exactly.  Each stream is fed whole, one
 * byte at a time, in odd steps and split at every offset; truncated at every
 * offset; corrupted at every byte; followed by garbage; concatenated; and
 * failed from downstream.  Detection is checked on tars whose first names
 * look like magics, HTML pages, zip files, empty and unknown input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#ifdef RZ_HAVE_LZMA
#include <lzma.h>
#endif
#ifdef RZ_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef RZ_HAVE_BZIP2
#include <bzlib.h>
#endif
#ifdef RZ_HAVE_LZ4
#include <lz4frame.h>
#endif

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

/* The gzip engine every run uses (the gzip tests run under each). */
static enum decoder_gzip_engine engine = DECODER_GZIP_ZLIB;

static void run_start(struct run *r)
{
    memset(r, 0, sizeof *r);
    rz_error_clear(&r->err);
    r->sink.err = &r->err;
    if (decoder_init(&r->d, sink_push, &r->sink, &r->err) != 0)
        abort();
    struct decoder_options o = {0};
    o.gzip_engine = engine;
    decoder_set_options(&r->d, &o);
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
static void expect_decodes_as(const struct buf *gz, const struct buf *want,
                              const char *name)
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
        CHECK_EQ_STR(decoder_name(&r.d), name);
        run_end(&r);
    }
}

static void expect_decodes(const struct buf *gz, const struct buf *want)
{
    expect_decodes_as(gz, want, "gzip");
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
static void expect_error_at(const uint8_t *in, size_t len, enum rz_code code,
                            const char *detail_part, size_t want_offset)
{
    struct run r;
    size_t steps[2] = {len ? len : 1, 1};
    for (int i = 0; i < 2; i++) {
        run_steps(&r, in, len, steps[i]);
        CHECK_EQ_INT(r.finish_rc, -1);
        CHECK_EQ_STR(rz_code_name(r.err.code), rz_code_name(code));
        CHECK_EQ_INT(r.err.offset_kind, RZ_OFF_RAW);
        CHECK(r.err.offset <= len);
        if (want_offset != SIZE_MAX)
            CHECK_EQ_INT(r.err.offset, want_offset);
        if (detail_part && !strstr(r.err.detail, detail_part)) {
            fprintf(stderr, "  detail \"%s\" lacks \"%s\"\n", r.err.detail,
                    detail_part);
            CHECK(!"detail");
        }
        run_end(&r);
    }
}

static void expect_error(const uint8_t *in, size_t len, enum rz_code code,
                         const char *detail_part)
{
    expect_error_at(in, len, code, detail_part, SIZE_MAX);
}


static void gzip_make_plain(struct buf *out, const uint8_t *data, size_t len)
{
    gzip_member(out, data, len, true);
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
static void test_crc_and_length_trailer(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 20000, 7, false);
    gzip_member(&gz, data.p, data.len, false);
    gz.p[gz.len - 8] ^= 0x01;                    /* CRC-32 */
    expect_error_at(gz.p, gz.len, RZ_E_GZIP_CRC, "CRC-32 stored", gz.len);
    gz.p[gz.len - 8] ^= 0x01;
    gz.p[gz.len - 2] ^= 0x40;                    /* ISIZE */
    expect_error_at(gz.p, gz.len, RZ_E_GZIP_CRC, "length stored", gz.len);

    /* A bad CRC in a later member is caught too. */
    gz.p[gz.len - 2] ^= 0x40;
    gzip_member(&gz, data.p, 100, false);
    gz.p[gz.len - 5] ^= 0x80;
    expect_error_at(gz.p, gz.len, RZ_E_GZIP_CRC, "member 2", gz.len);
    free(data.p);
    free(gz.p);
}

static void test_corrupt_deflate_data(void)
{
    struct buf data = {0}, gz = {0};
    fill(&data, 20000, 8, true);
    gzip_member(&gz, data.p, data.len, false);
    gz.p[10] |= 0x06;                            /* BTYPE 11: reserved */
    expect_error(gz.p, gz.len, RZ_E_DECODE_DATA,
                 engine == DECODER_GZIP_ZLIB ? "zlib: invalid block type"
                                             : "isa-l: invalid deflate block");

    static const uint8_t bad_method[] = {0x1f, 0x8b, 0x09, 0, 0, 0, 0, 0,
                                         0, 3, 0, 0, 0, 0};
    expect_error(bad_method, sizeof bad_method, RZ_E_DECODE_DATA,
                 "unknown compression method 9");
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

/* ------------------------------------------- zlib and ISA-L, side by side */

struct outcome {
    int rc;
    enum rz_code code;
    uint64_t offset;
    char detail[RZ_ERROR_DETAIL_MAX];
    struct buf out;
};

static void decode_with(enum decoder_gzip_engine e, const uint8_t *in,
                        size_t len, size_t step, struct outcome *o)
{
    enum decoder_gzip_engine saved = engine;
    struct run r;
    engine = e;
    run_steps(&r, in, len, step ? step : (len ? len : 1));
    engine = saved;
    o->rc = r.finish_rc;
    o->code = r.err.code;
    o->offset = r.err.offset;
    memcpy(o->detail, r.err.detail, sizeof o->detail);
    o->out = r.sink.got;
    r.sink.got.p = NULL;
    run_end(&r);
}

/* The two engines agree: same output, same error code; the framing's errors
 * (everything but corrupt deflate data) at the same offset with the same
 * text.  Returns false (and says why) if not. */
static bool engines_agree(const uint8_t *in, size_t len, size_t step,
                          const char *what)
{
    struct outcome z, i;
    decode_with(DECODER_GZIP_ZLIB, in, len, step, &z);
    decode_with(DECODER_GZIP_ISAL, in, len, step, &i);
    bool ok = z.rc == i.rc && z.code == i.code;
    if (ok && z.code != RZ_E_DECODE_DATA)
        ok = z.offset == i.offset && strcmp(z.detail, i.detail) == 0;
    /* after a deflate error, how much came out first may differ */
    if (ok && z.code != RZ_E_DECODE_DATA)
        ok = z.out.len == i.out.len
             && (z.out.len == 0 || memcmp(z.out.p, i.out.p, z.out.len) == 0);
    if (!ok)
        fprintf(stderr, "  %s: zlib rc %d %s @%llu \"%s\" %zu bytes; isa-l rc %d "
                "%s @%llu \"%s\" %zu bytes\n", what, z.rc, rz_code_name(z.code),
                (unsigned long long)z.offset, z.detail, z.out.len, i.rc,
                rz_code_name(i.code), (unsigned long long)i.offset, i.detail,
                i.out.len);
    free(z.out.p);
    free(i.out.p);
    return ok;
}

/* Every .tar.gz of the conformance fixtures (GNU tar, bsdtar, tarfile,
 * libtar through gzip), plus multi-member, padded and damaged streams made
 * here: both engines, whole and in odd steps. */
static void test_engines_agree_on_fixtures(void)
{
    if (!decoder_gzip_engine_built_in(DECODER_GZIP_ISAL)) {
        printf("SKIP ISA-L: not built in\n");
        return;
    }
    const char *dir = getenv("RZ_FIXTURES");
    int files = 0, bad = 0;
    static const char *const names[] = {"gnu", "pax", "bsdtar", "pytar",
                                        "pygnu", "libtar"};
    for (size_t n = 0; dir && n < sizeof names / sizeof names[0]; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.tar.gz", dir, names[n]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        struct buf b = {0};
        uint8_t tmp[65536];
        size_t k;
        while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
            buf_add(&b, tmp, k);
        fclose(f);
        files++;
        bad += !engines_agree(b.p, b.len, 0, path);
        bad += !engines_agree(b.p, b.len, 4099, path);
        struct buf twice = {0};                    /* two members */
        buf_add(&twice, b.p, b.len);
        buf_add(&twice, b.p, b.len);
        free(b.p);
        b = twice;
        bad += !engines_agree(b.p, b.len, 777, path);
        free(b.p);
    }
    if (dir)
        CHECK(files > 0);   /* the fixtures exist when run by tests/run.py */
    struct buf data = {0}, gz = {0};
    fill(&data, 200000, 40, true);
    fill(&data, 100000, 41, false);
    gzip_member(&gz, data.p, data.len, true);
    gzip_member(&gz, NULL, 0, false);
    gzip_member(&gz, data.p, 5000, false);
    buf_add(&gz, "\0\0\0", 3);
    bad += !engines_agree(gz.p, gz.len, 0, "members");
    bad += !engines_agree(gz.p, gz.len, 1, "members, 1 byte at a time");
    gz.p[gz.len - 12] ^= 1;                        /* ISIZE of the last */
    bad += !engines_agree(gz.p, gz.len, 0, "isize");
    gz.p[gz.len - 12] ^= 1;
    gz.p[gz.len - 16] ^= 1;                        /* CRC of the last */
    bad += !engines_agree(gz.p, gz.len, 3, "crc");
    CHECK_EQ_INT(bad, 0);
    free(data.p);
    free(gz.p);
}

/* Small members truncated at every offset and corrupted at every byte. */
static void test_engines_agree_truncated_and_corrupted(void)
{
    if (!decoder_gzip_engine_built_in(DECODER_GZIP_ISAL)) {
        printf("SKIP ISA-L: not built in\n");
        return;
    }
    struct buf data = {0}, gz = {0};
    fill(&data, 3000, 42, true);
    fill(&data, 300, 43, false);
    gzip_member(&gz, data.p, data.len, true);
    gzip_member(&gz, data.p, 100, false);
    int bad = 0, data_errors = 0;
    for (size_t cut = 0; cut <= gz.len; cut++)
        bad += !engines_agree(gz.p, cut, cut % 2 ? 1 : 0, "truncated");
    for (size_t at = 0; at < gz.len; at++) {
        gz.p[at] ^= 0x24;
        bad += !engines_agree(gz.p, gz.len, at % 3 ? 0 : 1, "corrupted");
        struct outcome o;
        decode_with(DECODER_GZIP_ISAL, gz.p, gz.len, 0, &o);
        data_errors += o.code == RZ_E_DECODE_DATA;
        free(o.out.p);
        gz.p[at] ^= 0x24;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(data_errors > 0);   /* the flips did reach the deflate data */
    free(data.p);
    free(gz.p);
}

/* ------------------------------------------------------------- encoders */

/* Streams this small get a dictionary or window fitted to them. */
#define SMALL_STREAM (64 * 1024)

#ifdef RZ_HAVE_LZMA
/* The preset's options, with its dictionary (8 MiB at preset 6) cut down
 * to the data's size (4 KiB at least) when `fitted`: the decoder allocates the dictionary the header declares, and
 * the every-offset loops start thousands of decoders, which under ASan
 * means an 8 MiB mapping and its shadow each time (minutes in CI).  Data
 * over SMALL_STREAM, like test_every_backend_decodes' 600 KB, keeps the
 * preset's dictionary. */
static void lzma_options_for(lzma_options_lzma *o, uint32_t preset,
                             size_t len, bool fitted)
{
    lzma_lzma_preset(o, preset);
    if (!fitted || len > SMALL_STREAM)
        return;
    uint32_t dict = 4096;
    while (dict < len)
        dict *= 2;
    o->dict_size = dict;
}

static void xz_make_dict(struct buf *out, const uint8_t *data, size_t len,
                         bool fitted)
{
    size_t cap = lzma_stream_buffer_bound(len), pos = 0;
    uint8_t *tmp = malloc(cap);
    lzma_options_lzma o;
    lzma_options_for(&o, 6, len, fitted);
    lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &o},
                             {LZMA_VLI_UNKNOWN, NULL}};
    if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, NULL, data, len,
                                  tmp, &pos, cap) != LZMA_OK)
        abort();
    buf_add(out, tmp, pos);
    free(tmp);
}

static void xz_make(struct buf *out, const uint8_t *data, size_t len)
{
    xz_make_dict(out, data, len, true);
}

/* Several blocks with their sizes recorded, as `xz -T0` writes. */
static void xz_mt_make(struct buf *out, const uint8_t *data, size_t len)
{
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_mt mt = {0};
    mt.threads = 2;
    mt.block_size = 64 * 1024;
    lzma_options_lzma o;
    lzma_options_for(&o, 1, len, true);
    lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &o},
                             {LZMA_VLI_UNKNOWN, NULL}};
    mt.filters = filters;
    mt.check = LZMA_CHECK_CRC32;
    if (lzma_stream_encoder_mt(&s, &mt) != LZMA_OK)
        abort();
    size_t cap = lzma_stream_buffer_bound(len) + 4096;
    uint8_t *tmp = malloc(cap);
    s.next_in = data;
    s.avail_in = len;
    s.next_out = tmp;
    s.avail_out = cap;
    lzma_ret r;
    while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK)
        ;
    if (r != LZMA_STREAM_END)
        abort();
    buf_add(out, tmp, cap - s.avail_out);
    lzma_end(&s);
    free(tmp);
}

static void lzma_make_dict(struct buf *out, const uint8_t *data, size_t len,
                           bool fitted)
{
    lzma_options_lzma o;
    lzma_options_for(&o, 6, len, fitted);
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_alone_encoder(&s, &o) != LZMA_OK)
        abort();
    size_t cap = len + len / 2 + 4096;
    uint8_t *tmp = malloc(cap);
    s.next_in = data;
    s.avail_in = len;
    s.next_out = tmp;
    s.avail_out = cap;
    lzma_ret r;
    while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK)
        ;
    if (r != LZMA_STREAM_END)
        abort();
    buf_add(out, tmp, cap - s.avail_out);
    lzma_end(&s);
    free(tmp);
}

static void lzma_make(struct buf *out, const uint8_t *data, size_t len)
{
    lzma_make_dict(out, data, len, true);
}
#endif

#ifdef RZ_HAVE_ZSTD
static void zstd_make_window(struct buf *out, const uint8_t *data, size_t len,
                             int window_log)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
    if (window_log)
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
    size_t cap = ZSTD_compressBound(len) + 64;
    uint8_t *tmp = malloc(cap);
    ZSTD_inBuffer in = {data, len, 0};
    ZSTD_outBuffer o = {tmp, cap, 0};
    /* Streamed (size unknown), so the declared window is the full one. */
    if (ZSTD_isError(ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue)))
        abort();
    ZSTD_inBuffer none = {NULL, 0, 0};
    if (ZSTD_compressStream2(c, &o, &none, ZSTD_e_end) != 0)
        abort();
    buf_add(out, tmp, o.pos);
    free(tmp);
    ZSTD_freeCCtx(c);
}

/* Level 3's 2 MiB window cut down to small data (1 KiB at least), for the
 * reason lzma_options_for gives. */
static void zstd_make(struct buf *out, const uint8_t *data, size_t len)
{
    if (len > SMALL_STREAM) {
        zstd_make_window(out, data, len, 0);
        return;
    }
    int log = 10;   /* ZSTD_WINDOWLOG_MIN */
    while (((size_t)1 << log) < len)
        log++;
    zstd_make_window(out, data, len, log);
}
#endif

#ifdef RZ_HAVE_BZIP2
static void bzip2_make(struct buf *out, const uint8_t *data, size_t len)
{
    unsigned cap = (unsigned)(len + len / 100 + 1024);
    char *tmp = malloc(cap);
    if (BZ2_bzBuffToBuffCompress(tmp, &cap, (char *)data, (unsigned)len, 1, 0,
                                 0) != BZ_OK)
        abort();
    buf_add(out, tmp, cap);
    free(tmp);
}
#endif

#ifdef RZ_HAVE_LZ4
static void lz4_make(struct buf *out, const uint8_t *data, size_t len)
{
    LZ4F_preferences_t p;
    memset(&p, 0, sizeof p);
    p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    p.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    p.frameInfo.blockSizeID = LZ4F_max64KB;
    size_t cap = LZ4F_compressFrameBound(len, &p);
    uint8_t *tmp = malloc(cap);
    size_t n = LZ4F_compressFrame(tmp, cap, data, len, &p);
    if (LZ4F_isError(n))
        abort();
    buf_add(out, tmp, n);
    free(tmp);
}
#endif

/* compress(1) from ncompress, with -b bits; false if it is not installed. */
static bool compress_make_bits(struct buf *out, const uint8_t *data,
                               size_t len, int bits)
{
    char in_path[] = "/tmp/rz-test-lzw-XXXXXX";
    int fd = mkstemp(in_path);
    if (fd < 0)
        abort();
    if (write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "compress -c -b%d < %s 2>/dev/null", bits,
             in_path);
    FILE *p = popen(cmd, "r");
    if (!p)
        abort();
    size_t before = out->len;
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
        buf_add(out, tmp, n);
    int st = pclose(p);
    unlink(in_path);
    /* compress exits 2 when the output is larger than the input: fine. */
    return (st == 0 || WEXITSTATUS(st) == 2) && out->len > before + 3;
}

static void compress_make(struct buf *out, const uint8_t *data, size_t len)
{
    if (!compress_make_bits(out, data, len, 16))
        out->len = 0;
}

/* ------------------------------------------------- every backend, alike */

struct codec {
    const char *name;
    void (*make)(struct buf *out, const uint8_t *data, size_t len);
    size_t magic_len;   /* shorter prefixes are not yet this format */
    bool checked;       /* has a check: a flipped byte never goes unnoticed */
    bool concat;        /* concatenated streams are one stream */
    bool detects_end;   /* knows where its stream ends (trailing, truncation) */
};

static const struct codec codecs[] = {
    {"gzip", gzip_make_plain, 2, true, true, true},
#ifdef RZ_HAVE_LZMA
    {"xz", xz_make, 6, true, true, true},
    {"xz", xz_mt_make, 6, true, true, true},
    {"lzma", lzma_make, 13, false, false, true},
#endif
#ifdef RZ_HAVE_ZSTD
    {"zstd", zstd_make, 4, true, true, true},
#endif
#ifdef RZ_HAVE_BZIP2
    {"bzip2", bzip2_make, 10, true, true, true},
#endif
#ifdef RZ_HAVE_LZ4
    {"lz4", lz4_make, 4, true, true, true},
#endif
    {"compress", compress_make, 3, false, false, false},
};

#define N_CODECS (sizeof codecs / sizeof codecs[0])

/* Data for the small tests: text-like, then random. */
static void small_data(struct buf *data)
{
    fill(data, 2500, 21, true);
    fill(data, 700, 22, false);
}

static bool make(const struct codec *c, struct buf *out, const struct buf *data)
{
    out->len = 0;
    c->make(out, data->p, data->len);
    if (out->len == 0) {
        printf("SKIP %s: no encoder (is compress installed?)\n", c->name);
        return false;
    }
    return true;
}

static bool is_prefix(const struct run *r, const struct buf *want)
{
    return r->sink.got.len <= want->len
           && (r->sink.got.len == 0
               || memcmp(r->sink.got.p, want->p, r->sink.got.len) == 0);
}

static void test_every_backend_decodes(void)
{
    struct buf data = {0}, z = {0};
    fill(&data, 400000, 23, true);
    fill(&data, 200000, 24, false);
    for (size_t i = 0; i < N_CODECS; i++) {
        if (!make(&codecs[i], &z, &data))
            continue;
        expect_decodes_as(&z, &data, codecs[i].name);
    }
    free(data.p);
    free(z.p);
}

static void test_every_backend_every_split(void)
{
    struct buf data = {0}, z = {0};
    small_data(&data);
    for (size_t i = 0; i < N_CODECS; i++) {
        if (!make(&codecs[i], &z, &data))
            continue;
        expect_every_split(&z, &data);
        expect_decodes_as(&z, &data, codecs[i].name);
    }
    free(data.p);
    free(z.p);
}

/* Every proper prefix: an error (truncated once the magic is whole), and
 * what came out before it is a prefix of the content. */
static void test_every_backend_truncated_everywhere(void)
{
    struct buf data = {0}, z = {0};
    small_data(&data);
    for (size_t i = 0; i < N_CODECS; i++) {
        const struct codec *c = &codecs[i];
        if (!make(c, &z, &data))
            continue;
        int accepted = 0, wrong_code = 0, not_prefix = 0, bad_offset = 0;
        for (size_t cut = 0; cut < z.len; cut++) {
            struct run r;
            run_steps(&r, z.p, cut, cut % 3 ? 1 : (cut ? cut : 1));
            if (cut < c->magic_len && strcmp(decoder_name(&r.d), "tar") == 0) {
                /* a weak magic cut short may be a tar prefix: the tar
                 * parser reports it */
                CHECK(strcmp(c->name, "lzma") == 0 && r.finish_rc == 0);
                run_end(&r);
                continue;
            }
            if (!is_prefix(&r, &data))
                not_prefix++;
            if (c->detects_end) {
                if (r.finish_rc == 0)
                    accepted++;
                else if (cut >= c->magic_len
                         && r.err.code != RZ_E_DECODE_TRUNCATED)
                    wrong_code++;
                else if (cut >= c->magic_len && r.err.offset > cut)
                    bad_offset++;
            } else if (cut < c->magic_len && r.finish_rc == 0) {
                accepted++;
            }
            run_end(&r);
        }
        if (accepted || wrong_code || not_prefix || bad_offset)
            fprintf(stderr, "  %s: accepted %d, wrong code %d, not a prefix "
                    "%d, offset past the cut %d\n", c->name, accepted,
                    wrong_code, not_prefix, bad_offset);
        CHECK_EQ_INT(accepted, 0);
        CHECK_EQ_INT(wrong_code, 0);
        CHECK_EQ_INT(not_prefix, 0);
        CHECK_EQ_INT(bad_offset, 0);
    }
    free(data.p);
    free(z.p);
}

/* Every byte flipped: with a check, the result is an error or the exact
 * content (a flip in an ignored field, like gzip's MTIME); never wrong
 * output with success.  Without one, no crash (ASan/UBSan builds) and a
 * sticky error when one is reported. */
static void test_every_backend_corrupted_everywhere(void)
{
    struct buf data = {0}, z = {0};
    small_data(&data);
    for (size_t i = 0; i < N_CODECS; i++) {
        const struct codec *c = &codecs[i];
        if (!make(c, &z, &data))
            continue;
        int silent = 0, failed = 0;
        for (size_t at = 0; at < z.len; at++) {
            struct run r;
            z.p[at] ^= 0x55;
            run_steps(&r, z.p, z.len, at % 2 ? 1 : z.len);
            z.p[at] ^= 0x55;
            if (r.finish_rc == 0 && !same(&r, &data))
                silent++;
            if (r.finish_rc != 0) {
                failed++;
                CHECK(r.err.code != RZ_E_OK);
                CHECK(r.err.offset_kind == RZ_OFF_RAW);
            }
            run_end(&r);
        }
        if (c->checked) {
            if (silent)
                fprintf(stderr, "  %s: %d flips decoded to wrong output\n",
                        c->name, silent);
            CHECK_EQ_INT(silent, 0);
        }
        CHECK(failed > 0);
    }
    free(data.p);
    free(z.p);
}

static void test_every_backend_trailing_garbage(void)
{
    struct buf data = {0}, z = {0};
    small_data(&data);
    for (size_t i = 0; i < N_CODECS; i++) {
        const struct codec *c = &codecs[i];
        if (!c->detects_end || !make(c, &z, &data))
            continue;
        buf_add(&z, "garbage!", 8);
        expect_error(z.p, z.len, RZ_E_DECODE_TRAILING, NULL);
        struct run r;
        run_steps(&r, z.p, z.len, z.len);
        CHECK(same(&r, &data));   /* everything before it came out */
        run_end(&r);
    }
    free(data.p);
    free(z.p);
}

static void test_every_backend_concatenated(void)
{
    struct buf a = {0}, b = {0}, both = {0}, z = {0}, one = {0};
    small_data(&a);
    fill(&b, 5000, 25, true);
    buf_add(&both, a.p, a.len);
    buf_add(&both, b.p, b.len);
    for (size_t i = 0; i < N_CODECS; i++) {
        const struct codec *c = &codecs[i];
        if (!c->concat || !make(c, &z, &a))
            continue;
        if (!make(c, &one, &b))
            continue;
        buf_add(&z, one.p, one.len);
        expect_decodes_as(&z, &both, c->name);
        expect_every_split(&z, &both);
        struct run r;
        run_steps(&r, z.p, z.len, z.len);
        CHECK_EQ_INT(r.d.members, 2);
        run_end(&r);
    }
    free(a.p);
    free(b.p);
    free(both.p);
    free(z.p);
    free(one.p);
}

static void test_every_backend_downstream_error(void)
{
    struct buf data = {0}, z = {0};
    fill(&data, 3 * DECODER_OUT_SIZE, 26, true);
    for (size_t i = 0; i < N_CODECS; i++) {
        if (!make(&codecs[i], &z, &data))
            continue;
        struct run r;
        run_start(&r);
        r.sink.fail_at_call = 2;
        CHECK_EQ_INT(decoder_push(&r.d, z.p, z.len), -1);
        CHECK_EQ_INT(r.err.code, RZ_E_LIMIT_SIZE);   /* the sink's, as is */
        CHECK_EQ_INT(r.err.offset_kind, RZ_OFF_ARCHIVE);
        CHECK_EQ_INT(r.err.offset, 7);
        CHECK_EQ_INT(r.sink.calls, 2);
        CHECK_EQ_INT(decoder_push(&r.d, z.p, z.len), -1);
        CHECK_EQ_INT(decoder_finish(&r.d), -1);
        CHECK_EQ_INT(r.sink.calls, 2);
        run_end(&r);
    }
    free(data.p);
    free(z.p);
}

/* A downstream that lends output windows (as the handoff does): small,
 * odd sizes, so backends are made to stop and resume at every few bytes. */
struct lender {
    struct sink sink;
    uint8_t *space;
    size_t cap_now, calls, in_window, outside;
    uint8_t *lent;
};

static int lend(void *ctx, uint8_t **p, size_t *cap)
{
    static const size_t caps[] = {1, 3, 64, 1000, 4096, 300000};
    struct lender *l = ctx;
    l->cap_now = caps[l->calls++ % 6];
    l->lent = l->space;
    *p = l->space;
    *cap = l->cap_now;
    return 0;
}

static int lender_push(void *ctx, const uint8_t *p, size_t len)
{
    struct lender *l = ctx;
    if (p == l->lent && len <= l->cap_now && len <= DECODER_OUT_SIZE)
        l->in_window++;
    else
        l->outside++;
    l->lent = NULL;        /* a window is used once */
    return sink_push(&l->sink, p, len);
}

static void test_every_backend_into_lent_windows(void)
{
    struct buf data = {0}, z = {0};
    fill(&data, 60000, 44, true);
    fill(&data, 20000, 45, false);
    struct lender *l = calloc(1, sizeof *l);
    l->space = malloc(300000);
    for (int e = 0; e < 2; e++) {
        for (size_t i = 0; i < N_CODECS; i++) {
            const struct codec *c = &codecs[i];
            if (e && strcmp(c->name, "gzip") != 0)
                continue;
            if (!make(c, &z, &data))
                continue;
            struct rz_error err;
            struct decoder d;
            rz_error_clear(&err);
            free(l->sink.got.p);
            memset(&l->sink, 0, sizeof l->sink);
            l->sink.err = &err;
            l->calls = l->in_window = l->outside = 0;
            CHECK_EQ_INT(decoder_init(&d, lender_push, l, &err), 0);
            struct decoder_options o = {0};
            o.gzip_engine = e ? DECODER_GZIP_ISAL : DECODER_GZIP_ZLIB;
            if (e && !decoder_gzip_engine_built_in(o.gzip_engine))
                continue;
            decoder_set_options(&d, &o);
            decoder_set_window(&d, lend, l);
            int rc = 0;
            for (size_t at = 0; at < z.len && rc == 0; at += 777) {
                size_t n = z.len - at < 777 ? z.len - at : 777;
                rc = decoder_push(&d, z.p + at, n);
            }
            if (rc == 0)
                rc = decoder_finish(&d);
            if (rc != 0)
                fprintf(stderr, "  %s (engine %d): %s\n", c->name, e, err.detail);
            CHECK_EQ_INT(rc, 0);
            CHECK(l->sink.got.len == data.len
                  && memcmp(l->sink.got.p, data.p, data.len) == 0);
            if (strcmp(c->name, "compress") == 0) {
                CHECK_EQ_INT(l->in_window, 0);   /* .Z keeps its own buffer */
            } else {
                if (l->outside)
                    fprintf(stderr, "  %s: %zu pieces outside the window\n",
                            c->name, l->outside);
                CHECK_EQ_INT(l->outside, 0);
                CHECK(l->in_window > 0);
            }
            decoder_free(&d);
        }
    }
    free(l->sink.got.p);
    free(l->space);
    free(l);
    free(data.p);
    free(z.p);
}

/* ------------------------------------------------- backend specifics */

static void test_xz_limits_and_padding(void)
{
#ifdef RZ_HAVE_LZMA
    struct buf data = {0}, z = {0}, two = {0};
    small_data(&data);
    xz_make(&z, data.p, data.len);
    buf_add(&z, "\0\0\0\0", 4);               /* stream padding: fine */
    xz_make(&z, data.p, 100);
    buf_add(&z, "\0\0\0\0\0\0\0\0", 8);
    buf_add(&two, data.p, data.len);
    buf_add(&two, data.p, 100);
    expect_decodes_as(&z, &two, "xz");
    expect_every_split(&z, &two);
    buf_add(&z, "\0\0", 2);                   /* not a multiple of 4 */
    expect_error(z.p, z.len, RZ_E_DECODE_DATA, NULL);

    /* preset 6 has an 8 MiB dictionary: over a 1 MiB limit. */
    struct run r;
    struct decoder_options o = {0};
    o.xz_memlimit = 1 << 20;
    z.len = 0;
    xz_make_dict(&z, data.p, data.len, false);
    for (int alone = 0; alone < 2; alone++) {
        if (alone) {
            z.len = 0;
            lzma_make_dict(&z, data.p, data.len, false);
        }
        run_start(&r);
        decoder_set_options(&r.d, &o);
        int rc = decoder_push(&r.d, z.p, z.len);
        if (rc == 0)
            rc = decoder_finish(&r.d);
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_STR(rz_code_name(r.err.code), "DECODE_MEMLIMIT");
        CHECK(strstr(r.err.detail, "--xz-memlimit") != NULL);
        CHECK_EQ_INT(r.sink.calls, 0);
        run_end(&r);
    }

    /* Multi-block on 1, 2 and 4 threads: the same bytes. */
    struct buf big = {0};
    fill(&big, 1500000, 27, true);
    z.len = 0;
    xz_mt_make(&z, big.p, big.len);
    for (unsigned t = 1; t <= 4; t *= 2) {
        o.xz_memlimit = 0;
        o.xz_threads = t;
        run_start(&r);
        decoder_set_options(&r.d, &o);
        for (size_t at = 0; at < z.len && r.push_rc == 0; at += 1000) {
            size_t n = z.len - at < 1000 ? z.len - at : 1000;
            r.push_rc = decoder_push(&r.d, z.p + at, n);
        }
        CHECK_EQ_INT(r.push_rc, 0);
        CHECK_EQ_INT(decoder_finish(&r.d), 0);
        CHECK(same(&r, &big));
        run_end(&r);
    }
    free(big.p);
    free(data.p);
    free(z.p);
    free(two.p);
#else
    printf("SKIP xz: not built in\n");
#endif
}

static void test_zstd_window_limit(void)
{
#ifdef RZ_HAVE_ZSTD
    struct buf data = {0}, z = {0};
    small_data(&data);
    zstd_make_window(&z, data.p, data.len, 28);   /* a 256 MiB window */
    expect_error(z.p, z.len, RZ_E_DECODE_WINDOW, "--zstd-max-window");
    expect_error(z.p, z.len, RZ_E_DECODE_WINDOW, "256 MiB");
    struct run r;
    struct decoder_options o = {0};
    o.zstd_max_window = (uint64_t)256 << 20;
    run_start(&r);
    decoder_set_options(&r.d, &o);
    CHECK_EQ_INT(decoder_push(&r.d, z.p, z.len), 0);
    CHECK_EQ_INT(decoder_finish(&r.d), 0);
    CHECK(same(&r, &data));
    run_end(&r);

    /* 128 MiB, the default, is accepted. */
    z.len = 0;
    zstd_make_window(&z, data.p, data.len, 27);
    expect_decodes_as(&z, &data, "zstd");
    free(data.p);
    free(z.p);
#else
    printf("SKIP zstd: not built in\n");
#endif
}

/* A skippable frame (magic 5? 2a 4d 18) first, then a zstd or lz4 frame. */
static void skippable(struct buf *b, size_t len)
{
    uint8_t h[8] = {0x53, 0x2a, 0x4d, 0x18, (uint8_t)len, (uint8_t)(len >> 8),
                    0, 0};
    buf_add(b, h, 8);
    for (size_t i = 0; i < len; i++)
        buf_add(b, "s", 1);
}

static void test_skippable_frame_first(void)
{
    struct buf data = {0}, z = {0};
    small_data(&data);
    for (int lz = 0; lz < 2; lz++) {
        z.len = 0;
        skippable(&z, 600);       /* longer than the detection window */
        skippable(&z, 0);
#ifdef RZ_HAVE_ZSTD
        if (!lz)
            zstd_make(&z, data.p, data.len);
#endif
#ifdef RZ_HAVE_LZ4
        if (lz)
            lz4_make(&z, data.p, data.len);
#endif
        if (z.len == 608 + 8)
            continue;
        skippable(&z, 3);         /* and one at the end */
        expect_decodes_as(&z, &data, lz ? "lz4" : "zstd");
        expect_every_split(&z, &data);
    }
    /* Only skippable frames, or a gzip member after one: refused. */
    z.len = 0;
    skippable(&z, 10);
    expect_error(z.p, z.len, RZ_E_DECODE_UNKNOWN, "skippable");
    expect_error(z.p, z.len - 1, RZ_E_DECODE_TRUNCATED, "skippable");
    gzip_member(&z, data.p, data.len, false);
    expect_error(z.p, z.len, RZ_E_DECODE_UNKNOWN, NULL);
    free(data.p);
    free(z.p);
}

static void test_compress_every_width(void)
{
    struct buf data = {0}, z = {0};
    /* Enough variety to fill 16-bit tables and make compress clear them. */
    fill(&data, 150000, 28, false);
    fill(&data, 300000, 29, true);
    fill(&data, 150000, 30, false);
    /* -b9: ncompress 4.2.4 cannot read its own -b9 output, so no reference. */
    for (int bits = 10; bits <= 16; bits++) {
        z.len = 0;
        if (!compress_make_bits(&z, data.p, data.len, bits)) {
            printf("SKIP compress -b%d: compress is not installed\n", bits);
            continue;
        }
        CHECK_EQ_INT(z.p[2] & 0x1f, bits);
        struct run r;
        run_steps(&r, z.p, z.len, 4093);
        if (r.finish_rc != 0 || !same(&r, &data))
            fprintf(stderr, "  -b%d: rc %d, %zu of %zu bytes, %s\n", bits,
                    r.finish_rc, r.sink.got.len, data.len, r.err.detail);
        CHECK_EQ_INT(r.finish_rc, 0);
        CHECK(same(&r, &data));
        run_end(&r);
    }
    /* Bad widths in the header, and a code past the table. */
    static const uint8_t b8[] = {0x1f, 0x9d, 0x88, 'a', 0};
    static const uint8_t b17[] = {0x1f, 0x9d, 0x91, 'a', 0};
    static const uint8_t big_code[] = {0x1f, 0x9d, 0x90, 0x61, 0xfe, 0x03};
    expect_error(b8, sizeof b8, RZ_E_DECODE_DATA, "width 8");
    expect_error(b17, sizeof b17, RZ_E_DECODE_DATA, "width 17");
    expect_error_at(big_code, sizeof big_code, RZ_E_DECODE_DATA, "beyond", 6);
    free(data.p);
    free(z.p);
}

/* ------------------------------------------------------------ detection */

/* A valid ustar header for `name` (a regular file of `size` bytes). */
static void tar_header(struct buf *b, const char *name, size_t size,
                       bool ustar)
{
    uint8_t h[512];
    memset(h, 0, sizeof h);
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011zo", size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    if (ustar)
        memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    buf_add(b, h, 512);
}

static void test_tar_names_that_look_like_magic(void)
{
    static const char *const names[] = {
        "BZh9 is a fine name", "BZh91AY", "<html>index", "<!DOCTYPE html>",
        "PK\003\004.zip", "\x1f\x9d" "compressed", "]\x01\x02\x03\x04",
        "7z\xbc\xaf\x27\x1c", "!<arch>\nx",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (int ustar = 0; ustar < 2; ustar++) {
            struct buf t = {0};
            tar_header(&t, names[i], 3, ustar);
            buf_add(&t, "abc", 3);
            fill(&t, 509 + 1024, 31, false);
            expect_every_split(&t, &t);
            struct run r;
            run_steps(&r, t.p, t.len, 1);
            CHECK(same(&r, &t));
            CHECK_EQ_STR(decoder_name(&r.d), "tar");
            run_end(&r);
            free(t.p);
        }
    }
    /* A first header with a bad checksum but the ustar magic is a tar: the
     * tar parser then reports the checksum. */
    struct buf t = {0};
    tar_header(&t, "file", 0, true);
    t.p[150] ^= 1;
    expect_decodes_as(&t, &t, "tar");
    /* An empty archive: zero blocks. */
    t.len = 0;
    fill(&t, 0, 0, false);
    uint8_t zero[1024] = {0};
    buf_add(&t, zero, sizeof zero);
    expect_decodes_as(&t, &t, "tar");
    free(t.p);
}

static void test_identity_passthrough(void)
{
    struct buf data = {0};
    tar_header(&data, "hello.txt", 3 * DECODER_OUT_SIZE, true);
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
    free(data.p);
}

/* Short input: a tar prefix goes on (the parser says where it ends);
 * anything else is refused here, saying what it was. */
static void test_short_input(void)
{
    struct run r;
    static const uint8_t name[] = "usr/bin/tool\0\0\0\0";
    run_steps(&r, name, sizeof name, 1);
    CHECK_EQ_INT(r.finish_rc, 0);
    CHECK_EQ_INT(r.sink.got.len, sizeof name);
    CHECK_EQ_STR(decoder_name(&r.d), "tar");
    run_end(&r);

    static const uint8_t one[] = {0x1f};
    expect_error_at(one, 1, RZ_E_DECODE_UNKNOWN, "1 byte; first bytes: 1f", 0);
    static const uint8_t xz3[] = {0xfd, 0x37, 0x7a};
    expect_error(xz3, 3, RZ_E_DECODE_UNKNOWN, "fd 37 7a");
}

static void test_rejections_name_what_was_seen(void)
{
    struct run r;
    run_steps(&r, NULL, 0, 1);
    CHECK_EQ_INT(r.finish_rc, -1);
    CHECK_EQ_STR(rz_code_name(r.err.code), "DECODE_EMPTY");
    CHECK(strstr(rz_code_message(r.err.code), "0 bytes") != NULL);
    run_end(&r);

    static const char html[] = "\xef\xbb\xbf\r\n  <!doctype HTML><html><head>"
                               "<title>Sign in</title></head></html>\n";
    expect_error_at((const uint8_t *)html, sizeof html - 1, RZ_E_DECODE_HTML,
                    "first bytes: ef bb bf 0d 0a", 0);
    struct buf page = {0};
    buf_add(&page, "<html><body>", 12);
    fill(&page, 5000, 32, true);
    expect_error(page.p, page.len, RZ_E_DECODE_HTML, NULL);
    run_steps(&r, page.p, page.len, page.len);
    CHECK_EQ_INT(r.sink.calls, 0);          /* nothing went downstream */
    CHECK_EQ_STR(decoder_name(&r.d), "rejected");
    run_end(&r);

    static const uint8_t zip[] = "PK\003\004\024\000\000\000\010\000";
    expect_error(zip, sizeof zip - 1, RZ_E_DECODE_ZIP, "50 4b 03 04");
    static const uint8_t sevenz[] = "7z\xbc\xaf\x27\x1c\0\4";
    expect_error(sevenz, sizeof sevenz - 1, RZ_E_DECODE_UNSUPPORTED, "7-Zip");
    static const uint8_t deb[] = "!<arch>\ndebian-binary   ";
    expect_error(deb, sizeof deb - 1, RZ_E_DECODE_UNSUPPORTED, "data.tar");
    static const uint8_t legacy[] = {0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0};
    expect_error(legacy, sizeof legacy, RZ_E_DECODE_UNSUPPORTED, "lz4 -l");

    struct buf junk = {0};
    buf_add(&junk, "\x7f" "ELF", 4);
    fill(&junk, 4096, 33, false);
    expect_error_at(junk.p, junk.len, RZ_E_DECODE_UNKNOWN,
                    "an ELF executable", 0);
    expect_error(junk.p, junk.len, RZ_E_DECODE_UNKNOWN, "7f 45 4c 46");
    free(page.p);
    free(junk.p);
}

static void test_not_built_in(void)
{
    /* Each kind this build lacks fails with "not built in", naming it. */
    static const struct {
        enum decoder_kind kind;
        const char *name;
        uint8_t magic[16];
        size_t len;
    } k[] = {
        {DECODER_XZ, "xz", {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 4}, 8},
        {DECODER_ZSTD, "zstd", {0x28, 0xb5, 0x2f, 0xfd, 0x24, 0, 1}, 7},
        {DECODER_BZIP2, "bzip2", "BZh91AY&SY....", 14},
        {DECODER_LZ4, "lz4", {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7}, 7},
    };
    int missing = 0;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (decoder_built_in(k[i].kind)) {
            /* built in: a header alone is a truncated stream */
            expect_error(k[i].magic, k[i].len, RZ_E_DECODE_TRUNCATED, NULL);
            continue;
        }
        missing++;
        expect_error(k[i].magic, k[i].len, RZ_E_DECODE_NOT_BUILT, k[i].name);
    }
    CHECK(decoder_built_in(DECODER_GZIP));
    CHECK(decoder_built_in(DECODER_COMPRESS));
    CHECK(decoder_built_in(DECODER_IDENTITY));
#if defined(RZ_HAVE_LZMA) && defined(RZ_HAVE_ZSTD) && defined(RZ_HAVE_BZIP2) \
    && defined(RZ_HAVE_LZ4)
    CHECK_EQ_INT(missing, 0);
#else
    CHECK(missing > 0);
#endif
}

static void test_downstream_error_is_sticky(void)
{
    struct buf data = {0};
    tar_header(&data, "f", 3 * DECODER_OUT_SIZE, true);
    fill(&data, 3 * DECODER_OUT_SIZE, 11, true);
    struct run r;
    run_start(&r);
    r.sink.fail_at_call = 2;
    CHECK_EQ_INT(decoder_push(&r.d, data.p, data.len), -1);
    CHECK_EQ_INT(r.err.code, RZ_E_LIMIT_SIZE);
    CHECK_EQ_INT(r.sink.calls, 2);
    CHECK_EQ_INT(decoder_push(&r.d, data.p, data.len), -1);
    CHECK_EQ_INT(decoder_finish(&r.d), -1);
    CHECK_EQ_INT(r.sink.calls, 2);
    run_end(&r);

    /* A decoder error is sticky too. */
    static const uint8_t bad[] = {0x1f, 0x8b, 0x09, 0, 0, 0, 0, 0, 0, 3};
    run_start(&r);
    CHECK_EQ_INT(decoder_push(&r.d, bad, sizeof bad), -1);
    enum rz_code first = r.err.code;
    CHECK_EQ_INT(decoder_push(&r.d, data.p, data.len), -1);
    CHECK_EQ_INT(decoder_finish(&r.d), -1);
    CHECK_EQ_INT(r.err.code, first);
    CHECK_EQ_INT(r.sink.calls, 0);
    run_end(&r);
    free(data.p);
}

/* decoder_free on a zeroed struct, after init, after a started backend, and
 * twice: all release everything (the ASan run checks for leaks). */
static void test_free_in_every_state(void)
{
    struct decoder d;
    memset(&d, 0, sizeof d);
    decoder_free(&d);
    CHECK(d.outbuf == NULL && d.be == NULL);

    struct rz_error err;
    rz_error_clear(&err);
    struct sink s = {0};
    s.err = &err;
    CHECK_EQ_INT(decoder_init(&d, sink_push, &s, &err), 0);
    CHECK(d.outbuf != NULL);
    static const uint8_t gz2[] = {0x1f, 0x8b, 0x08, 0};
    CHECK_EQ_INT(decoder_push(&d, gz2, sizeof gz2), 0);
    CHECK(d.be != NULL && d.state != NULL);
    decoder_free(&d);
    CHECK(d.outbuf == NULL && d.be == NULL && d.state == NULL);
    decoder_free(&d);
    free(s.got.p);
}

int main(void)
{
    for (int e = 0; e < 2; e++) {
        engine = e ? DECODER_GZIP_ISAL : DECODER_GZIP_ZLIB;
        if (e && !decoder_gzip_engine_built_in(engine)) {
            printf("SKIP gzip tests under ISA-L: not built in\n");
            break;
        }
        printf("# gzip engine: %s\n", e ? "isa-l" : "zlib");
        RUN(test_gzip_random_and_compressible);
        RUN(test_gzip_big_output_from_small_input);
        RUN(test_gzip_multi_member);
        RUN(test_gzip_every_split_small);
        RUN(test_gzip_truncated_everywhere);
        RUN(test_crc_and_length_trailer);
        RUN(test_corrupt_deflate_data);
        RUN(test_trailing_bytes);
    }
    engine = DECODER_GZIP_DEFAULT;
    RUN(test_engines_agree_on_fixtures);
    RUN(test_engines_agree_truncated_and_corrupted);
    RUN(test_every_backend_decodes);
    RUN(test_every_backend_every_split);
    RUN(test_every_backend_truncated_everywhere);
    RUN(test_every_backend_corrupted_everywhere);
    RUN(test_every_backend_trailing_garbage);
    RUN(test_every_backend_concatenated);
    RUN(test_every_backend_downstream_error);
    RUN(test_every_backend_into_lent_windows);
    RUN(test_xz_limits_and_padding);
    RUN(test_zstd_window_limit);
    RUN(test_skippable_frame_first);
    RUN(test_compress_every_width);
    RUN(test_tar_names_that_look_like_magic);
    RUN(test_identity_passthrough);
    RUN(test_short_input);
    RUN(test_rejections_name_what_was_seen);
    RUN(test_not_built_in);
    RUN(test_downstream_error_is_sticky);
    RUN(test_free_in_every_state);
    return check_summary();
}
