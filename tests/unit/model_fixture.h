/*
 * model_fixture.h -- the small live and static models the model tests share.
 *
 * Header-only (static functions) so each test executable builds its own.
 * The live model: one period, 720p/360p video on a 90 kHz clock with a
 * short segment in the middle, AAC audio on 48 kHz with alternating
 * durations, a news-flash stream (one event limited to FR and BE), an ad
 * cue. The static model: one video rendition on 15360 Hz, two scenes.
 */
#ifndef CASCADE_MODEL_FIXTURE_H
#define CASCADE_MODEL_FIXTURE_H

#include "media/model.h"

/* 2026-11-24T03:00:00Z */
#define FIXTURE_AST_MS UINT64_C(1795489200000)

#define FIXTURE_OK(x) assert_int_equal(0, (x))

static UNUSED struct model *
fixture_live(void)
{
    struct model *m = model_new();
    struct model_period *p;
    struct model_aset *v, *a;
    struct model_rep *r;
    struct model_evstream *es;
    uint64_t t;
    int i;

    FIXTURE_OK(model_set_name(m, "Demo <live> & \"friends\""));
    m->type = MODEL_DYNAMIC;
    m->ast_ms = FIXTURE_AST_MS;
    m->publish_ms = FIXTURE_AST_MS + 12500;
    m->min_update_ms = 2000;
    m->tsbd_ms = 30000;
    m->delay_ms = 6000;
    m->min_buffer_ms = 4000;
    FIXTURE_OK(model_set_utc(m, MODEL_UTC_HTTP_ISO, "/time"));
    FIXTURE_OK(model_period_add(m, "p0", 0, &p));

    FIXTURE_OK(model_aset_add(p, 1, MODEL_VIDEO, "video/mp4", "avc", 90000, &v));
    FIXTURE_OK(model_rep_add(v, "720p", "avc1.64001f", 3000000, &r));
    r->width = 1280;
    r->height = 720;
    r->fr_num = 30;
    r->fr_den = 1;
    FIXTURE_OK(model_rep_add(v, "360p", "avc1.64001e", 800000, &r));
    r->avg_bandwidth = 700000;
    r->width = 640;
    r->height = 360;
    r->fr_num = 30000;
    r->fr_den = 1001;
    for (i = 0, t = 0; i < 4; i++, t += 180000)
        FIXTURE_OK(model_segment_add(m, v, t, 180000));
    FIXTURE_OK(model_segment_add(m, v, t, 171000)); /* a short one: a new run */
    FIXTURE_OK(model_segment_add(m, v, t + 171000, 180000));

    FIXTURE_OK(model_aset_add(p, 2, MODEL_AUDIO, "audio/mp4", "aac", 48000, &a));
    FIXTURE_OK(model_aset_set_lang(a, "en"));
    FIXTURE_OK(model_rep_add(a, "a128", "mp4a.40.2", 128000, &r));
    r->sample_rate = 48000;
    r->channels = 2;
    for (i = 0, t = 0; i < 5; i++) {
        uint64_t d = i % 2 == 0 ? 96256 : 95232;

        FIXTURE_OK(model_segment_add(m, a, t, d));
        t += d;
    }

    FIXTURE_OK(model_evstream_add(p, "urn:cascade:flash:2025", "flash", 1000, &es));
    FIXTURE_OK(model_event_add(es, 2, 4000, 0, "{\"text\":\"hi\"}", NULL));
    FIXTURE_OK(
        model_event_add(es, 1, 2000, 5000, "{\"text\":\"Breaking <news> & more\"}", "FR,BE"));
    FIXTURE_OK(model_cue_add(p, 7, 90000, 540000, 2700000));
    return m;
}

/*
 * The live model as an edge renders it around the ad cue: the content
 * period ends at 11.9 s, an ad period plays 4 s of a creative from its own
 * path, and the content comes back at 15.9 s with presentation time
 * offsets that continue its media clock. Segment numbers continue across
 * the periods of each adaptation set, as model_validate() asks.
 */
