/*
 * test_rtmp_session.c -- the publish session driven by the command sequence
 * OBS (librtmp) sends, with the server's replies checked message by
 * message; timestamp normalization; refusals and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "proto/rtmp_session.h"
#include "compat.h"

/* ---- a tiny client: builds what an encoder puts on the wire ---- */

struct client {
    uint8_t *b;
    size_t n, cap;
    uint32_t chunk_size;
};

static void
cl_init(struct client *c)
{
    c->cap = 1 << 20;
    c->b = test_malloc(c->cap);
    c->n = 0;
    c->chunk_size = 128;
}

static void
cl_put(struct client *c, const void *p, size_t n)
{
    assert_true(c->n + n <= c->cap);
    memcpy(c->b + c->n, p, n);
    c->n += n;
}

static void
cl_u8(struct client *c, uint32_t v)
{
    uint8_t b = (uint8_t)v;
    cl_put(c, &b, 1);
}

static void
cl_be24(struct client *c, uint32_t v)
{
    cl_u8(c, v >> 16);
    cl_u8(c, v >> 8);
    cl_u8(c, v);
}

/* C0 C1 C2 of a simple-handshake client (librtmp without SWF verification). */
static void
cl_handshake(struct client *c)
{
    uint8_t c1[RTMP_HANDSHAKE_SIZE];
    size_t i;

    for (i = 0; i < sizeof(c1); i++)
        c1[i] = (uint8_t)(i * 7 + 3);
    memset(c1, 0, 8);
    cl_u8(c, 3);
    cl_put(c, c1, sizeof(c1));
    cl_put(c, c1, sizeof(c1)); /* C2: content is not checked */
}

/*
 * One message on csid (< 64) with header type fmt (0, 1 or 2; ts is the
 * absolute time for 0, the delta otherwise), cut at the client chunk size.
 */
static void
cl_msg(struct client *c, uint32_t csid, int fmt, uint32_t ts, uint8_t type, uint32_t msid,
       const uint8_t *p, size_t len)
{
    size_t off = 0, k;

    cl_u8(c, (uint32_t)fmt << 6 | csid);
    cl_be24(c, ts);
    if (fmt <= 1) {
        cl_be24(c, (uint32_t)len);
        cl_u8(c, type);
    }
    if (fmt == 0)
        for (k = 0; k < 4; k++)
            cl_u8(c, msid >> (8 * k));
    for (;;) {
        size_t n = len - off < c->chunk_size ? len - off : c->chunk_size;
        cl_put(c, p + off, n);
        off += n;
        if (off >= len)
            break;
        cl_u8(c, 0xc0 | csid);
    }
}

static void
cl_amf(struct client *c, uint32_t csid, int fmt, uint8_t type, uint32_t msid,
       const struct amf0_out *o)
{
    cl_msg(c, csid, fmt, 0, type, msid, o->buf, o->len);
}

/* The commands OBS sends, header forms included (librtmp compresses to type 1). */
static void
cl_obs_commands(struct client *c, const char *key)
{
    uint8_t buf[512];
    struct amf0_out o;

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "connect");
    amf0_put_number(&o, 1);
    amf0_put_object_begin(&o);
    amf0_put_prop_string(&o, "app", "live");
    amf0_put_prop_string(&o, "type", "nonprivate");
    amf0_put_prop_string(&o, "flashVer", "FMLE/3.0 (compatible; FMSc/1.0)");
    amf0_put_prop_string(&o, "swfUrl", "rtmp://127.0.0.1:1935/live");
    amf0_put_prop_string(&o, "tcUrl", "rtmp://127.0.0.1:1935/live");
    amf0_put_object_end(&o);
    cl_amf(c, 3, 0, 20, 0, &o);

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "releaseStream");
    amf0_put_number(&o, 2);
    amf0_put_null(&o);
    amf0_put_string(&o, key);
    cl_amf(c, 3, 1, 20, 0, &o);

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "FCPublish");
    amf0_put_number(&o, 3);
    amf0_put_null(&o);
    amf0_put_string(&o, key);
    cl_amf(c, 3, 1, 20, 0, &o);

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "createStream");
    amf0_put_number(&o, 4);
    amf0_put_null(&o);
    cl_amf(c, 3, 1, 20, 0, &o);

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "publish");
    amf0_put_number(&o, 5);
    amf0_put_null(&o);
    amf0_put_string(&o, key);
    amf0_put_string(&o, "live");
    cl_amf(c, 4, 0, 20, 1, &o);
}

