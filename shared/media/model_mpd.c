/*
 * model_mpd.c -- writes the model as an MPEG-DASH MPD.
 *
 * One pass over the model, appending to a capped buffer: the origin's
 * manifest.mpd and the edge's per-viewer MPDs (events filtered by region,
 * representations by the device) come from here. Element order follows
 * the DASH-MPD.xsd sequences (SPEC: ISO/IEC 23009-1 5.3, Annex B):
 *   MPD: ProgramInformation, Period+, UTCTiming
 *   Period: EventStream*, AdaptationSet*
 *   AdaptationSet: SegmentTemplate, Representation*
 *   Representation: AudioChannelConfiguration
 * Ad-break cues become an EventStream of scheme urn:scte:scte35:2014:xml+bin
 * whose events carry a binary splice_insert (scte35.c); splitting periods
 * for an ad is the edge's job, done on the model before it is written.
 * Not here: reading MPDs (Cascade never parses XML).
 */
#include <string.h>

#include "model.h"
#include "model_int.h"
#include "scte35.h"
#include "../err.h"
#include "../compat.h"

#define MODEL_MPD_PROFILE "urn:mpeg:dash:profile:isoff-live:2011"
#define MODEL_MPD_SCTE35_SCHEME "urn:scte:scte35:2014:xml+bin"
#define MODEL_MPD_SCTE35_NS "http://www.scte.org/schemas/35/2016"
#define MODEL_MPD_SCTE35_TIMESCALE 90000
/* SPEC: ISO/IEC 23003-3 channel configuration, as DASH-IF IOP names it for AAC. */
#define MODEL_MPD_CHANNELS_SCHEME "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"

static const struct model_render model_mpd_render_all;

static const char *
model_mpd_content_name(enum model_content c)
{
    switch (c) {
    case MODEL_VIDEO:
        return "video";
    case MODEL_AUDIO:
        return "audio";
    case MODEL_TEXT:
        return "text";
    }
    return "application";
}

/* ` name="value"` with value escaped. */
static void
model_mpd_attr(struct buf *b, const char *name, const char *value)
{
    buf_putc(b, ' ');
    buf_puts(b, name);
    buf_puts(b, "=\"");
    buf_xml(b, value);
    buf_putc(b, '"');
}

static void
model_mpd_attr_u64(struct buf *b, const char *name, uint64_t v)
{
    buf_putc(b, ' ');
    buf_puts(b, name);
    buf_puts(b, "=\"");
    buf_u64(b, v);
    buf_putc(b, '"');
}

static void
model_mpd_attr_duration(struct buf *b, const char *name, uint64_t ms)
{
    buf_putc(b, ' ');
    buf_puts(b, name);
    buf_puts(b, "=\"");
    model_put_duration(b, ms);
    buf_putc(b, '"');
}

static void
model_mpd_attr_datetime(struct buf *b, const char *name, uint64_t ms)
{
    buf_putc(b, ' ');
    buf_puts(b, name);
    buf_puts(b, "=\"");
    model_put_datetime(b, ms, false);
    buf_putc(b, '"');
}

static void
model_mpd_write_head(const struct model *m, struct buf *b)
{
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"" MODEL_MPD_PROFILE "\"");
    if (m->type == MODEL_DYNAMIC) {
        buf_puts(b, " type=\"dynamic\"");
        model_mpd_attr_datetime(b, "availabilityStartTime", m->ast_ms);
        if (m->publish_ms > 0)
            model_mpd_attr_datetime(b, "publishTime", m->publish_ms);
        /* SPEC: ISO/IEC 23009-1 -- without minimumUpdatePeriod the MPD is
         * final; an ended live stream says so and gets its duration. */
        if (m->ended)
            model_mpd_attr_duration(b, "mediaPresentationDuration", model_end_ms(m));
        else if (m->min_update_ms > 0)
            model_mpd_attr_duration(b, "minimumUpdatePeriod", m->min_update_ms);
        if (m->tsbd_ms > 0)
            model_mpd_attr_duration(b, "timeShiftBufferDepth", m->tsbd_ms);
        if (m->delay_ms > 0)
            model_mpd_attr_duration(b, "suggestedPresentationDelay", m->delay_ms);
    } else {
        buf_puts(b, " type=\"static\"");
        if (m->publish_ms > 0)
            model_mpd_attr_datetime(b, "publishTime", m->publish_ms);
        model_mpd_attr_duration(b, "mediaPresentationDuration", model_end_ms(m));
    }
    if (m->max_seg_ms > 0)
        model_mpd_attr_duration(b, "maxSegmentDuration", m->max_seg_ms);
    model_mpd_attr_duration(b, "minBufferTime", m->min_buffer_ms);
    buf_puts(b, ">\n");
    if (m->name != NULL) {
        buf_puts(b, "  <ProgramInformation><Title>");
        buf_xml_text(b, m->name);
        buf_puts(b, "</Title></ProgramInformation>\n");
    }
}

