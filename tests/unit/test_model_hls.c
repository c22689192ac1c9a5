/*
 * test_model_hls.c -- the HLS writer: exact master and media playlists for a
 * live and a static model, periods as discontinuities, URIs made relative
 * to the media playlist, ended streams, filters and errors.
 */
#include "unit.h"

#include <string.h>

#include "err.h"
#include "media/model.h"
#include "model_fixture.h"
#include "compat.h"

static const char live_master[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"a128\",LANGUAGE=\"en\",DEFAULT=YES,"
    "AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a128/media.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=3128000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,"
    "FRAME-RATE=30.000,AUDIO=\"audio\"\n"
    "720p/media.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=928000,AVERAGE-BANDWIDTH=828000,CODECS=\"avc1.64001e,mp4a.40.2\","
    "RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO=\"audio\"\n"
    "360p/media.m3u8\n";

static const char live_media_720p[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-DATERANGE:ID=\"cue-p0-7\",START-DATE=\"2026-11-24T03:00:06.000Z\",PLANNED-DURATION=30."
    "000,SCTE35-OUT="
    "0xfc302500000000000000fff01405000000077feffe00083d60fe002932e0000000000000e2d16900\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:00.000Z\n"
    "#EXTINF:2.000,\n"
    "0.m4s\n"
    "#EXTINF:2.000,\n"
    "180000.m4s\n"
    "#EXTINF:2.000,\n"
    "360000.m4s\n"
    "#EXTINF:2.000,\n"
    "540000.m4s\n"
    "#EXTINF:1.900,\n"
    "720000.m4s\n"
    "#EXTINF:2.000,\n"
    "891000.m4s\n";

static const char live_media_a128[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-DATERANGE:ID=\"cue-p0-7\",START-DATE=\"2026-11-24T03:00:06.000Z\",PLANNED-DURATION=30."
    "000,SCTE35-OUT="
    "0xfc302500000000000000fff01405000000077feffe00083d60fe002932e0000000000000e2d16900\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:00.000Z\n"
    "#EXTINF:2.005,\n"
    "0.m4s\n"
    "#EXTINF:1.984,\n"
    "96256.m4s\n"
    "#EXTINF:2.005,\n"
    "191488.m4s\n"
    "#EXTINF:1.984,\n"
    "287744.m4s\n"
    "#EXTINF:2.005,\n"
    "382976.m4s\n";

static const char static_master[] = "#EXTM3U\n"
                                    "#EXT-X-VERSION:7\n"
                                    "#EXT-X-INDEPENDENT-SEGMENTS\n"
                                    "#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS=\"avc1.4d401e\","
                                    "RESOLUTION=854x480,FRAME-RATE=25.000\n"
                                    "480p/media.m3u8\n";

static const char static_media[] = "#EXTM3U\n"
                                   "#EXT-X-VERSION:7\n"
                                   "#EXT-X-TARGETDURATION:2\n"
                                   "#EXT-X-MEDIA-SEQUENCE:0\n"
                                   "#EXT-X-PLAYLIST-TYPE:VOD\n"
                                   "#EXT-X-INDEPENDENT-SEGMENTS\n"
                                   "#EXT-X-MAP:URI=\"init.mp4\"\n"
                                   "#EXTINF:2.000,\n"
                                   "0.m4s\n"
                                   "#EXTINF:2.000,\n"
                                   "30720.m4s\n"
                                   "#EXTINF:2.000,\n"
                                   "61440.m4s\n"
                                   "#EXTINF:1.000,\n"
                                   "92160.m4s\n"
                                   "#EXT-X-ENDLIST\n";

static const char spliced_media_a128[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-DATERANGE:ID=\"cue-p0-7\",START-DATE=\"2026-11-24T03:00:06.000Z\",PLANNED-DURATION=30."
    "000,SCTE35-OUT="
    "0xfc302500000000000000fff01405000000077feffe00083d60fe002932e0000000000000e2d16900\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:00.000Z\n"
    "#EXTINF:2.005,\n"
    "0.m4s\n"
    "#EXTINF:1.984,\n"
    "96256.m4s\n"
    "#EXTINF:2.005,\n"
    "191488.m4s\n"
    "#EXTINF:1.984,\n"
    "287744.m4s\n"
    "#EXTINF:2.005,\n"
    "382976.m4s\n"
    "#EXT-X-DISCONTINUITY\n"
    "#EXT-X-MAP:URI=\"../../../ads/c1/a128/init.mp4\"\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:11.900Z\n"
    "#EXTINF:2.000,\n"
    "../../../ads/c1/a128/0.m4s\n"
    "#EXTINF:2.000,\n"
    "../../../ads/c1/a128/96000.m4s\n"
    "#EXT-X-DISCONTINUITY\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:15.900Z\n"
    "#EXTINF:2.005,\n"
    "763200.m4s\n";

static char *
hls_master_of(const struct model *m, const struct model_render *opt)
{
    struct buf b;

    buf_init(&b, MODEL_OUT_MAX);
    assert_int_equal(0, model_hls_master_write(m, opt, &b));
    return buf_take(&b, NULL);
}

static char *
hls_media_of(const struct model *m, const char *rep)
{
    struct buf b;

    buf_init(&b, MODEL_OUT_MAX);
    assert_int_equal(0, model_hls_media_write(m, rep, &b));
    return buf_take(&b, NULL);
}

static void
test_hls_live_exact(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *s;

    (void)state;
    s = hls_master_of(m, NULL);
    assert_string_equal(live_master, s);
    xfree(s);
    s = hls_media_of(m, "720p");
    assert_string_equal(live_media_720p, s);
    xfree(s);
    s = hls_media_of(m, "a128");
    assert_string_equal(live_media_a128, s);
    xfree(s);
    model_free(&m);
    UNIT_END(live);
}

static void
test_hls_static_exact(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_static();
    char *s;

    (void)state;
    s = hls_master_of(m, NULL);
    assert_string_equal(static_master, s);
    xfree(s);
    s = hls_media_of(m, "480p");
    assert_string_equal(static_media, s);
    xfree(s);
    /* A VOD given a start date gets program dates. */
    m->ast_ms = FIXTURE_AST_MS;
    s = hls_media_of(m, "480p");
    assert_non_null(strstr(s, "#EXT-X-MAP:URI=\"init.mp4\"\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:00.000Z\n"
                              "#EXTINF:2.000,\n0.m4s\n"));
    xfree(s);
    model_free(&m);
    UNIT_END(live);
}

static void
test_hls_periods_are_discontinuities(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_spliced();
    char *s;

    (void)state;
    s = hls_media_of(m, "a128");
    assert_string_equal(spliced_media_a128, s);
    xfree(s);
    s = hls_media_of(m, "720p");
    assert_non_null(strstr(s, "#EXT-X-DISCONTINUITY\n"
                              "#EXT-X-MAP:URI=\"/ads/c1/720p/init.mp4\"\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:11.900Z\n"
                              "#EXTINF:2.000,\n/ads/c1/720p/0.m4s\n"));
    assert_null(strstr(s, "DISCONTINUITY-SEQUENCE"));
    xfree(s);

    /* A rendition missing from the ad period: both boundaries still count. */
    assert_int_equal(0, model_rep_add(m->periods[2]->sets[0], "360p", "avc1.64001e", 800000, NULL));
    model_check(m);
    s = hls_media_of(m, "360p");
    assert_non_null(strstr(s, "891000.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY\n"
                              "#EXT-X-MAP:URI=\"init.mp4\"\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:15.900Z\n"
                              "#EXTINF:2.000,\n1431000.m4s\n"));
    xfree(s);

    /* The DVR window drops p0 (the edge at 17.905 s, the window from 12.905 s)
     * and the ad's first segment survives: the sequences count what left. */
    m->tsbd_ms = 5000;
    model_trim_dvr(m);
    model_check(m);
    assert_int_equal(2, m->nperiods);
    s = hls_media_of(m, "720p");
    assert_non_null(strstr(s, "#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    assert_non_null(strstr(s, "#EXT-X-MAP:URI=\"/ads/c1/720p/init.mp4\"\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T03:00:11.900Z\n"));
    xfree(s);
    s = hls_media_of(m, "360p");
    assert_non_null(strstr(s, "#EXT-X-MEDIA-SEQUENCE:8\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n"));
    xfree(s);
    model_free(&m);
    UNIT_END(live);
}

static void
test_hls_ended_live_has_endlist(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *s;

    (void)state;
    s = hls_media_of(m, "720p");
    assert_null(strstr(s, "#EXT-X-ENDLIST"));
    xfree(s);
    m->ended = true;
    s = hls_media_of(m, "720p");
    assert_non_null(strstr(s, "891000.m4s\n#EXT-X-ENDLIST\n"));
    assert_null(strstr(s, "PLAYLIST-TYPE")); /* still a live playlist */
    xfree(s);
    model_free(&m);
    UNIT_END(live);
}

static bool
hls_no_720p(const struct model_aset *s, const struct model_rep *r, void *arg)
{
    (void)s;
    (void)arg;
    return strcmp(r->id, "720p") != 0;
}

static bool
hls_audio_only(const struct model_aset *s, const struct model_rep *r, void *arg)
{
    (void)r;
    (void)arg;
    return s->content == MODEL_AUDIO;
}

static void
test_hls_master_filters(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    struct model_render opt = {.rep_ok = hls_no_720p};
    char *s;

    (void)state;
    s = hls_master_of(m, &opt);
    assert_null(strstr(s, "720p"));
    assert_non_null(strstr(s, "360p/media.m3u8"));
    xfree(s);
    opt.rep_ok = hls_audio_only;
    s = hls_master_of(m, &opt);
    /* Audio only: the rendition is listed as a variant of its own too. */
    assert_non_null(strstr(s, "#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\n"
                              "a128/media.m3u8\n"));
    xfree(s);
    model_free(&m);
    UNIT_END(live);
}

static void
test_hls_errors(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(ERR_NOTFOUND, model_hls_media_write(m, "1080p", &b));
    buf_free(&b);
    buf_init(&b, 64);
    assert_int_equal(ERR_LIMIT, model_hls_media_write(m, "720p", &b));
    buf_free(&b);
    buf_init(&b, 64);
    assert_int_equal(ERR_LIMIT, model_hls_master_write(m, NULL, &b));
    buf_free(&b);
    model_free(&m);

    m = model_new();
    buf_init(&b, 1 << 20);
    assert_int_equal(ERR_INVAL, model_hls_master_write(m, NULL, &b));
    assert_int_equal(ERR_NOTFOUND, model_hls_media_write(m, "720p", &b));
    buf_free(&b);
    model_free(&m);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hls_live_exact),
        cmocka_unit_test(test_hls_static_exact),
        cmocka_unit_test(test_hls_periods_are_discontinuities),
        cmocka_unit_test(test_hls_ended_live_has_endlist),
        cmocka_unit_test(test_hls_master_filters),
        cmocka_unit_test(test_hls_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
