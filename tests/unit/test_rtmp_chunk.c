/*
 * test_rtmp_chunk.c -- the chunk stream reader and writer against byte-exact
 * vectors built from the spec (Adobe RTMP 1.0, 5.3), caps, errors, and
 * "byte at a time == whole".
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "proto/rtmp_chunk.h"
#include "compat.h"

#define MAX_MSGS 64

struct got_msg {
    uint32_t csid, stream_id, ts, len;
    uint8_t type;
    int64_t ts64;
    uint8_t payload[8192];
};

struct collected {
    int n;
    struct got_msg m[MAX_MSGS];
    long err;
};

/* Feeds buf in pieces of step bytes (0 = all at once); collects messages. */
static void
feed(struct rtmp_chunk_reader *r, const uint8_t *buf, size_t len, size_t step, struct collected *c)
{
    size_t off = 0;

    memset(c, 0, sizeof(*c));
    while (off < len) {
        size_t piece = step == 0 ? len - off : (len - off < step ? len - off : step);
        const uint8_t *p = buf + off;
        size_t left = piece;

        while (left > 0) {
            struct rtmp_msg m;
            long n = rtmp_chunk_parse(r, p, left, &m);

            rtmp_chunk_reader_check(r);
            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                c->err = n;
                return;
            }
            assert_true(n > 0 && (size_t)n <= left);
            assert_true(c->n < MAX_MSGS);
            c->m[c->n].csid = m.csid;
            c->m[c->n].stream_id = m.stream_id;
            c->m[c->n].ts = m.timestamp;
            c->m[c->n].ts64 = m.timestamp64;
            c->m[c->n].len = m.len;
            c->m[c->n].type = m.type;
            assert_true(m.len <= sizeof(c->m[0].payload));
            memcpy(c->m[c->n].payload, m.payload, m.len);
            c->n++;
            p += n;
            left -= (size_t)n;
        }
        off += piece;
    }
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* A builder for hand-made chunk streams. */
struct wire {
    uint8_t b[65536];
    size_t n;
};

