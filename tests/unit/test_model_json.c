/*
 * test_model_json.c -- model.json: exact output, round trips (write, read,
 * write gives the same bytes; the edge's MPD equals the origin's), and a
 * reader that refuses bad input with an error naming the field.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "media/model.h"
#include "model_fixture.h"
#include "compat.h"

static const char live_json[] =
    "{\"version\":1,\"name\":\"Demo <live> & "
    "\\\"friends\\\"\",\"type\":\"dynamic\",\"ended\":false,\"availabi"
    "lity_start_ms\":1795489200000,\"publish_ms\":1795489212500,\"min_update_ms\":2000,\"dvr_window"
    "_ms\":30000,\"presentation_delay_ms\":6000,\"max_segment_ms\":2006,\"min_buffer_ms\":4000,"
    "\"dura"
    "tion_ms\":0,\"utc_timing\":{\"scheme\":\"http-iso\",\"url\":\"/"
    "time\"},\"discontinuity_seq\":0,\"perio"
    "ds\":[{\"id\":\"p0\",\"start_ms\":0,\"duration_ms\":0,\"sets\":[{\"id\":1,\"content\":"
    "\"video\",\"mime\":\"v"
    "ideo/"
    "mp4\",\"family\":\"avc\",\"segment_alignment\":true,\"timescale\":90000,\"pto\":0,\"init\":\"$"
    "Rep"
    "resentationID$/init.mp4\",\"media\":\"$RepresentationID$/"
    "$Time$.m4s\",\"start_number\":0,\"timel"
    "ine\":[[0,180000,3],[720000,171000,0],[891000,180000,0]],\"reps\":[{\"id\":\"720p\","
    "\"codecs\":\"a"
    "vc1.64001f\",\"bandwidth\":3000000,\"width\":1280,\"height\":720,\"frame_rate\":\"30\"},{"
    "\"id\":\"360p"
    "\",\"codecs\":\"avc1.64001e\",\"bandwidth\":800000,\"avg_bandwidth\":700000,\"width\":640,"
    "\"height\":"
    "360,\"frame_rate\":\"30000/1001\"}]},{\"id\":2,\"content\":\"audio\",\"mime\":\"audio/"
    "mp4\",\"family\":\""
    "aac\",\"lang\":\"en\",\"segment_alignment\":true,\"timescale\":48000,\"pto\":0,\"init\":\"$"
    "Representat"
    "ionID$/init.mp4\",\"media\":\"$RepresentationID$/"
    "$Time$.m4s\",\"start_number\":0,\"timeline\":[[0"
    ",96256,0],[96256,95232,0],[191488,96256,0],[287744,95232,0],[382976,96256,0]],\"reps\":[{\""
    "id\":\"a128\",\"codecs\":\"mp4a.40.2\",\"bandwidth\":128000,\"sample_rate\":48000,"
    "\"channels\":2}]}],"
    "\"event_streams\":[{\"scheme\":\"urn:cascade:flash:2025\",\"value\":\"flash\",\"timescale\":"
    "1000,\"ev"
    "ents\":[{\"id\":1,\"t\":2000,\"d\":5000,\"regions\":\"FR,BE\",\"payload\":{\"text\":"
    "\"Breaking <news> & "
    "more\"}},{\"id\":2,\"t\":4000,\"d\":0,\"payload\":{\"text\":\"hi\"}}]}],\"cues\":[{\"id\":7,"
    "\"timescale\":9"
    "0000,\"t\":540000,\"d\":2700000}]}],\"scenes\":[]}\n";

/* A small valid document the rejection cases below each break in one place. */
static const char base_json[] =
    "{\"version\":1,\"name\":\"vod\",\"type\":\"static\",\"ended\":false,"
    "\"max_segment_ms\":2000,\"min_buffer_ms\":2000,"
    "\"utc_timing\":{\"scheme\":\"http-iso\",\"url\":\"/time\"},"
    "\"periods\":[{\"id\":\"p0\",\"start_ms\":0,\"sets\":[{\"id\":1,\"content\":\"video\","
    "\"mime\":\"video/mp4\",\"family\":\"avc\",\"lang\":\"en\",\"segment_alignment\":true,"
    "\"timescale\":15360,\"init\":\"$RepresentationID$/init.mp4\","
    "\"media\":\"$RepresentationID$/$Time$.m4s\",\"timeline\":[[0,30720,2],[92160,15360,0]],"
    "\"reps\":[{\"id\":\"480p\",\"codecs\":\"avc1.4d401e\",\"bandwidth\":1200000,"
    "\"frame_rate\":\"25\"}]}],"
    "\"event_streams\":[{\"scheme\":\"urn:x\",\"timescale\":1000,\"events\":[{\"id\":1,\"t\":0,"
    "\"regions\":\"FR\",\"payload\":{\"a\":1}}]}],"
    "\"cues\":[{\"id\":1,\"timescale\":90000,\"t\":0,\"d\":90000}]}],"
    "\"scenes\":[{\"start_ms\":0,\"duration_ms\":4000,\"engagement\":0.5}]}";

