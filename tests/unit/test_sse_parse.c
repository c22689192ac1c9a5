/*
 * test_sse_parse.c -- the edge's decoder of the origin's event-log
 * answers and of Last-Event-ID; and the reaction table the edge sums
 * viewers' reactions in (both pure).
 *
 * edge/ is compiled into cascade-edge only, so the modules are included;
 * reactions.c's I/O half needs a few symbols of api_proxy.c, stubbed here.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../edge/sse_parse.c"
#include "../../edge/reactions.c"

struct api_metrics api_m;
struct edge edge_g;

bool
api_upstream_get(const struct api_loop *l, unsigned i, const struct sockaddr **sa, socklen_t *len)
{
    (void)l;
    (void)i;
    (void)sa;
    (void)len;
    return false;
}

int64_t
api_wall_ms(void)
{
    return 0;
}

uint64_t
api_mono_ms(void)
{
    return 0;
}

void
api_reply_error(struct httpd_req *r, int status, const char *code, const char *msg,
                unsigned retry_after_s)
{
    (void)r;
    (void)status;
    (void)code;
    (void)msg;
    (void)retry_after_s;
}

static int
decode(const char *text, struct sse_batch *b)
{
    return sse_batch_decode(text, strlen(text), b);
}

static void
test_sse_batch_decodes_every_type(void **state)
{
    int64_t live = mem_live();
    struct sse_batch *b = xmalloc(sizeof(*b));
    const char *answer =
        "{\"events\":["
        "{\"id\":5,\"type\":\"comment\",\"target\":{\"kind\":\"stream\",\"id\":\"live1\"},"
        "\"ts\":1,\"comment\":{\"id\":\"3\",\"text\":\"hi\\nthere\"}},"
        "{\"id\":6,\"type\":\"reactions\",\"target\":{\"kind\":\"stream\",\"id\":\"live1\"},"
        "\"ts\":2,\"bucket_ms\":61000,\"kind\":\"fire\",\"count\":7},"
        "{\"id\":7,\"type\":\"likes\",\"target\":{\"kind\":\"video\",\"id\":\"film\"},\"count\":3},"
        "{\"id\":8,\"type\":\"flash\",\"target\":{\"kind\":\"stream\",\"id\":\"live1\"}},"
        "{\"id\":9,\"type\":\"comment_deleted\",\"target\":{\"kind\":\"stream\",\"id\":\"a\"},"
        "\"comment_id\":\"3\"}"
        "],\"first\":1,\"last\":12,\"reset\":false}";

    (void)state;
    assert_int_equal(0, decode(answer, b));
    sse_batch_check(b);
    assert_int_equal(4, b->n); /* the unknown "flash" is skipped */
    assert_int_equal(9, b->upto);
    assert_int_equal(12, b->last);
    assert_false(b->reset);
    assert_int_equal(SSE_EV_COMMENT, b->ev[0].type);
    assert_int_equal('s', b->ev[0].tkind);
    assert_string_equal("live1", b->ev[0].tid);
    /* the data line stays one line: JSON escapes the newline */
    assert_null(strchr(b->ev[0].json, '\n'));
    assert_int_equal(SSE_EV_REACTIONS, b->ev[1].type);
    assert_int_equal(61000, b->ev[1].bucket_ms);
    assert_int_equal(7, b->ev[1].count);
    assert_string_equal("fire", b->ev[1].kind);
    assert_int_equal('v', b->ev[2].tkind);
    assert_int_equal(SSE_EV_DELETED, b->ev[3].type);
    sse_batch_clear(b);
    xfree(b);
    UNIT_END(live);
}

