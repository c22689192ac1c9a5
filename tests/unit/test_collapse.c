/*
 * test_collapse.c -- the collapse table without HTTP (edge/collapse.c):
 * who leads and who joins, the waiting list's bound, which heads late
 * clients may join, failures and timeouts reaching every waiter from the
 * loop, background entries, and that every entry, sub and block is freed.
 * Streaming to clients needs httpd: the scenario tests cover it
 * (tests/scenario/test_edge_collapse.py).
 */
#include <event2/buffer.h>
#include <event2/event.h>

#include "unit.h"
#include "../../edge/collapse.c"
#include "../../edge/edge_obj.c"

struct seen {
    int heads, fails, timeouts;
    bool mine;
};

static struct seen seen;

static void
t_on_head(struct collapse_waiter *wt, const struct collapse_head *hd, bool mine, int err)
{
    if (hd != NULL) {
        seen.heads++;
        seen.mine = mine;
    } else if (err == ERR_TIMEOUT) {
        seen.timeouts++;
    } else {
        seen.fails++;
    }
    collapse_leave(wt);
}

static void
t_on_done(struct collapse_waiter *wt, int err)
{
    (void)wt;
    (void)err;
}

static const struct collapse_waiter_ops t_ops = {t_on_head, t_on_done};

static void
t_waiter(struct collapse_waiter *wt)
{
    memset(wt, 0, sizeof(*wt));
    wt->magic = COLLAPSE_WAITER_MAGIC;
    wt->ops = &t_ops;
}

static struct collapse_head *
t_head(bool shared)
{
    struct collapse_head *hd = xcalloc(1, sizeof(*hd));
    struct cache_meta m;
    int len;

    memset(&m, 0, sizeof(m));
    m.version = CACHE_META_VERSION;
    m.status = 200;
    m.swr = m.sie = CACHE_DELTA_ABSENT;
    hd->block = xmalloc(EDGE_OBJ_FIXED);
    len = edge_obj_build(hd->block, EDGE_OBJ_FIXED, EDGE_OBJ_RESPONSE, 200, &m, NULL, 0);
    assert_int_equal((int)EDGE_OBJ_FIXED, len);
    hd->block_len = (size_t)len;
    assert_int_equal(0, edge_obj_parse(hd->block, hd->block_len, &hd->obj));
    hd->status = 200;
    hd->shared = shared;
    hd->length = -1;
    return hd;
}