static void
cl_set_chunk_size(struct client *c, uint32_t n)
{
    uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

    cl_msg(c, 2, 0, 0, 1, 0, b, 4);
    c->chunk_size = n;
}

static void
cl_metadata(struct client *c)
{
    uint8_t buf[512];
    struct amf0_out o;

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, "@setDataFrame");
    amf0_put_string(&o, "onMetaData");
    amf0_put_ecma_begin(&o, 3);
    amf0_put_prop_number(&o, "width", 64);
    amf0_put_prop_number(&o, "height", 48);
    amf0_put_prop_string(&o, "encoder", "obs-output module (libobs version 30.0.0)");
    amf0_put_object_end(&o);
    cl_amf(c, 4, 0, 18, 1, &o);
}

static const uint8_t avc_seq[] = {0x17, 0,    0,    0,    0,    0x01, 0x42, 0xc0, 0x0a, 0xff, 0xe1,
                                  0x00, 0x15, 0x67, 0x42, 0xc0, 0x0a, 0xda, 0x11, 0xec, 0x04, 0x40,
                                  0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x05, 0x03, 0xc4, 0x89,
                                  0xa8, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};
static const uint8_t aac_seq[] = {0xaf, 0x00, 0x12, 0x08};

static void
cl_video(struct client *c, int fmt, uint32_t ts, bool key, size_t len)
{
    uint8_t f[600];

    assert_true(len <= sizeof(f) && len >= 5);
    memset(f, 0x11, len);
    f[0] = key ? 0x17 : 0x27;
    f[1] = 1;
    f[2] = f[3] = f[4] = 0;
    cl_msg(c, 6, fmt, ts, 9, 1, f, len);
}

static void
cl_audio(struct client *c, int fmt, uint32_t ts)
{
    uint8_t f[20];

    memset(f, 0x22, sizeof(f));
    f[0] = 0xaf;
    f[1] = 1;
    cl_msg(c, 5, fmt, ts, 8, 1, f, sizeof(f));
}

static void
cl_command(struct client *c, const char *name, double txn, bool with_num, double num)
{
    uint8_t buf[256];
    struct amf0_out o;

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_string(&o, name);
    amf0_put_number(&o, txn);
    amf0_put_null(&o);
    if (with_num)
        amf0_put_number(&o, num);
    else
        amf0_put_string(&o, "key");
    cl_amf(c, 3, 0, 20, 0, &o);
}

/* ---- driving the session ---- */

#define MAX_EV 128

struct run {
    int nev;
    enum rtmp_session_event_type type[MAX_EV];
    int64_t dts[MAX_EV];
    uint32_t len[MAX_EV];
    uint8_t first[MAX_EV];
    char key[64];
    char app[64];
    long err;
    uint8_t *out; /* everything the server sent */
    size_t nout;
    const char *reject; /* reject publish with this code */
};

static void
drain(struct rtmp_session *s, struct run *r)
{
    size_t n;
    const uint8_t *o = rtmp_session_output(s, &n);

    if (o == NULL)
        return;
    assert_true(r->nout + n <= (1 << 20));
    memcpy(r->out + r->nout, o, n);
    r->nout += n;
    rtmp_session_output_consume(s, n);
    rtmp_session_check(s);
}

static void
run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->out = test_malloc(1 << 20);
}

static void
run_fini(struct run *r)
{
    test_free(r->out);
}

/* Feeds in pieces of step (0 = whole); accepts publish unless r->reject. */
static void
drive(struct rtmp_session *s, const uint8_t *p, size_t len, size_t step, struct run *r)
{
    size_t off = 0;

    while (off < len) {
        size_t piece = step == 0 || len - off < step ? len - off : step;
        const uint8_t *q = p + off;

        off += piece;
        while (piece > 0) {
            struct rtmp_session_event ev;
            long n = rtmp_session_feed(s, q, piece, &ev);

            rtmp_session_check(s);
            drain(s, r);
            if (n == ERR_AGAIN)
                break;
            if (n < 0) {
                r->err = n;
                return;
            }
            assert_true(n > 0 && (size_t)n <= piece);
            assert_true(r->nev < MAX_EV);
            r->type[r->nev] = ev.type;
            r->dts[r->nev] = ev.dts_ms;
            r->len[r->nev] = ev.len;
            r->first[r->nev] = ev.len > 0 ? ev.data[0] : 0;
            r->nev++;
            if (ev.type == RTMP_SEV_CONNECT)
                snprintf(r->app, sizeof(r->app), "%s", ev.app);
            if (ev.type == RTMP_SEV_PUBLISH) {
                snprintf(r->key, sizeof(r->key), "%s", ev.stream_key);
                assert_int_equal(ERR_INVAL, rtmp_session_feed(s, q, piece, &ev));
                if (r->reject != NULL)
                    assert_int_equal(0, rtmp_session_publish_reject(s, r->reject, "no"));
                else
                    assert_int_equal(0, rtmp_session_publish_accept(s));
                drain(s, r);
            }
            q += n;
            piece -= (size_t)n;
        }
    }
}

