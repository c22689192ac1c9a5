/*
 * test_social_parse.c -- the interactions API's routes, query strings and
 * bodies: what is ours and what is not, method checks, every limit, wrong
 * types, injection-looking input kept as data, and the codes of each
 * failure.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "../../origin/meta.c"
#include "../../origin/social_parse.c"

/* Stubs: meta.c's dispatch is linked but never called here. */
int
meta_lmdb_open(struct meta *m, const struct meta_conf *c)
{
    (void)m;
    (void)c;
    return ERR_CONF;
}

int
meta_pg_open(struct meta *m, const struct meta_conf *c)
{
    (void)m;
    (void)c;
    return ERR_CONF;
}

static int
t_route(const char *method, const char *path, struct social_route *rt, struct social_err *e)
{
    return social_route_parse(method, path, rt, e);
}

static void
test_social_routes(void **state)
{
    int64_t live = mem_live();
    struct social_route rt;
    struct social_err e;

    (void)state;
    assert_int_equal(1, t_route("POST", "/api/sessions", &rt, &e));
    assert_int_equal(SOCIAL_OP_SESSION_NEW, rt.op);
    assert_false(rt.write); /* anyone may start a session */
    assert_int_equal(1, t_route("GET", "/api/streams/live1/comments", &rt, &e));
    assert_int_equal(SOCIAL_OP_COMMENT_LIST, rt.op);
    assert_int_equal('s', rt.target.kind);
    assert_string_equal("live1", rt.target.id);
    assert_int_equal(1, t_route("HEAD", "/api/streams/live1/comments", &rt, &e));
    assert_int_equal(SOCIAL_OP_COMMENT_LIST, rt.op);
    assert_int_equal(1, t_route("POST", "/api/videos/v.1_a-b/comments", &rt, &e));
    assert_int_equal(SOCIAL_OP_COMMENT_ADD, rt.op);
    assert_true(rt.write);
    assert_int_equal('v', rt.target.kind);
    assert_int_equal(1, t_route("GET", "/api/videos/v/comments/42", &rt, &e));
    assert_int_equal(SOCIAL_OP_COMMENT_GET, rt.op);
    assert_int_equal(42, rt.cid);
    assert_int_equal(1, t_route("DELETE", "/api/videos/v/comments/42", &rt, &e));
    assert_int_equal(SOCIAL_OP_COMMENT_DELETE, rt.op);
    assert_true(rt.write);
    assert_int_equal(1, t_route("GET", "/api/streams/s/comments/7/replies", &rt, &e));
    assert_int_equal(SOCIAL_OP_REPLY_LIST, rt.op);
    assert_int_equal(1, t_route("PUT", "/api/videos/v/like", &rt, &e));
    assert_int_equal(SOCIAL_OP_LIKE_SET, rt.op);
    assert_true(rt.like);
    assert_int_equal(1, t_route("DELETE", "/api/videos/v/like", &rt, &e));
    assert_false(rt.like);
    assert_int_equal(1, t_route("GET", "/api/videos/v/likes", &rt, &e));
    assert_int_equal(SOCIAL_OP_LIKE_GET, rt.op);
    assert_int_equal(1, t_route("POST", "/api/streams/s/reactions", &rt, &e));
    assert_int_equal(SOCIAL_OP_REACTION_ADD, rt.op);
    assert_int_equal(1, t_route("GET", "/api/videos/s/reactions", &rt, &e));
    assert_int_equal(SOCIAL_OP_REACTION_RANGE, rt.op);
    assert_int_equal(1, t_route("POST", "/api/reactions/batch", &rt, &e));
    assert_int_equal(SOCIAL_OP_REACTION_BATCH, rt.op);
    assert_true(rt.write);
    assert_int_equal(1, t_route("GET", "/api/events", &rt, &e));
    assert_int_equal(SOCIAL_OP_EVENTS, rt.op);

    /* Not ours: the streams module's, other APIs, near misses. */
    assert_int_equal(0, t_route("GET", "/api/streams", &rt, &e));
    assert_int_equal(0, t_route("POST", "/api/streams/s", &rt, &e));
    assert_int_equal(0, t_route("GET", "/api/videos/v/seek", &rt, &e));
    assert_int_equal(0, t_route("PUT", "/api/streams/s/like", &rt, &e)); /* videos only */
    assert_int_equal(0, t_route("GET", "/api/sessions/x", &rt, &e));
    assert_int_equal(0, t_route("GET", "/api/videos/v/comments/1/other", &rt, &e));
    assert_int_equal(0, t_route("GET", "/live/s/manifest.mpd", &rt, &e));
    assert_int_equal(0, t_route("GET", "", &rt, &e));
    assert_int_equal(0, t_route("GET", "/api/a/b/c/d/e/f/g/h", &rt, &e));

    /* Ours, but wrong: 405 with Allow, 400 bad_id. */
    assert_int_equal(1, t_route("GET", "/api/sessions", &rt, &e));
    assert_int_equal(SOCIAL_OP_NONE, rt.op);
    assert_int_equal(405, e.status);
    assert_string_equal("POST", e.allow);
    assert_int_equal(1, t_route("PATCH", "/api/videos/v/comments", &rt, &e));
    assert_int_equal(405, e.status);
    assert_string_equal("GET, HEAD, POST", e.allow);
    assert_int_equal(1, t_route("POST", "/api/videos/v/like", &rt, &e));
    assert_int_equal(405, e.status);
    assert_int_equal(1, t_route("GET", "/api/videos/v%2F..%2F/comments", &rt, &e));
    assert_int_equal(SOCIAL_OP_NONE, rt.op);
    assert_int_equal(400, e.status);
    assert_string_equal("bad_id", e.code);
    assert_int_equal(1, t_route("GET", "/api/videos/'%20OR%201=1/comments", &rt, &e));
    assert_int_equal(400, e.status);
    assert_int_equal(1, t_route("GET", "/api/videos/../comments", &rt, &e));
    assert_int_equal(400, e.status);
    assert_int_equal(1, t_route("GET", "/api/videos/v/comments/0", &rt, &e));
    assert_string_equal("bad_id", e.code);
    assert_int_equal(1, t_route("GET", "/api/videos/v/comments/01", &rt, &e));
    assert_string_equal("bad_id", e.code);
    assert_int_equal(1, t_route("GET", "/api/videos/v/comments/99999999999999999999", &rt, &e));
    assert_string_equal("bad_id", e.code);
    assert_int_equal(1, t_route("GET", "/api/videos/v/comments/1x", &rt, &e));
    assert_string_equal("bad_id", e.code);
    UNIT_END(live);
}

