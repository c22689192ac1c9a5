/*
 * test_amf0.c -- AMF0 decoding (every marker, caps, refusals) and the
 * encoder, with the connect command OBS sends as a byte-exact vector.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "proto/amf0.h"
#include "compat.h"

/*
 * connect as OBS (librtmp, publishing) sends it: "connect", txn 1, then an
 * object with app, type "nonprivate", flashVer, swfUrl and tcUrl.
 */
static const uint8_t obs_connect[] = {
    0x02, 0x00, 0x07, 'c',  'o',  'n',  'n',  'e',  'c',  't',             /* "connect" */
    0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                  /* 1.0 */
    0x03,                                                                  /* object */
    0x00, 0x03, 'a',  'p',  'p',  0x02, 0x00, 0x04, 'l',  'i',  'v',  'e', /* app: "live" */
    0x00, 0x04, 't',  'y',  'p',  'e',  0x02, 0x00, 0x0a, 'n',  'o',  'n',  'p',  'r', 'i',
    'v',  'a',  't',  'e', /* type */
    0x00, 0x08, 'f',  'l',  'a',  's',  'h',  'V',  'e',  'r',  0x02, 0x00, 0x1f, 'F', 'M',
    'L',  'E',  '/',  '3',  '.',  '0',  ' ',  '(',  'c',  'o',  'm',  'p',  'a',  't', 'i',
    'b',  'l',  'e',  ';',  ' ',  'F',  'M',  'S',  'c',  '/',  '1',  '.',  '0',  ')', /* flashVer
                                                                                        */
    0x00, 0x06, 's',  'w',  'f',  'U',  'r',  'l',  0x02, 0x00, 0x15, 'r',  't',  'm', 'p',
    ':',  '/',  '/',  '1',  '2',  '7',  '.',  '0',  '.',  '0',  '.',  '1',  '/',  'l', 'i',
    'v',  'e', /* swfUrl */
    0x00, 0x05, 't',  'c',  'U',  'r',  'l',  0x02, 0x00, 0x15, 'r',  't',  'm',  'p', ':',
    '/',  '/',  '1',  '2',  '7',  '.',  '0',  '.',  '0',  '.',  '1',  '/',  'l',  'i', 'v',
    'e',              /* tcUrl */
    0x00, 0x00, 0x09, /* object end */
};

static struct amf0_doc *
new_doc(void)
{
    struct amf0_doc *d = test_malloc(sizeof(*d));

    amf0_doc_init(d, 0, 0);
    amf0_doc_check(d);
    return d;
}

static void
test_obs_connect(void **state)
{
    struct amf0_doc *d = new_doc();
    const struct amf0_node *cmd, *txn, *obj;
    char buf[64];
    double v;
    uint8_t out[512];
    struct amf0_out o;
    int64_t live = mem_live();

    (void)state;
    assert_int_equal(sizeof(obs_connect), amf0_doc_parse(d, obs_connect, sizeof(obs_connect)));
    amf0_doc_check(d);
    assert_int_equal(3, d->ntop);
    cmd = amf0_doc_top(d, 0);
    txn = amf0_doc_top(d, 1);
    obj = amf0_doc_top(d, 2);
    assert_null(amf0_doc_top(d, 3));
    assert_true(amf0_node_str_eq(d, cmd, "connect"));
    assert_true(amf0_node_num(txn, &v));
    assert_true(v == 1.0);
    assert_int_equal(AMF0_OBJECT, obj->type);
    assert_int_equal(5, obj->count);
    assert_true(amf0_node_str_eq(d, amf0_doc_get(d, obj, "app"), "live"));
    assert_true(amf0_node_str_eq(d, amf0_doc_get(d, obj, "type"), "nonprivate"));
    assert_int_equal(31, amf0_node_cstr(d, amf0_doc_get(d, obj, "flashVer"), buf, sizeof(buf)));
    assert_string_equal("FMLE/3.0 (compatible; FMSc/1.0)", buf);
    assert_true(amf0_node_str_eq(d, amf0_doc_get(d, obj, "tcUrl"), "rtmp://127.0.0.1/live"));
    assert_null(amf0_doc_get(d, obj, "pageUrl"));
    assert_null(amf0_doc_get(d, cmd, "app")); /* not an object */
    assert_true(amf0_node_str_eq(d, amf0_doc_child(d, obj, 4), "rtmp://127.0.0.1/live"));
    assert_null(amf0_doc_child(d, obj, 5));
    assert_int_equal(ERR_LIMIT, amf0_node_cstr(d, amf0_doc_get(d, obj, "flashVer"), buf, 31));
    assert_int_equal(ERR_INVAL, amf0_node_cstr(d, txn, buf, sizeof(buf)));

    /* The encoder writes the same bytes. */
    amf0_out_init(&o, out, sizeof(out));
    amf0_put_string(&o, "connect");
    amf0_put_number(&o, 1);
    amf0_put_object_begin(&o);
    amf0_put_prop_string(&o, "app", "live");
    amf0_put_prop_string(&o, "type", "nonprivate");
    amf0_put_prop_string(&o, "flashVer", "FMLE/3.0 (compatible; FMSc/1.0)");
    amf0_put_prop_string(&o, "swfUrl", "rtmp://127.0.0.1/live");
    amf0_put_prop_string(&o, "tcUrl", "rtmp://127.0.0.1/live");
    amf0_put_object_end(&o);
    assert_int_equal(sizeof(obs_connect), amf0_out_finish(&o));
    assert_memory_equal(obs_connect, out, sizeof(obs_connect));

    /* Every prefix of the command is refused (truncation anywhere). */
    {
        size_t n;
        for (n = 1; n < sizeof(obs_connect); n++) {
            long rc = amf0_doc_parse(d, obs_connect, n);
            amf0_doc_check(d);
            if (n == 10 || n == 19) /* whole values: "connect", then the txn */
                assert_int_equal(n, rc);
            else
                assert_int_equal(ERR_PROTO, rc);
        }
    }
    test_free(d);
    UNIT_END(live);
}