/* The server's output as the client reads it: S0 S1 S2, then messages. */
struct reply {
    uint8_t type;
    uint32_t msid;
    char name[32]; /* command name */
    double txn;
    char code[64];  /* onStatus / _result info code */
    uint32_t value; /* control value */
    double num;     /* 4th AMF value when a number */
};

static int
read_replies(const struct run *r, struct reply *out, int max)
{
    struct rtmp_chunk_reader rd;
    struct amf0_doc *d = test_malloc(sizeof(*d));
    size_t off = 1 + 2 * RTMP_HANDSHAKE_SIZE;
    int n = 0;

    assert_true(r->nout >= off);
    assert_int_equal(3, r->out[0]);
    rtmp_chunk_reader_init(&rd, NULL);
    amf0_doc_init(d, 0, 0);
    while (off < r->nout && n < max) {
        struct rtmp_msg m;
        long k = rtmp_chunk_parse(&rd, r->out + off, r->nout - off, &m);
        struct reply *e = &out[n];

        if (k == ERR_AGAIN)
            break;
        assert_true(k > 0);
        off += (size_t)k;
        memset(e, 0, sizeof(*e));
        e->type = m.type;
        e->msid = m.stream_id;
        if (m.type == RTMP_MSG_COMMAND_AMF0) {
            const struct amf0_node *info;
            assert_int_equal(m.len, amf0_doc_parse(d, m.payload, m.len));
            assert_true(amf0_node_cstr(d, amf0_doc_top(d, 0), e->name, sizeof(e->name)) > 0);
            (void)amf0_node_num(amf0_doc_top(d, 1), &e->txn);
            (void)amf0_node_num(amf0_doc_top(d, 3), &e->num);
            info = amf0_doc_top(d, 3);
            if (info != NULL && info->type == AMF0_OBJECT)
                if (amf0_node_cstr(d, amf0_doc_get(d, info, "code"), e->code, sizeof(e->code)) < 0)
                    e->code[0] = '\0';
        } else if (m.len >= 4) {
            e->value = (uint32_t)m.payload[m.len >= 6 && m.type == 4 ? 2 : 0] << 24 |
                       (uint32_t)m.payload[m.type == 4 ? 3 : 1] << 16 |
                       (uint32_t)m.payload[m.type == 4 ? 4 : 2] << 8 |
                       m.payload[m.type == 4 ? 5 : 3];
        }
        n++;
    }
    rtmp_chunk_reader_fini(&rd);
    test_free(d);
    return n;
}

static size_t obs_media_end; /* where FCUnpublish starts in the last built session */

static void
build_obs_session(struct client *c, const char *key)
{
    int i;

    cl_init(c);
    cl_handshake(c);
    cl_obs_commands(c, key);
    cl_set_chunk_size(c, 4096);
    cl_metadata(c);
    cl_msg(c, 6, 0, 0, 9, 1, avc_seq, sizeof(avc_seq));
    cl_msg(c, 5, 0, 0, 8, 1, aac_seq, sizeof(aac_seq));
    for (i = 0; i < 5; i++) {
        cl_video(c, i == 0 ? 0 : 1, i == 0 ? 0 : 33, i == 0, i == 0 ? 500 : 200);
        cl_audio(c, i == 0 ? 0 : 2, i == 0 ? 0 : 23);
    }
    obs_media_end = c->n;
    cl_command(c, "FCUnpublish", 6, false, 0);
    cl_command(c, "deleteStream", 7, true, 1);
}