/* Writes m as JSON; the caller xfree()s. */
static char *
json_of(const struct model *m)
{
    struct buf b;

    buf_init(&b, MODEL_OUT_MAX);
    assert_int_equal(0, model_json_write(m, &b));
    return buf_take(&b, NULL);
}

static char *
mpd_of(const struct model *m)
{
    struct buf b;

    buf_init(&b, MODEL_OUT_MAX);
    assert_int_equal(0, model_mpd_write(m, NULL, &b));
    return buf_take(&b, NULL);
}

/* Reads text, which must be accepted. */
static struct model *
json_read_ok(const char *text)
{
    struct model *m;
    char err[256];
    int rc;

    rc = model_json_read(text, strlen(text), &m, err, sizeof(err));
    if (rc != 0)
        fail_msg("rejected: %s", err);
    assert_non_null(m);
    model_check(m);
    return m;
}

/*
 * The writer prints by hand what jansson's compact ASCII dump gives (the
 * form it had when it built a jansson tree): for a model, jansson's
 * re-dump of our output is the same bytes. The odd model holds what a
 * hand-written printer gets wrong and the model lets through: reals
 * without a dot, with exponents, with more digits than are printed, and
 * payloads with reals and non-ASCII text.
 */
static void
json_is_jansson_canonical(const struct model *m)
{
    char *j = json_of(m), *again;
    json_t *v = json_loads(j, JSON_REJECT_DUPLICATES, NULL);
    size_t n;

    assert_non_null(v);
    again = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
                              JSON_REAL_PRECISION(15));
    json_decref(v);
    assert_non_null(again);
    n = strlen(j);
    assert_true(n > 0 && j[n - 1] == '\n');
    j[n - 1] = '\0';
    assert_string_equal(again, j);
    free(again); /* jansson's allocator */
    xfree(j);
}

/*
 * json(m) -> read -> json again must give the same bytes, and the same MPD;
 * and those bytes are jansson's own compact form.
 */
static void
json_round_trip(const struct model *m)
{
    struct model *back;
    char *j1, *j2, *mpd1, *mpd2;

    json_is_jansson_canonical(m);
    j1 = json_of(m);
    back = json_read_ok(j1);
    j2 = json_of(back);
    assert_string_equal(j1, j2);
    if (m->nperiods > 0) {
        mpd1 = mpd_of(m);
        mpd2 = mpd_of(back);
        assert_string_equal(mpd1, mpd2);
        xfree(mpd1);
        xfree(mpd2);
    }
    model_free(&back);
    xfree(j1);
    xfree(j2);
}

static void
test_json_live_exact(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    char *j;

    (void)state;
    j = json_of(m);
    assert_string_equal(live_json, j);
    xfree(j);
    model_free(&m);
    UNIT_END(live);
}

static void
test_json_round_trips(void **state)
{
    int64_t live = mem_live();
    struct model *m;

    (void)state;
    m = fixture_live();
    json_round_trip(m);
    m->ended = true;
    assert_int_equal(0, model_set_utc(m, MODEL_UTC_HTTP_XSDATE, "https://edge.example/time"));
    json_round_trip(m);
    model_free(&m);

    m = fixture_static();
    json_round_trip(m);
    model_free(&m);

    m = fixture_spliced();
    json_round_trip(m);
    m->tsbd_ms = 5000; /* drops p0: a discontinuity count, numbers that start above 0 */
    model_trim_dvr(m);
    json_round_trip(m);
    model_free(&m);

    m = model_new(); /* nothing at all */
    json_round_trip(m);
    model_free(&m);

    m = json_read_ok(base_json);
    json_round_trip(m);
    model_free(&m);
    UNIT_END(live);
}