static void
test_social_query(void **state)
{
    int64_t live = mem_live();
    struct social_query q;
    struct social_err e;

    (void)state;
    assert_int_equal(0, social_query_parse(NULL, &q, &e));
    assert_int_equal(SOCIAL_LIMIT_DEFAULT, q.limit);
    assert_false(q.has_order);
    assert_int_equal(0, social_query_parse("cursor=12&limit=5&order=oldest&x=y&_=1", &q, &e));
    assert_int_equal(12, q.cursor);
    assert_int_equal(5, q.limit);
    assert_int_equal(META_ORDER_OLDEST, q.order);
    assert_int_equal(0, social_query_parse("cursor=&limit=100&order=newest", &q, &e));
    assert_int_equal(0, q.cursor);
    assert_int_equal(0, social_query_parse("from=0&to=60000", &q, &e));
    assert_true(q.has_to);
    assert_int_equal(60000, q.to);
    assert_int_equal(0, social_query_parse("after=0&wait=25000", &q, &e));
    assert_true(q.has_after);
    assert_int_equal(25000, q.wait_ms);

    static const char *const bad[] = {
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=1e2",
        "limit=",
        "order=up",
        "order=",
        "cursor=0",
        "cursor=-5",
        "cursor=abc",
        "from=-1",
        "from=1.5",
        "to=9007199254740992",
        "from=5&to=4",
        "wait=25001",
        "after=x",
        "limit=1&limit=2",
        "cursor=1%20OR%201",
        "limit=01",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(ERR_INVAL, social_query_parse(bad[i], &q, &e));
        assert_int_equal(400, e.status);
        assert_string_equal("bad_query", e.code);
    }
    UNIT_END(live);
}

