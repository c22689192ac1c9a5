/*
 * test_mem.c -- the counted allocation wrappers.
 */
#include <pthread.h>
#include <string.h>

#include "unit.h"
#include "mem.h"
#include "compat.h"

static void
test_mem_counts(void **state)
{
    int64_t live = mem_live();
    uint64_t total = mem_total();
    char *a, *b;

    (void)state;
    a = xmalloc(10);
    assert_int_equal(live + 1, mem_live());
    b = xmalloc(0); /* still a real, freeable pointer */
    assert_non_null(b);
    assert_int_equal(live + 2, mem_live());
    assert_int_equal(total + 2, mem_total());
    xfree(a);
    xfree(b);
    xfree(NULL); /* a no-op, not counted */
    assert_int_equal(total + 2, mem_total());
    UNIT_END(live);
}

static void
test_mem_calloc_zeroes(void **state)
{
    int64_t live = mem_live();
    unsigned char *p;
    size_t i;

    (void)state;
    p = xcalloc(100, 3);
    for (i = 0; i < 300; i++)
        assert_int_equal(0, p[i]);
    xfree(p);
    xfree(xcalloc(0, 0));
    UNIT_END(live);
}

static void
test_mem_realloc(void **state)
{
    int64_t live = mem_live();
    char *p;

    (void)state;
    p = xrealloc(NULL, 4); /* counts as one allocation */
    assert_int_equal(live + 1, mem_live());
    memcpy(p, "abc", 4);
    p = xrealloc(p, 1 << 20); /* moves, still one */
    assert_int_equal(live + 1, mem_live());
    assert_string_equal("abc", p);
    xfree(p);
    UNIT_END(live);
}

static void
test_mem_strdup(void **state)
{
    int64_t live = mem_live();
    char *s, *t, *u;

    (void)state;
    s = xstrdup("segment");
    t = xstrndup("segment", 3);
    u = xstrndup("ab", 10); /* n past the end stops at the NUL */
    assert_string_equal("segment", s);
    assert_string_equal("seg", t);
    assert_string_equal("ab", u);
    xfree(s);
    xfree(t);
    xfree(u);
    UNIT_END(live);
}

#define THREADS 4
#define THREAD_ALLOCS 20000

static void *
thread_alloc(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < THREAD_ALLOCS; i++)
        xfree(xmalloc(16));
    return NULL;
}

static void
test_mem_threads(void **state)
{
    int64_t live = mem_live();
    uint64_t total = mem_total();
    pthread_t th[THREADS];
    int i;

    (void)state;
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_create(&th[i], NULL, thread_alloc, NULL));
    for (i = 0; i < THREADS; i++)
        assert_int_equal(0, pthread_join(th[i], NULL));
    assert_int_equal(total + THREADS * THREAD_ALLOCS, mem_total());
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_counts),  cmocka_unit_test(test_mem_calloc_zeroes),
        cmocka_unit_test(test_mem_realloc), cmocka_unit_test(test_mem_strdup),
        cmocka_unit_test(test_mem_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
