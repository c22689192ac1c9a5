/*
 * test_origin_http.c -- the pure parts of serving /live/: which paths map to
 * which files (and which never do), Range headers, If-None-Match lists.
 * The served headers themselves are checked end to end in
 * tests/scenario/test_origin_live.py.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../origin/live_mem.c"
#include "../../origin/origin_http.c"

static void
test_classify_published_files(void **state)
{
    int64_t live = mem_live();
    char rel[256];
    const char *ct;

    (void)state;
    assert_int_equal(ORIGIN_HTTP_MANIFEST,
                     origin_http_classify("/live/a/manifest.mpd", rel, sizeof(rel), &ct));
    assert_string_equal("live/a/manifest.mpd", rel);
    assert_string_equal("application/dash+xml", ct);
    assert_int_equal(ORIGIN_HTTP_MANIFEST,
                     origin_http_classify("/live/a/master.m3u8", rel, sizeof(rel), &ct));
    assert_string_equal("application/vnd.apple.mpegurl", ct);
    assert_int_equal(ORIGIN_HTTP_MANIFEST,
                     origin_http_classify("/live/a/model.json", rel, sizeof(rel), &ct));
    assert_string_equal("application/json", ct);
    assert_int_equal(ORIGIN_HTTP_MANIFEST,
                     origin_http_classify("/live/a-b_c.d/v0/media.m3u8", rel, sizeof(rel), &ct));
    assert_int_equal(ORIGIN_HTTP_MEDIA,
                     origin_http_classify("/live/a/v0/init.mp4", rel, sizeof(rel), &ct));
    assert_string_equal("video/mp4", ct);
    assert_int_equal(ORIGIN_HTTP_MEDIA,
                     origin_http_classify("/live/a/a0/init.mp4", rel, sizeof(rel), &ct));
    assert_string_equal("audio/mp4", ct);
    assert_int_equal(ORIGIN_HTTP_MEDIA,
                     origin_http_classify("/live/a/v0/0.m4s", rel, sizeof(rel), &ct));
    assert_int_equal(ORIGIN_HTTP_MEDIA, origin_http_classify("/live/a/v0/18446744073709551615.m4s",
                                                             rel, sizeof(rel), &ct));
    assert_string_equal("live/a/v0/18446744073709551615.m4s", rel);
    /* VOD files share the live layout (docs/vod.md). */
    assert_int_equal(ORIGIN_HTTP_MANIFEST,
                     origin_http_classify("/vod/0a1b/manifest.mpd", rel, sizeof(rel), &ct));
    assert_string_equal("vod/0a1b/manifest.mpd", rel);
    assert_int_equal(ORIGIN_HTTP_MEDIA,
                     origin_http_classify("/vod/0a1b/240p/180000.m4s", rel, sizeof(rel), &ct));
    assert_string_equal("vod/0a1b/240p/180000.m4s", rel);
    UNIT_END(live);
}

static void
test_classify_refuses_everything_else(void **state)
{
    static const char *const bad[] = {
        "/live/",
        "/live/a",
        "/live/a/",
        "/live//manifest.mpd",
        "/live/../meta/data.mdb",
        "/live/a/../../meta/data.mdb",
        "/live/./manifest.mpd",
        "/live/.a/manifest.mpd",
        "/live/a/.manifest.mpd.tmp",
        "/live/a/v0/.0.m4s.tmp",
        "/live/a%2e/manifest.mpd",
        "/live/a/v0/01.m4s",
        "/live/a/v0/x.m4s",
        "/live/a/v0/.m4s",
        "/live/a/v0/1.m4s/x",
        "/live/a/v0/123456789012345678901.m4s",
        "/live/a/stream.meta",
        "/live/a/v0/init.mp4x",
        "/live/a/b/c/manifest.mpd",
        "/vod/a/work/source",
        "/vod/../meta/data.mdb",
        "/vodx/a/manifest.mpd",
        "/LIVE/a/manifest.mpd",
        "/live/a b/manifest.mpd",
        "/live/a\\b/manifest.mpd",
        "/live/a/v0/manifest.mpd",
        "/live/a/media.m3u8",
        "/live/a/init.mp4",
        "/live/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/manifest.mpd",
    };
    int64_t live = mem_live();
    char rel[256];
    const char *ct;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        ct = "x";
        if (origin_http_classify(bad[i], rel, sizeof(rel), &ct) != ORIGIN_HTTP_NONE)
            fail_msg("%s was accepted", bad[i]);
        assert_null(ct);
    }
    /* A path that does not fit the caller's buffer is refused, not cut. */
    assert_int_equal(ORIGIN_HTTP_NONE, origin_http_classify("/live/a/manifest.mpd", rel, 8, &ct));
    UNIT_END(live);
}