static void
test_all_types(void **state)
{
    struct amf0_doc *d = new_doc();
    uint8_t buf[200000];
    struct amf0_out o;
    const struct amf0_node *n, *c;
    const uint8_t *s;
    size_t slen;
    long len;
    static char big[70000];
    int64_t live = mem_live();

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_number(&o, -2.5);
    amf0_put_bool(&o, true);
    amf0_put_null(&o);
    amf0_put_undefined(&o);
    amf0_put_ecma_begin(&o, 2);
    amf0_put_prop_number(&o, "duration", 0);
    amf0_put_prop_bool(&o, "stereo", false);
    amf0_put_object_end(&o);
    amf0_put_strict_array_begin(&o, 3);
    amf0_put_number(&o, 1);
    amf0_put_string(&o, "two");
    amf0_put_object_begin(&o);
    amf0_put_object_end(&o);
    amf0_put_date(&o, 1.5e12, -60);
    amf0_put_string(&o, big); /* becomes a long string */
    len = amf0_out_finish(&o);
    assert_true(len > 70000);
    /* Hand-made: reference, unsupported, XML document, typed object. */
    {
        static const uint8_t tail[] = {0x07, 0x00, 0x02, 0x0d, 0x0f, 0x00, 0x00, 0x00,
                                       0x03, '<',  'a',  '>',  0x10, 0x00, 0x01, 'C',
                                       0x00, 0x01, 'k',  0x05, 0x00, 0x00, 0x09};
        memcpy(buf + len, tail, sizeof(tail));
        len += (long)sizeof(tail);
    }
    assert_int_equal(len, amf0_doc_parse(d, buf, (size_t)len));
    amf0_doc_check(d);
    assert_int_equal(12, d->ntop);
    n = amf0_doc_top(d, 0);
    assert_true(n->type == AMF0_NUMBER && n->num == -2.5);
    n = amf0_doc_next(d, n);
    assert_true(n->type == AMF0_BOOLEAN && n->num == 1);
    assert_int_equal(AMF0_NULL, amf0_doc_top(d, 2)->type);
    assert_int_equal(AMF0_UNDEFINED, amf0_doc_top(d, 3)->type);
    n = amf0_doc_top(d, 4);
    assert_int_equal(AMF0_ECMA_ARRAY, n->type);
    assert_int_equal(2, n->count);
    c = amf0_doc_get(d, n, "stereo");
    assert_true(c->type == AMF0_BOOLEAN && c->num == 0);
    n = amf0_doc_top(d, 5);
    assert_int_equal(AMF0_STRICT_ARRAY, n->type);
    assert_int_equal(3, n->count);
    assert_true(amf0_node_str_eq(d, amf0_doc_child(d, n, 1), "two"));
    assert_int_equal(AMF0_OBJECT, amf0_doc_child(d, n, 2)->type);
    assert_int_equal(0, amf0_doc_child(d, n, 2)->count);
    assert_int_equal(1, amf0_doc_child(d, n, 2)->depth);
    n = amf0_doc_top(d, 6);
    assert_true(n->type == AMF0_DATE && n->num == 1.5e12 && n->tz == -60);
    n = amf0_doc_top(d, 7);
    assert_int_equal(AMF0_LONG_STRING, n->type);
    assert_true(amf0_node_str(d, n, &s, &slen));
    assert_int_equal(sizeof(big) - 1, slen);
    n = amf0_doc_top(d, 8);
    assert_true(n->type == AMF0_REFERENCE && n->num == 2);
    assert_int_equal(AMF0_UNSUPPORTED, amf0_doc_top(d, 9)->type);
    assert_true(amf0_node_str_eq(d, amf0_doc_top(d, 10), "<a>"));
    n = amf0_doc_top(d, 11);
    assert_int_equal(AMF0_TYPED_OBJECT, n->type);
    assert_int_equal(AMF0_NULL, amf0_doc_get(d, n, "k")->type);
    test_free(d);
    UNIT_END(live);
}