static void
w_bytes(struct wire *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void
w_u8(struct wire *w, uint32_t v)
{
    uint8_t b = (uint8_t)v;
    w_bytes(w, &b, 1);
}

static void
w_be24(struct wire *w, uint32_t v)
{
    w_u8(w, v >> 16);
    w_u8(w, v >> 8);
    w_u8(w, v);
}

static void
w_be32(struct wire *w, uint32_t v)
{
    w_u8(w, v >> 24);
    w_be24(w, v);
}

static void
w_le32(struct wire *w, uint32_t v)
{
    w_u8(w, v);
    w_u8(w, v >> 8);
    w_u8(w, v >> 16);
    w_u8(w, v >> 24);
}

/* Type 0 header for csid < 64. */
static void
w_type0(struct wire *w, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type, uint32_t msid)
{
    w_u8(w, csid);
    w_be24(w, ts >= 0xffffff ? 0xffffff : ts);
    w_be24(w, len);
    w_u8(w, type);
    w_le32(w, msid);
    if (ts >= 0xffffff)
        w_be32(w, ts);
}

static void
init_reader(struct rtmp_chunk_reader *r)
{
    rtmp_chunk_reader_init(r, NULL);
    rtmp_chunk_reader_check(r);
}

/* SPEC: 5.3.2.1 example 1 -- four audio messages: type 0, 2, 3, 3. */
static void
test_spec_example1(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[32];
    int i;
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 1);
    w_type0(w, 3, 1000, 32, 8, 12345);
    w_bytes(w, pl, 32);
    w_u8(w, 0x80 | 3); /* type 2: delta 20 */
    w_be24(w, 20);
    w_bytes(w, pl, 32);
    w_u8(w, 0xc0 | 3); /* type 3: new message, same delta */
    w_bytes(w, pl, 32);
    w_u8(w, 0xc0 | 3);
    w_bytes(w, pl, 32);
    assert_int_equal(12 + 32 + 4 + 32 + 1 + 32 + 1 + 32, w->n);

    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(4, c->n);
    for (i = 0; i < 4; i++) {
        assert_int_equal(3, c->m[i].csid);
        assert_int_equal(8, c->m[i].type);
        assert_int_equal(12345, c->m[i].stream_id);
        assert_int_equal(32, c->m[i].len);
        assert_int_equal(1000 + 20 * i, c->m[i].ts);
        assert_int_equal(1000 + 20 * i, c->m[i].ts64);
        assert_memory_equal(pl, c->m[i].payload, 32);
    }
    assert_int_equal(w->n, r.bytes_in);
    rtmp_chunk_reader_fini(&r);
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

/* SPEC: 5.3.2.2 example 2 -- one 307-byte message in chunks of 128. */
static void
test_spec_example2(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[307];
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 9);
    w_type0(w, 4, 1000, 307, 9, 12346);
    w_bytes(w, pl, 128);
    w_u8(w, 0xc0 | 4);
    w_bytes(w, pl + 128, 128);
    w_u8(w, 0xc0 | 4);
    w_bytes(w, pl + 256, 51);

    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(1, c->n);
    assert_int_equal(307, c->m[0].len);
    assert_int_equal(9, c->m[0].type);
    assert_int_equal(1000, c->m[0].ts);
    assert_memory_equal(pl, c->m[0].payload, 307);
    rtmp_chunk_reader_fini(&r);

    /* The writer produces exactly these bytes. */
    {
        struct rtmp_chunk_writer wr;
        uint8_t out[512];
        long n;

        rtmp_chunk_writer_init(&wr);
        assert_int_equal(w->n, rtmp_chunk_write_size(&wr, 4, 1000, 307));
        n = rtmp_chunk_write(&wr, 4, 9, 12346, 1000, pl, 307, out, sizeof(out));
        assert_int_equal(w->n, n);
        assert_memory_equal(w->b, out, w->n);
        assert_int_equal(ERR_LIMIT,
                         rtmp_chunk_write(&wr, 4, 9, 12346, 1000, pl, 307, out, w->n - 1));
        assert_int_equal(ERR_INVAL, rtmp_chunk_write(&wr, 1, 9, 0, 0, pl, 3, out, sizeof(out)));
    }
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

static void
test_basic_header_forms(void **state)
{
    static const uint32_t csids[] = {2, 63, 64, 319, 320, 65599};
    struct rtmp_chunk_reader r;
    struct rtmp_chunk_writer wr;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[300];
    size_t i;
    long n;
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 3);
    rtmp_chunk_writer_init(&wr);
    for (i = 0; i < ARRAY_SIZE(csids); i++) {
        n = rtmp_chunk_write(&wr, csids[i], 20, 0, (uint32_t)i, pl, 200, w->b + w->n,
                             sizeof(w->b) - w->n);
        assert_true(n > 0);
        w->n += (size_t)n;
    }
    /* Byte-exact forms: 64 -> 00 00, 319 -> 00 ff, 320 -> 01 00 01, 65599 -> 01 ff ff. */
    {
        uint8_t o[400];
        assert_true(rtmp_chunk_write(&wr, 64, 20, 0, 0, pl, 1, o, sizeof(o)) > 0);
        assert_int_equal(0x00, o[0]);
        assert_int_equal(0x00, o[1]);
        assert_true(rtmp_chunk_write(&wr, 319, 20, 0, 0, pl, 1, o, sizeof(o)) > 0);
        assert_int_equal(0xff, o[1]);
        assert_true(rtmp_chunk_write(&wr, 320, 20, 0, 0, pl, 1, o, sizeof(o)) > 0);
        assert_int_equal(0x01, o[0]);
        assert_int_equal(0x00, o[1]);
        assert_int_equal(0x01, o[2]);
        assert_true(rtmp_chunk_write(&wr, 65599, 20, 0, 0, pl, 130, o, sizeof(o)) > 0);
        assert_int_equal(0x01, o[0]);
        assert_int_equal(0xff, o[1]);
        assert_int_equal(0xff, o[2]);
        assert_int_equal(0xc1, o[3 + 11 + 128]); /* continuation: type 3, 3-byte form */
    }
    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal((int)ARRAY_SIZE(csids), c->n);
    for (i = 0; i < ARRAY_SIZE(csids); i++) {
        assert_int_equal(csids[i], c->m[i].csid);
        assert_int_equal(200, c->m[i].len);
        assert_int_equal(i, c->m[i].ts);
        assert_memory_equal(pl, c->m[i].payload, 200);
    }
    rtmp_chunk_reader_fini(&r);
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

/* Interleaved messages on two chunk streams, a chunk size change, types 0-3. */
static void
build_interleaved(struct wire *w)
{
    uint8_t v[300], a[201];

    fill(v, sizeof(v), 50);
    fill(a, sizeof(a), 80);
    /* video 300 bytes on csid 6 and audio 200 on csid 4, chunks of 128, interleaved */
    w_type0(w, 6, 0, 300, 9, 1);
    w_bytes(w, v, 128);
    w_type0(w, 4, 0, 200, 8, 1);
    w_bytes(w, a, 128);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, v + 128, 128);
    w_u8(w, 0xc0 | 4);
    w_bytes(w, a + 128, 72);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, v + 256, 44);
    /* Set Chunk Size 4096 on csid 2 */
    w_type0(w, 2, 0, 4, 1, 0);
    w_be32(w, 4096);
    /* type 1: video delta 33, new length 250, then type 2: audio delta 23 */
    w_u8(w, 0x40 | 6);
    w_be24(w, 33);
    w_be24(w, 250);
    w_u8(w, 9);
    w_bytes(w, v, 250);
    w_u8(w, 0x80 | 4);
    w_be24(w, 23);
    w_bytes(w, a, 200);
    /* type 3 new messages reuse the deltas */
    w_u8(w, 0xc0 | 6);
    w_bytes(w, v + 1, 250);
    w_u8(w, 0xc0 | 4);
    w_bytes(w, a + 1, 200);
    /* a zero-length data message */
    w_type0(w, 5, 7, 0, 18, 1);
}