static void
test_obs_publish(void **state)
{
    struct client c;
    struct run r;
    struct reply rep[32];
    struct rtmp_session *s;
    int n, i;
    static const enum rtmp_session_event_type expect[] = {
        RTMP_SEV_CONNECT, RTMP_SEV_PUBLISH, RTMP_SEV_METADATA, RTMP_SEV_VIDEO,
        RTMP_SEV_AUDIO,   RTMP_SEV_VIDEO,   RTMP_SEV_AUDIO,    RTMP_SEV_VIDEO,
        RTMP_SEV_AUDIO,   RTMP_SEV_VIDEO,   RTMP_SEV_AUDIO,    RTMP_SEV_VIDEO,
        RTMP_SEV_AUDIO,   RTMP_SEV_VIDEO,   RTMP_SEV_AUDIO,    RTMP_SEV_UNPUBLISH};
    static const int64_t video_dts[] = {0, 33, 66, 99, 132};
    int64_t live = mem_live();

    (void)state;
    build_obs_session(&c, "key");
    run_init(&r);
    s = rtmp_session_new(NULL);
    rtmp_session_check(s);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(0, r.err);
    assert_int_equal((int)ARRAY_SIZE(expect), r.nev);
    for (i = 0; i < r.nev; i++)
        assert_int_equal(expect[i], r.type[i]);
    assert_string_equal("live", r.app);
    assert_string_equal("key", r.key);
    assert_string_equal("rtmp://127.0.0.1:1935/live", s->tc_url);
    assert_string_equal("FMLE/3.0 (compatible; FMSc/1.0)", s->flash_ver);
    assert_string_equal("live", s->publish_type);
    /* metadata: the script body starts at "onMetaData" */
    assert_int_equal(0x02, r.first[2]);
    assert_int_equal(0x17, r.first[3]); /* AVC sequence header, then AAC's */
    assert_int_equal(0xaf, r.first[4]);
    for (i = 0; i < 5; i++) {
        assert_int_equal(video_dts[i], r.dts[5 + 2 * i]);
        assert_int_equal(23 * i, r.dts[6 + 2 * i]);
    }
    assert_int_equal(0, s->ts_backward);
    assert_int_equal(0, s->ts_jumps);
    assert_int_equal(0, s->dropped);
    assert_int_equal(0, rtmp_session_eof(s));

    /* What the server said, in order. */
    n = read_replies(&r, rep, 32);
    assert_int_equal(11, n);
    assert_int_equal(RTMP_MSG_WINDOW_ACK_SIZE, rep[0].type);
    assert_int_equal(2500000, rep[0].value);
    assert_int_equal(RTMP_MSG_SET_PEER_BW, rep[1].type);
    assert_int_equal(RTMP_MSG_SET_CHUNK_SIZE, rep[2].type);
    assert_int_equal(4096, rep[2].value);
    assert_string_equal("_result", rep[3].name);
    assert_true(rep[3].txn == 1);
    assert_string_equal("NetConnection.Connect.Success", rep[3].code);
    assert_string_equal("onBWDone", rep[4].name);
    assert_string_equal("_result", rep[5].name);
    assert_true(rep[5].txn == 2);
    assert_string_equal("_result", rep[6].name);
    assert_true(rep[6].txn == 3);
    assert_string_equal("_result", rep[7].name);
    assert_true(rep[7].txn == 4 && rep[7].num == 1); /* createStream -> stream 1 */
    assert_int_equal(RTMP_MSG_USER_CONTROL, rep[8].type);
    assert_int_equal(1, rep[8].value); /* Stream Begin 1 */
    assert_string_equal("onStatus", rep[9].name);
    assert_string_equal("NetStream.Publish.Start", rep[9].code);
    assert_int_equal(1, rep[9].msid);
    assert_string_equal("_result", rep[10].name); /* FCUnpublish */
    assert_true(rep[10].txn == 6);

    rtmp_session_free(&s);
    assert_null(s);
    run_fini(&r);
    test_free(c.b);
    UNIT_END(live);
}