static UNUSED struct model *
fixture_spliced(void)
{
    struct model *m = fixture_live();
    struct model_period *ad, *p1;
    struct model_aset *v, *a;
    struct model_rep *r;
    struct model_evstream *es;

    m->periods[0]->duration_ms = 11900;
    FIXTURE_OK(model_period_add(m, "ad-7", 11900, &ad));
    ad->duration_ms = 4000;
    FIXTURE_OK(model_aset_add(ad, 1, MODEL_VIDEO, "video/mp4", "avc", 90000, &v));
    FIXTURE_OK(model_aset_set_templates(v, "/ads/c1/$RepresentationID$/init.mp4",
                                        "/ads/c1/$RepresentationID$/$Time$.m4s"));
    v->tl.next_number = 6; /* after p0's six */
    FIXTURE_OK(model_rep_add(v, "720p", "avc1.64001f", 3000000, &r));
    FIXTURE_OK(model_segment_add(m, v, 0, 180000));
    FIXTURE_OK(model_segment_add(m, v, 180000, 180000));
    FIXTURE_OK(model_aset_add(ad, 2, MODEL_AUDIO, "audio/mp4", "aac", 48000, &a));
    FIXTURE_OK(model_aset_set_templates(a, "../../ads/c1/$RepresentationID$/init.mp4",
                                        "../../ads/c1/$RepresentationID$/$Time$.m4s"));
    a->tl.next_number = 5;
    FIXTURE_OK(model_rep_add(a, "a128", "mp4a.40.2", 128000, &r));
    FIXTURE_OK(model_segment_add(m, a, 0, 96000));
    FIXTURE_OK(model_segment_add(m, a, 96000, 96000));

    FIXTURE_OK(model_period_add(m, "p1", 15900, &p1));
    FIXTURE_OK(model_aset_add(p1, 1, MODEL_VIDEO, "video/mp4", "avc", 90000, &v));
    v->tl.pto = 1431000;
    v->tl.next_number = 8;
    FIXTURE_OK(model_rep_add(v, "720p", "avc1.64001f", 3000000, &r));
    FIXTURE_OK(model_segment_add(m, v, 1431000, 180000));
    FIXTURE_OK(model_aset_add(p1, 2, MODEL_AUDIO, "audio/mp4", "aac", 48000, &a));
    a->tl.pto = 763200;
    a->tl.next_number = 7;
    FIXTURE_OK(model_rep_add(a, "a128", "mp4a.40.2", 128000, &r));
    FIXTURE_OK(model_segment_add(m, a, 763200, 96256));
    FIXTURE_OK(model_evstream_add(p1, "urn:cascade:disclaimer:2025", NULL, 1000, &es));
    FIXTURE_OK(model_event_add(es, 1, 16000, 3000, "{\"text\":\"Sponsored\"}", NULL));
    return m;
}

static UNUSED struct model *
fixture_static(void)
{
    struct model *m = model_new();
    struct model_period *p;
    struct model_aset *v;
    struct model_rep *r;

    FIXTURE_OK(model_set_name(m, "vod-1"));
    m->min_buffer_ms = 2000;
    FIXTURE_OK(model_period_add(m, "p0", 0, &p));
    FIXTURE_OK(model_aset_add(p, 1, MODEL_VIDEO, "video/mp4", "avc", 15360, &v));
    FIXTURE_OK(model_rep_add(v, "480p", "avc1.4d401e", 1200000, &r));
    r->width = 854;
    r->height = 480;
    r->fr_num = 25;
    r->fr_den = 1;
    FIXTURE_OK(model_segment_add(m, v, 0, 30720));
    FIXTURE_OK(model_segment_add(m, v, 30720, 30720));
    FIXTURE_OK(model_segment_add(m, v, 61440, 30720));
    FIXTURE_OK(model_segment_add(m, v, 92160, 15360));
    FIXTURE_OK(model_scene_add(m, 0, 4000, 0.85));
    FIXTURE_OK(model_scene_add(m, 4000, 3000, 0.25));
    return m;
}

#endif
