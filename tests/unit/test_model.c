/*
 * test_model.c -- the manifest model: building, timelines (run merging,
 * lookup, next-N, trimming), the DVR window, invariants and limits.
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "media/model.h"
#include "media/model_int.h"
#include "model_fixture.h"
#include "compat.h"

static void
test_model_fixtures_are_valid(void **state)
{
    int64_t live = mem_live();
    struct model *m;

    (void)state;
    m = fixture_live();
    model_check(m);
    assert_int_equal(2006, m->max_seg_ms); /* 96256 / 48 kHz, rounded up */
    model_free(&m);
    assert_null(m);
    m = fixture_static();
    model_check(m);
    assert_int_equal(7000, model_end_ms(m));
    model_free(&m);
    model_free(&m); /* NULL is fine */
    UNIT_END(live);
}

static void
test_model_timeline_merges_runs(void **state)
{
    int64_t live = mem_live();
    struct model_timeline tl = {.timescale = 1000};

    (void)state;
    assert_int_equal(0, model_timeline_add(&tl, 0, 2000, 1));
    assert_int_equal(0, model_timeline_add(&tl, 2000, 2000, 1)); /* merged */
    assert_int_equal(0, model_timeline_add(&tl, 4000, 2000, 3)); /* merged, three at once */
    assert_int_equal(1, tl.nruns);
    assert_int_equal(4, tl.runs[0].r);
    assert_int_equal(0, model_timeline_add(&tl, 12000, 1500, 1)); /* new duration */
    assert_int_equal(0, model_timeline_add(&tl, 13500, 2000, 1)); /* back: a third run */
    assert_int_equal(0, model_timeline_add(&tl, 20000, 2000, 1)); /* a gap: a fourth */
    assert_int_equal(4, tl.nruns);
    assert_int_equal(8, tl.nsegs);
    assert_int_equal(8, tl.next_number);
    assert_int_equal(5, tl.runs[1].num);
    assert_int_equal(6, tl.runs[2].num);
    assert_int_equal(7, tl.runs[3].num);
    assert_int_equal(22000, model_timeline_end(&tl));

    assert_int_equal(ERR_INVAL, model_timeline_add(&tl, 21000, 2000, 1)); /* overlap */
    assert_int_equal(ERR_INVAL, model_timeline_add(&tl, 22000, 0, 1));    /* no duration */
    assert_int_equal(ERR_INVAL, model_timeline_add(&tl, 22000, 1, 0));    /* no segment */
    assert_int_equal(ERR_INVAL, model_timeline_add(&tl, MODEL_TIME_MAX, 1, 1));
    assert_int_equal(ERR_LIMIT, model_timeline_add(&tl, 22000, 1, MODEL_MAX_SEGMENTS));
    assert_int_equal(8, tl.nsegs); /* failures changed nothing */
    xfree(tl.runs);
    UNIT_END(live);
}

/* 0, 2000, 4000 (2 s each), 6000 (1 s), gap, 10000, 12000 (2 s each). */
static void
test_model_timeline_sample(struct model_timeline *tl)
{
    memset(tl, 0, sizeof(*tl));
    tl->timescale = 1000;
    tl->next_number = 100;
    assert_int_equal(0, model_timeline_add(tl, 0, 2000, 3));
    assert_int_equal(0, model_timeline_add(tl, 6000, 1000, 1));
    assert_int_equal(0, model_timeline_add(tl, 10000, 2000, 2));
}