static void
test_refusals_and_caps(void **state)
{
    struct amf0_doc *d = new_doc();
    static const uint8_t refused[][2] = {{0x04, 0}, {0x09, 0}, {0x0e, 0},
                                         {0x11, 0}, {0x12, 0}, {0xff, 0}};
    uint8_t buf[4096];
    size_t i;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(refused); i++) {
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, refused[i], 1));
        assert_int_equal(0, d->err_off);
        amf0_doc_check(d);
    }
    /* A strict array that claims more elements than bytes: refused before looping. */
    {
        static const uint8_t sa[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x05};
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, sa, sizeof(sa)));
    }
    /* A string longer than the payload. */
    {
        static const uint8_t st[] = {0x02, 0x00, 0x05, 'a', 'b'};
        static const uint8_t ls[] = {0x0c, 0xff, 0xff, 0xff, 0xff, 'a'};
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, st, sizeof(st)));
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, ls, sizeof(ls)));
    }
    /* An object without its terminator, and a member name past the end. */
    {
        static const uint8_t ob[] = {0x03, 0x00, 0x01, 'a', 0x05};
        static const uint8_t ok[] = {0x03, 0x00, 0x09, 'a'};
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, ob, sizeof(ob)));
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, ok, sizeof(ok)));
    }
    /* Depth: 40 nested objects against a cap of 32. */
    {
        size_t n = 0, k;
        for (k = 0; k < 40; k++) {
            buf[n++] = 0x03;
            buf[n++] = 0x00;
            buf[n++] = 0x01;
            buf[n++] = 'o';
        }
        buf[n++] = 0x05;
        for (k = 0; k < 40; k++) {
            buf[n++] = 0;
            buf[n++] = 0;
            buf[n++] = 9;
        }
        assert_int_equal(ERR_LIMIT, amf0_doc_parse(d, buf, n));
        amf0_doc_check(d);
        amf0_doc_init(d, 0, 8);
        assert_int_equal(ERR_LIMIT, amf0_doc_parse(d, buf, n));
    }
    /* Nodes: a strict array of 300 nulls against 256 nodes. */
    {
        size_t n = 0, k;
        amf0_doc_init(d, 0, 0);
        buf[n++] = 0x0a;
        buf[n++] = 0;
        buf[n++] = 0;
        buf[n++] = 0x01;
        buf[n++] = 0x2c;
        for (k = 0; k < 300; k++)
            buf[n++] = 0x05;
        assert_int_equal(ERR_LIMIT, amf0_doc_parse(d, buf, n));
        amf0_doc_check(d);
    }
    /* A failure keeps the values before it: "publish", 0, then garbage. */
    {
        static const uint8_t pub[] = {0x02, 0x00, 0x07, 'p', 'u', 'b', 'l', 'i', 's', 'h',
                                      0x00, 0,    0,    0,   0,   0,   0,   0,   0,   0x04};
        assert_int_equal(ERR_PROTO, amf0_doc_parse(d, pub, sizeof(pub)));
        assert_int_equal(2, d->ntop);
        assert_int_equal(19, d->err_off);
        assert_true(amf0_node_str_eq(d, amf0_doc_top(d, 0), "publish"));
        amf0_doc_check(d);
    }
    /* Empty input: no values, no error. */
    assert_int_equal(0, amf0_doc_parse(d, buf, 0));
    assert_int_equal(0, d->ntop);
    /* A string with a NUL is refused as a C string. */
    {
        static const uint8_t nul[] = {0x02, 0x00, 0x03, 'a', 0, 'b'};
        char s[8];
        assert_int_equal(sizeof(nul), amf0_doc_parse(d, nul, sizeof(nul)));
        assert_int_equal(ERR_INVAL, amf0_node_cstr(d, amf0_doc_top(d, 0), s, sizeof(s)));
    }
    test_free(d);
    UNIT_END(live);
}

