/*
 * test_upstream.c -- the edge's upstream set: the try order (origin group,
 * shield ring), passive health, active probes with rise and fall against a
 * server in the test's loop, the lone-member rule, reload generations, and
 * the CDN-Loop scanner.
 *
 * edge/ is compiled into cascade-edge only, so the modules are included.
 * Members are literal addresses (dns.c answers them from the loop without a
 * query); names through a real DNS server are test_dns.c's and
 * tests/scenario/test_shield.py's.
 */
#include <stdio.h>
#include <string.h>

#include <event2/listener.h>

#include "http_test.h"
#include "dns.h"
#include "err.h"
#include "metrics.h"
#include "../../edge/shield_pick.c"
#include "../../edge/upstream.c"
#include "../../edge/upstream_loop.c"

static struct {
    struct event_base *base;
    struct dns *dns;
} S;

static void
s_start(void)
{
    struct dns_conf c;

    S.base = event_base_new();
    assert_non_null(S.base);
    dns_conf_defaults(&c);
    c.servers = "127.0.0.1:9"; /* never asked: every member is a literal */
    assert_int_equal(0, dns_new(S.base, &c, &S.dns));
}

static void
s_stop(void)
{
    dns_free(&S.dns);
    ht_settle(S.base);
    event_base_free(S.base);
}

/*
 * Metrics series live for the process: a set made and freed once first
 * registers those of list, so the test's live count sees only its own.
 */
static int64_t
warm(const char *list)
{
    struct upstream_conf c;
    struct upstream_set *s = NULL;

    s_start();
    upstream_conf_defaults(&c);
    c.hash = true;
    if (upstream_set_new(S.base, S.dns, &c, list, 0, &s) == 0)
        upstream_set_free(&s);
    c.hash = false;
    if (upstream_set_new(S.base, S.dns, &c, list, 0, &s) == 0)
        upstream_set_free(&s);
    s_stop();
    return mem_live();
}

static struct upstream_set *
set_new(const char *list, bool hash, uint32_t interval_ms)
{
    struct upstream_conf c;
    struct upstream_set *s = NULL;
    unsigned i;

    upstream_conf_defaults(&c);
    c.hash = hash;
    c.health_interval_ms = interval_ms;
    c.health_timeout_ms = 200;
    c.fail_window_ms = 500;
    assert_int_equal(0, upstream_set_new(S.base, S.dns, &c, list, 0, &s));
    for (i = 0; i < upstream_count(s); i++)
        HT_WAIT(S.base, upstream_naddrs(s, i) > 0, 1000);
    for (i = 0; i < upstream_count(s); i++)
        assert_int_equal(1, upstream_naddrs(s, i));
    upstream_set_check(s);
    return s;
}

/* The members a fetch for key would try, in order, as indexes; returns how many. */
static unsigned
try_order(struct upstream_set *s, const char *key, int *out)
{
    struct upstream_ticket t;
    unsigned n = 0;

    memset(&t, 0, sizeof(t));
    while (upstream_next(s, key, strlen(key), &t) == 0) {
        out[n++] = t.member;
        upstream_done(s, &t, UPSTREAM_NEUTRAL);
    }
    return n;
}

static void
report(struct upstream_set *s, unsigned member, enum upstream_result r)
{
    struct upstream_ticket t;

    memset(&t, 0, sizeof(t));
    for (;;) {
        assert_int_equal(0, upstream_next(s, "/k", 2, &t));
        if (t.member == (int)member)
            break;
        upstream_done(s, &t, UPSTREAM_NEUTRAL);
    }
    upstream_done(s, &t, r);
}