static void
test_json_writer_matches_jansson(void **state)
{
    static const char odd[] =
        "{\"version\":1,\"name\":\"odd\","
        "\"type\":\"static\",\"max_segment_ms\":2000,\"periods\":[{\"id\":\"p\","
        "\"start_ms\":0,\"sets\":[{\"id\":1,\"content\":\"audio\",\"mime\":\"audio/mp4\","
        "\"family\":\"aac\",\"lang\":\"fr\",\"timescale\":1000,\"init\":\"i.mp4\","
        "\"media\":\"$Time$.m4s\",\"timeline\":[[0,2000,1]],\"reps\":[{\"id\":\"a\","
        "\"codecs\":\"mp4a.40.2\",\"bandwidth\":64000}]}],\"event_streams\":[{\"scheme\":"
        "\"urn:x:odd\",\"value\":\"v\\/1\",\"timescale\":1000,\"events\":[{\"id\":1,"
        "\"t\":10,\"regions\":\"FR,DE\",\"payload\":{\"k\":[1,2.5,\"\\u00e9\",1e20,"
        "-0.0001]}}]}]}],\"scenes\":[{\"start_ms\":0,\"duration_ms\":1000,\"engagement\":1},"
        "{\"start_ms\":1000,\"duration_ms\":1000,\"engagement\":0.1},"
        "{\"start_ms\":2000,\"duration_ms\":1000,\"engagement\":1e-07},"
        "{\"start_ms\":3000,\"duration_ms\":1000,\"engagement\":0.123456789012345678}]}";
    int64_t live = mem_live();
    struct model *m;
    char *j;

    (void)state;
    /* The fixtures are checked by every json_round_trip() of test_json_round_trips. */
    m = json_read_ok(odd);
    json_round_trip(m);
    /* A re-dump cannot see digits lost before it: the reals, exactly. */
    j = json_of(m);
    assert_non_null(strstr(j, "\"scenes\":[{\"start_ms\":0,\"duration_ms\":1000,"
                              "\"engagement\":1.0},{\"start_ms\":1000,\"duration_ms\":1000,"
                              "\"engagement\":0.1},{\"start_ms\":2000,\"duration_ms\":1000,"
                              "\"engagement\":1e-7},{\"start_ms\":3000,\"duration_ms\":1000,"
                              "\"engagement\":0.123456789012346}]}\n"));
    xfree(j);
    model_free(&m);
    UNIT_END(live);
}

static void
test_json_reader_canonicalizes(void **state)
{
    static const char unmerged[] =
        "{\"version\":1,\"type\":\"static\",\"max_segment_ms\":2000,\"periods\":[{\"id\":\"p\","
        "\"start_ms\":0,\"sets\":[{\"id\":1,\"content\":\"audio\",\"mime\":\"audio/mp4\","
        "\"family\":\"aac\",\"timescale\":1000,\"init\":\"i.mp4\",\"media\":\"$Time$.m4s\","
        "\"start_number\":40,\"timeline\":[[0,2000,0],[2000,2000,1],[6000,1000,0]],"
        "\"reps\":[{\"id\":\"a\",\"codecs\":\"mp4a.40.2\",\"bandwidth\":64000,"
        "\"frame_rate\":\"30000/1001\"}]}],\"event_streams\":[{\"scheme\":\"urn:x\","
        "\"timescale\":1000,\"events\":[{\"id\":1,\"t\":10,\"payload\":{}},{\"id\":2,\"t\":50,"
        "\"payload\":{ \"b\" : [1, 2.5, \"\\u00e9\"] }}]}]}]}";
    int64_t live = mem_live();
    struct model *m;
    const struct model_timeline *tl;
    const struct model_evstream *es;
    struct model_seg seg;
    char *j;

    (void)state;
    m = json_read_ok(unmerged);
    tl = &m->periods[0]->sets[0]->tl;
    assert_int_equal(2, tl->nruns); /* the two 2 s runs were merged */
    assert_int_equal(2, tl->runs[0].r);
    assert_int_equal(0, model_timeline_find(tl, 6500, &seg));
    assert_int_equal(43, seg.number);
    es = m->periods[0]->streams[0];
    /* Payloads are kept as compact ASCII JSON. */
    assert_string_equal("{\"b\":[1,2.5,\"\\u00E9\"]}", es->events[1].payload);
    assert_int_equal(30000, m->periods[0]->sets[0]->reps[0]->fr_num);
    assert_int_equal(1001, m->periods[0]->sets[0]->reps[0]->fr_den);
    j = json_of(m);
    assert_non_null(strstr(j, "\"start_number\":40,\"timeline\":[[0,2000,2],[6000,1000,0]]"));
    xfree(j);
    json_round_trip(m);
    model_free(&m);
    UNIT_END(live);
}