static void
test_byte_at_a_time(void **state)
{
    struct client c;
    struct run whole, r;
    struct rtmp_session *s;
    static const size_t steps[] = {1, 2, 3, 100, 1537, 4097};
    size_t k;
    int i;
    int64_t live = mem_live();

    (void)state;
    build_obs_session(&c, "key");
    run_init(&whole);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &whole);
    rtmp_session_free(&s);
    for (k = 0; k < ARRAY_SIZE(steps); k++) {
        run_init(&r);
        s = rtmp_session_new(NULL);
        drive(s, c.b, c.n, steps[k], &r);
        assert_int_equal(0, r.err);
        assert_int_equal(whole.nev, r.nev);
        for (i = 0; i < r.nev; i++) {
            assert_int_equal(whole.type[i], r.type[i]);
            assert_int_equal(whole.dts[i], r.dts[i]);
            assert_int_equal(whole.len[i], r.len[i]);
        }
        assert_int_equal(whole.nout, r.nout);
        assert_memory_equal(whole.out, r.out, r.nout);
        rtmp_session_free(&s);
        run_fini(&r);
    }
    run_fini(&whole);
    test_free(c.b);
    UNIT_END(live);
}

static void
test_reject(void **state)
{
    struct client c;
    struct run r;
    struct reply rep[32];
    struct rtmp_session *s;
    int n;
    int64_t live = mem_live();

    (void)state;
    build_obs_session(&c, "stolen");
    run_init(&r);
    r.reject = "NetStream.Publish.BadName";
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(0, r.err);
    assert_int_equal(2, r.nev); /* connect, publish: nothing after the refusal */
    assert_string_equal("stolen", r.key);
    assert_true(s->dropped > 5);
    n = read_replies(&r, rep, 32);
    assert_int_equal(10, n);
    assert_string_equal("onStatus", rep[8].name);
    assert_string_equal("NetStream.Publish.BadName", rep[8].code);
    assert_int_equal(ERR_INVAL, rtmp_session_publish_accept(s));
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);

    /* An empty stream key is refused without asking the caller. */
    cl_init(&c);
    cl_handshake(&c);
    cl_obs_commands(&c, "");
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(1, r.nev);
    n = read_replies(&r, rep, 32);
    assert_string_equal("NetStream.Publish.BadName", rep[n - 1].code);
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);
    UNIT_END(live);
}

/* Irregular encoder timestamps: late start, duplicates, steps back, jumps, the wrap. */
static void
test_timestamps(void **state)
{
    struct client c;
    struct run r;
    struct rtmp_session *s;
    int64_t live = mem_live();

    (void)state;
    cl_init(&c);
    cl_handshake(&c);
    cl_obs_commands(&c, "key");
    cl_msg(&c, 6, 0, 5000000, 9, 1, avc_seq, sizeof(avc_seq)); /* config: no media time */
    cl_video(&c, 0, 5000040, true, 50);                        /* first frame: dts 0 */
    cl_audio(&c, 0, 5000030);            /* audio 10 ms earlier: clamped to 0 */
    cl_video(&c, 1, 40, false, 50);      /* 40 */
    cl_video(&c, 1, 0, false, 50);       /* same timestamp: 41 */
    cl_video(&c, 0, 5000070, false, 50); /* back 10 ms (absolute): 42 */
    cl_video(&c, 1, 40, false, 50);      /* 5000110: 70, the wire timeline again */
    cl_video(&c, 1, 60000, false, 50);   /* a 60 s jump: rebased to 70 + the last delta */
    cl_video(&c, 1, 40, false, 50);      /* 138 */
    cl_audio(&c, 2, 23);                 /* audio goes on: 5000053 -> 13 */
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(0, r.err);
    assert_int_equal(12, r.nev);
    assert_int_equal(RTMP_SEV_VIDEO, r.type[2]);
    assert_int_equal(0, r.dts[2]);
    assert_int_equal(0, r.dts[3]);
    assert_int_equal(RTMP_SEV_AUDIO, r.type[4]);
    assert_int_equal(0, r.dts[4]);
    assert_int_equal(40, r.dts[5]);
    assert_int_equal(41, r.dts[6]);
    assert_int_equal(42, r.dts[7]);
    assert_int_equal(70, r.dts[8]);
    assert_int_equal(98, r.dts[9]);
    assert_int_equal(138, r.dts[10]);
    assert_int_equal(13, r.dts[11]);
    assert_int_equal(3, s->ts_backward); /* audio before 0, the repeat, the step back */
    assert_int_equal(1, s->ts_jumps);
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);
    UNIT_END(live);
}

