/*
 * test_model_mpd.c -- the MPD writer: exact output for a live and a static
 * model, per-viewer filtering, multi-period output, limits, and (when a
 * schema is at hand) validation against DASH-MPD.xsd.
 *
 * The schema test runs when CASCADE_MPD_XSD names a local copy of
 * DASH-MPD.xsd (with its xlink import resolvable offline) and xmllint is
 * installed; the schema is third-party and is never committed or fetched.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "media/model.h"
#include "model_fixture.h"
#include "compat.h"

static const char live_mpd[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
    "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"dynamic\" "
    "availabilityStartTime=\"2026-11-24T03:00:00Z\" publishTime=\"2026-11-24T03:00:12.500Z\" "
    "minimumUpdatePeriod=\"PT2S\" timeShiftBufferDepth=\"PT30S\" "
    "suggestedPresentationDelay=\"PT6S\" maxSegmentDuration=\"PT2.006S\" minBufferTime=\"PT4S\">\n"
    "  <ProgramInformation><Title>Demo &lt;live&gt; &amp; "
    "\"friends\"</Title></ProgramInformation>\n"
    "  <Period id=\"p0\" start=\"PT0S\">\n"
    "    <EventStream schemeIdUri=\"urn:scte:scte35:2014:xml+bin\" timescale=\"90000\">\n"
    "      <Event presentationTime=\"540000\" duration=\"2700000\" id=\"7\"><Signal "
    "xmlns=\"http://www.scte.org/schemas/35/2016\"><Binary>/DAlAAAAAAAAAP/wFAUAAAAHf+/"
    "+AAg9YP4AKTLgAAAAAAAA4tFpAA==</Binary></Signal></Event>\n"
    "    </EventStream>\n"
    "    <EventStream schemeIdUri=\"urn:cascade:flash:2025\" value=\"flash\" timescale=\"1000\">\n"
    "      <Event presentationTime=\"4000\" id=\"2\">{\"text\":\"hi\"}</Event>\n"
    "    </EventStream>\n"
    "    <AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" "
    "segmentAlignment=\"true\" startWithSAP=\"1\">\n"
    "      <SegmentTemplate timescale=\"90000\" initialization=\"$RepresentationID$/init.mp4\" "
    "media=\"$RepresentationID$/$Time$.m4s\">\n"
    "        <SegmentTimeline>\n"
    "          <S t=\"0\" d=\"180000\" r=\"3\"/>\n"
    "          <S d=\"171000\"/>\n"
    "          <S d=\"180000\"/>\n"
    "        </SegmentTimeline>\n"
    "      </SegmentTemplate>\n"
    "      <Representation id=\"720p\" bandwidth=\"3000000\" codecs=\"avc1.64001f\" width=\"1280\" "
    "height=\"720\" frameRate=\"30\"/>\n"
    "      <Representation id=\"360p\" bandwidth=\"800000\" codecs=\"avc1.64001e\" width=\"640\" "
    "height=\"360\" frameRate=\"30000/1001\"/>\n"
    "    </AdaptationSet>\n"
    "    <AdaptationSet id=\"2\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"en\" "
    "segmentAlignment=\"true\" startWithSAP=\"1\">\n"
    "      <SegmentTemplate timescale=\"48000\" initialization=\"$RepresentationID$/init.mp4\" "
    "media=\"$RepresentationID$/$Time$.m4s\">\n"
    "        <SegmentTimeline>\n"
    "          <S t=\"0\" d=\"96256\"/>\n"
    "          <S d=\"95232\"/>\n"
    "          <S d=\"96256\"/>\n"
    "          <S d=\"95232\"/>\n"
    "          <S d=\"96256\"/>\n"
    "        </SegmentTimeline>\n"
    "      </SegmentTemplate>\n"
    "      <Representation id=\"a128\" bandwidth=\"128000\" codecs=\"mp4a.40.2\" "
    "audioSamplingRate=\"48000\">\n"
    "        <AudioChannelConfiguration "
    "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n"
    "      </Representation>\n"
    "    </AdaptationSet>\n"
    "  </Period>\n"
    "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/time\"/>\n"
    "</MPD>\n";

static const char static_mpd[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
    "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" "
    "mediaPresentationDuration=\"PT7S\" maxSegmentDuration=\"PT2S\" minBufferTime=\"PT2S\">\n"
    "  <ProgramInformation><Title>vod-1</Title></ProgramInformation>\n"
    "  <Period id=\"p0\" start=\"PT0S\">\n"
    "    <AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" "
    "segmentAlignment=\"true\" startWithSAP=\"1\">\n"
    "      <SegmentTemplate timescale=\"15360\" initialization=\"$RepresentationID$/init.mp4\" "
    "media=\"$RepresentationID$/$Time$.m4s\">\n"
    "        <SegmentTimeline>\n"
    "          <S t=\"0\" d=\"30720\" r=\"2\"/>\n"
    "          <S d=\"15360\"/>\n"
    "        </SegmentTimeline>\n"
    "      </SegmentTemplate>\n"
    "      <Representation id=\"480p\" bandwidth=\"1200000\" codecs=\"avc1.4d401e\" width=\"854\" "
    "height=\"480\" frameRate=\"25\"/>\n"
    "    </AdaptationSet>\n"
    "  </Period>\n"
    "</MPD>\n";

/* Writes m and returns the text (xfree it); asserts the writer succeeded. */
static char *
mpd_of(const struct model *m, const struct model_render *opt)
{
    struct buf b;

    buf_init(&b, MODEL_OUT_MAX);
    assert_int_equal(0, model_mpd_write(m, opt, &b));
    return buf_take(&b, NULL);
}