static void
test_interleaved_and_bytewise(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *whole = test_malloc(sizeof(*whole)), *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    size_t steps[] = {1, 2, 3, 7, 13, 128, 129};
    size_t i;
    int k;
    int64_t live = mem_live();

    (void)state;
    build_interleaved(w);
    init_reader(&r);
    feed(&r, w->b, w->n, 0, whole);
    assert_int_equal(0, whole->err);
    assert_int_equal(8, whole->n);
    assert_int_equal(4, whole->m[0].csid); /* audio finishes first */
    assert_int_equal(200, whole->m[0].len);
    assert_int_equal(6, whole->m[1].csid);
    assert_int_equal(1, whole->m[2].type); /* set chunk size is returned too */
    assert_int_equal(4096, r.chunk_size);
    assert_int_equal(33, whole->m[3].ts);
    assert_int_equal(250, whole->m[3].len);
    assert_int_equal(23, whole->m[4].ts);
    assert_int_equal(66, whole->m[5].ts);
    assert_int_equal(46, whole->m[6].ts);
    assert_int_equal(0, whole->m[7].len);
    assert_int_equal(7, whole->m[7].ts);
    rtmp_chunk_reader_fini(&r);

    for (i = 0; i < ARRAY_SIZE(steps); i++) {
        init_reader(&r);
        feed(&r, w->b, w->n, steps[i], c);
        assert_int_equal(0, c->err);
        assert_int_equal(whole->n, c->n);
        for (k = 0; k < c->n; k++) {
            assert_int_equal(whole->m[k].csid, c->m[k].csid);
            assert_int_equal(whole->m[k].type, c->m[k].type);
            assert_int_equal(whole->m[k].ts, c->m[k].ts);
            assert_int_equal(whole->m[k].len, c->m[k].len);
            assert_memory_equal(whole->m[k].payload, c->m[k].payload, c->m[k].len);
        }
        assert_int_equal(w->n, r.bytes_in);
        rtmp_chunk_reader_fini(&r);
    }
    test_free(whole);
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

static void
test_extended_timestamp(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[300];
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 5);
    /* type 0 with ts 0x1000000: extended; continuation chunks repeat it */
    w_type0(w, 6, 0x1000000, 300, 9, 1);
    w_bytes(w, pl, 128);
    w_u8(w, 0xc0 | 6);
    w_be32(w, 0x1000000);
    w_bytes(w, pl + 128, 128);
    w_u8(w, 0xc0 | 6);
    w_be32(w, 0x1000000);
    w_bytes(w, pl + 256, 44);
    /* type 3 new message after an extended header: the 4 bytes are its delta */
    w_u8(w, 0xc0 | 6);
    w_be32(w, 0x1000000);
    w_bytes(w, pl, 128);
    w_u8(w, 0xc0 | 6);
    w_be32(w, 0x1000000);
    w_bytes(w, pl + 128, 128);
    w_u8(w, 0xc0 | 6);
    w_be32(w, 0x1000000);
    w_bytes(w, pl + 256, 44);
    /* type 1 with an extended delta of 0xffffff, 10 bytes */
    w_u8(w, 0x40 | 6);
    w_be24(w, 0xffffff);
    w_be24(w, 10);
    w_u8(w, 9);
    w_be32(w, 0xffffff);
    w_bytes(w, pl, 10);
    /* type 2 with a small delta: no extended field any more */
    w_u8(w, 0x80 | 6);
    w_be24(w, 40);
    w_bytes(w, pl, 10);
    /* type 3 continuation chunks now carry no extended field */
    w_u8(w, 0xc0 | 6);
    w_bytes(w, pl, 10);

    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(5, c->n);
    assert_int_equal(0x1000000, c->m[0].ts);
    assert_memory_equal(pl, c->m[0].payload, 300);
    assert_int_equal(0x2000000, c->m[1].ts);
    assert_memory_equal(pl, c->m[1].payload, 300);
    assert_int_equal(0x2000000 + 0xffffff, c->m[2].ts);
    assert_int_equal(0x2000000 + 0xffffff + 40, c->m[3].ts);
    assert_int_equal(0x2000000 + 0xffffff + 80, c->m[4].ts);
    assert_int_equal(0, r.ext_ts_missing);
    rtmp_chunk_reader_fini(&r);

    /* Byte at a time gives the same. */
    {
        struct collected *b = test_malloc(sizeof(*b));
        init_reader(&r);
        feed(&r, w->b, w->n, 1, b);
        assert_int_equal(c->n, b->n);
        assert_int_equal(c->m[4].ts, b->m[4].ts);
        rtmp_chunk_reader_fini(&r);
        test_free(b);
    }
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

/* An encoder that leaves the extended timestamp out of continuation chunks. */
static void
test_extended_timestamp_missing(void **state)
{
    struct rtmp_chunk_reader r;
    struct rtmp_chunk_limits lim = rtmp_chunk_default_limits;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[300];
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 77);
    w_type0(w, 6, 0x2000000, 300, 9, 1);
    w_bytes(w, pl, 128);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, pl + 128, 128);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, pl + 256, 44);

    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(1, c->n);
    assert_memory_equal(pl, c->m[0].payload, 300);
    assert_int_equal(2, r.ext_ts_missing);
    rtmp_chunk_reader_fini(&r);

    /* Strict mode takes the first four payload bytes as the timestamp. */
    lim.strict_ext_ts = true;
    rtmp_chunk_reader_init(&r, &lim);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->n);
    rtmp_chunk_reader_fini(&r);
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

