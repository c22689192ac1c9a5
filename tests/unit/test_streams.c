/*
 * test_streams.c -- streams and keys in the metadata store: create, refuse
 * duplicates and bad names, find a stream by its key (also after a
 * reopen), and the one-publisher-per-stream set. The HTTP API is checked
 * end to end in tests/scenario/test_origin_live.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "metrics.h"
#include "../../origin/live_mem.c"
#include "../../origin/origin_http.c"
#include "../../origin/streams.c"

static void
test_create_and_lookup(void **state)
{
    int64_t live = mem_live();
    char dir[64], meta[128], name[STREAMS_NAME_MAX + 1], key[STREAMS_KEY_LEN + 1];
    char anon[STREAMS_NAME_MAX + 1], akey[STREAMS_KEY_LEN + 1], found[STREAMS_NAME_MAX + 1];
    struct streams *s = NULL;

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "streams");
    (void)snprintf(meta, sizeof(meta), "%s/meta", dir);
    assert_int_equal(0, streams_open(meta, "0.0.0.0:1935", &s));
    assert_string_equal("127.0.0.1:1935", s->rtmp_host);
    assert_int_equal(0, streams_create(s, "news", name, key));
    assert_string_equal("news", name);
    assert_int_equal(STREAMS_KEY_LEN, strlen(key));
    assert_int_equal(ERR_EXISTS, streams_create(s, "news", name, key));
    assert_int_equal(ERR_INVAL, streams_create(s, "../x", name, key));
    assert_int_equal(ERR_INVAL, streams_create(s, "", name, key));
    assert_int_equal(ERR_INVAL, streams_create(s, ".hidden", name, key));
    assert_int_equal(0, streams_create(s, NULL, anon, akey));
    assert_true(strlen(anon) > 1);
    assert_string_not_equal(key, akey);

    assert_int_equal(0, streams_key_lookup(s, akey, found, sizeof(found)));
    assert_string_equal(anon, found);
    assert_int_equal(ERR_NOTFOUND, streams_key_lookup(s, "nope", found, sizeof(found)));
    assert_int_equal(ERR_NOTFOUND, streams_key_lookup(s, "", found, sizeof(found)));
    streams_close(&s);
    assert_null(s);

    /* Keys are in LMDB: a restart still knows them. */
    assert_int_equal(0, streams_open(meta, "127.0.0.1:19350", &s));
    assert_int_equal(0, streams_key_lookup(s, key, found, sizeof(found)));
    assert_string_equal("news", found);
    streams_close(&s);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

static void
test_one_publisher_per_stream(void **state)
{
    int64_t live = mem_live();
    struct streams *s = NULL;
    char dir[64];

    (void)state;
    unit_tmpdir(dir, sizeof(dir), "streams");
    assert_int_equal(0, streams_open(dir, "127.0.0.1:1935", &s));
    assert_false(streams_is_live(s, "a"));
    assert_int_equal(0, streams_live_begin(s, "a"));
    assert_int_equal(0, streams_live_begin(s, "b"));
    assert_int_equal(ERR_EXISTS, streams_live_begin(s, "a"));
    assert_true(streams_is_live(s, "a"));
    streams_live_end(s, "a");
    assert_false(streams_is_live(s, "a"));
    assert_true(streams_is_live(s, "b"));
    assert_int_equal(0, streams_live_begin(s, "a"));
    streams_live_end(s, "zzz"); /* unknown: nothing happens */
    streams_close(&s);
    unit_rm_rf(dir);
    metrics_reset();
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_lookup),
        cmocka_unit_test(test_one_publisher_per_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