static void
test_wrap(void **state)
{
    struct client c;
    struct run r;
    struct rtmp_session *s;
    uint8_t f[50];
    int i;
    int64_t live = mem_live();

    (void)state;
    memset(f, 0, sizeof(f));
    f[0] = 0x27;
    f[1] = 1;
    cl_init(&c);
    cl_handshake(&c);
    cl_obs_commands(&c, "key");
    /* type 0 at 0xffffff80 (extended), then deltas of 64 across 2^32 */
    cl_u8(&c, 6);
    cl_be24(&c, 0xffffff);
    cl_be24(&c, sizeof(f));
    cl_u8(&c, 9);
    cl_put(&c, "\x01\x00\x00\x00", 4);
    cl_put(&c, "\xff\xff\xff\x80", 4);
    cl_put(&c, f, sizeof(f));
    for (i = 0; i < 4; i++)
        cl_video(&c, 1, 64, false, sizeof(f));
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(0, r.err);
    assert_int_equal(7, r.nev);
    for (i = 0; i < 5; i++)
        assert_int_equal(64 * i, r.dts[2 + i]);
    assert_int_equal(0, s->ts_jumps);
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);
    UNIT_END(live);
}

static void
test_errors(void **state)
{
    struct client c;
    struct run r;
    struct rtmp_session *s;
    struct rtmp_session_event ev;
    int64_t live = mem_live();

    (void)state;
    /* A command before connect. */
    cl_init(&c);
    cl_handshake(&c);
    cl_command(&c, "createStream", 2, false, 0);
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(ERR_PROTO, r.err);
    assert_int_equal(ERR_PROTO, rtmp_session_feed(s, c.b, 1, &ev)); /* sticky */
    rtmp_session_check(s);
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);

    /* Garbage after the handshake; a wrong version; a truncated handshake. */
    cl_init(&c);
    cl_handshake(&c);
    cl_put(&c, "GET / HTTP/1.1\r\n\r\n", 18);
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(ERR_PROTO, r.err);
    rtmp_session_free(&s);
    s = rtmp_session_new(NULL);
    assert_int_equal(ERR_PROTO, rtmp_session_feed(s, (const uint8_t *)"\x06", 1, &ev));
    rtmp_session_free(&s);
    s = rtmp_session_new(NULL);
    assert_int_equal(ERR_AGAIN, rtmp_session_feed(s, c.b, 100, &ev));
    assert_int_equal(ERR_PROTO, rtmp_session_eof(s));
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);

    /* Set Chunk Size 0 and 2^31 end the session. */
    {
        static const uint32_t bad[] = {0, 0x80000000U};
        size_t k;
        for (k = 0; k < ARRAY_SIZE(bad); k++) {
            cl_init(&c);
            cl_handshake(&c);
            cl_set_chunk_size(&c, bad[k]);
            run_init(&r);
            s = rtmp_session_new(NULL);
            drive(s, c.b, c.n, 0, &r);
            assert_int_equal(ERR_PROTO, r.err);
            rtmp_session_free(&s);
            run_fini(&r);
            test_free(c.b);
        }
    }

    /* Cut off while publishing. */
    build_obs_session(&c, "key");
    c.n = obs_media_end; /* no FCUnpublish/deleteStream */
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(ERR_CLOSED, rtmp_session_eof(s));
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);

    /* Output over its cap: a flood of unknown calls that each get an _error. */
    {
        struct rtmp_session_conf conf;
        int i;

        memset(&conf, 0, sizeof(conf));
        conf.max_output = 5000;
        cl_init(&c);
        cl_handshake(&c);
        cl_obs_commands(&c, "key");
        for (i = 0; i < 100; i++)
            cl_command(&c, "getStreamLength", 10 + i, false, 0);
        run_init(&r);
        s = rtmp_session_new(&conf);
        /* never drained: feed directly */
        {
            size_t off = 0;
            long n = 0;
            while (off < c.n) {
                n = rtmp_session_feed(s, c.b + off, c.n - off, &ev);
                if (n < 0)
                    break;
                if (ev.type == RTMP_SEV_PUBLISH)
                    assert_int_equal(0, rtmp_session_publish_accept(s));
                off += (size_t)n;
            }
            assert_int_equal(ERR_LIMIT, n);
        }
        rtmp_session_check(s);
        rtmp_session_free(&s);
        run_fini(&r);
        test_free(c.b);
    }
    UNIT_END(live);
}