static void
test_timestamp_wrap(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    int64_t live = mem_live();

    (void)state;
    w_type0(w, 6, 0xfffffff0U, 1, 9, 1);
    w_u8(w, 0xaa);
    w_u8(w, 0x80 | 6); /* delta 0x20 crosses 2^32 */
    w_be24(w, 0x20);
    w_u8(w, 0xbb);
    w_type0(w, 6, 0x50, 1, 9, 1); /* absolute after the wrap */
    w_u8(w, 0xcc);
    w_type0(w, 6, 0x40, 1, 9, 1); /* a small step back */
    w_u8(w, 0xdd);

    init_reader(&r);
    feed(&r, w->b, w->n, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(4, c->n);
    assert_int_equal(0xfffffff0U, c->m[0].ts);
    assert_int_equal(0xfffffff0LL, c->m[0].ts64);
    assert_int_equal(0x10, c->m[1].ts);
    assert_int_equal(0x100000010LL, c->m[1].ts64);
    assert_int_equal(0x50, c->m[2].ts);
    assert_int_equal(0x100000050LL, c->m[2].ts64);
    assert_int_equal(0x100000040LL, c->m[3].ts64);
    rtmp_chunk_reader_fini(&r);
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

static long
feed_one(struct rtmp_chunk_reader *r, const struct wire *w)
{
    struct collected *c = test_malloc(sizeof(*c));
    long err;

    feed(r, w->b, w->n, 0, c);
    err = c->err;
    test_free(c);
    return err;
}

static void
test_set_chunk_size(void **state)
{
    static const uint32_t bad[] = {0, 0x80000000U, 0xffffffffU};
    struct rtmp_chunk_reader r;
    struct wire *w = test_calloc(1, sizeof(*w));
    struct rtmp_chunk_writer wr;
    uint8_t out[64];
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        w->n = 0;
        w_type0(w, 2, 0, 4, 1, 0);
        w_be32(w, bad[i]);
        init_reader(&r);
        assert_int_equal(ERR_PROTO, feed_one(&r, w));
        assert_int_equal(RTMP_CHUNK_DEFAULT_SIZE, r.chunk_size);
        /* The header was fine and is committed; the bad payload is not. */
        assert_int_equal(12, r.bytes_in);
        assert_int_equal(12, r.error_at);
        rtmp_chunk_reader_check(&r);
        rtmp_chunk_reader_fini(&r);
    }
    /* 2^31 - 1 is valid but over the 16 MiB cap. */
    w->n = 0;
    w_type0(w, 2, 0, 4, 1, 0);
    w_be32(w, 0x7fffffff);
    init_reader(&r);
    assert_int_equal(ERR_LIMIT, feed_one(&r, w));
    rtmp_chunk_reader_fini(&r);
    /* A short payload. */
    w->n = 0;
    w_type0(w, 2, 0, 3, 1, 0);
    w_u8(w, 0);
    w_u8(w, 0);
    w_u8(w, 1);
    init_reader(&r);
    assert_int_equal(ERR_PROTO, feed_one(&r, w));
    rtmp_chunk_reader_fini(&r);

    /* Writer: byte-exact Set Chunk Size 4096, then switches its own size. */
    rtmp_chunk_writer_init(&wr);
    {
        static const uint8_t exp[] = {0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0, 0, 0, 0x10, 0};
        assert_int_equal(sizeof(exp), rtmp_chunk_write_set_chunk_size(&wr, 4096, out, sizeof(out)));
        assert_memory_equal(exp, out, sizeof(exp));
        assert_int_equal(4096, wr.chunk_size);
        assert_int_equal(ERR_INVAL, rtmp_chunk_write_set_chunk_size(&wr, 0, out, sizeof(out)));
        assert_int_equal(ERR_INVAL,
                         rtmp_chunk_write_set_chunk_size(&wr, 0x80000000U, out, sizeof(out)));
    }
    test_free(w);
    UNIT_END(live);
}

static void
test_abort_and_ack(void **state)
{
    struct rtmp_chunk_reader r;
    struct collected *c = test_malloc(sizeof(*c));
    struct wire *w = test_calloc(1, sizeof(*w));
    uint8_t pl[301];
    int64_t live = mem_live();

    (void)state;
    fill(pl, sizeof(pl), 11);
    w_type0(w, 2, 0, 4, 5, 0); /* Window Ack Size 400 */
    w_be32(w, 400);
    w_type0(w, 6, 0, 300, 9, 1);
    w_bytes(w, pl, 128);
    w_type0(w, 2, 0, 4, 2, 0); /* Abort csid 6 */
    w_be32(w, 6);
    w_u8(w, 0xc0 | 6); /* type 3 now starts a new 300-byte message */
    w_bytes(w, pl + 1, 128);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, pl + 1 + 128, 128);
    w_u8(w, 0xc0 | 6);
    w_bytes(w, pl + 1 + 256, 44);

    init_reader(&r);
    feed(&r, w->b, 16, 0, c); /* the window message alone */
    assert_int_equal(1, c->n);
    assert_int_equal(400, r.ack_window);
    assert_false(rtmp_chunk_ack_due(&r));
    feed(&r, w->b + 16, w->n - 16, 0, c);
    assert_int_equal(0, c->err);
    assert_int_equal(2, c->n);
    assert_int_equal(2, c->m[0].type);
    assert_int_equal(300, c->m[1].len);
    assert_memory_equal(pl + 1, c->m[1].payload, 300);
    assert_true(rtmp_chunk_ack_due(&r));
    assert_int_equal(w->n, rtmp_chunk_ack_take(&r));
    assert_false(rtmp_chunk_ack_due(&r));
    rtmp_chunk_reader_fini(&r);

    /* Writers for the control messages, byte-exact. */
    {
        struct rtmp_chunk_writer wr;
        uint8_t out[32];
        static const uint8_t ack[] = {2, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0x26, 0x25, 0xa0};
        static const uint8_t bw[] = {2, 0, 0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0x26, 0x25, 0xa0, 2};
        static const uint8_t sb[] = {2, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

        rtmp_chunk_writer_init(&wr);
        assert_int_equal(sizeof(ack), rtmp_chunk_write_control32(&wr, RTMP_MSG_WINDOW_ACK_SIZE,
                                                                 2500000, out, sizeof(out)));
        assert_memory_equal(ack, out, sizeof(ack));
        assert_int_equal(sizeof(bw),
                         rtmp_chunk_write_set_peer_bw(&wr, 2500000, 2, out, sizeof(out)));
        assert_memory_equal(bw, out, sizeof(bw));
        assert_int_equal(sizeof(sb), rtmp_chunk_write_user_control(&wr, RTMP_UC_STREAM_BEGIN, 1,
                                                                   out, sizeof(out)));
        assert_memory_equal(sb, out, sizeof(sb));
        assert_int_equal(ERR_INVAL, rtmp_chunk_write_control32(&wr, 9, 1, out, sizeof(out)));
    }
    test_free(c);
    test_free(w);
    UNIT_END(live);
}

static void
test_control_parse(void **state)
{
    struct rtmp_control ctl;
    struct rtmp_msg m = {0};
    uint8_t p[10] = {0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8};
    int64_t live = mem_live();

    (void)state;
    m.payload = p;
    m.type = RTMP_MSG_USER_CONTROL;
    m.len = 10;
    assert_int_equal(0, rtmp_control_parse(&m, &ctl));
    assert_int_equal(RTMP_UC_SET_BUFFER_LENGTH, ctl.event);
    assert_int_equal(1, ctl.event_data);
    assert_int_equal(3000, ctl.event_data2);
    m.len = 6;
    assert_int_equal(ERR_PROTO, rtmp_control_parse(&m, &ctl));
    p[1] = RTMP_UC_PING_REQUEST;
    assert_int_equal(0, rtmp_control_parse(&m, &ctl));
    assert_int_equal(RTMP_UC_PING_REQUEST, ctl.event);
    assert_int_equal(1, ctl.event_data);
    m.len = 1;
    assert_int_equal(ERR_PROTO, rtmp_control_parse(&m, &ctl));
    m.type = RTMP_MSG_SET_PEER_BW;
    m.len = 5;
    p[4] = 1;
    assert_int_equal(0, rtmp_control_parse(&m, &ctl));
    assert_int_equal(1, ctl.limit_type);
    p[4] = 3;
    assert_int_equal(ERR_PROTO, rtmp_control_parse(&m, &ctl));
    m.type = RTMP_MSG_VIDEO;
    assert_int_equal(ERR_INVAL, rtmp_control_parse(&m, &ctl));
    UNIT_END(live);
}

static void
test_errors_and_caps(void **state)
{
    struct rtmp_chunk_reader r;
    struct rtmp_chunk_limits lim = rtmp_chunk_default_limits;
    struct wire *w = test_calloc(1, sizeof(*w));
    struct rtmp_msg m;
    uint8_t pl[64];
    uint32_t i;
    int64_t live = mem_live();

    (void)state;
    memset(pl, 0, sizeof(pl));
    /* Garbage: an HTTP request on the RTMP port after the handshake. */
    init_reader(&r);
    assert_int_equal(ERR_PROTO,
                     rtmp_chunk_parse(&r, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, &m));
    assert_int_equal(0, r.error_at);
    rtmp_chunk_reader_check(&r);
    /* Sticky. */
    assert_int_equal(ERR_PROTO, rtmp_chunk_parse(&r, pl, 1, &m));
    rtmp_chunk_reader_fini(&r);

    /* Type 1 on a chunk stream never opened. */
    w->n = 0;
    w_u8(w, 0x40 | 5);
    w_be24(w, 0);
    w_be24(w, 1);
    w_u8(w, 9);
    init_reader(&r);
    assert_int_equal(ERR_PROTO, feed_one(&r, w));
    rtmp_chunk_reader_fini(&r);

    /* Message length over the cap (8 MiB default). */
    w->n = 0;
    w_type0(w, 6, 0, (8u << 20) + 1, 9, 1);
    init_reader(&r);
    assert_int_equal(ERR_LIMIT, feed_one(&r, w));
    rtmp_chunk_reader_fini(&r);

    /* A new header while a message is incomplete. */
    w->n = 0;
    w_type0(w, 6, 0, 200, 9, 1);
    w_bytes(w, pl, 64);
    w_bytes(w, pl, 64);
    w_type0(w, 6, 0, 200, 9, 1);
    init_reader(&r);
    assert_int_equal(ERR_PROTO, feed_one(&r, w));
    assert_int_equal(12 + 128, r.error_at);
    rtmp_chunk_reader_fini(&r);

    /* Too many chunk streams. */
    lim.max_streams = 4;
    rtmp_chunk_reader_init(&r, &lim);
    w->n = 0;
    for (i = 0; i < 5; i++) {
        w_type0(w, 3 + i, 0, 1, 20, 0);
        w_u8(w, 5);
    }
    assert_int_equal(ERR_LIMIT, feed_one(&r, w));
    assert_int_equal(4, r.nstreams);
    rtmp_chunk_reader_fini(&r);

    /* Reassembly buffers together over their cap. */
    lim = rtmp_chunk_default_limits;
    lim.max_buffered = 6000;
    rtmp_chunk_reader_init(&r, &lim);
    w->n = 0;
    w_type0(w, 2, 0, 4, 1, 0);
    w_be32(w, 8000);
    w_type0(w, 6, 0, 9000, 9, 1);
    for (i = 0; i < 9000 / 64 + 1; i++)
        w_bytes(w, pl, 64);
    assert_int_equal(ERR_LIMIT, feed_one(&r, w));
    rtmp_chunk_reader_check(&r);
    rtmp_chunk_reader_fini(&r);
    test_free(w);
    UNIT_END(live);
}

/* Writer -> reader round trip over sizes, chunk sizes and timestamps. */
static void
test_writer_round_trip(void **state)
{
    static const uint32_t sizes[] = {0, 1, 127, 128, 129, 4096, 5000};
    static const uint32_t chunk_sizes[] = {1, 128, 4096, 60000};
    static const uint32_t stamps[] = {0, 40, 0xfffffe, 0xffffff, 0x12345678};
    struct rtmp_chunk_writer wr;
    struct rtmp_chunk_reader r;
    uint8_t *pl = test_malloc(5000), *out = test_malloc(64 * 1024);
    size_t a, b, c;
    int64_t live = mem_live();

    (void)state;
    fill(pl, 5000, 21);
    for (a = 0; a < ARRAY_SIZE(chunk_sizes); a++) {
        for (b = 0; b < ARRAY_SIZE(sizes); b++) {
            for (c = 0; c < ARRAY_SIZE(stamps); c++) {
                struct rtmp_msg m;
                long n, pre = 0, k;

                rtmp_chunk_writer_init(&wr);
                init_reader(&r);
                if (chunk_sizes[a] != 128) {
                    pre = rtmp_chunk_write_set_chunk_size(&wr, chunk_sizes[a], out, 64 * 1024);
                    assert_true(pre > 0);
                }
                n = rtmp_chunk_write(&wr, 300, 9, 7, stamps[c], pl, sizes[b], out + pre,
                                     64 * 1024 - (size_t)pre);
                assert_true(n > 0);
                k = pre > 0 ? rtmp_chunk_parse(&r, out, (size_t)pre, &m) : 0;
                assert_int_equal(pre, k);
                k = rtmp_chunk_parse(&r, out + pre, (size_t)n, &m);
                assert_int_equal(n, k);
                assert_int_equal(sizes[b], m.len);
                assert_int_equal(stamps[c], m.timestamp);
                assert_int_equal(7, m.stream_id);
                assert_int_equal(300, m.csid);
                if (sizes[b] > 0)
                    assert_memory_equal(pl, m.payload, sizes[b]);
                rtmp_chunk_reader_check(&r);
                rtmp_chunk_reader_fini(&r);
            }
        }
    }
    test_free(pl);
    test_free(out);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example1),
        cmocka_unit_test(test_spec_example2),
        cmocka_unit_test(test_basic_header_forms),
        cmocka_unit_test(test_interleaved_and_bytewise),
        cmocka_unit_test(test_extended_timestamp),
        cmocka_unit_test(test_extended_timestamp_missing),
        cmocka_unit_test(test_timestamp_wrap),
        cmocka_unit_test(test_set_chunk_size),
        cmocka_unit_test(test_abort_and_ack),
        cmocka_unit_test(test_control_parse),
        cmocka_unit_test(test_errors_and_caps),
        cmocka_unit_test(test_writer_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
