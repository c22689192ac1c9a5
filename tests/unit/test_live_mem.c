/*
 * test_live_mem.c -- the in-memory manifests: a put replaces, a reader's
 * ref keeps its version whole, a drop forgets a stream's documents only,
 * every version gets its own ETag.
 */
#include <string.h>

#include "unit.h"
#include "../../origin/live_mem.c"

static void
test_put_get_replace(void **state)
{
    int64_t live = mem_live();
    struct live_mem_doc *a, *b;

    (void)state;
    assert_null(live_mem_get("/d/live/s/manifest.mpd"));
    live_mem_put("/d/live/s/manifest.mpd", "one", 3);
    a = live_mem_get("/d/live/s/manifest.mpd");
    assert_non_null(a);
    assert_int_equal(3, a->len);
    assert_memory_equal("one", a->data, 3);
    assert_true(a->mtime_ms > 0);
    /* Replaced while a reader holds the old version: that one stays whole. */
    live_mem_put("/d/live/s/manifest.mpd", "second", 6);
    b = live_mem_get("/d/live/s/manifest.mpd");
    assert_non_null(b);
    assert_memory_equal("one", a->data, 3);
    assert_memory_equal("second", b->data, 6);
    assert_string_not_equal(a->etag, b->etag);
    assert_int_equal('"', a->etag[0]);
    assert_int_equal(1, live_mem_count());
    live_mem_doc_unref(&a);
    assert_null(a);
    live_mem_doc_unref(&b);
    live_mem_drop_under("/d/live/s/");
    assert_int_equal(0, live_mem_count());
    assert_null(live_mem_get("/d/live/s/manifest.mpd"));
    UNIT_END(live);
}

static void
test_drop_under_one_stream(void **state)
{
    int64_t live = mem_live();
    struct live_mem_doc *held;

    (void)state;
    live_mem_put("/d/live/s/manifest.mpd", "m", 1);
    live_mem_put("/d/live/s/v0/media.m3u8", "v", 1);
    live_mem_put("/d/live/s2/manifest.mpd", "other", 5);
    live_mem_put("/d/live/s/model.json", "", 0);
    assert_int_equal(4, live_mem_count());
    held = live_mem_get("/d/live/s/v0/media.m3u8");
    /* "s/" is not a prefix of "s2/": the other stream keeps its manifests. */
    live_mem_drop_under("/d/live/s/");
    assert_int_equal(1, live_mem_count());
    assert_null(live_mem_get("/d/live/s/manifest.mpd"));
    assert_memory_equal("v", held->data, 1); /* still readable until unref */
    live_mem_doc_unref(&held);
    held = live_mem_get("/d/live/s2/manifest.mpd");
    assert_non_null(held);
    assert_int_equal(5, held->len);
    live_mem_doc_unref(&held);
    live_mem_drop_under("/d/live/s2/");
    assert_int_equal(0, live_mem_count());
    UNIT_END(live);
}

static void
test_many_documents(void **state)
{
    int64_t live = mem_live();
    char path[64];
    unsigned i;

    (void)state;
    for (i = 0; i < 3000; i++) {
        (void)snprintf(path, sizeof(path), "/d/live/s%u/manifest.mpd", i % 1500);
        live_mem_put(path, path, strlen(path));
    }
    assert_int_equal(1500, live_mem_count());
    for (i = 0; i < 1500; i++) {
        struct live_mem_doc *d;

        (void)snprintf(path, sizeof(path), "/d/live/s%u/manifest.mpd", i);
        d = live_mem_get(path);
        assert_non_null(d);
        assert_memory_equal(path, d->data, strlen(path));
        live_mem_doc_unref(&d);
    }
    live_mem_drop_under("/d/live/");
    assert_int_equal(0, live_mem_count());
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_drop_under_one_stream),
        cmocka_unit_test(test_many_documents),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