static void
test_encoder_replies(void **state)
{
    struct amf0_doc *d = new_doc();
    uint8_t buf[512];
    struct amf0_out o;
    const struct amf0_node *info;
    long len;
    double v;
    int64_t live = mem_live();

    (void)state;
    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_connect_result(&o, 1, 0);
    len = amf0_out_finish(&o);
    assert_true(len > 0);
    assert_int_equal(len, amf0_doc_parse(d, buf, (size_t)len));
    assert_true(amf0_node_str_eq(d, amf0_doc_top(d, 0), "_result"));
    info = amf0_doc_top(d, 3);
    assert_true(
        amf0_node_str_eq(d, amf0_doc_get(d, info, "code"), "NetConnection.Connect.Success"));
    assert_true(amf0_node_str_eq(d, amf0_doc_get(d, info, "level"), "status"));

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_result(&o, 4, true, 1);
    len = amf0_out_finish(&o);
    /* byte-exact: "_result" 4.0 null 1.0 */
    {
        static const uint8_t exp[] = {0x02, 0x00, 0x07, '_', 'r', 'e', 's', 'u', 'l', 't',
                                      0x00, 0x40, 0x10, 0,   0,   0,   0,   0,   0,   0x05,
                                      0x00, 0x3f, 0xf0, 0,   0,   0,   0,   0,   0};
        assert_int_equal(sizeof(exp), len);
        assert_memory_equal(exp, buf, sizeof(exp));
    }
    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_on_status(&o, "error", "NetStream.Publish.BadName", "no such key", NULL);
    len = amf0_out_finish(&o);
    assert_int_equal(len, amf0_doc_parse(d, buf, (size_t)len));
    assert_true(amf0_node_str_eq(d, amf0_doc_top(d, 0), "onStatus"));
    assert_true(amf0_node_num(amf0_doc_top(d, 1), &v) && v == 0);
    assert_int_equal(AMF0_NULL, amf0_doc_top(d, 2)->type);
    info = amf0_doc_top(d, 3);
    assert_true(amf0_node_str_eq(d, amf0_doc_get(d, info, "code"), "NetStream.Publish.BadName"));
    assert_null(amf0_doc_get(d, info, "details"));

    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_on_bw_done(&o);
    amf0_put_error(&o, 3, "NetConnection.Call.Failed", "x");
    amf0_put_on_fc(&o, "onFCPublish", "NetStream.Publish.Start", "k");
    len = amf0_out_finish(&o);
    assert_int_equal(len, amf0_doc_parse(d, buf, (size_t)len));
    assert_int_equal(4 + 4 + 4, d->ntop);

    /* Overflow is sticky and reported once. */
    amf0_out_init(&o, buf, 20);
    amf0_put_string(&o, "onStatus");
    amf0_put_number(&o, 0); /* 11 + 9 = 20: fits exactly */
    assert_int_equal(20, amf0_out_finish(&o));
    amf0_put_null(&o);
    assert_int_equal(ERR_LIMIT, amf0_out_finish(&o));
    amf0_put_null(&o);
    assert_int_equal(20, o.len);
    /* An empty key would read as the terminator: refused. */
    amf0_out_init(&o, buf, sizeof(buf));
    amf0_put_key(&o, "");
    assert_int_equal(ERR_INVAL, amf0_out_finish(&o));
    test_free(d);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_obs_connect),
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_refusals_and_caps),
        cmocka_unit_test(test_encoder_replies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