struct bad_case {
    const char *from; /* replaced once in base_json ... */
    const char *to;   /* ... by this */
    int rc;
    const char *why; /* expected in the error text */
};

static const struct bad_case bad_cases[] = {
    {"{\"version\":1,", "[{\"version\":1,", ERR_PROTO, "json:"},
    {"\"version\":1", "\"version\":2", ERR_PROTO, "unsupported version 2"},
    {"\"version\":1", "\"version\":\"1\"", ERR_PROTO, "version: must be an integer"},
    {"\"version\":1", "\"version\":1,\"version\":1", ERR_PROTO, "duplicate"},
    {"\"version\":1", "\"versio\":1", ERR_PROTO, "unknown key \"versio\""},
    {"\"type\":\"static\"", "\"type\":\"live\"", ERR_PROTO, "type must be"},
    {"\"type\":\"static\",", "", ERR_PROTO, "type: missing"},
    {"\"ended\":false", "\"ended\":0", ERR_PROTO, "ended: must be true or false"},
    {"\"name\":\"vod\"", "\"name\":\"v\\u00e9\"", ERR_PROTO, "invalid name"},
    {"\"name\":\"vod\"", "\"name\":\"v\\u0000\"", ERR_PROTO, "json:"},
    {"\"name\":\"vod\"", "\"name\":7", ERR_PROTO, "name: must be a string"},
    {"\"max_segment_ms\":2000", "\"max_segment_ms\":1000", ERR_PROTO, "max_segment_ms"},
    {"\"max_segment_ms\":2000", "\"max_segment_ms\":-5", ERR_PROTO, "max_segment_ms: must be"},
    {"\"scheme\":\"http-iso\"", "\"scheme\":\"ntp\"", ERR_PROTO, "utc_timing: scheme must be"},
    {"\"url\":\"/time\"", "\"url\":\"/t me\"", ERR_PROTO, "utc_timing: invalid url"},
    {"\"periods\":[", "\"periods\":{\"x\":[", ERR_PROTO, "json:"},
    {"\"start_ms\":0", "\"start_ms\":0.0", ERR_PROTO, "periods[0].start_ms: must be an integer"},
    {"\"id\":\"p0\"", "\"id\":\"p/0\"", ERR_PROTO, "periods[0]: invalid id"},
    {"\"content\":\"video\"", "\"content\":\"subtitles\"", ERR_PROTO,
     "periods[0].sets[0]: content"},
    {"\"mime\":\"video/mp4\"", "\"mime\":\"video\"", ERR_PROTO, "sets[0]: invalid mime or family"},
    {"\"lang\":\"en\"", "\"lang\":\"english!\"", ERR_PROTO, "sets[0]: invalid lang"},
    {"\"timescale\":15360", "\"timescale\":0", ERR_PROTO,
     "periods[0].sets[0].timescale: must be an integer in 1..4294967295"},
    {"\"timescale\":15360", "\"timescale\":4294967296", ERR_PROTO, "sets[0].timescale: must be"},
    {"\"segment_alignment\":true", "\"segment_alignment\":\"yes\"", ERR_PROTO,
     "segment_alignment: must be true or false"},
    {"$RepresentationID$/$Time$.m4s", "$RepresentationID$/$Number$.m4s", ERR_PROTO,
     "invalid init or media template"},
    {"[0,30720,2],", "[0,30720],", ERR_PROTO, "timeline[0]: must be [t, d, r]"},
    {"[0,30720,2],", "[0,0,2],", ERR_PROTO, "timeline[0]: zero duration"},
    {"[92160,15360,0]", "[61440,15360,0]", ERR_PROTO, "timeline[1]: zero duration, overlap"},
    {"[92160,15360,0]", "[9007199254740992,15360,0]", ERR_PROTO, "timeline[1]: must be"},
    {"[92160,15360,0]", "[92160,15360,262144]", ERR_LIMIT, "more than 262144 segments"},
    {"[92160,15360,0]", "[92160,1,262141]", ERR_LIMIT, "timeline[1]: more than"},
    {"\"id\":\"480p\"", "\"id\":\"480 p\"", ERR_PROTO, "reps[0]: invalid id or codecs"},
    {"\"codecs\":\"avc1.4d401e\"", "\"codecs\":\"avc1\\\"\"", ERR_PROTO, "invalid id or codecs"},
    {"\"bandwidth\":1200000", "\"bandwidth\":0", ERR_PROTO, "reps[0].bandwidth: must be"},
    {"\"bandwidth\":1200000", "\"bitrate\":1200000", ERR_PROTO, "reps[0]: unknown key \"bitrate\""},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":\"25/0\"", ERR_PROTO, "frame_rate: must be"},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":\"25/\"", ERR_PROTO, "frame_rate: must be"},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":\"/25\"", ERR_PROTO, "frame_rate: must be"},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":\"99999999999\"", ERR_PROTO, "frame_rate: must be"},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":\"+25\"", ERR_PROTO, "frame_rate: must be"},
    {"\"frame_rate\":\"25\"", "\"frame_rate\":25", ERR_PROTO, "frame_rate: must be a string"},
    {"\"reps\":[{", "\"reps\":[{\"id\":\"480p\",\"codecs\":\"avc1\",\"bandwidth\":1},{", ERR_PROTO,
     "reps[1]: duplicate id"},
    {"\"payload\":{\"a\":1}", "\"payload\":\"a\"", ERR_PROTO, "payload must be an object"},
    {"\"payload\":{\"a\":1}", "\"payload\":{\"a\":[[[[[[[[1]]]]]]]]}", ERR_LIMIT, "nests deeper"},
    {"\"payload\":{\"a\":1}", "\"payload\":{\"a\":[[[[[[1]]]]]]}", 0, NULL},
    {"\"regions\":\"FR\"", "\"regions\":\"fr\"", ERR_PROTO, "events[0]: invalid time, regions"},
    {"\"t\":0,", "\"t\":-1,", ERR_PROTO, "events[0].t: must be an integer"},
    {"\"events\":[{\"id\":1,\"t\":0,",
     "\"events\":[{\"id\":2,\"t\":5,\"payload\":{}},{\"id\":1,\"t\":0,", ERR_PROTO,
     "events[1]: events must be in time order"},
    {"\"events\":[{\"id\":1,\"t\":0,",
     "\"events\":[{\"id\":1,\"t\":5,\"payload\":{}},{\"id\":1,\"t\":5,", ERR_PROTO,
     "event_streams[0]: duplicate event id"},
    {"\"cues\":[{", "\"cues\":[{\"id\":2,\"timescale\":1,\"t\":9,\"d\":1},{", ERR_PROTO,
     "cues[1]: cues must be in time order"},
    {"\"scheme\":\"urn:x\"", "\"scheme\":\"\"", ERR_PROTO, "event_streams[0]: invalid scheme"},
    {"\"cues\":[{\"id\":1", "\"cues\":[{\"id\":1,\"out\":true", ERR_PROTO, "unknown key \"out\""},
    {"\"d\":90000}", "\"d\":0}", ERR_PROTO, "cues[0].d: must be"},
    {"\"engagement\":0.5", "\"engagement\":1.5", ERR_PROTO, "engagement must be a number"},
    {"\"engagement\":0.5", "\"engagement\":\"high\"", ERR_PROTO, "engagement must be a number"},
    {"\"engagement\":0.5", "\"engagement\":1", 0, NULL},
    {"\"engagement\":0.5}",
     "\"engagement\":0.5},{\"start_ms\":10,\"duration_ms\":1,"
     "\"engagement\":0}",
     ERR_PROTO, "scenes[1]: scene overlaps"},
    {"\"periods\":[{\"id\":\"p0\",\"start_ms\":0",
     "\"periods\":[{\"id\":\"p9\",\"start_ms\":5,\"sets\":[]},{\"id\":\"p0\",\"start_ms\":0",
     ERR_PROTO, "periods[1]: invalid id or start before the previous period"},
    {"\"periods\":[{\"id\":\"p0\"", "\"periods\":[{\"id\":\"p0\",\"sets\":[]},{\"id\":\"p0\"",
     ERR_PROTO, "periods[0].start_ms: missing"},
};

