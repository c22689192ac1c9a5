/*
 * model_hls.c -- writes the model as HLS playlists over the same CMAF segments.
 *
 * master.m3u8 lists one variant per video representation of the current
 * (last) period, with the audio representations as one EXT-X-MEDIA group;
 * {rep}/media.m3u8 lists one representation's segments across every
 * period, a discontinuity between periods. Segment and init URIs come from
 * the DASH templates, made relative to the media playlist's directory.
 * Ad-break cues become EXT-X-DATERANGE tags carrying the same SCTE-35
 * splice_insert as the MPD. Text sets and events have no HLS form here.
 * SPEC: RFC 8216 (4.3.2 media segment tags, 4.3.3 media playlist tags,
 * 4.3.4 master playlist tags).
 */
#include <string.h>

#include "model.h"
#include "model_int.h"
#include "scte35.h"
#include "../err.h"
#include "../compat.h"

#define MODEL_HLS_AUDIO_GROUP "audio"
#define MODEL_HLS_MEDIA_NAME "media.m3u8"
#define MODEL_HLS_REP_PREFIX "$RepresentationID$/"

static const struct model_render model_hls_render_all;

static bool
model_hls_rep_shown(const struct model_render *opt, const struct model_aset *s,
                    const struct model_rep *r)
{
    return opt->rep_ok == NULL || opt->rep_ok(s, r, opt->arg);
}

/*
 * A template expanded for the media playlist at "{rep}/media.m3u8": the
 * templates are relative to the MPD, one directory up.
 */
static void
model_hls_put_uri(struct buf *b, const char *tmpl, const char *rep_id, uint64_t t)
{
    size_t plen = strlen(MODEL_HLS_REP_PREFIX);

    if (strncmp(tmpl, MODEL_HLS_REP_PREFIX, plen) == 0) {
        model_put_tmpl(b, tmpl + plen, rep_id, t);
        return;
    }
    if (tmpl[0] != '/' && strstr(tmpl, "://") == NULL)
        buf_puts(b, "../");
    model_put_tmpl(b, tmpl, rep_id, t);
}

/* ---- master playlist ---- */

struct model_hls_audio {
    uint64_t max_bw;   /* the largest audio bandwidth: a variant's worst case */
    uint64_t max_avg;  /* the average bandwidth of that same rendition */
    uint32_t n;        /* audio renditions listed */
    struct buf codecs; /* distinct audio codecs, comma separated */
};

static bool
model_hls_codecs_has(const struct buf *list, const char *codecs)
{
    size_t n = strlen(codecs);
    const char *q = list->p;

    while (q != NULL && *q != '\0') {
        if (strncmp(q, codecs, n) == 0 && (q[n] == ',' || q[n] == '\0'))
            return true;
        q = strchr(q, ',');
        q = q != NULL ? q + 1 : NULL;
    }
    return false;
}

static void
model_hls_write_audio(const struct model_period *p, const struct model_render *opt,
                      struct model_hls_audio *a, struct buf *b)
{
    uint32_t i, j;

    for (i = 0; i < p->nsets; i++) {
        const struct model_aset *s = p->sets[i];

        if (s->content != MODEL_AUDIO)
            continue;
        for (j = 0; j < s->nreps; j++) {
            const struct model_rep *r = s->reps[j];

            if (!model_hls_rep_shown(opt, s, r))
                continue;
            buf_puts(b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"" MODEL_HLS_AUDIO_GROUP "\",NAME=\"");
            buf_puts(b, r->id);
            buf_putc(b, '"');
            if (s->lang != NULL) {
                buf_puts(b, ",LANGUAGE=\"");
                buf_puts(b, s->lang);
                buf_putc(b, '"');
            }
            buf_puts(b, a->n == 0 ? ",DEFAULT=YES" : ",DEFAULT=NO");
            buf_puts(b, ",AUTOSELECT=YES");
            if (r->channels > 0) {
                buf_puts(b, ",CHANNELS=\"");
                buf_u64(b, r->channels);
                buf_putc(b, '"');
            }
            buf_puts(b, ",URI=\"");
            buf_puts(b, r->id);
            buf_puts(b, "/" MODEL_HLS_MEDIA_NAME "\"\n");
            if (r->bandwidth > a->max_bw) {
                a->max_bw = r->bandwidth;
                a->max_avg = r->avg_bandwidth > 0 ? r->avg_bandwidth : r->bandwidth;
            }
            if (!model_hls_codecs_has(&a->codecs, r->codecs)) {
                if (a->codecs.len > 0)
                    buf_putc(&a->codecs, ',');
                buf_puts(&a->codecs, r->codecs);
            }
            a->n++;
        }
    }
}