static void
test_ping_ack_and_unknown(void **state)
{
    struct client c;
    struct run r;
    struct reply rep[64];
    struct rtmp_session *s;
    int n, i, acks = 0, pongs = 0, errors = 0;
    int64_t live = mem_live();

    (void)state;
    cl_init(&c);
    cl_handshake(&c);
    cl_obs_commands(&c, "key");
    {
        static const uint8_t win[] = {0, 0, 0x10, 0}; /* Window Ack Size 4096 */
        static const uint8_t ping[] = {0, 6, 0, 0, 0x12, 0x34};
        cl_msg(&c, 2, 0, 0, 5, 0, win, 4);
        cl_msg(&c, 2, 0, 0, 4, 0, ping, 6);
    }
    cl_command(&c, "_checkbw", 9, false, 0);
    cl_command(&c, "getStreamLength", 10, false, 0);
    for (i = 0; i < 40; i++)
        cl_video(&c, i == 0 ? 0 : 1, i == 0 ? 0 : 33, i == 0, 200);
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, c.b, c.n, 0, &r);
    assert_int_equal(0, r.err);
    n = read_replies(&r, rep, 64);
    for (i = 0; i < n; i++) {
        if (rep[i].type == RTMP_MSG_ACK)
            acks++;
        if (rep[i].type == RTMP_MSG_USER_CONTROL && rep[i].value == 0x1234)
            pongs++;
        if (strcmp(rep[i].name, "_error") == 0) {
            assert_true(rep[i].txn == 10);
            errors++;
        }
    }
    assert_true(acks >= 1);
    assert_int_equal(1, pongs);
    assert_int_equal(1, errors); /* _checkbw gets nothing, getStreamLength an _error */
    assert_int_equal(2, s->commands_ignored);
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(c.b);
    UNIT_END(live);
}

/*
 * The first 24000 bytes ffmpeg 5.1 (Debian 12) sent when publishing
 * testsrc2 320x240 H.264 + AAC to rtmp://127.0.0.1/live/key, captured by a
 * throwaway server and committed as a fuzz seed. ffmpeg sends a digest C1
 * (version 9.0.124.2), so this also covers the digest answer.
 */
static void
test_ffmpeg_capture(void **state)
{
    const char *src = getenv("CASCADE_SOURCE_DIR");
    char path[1024];
    uint8_t *buf = test_malloc(65536);
    struct run r;
    struct rtmp_session *s;
    struct reply rep[32];
    size_t len;
    FILE *f;
    int i, n, video = 0, audio = 0;
    int64_t live = mem_live();

    (void)state;
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/rtmp_session/ffmpeg_publish",
             src != NULL ? src : ".");
    f = fopen(path, "rb");
    assert_non_null(f);
    len = fread(buf, 1, 65536, f);
    fclose(f);
    assert_int_equal(24001, len);
    run_init(&r);
    s = rtmp_session_new(NULL);
    drive(s, buf + 1, len - 1, 0, &r); /* the first byte is the fuzzer's step */
    assert_int_equal(0, r.err);
    assert_int_equal(RTMP_HS_KIND_DIGEST, s->hs.kind);
    assert_int_equal(0x09007c02, s->hs.client_version);
    assert_int_equal(RTMP_SEV_CONNECT, r.type[0]);
    assert_int_equal(RTMP_SEV_PUBLISH, r.type[1]);
    assert_int_equal(RTMP_SEV_METADATA, r.type[2]);
    assert_string_equal("live", r.app);
    assert_string_equal("key", r.key);
    assert_string_equal("rtmp://127.0.0.1:19351/live", s->tc_url);
    for (i = 3; i < r.nev; i++) {
        assert_true(r.type[i] == RTMP_SEV_AUDIO || r.type[i] == RTMP_SEV_VIDEO);
        video += r.type[i] == RTMP_SEV_VIDEO;
        audio += r.type[i] == RTMP_SEV_AUDIO;
    }
    assert_true(video >= 2 && audio >= 2);
    assert_int_equal(0, s->ts_backward);
    assert_int_equal(0, s->dropped);
    n = read_replies(&r, rep, 32);
    assert_true(n >= 10);
    assert_string_equal("NetConnection.Connect.Success", rep[3].code);
    assert_string_equal("NetStream.Publish.Start", rep[n - 1].code);
    /* ffmpeg ends its handshake by echoing S1 as C2: nothing to check, but it went through. */
    assert_true(rtmp_handshake_done(&s->hs));
    rtmp_session_free(&s);
    run_fini(&r);
    test_free(buf);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_obs_publish),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ping_ack_and_unknown),
        cmocka_unit_test(test_ffmpeg_capture),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