/* base_json with from replaced once by to. */
static char *
bad_input(const struct bad_case *bc)
{
    const char *at = strstr(base_json, bc->from);
    size_t pre, flen = strlen(bc->from), tlen = strlen(bc->to);
    char *s;

    if (at == NULL)
        fail_msg("case %s: not in the base document", bc->from);
    pre = (size_t)(at - base_json);
    s = xmalloc(strlen(base_json) - flen + tlen + 1);
    memcpy(s, base_json, pre);
    memcpy(s + pre, bc->to, tlen);
    memcpy(s + pre + tlen, at + flen, strlen(at + flen) + 1);
    return s;
}

static void
test_json_reader_rejects(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        char *in = bad_input(bc);
        int rc;

        m = (struct model *)1;
        rc = model_json_read(in, strlen(in), &m, err, sizeof(err));
        if (rc != bc->rc || (bc->why != NULL && strstr(err, bc->why) == NULL))
            fail_msg("case %zu (%s): rc %d (%s) err \"%s\", wanted %d \"%s\"", i, bc->to, rc,
                     err_name(rc), err, bc->rc, bc->why != NULL ? bc->why : "");
        if (rc == 0) {
            model_check(m);
            model_free(&m);
        }
        assert_null(m);
        xfree(in);
    }
    UNIT_END(live);
}