/* The cues of p as one SCTE-35 EventStream on a 90 kHz clock. */
static void
model_mpd_write_cues(const struct model_period *p, struct buf *b)
{
    uint8_t sec[SCTE35_SPLICE_INSERT_LEN];
    uint64_t base;
    uint32_t i;

    if (p->ncues == 0)
        return;
    base = model_period_media_start(p, MODEL_MPD_SCTE35_TIMESCALE);
    buf_puts(b, "    <EventStream schemeIdUri=\"" MODEL_MPD_SCTE35_SCHEME "\"");
    model_mpd_attr_u64(b, "timescale", MODEL_MPD_SCTE35_TIMESCALE);
    if (base > 0)
        model_mpd_attr_u64(b, "presentationTimeOffset", base);
    buf_puts(b, ">\n");
    for (i = 0; i < p->ncues; i++) {
        const struct model_cue *c = &p->cues[i];

        buf_puts(b, "      <Event");
        model_mpd_attr_u64(b, "presentationTime",
                           model_ts_convert(c->t, c->timescale, MODEL_MPD_SCTE35_TIMESCALE));
        model_mpd_attr_u64(b, "duration",
                           model_ts_convert(c->d, c->timescale, MODEL_MPD_SCTE35_TIMESCALE));
        model_mpd_attr_u64(b, "id", c->id);
        buf_puts(b, "><Signal xmlns=\"" MODEL_MPD_SCTE35_NS "\"><Binary>");
        model_cue_scte35(c, sec);
        buf_base64(b, sec, sizeof(sec));
        buf_puts(b, "</Binary></Signal></Event>\n");
    }
    buf_puts(b, "    </EventStream>\n");
}

static void
model_mpd_write_evstream(const struct model_period *p, const struct model_evstream *es,
                         const struct model_render *opt, struct buf *b)
{
    uint32_t i;
    bool open = false;

    for (i = 0; i < es->nevents; i++) {
        const struct model_event *e = &es->events[i];

        if (!model_event_visible(e, opt->region))
            continue;
        if (!open) {
            uint64_t base = model_period_media_start(p, es->timescale);

            buf_puts(b, "    <EventStream");
            model_mpd_attr(b, "schemeIdUri", es->scheme);
            if (es->value != NULL)
                model_mpd_attr(b, "value", es->value);
            model_mpd_attr_u64(b, "timescale", es->timescale);
            if (base > 0)
                model_mpd_attr_u64(b, "presentationTimeOffset", base);
            buf_puts(b, ">\n");
            open = true;
        }
        buf_puts(b, "      <Event");
        model_mpd_attr_u64(b, "presentationTime", e->t);
        if (e->d > 0)
            model_mpd_attr_u64(b, "duration", e->d);
        model_mpd_attr_u64(b, "id", e->id);
        buf_putc(b, '>');
        buf_xml_text(b, e->payload);
        buf_puts(b, "</Event>\n");
    }
    if (open)
        buf_puts(b, "    </EventStream>\n");
}

static void
model_mpd_write_timeline(const struct model_timeline *tl, struct buf *b)
{
    uint64_t end = 0;
    uint32_t i;

    if (tl->nruns == 0) {
        buf_puts(b, "        <SegmentTimeline/>\n");
        return;
    }
    buf_puts(b, "        <SegmentTimeline>\n");
    for (i = 0; i < tl->nruns; i++) {
        const struct model_run *run = &tl->runs[i];

        buf_puts(b, "          <S");
        if (i == 0 || run->t != end) /* @t only where the timeline jumps */
            model_mpd_attr_u64(b, "t", run->t);
        model_mpd_attr_u64(b, "d", run->d);
        if (run->r > 0)
            model_mpd_attr_u64(b, "r", run->r);
        buf_puts(b, "/>\n");
        end = run->t + run->d * ((uint64_t)run->r + 1);
    }
    buf_puts(b, "        </SegmentTimeline>\n");
}

