/*
 * test_edge_obj.c -- the edge's header block codec (edge/edge_obj.c) and
 * the access log's CMCD session id reader (edge/access_log.c): round trips,
 * every refusal, and the sid forms players send.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../edge/edge_obj.c"
#include "../../edge/access_log.c"

static struct cache_meta
meta_ok(void)
{
    struct cache_meta m;

    memset(&m, 0, sizeof(m));
    m.version = CACHE_META_VERSION;
    m.status = 200;
    m.request_time = 1000;
    m.response_time = 1001;
    m.corrected_initial_age = 1;
    m.lifetime = 60;
    m.swr = CACHE_DELTA_ABSENT;
    m.sie = 30;
    m.date = 1001;
    m.last_modified = CACHE_TIME_NONE;
    m.flags = CACHE_META_ETAG;
    return m;
}

static struct cache_field
field(const char *name, const char *value)
{
    struct cache_field f;

    f.name = name;
    f.name_len = (uint32_t)strlen(name);
    f.value = value;
    f.value_len = (uint32_t)strlen(value);
    return f;
}

static void
test_round_trip(void **state)
{
    int64_t live = mem_live();
    struct cache_field in[3], out[8];
    struct cache_meta m = meta_ok();
    struct edge_obj o;
    uint8_t buf[512];
    const char *n, *v;
    size_t pos = 0, nl, vl;
    int len;

    (void)state;
    in[0] = field("Content-Type", "video/mp4");
    in[1] = field("ETag", "\"abc\"");
    in[2] = field("X-Empty", "");
    len = edge_obj_build(buf, sizeof(buf), EDGE_OBJ_RESPONSE, 200, &m, in, 3);
    assert_int_equal(len, (int)edge_obj_size(in, 3));
    assert_int_equal(0, edge_obj_parse(buf, (size_t)len, &o));
    edge_obj_check(&o);
    assert_int_equal(EDGE_OBJ_RESPONSE, o.kind);
    assert_int_equal(200, o.status);
    assert_int_equal(3, o.nfields);
    assert_int_equal(0, memcmp(&o.meta, &m, sizeof(m)));
    assert_true(edge_obj_next(&o, &pos, &n, &nl, &v, &vl));
    assert_string_equal("Content-Type", n);
    assert_string_equal("video/mp4", v);
    assert_int_equal(3, edge_obj_fields(&o, out, 8));
    assert_int_equal(0, out[2].value_len);
    assert_int_equal(2, edge_obj_fields(&o, out, 2));
    UNIT_END(live);
}

static void
test_refusals(void **state)
{
    int64_t live = mem_live();
    struct cache_field bad[1];
    struct cache_meta m = meta_ok();
    struct edge_obj o;
    uint8_t buf[256], copy[256];
    int len;

    (void)state;
    bad[0] = field("Bad Name", "x");
    assert_int_equal(ERR_INVAL,
                     edge_obj_build(buf, sizeof(buf), EDGE_OBJ_RESPONSE, 200, &m, bad, 1));
    bad[0] = field("X", "a\r\nb");
    assert_int_equal(ERR_INVAL,
                     edge_obj_build(buf, sizeof(buf), EDGE_OBJ_RESPONSE, 200, &m, bad, 1));
    bad[0] = field("X", "fine");
    assert_int_equal(ERR_LIMIT,
                     edge_obj_build(buf, EDGE_OBJ_FIXED + 3, EDGE_OBJ_RESPONSE, 200, &m, bad, 1));
    m.lifetime = -1;
    assert_int_equal(ERR_INVAL,
                     edge_obj_build(buf, sizeof(buf), EDGE_OBJ_RESPONSE, 200, &m, bad, 1));
    m = meta_ok();
    len = edge_obj_build(buf, sizeof(buf), EDGE_OBJ_RESPONSE, 200, &m, bad, 1);
    assert_true(len > 0);
    /* every truncation, and a byte flipped in each structural place, is refused */
    for (size_t cut = 0; cut < (size_t)len; cut++)
        assert_int_equal(ERR_PROTO, edge_obj_parse(buf, cut, &o));
    memcpy(copy, buf, (size_t)len);
    copy[0] ^= 1; /* magic */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    memcpy(copy, buf, (size_t)len);
    copy[4] = 9; /* kind */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    memcpy(copy, buf, (size_t)len);
    copy[8] = 2; /* nfields */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    memcpy(copy, buf, (size_t)len);
    copy[16] = 7; /* meta version */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    memcpy(copy, buf, (size_t)len);
    copy[EDGE_OBJ_FIXED] = ' '; /* the name */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    memcpy(copy, buf, (size_t)len);
    copy[EDGE_OBJ_FIXED + 3] = '\n'; /* the value */
    assert_int_equal(ERR_PROTO, edge_obj_parse(copy, (size_t)len, &o));
    UNIT_END(live);
}