static void
test_json_reader_bounds(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    struct buf b;
    char err[256], *exact;
    size_t n = strlen(base_json), i;

    (void)state;
    /* The input is not NUL-terminated: an exact-size copy (ASan checks the reads). */
    exact = xmalloc(n);
    memcpy(exact, base_json, n);
    assert_int_equal(0, model_json_read(exact, n, &m, err, sizeof(err)));
    model_free(&m);
    /* A prefix is a truncated document. */
    assert_int_equal(ERR_PROTO, model_json_read(exact, n - 1, &m, err, sizeof(err)));
    assert_null(m);
    assert_int_equal(ERR_PROTO, model_json_read(exact, 0, &m, err, 0)); /* no room for text */
    xfree(exact);

    /* Over the size cap: refused before parsing. */
    assert_int_equal(ERR_LIMIT,
                     model_json_read(base_json, MODEL_JSON_MAX + 1, &m, err, sizeof(err)));
    assert_non_null(strstr(err, "input longer than"));

    /* 65 periods. */
    buf_init(&b, 1 << 20);
    buf_puts(&b, "{\"version\":1,\"type\":\"dynamic\",\"periods\":[");
    for (i = 0; i <= MODEL_MAX_PERIODS; i++)
        buf_printf(&b, "%s{\"id\":\"p%zu\",\"start_ms\":%zu,\"sets\":[]}", i > 0 ? "," : "", i, i);
    buf_puts(&b, "]}");
    assert_int_equal(ERR_LIMIT, model_json_read(b.p, b.len, &m, err, sizeof(err)));
    assert_string_equal("periods: more than 64 elements", err);

    /* A payload over MODEL_MAX_PAYLOAD once compacted. */
    buf_reset(&b);
    buf_puts(&b, "{\"version\":1,\"type\":\"dynamic\",\"periods\":[{\"id\":\"p\",\"start_ms\":0,"
                 "\"sets\":[],\"event_streams\":[{\"scheme\":\"urn:x\",\"timescale\":1,"
                 "\"events\":[{\"id\":1,\"t\":0,\"payload\":{\"text\":\"");
    for (i = 0; i < MODEL_MAX_PAYLOAD; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\"}}]}]}]}");
    assert_int_equal(ERR_LIMIT, model_json_read(b.p, b.len, &m, err, sizeof(err)));
    assert_non_null(strstr(err, "payload longer than 4096 bytes"));
    buf_free(&b);
    UNIT_END(live);
}

static void
test_json_write_refuses_bad_payload(void **state)
{
    int64_t live = mem_live();
    struct model *m = fixture_live();
    struct buf b;

    (void)state;
    assert_int_equal(0, model_event_add(m->periods[0]->streams[0], 9, 0, 0, "[1,2]", NULL));
    buf_init(&b, 1 << 20);
    assert_int_equal(ERR_INVAL, model_json_write(m, &b));
    buf_free(&b);
    buf_init(&b, 100);
    model_free(&m);
    m = fixture_live();
    assert_int_equal(ERR_LIMIT, model_json_write(m, &b));
    buf_free(&b);
    model_free(&m);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_live_exact),
        cmocka_unit_test(test_json_round_trips),
        cmocka_unit_test(test_json_writer_matches_jansson),
        cmocka_unit_test(test_json_reader_canonicalizes),
        cmocka_unit_test(test_json_reader_rejects),
        cmocka_unit_test(test_json_reader_bounds),
        cmocka_unit_test(test_json_write_refuses_bad_payload),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