static void
test_origin_group_order_and_passive_health(void **state)
{
    struct upstream_set *s;
    int64_t live;
    int o[UPSTREAM_MAX];

    (void)state;
    live = warm("127.0.0.1:1001,127.0.0.1:1002,[::1]:1003");
    s_start();
    s = set_new("127.0.0.1:1001,127.0.0.1:1002,[::1]:1003", false, 0);

    assert_int_equal(3, try_order(s, "/a", o));
    assert_int_equal(0, o[0]);
    assert_int_equal(1, o[1]);
    assert_int_equal(2, o[2]);
    /* two failures in the window: still up; the third takes it down */
    report(s, 0, UPSTREAM_CONNECT);
    report(s, 0, UPSTREAM_5XX);
    assert_true(upstream_is_up(s, 0));
    report(s, 0, UPSTREAM_TIMEOUT);
    assert_false(upstream_is_up(s, 0));
    assert_int_equal(2, try_order(s, "/a", o));
    assert_int_equal(1, o[0]);
    assert_int_equal(2, o[1]);
    /* successes and neutral results do not count as failures */
    report(s, 1, UPSTREAM_OK);
    report(s, 1, UPSTREAM_NEUTRAL);
    report(s, 1, UPSTREAM_OK);
    assert_true(upstream_is_up(s, 1));
    /* no probes: a down member gets another chance after the window (500 ms) */
    ht_spin(S.base, 600);
    assert_int_equal(3, try_order(s, "/a", o));
    assert_true(upstream_is_up(s, 0));
    upstream_set_check(s);

    upstream_set_free(&s);
    s_stop();
    UNIT_END(live);
}

static void
test_a_lone_member_is_never_taken_out(void **state)
{
    struct upstream_set *s;
    int64_t live;
    int o[UPSTREAM_MAX], i;

    (void)state;
    live = warm("127.0.0.1:1001");
    s_start();
    s = set_new("127.0.0.1:1001", true, 50);
    for (i = 0; i < 10; i++)
        report(s, 0, UPSTREAM_CONNECT);
    assert_true(upstream_is_up(s, 0));
    assert_int_equal(1, try_order(s, "/a", o));
    ht_spin(S.base, 120); /* and nothing is probed */
    assert_int_equal(0, metric_value(metrics_counter_l("edge.upstream.member_probes", "",
                                                       "upstream", "127.0.0.1:1001")));
    upstream_set_free(&s);
    s_stop();
    UNIT_END(live);
}

static void
test_ring_order_follows_shield_pick_and_skips_down_members(void **state)
{
    static const char *const names[] = {"127.0.0.2:8082", "127.0.0.3:8082", "127.0.0.4:8082"};
    struct shield_pick *ref;
    struct upstream_set *s;
    char key[64];
    int o[UPSTREAM_MAX], ids[3], err, i, j, n, moved = 0, stayed = 0;
    int64_t live;

    (void)state;
    live = warm("127.0.0.2:8082,127.0.0.3:8082,127.0.0.4:8082");
    s_start();
    s = set_new("127.0.0.2:8082,127.0.0.3:8082,127.0.0.4:8082", true, 0);
    ref = shield_pick_new(NULL, &err);
    for (i = 0; i < 3; i++)
        assert_true(shield_pick_add(ref, names[i], SHIELD_PICK_WEIGHT_DEFAULT) >= 0);

    for (i = 0; i < 300; i++) {
        (void)snprintf(key, sizeof(key), "/live/a/v1/%d.m4s", i * 2000);
        n = (int)try_order(s, key, o);
        assert_int_equal(3, n);
        assert_int_equal(3, (int)shield_pick_order(ref, key, strlen(key), ids, 3));
        for (j = 0; j < 3; j++)
            assert_string_equal(names[ids[j]], upstream_name(s, (unsigned)o[j]));
    }
    /* member 1 down: its keys go to the next on the ring, no other key moves */
    for (i = 0; i < 3; i++)
        report(s, 1, UPSTREAM_CONNECT);
    assert_false(upstream_is_up(s, 1));
    upstream_set_check(s);
    for (i = 0; i < 300; i++) {
        (void)snprintf(key, sizeof(key), "/live/a/v1/%d.m4s", i * 2000);
        assert_int_equal(3, (int)shield_pick_order(ref, key, strlen(key), ids, 3));
        assert_int_equal(2, (int)try_order(s, key, o));
        if (strcmp(names[ids[0]], names[1]) == 0) {
            assert_string_equal(names[ids[1]], upstream_name(s, (unsigned)o[0]));
            moved++;
        } else {
            assert_string_equal(names[ids[0]], upstream_name(s, (unsigned)o[0]));
            stayed++;
        }
    }
    assert_true(moved > 50 && stayed > 150);
    printf("# one of 3 shields down: %d of 300 keys moved, %d stayed\n", moved, stayed);

    shield_pick_free(&ref);
    upstream_set_free(&s);
    s_stop();
    UNIT_END(live);
}

/* ---- a health endpoint in the test's loop ---- */

static struct {
    struct evconnlistener *lev;
    int status; /* what /healthz answers */
    unsigned requests;
} HS;