static void
test_social_kinds(void **state)
{
    int64_t live = mem_live();
    struct social_kinds k;
    char many[SOCIAL_KINDS_MAX * 4 + 8];
    size_t n = 0;

    (void)state;
    assert_int_equal(0, social_kinds_parse("like,love,\xf0\x9f\x94\xa5", &k));
    assert_int_equal(3, k.n);
    assert_true(social_kinds_has(&k, "\xf0\x9f\x94\xa5"));
    assert_false(social_kinds_has(&k, "lik"));
    assert_int_equal(ERR_CONF, social_kinds_parse("", &k));
    assert_int_equal(ERR_CONF, social_kinds_parse("a,,b", &k));
    assert_int_equal(ERR_CONF, social_kinds_parse("a,b,a", &k));
    assert_int_equal(ERR_CONF, social_kinds_parse("a b", &k));
    assert_int_equal(ERR_CONF, social_kinds_parse("a,", &k));
    for (int i = 0; i <= SOCIAL_KINDS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s%d", i ? "," : "", i);
    assert_int_equal(ERR_CONF, social_kinds_parse(many, &k));
    UNIT_END(live);
}

#define T_BODY(s) (s), strlen(s)

static void
test_social_bodies(void **state)
{
    int64_t live = mem_live();
    struct social_session_req sr;
    struct social_comment_req cr;
    struct social_reaction_req rr;
    struct social_kinds k;
    struct social_err e;
    char big[META_TEXT_MAX + 64];

    (void)state;
    assert_int_equal(0, social_kinds_parse("like,fire", &k));
    assert_int_equal(0, social_body_session(T_BODY("{\"name\":\"Ann\",\"extra\":[1]}"), &sr, &e));
    assert_string_equal("Ann", sr.name);
    assert_string_equal("", sr.moderator_key);
    assert_int_equal(
        0, social_body_session(T_BODY("{\"name\":\"A\",\"moderator_key\":\"k\"}"), &sr, &e));
    assert_string_equal("k", sr.moderator_key);

    static const struct {
        const char *body, *code;
    } bad_sessions[] = {
        {"", "bad_json"},
        {"[]", "bad_json"},
        {"{\"name\":\"a\",\"name\":\"b\"}", "bad_json"}, /* duplicate keys */
        {"{\"name\":\"a\\u0000b\"}", "bad_json"},        /* NUL */
        {"{\"name\":\"\\ud800\"}", "bad_json"},          /* lone surrogate */
        {"{}", "missing_field"},
        {"{\"name\":1}", "wrong_type"},
        {"{\"name\":null}", "wrong_type"},
        {"{\"name\":[\"a\"]}", "wrong_type"},
        {"{\"name\":\"\"}", "bad_value"},
        {"{\"name\":\"a\\nb\"}", "bad_value"},
        {"{\"name\":\"a\\u0085b\"}", "bad_value"},
        {"{\"name\":\"0123456789012345678901234567890123456789012345678901234567890123X\"}",
         "too_long"},
        {"{\"name\":\"a\",\"edge_key\":5}", "wrong_type"},
        {"{\"name\":\"a\"} trailing", "bad_json"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_sessions); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(ERR_INVAL, social_body_session(T_BODY(bad_sessions[i].body), &sr, &e));
        assert_int_equal(400, e.status);
        assert_string_equal(bad_sessions[i].code, e.code);
    }

    /* Comments: newlines are text; parent as we print it or as a number. */
    assert_int_equal(0, social_body_comment(T_BODY("{\"text\":\"a\\nb\"}"), &cr, &e));
    assert_string_equal("a\nb", cr.text);
    assert_int_equal(0, cr.parent);
    assert_int_equal(0, social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":\"12\"}"), &cr, &e));
    assert_int_equal(12, cr.parent);
    assert_int_equal(0, social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":12}"), &cr, &e));
    assert_int_equal(12, cr.parent);
    assert_int_equal(0, social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":null}"), &cr, &e));
    assert_int_equal(0, cr.parent);
    assert_int_equal(0, social_body_comment(
                            T_BODY("{\"text\":\"'; DROP TABLE comments;-- <script>\"}"), &cr, &e));
    assert_string_equal("'; DROP TABLE comments;-- <script>", cr.text);
    assert_int_equal(ERR_INVAL,
                     social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":\"0\"}"), &cr, &e));
    assert_int_equal(ERR_INVAL,
                     social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":-3}"), &cr, &e));
    assert_int_equal(ERR_INVAL,
                     social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":1.5}"), &cr, &e));
    assert_string_equal("wrong_type", e.code);
    assert_int_equal(ERR_INVAL,
                     social_body_comment(T_BODY("{\"text\":\"x\",\"parent\":{}}"), &cr, &e));
    assert_int_equal(ERR_INVAL, social_body_comment(T_BODY("{\"text\":\"a\\rb\"}"), &cr, &e));
    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"text\":\"", 9);
    memcpy(big + 9 + META_TEXT_MAX + 1, "\"}", 2);
    assert_int_equal(ERR_INVAL, social_body_comment(big, 9 + META_TEXT_MAX + 3, &cr, &e));
    assert_string_equal("too_long", e.code);
    memcpy(big + 9 + META_TEXT_MAX, "\"}", 2);
    assert_int_equal(0, social_body_comment(big, 9 + META_TEXT_MAX + 2, &cr, &e));
    assert_int_equal(META_TEXT_MAX, strlen(cr.text));

    /* Reactions: a known kind and an integer media time. */
    assert_int_equal(0,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":1500}"), &k, &rr, &e));
    assert_string_equal("fire", rr.kind);
    assert_int_equal(1500, rr.t);
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"boo\",\"t\":1}"), &k, &rr, &e));
    assert_string_equal("unknown_kind", e.code);
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":-1}"), &k, &rr, &e));
    assert_string_equal("bad_value", e.code);
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":\"1\"}"), &k, &rr, &e));
    assert_string_equal("wrong_type", e.code);
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":1.0}"), &k, &rr, &e));
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":true}"), &k, &rr, &e));
    assert_int_equal(ERR_INVAL,
                     social_body_reaction(T_BODY("{\"kind\":\"fire\",\"t\":99999999999999999999}"),
                                          &k, &rr, &e));
    assert_string_equal("bad_json", e.code);
    assert_int_equal(ERR_INVAL, social_body_reaction(T_BODY("{\"kind\":\"fire\"}"), &k, &rr, &e));
    assert_string_equal("missing_field", e.code);
    UNIT_END(live);
}