static void
model_mpd_write_rep(const struct model_rep *r, struct buf *b)
{
    buf_puts(b, "      <Representation");
    model_mpd_attr(b, "id", r->id);
    model_mpd_attr_u64(b, "bandwidth", r->bandwidth);
    model_mpd_attr(b, "codecs", r->codecs);
    if (r->width > 0 && r->height > 0) {
        model_mpd_attr_u64(b, "width", r->width);
        model_mpd_attr_u64(b, "height", r->height);
    }
    if (r->fr_num > 0) {
        buf_puts(b, " frameRate=\"");
        model_put_frame_rate(b, r);
        buf_putc(b, '"');
    }
    if (r->sample_rate > 0)
        model_mpd_attr_u64(b, "audioSamplingRate", r->sample_rate);
    if (r->channels == 0) {
        buf_puts(b, "/>\n");
        return;
    }
    buf_puts(b,
             ">\n        <AudioChannelConfiguration schemeIdUri=\"" MODEL_MPD_CHANNELS_SCHEME "\"");
    model_mpd_attr_u64(b, "value", r->channels);
    buf_puts(b, "/>\n      </Representation>\n");
}

static void
model_mpd_write_aset(const struct model_aset *s, const struct model_render *opt, struct buf *b)
{
    uint32_t i, shown = 0;

    for (i = 0; i < s->nreps; i++)
        if (opt->rep_ok == NULL || opt->rep_ok(s, s->reps[i], opt->arg))
            shown++;
    if (shown == 0)
        return; /* nothing this viewer can play */
    buf_puts(b, "    <AdaptationSet");
    model_mpd_attr_u64(b, "id", s->id);
    model_mpd_attr(b, "contentType", model_mpd_content_name(s->content));
    model_mpd_attr(b, "mimeType", s->mime);
    if (s->lang != NULL)
        model_mpd_attr(b, "lang", s->lang);
    model_mpd_attr(b, "segmentAlignment", s->segment_alignment ? "true" : "false");
    if (s->selection_priority != 0)
        model_mpd_attr_u64(b, "selectionPriority", s->selection_priority);
    /* CMAF segments start with a closed GOP / sync sample. */
    buf_puts(b, " startWithSAP=\"1\">\n");
    buf_puts(b, "      <SegmentTemplate");
    model_mpd_attr_u64(b, "timescale", s->tl.timescale);
    if (s->tl.pto > 0)
        model_mpd_attr_u64(b, "presentationTimeOffset", s->tl.pto);
    model_mpd_attr(b, "initialization", s->init_tmpl);
    model_mpd_attr(b, "media", s->media_tmpl);
    buf_puts(b, ">\n");
    model_mpd_write_timeline(&s->tl, b);
    buf_puts(b, "      </SegmentTemplate>\n");
    for (i = 0; i < s->nreps; i++)
        if (opt->rep_ok == NULL || opt->rep_ok(s, s->reps[i], opt->arg))
            model_mpd_write_rep(s->reps[i], b);
    buf_puts(b, "    </AdaptationSet>\n");
}

static void
model_mpd_write_period(const struct model_period *p, const struct model_render *opt, struct buf *b)
{
    uint32_t i;

    buf_puts(b, "  <Period");
    model_mpd_attr(b, "id", p->id);
    model_mpd_attr_duration(b, "start", p->start_ms);
    if (p->duration_ms > 0)
        model_mpd_attr_duration(b, "duration", p->duration_ms);
    buf_puts(b, ">\n");
    model_mpd_write_cues(p, b);
    for (i = 0; i < p->nstreams; i++)
        model_mpd_write_evstream(p, p->streams[i], opt, b);
    for (i = 0; i < p->nsets; i++)
        model_mpd_write_aset(p->sets[i], opt, b);
    buf_puts(b, "  </Period>\n");
}

int
model_mpd_write(const struct model *m, const struct model_render *opt, struct buf *out)
{
    uint32_t i;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    DASSERT(model_validate(m, NULL, 0) == 0);
    if (opt == NULL)
        opt = &model_mpd_render_all;
    if (m->nperiods == 0)
        return ERR_INVAL; /* SPEC: DASH-MPD.xsd -- MPDtype has Period minOccurs 1 */
    model_mpd_write_head(m, out);
    for (i = 0; i < m->nperiods && buf_status(out) == 0; i++)
        model_mpd_write_period(m->periods[i], opt, out);
    if (m->utc != MODEL_UTC_NONE) {
        buf_puts(out, "  <UTCTiming schemeIdUri=\"");
        buf_puts(out, m->utc == MODEL_UTC_HTTP_ISO ? "urn:mpeg:dash:utc:http-iso:2014"
                                                   : "urn:mpeg:dash:utc:http-xsdate:2014");
        buf_putc(out, '"');
        model_mpd_attr(out, "value", m->utc_url);
        buf_puts(out, "/>\n");
    }
    buf_puts(out, "</MPD>\n");
    return buf_status(out);
}