static void
test_markers(void **state)
{
    int64_t live = mem_live();
    struct cache_field vary[1];
    struct cache_meta m = meta_ok();
    struct edge_obj o;
    uint8_t buf[256];
    int len;

    (void)state;
    vary[0] = field("Vary", "Accept-Encoding");
    len = edge_obj_build(buf, sizeof(buf), EDGE_OBJ_VARY, 200, &m, vary, 1);
    assert_int_equal(0, edge_obj_parse(buf, (size_t)len, &o));
    assert_int_equal(EDGE_OBJ_VARY, o.kind);
    memset(&m, 0, sizeof(m));
    m.version = CACHE_META_VERSION;
    m.flags = CACHE_META_HIT_FOR_MISS;
    m.status = 0;
    m.swr = m.sie = CACHE_DELTA_ABSENT;
    m.lifetime = 10;
    len = edge_obj_build(buf, sizeof(buf), EDGE_OBJ_HFM, 0, &m, NULL, 0);
    assert_int_equal((int)EDGE_OBJ_FIXED, len);
    assert_int_equal(0, edge_obj_parse(buf, (size_t)len, &o));
    edge_obj_check(&o);
    assert_int_equal(EDGE_OBJ_HFM, o.kind);
    UNIT_END(live);
}

static void
test_cmcd_sid(void **state)
{
    int64_t live = mem_live();
    char sid[64];
    size_t n;

    (void)state;
    n = access_log_cmcd_sid("a=1&CMCD=bl%3D21300%2Csid%3D%226e2f-c457%22%2Cbr%3D3200", NULL, sid,
                            sizeof(sid));
    assert_int_equal(9, n);
    assert_memory_equal("6e2f-c457", sid, n);
    n = access_log_cmcd_sid(NULL, "br=3200,sid=\"s,with,commas\"", sid, sizeof(sid));
    assert_memory_equal("s,with,commas", sid, n);
    /* a quoted value before sid may hold ",sid=" without fooling the reader */
    n = access_log_cmcd_sid(NULL, "cid=\"x,sid=\\\"no\\\"\",sid=\"yes\"", sid, sizeof(sid));
    assert_int_equal(3, n);
    assert_memory_equal("yes", sid, n);
    assert_int_equal(0, access_log_cmcd_sid("CMCD=bl%3D1", "bl=2", sid, sizeof(sid)));
    assert_int_equal(0, access_log_cmcd_sid(NULL, "sid=\"unterminated", sid, sizeof(sid)));
    assert_int_equal(0, access_log_cmcd_sid("x=CMCD=sid%3D%22no%22", NULL, sid, sizeof(sid)));
    /* the query wins over the header; a long id is cut to the buffer */
    n = access_log_cmcd_sid("CMCD=sid%3D%22q%22", "sid=\"h\"", sid, sizeof(sid));
    assert_memory_equal("q", sid, n);
    n = access_log_cmcd_sid(NULL, "sid=\"0123456789\"", sid, 4);
    assert_int_equal(3, n);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_markers),
        cmocka_unit_test(test_cmcd_sid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