static void
test_mpd_live_exact(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *mpd;

    (void)state;
    mpd = mpd_of(m, NULL);
    assert_string_equal(live_mpd, mpd);
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static void
test_mpd_static_exact(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_static();
    char *mpd;

    (void)state;
    mpd = mpd_of(m, NULL);
    assert_string_equal(static_mpd, mpd);
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static void
test_mpd_region_shows_its_events(void **state)
{
    static const struct model_render fr = {.region = "FR"};
    static const struct model_render us = {.region = "US"};
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *mpd;

    (void)state;
    mpd = mpd_of(m, &fr);
    assert_non_null(strstr(mpd, "      <Event presentationTime=\"2000\" duration=\"5000\" id=\"1\">"
                                "{\"text\":\"Breaking &lt;news&gt; &amp; more\"}</Event>\n"
                                "      <Event presentationTime=\"4000\" id=\"2\">"));
    xfree(mpd);
    mpd = mpd_of(m, &us);
    assert_string_equal(live_mpd, mpd); /* the same as for an unknown region */
    xfree(mpd);

    /* A stream whose every event is elsewhere is left out altogether. */
    m->periods[0]->streams[0]->events[1].regions = xstrdup("DE");
    mpd = mpd_of(m, &us);
    assert_null(strstr(mpd, "urn:cascade:flash:2025"));
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static bool
mpd_no_720p(const struct model_aset *s, const struct model_rep *r, void *arg)
{
    (void)s;
    (void)arg;
    return strcmp(r->id, "720p") != 0;
}

static bool
mpd_video_only(const struct model_aset *s, const struct model_rep *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
    return s->content == MODEL_VIDEO;
}

static void
test_mpd_rep_filter(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    struct model_render opt = {.rep_ok = mpd_no_720p};
    int calls = 0;
    char *mpd;

    (void)state;
    mpd = mpd_of(m, &opt);
    assert_null(strstr(mpd, "\"720p\""));
    assert_non_null(strstr(mpd, "<Representation id=\"360p\""));
    xfree(mpd);

    opt.rep_ok = mpd_video_only;
    opt.arg = &calls;
    mpd = mpd_of(m, &opt);
    assert_null(strstr(mpd, "contentType=\"audio\""));
    assert_non_null(strstr(mpd, "contentType=\"video\""));
    assert_true(calls > 0);
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static void
test_mpd_ended_live_stops_updates(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *mpd;

    (void)state;
    m->ended = true;
    mpd = mpd_of(m, NULL);
    assert_null(strstr(mpd, "minimumUpdatePeriod"));
    assert_non_null(strstr(mpd, " type=\"dynamic\""));
    assert_non_null(strstr(mpd, " mediaPresentationDuration=\"PT11.9S\""));
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static void
test_mpd_periods_and_offsets(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_spliced();
    char *mpd;

    (void)state;
    mpd = mpd_of(m, NULL);
    assert_non_null(strstr(mpd, "<Period id=\"p0\" start=\"PT0S\" duration=\"PT11.9S\">"));
    assert_non_null(strstr(mpd, "<Period id=\"ad-7\" start=\"PT11.9S\" duration=\"PT4S\">"));
    assert_non_null(strstr(mpd, "<Period id=\"p1\" start=\"PT15.9S\">"));
    assert_non_null(strstr(mpd, "initialization=\"/ads/c1/$RepresentationID$/init.mp4\""));
    assert_non_null(strstr(mpd, "<SegmentTemplate timescale=\"90000\" "
                                "presentationTimeOffset=\"1431000\""));
    assert_non_null(strstr(mpd, "<S t=\"1431000\" d=\"180000\"/>"));
    /* Event times share the media clock: the stream offsets by the period's start. */
    assert_non_null(strstr(mpd, "<EventStream schemeIdUri=\"urn:cascade:disclaimer:2025\" "
                                "timescale=\"1000\" presentationTimeOffset=\"15900\">"));
    /* The UTCTiming element comes after the last Period. */
    assert_true(strstr(mpd, "<UTCTiming") > strstr(mpd, "<Period id=\"p1\""));
    xfree(mpd);
    model_free(&m);
    UNIT_END(live);
}

static void
test_mpd_errors(void **state)
{
    int64_t live = mem_live();
    struct model *m = model_new();
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(ERR_INVAL, model_mpd_write(m, NULL, &b)); /* no period */
    model_free(&m);
    buf_free(&b);

    m = fixture_live();
    buf_init(&b, 512);
    assert_int_equal(ERR_LIMIT, model_mpd_write(m, NULL, &b));
    buf_free(&b);
    buf_init(&b, sizeof(live_mpd) - 1); /* exactly enough */
    assert_int_equal(0, model_mpd_write(m, NULL, &b));
    buf_free(&b);
    model_free(&m);
    UNIT_END(live);
}

/* xmllint --schema on m's MPD: 0 when it validates. */
static int
mpd_xmllint(const char *xsd, const struct model *m, const struct model_render *opt)
{
    char path[] = "/tmp/cascade-mpd-XXXXXX";
    char cmd[1024];
    char *mpd = mpd_of(m, opt);
    FILE *f;
    int fd, rc;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(strlen(mpd), fwrite(mpd, 1, strlen(mpd), f));
    assert_int_equal(0, fclose(f));
    xfree(mpd);
    (void)snprintf(cmd, sizeof(cmd), "xmllint --nonet --noout --schema '%s' '%s'", xsd, path);
    rc = system(cmd);
    (void)unlink(path);
    return rc;
}

static void
test_mpd_validates_against_schema(void **state)
{
    static const struct model_render fr = {.region = "FR"};
    const char *xsd = getenv("CASCADE_MPD_XSD");
    int64_t live = mem_live();
    struct model *m;

    (void)state;
    if (xsd == NULL || access(xsd, R_OK) != 0 || system("xmllint --version >/dev/null 2>&1") != 0) {
        skip(); /* needs CASCADE_MPD_XSD and xmllint (libxml2-utils) */
        return;
    }
    m = fixture_live();
    assert_int_equal(0, mpd_xmllint(xsd, m, NULL));
    assert_int_equal(0, mpd_xmllint(xsd, m, &fr));
    m->ended = true;
    assert_int_equal(0, mpd_xmllint(xsd, m, NULL));
    model_free(&m);
    m = fixture_spliced();
    assert_int_equal(0, mpd_xmllint(xsd, m, NULL));
    model_free(&m);
    m = fixture_static();
    assert_int_equal(0, mpd_xmllint(xsd, m, NULL));
    model_free(&m);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpd_live_exact),
        cmocka_unit_test(test_mpd_static_exact),
        cmocka_unit_test(test_mpd_region_shows_its_events),
        cmocka_unit_test(test_mpd_rep_filter),
        cmocka_unit_test(test_mpd_ended_live_stops_updates),
        cmocka_unit_test(test_mpd_periods_and_offsets),
        cmocka_unit_test(test_mpd_errors),
        cmocka_unit_test(test_mpd_validates_against_schema),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