static void
run(struct event_base *base)
{
    int i;

    for (i = 0; i < 4; i++)
        (void)event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
test_lead_join_and_bound(void **state)
{
    int64_t live = mem_live();
    struct event_base *base = event_base_new();
    struct collapse_table *t = collapse_table_new();
    struct collapse_waiter w[4];
    struct collapse_entry *e = NULL, *e2 = NULL;
    struct collapse_loop cl;
    int i;

    (void)state;
    collapse_loop_init(&cl, t, base, 0);
    for (i = 0; i < 4; i++)
        t_waiter(&w[i]);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(COLLAPSE_LEADER, collapse_join(&cl, "/k", 2, &w[0], 3, &e));
    assert_non_null(e);
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/k", 2, &w[1], 3, &e2));
    assert_null(e2);
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/k", 2, &w[2], 3, &e2));
    assert_int_equal(ERR_LIMIT, collapse_join(&cl, "/k", 2, &w[3], 3, &e2));
    assert_int_equal(3, collapse_waiters(e));
    assert_true(collapse_busy(t, "/k", 2));
    assert_null(collapse_background(&cl, "/k", 2));
    /* a shared head: every waiter gets it, from the loop */
    collapse_publish(e, t_head(true), true);
    assert_int_equal(0, seen.heads);
    run(base);
    assert_int_equal(3, seen.heads);
    assert_true(seen.mine);
    /* complete and kept: a late client may still join (it reads from byte 0) */
    collapse_append(e, "abc", 3);
    collapse_finish(e, 0);
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/k", 2, &w[3], 3, &e2));
    assert_true(w[3].joined_done);
    run(base);
    assert_int_equal(4, seen.heads);
    collapse_unlist(e);
    assert_false(collapse_busy(t, "/k", 2));
    collapse_fetch_done(&e);
    assert_int_equal(0, collapse_table_count(t));
    collapse_table_free(&t);
    run(base);
    event_base_free(base);
    UNIT_END(live);
}

static void
test_private_head_and_failures(void **state)
{
    int64_t live = mem_live();
    struct event_base *base = event_base_new();
    struct collapse_table *t = collapse_table_new();
    struct collapse_waiter a, b, c;
    struct collapse_entry *e = NULL, *e2 = NULL;
    struct collapse_loop cl;

    (void)state;
    collapse_loop_init(&cl, t, base, 1);
    t_waiter(&a);
    t_waiter(&b);
    t_waiter(&c);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(COLLAPSE_LEADER, collapse_join(&cl, "/p", 2, &a, 10, &e));
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/p", 2, &b, 10, &e2));
    /* an answer for the leader alone: the others are told it is not theirs */
    collapse_publish(e, t_head(false), true);
    assert_int_equal(COLLAPSE_BUSY, collapse_join(&cl, "/p", 2, &c, 10, &e2));
    run(base);
    assert_int_equal(2, seen.heads);
    collapse_finish(e, 0);
    collapse_unlist(e);
    collapse_fetch_done(&e);

    /* a fetch that fails before its head: every waiter hears it at once */
    memset(&seen, 0, sizeof(seen));
    t_waiter(&a);
    t_waiter(&b);
    assert_int_equal(COLLAPSE_LEADER, collapse_join(&cl, "/f", 2, &a, 10, &e));
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/f", 2, &b, 10, &e2));
    collapse_finish(e, ERR_UPSTREAM);
    assert_false(collapse_busy(t, "/f", 2)); /* unlisted by the failure */
    run(base);
    assert_int_equal(2, seen.fails);
    collapse_fetch_done(&e);

    /* private entries never enter the table */
    t_waiter(&a);
    e = collapse_private(&cl, &a);
    assert_int_equal(0, collapse_table_count(t));
    collapse_leave(&a);
    collapse_finish(e, ERR_CLOSED);
    collapse_fetch_done(&e);
    collapse_table_free(&t);
    run(base);
    event_base_free(base);
    UNIT_END(live);
}

static void
test_wait_timeout(void **state)
{
    int64_t live = mem_live();
    struct event_base *base = event_base_new();
    struct collapse_table *t = collapse_table_new();
    struct collapse_waiter a, b;
    struct collapse_entry *e = NULL, *e2 = NULL;
    struct collapse_loop cl;

    (void)state;
    collapse_loop_init(&cl, t, base, 2);
    cl.wait_timeout_ms = 20;
    t_waiter(&a);
    t_waiter(&b);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(COLLAPSE_LEADER, collapse_join(&cl, "/t", 2, &a, 10, &e));
    assert_int_equal(COLLAPSE_JOINED, collapse_join(&cl, "/t", 2, &b, 10, &e2));
    assert_int_equal(0, event_base_loop(base, EVLOOP_ONCE));
    while (seen.timeouts < 2)
        assert_int_equal(0, event_base_loop(base, EVLOOP_ONCE));
    assert_int_equal(0, collapse_waiters(e));
    /* the fetch goes on without them; a body window, then nobody: freed */
    collapse_publish(e, t_head(true), false);
    collapse_append(e, "xyz", 3);
    collapse_finish(e, 0);
    collapse_unlist(e);
    collapse_fetch_done(&e);
    collapse_table_free(&t);
    run(base);
    event_base_free(base);
    UNIT_END(live);
}

static void
test_body_blocks(void **state)
{
    int64_t live = mem_live();
    struct event_base *base = event_base_new();
    struct collapse_table *t = collapse_table_new();
    struct collapse_entry *e;
    struct collapse_loop cl;
    struct evbuffer *buf;
    struct collapse_head *hd;
    uint8_t data[COLLAPSE_BLOCK + 100], *p;
    size_t i;

    (void)state;
    collapse_loop_init(&cl, t, base, 3);
    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    e = collapse_background(&cl, "/b", 2);
    assert_non_null(e);
    hd = t_head(true);
    hd->length = (int64_t)sizeof(data);
    collapse_publish(e, hd, true);
    collapse_append(e, data, 1000);
    collapse_append(e, data + 1000, sizeof(data) - 1000);
    assert_int_equal(sizeof(data), collapse_body_len(e));
    buf = collapse_body_buffer(e);
    assert_non_null(buf);
    assert_int_equal(sizeof(data), evbuffer_get_length(buf));
    p = evbuffer_pullup(buf, -1);
    assert_memory_equal(data, p, sizeof(data));
    collapse_finish(e, 0);
    collapse_unlist(e);
    collapse_fetch_done(&e);
    /* the buffer's references keep the blocks after the entry is gone */
    p = evbuffer_pullup(buf, -1);
    assert_memory_equal(data, p, sizeof(data));
    evbuffer_free(buf);
    collapse_table_free(&t);
    run(base);
    event_base_free(base);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lead_join_and_bound),
        cmocka_unit_test(test_private_head_and_failures),
        cmocka_unit_test(test_wait_timeout),
        cmocka_unit_test(test_body_blocks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
