/*
 * test_shield_pick.c -- the shield ring: how many keys move, how evenly
 * they spread, what marking down does, that every process builds the same
 * ring, and the bounded-load rule.
 *
 * edge/ is compiled into cascade-edge only, so the module is included.
 * Keys are 100,000 segment paths as the cache normalizes them. The numbers
 * printed with '#' are the ones docs/upstreams.md quotes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "../../edge/shield_pick.c"

#define NKEYS 100000

static char keys[NKEYS][48];
static size_t keylen[NKEYS];
static int home_a[NKEYS], home_b[NKEYS];

static void
keys_init(void)
{
    int i, n;

    for (i = 0; i < NKEYS; i++) {
        n = snprintf(keys[i], sizeof(keys[i]), "/live/s%d/v%d/%d.m4s", i % 97, i % 5, i * 2000);
        assert_true(n > 0 && (size_t)n < sizeof(keys[i]));
        keylen[i] = (size_t)n;
    }
}

static void
shield_name(char *buf, size_t sz, int i)
{
    snprintf(buf, sz, "shield-%d.cascade.test:8081", i);
}

static struct shield_pick *
ring_new(int n, uint32_t vnodes, uint32_t balance_pct)
{
    struct shield_pick_conf c;
    struct shield_pick *sp;
    char name[64];
    int i, err = -1;

    shield_pick_conf_defaults(&c);
    if (vnodes != 0)
        c.vnodes = vnodes;
    c.balance_pct = balance_pct;
    sp = shield_pick_new(&c, &err);
    assert_non_null(sp);
    assert_int_equal(0, err);
    for (i = 0; i < n; i++) {
        shield_name(name, sizeof(name), i);
        assert_int_equal(i, shield_pick_add(sp, name, SHIELD_PICK_WEIGHT_DEFAULT));
    }
    shield_pick_check(sp);
    return sp;
}

static void
homes(const struct shield_pick *sp, int *out)
{
    int i;

    for (i = 0; i < NKEYS; i++) {
        out[i] = shield_pick_home(sp, keys[i], keylen[i]);
        assert_true(out[i] >= 0);
    }
}

/* max / mean of the keys per member among the first n ids. */
static double
imbalance(const int *h, int n, int *counts)
{
    int i, max = 0;

    memset(counts, 0, (size_t)n * sizeof(*counts));
    for (i = 0; i < NKEYS; i++) {
        assert_true(h[i] >= 0 && h[i] < n);
        counts[h[i]]++;
    }
    for (i = 0; i < n; i++)
        if (counts[i] > max)
            max = counts[i];
    return (double)max / ((double)NKEYS / n);
}

/* ---- tests ---- */

static void
test_shield_pick_hash_is_fixed(void **state)
{
    (void)state;
    /* The definition in docs/upstreams.md; any change moves every key on every edge. */
    assert_int_equal(0xe220a8397b1dcdafULL, shield_pick_hash("", 0));
    assert_int_equal(0x283aeba882576babULL, shield_pick_hash("a", 1));
    assert_int_equal(0x00921321a6faf2c6ULL, shield_pick_hash("/live/a/720p/0.m4s", 18));
    assert_int_equal(0x3aed6c84b827accdULL, shield_pick_hash("shield-0.cascade.test:8081#0", 28));
}