static void
test_sse_batch_refuses_bad_answers(void **state)
{
    int64_t live = mem_live();
    struct sse_batch *b = xmalloc(sizeof(*b));
    static const char *const bad[] = {
        "",
        "[]",
        "{\"events\":[],\"first\":0,\"last\":0}",                  /* no reset */
        "{\"events\":{},\"first\":0,\"last\":0,\"reset\":false}",  /* not an array */
        "{\"events\":[],\"first\":0,\"last\":-1,\"reset\":false}", /* negative */
        /* ids must grow */
        "{\"events\":[{\"id\":3,\"type\":\"likes\",\"target\":{\"kind\":\"video\",\"id\":\"v\"},"
        "\"count\":1},{\"id\":3,\"type\":\"likes\",\"target\":{\"kind\":\"video\",\"id\":\"v\"},"
        "\"count\":1}],\"first\":1,\"last\":3,\"reset\":false}",
        /* an id above last */
        "{\"events\":[{\"id\":9,\"type\":\"likes\",\"target\":{\"kind\":\"video\",\"id\":\"v\"},"
        "\"count\":1}],\"first\":1,\"last\":3,\"reset\":false}",
        /* reactions without a count */
        "{\"events\":[{\"id\":1,\"type\":\"reactions\",\"target\":{\"kind\":\"video\",\"id\":\"v\"}"
        ","
        "\"bucket_ms\":0,\"kind\":\"x\"}],\"first\":1,\"last\":3,\"reset\":false}",
        /* duplicate keys */
        "{\"events\":[],\"events\":[],\"first\":0,\"last\":0,\"reset\":false}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_true(decode(bad[i], b) < 0);
        assert_int_equal(0, b->n);
    }
    /* a bad target id is skipped, not fatal; its id still moves us on */
    assert_int_equal(0, decode("{\"events\":[{\"id\":4,\"type\":\"likes\",\"target\":{\"kind\":"
                               "\"video\",\"id\":\"../x\"},\"count\":1}],\"first\":1,\"last\":4,"
                               "\"reset\":true}",
                               b));
    assert_int_equal(0, b->n);
    assert_int_equal(4, b->upto);
    assert_true(b->reset);
    sse_batch_clear(b);
    xfree(b);
    UNIT_END(live);
}

static void
test_sse_last_event_id(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(0, sse_last_id_parse("0", &v));
    assert_int_equal(0, v);
    assert_int_equal(0, sse_last_id_parse("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    assert_int_equal(ERR_PROTO, sse_last_id_parse("18446744073709551616", &v));
    assert_int_equal(ERR_PROTO, sse_last_id_parse("", &v));
    assert_int_equal(ERR_PROTO, sse_last_id_parse("-1", &v));
    assert_int_equal(ERR_PROTO, sse_last_id_parse("1 ", &v));
    assert_int_equal(ERR_PROTO, sse_last_id_parse("x1", &v));
}

static void
test_reactions_table_sums_per_window(void **state)
{
    int64_t live = mem_live();
    struct reactions_table *t = reactions_table_new(4);
    struct reactions_delta d = {.tkind = 's', .id = "live1", .kind = "like", .window_ms = 250};
    struct reactions_delta out[8];
    size_t n, i;
    int k;

    (void)state;
    for (k = 0; k < 1000; k++)
        assert_int_equal(0, reactions_table_add(t, &d));
    d.window_ms = 500;
    assert_int_equal(0, reactions_table_add(t, &d));
    memcpy(d.kind, "fire", 5);
    assert_int_equal(0, reactions_table_add(t, &d));
    d.tkind = 'v';
    assert_int_equal(0, reactions_table_add(t, &d));
    d.window_ms = 750; /* a fifth key: the table holds four */
    assert_int_equal(ERR_LIMIT, reactions_table_add(t, &d));
    reactions_table_check(t);
    assert_int_equal(4, reactions_table_count(t));
    n = reactions_table_take(t, out, 2); /* a batch holds what it can */
    assert_int_equal(2, n);
    n += reactions_table_take(t, out + 2, 8);
    assert_int_equal(4, n);
    assert_int_equal(0, reactions_table_count(t));
    k = 0;
    for (i = 0; i < n; i++)
        k += (int)out[i].count;
    assert_int_equal(1003, k);
    reactions_table_check(t);
    reactions_table_free(&t);
    assert_null(t);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_batch_decodes_every_type),
        cmocka_unit_test(test_sse_batch_refuses_bad_answers),
        cmocka_unit_test(test_sse_last_event_id),
        cmocka_unit_test(test_reactions_table_sums_per_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