static void
test_model_timeline_find(void **state)
{
    int64_t live = mem_live();
    struct model_timeline tl;
    struct model_seg s;

    (void)state;
    test_model_timeline_sample(&tl);
    assert_int_equal(0, model_timeline_find(&tl, 0, &s));
    assert_int_equal(0, s.t);
    assert_int_equal(2000, s.d);
    assert_int_equal(100, s.number);
    assert_int_equal(0, model_timeline_find(&tl, 3999, &s));
    assert_int_equal(2000, s.t);
    assert_int_equal(101, s.number);
    assert_int_equal(0, model_timeline_find(&tl, 6500, &s));
    assert_int_equal(6000, s.t);
    assert_int_equal(1000, s.d);
    assert_int_equal(103, s.number);
    assert_int_equal(ERR_NOTFOUND, model_timeline_find(&tl, 7000, &s)); /* the gap */
    assert_int_equal(ERR_NOTFOUND, model_timeline_find(&tl, 9999, &s));
    assert_int_equal(0, model_timeline_find(&tl, 13999, &s));
    assert_int_equal(12000, s.t);
    assert_int_equal(105, s.number);
    assert_int_equal(ERR_NOTFOUND, model_timeline_find(&tl, 14000, &s)); /* past the end */
    xfree(tl.runs);

    memset(&tl, 0, sizeof(tl));
    tl.timescale = 1;
    assert_int_equal(ERR_NOTFOUND, model_timeline_find(&tl, 0, &s)); /* empty */
    assert_int_equal(0, model_timeline_add(&tl, 50, 10, 1));
    assert_int_equal(ERR_NOTFOUND, model_timeline_find(&tl, 49, &s)); /* before it */
    xfree(tl.runs);
    UNIT_END(live);
}

static void
test_model_timeline_next(void **state)
{
    int64_t live = mem_live();
    struct model_timeline tl;
    struct model_seg s[8];

    (void)state;
    test_model_timeline_sample(&tl);
    /* After segment 0: the rest, across the short run and the gap. */
    assert_int_equal(5, model_timeline_next(&tl, 0, s, 8));
    assert_int_equal(2000, s[0].t);
    assert_int_equal(4000, s[1].t);
    assert_int_equal(6000, s[2].t);
    assert_int_equal(10000, s[3].t);
    assert_int_equal(104, s[3].number);
    assert_int_equal(12000, s[4].t);
    /* n caps the answer. */
    assert_int_equal(2, model_timeline_next(&tl, 4000, s, 2));
    assert_int_equal(6000, s[0].t);
    assert_int_equal(10000, s[1].t);
    /* From inside a segment or a gap, and from before the first. */
    assert_int_equal(1, model_timeline_next(&tl, 11000, s, 8));
    assert_int_equal(12000, s[0].t);
    assert_int_equal(2, model_timeline_next(&tl, 8000, s, 8));
    assert_int_equal(10000, s[0].t);
    xfree(tl.runs);

    memset(&tl, 0, sizeof(tl));
    tl.timescale = 1;
    assert_int_equal(0, model_timeline_add(&tl, 50, 10, 2));
    assert_int_equal(2, model_timeline_next(&tl, 0, s, 8));
    assert_int_equal(50, s[0].t);
    assert_int_equal(0, model_timeline_next(&tl, 60, s, 8)); /* the last one */
    assert_int_equal(0, model_timeline_next(&tl, 999, s, 8));
    xfree(tl.runs);
    UNIT_END(live);
}

static void
test_model_timeline_trim(void **state)
{
    int64_t live = mem_live();
    struct model_timeline tl;
    struct model_seg s;

    (void)state;
    test_model_timeline_sample(&tl);
    assert_int_equal(0, model_timeline_trim(&tl, 1999)); /* segment 0 ends at 2000 */
    assert_int_equal(100, model_timeline_first_number(&tl));
    assert_int_equal(1, model_timeline_trim(&tl, 3000)); /* part of the first run */
    assert_int_equal(3, tl.nruns);
    assert_int_equal(2000, tl.runs[0].t);
    assert_int_equal(1, tl.runs[0].r);
    assert_int_equal(101, model_timeline_first_number(&tl));
    assert_int_equal(3, model_timeline_trim(&tl, 10000)); /* two runs and the gap */
    assert_int_equal(1, tl.nruns);
    assert_int_equal(104, model_timeline_first_number(&tl));
    assert_int_equal(2, tl.nsegs);
    /* Numbers survive trimming. */
    assert_int_equal(0, model_timeline_find(&tl, 12000, &s));
    assert_int_equal(105, s.number);
    assert_int_equal(2, model_timeline_trim(&tl, 99999));
    assert_int_equal(0, tl.nruns);
    assert_int_equal(0, tl.nsegs);
    assert_int_equal(106, model_timeline_first_number(&tl));
    /* The next segment after an empty window keeps counting. */
    assert_int_equal(0, model_timeline_add(&tl, 14000, 2000, 1));
    assert_int_equal(106, tl.runs[0].num);
    xfree(tl.runs);
    UNIT_END(live);
}

