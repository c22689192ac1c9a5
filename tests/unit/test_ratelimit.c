/*
 * test_ratelimit.c -- the edge's token buckets: a burst then the rate,
 * Retry-After, keys independent of each other, a full table reusing the
 * least recently used bucket, rate 0 meaning no limit.
 *
 * edge/ is compiled into cascade-edge only, so the module is included.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../edge/ratelimit.c"

static void
test_ratelimit_burst_then_rate(void **state)
{
    int64_t live = mem_live();
    struct ratelimit *rl = ratelimit_new(64, 2, 5, 42);
    uint32_t ra = 0;
    int i;

    (void)state;
    for (i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "a", 1, 1000, &ra));
    assert_false(ratelimit_take(rl, "a", 1, 1000, &ra));
    assert_int_equal(1, ra); /* 500 ms to the next token: rounded up to 1 s */
    /* 2 per second: one token back after 500 ms, not before */
    assert_false(ratelimit_take(rl, "a", 1, 1499, &ra));
    assert_true(ratelimit_take(rl, "a", 1, 1500, &ra));
    assert_false(ratelimit_take(rl, "a", 1, 1500, &ra));
    /* a long pause fills the bucket up to the burst, no more */
    for (i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "a", 1, 1000000, &ra));
    assert_false(ratelimit_take(rl, "a", 1, 1000000, &ra));
    ratelimit_check(rl);
    ratelimit_free(&rl);
    assert_null(rl);
    UNIT_END(live);
}

static void
test_ratelimit_retry_after_slow_rate(void **state)
{
    int64_t live = mem_live();
    struct ratelimit *rl = ratelimit_new(16, 1, 1, 7);
    uint32_t ra = 0;

    (void)state;
    assert_true(ratelimit_take(rl, "tok", 3, 0, &ra));
    assert_false(ratelimit_take(rl, "tok", 3, 100, &ra));
    assert_int_equal(1, ra);
    ratelimit_set(rl, 0, 1); /* 0: no limit at all */
    assert_true(ratelimit_take(rl, "tok", 3, 100, &ra));
    ratelimit_free(&rl);
    UNIT_END(live);
}

static void
test_ratelimit_keys_are_independent(void **state)
{
    int64_t live = mem_live();
    struct ratelimit *rl = ratelimit_new(1024, 1, 2, 1);
    char key[32];
    int i, n;

    (void)state;
    for (i = 0; i < 100; i++) {
        n = snprintf(key, sizeof(key), "10.0.0.%d", i);
        assert_true(ratelimit_take(rl, key, (size_t)n, 0, NULL));
        assert_true(ratelimit_take(rl, key, (size_t)n, 0, NULL));
        assert_false(ratelimit_take(rl, key, (size_t)n, 0, NULL));
    }
    assert_int_equal(100, ratelimit_count(rl));
    ratelimit_check(rl);
    ratelimit_free(&rl);
    UNIT_END(live);
}

static void
test_ratelimit_full_table_reuses_oldest(void **state)
{
    int64_t live = mem_live();
    struct ratelimit *rl = ratelimit_new(16, 1, 1, 3);
    char key[32];
    int i, n;

    (void)state;
    /* far more keys than slots: the table never grows */
    for (i = 0; i < 10000; i++) {
        n = snprintf(key, sizeof(key), "k%d", i);
        assert_true(ratelimit_take(rl, key, (size_t)n, (uint64_t)i, NULL));
        ratelimit_check(rl);
    }
    assert_true(ratelimit_count(rl) <= 16);
    /* the newest key is still remembered (and empty) */
    assert_false(ratelimit_take(rl, key, (size_t)n, 9999, NULL));
    ratelimit_free(&rl);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_rate),
        cmocka_unit_test(test_ratelimit_retry_after_slow_rate),
        cmocka_unit_test(test_ratelimit_keys_are_independent),
        cmocka_unit_test(test_ratelimit_full_table_reuses_oldest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