static void
test_range(void **state)
{
    int64_t live = mem_live();
    uint64_t off = 0, len = 0;

    (void)state;
    assert_int_equal(1, origin_http_range_parse("bytes=0-9", 100, &off, &len));
    assert_int_equal(0, off);
    assert_int_equal(10, len);
    assert_int_equal(1, origin_http_range_parse("bytes=90-", 100, &off, &len));
    assert_int_equal(90, off);
    assert_int_equal(10, len);
    assert_int_equal(1, origin_http_range_parse("bytes=95-200", 100, &off, &len));
    assert_int_equal(95, off);
    assert_int_equal(5, len);
    assert_int_equal(1, origin_http_range_parse("bytes=-10", 100, &off, &len));
    assert_int_equal(90, off);
    assert_int_equal(10, len);
    assert_int_equal(1, origin_http_range_parse("bytes=-200", 100, &off, &len));
    assert_int_equal(0, off);
    assert_int_equal(100, len);
    assert_int_equal(1, origin_http_range_parse("BYTES= 3-3 ", 100, &off, &len));
    assert_int_equal(3, off);
    assert_int_equal(1, len);
    /* Unsatisfiable: 416. */
    assert_int_equal(ERR_LIMIT, origin_http_range_parse("bytes=100-", 100, &off, &len));
    assert_int_equal(ERR_LIMIT, origin_http_range_parse("bytes=-0", 100, &off, &len));
    assert_int_equal(ERR_LIMIT, origin_http_range_parse("bytes=0-", 0, &off, &len));
    /* Ignored: the whole file is sent. */
    assert_int_equal(0, origin_http_range_parse("bytes=5-2", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("bytes=0-1,5-6", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("items=0-1", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("bytes=", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("bytes=-", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("bytes=x-1", 100, &off, &len));
    assert_int_equal(0, origin_http_range_parse("bytes=1-2x", 100, &off, &len));
    assert_int_equal(0,
                     origin_http_range_parse("bytes=0-99999999999999999999999", 100, &off, &len));
    UNIT_END(live);
}

static void
test_etag_match(void **state)
{
    int64_t live = mem_live();

    (void)state;
    assert_true(origin_http_etag_match("\"a-1\"", "\"a-1\""));
    assert_true(origin_http_etag_match("W/\"a-1\"", "\"a-1\""));
    assert_true(origin_http_etag_match("\"x\", \"a-1\"", "\"a-1\""));
    assert_true(origin_http_etag_match(" * ", "\"a-1\""));
    assert_false(origin_http_etag_match("\"a-2\"", "\"a-1\""));
    assert_false(origin_http_etag_match("\"a-1", "\"a-1\""));
    assert_false(origin_http_etag_match("a-1", "\"a-1\""));
    assert_false(origin_http_etag_match("", "\"a-1\""));
    assert_false(origin_http_etag_match("\"x\" \"a-1\"", "\"a-1\""));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_published_files),
        cmocka_unit_test(test_classify_refuses_everything_else),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_etag_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