static void
test_model_trim_dvr(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    struct model_period *p0, *p1;
    struct model_aset *v, *a;
    struct model_rep *r;

    (void)state;
    m = fixture_live(); /* video to 11.9 s, audio to 9.984 s, flashes at 2 s and 4 s */
    m->tsbd_ms = 7000;  /* the window starts at 4.9 s */
    model_trim_dvr(m);
    model_check(m);
    p0 = m->periods[0];
    v = p0->sets[0];
    a = p0->sets[1];
    /* Video: segments ending at 2 and 4 s go; 4..6 s ends inside the window. */
    assert_int_equal(2, model_timeline_first_number(&v->tl));
    assert_int_equal(360000, v->tl.runs[0].t);
    /* Audio: 0..2.005, 2.005..3.989 go. */
    assert_int_equal(2, model_timeline_first_number(&a->tl));
    /* The 2..7 s flash still overlaps the window, the cue (6..36 s) too; the
     * instant flash at 4 s is gone. */
    assert_int_equal(1, p0->streams[0]->nevents);
    assert_int_equal(1, p0->streams[0]->events[0].id);
    assert_int_equal(1, p0->ncues);

    /* An ad period from 12 s and the content back from 42 s. */
    assert_int_equal(0, model_period_add(m, "ad-7", 12000, &p1));
    p1->duration_ms = 30000;
    assert_int_equal(0, model_aset_add(p1, 1, MODEL_VIDEO, "video/mp4", "avc", 90000, &v));
    assert_int_equal(0, model_aset_set_templates(v, "/ads/c1/$RepresentationID$/init.mp4",
                                                 "/ads/c1/$RepresentationID$/$Time$.m4s"));
    assert_int_equal(0, model_rep_add(v, "720p", "avc1.64001f", 3000000, &r));
    assert_int_equal(0, model_segment_add(m, v, 0, 180000));
    assert_int_equal(ERR_PROTO, model_validate(m, NULL, 0)); /* numbering restarts */
    v->tl.runs[0].num = 6;                                   /* go on from p0's six */
    v->tl.next_number = 7;
    model_check(m);
    m->tsbd_ms = 1000; /* the edge at 14 s: the window from 13 s; p0 ended at 12 s */
    model_trim_dvr(m);
    model_check(m);
    assert_int_equal(1, m->nperiods);
    assert_string_equal("ad-7", m->periods[0]->id);
    assert_int_equal(1, m->disc_seq);
    assert_int_equal(1, m->periods[0]->sets[0]->tl.nsegs); /* 12..14 s stays */

    /* Static models and models without a window are left alone. */
    m->type = MODEL_STATIC;
    m->tsbd_ms = 1;
    model_trim_dvr(m);
    assert_int_equal(1, m->periods[0]->sets[0]->tl.nsegs);
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_trim_dvr_events_and_cues(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    struct model_period *p;

    (void)state;
    m = fixture_live();
    p = m->periods[0];
    assert_int_equal(0, model_cue_add(p, 8, 90000, 0, 90000)); /* 0..1 s */
    m->tsbd_ms = 5000; /* the edge at 11.9 s: the window from 6.9 s */
    model_trim_dvr(m);
    model_check(m);
    /* The 2..7 s flash overlaps the window; the instant one at 4 s does not. */
    assert_int_equal(1, p->streams[0]->nevents);
    assert_int_equal(1, p->streams[0]->events[0].id);
    assert_int_equal(1, p->ncues);
    assert_int_equal(7, p->cues[0].id);
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_lookups(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    struct model_aset *s = NULL;

    (void)state;
    m = fixture_live();
    assert_ptr_equal(m->periods[0], model_period_find(m, "p0"));
    assert_null(model_period_find(m, "p1"));
    assert_ptr_equal(m->periods[0]->sets[1], model_aset_find(m->periods[0], 2));
    assert_null(model_aset_find(m->periods[0], 3));
    assert_string_equal("a128", model_rep_find(m->periods[0], "a128", &s)->id);
    assert_int_equal(2, s->id);
    assert_null(model_rep_find(m->periods[0], "nope", NULL));
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_adders_refuse_bad_input(void **state)
{
    int64_t live = mem_live();
    struct model *m = model_new();
    struct model_period *p;
    struct model_aset *s;
    struct model_evstream *es;
    char id[8];
    int i;

    (void)state;
    assert_int_equal(ERR_INVAL, model_set_name(m, "tab\there"));
    assert_int_equal(ERR_INVAL, model_set_name(m, ""));
    assert_int_equal(ERR_INVAL, model_set_utc(m, MODEL_UTC_HTTP_ISO, NULL));
    assert_int_equal(ERR_INVAL, model_set_utc(m, MODEL_UTC_HTTP_ISO, "/ti me"));
    assert_int_equal(ERR_INVAL, model_set_utc(m, MODEL_UTC_NONE, "/time"));
    assert_int_equal(ERR_INVAL, model_period_add(m, "a/b", 0, &p));
    assert_int_equal(ERR_INVAL, model_period_add(m, "..", 0, &p));
    assert_int_equal(0, model_period_add(m, "p1", 1000, &p));
    assert_int_equal(ERR_EXISTS, model_period_add(m, "p1", 2000, NULL));
    assert_int_equal(ERR_INVAL, model_period_add(m, "p0", 0, NULL)); /* out of order */

    assert_int_equal(ERR_INVAL, model_aset_add(p, 1, 9, "video/mp4", "avc", 90000, &s));
    assert_int_equal(ERR_INVAL, model_aset_add(p, 1, MODEL_VIDEO, "Video/MP4", "avc", 90000, &s));
    assert_int_equal(ERR_INVAL, model_aset_add(p, 1, MODEL_VIDEO, "video/mp4", "AVC", 90000, &s));
    assert_int_equal(ERR_INVAL, model_aset_add(p, 1, MODEL_VIDEO, "video/mp4", "avc", 0, &s));
    assert_int_equal(0, model_aset_add(p, 1, MODEL_VIDEO, "video/mp4", "avc", 90000, &s));
    assert_int_equal(ERR_EXISTS, model_aset_add(p, 1, MODEL_AUDIO, "audio/mp4", "aac", 1, NULL));
    assert_int_equal(0, model_aset_set_lang(s, "pt-BR"));
    assert_int_equal(0, model_aset_set_lang(s, "es-419"));
    assert_int_equal(ERR_INVAL, model_aset_set_lang(s, "1en"));
    assert_int_equal(ERR_INVAL, model_aset_set_lang(s, "en-"));
    assert_int_equal(ERR_INVAL, model_aset_set_lang(s, "toolongtag"));
    assert_int_equal(ERR_INVAL, model_aset_set_templates(s, "$Time$.mp4", "$Time$.m4s"));
    assert_int_equal(ERR_INVAL, model_aset_set_templates(s, "init.mp4", "$Number$.m4s"));
    assert_int_equal(ERR_INVAL, model_aset_set_templates(s, "init.mp4", "seg.m4s"));
    assert_int_equal(ERR_INVAL, model_aset_set_templates(s, "in\"it.mp4", "$Time$.m4s"));
    assert_int_equal(0, model_aset_set_templates(s, "i$$.mp4", "$RepresentationID$-$Time$.m4s"));

    assert_int_equal(ERR_INVAL, model_rep_add(s, "a b", "avc1", 1, NULL));
    assert_int_equal(ERR_INVAL, model_rep_add(s, "r", "avc1,", 1, NULL));
    assert_int_equal(ERR_INVAL, model_rep_add(s, "r", "avc1\"", 1, NULL));
    assert_int_equal(ERR_INVAL, model_rep_add(s, "r", "avc1", 0, NULL));
    for (i = 0; i < MODEL_MAX_REPS; i++) {
        (void)snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(0, model_rep_add(s, id, "avc1.64001f", 1000, NULL));
    }
    assert_int_equal(ERR_LIMIT, model_rep_add(s, "one-more", "avc1", 1, NULL));
    assert_int_equal(ERR_EXISTS, model_rep_add(s, "r0", "avc1", 1, NULL));

    assert_int_equal(ERR_INVAL, model_evstream_add(p, "urn:x y", NULL, 1000, &es));
    assert_int_equal(ERR_INVAL, model_evstream_add(p, "urn:x", NULL, 0, &es));
    assert_int_equal(0, model_evstream_add(p, "urn:x", NULL, 1000, &es));
    assert_int_equal(ERR_INVAL, model_event_add(es, 1, 0, 0, "{\"a\":\"\xc3\xa9\"}", NULL));
    assert_int_equal(ERR_INVAL, model_event_add(es, 1, 0, 0, "{}", "fr"));
    assert_int_equal(ERR_INVAL, model_event_add(es, 1, 0, 0, "{}", "FR,"));
    assert_int_equal(ERR_INVAL, model_event_add(es, 1, 0, 0, "{}", "FRA"));
    assert_int_equal(ERR_INVAL, model_event_add(es, 1, MODEL_TIME_MAX, 1, "{}", NULL));
    assert_int_equal(0, model_event_add(es, 1, 0, 0, "{}", "FR,DE,GB"));
    assert_int_equal(ERR_INVAL, model_cue_add(p, 1, 90000, 0, 0));
    assert_int_equal(ERR_INVAL, model_cue_add(p, 1, 0, 0, 1));
    assert_int_equal(ERR_INVAL, model_scene_add(m, 0, 0, 0.5));
    assert_int_equal(ERR_INVAL, model_scene_add(m, 0, 10, 1.5));
    assert_int_equal(ERR_INVAL, model_scene_add(m, 0, 10, -0.1));
    assert_int_equal(0, model_scene_add(m, 0, 10, 1.0));
    assert_int_equal(ERR_INVAL, model_scene_add(m, 5, 10, 0.5)); /* overlaps */
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_event_visible(void **state)
{
    struct model_event all = {.regions = NULL};
    struct model_event some = {.regions = "FR,BE"};
    int64_t live = mem_live();

    (void)state;
    assert_true(model_event_visible(&all, NULL));
    assert_true(model_event_visible(&all, "US"));
    assert_true(model_event_visible(&some, "FR"));
    assert_true(model_event_visible(&some, "BE"));
    assert_false(model_event_visible(&some, "DE"));
    assert_false(model_event_visible(&some, "F"));
    assert_false(model_event_visible(&some, "FRA"));
    assert_false(model_event_visible(&some, NULL)); /* unknown region: global events only */
    UNIT_END(live);
}

static void
test_model_events_and_cues_sorted(void **state)
{
    int64_t live = mem_live();
    struct model *m = model_new();
    struct model_period *p;
    struct model_evstream *es;

    (void)state;
    assert_int_equal(0, model_period_add(m, "p", 0, &p));
    assert_int_equal(0, model_evstream_add(p, "urn:x", "v", 1000, &es));
    assert_int_equal(0, model_event_add(es, 3, 300, 0, "{}", NULL));
    assert_int_equal(0, model_event_add(es, 1, 100, 0, "{}", NULL));
    assert_int_equal(0, model_event_add(es, 2, 300, 0, "{}", NULL)); /* after the same t */
    assert_int_equal(1, es->events[0].id);
    assert_int_equal(3, es->events[1].id);
    assert_int_equal(2, es->events[2].id);
    assert_int_equal(0, model_cue_add(p, 9, 1000, 500, 10));
    assert_int_equal(0, model_cue_add(p, 8, 1000, 100, 10));
    assert_int_equal(8, p->cues[0].id);
    model_check(m);
    assert_int_equal(0, model_event_add(es, 2, 400, 0, "{}", NULL)); /* duplicate id */
    assert_int_equal(ERR_PROTO, model_validate(m, NULL, 0));
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_validate_catches_corruption(void **state)
{
    int64_t live = mem_live();
    struct model *m;
    struct model_aset *v;
    char err[160];

    (void)state;
    m = fixture_live();
    v = m->periods[0]->sets[0];

    v->tl.runs[1].d = 180000; /* touching runs with one duration: not merged */
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    assert_non_null(strstr(err, "not merged"));
    v->tl.runs[1].d = 171000;

    v->tl.runs[2].t -= 1; /* overlap */
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    assert_non_null(strstr(err, "overlaps"));
    v->tl.runs[2].t += 1;

    v->tl.runs[2].num += 1;
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    assert_non_null(strstr(err, "misnumbered"));
    v->tl.runs[2].num -= 1;

    m->max_seg_ms = 1999;
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    assert_non_null(strstr(err, "max_segment_ms"));
    m->max_seg_ms = 2006;

    xfree(m->periods[0]->sets[1]->reps[0]->id); /* same rep id in two sets */
    m->periods[0]->sets[1]->reps[0]->id = xstrdup("720p");
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate id"));
    xfree(m->periods[0]->sets[1]->reps[0]->id);
    m->periods[0]->sets[1]->reps[0]->id = xstrdup("a128");

    m->periods[0]->sets[0]->reps[0]->fr_den = 0;
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    m->periods[0]->sets[0]->reps[0]->fr_den = 1;

    m->utc = MODEL_UTC_NONE; /* but a URL is still set */
    assert_int_equal(ERR_PROTO, model_validate(m, err, sizeof(err)));
    m->utc = MODEL_UTC_HTTP_XSDATE;

    m->periods[0]->duration_ms = 1000;
    assert_int_equal(0, model_validate(m, err, sizeof(err)));
    assert_string_equal("", err);
    model_free(&m);
    UNIT_END(live);
}

static void
test_model_time_formats(void **state)
{
    int64_t live = mem_live();
    struct buf b;

    (void)state;
    buf_init(&b, 256);
    model_put_duration(&b, 0);
    buf_putc(&b, ' ');
    model_put_duration(&b, 2000);
    buf_putc(&b, ' ');
    model_put_duration(&b, 2500);
    buf_putc(&b, ' ');
    model_put_duration(&b, 3600040);
    buf_putc(&b, ' ');
    model_put_datetime(&b, FIXTURE_AST_MS, false);
    buf_putc(&b, ' ');
    model_put_datetime(&b, FIXTURE_AST_MS + 7, true);
    buf_putc(&b, ' ');
    model_put_datetime(&b, MODEL_PRINT_DATE_MAX, false);
    buf_putc(&b, ' ');
    model_put_seconds(&b, 96256, 48000);
    buf_putc(&b, ' ');
    model_put_seconds(&b, 30000, 1001);
    buf_putc(&b, ' ');
    model_put_tmpl(&b, "$RepresentationID$/$Time$$$.m4s", "720p", 180000);
    assert_int_equal(0, buf_status(&b));
    assert_string_equal("PT0S PT2S PT2.5S PT3600.04S 2026-11-24T03:00:00Z "
                        "2026-11-24T03:00:00.007Z 9999-12-31T23:59:59.999Z 2.005 29.970 "
                        "720p/180000$.m4s",
                        b.p);
    buf_reset(&b);
    model_put_datetime(&b, MODEL_PRINT_DATE_MAX + 1, false);
    assert_int_equal(ERR_INVAL, buf_status(&b));
    buf_free(&b);

    assert_int_equal(1000, model_ts_convert(90000, 90000, 1000));
    assert_int_equal(1875, model_ts_convert(1000, 48000, 90000));
    assert_int_equal(UINT64_C(0x7fffffff) * 90000, model_ts_convert(MODEL_SECONDS_MAX, 1, 90000));
    assert_true(model_time_ok(MODEL_SECONDS_MAX, 1));
    assert_false(model_time_ok(MODEL_SECONDS_MAX + 1, 1));
    assert_false(model_time_ok(MODEL_TIME_MAX + 1, 4000000000u));
    assert_false(model_time_ok(0, 0));
    assert_int_equal(2006, model_ms_ceil(96256, 48000));
    assert_int_equal(2000, model_ms_ceil(180000, 90000));
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_fixtures_are_valid),
        cmocka_unit_test(test_model_timeline_merges_runs),
        cmocka_unit_test(test_model_timeline_find),
        cmocka_unit_test(test_model_timeline_next),
        cmocka_unit_test(test_model_timeline_trim),
        cmocka_unit_test(test_model_trim_dvr),
        cmocka_unit_test(test_model_trim_dvr_events_and_cues),
        cmocka_unit_test(test_model_lookups),
        cmocka_unit_test(test_model_adders_refuse_bad_input),
        cmocka_unit_test(test_model_event_visible),
        cmocka_unit_test(test_model_events_and_cues_sorted),
        cmocka_unit_test(test_model_validate_catches_corruption),
        cmocka_unit_test(test_model_time_formats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