static void
model_hls_write_variant(const struct model_rep *r, const struct model_hls_audio *a, struct buf *b)
{
    buf_puts(b, "#EXT-X-STREAM-INF:BANDWIDTH=");
    buf_u64(b, (uint64_t)r->bandwidth + a->max_bw);
    if (r->avg_bandwidth > 0) {
        buf_puts(b, ",AVERAGE-BANDWIDTH=");
        buf_u64(b, (uint64_t)r->avg_bandwidth + a->max_avg);
    }
    buf_puts(b, ",CODECS=\"");
    buf_puts(b, r->codecs);
    if (a->codecs.len > 0) {
        buf_putc(b, ',');
        buf_add(b, a->codecs.p, a->codecs.len);
    }
    buf_putc(b, '"');
    if (r->width > 0 && r->height > 0) {
        buf_puts(b, ",RESOLUTION=");
        buf_u64(b, r->width);
        buf_putc(b, 'x');
        buf_u64(b, r->height);
    }
    if (r->fr_num > 0) {
        /* SPEC: RFC 8216 4.3.4.2 -- FRAME-RATE rounded to three decimals. */
        buf_puts(b, ",FRAME-RATE=");
        model_put_seconds(b, r->fr_num, r->fr_den);
    }
    if (a->n > 0)
        buf_puts(b, ",AUDIO=\"" MODEL_HLS_AUDIO_GROUP "\"");
    buf_putc(b, '\n');
    buf_puts(b, r->id);
    buf_puts(b, "/" MODEL_HLS_MEDIA_NAME "\n");
}