static void
test_social_batches(void **state)
{
    int64_t live = mem_live();
    struct social_batch_req b;
    struct social_kinds k;
    struct social_err e;
    char *big;
    size_t n;

    (void)state;
    assert_int_equal(0, social_kinds_parse("like,fire", &k));
    assert_int_equal(
        0, social_body_batch(T_BODY("[{\"stream\":\"s1\",\"kind\":\"like\",\"window_start\":1250,"
                                    "\"count\":3},{\"video\":\"v\",\"kind\":\"fire\","
                                    "\"window_start\":999,\"count\":1}]"),
                             &k, 1000, &b, &e));
    assert_int_equal(2, b.n);
    assert_string_equal("", b.edge);
    assert_int_equal('s', b.d[0].target.kind);
    assert_string_equal("s1", b.d[0].target.id);
    assert_int_equal(1000, b.d[0].bucket_ms); /* rounded down to the bucket */
    assert_int_equal(3, b.d[0].count);
    assert_int_equal('v', b.d[1].target.kind);
    assert_int_equal(0, b.d[1].bucket_ms);
    social_batch_clear(&b);
    assert_int_equal(0, social_body_batch(T_BODY("{\"edge\":\"edge-1\",\"seq\":7,\"deltas\":[{"
                                                 "\"stream\":\"s\",\"kind\":\"like\","
                                                 "\"window_start\":0,\"count\":1}]}"),
                                          &k, 250, &b, &e));
    assert_string_equal("edge-1", b.edge);
    assert_int_equal(7, b.seq);
    social_batch_clear(&b);

    static const struct {
        const char *body, *code;
    } bad[] = {
        {"[]", "bad_value"},
        {"{}", "missing_field"},
        {"{\"deltas\":{}}", "wrong_type"},
        {"{\"edge\":\"e\",\"deltas\":[]}", "missing_field"}, /* an edge needs its seq */
        {"{\"edge\":\"e f\",\"seq\":1,\"deltas\":[]}", "bad_value"},
        {"[1]", "wrong_type"},
        {"[{\"kind\":\"like\",\"window_start\":0,\"count\":1}]", "missing_field"},
        {"[{\"stream\":\"a/b\",\"kind\":\"like\",\"window_start\":0,\"count\":1}]", "bad_id"},
        {"[{\"stream\":\"s\",\"kind\":\"meh\",\"window_start\":0,\"count\":1}]", "unknown_kind"},
        {"[{\"stream\":\"s\",\"kind\":\"like\",\"window_start\":-1,\"count\":1}]", "bad_value"},
        {"[{\"stream\":\"s\",\"kind\":\"like\",\"window_start\":0,\"count\":0}]", "bad_value"},
        {"[{\"stream\":\"s\",\"kind\":\"like\",\"window_start\":0,\"count\":1000001}]",
         "bad_value"},
        {"[{\"stream\":\"s\",\"kind\":\"like\",\"window_start\":0,\"count\":\"1\"}]", "wrong_type"},
        {"\"x\"", "bad_json"}, /* a bare string is not a JSON text jansson takes */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(ERR_INVAL, social_body_batch(T_BODY(bad[i].body), &k, 1000, &b, &e));
        assert_null(b.d);
        assert_int_equal(400, e.status);
        assert_string_equal(bad[i].code, e.code);
    }
    /* 1025 deltas: too many. */
    big = xmalloc(SOCIAL_BATCH_BODY_MAX * 2);
    n = 0;
    big[n++] = '[';
    for (int i = 0; i < META_BATCH_MAX + 1; i++)
        n += (size_t)snprintf(big + n, SOCIAL_BATCH_BODY_MAX * 2 - n,
                              "%s{\"stream\":\"s\",\"kind\":\"like\",\"window_start\":%d,"
                              "\"count\":1}",
                              i ? "," : "", i);
    big[n++] = ']';
    assert_int_equal(ERR_INVAL, social_body_batch(big, n, &k, 1000, &b, &e));
    assert_string_equal("bad_value", e.code);
    xfree(big);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_social_routes),  cmocka_unit_test(test_social_query),
        cmocka_unit_test(test_social_kinds),   cmocka_unit_test(test_social_bodies),
        cmocka_unit_test(test_social_batches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