static void
test_shield_pick_add_remove_moves_one_nth(void **state)
{
    static const int ns[] = {3, 10, 50};
    int64_t live = mem_live();
    struct shield_pick *sp;
    char name[64];
    int n, i, k, moved, id_new;
    double expect, frac;

    (void)state;
    for (k = 0; k < (int)ARRAY_SIZE(ns); k++) {
        n = ns[k];
        sp = ring_new(n, 0, 0);
        homes(sp, home_a);

        /* Adding one: about 1/(n+1) of the keys move, all of them to it. */
        shield_name(name, sizeof(name), n);
        id_new = shield_pick_add(sp, name, SHIELD_PICK_WEIGHT_DEFAULT);
        assert_int_equal(n, id_new);
        homes(sp, home_b);
        moved = 0;
        for (i = 0; i < NKEYS; i++) {
            if (home_a[i] != home_b[i]) {
                assert_int_equal(id_new, home_b[i]);
                moved++;
            }
        }
        expect = 1.0 / (n + 1);
        frac = (double)moved / NKEYS;
        printf("# n=%d add one: moved %.4f of keys (1/(n+1) = %.4f)\n", n, frac, expect);
        assert_true(frac > expect * 0.6 && frac < expect * 1.4);

        /* Removing it again restores every key exactly. */
        assert_int_equal(0, shield_pick_remove(sp, name));
        homes(sp, home_b);
        assert_memory_equal(home_a, home_b, sizeof(home_a));

        /* Removing one of the n: only its keys move, about 1/n. */
        shield_name(name, sizeof(name), 1);
        assert_int_equal(0, shield_pick_remove(sp, name));
        homes(sp, home_b);
        moved = 0;
        for (i = 0; i < NKEYS; i++) {
            if (home_a[i] != home_b[i]) {
                assert_int_equal(1, home_a[i]);
                moved++;
            } else {
                assert_int_not_equal(1, home_a[i]);
            }
        }
        expect = 1.0 / n;
        frac = (double)moved / NKEYS;
        printf("# n=%d remove one: moved %.4f of keys (1/n = %.4f)\n", n, frac, expect);
        assert_true(frac > expect * 0.6 && frac < expect * 1.4);
        shield_pick_check(sp);
        shield_pick_free(&sp);
        assert_null(sp);
    }
    UNIT_END(live);
}

static void
test_shield_pick_balance(void **state)
{
    static const int ns[] = {2, 3, 10, 50};
    static const uint32_t vn[] = {40, 160, 640};
    int64_t live = mem_live();
    struct shield_pick *sp;
    int counts[64], k, v;
    double r;

    (void)state;
    for (v = 0; v < (int)ARRAY_SIZE(vn); v++) {
        for (k = 0; k < (int)ARRAY_SIZE(ns); k++) {
            sp = ring_new(ns[k], vn[v], 0);
            homes(sp, home_a);
            r = imbalance(home_a, ns[k], counts);
            printf("# vnodes=%u n=%d: max/mean keys %.3f\n", vn[v], ns[k], r);
            if (vn[v] == 160)
                assert_true(r < 1.30); /* the default */
            if (vn[v] == 640)
                assert_true(r < 1.15);
            shield_pick_free(&sp);
        }
    }
    UNIT_END(live);
}

static void
test_shield_pick_weights(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp;
    int counts[4];
    double share;

    (void)state;
    sp = ring_new(4, 0, 0);
    assert_int_equal(0, shield_pick_set_weight(sp, "shield-0.cascade.test:8081", 200));
    assert_int_equal(320, sp->m[0].points);
    shield_pick_check(sp);
    homes(sp, home_a);
    (void)imbalance(home_a, 4, counts);
    share = (double)counts[0] / NKEYS;
    printf("# weights 200,100,100,100: member 0 gets %.3f of keys (expect 0.400)\n", share);
    assert_true(share > 0.33 && share < 0.47);
    assert_int_equal(ERR_INVAL, shield_pick_set_weight(sp, "shield-0.cascade.test:8081", 0));
    assert_int_equal(ERR_NOTFOUND, shield_pick_set_weight(sp, "nope", 100));
    shield_pick_free(&sp);
    UNIT_END(live);
}

static void
test_shield_pick_down_moves_only_its_keys(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp;
    int counts[10], i, moved = 0, takers = 0, most = 0;

    (void)state;
    sp = ring_new(10, 0, 0);
    homes(sp, home_a);
    shield_pick_set_up(sp, 3, false);
    assert_false(shield_pick_is_up(sp, 3));
    homes(sp, home_b);
    memset(counts, 0, sizeof(counts));
    for (i = 0; i < NKEYS; i++) {
        if (home_a[i] == 3) {
            assert_int_not_equal(3, home_b[i]);
            counts[home_b[i]]++;
            moved++;
        } else {
            assert_int_equal(home_a[i], home_b[i]);
        }
    }
    /* Spread over the others by the virtual nodes, not dumped on one neighbour. */
    for (i = 0; i < 10; i++) {
        if (counts[i] > 0)
            takers++;
        if (counts[i] > most)
            most = counts[i];
    }
    printf("# n=10, one down: %d keys moved, to %d of the 9 others, largest share %.3f\n", moved,
           takers, (double)most / moved);
    assert_int_equal(9, takers);
    for (i = 0; i < 10; i++)
        assert_true(counts[i] < moved / 4);
    /* Down matches removal key for key, and up restores everything. */
    shield_pick_set_up(sp, 3, true);
    homes(sp, home_b);
    assert_memory_equal(home_a, home_b, sizeof(home_a));
    shield_pick_check(sp);
    shield_pick_free(&sp);
    UNIT_END(live);
}