int
model_hls_master_write(const struct model *m, const struct model_render *opt, struct buf *out)
{
    const struct model_period *p;
    struct model_hls_audio a;
    uint32_t i, j, variants = 0;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    DASSERT(model_validate(m, NULL, 0) == 0);
    if (opt == NULL)
        opt = &model_hls_render_all;
    if (m->nperiods == 0)
        return ERR_INVAL;
    p = m->periods[m->nperiods - 1];
    memset(&a, 0, sizeof(a));
    buf_init(&a.codecs, MODEL_MAX_SETS * MODEL_MAX_REPS * (MODEL_MAX_ID + 1));

    buf_puts(out, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    model_hls_write_audio(p, opt, &a, out);
    for (i = 0; i < p->nsets; i++) {
        const struct model_aset *s = p->sets[i];

        if (s->content != MODEL_VIDEO)
            continue;
        for (j = 0; j < s->nreps; j++) {
            if (!model_hls_rep_shown(opt, s, s->reps[j]))
                continue;
            model_hls_write_variant(s->reps[j], &a, out);
            variants++;
        }
    }
    if (variants == 0 && a.n > 0) {
        /* Audio only: each rendition is a variant of its own. */
        static const struct model_hls_audio none;

        for (i = 0; i < p->nsets; i++)
            for (j = 0; j < p->sets[i]->nreps; j++)
                if (p->sets[i]->content == MODEL_AUDIO &&
                    model_hls_rep_shown(opt, p->sets[i], p->sets[i]->reps[j]))
                    model_hls_write_variant(p->sets[i]->reps[j], &none, out);
    }
    buf_free(&a.codecs);
    return buf_status(out);
}

/* ---- media playlists ---- */

static void
model_hls_write_cues(const struct model *m, const struct model_period *p, struct buf *b)
{
    uint8_t sec[SCTE35_SPLICE_INSERT_LEN];
    uint32_t i;

    for (i = 0; i < p->ncues; i++) {
        const struct model_cue *c = &p->cues[i];
        uint64_t base = model_period_media_start(p, c->timescale);
        uint64_t ms = p->start_ms;

        if (c->t > base)
            ms += model_ts_convert(c->t - base, c->timescale, 1000);
        buf_puts(b, "#EXT-X-DATERANGE:ID=\"cue-");
        buf_puts(b, p->id);
        buf_putc(b, '-');
        buf_u64(b, c->id);
        buf_puts(b, "\",START-DATE=\"");
        model_put_datetime(b, m->ast_ms + ms, true);
        buf_puts(b, "\",PLANNED-DURATION=");
        model_put_seconds(b, c->d, c->timescale);
        buf_puts(b, ",SCTE35-OUT=0x");
        model_cue_scte35(c, sec);
        buf_hex(b, sec, sizeof(sec));
        buf_putc(b, '\n');
    }
}

static void
model_hls_write_segments(const struct model *m, const struct model_period *p,
                         const struct model_aset *s, const struct model_rep *r, bool clock,
                         struct buf *b)
{
    const struct model_timeline *tl = &s->tl;
    uint64_t end = 0;
    uint32_t i, k;

    for (i = 0; i < tl->nruns && buf_status(b) == 0; i++) {
        const struct model_run *run = &tl->runs[i];

        for (k = 0; k <= run->r; k++) {
            uint64_t t = run->t + (uint64_t)k * run->d;

            /* SPEC: RFC 8216 4.3.2.6 -- date the first segment and any after a gap. */
            if (clock && k == 0 && (i == 0 || run->t != end)) {
                buf_puts(b, "#EXT-X-PROGRAM-DATE-TIME:");
                model_put_datetime(b, m->ast_ms + model_media_to_ms(p, tl, t), true);
                buf_putc(b, '\n');
            }
            buf_puts(b, "#EXTINF:");
            model_put_seconds(b, run->d, tl->timescale);
            buf_puts(b, ",\n");
            model_hls_put_uri(b, s->media_tmpl, r->id, t);
            buf_putc(b, '\n');
        }
        end = run->t + run->d * ((uint64_t)run->r + 1);
        if (buf_status(b) != 0)
            break;
    }
}

/*
 * Which periods hold segments of rep_id: the first such period's index in
 * *first (the first period with the representation at all when none has
 * segments yet), or ERR_NOTFOUND.
 */
static int
model_hls_first_section(const struct model *m, const char *rep_id, uint32_t *first)
{
    struct model_aset *s;
    uint32_t i;
    int rc = ERR_NOTFOUND;

    for (i = m->nperiods; i-- > 0;) {
        if (model_rep_find(m->periods[i], rep_id, &s) == NULL)
            continue;
        if (rc != 0 || s->tl.nsegs > 0)
            *first = i;
        rc = 0;
    }
    return rc;
}

int
model_hls_media_write(const struct model *m, const char *rep_id, struct buf *out)
{
    struct model_aset *s;
    uint32_t i, first = 0, pending = 0, target;
    bool clock;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    DASSERT(model_validate(m, NULL, 0) == 0);
    if (model_hls_first_section(m, rep_id, &first) != 0)
        return ERR_NOTFOUND;
    (void)model_rep_find(m->periods[first], rep_id, &s);
    /* Dates need a clock: live streams have one, VOD only when given a start. */
    clock = m->type == MODEL_DYNAMIC || m->ast_ms > 0;
    /* SPEC: RFC 8216 4.3.3.1 -- every EXTINF, rounded, is at most the target. */
    target = (m->max_seg_ms + 500) / 1000;
    buf_puts(out, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:");
    buf_u64(out, target > 0 ? target : 1);
    /* SPEC: RFC 8216 6.2.2 -- the sequence numbers count what left the playlist:
     * segments by their numbers, discontinuities one per period boundary. */
    buf_puts(out, "\n#EXT-X-MEDIA-SEQUENCE:");
    buf_u64(out, model_timeline_first_number(&s->tl));
    buf_putc(out, '\n');
    if (m->disc_seq + first > 0) {
        buf_puts(out, "#EXT-X-DISCONTINUITY-SEQUENCE:");
        buf_u64(out, m->disc_seq + first);
        buf_putc(out, '\n');
    }
    if (m->type == MODEL_STATIC)
        buf_puts(out, "#EXT-X-PLAYLIST-TYPE:VOD\n");
    buf_puts(out, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (i = first; i < m->nperiods && buf_status(out) == 0; i++) {
        const struct model_period *p = m->periods[i];
        const struct model_rep *r = model_rep_find(p, rep_id, &s);

        if (i > first)
            pending++; /* one more period boundary crossed */
        if (r == NULL || (s->tl.nsegs == 0 && i > first))
            continue;
        /* A boundary with nothing of this rendition on one side still counts. */
        for (; pending > 0; pending--)
            buf_puts(out, "#EXT-X-DISCONTINUITY\n");
        buf_puts(out, "#EXT-X-MAP:URI=\"");
        model_hls_put_uri(out, s->init_tmpl, r->id, 0);
        buf_puts(out, "\"\n");
        if (clock)
            model_hls_write_cues(m, p, out);
        model_hls_write_segments(m, p, s, r, clock, out);
    }
    if (m->type == MODEL_STATIC || m->ended)
        buf_puts(out, "#EXT-X-ENDLIST\n");
    return buf_status(out);
}