static void
h_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;
    char resp[96];

    (void)arg;
    for (;;) {
        end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0)
            return;
        evbuffer_drain(in, (size_t)end.pos + 4);
        HS.requests++;
        (void)snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", HS.status);
        bufferevent_write(bev, resp, strlen(resp));
    }
}

static void
h_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void
h_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct bufferevent *bev;

    (void)lev;
    (void)sa;
    (void)salen;
    (void)arg;
    bev = bufferevent_socket_new(S.base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, h_read_cb, NULL, h_event_cb, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Listens on 127.0.0.1:port (a port just released by the test). */
static void
h_listen(uint16_t port)
{
    struct sockaddr_in a = ht_addr(port);
    int fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(0, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
    assert_int_equal(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
    assert_int_equal(0, listen(fd, 16));
    assert_int_equal(0, evutil_make_socket_nonblocking(fd));

    HS.lev = evconnlistener_new(S.base, h_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    assert_non_null(HS.lev);
}

static void
test_probes_take_a_member_down_and_bring_it_back(void **state)
{
    struct upstream_set *s;
    uint16_t good, bad;
    char list[64];
    int o[UPSTREAM_MAX], fd;
    int64_t live;

    (void)state;
    fd = ht_listen(&good, 16);
    close(fd);
    fd = ht_listen(&bad, 1);
    close(fd); /* nothing listens on `bad`: connections are refused */
    (void)snprintf(list, sizeof(list), "127.0.0.1:%u,127.0.0.1:%u", good, bad);
    live = warm(list);
    s_start();
    memset(&HS, 0, sizeof(HS));
    HS.status = 200;
    h_listen(good);
    s = set_new(list, false, 50);

    /* fall = 2 refused probes at 50 ms */
    HT_WAIT(S.base, !upstream_is_up(s, 1), 1000);
    assert_false(upstream_is_up(s, 1));
    assert_true(upstream_is_up(s, 0));
    assert_true(HS.requests >= 2);
    assert_int_equal(1, try_order(s, "/a", o));
    assert_int_equal(0, o[0]);

    /* a 503 from the health path counts as a failed probe */
    HS.status = 503;
    HT_WAIT(S.base, !upstream_is_up(s, 0), 1000);
    assert_false(upstream_is_up(s, 0));
    assert_int_equal(0, try_order(s, "/a", o)); /* every member down: nothing to try */
    HS.status = 200;
    HT_WAIT(S.base, upstream_is_up(s, 0), 1000); /* rise = 2 good probes */
    assert_true(upstream_is_up(s, 0));
    assert_false(upstream_is_up(s, 1));
    upstream_set_check(s);

    upstream_set_free(&s);
    evconnlistener_free(HS.lev);
    ht_settle(S.base);
    s_stop();
    UNIT_END(live);
}

static void
test_a_ticket_of_an_older_set_is_ignored(void **state)
{
    struct upstream_set *a, *b;
    struct upstream_ticket t;
    int64_t live;
    int i;

    (void)state;
    live = warm("127.0.0.1:1001,127.0.0.1:1002");
    s_start();
    a = set_new("127.0.0.1:1001,127.0.0.1:1002", true, 0);
    b = set_new("127.0.0.1:1001,127.0.0.1:1002", true, 0);
    assert_true(upstream_gen(a) != upstream_gen(b));
    memset(&t, 0, sizeof(t));
    assert_int_equal(0, upstream_next(a, "/k", 2, &t));
    for (i = 0; i < 5; i++) {
        struct upstream_ticket u = t;

        upstream_done(b, &u, UPSTREAM_CONNECT); /* another generation: no effect */
    }
    assert_true(upstream_is_up(b, 0) && upstream_is_up(b, 1));
    assert_int_equal(1, (int)shield_pick_load_total(a->ring));
    upstream_done(a, &t, UPSTREAM_OK);
    assert_int_equal(0, (int)shield_pick_load_total(a->ring));
    /* a ticket used on a new set starts over there */
    assert_int_equal(0, upstream_next(b, "/k", 2, &t));
    assert_int_equal(upstream_gen(b), t.gen);
    upstream_done(b, &t, UPSTREAM_OK);
    upstream_set_free(&a);
    upstream_set_free(&b);
    s_stop();
    UNIT_END(live);
}

static void
test_a_rebuilt_set_inherits_addresses_and_down_members(void **state)
{
    struct upstream_conf c;
    struct upstream_set *a, *b = NULL;
    int64_t live;
    int o[UPSTREAM_MAX];
    int i;

    (void)state;
    (void)warm("127.0.0.1:1001,127.0.0.1:1002,127.0.0.1:1003");
    live = warm("127.0.0.1:1001,127.0.0.1:1002");
    s_start();
    a = set_new("127.0.0.1:1001,127.0.0.1:1002", true, 0);
    for (i = 0; i < 3; i++)
        report(a, 1, UPSTREAM_CONNECT);
    assert_false(upstream_is_up(a, 1));

    upstream_conf_defaults(&c);
    c.health_interval_ms = 0;
    assert_int_equal(0, upstream_set_new(S.base, S.dns, &c,
                                         "127.0.0.1:1002,127.0.0.1:1003,"
                                         "127.0.0.1:1001",
                                         0, &b));
    upstream_set_inherit(b, a);
    upstream_set_free(&a);
    /* usable at once, before any loop turn: the inherited addresses */
    assert_int_equal(1, upstream_naddrs(b, 0));
    assert_int_equal(0, upstream_naddrs(b, 1)); /* new: waits for its own answer */
    assert_int_equal(1, upstream_naddrs(b, 2));
    assert_false(upstream_is_up(b, 0)); /* 1002 was down: it stays down */
    assert_true(upstream_is_up(b, 2));
    assert_int_equal(1, try_order(b, "/a", o));
    assert_int_equal(2, o[0]);
    upstream_set_check(b);
    upstream_set_free(&b);
    s_stop();
    UNIT_END(live);
}

static void
test_bad_lists_are_refused(void **state)
{
    struct upstream_conf c;
    struct upstream_set *s = NULL;
    int64_t live;

    (void)state;
    (void)warm("a:1");
    live = warm("127.0.0.1:1001");
    s_start();
    upstream_conf_defaults(&c);
    assert_int_equal(ERR_CONF, upstream_set_new(S.base, S.dns, &c, "", 0, &s));
    assert_int_equal(ERR_CONF, upstream_set_new(S.base, S.dns, &c, "nohostport", 0, &s));
    assert_int_equal(ERR_CONF, upstream_set_new(S.base, S.dns, &c, "a:1,a:1", 0, &s));
    assert_null(s);
    ht_settle(S.base);
    s_stop();
    UNIT_END(live);
}

/* ---- CDN-Loop ---- */

static struct upstream_loop_scan
scan(const char *v, const char *id)
{
    struct upstream_loop_scan st = {0};

    upstream_loop_scan(&st, v, strlen(v), id, strlen(id));
    upstream_loop_check(&st, strlen(v));
    return st;
}

static void
test_cdn_loop_scan(void **state)
{
    struct upstream_loop_scan st;

    (void)state;
    st = scan("127.0.0.2:8081", "127.0.0.2:8081");
    assert_true(st.seen);
    assert_int_equal(1, (int)st.entries);
    st = scan("a.example:80, Edge-7 ; v=1 ,cdn-b", "edge-7");
    assert_true(st.seen); /* case-insensitive, parameters skipped */
    assert_int_equal(3, (int)st.entries);
    st = scan("foo; x=\"a, edge-7\", bar", "edge-7");
    assert_false(st.seen); /* the comma and the id sit inside a quoted string */
    assert_int_equal(2, (int)st.entries);
    st = scan("foo; x=\"a\\\", edge-7\", bar", "edge-7");
    assert_false(st.seen); /* an escaped quote does not end the string */
    assert_int_equal(2, (int)st.entries);
    st = scan(" , ,, ", "x");
    assert_int_equal(0, (int)st.entries);
    st = scan("edge-70,xedge-7", "edge-7");
    assert_false(st.seen);
    assert_int_equal(2, (int)st.entries);
    st = scan("a", "");
    assert_false(st.seen);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_group_order_and_passive_health),
        cmocka_unit_test(test_a_lone_member_is_never_taken_out),
        cmocka_unit_test(test_ring_order_follows_shield_pick_and_skips_down_members),
        cmocka_unit_test(test_probes_take_a_member_down_and_bring_it_back),
        cmocka_unit_test(test_a_ticket_of_an_older_set_is_ignored),
        cmocka_unit_test(test_a_rebuilt_set_inherits_addresses_and_down_members),
        cmocka_unit_test(test_bad_lists_are_refused),
        cmocka_unit_test(test_cdn_loop_scan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