/* One 64-bit digest of which member name every key lands on. */
static uint64_t
ring_digest(const struct shield_pick *sp)
{
    uint64_t d = 0;
    const char *name;
    int i, h;

    for (i = 0; i < NKEYS; i++) {
        h = shield_pick_home(sp, keys[i], keylen[i]);
        name = shield_pick_name(sp, h);
        d = shield_pick_mix(d ^ shield_pick_hash(name, strlen(name)));
    }
    return d;
}

static void
test_shield_pick_same_ring_everywhere(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp, *rev;
    uint64_t d, from_child = 0;
    char name[64];
    int i, fds[2], status;
    pid_t pid;

    (void)state;
    sp = ring_new(7, 0, 0);
    d = ring_digest(sp);
    printf("# ring digest n=7 over %d keys: 0x%016" PRIx64 "\n", NKEYS, d);
    /* Hard-coded: any host, build or process computes this very ring (an
     * independent Python rendering of docs/upstreams.md gives the same). */
    assert_int_equal(0x34fbeefb753410aaULL, d);

    /* Insertion order does not matter. */
    rev = shield_pick_new(NULL, NULL);
    assert_non_null(rev);
    for (i = 6; i >= 0; i--) {
        shield_name(name, sizeof(name), i);
        assert_true(shield_pick_add(rev, name, SHIELD_PICK_WEIGHT_DEFAULT) >= 0);
    }
    assert_int_equal(d, ring_digest(rev));
    shield_pick_free(&rev);

    /* Another process (another address-space layout) agrees. */
    assert_int_equal(0, pipe(fds));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct shield_pick *c = ring_new(7, 0, 0);
        uint64_t cd = ring_digest(c);

        _exit(write(fds[1], &cd, sizeof(cd)) == (ssize_t)sizeof(cd) ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(sizeof(from_child), read(fds[0], &from_child, sizeof(from_child)));
    close(fds[0]);
    assert_int_equal(pid, waitpid(pid, &status, 0));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(d, from_child);
    shield_pick_free(&sp);
    UNIT_END(live);
}

static void
test_shield_pick_bounded_load(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp;
    const char *hot = "/live/hot/720p/0.m4s";
    int ids[300], home, i, n = 300, spilled = 0;
    uint32_t maxload = 0;

    (void)state;
    sp = ring_new(3, 0, 125);
    home = shield_pick_home(sp, hot, strlen(hot));
    assert_true(home >= 0);
    /* 300 requests for one hot key in flight at once. */
    for (i = 0; i < n; i++) {
        ids[i] = shield_pick_acquire(sp, hot, strlen(hot));
        assert_true(ids[i] >= 0);
        assert_true(shield_pick_load(sp, ids[i]) <= shield_pick_cap(sp, ids[i]) ||
                    shield_pick_load(sp, ids[i]) == 1);
        if (ids[i] != home)
            spilled++;
    }
    assert_int_equal(n, shield_pick_load_total(sp));
    for (i = 0; i < 3; i++)
        if (shield_pick_load(sp, i) > maxload)
            maxload = shield_pick_load(sp, i);
    printf("# bounded load c=1.25, n=3, 300 in flight on one key: max load %u "
           "(cap %d), %d spilled\n",
           maxload, 125, spilled);
    assert_true(maxload <= 125); /* ceil(1.25 * 300 / 3) */
    assert_int_equal(n,
                     shield_pick_load(sp, 0) + shield_pick_load(sp, 1) + shield_pick_load(sp, 2));
    /* The first ones went home, the overflow to the next on the ring. */
    assert_int_equal(home, ids[0]);
    assert_true(spilled > 0);
    for (i = 0; i < n; i++)
        shield_pick_release(sp, ids[i]);
    assert_int_equal(0, shield_pick_load_total(sp));
    /* Idle again: the key goes home. */
    i = shield_pick_acquire(sp, hot, strlen(hot));
    assert_int_equal(home, i);
    shield_pick_release(sp, i);
    shield_pick_check(sp);
    shield_pick_free(&sp);

    /* Off (balance 0): everything stays home. */
    sp = ring_new(3, 0, 0);
    for (i = 0; i < 50; i++)
        assert_int_equal(home, shield_pick_acquire(sp, hot, strlen(hot)));
    assert_int_equal(50, shield_pick_load(sp, home));
    for (i = 0; i < 50; i++)
        shield_pick_release(sp, home);
    shield_pick_free(&sp);
    UNIT_END(live);
}

static void
test_shield_pick_bounded_load_random_keys(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp;
    static int held[NKEYS];
    int i, k, n = 10, same = 0;
    uint32_t maxload;
    uint64_t cap;

    (void)state;
    /* 20,000 keys in flight over 10 shields with c = 1.25: nobody over the cap. */
    sp = ring_new(n, 0, 125);
    for (i = 0; i < 20000; i++) {
        held[i] = shield_pick_acquire(sp, keys[i], keylen[i]);
        assert_true(held[i] >= 0);
        if (held[i] == shield_pick_home(sp, keys[i], keylen[i]))
            same++;
    }
    maxload = 0;
    for (k = 0; k < n; k++)
        if (shield_pick_load(sp, k) > maxload)
            maxload = shield_pick_load(sp, k);
    cap = (125 * 20000 + 100 * n - 1) / (100 * n);
    printf("# bounded load c=1.25, n=10, 20000 keys in flight: max load %u (cap %" PRIu64
           "), %.4f at home\n",
           maxload, cap, (double)same / 20000);
    assert_true(maxload <= cap);
    assert_true(same > 20000 * 9 / 10);
    for (i = 0; i < 20000; i++)
        shield_pick_release(sp, held[i]);
    assert_int_equal(0, shield_pick_load_total(sp));
    shield_pick_free(&sp);
    UNIT_END(live);
}

static void
test_shield_pick_order_is_failover(void **state)
{
    int64_t live = mem_live();
    struct shield_pick *sp;
    int ids[8], ids2[8], i;
    size_t n, k, j;

    (void)state;
    sp = ring_new(5, 0, 0);
    for (i = 0; i < 1000; i++) {
        n = shield_pick_order(sp, keys[i], keylen[i], ids, ARRAY_SIZE(ids));
        assert_int_equal(5, n);
        assert_int_equal(shield_pick_home(sp, keys[i], keylen[i]), ids[0]);
        for (k = 0; k < n; k++)
            for (j = k + 1; j < n; j++)
                assert_int_not_equal(ids[k], ids[j]);
        /* The home down: the second in order takes over, the rest keep their order. */
        shield_pick_set_up(sp, ids[0], false);
        assert_int_equal(ids[1], shield_pick_home(sp, keys[i], keylen[i]));
        assert_int_equal(4, shield_pick_order(sp, keys[i], keylen[i], ids2, ARRAY_SIZE(ids2)));
        assert_memory_equal(ids + 1, ids2, 4 * sizeof(int));
        shield_pick_set_up(sp, ids[0], true);
    }
    assert_int_equal(2, shield_pick_order(sp, keys[0], keylen[0], ids, 2));
    assert_int_equal(0, shield_pick_order(sp, keys[0], keylen[0], ids, 0));
    shield_pick_free(&sp);
    UNIT_END(live);
}

static void
test_shield_pick_membership(void **state)
{
    int64_t live = mem_live();
    struct shield_pick_conf c;
    struct shield_pick *sp;
    char name[SHIELD_PICK_NAME_MAX + 2];
    int i, id, id2, err = 0;

    (void)state;
    sp = ring_new(2, 0, 150);
    assert_int_equal(ERR_EXISTS, shield_pick_add(sp, "shield-0.cascade.test:8081", 100));
    assert_int_equal(ERR_INVAL, shield_pick_add(sp, "", 100));
    assert_int_equal(ERR_INVAL, shield_pick_add(sp, "x", 0));
    assert_int_equal(ERR_INVAL, shield_pick_add(sp, "x", SHIELD_PICK_WEIGHT_MAX + 1));
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(ERR_INVAL, shield_pick_add(sp, name, 100));
    name[SHIELD_PICK_NAME_MAX] = '\0';
    assert_true(shield_pick_add(sp, name, 100) >= 0);
    assert_int_equal(0, shield_pick_remove(sp, name));
    assert_int_equal(ERR_NOTFOUND, shield_pick_remove(sp, "nope"));
    assert_int_equal(ERR_NOTFOUND, shield_pick_find(sp, "nope"));
    assert_int_equal(1, shield_pick_find(sp, "shield-1.cascade.test:8081"));
    assert_string_equal("shield-1.cascade.test:8081", shield_pick_name(sp, 1));
    assert_int_equal(2, shield_pick_count(sp));
    assert_int_equal(320, shield_pick_points(sp));

    /* Removed with a request in flight: the id drains, then frees. */
    id = shield_pick_acquire(sp, "k", 1);
    assert_true(id >= 0);
    snprintf(name, sizeof(name), "%s", shield_pick_name(sp, id));
    assert_int_equal(0, shield_pick_remove(sp, name));
    assert_int_equal(ERR_NOTFOUND, shield_pick_find(sp, name));
    assert_int_equal(0, shield_pick_load_total(sp));
    assert_int_equal(1, shield_pick_load(sp, id));
    shield_pick_check(sp);
    /* ...and comes back with the same id and its load when re-added. */
    assert_int_equal(id, shield_pick_add(sp, name, 100));
    assert_int_equal(1, shield_pick_load_total(sp));
    assert_int_equal(0, shield_pick_remove(sp, name));
    shield_pick_release(sp, id);
    shield_pick_check(sp);
    id2 = shield_pick_add(sp, "new", 100);
    assert_true(id2 >= 0);
    assert_int_equal(0, shield_pick_load(sp, id2));

    /* Everyone down: nothing to pick. */
    for (i = 0; i < SHIELD_PICK_MAX_MEMBERS; i++)
        if (sp->m[i].state == SHIELD_PICK_ACTIVE)
            shield_pick_set_up(sp, i, false);
    assert_int_equal(ERR_NOTFOUND, shield_pick_home(sp, "k", 1));
    assert_int_equal(ERR_NOTFOUND, shield_pick_acquire(sp, "k", 1));
    assert_int_equal(0, shield_pick_order(sp, "k", 1, &i, 1));
    shield_pick_check(sp);
    shield_pick_free(&sp);

    /* The member limit. */
    sp = ring_new(SHIELD_PICK_MAX_MEMBERS, 1, 0);
    assert_int_equal(ERR_LIMIT, shield_pick_add(sp, "one-too-many", 100));
    assert_int_equal(SHIELD_PICK_MAX_MEMBERS, shield_pick_points(sp));
    shield_pick_free(&sp);

    /* Bad conf. */
    shield_pick_conf_defaults(&c);
    c.balance_pct = 99;
    assert_null(shield_pick_new(&c, &err));
    assert_int_equal(ERR_INVAL, err);
    c.balance_pct = 0;
    c.vnodes = 0;
    assert_null(shield_pick_new(&c, &err));
    c.vnodes = SHIELD_PICK_VNODES_MAX + 1;
    assert_null(shield_pick_new(&c, NULL));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shield_pick_hash_is_fixed),
        cmocka_unit_test(test_shield_pick_add_remove_moves_one_nth),
        cmocka_unit_test(test_shield_pick_balance),
        cmocka_unit_test(test_shield_pick_weights),
        cmocka_unit_test(test_shield_pick_down_moves_only_its_keys),
        cmocka_unit_test(test_shield_pick_same_ring_everywhere),
        cmocka_unit_test(test_shield_pick_bounded_load),
        cmocka_unit_test(test_shield_pick_bounded_load_random_keys),
        cmocka_unit_test(test_shield_pick_order_is_failover),
        cmocka_unit_test(test_shield_pick_membership),
    };

    keys_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
