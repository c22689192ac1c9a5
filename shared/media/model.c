/*
 * model.c -- the manifest model's structs, their lifetime and invariants.
 *
 * Building (the _add functions), timelines (append with run merging,
 * lookup, trimming to the DVR window), lookups, and model_validate(), which
 * states every invariant in one place: the writers rely on it and the JSON
 * reader runs it on all it accepts. Pure: no I/O, no clock, no logging.
 * Not here: any output format (model_mpd.c, model_hls.c, model_json.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "model_int.h"
#include "scte35.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

#define MODEL_DEFAULT_INIT "$RepresentationID$/init.mp4"
#define MODEL_DEFAULT_MEDIA "$RepresentationID$/$Time$.m4s"

/* ---- strings ---- */

static bool
model_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
model_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Ids (periods, representations): [A-Za-z0-9._-]{1,MODEL_MAX_ID}, safe in paths and URLs. */
bool
model_ok_id(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= MODEL_MAX_ID ||
            !(model_is_alnum(s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return !(s[0] == '.' && (s[1] == '\0' || (s[1] == '.' && s[2] == '\0')));
}

/* Printable ASCII, 1..max bytes; spaces only when allowed. */
bool
model_ok_text(const char *s, size_t max, bool spaces)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= max || c > 0x7e || c < 0x20 || (c == ' ' && !spaces))
            return false;
    }
    return true;
}

/* "video/mp4": lower-case type and subtype. */
static bool
model_ok_mime(const char *s)
{
    const char *slash;
    size_t i;

    if (!model_ok_text(s, MODEL_MAX_ID, false))
        return false;
    slash = strchr(s, '/');
    if (slash == NULL || slash == s || slash[1] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (s + i == slash)
            continue;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-'))
            return false;
    }
    return true;
}

/* RFC 6381 simple list: "avc1.64001f,mp4a.40.2", nothing HLS or XML would need to quote. */
static bool
model_ok_codecs(const char *s)
{
    size_t i;

    if (!model_ok_text(s, MODEL_MAX_ID, false) || s[0] == ',')
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (c == ',' && (s[i + 1] == ',' || s[i + 1] == '\0'))
            return false;
        if (!(model_is_alnum(c) || c == '.' || c == '-' || c == '+' || c == '_' || c == ','))
            return false;
    }
    return true;
}

/* Codec family: [a-z0-9]{1,16}. */
static bool
model_ok_family(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= 16 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* BCP 47 as xs:language allows: [A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*. */
static bool
model_ok_lang(const char *s)
{
    size_t run = 0;
    bool first = true;

    if (!model_ok_text(s, MODEL_MAX_ID, false))
        return false;
    for (; *s != '\0'; s++) {
        if (*s == '-') {
            if (run == 0)
                return false;
            run = 0;
            first = false;
            continue;
        }
        if (first ? !model_is_alpha(*s) : !model_is_alnum(*s))
            return false;
        if (++run > 8)
            return false;
    }
    return run > 0;
}

/* URIs (schemes, the UTC timing URL): printable, no space, nothing to quote. */
static bool
model_ok_uri(const char *s)
{
    return model_ok_text(s, MODEL_MAX_STR, false) && strpbrk(s, "\"<>\\") == NULL;
}

/* "FR,BE": upper-case alpha-2 codes, comma separated. */
bool
model_ok_regions(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || strlen(s) > MODEL_MAX_STR)
        return false;
    for (i = 0;; i += 3) {
        if (!(s[i] >= 'A' && s[i] <= 'Z') || !(s[i + 1] >= 'A' && s[i + 1] <= 'Z'))
            return false;
        if (s[i + 2] == '\0')
            return true;
        if (s[i + 2] != ',')
            return false;
    }
}

/*
 * Templates: printable, no space, none of " < > \ (so HLS and XML never
 * need to quote them); identifiers $RepresentationID$, $Time$ and $$ only.
 * The media template needs $Time$ (segment names are media time); the
 * initialization template must not have it.
 */
static bool
model_ok_tmpl(const char *s, bool media)
{
    bool has_time = false;
    const char *q;

    if (!model_ok_uri(s))
        return false;
    for (q = s; *q != '\0'; q++) {
        if (*q != '$')
            continue;
        if (strncmp(q, "$RepresentationID$", 18) == 0) {
            q += 17;
        } else if (strncmp(q, "$Time$", 6) == 0) {
            has_time = true;
            q += 5;
        } else if (q[1] == '$') {
            q += 1;
        } else {
            return false;
        }
    }
    return has_time == media;
}

/* ---- time ---- */

bool
model_time_ok(uint64_t v, uint32_t timescale)
{
    return timescale > 0 && v <= MODEL_TIME_MAX && v / timescale <= MODEL_SECONDS_MAX;
}

uint64_t
model_ts_convert(uint64_t v, uint32_t from, uint32_t to)
{
    assert(from > 0);
    /* v / from <= MODEL_SECONDS_MAX < 2^31 and to < 2^32: no overflow. */
    return v / from * to + v % from * to / from;
}

uint64_t
model_ms_ceil(uint64_t v, uint32_t timescale)
{
    assert(timescale > 0 && v <= MODEL_TIME_MAX);
    return (v * 1000 + timescale - 1) / timescale;
}

uint64_t
model_media_to_ms(const struct model_period *p, const struct model_timeline *tl, uint64_t v)
{
    if (v <= tl->pto)
        return p->start_ms;
    return p->start_ms + model_ts_convert(v - tl->pto, tl->timescale, 1000);
}

uint64_t
model_period_media_start(const struct model_period *p, uint32_t ts)
{
    const struct model_timeline *tl;

    if (p->nsets == 0)
        return 0;
    tl = &p->sets[0]->tl;
    return model_ts_convert(tl->pto, tl->timescale, ts);
}

void
model_put_datetime(struct buf *b, uint64_t ms, bool always_ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms > MODEL_PRINT_DATE_MAX || gmtime_r(&secs, &tm) == NULL) {
        b->err = b->err != 0 ? b->err : ERR_INVAL;
        return;
    }
    buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
               tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (always_ms || ms % 1000 != 0)
        buf_printf(b, ".%03u", (unsigned)(ms % 1000));
    buf_putc(b, 'Z');
}

void
model_put_duration(struct buf *b, uint64_t ms)
{
    unsigned frac = (unsigned)(ms % 1000);

    buf_puts(b, "PT");
    buf_u64(b, ms / 1000);
    if (frac != 0) {
        char digits[5];
        int n = 3;

        (void)snprintf(digits, sizeof(digits), ".%03u", frac);
        while (digits[n] == '0')
            n--;
        buf_add(b, digits, (size_t)n + 1);
    }
    buf_putc(b, 'S');
}

void
model_put_frame_rate(struct buf *b, const struct model_rep *r)
{
    buf_u64(b, r->fr_num);
    if (r->fr_den != 1) {
        buf_putc(b, '/');
        buf_u64(b, r->fr_den);
    }
}

void
model_put_seconds(struct buf *b, uint64_t v, uint32_t timescale)
{
    uint64_t ms = (v * 1000 + timescale / 2) / timescale;

    buf_u64(b, ms / 1000);
    buf_printf(b, ".%03u", (unsigned)(ms % 1000));
}

void
model_put_tmpl(struct buf *b, const char *tmpl, const char *rep_id, uint64_t t)
{
    const char *q, *run = tmpl;

    for (q = tmpl; *q != '\0'; q++) {
        if (*q != '$')
            continue;
        buf_add(b, run, (size_t)(q - run));
        if (strncmp(q, "$RepresentationID$", 18) == 0) {
            buf_puts(b, rep_id);
            q += 17;
        } else if (strncmp(q, "$Time$", 6) == 0) {
            buf_u64(b, t);
            q += 5;
        } else {
            buf_putc(b, '$'); /* "$$"; templates were validated */
            q += 1;
        }
        run = q + 1;
    }
    buf_add(b, run, (size_t)(q - run));
}

void
model_cue_scte35(const struct model_cue *c, uint8_t *out)
{
    /* SPEC: SCTE 35 9.8.1 -- splice times and durations count a 90 kHz clock. */
    (void)scte35_splice_insert(out, c->id, model_ts_convert(c->t, c->timescale, 90000),
                               model_ts_convert(c->d, c->timescale, 90000));
}

/* ---- lifetime ---- */

/* Room for one more element in *arr (n used, *cap allocated), at most max. */
static int
model_grow(void **arr, uint32_t *cap, uint32_t n, uint32_t max, size_t elsz)
{
    uint32_t ncap;

    if (n >= max)
        return ERR_LIMIT;
    if (n < *cap)
        return 0;
    ncap = *cap < 4 ? 4 : *cap * 2;
    if (ncap > max)
        ncap = max;
    *arr = xrealloc(*arr, (size_t)ncap * elsz);
    *cap = ncap;
    return 0;
}

static void
model_rep_free(struct model_rep *r)
{
    xfree(r->id);
    xfree(r->codecs);
    xfree(r);
}

static void
model_aset_free(struct model_aset *s)
{
    uint32_t i;

    for (i = 0; i < s->nreps; i++)
        model_rep_free(s->reps[i]);
    xfree(s->reps);
    xfree(s->mime);
    xfree(s->family);
    xfree(s->lang);
    xfree(s->init_tmpl);
    xfree(s->media_tmpl);
    xfree(s->tl.runs);
    xfree(s);
}

static void
model_event_clear(struct model_event *e)
{
    xfree(e->payload);
    xfree(e->regions);
}

static void
model_evstream_free(struct model_evstream *es)
{
    uint32_t i;

    for (i = 0; i < es->nevents; i++)
        model_event_clear(&es->events[i]);
    xfree(es->events);
    xfree(es->scheme);
    xfree(es->value);
    xfree(es);
}

static void
model_period_free(struct model_period *p)
{
    uint32_t i;

    for (i = 0; i < p->nsets; i++)
        model_aset_free(p->sets[i]);
    for (i = 0; i < p->nstreams; i++)
        model_evstream_free(p->streams[i]);
    xfree(p->sets);
    xfree(p->streams);
    xfree(p->cues);
    xfree(p->id);
    xfree(p);
}

struct model *
model_new(void)
{
    struct model *m;

    m = xcalloc(1, sizeof(*m));
    m->magic = MODEL_MAGIC;
    m->type = MODEL_STATIC;
    return m;
}

void
model_free(struct model **pm)
{
    struct model *m = *pm;
    uint32_t i;

    if (m == NULL)
        return;
    CHECK_OBJ(m, MODEL_MAGIC);
    for (i = 0; i < m->nperiods; i++)
        model_period_free(m->periods[i]);
    xfree(m->periods);
    xfree(m->scenes);
    xfree(m->name);
    xfree(m->utc_url);
    FREE_OBJ(m);
    *pm = NULL;
}

/* ---- building ---- */

int
model_set_name(struct model *m, const char *name)
{
    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    if (!model_ok_text(name, MODEL_MAX_STR, true))
        return ERR_INVAL;
    xfree(m->name);
    m->name = xstrdup(name);
    return 0;
}

int
model_set_utc(struct model *m, enum model_utc utc, const char *url)
{
    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    if (utc == MODEL_UTC_NONE) {
        if (url != NULL)
            return ERR_INVAL;
    } else if (utc != MODEL_UTC_HTTP_ISO && utc != MODEL_UTC_HTTP_XSDATE) {
        return ERR_INVAL;
    } else if (!model_ok_uri(url)) {
        return ERR_INVAL;
    }
    xfree(m->utc_url);
    m->utc_url = url != NULL ? xstrdup(url) : NULL;
    m->utc = utc;
    return 0;
}

int
model_period_add(struct model *m, const char *id, uint64_t start_ms, struct model_period **out)
{
    struct model_period *p;
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    if (!model_ok_id(id) || start_ms > MODEL_SECONDS_MAX * 1000)
        return ERR_INVAL;
    if (model_period_find(m, id) != NULL)
        return ERR_EXISTS;
    if (m->nperiods > 0 && start_ms < m->periods[m->nperiods - 1]->start_ms)
        return ERR_INVAL;
    rc = model_grow((void **)&m->periods, &m->capperiods, m->nperiods, MODEL_MAX_PERIODS,
                    sizeof(*m->periods));
    if (rc != 0)
        return rc;
    p = xcalloc(1, sizeof(*p));
    p->id = xstrdup(id);
    p->start_ms = start_ms;
    m->periods[m->nperiods++] = p;
    if (out != NULL)
        *out = p;
    return 0;
}

int
model_aset_add(struct model_period *p, uint32_t id, enum model_content content, const char *mime,
               const char *family, uint32_t timescale, struct model_aset **out)
{
    struct model_aset *s;
    int rc;

    if ((content != MODEL_VIDEO && content != MODEL_AUDIO && content != MODEL_TEXT) ||
        !model_ok_mime(mime) || !model_ok_family(family) || timescale == 0)
        return ERR_INVAL;
    if (model_aset_find(p, id) != NULL)
        return ERR_EXISTS;
    rc = model_grow((void **)&p->sets, &p->capsets, p->nsets, MODEL_MAX_SETS, sizeof(*p->sets));
    if (rc != 0)
        return rc;
    s = xcalloc(1, sizeof(*s));
    s->id = id;
    s->content = content;
    s->mime = xstrdup(mime);
    s->family = xstrdup(family);
    s->segment_alignment = true;
    s->init_tmpl = xstrdup(MODEL_DEFAULT_INIT);
    s->media_tmpl = xstrdup(MODEL_DEFAULT_MEDIA);
    s->tl.timescale = timescale;
    p->sets[p->nsets++] = s;
    if (out != NULL)
        *out = s;
    return 0;
}

int
model_aset_set_lang(struct model_aset *s, const char *lang)
{
    if (lang != NULL && !model_ok_lang(lang))
        return ERR_INVAL;
    xfree(s->lang);
    s->lang = lang != NULL ? xstrdup(lang) : NULL;
    return 0;
}

int
model_aset_set_templates(struct model_aset *s, const char *init, const char *media)
{
    if (!model_ok_tmpl(init, false) || !model_ok_tmpl(media, true))
        return ERR_INVAL;
    xfree(s->init_tmpl);
    xfree(s->media_tmpl);
    s->init_tmpl = xstrdup(init);
    s->media_tmpl = xstrdup(media);
    return 0;
}

int
model_rep_add(struct model_aset *s, const char *id, const char *codecs, uint32_t bandwidth,
              struct model_rep **out)
{
    struct model_rep *r;
    uint32_t i;
    int rc;

    if (!model_ok_id(id) || !model_ok_codecs(codecs) || bandwidth == 0)
        return ERR_INVAL;
    for (i = 0; i < s->nreps; i++)
        if (strcmp(s->reps[i]->id, id) == 0)
            return ERR_EXISTS;
    rc = model_grow((void **)&s->reps, &s->capreps, s->nreps, MODEL_MAX_REPS, sizeof(*s->reps));
    if (rc != 0)
        return rc;
    r = xcalloc(1, sizeof(*r));
    r->id = xstrdup(id);
    r->codecs = xstrdup(codecs);
    r->bandwidth = bandwidth;
    s->reps[s->nreps++] = r;
    if (out != NULL)
        *out = r;
    return 0;
}

int
model_evstream_add(struct model_period *p, const char *scheme, const char *value,
                   uint32_t timescale, struct model_evstream **out)
{
    struct model_evstream *es;
    int rc;

    if (!model_ok_uri(scheme) || (value != NULL && !model_ok_text(value, MODEL_MAX_STR, true)) ||
        timescale == 0)
        return ERR_INVAL;
    rc = model_grow((void **)&p->streams, &p->capstreams, p->nstreams, MODEL_MAX_EVSTREAMS,
                    sizeof(*p->streams));
    if (rc != 0)
        return rc;
    es = xcalloc(1, sizeof(*es));
    es->scheme = xstrdup(scheme);
    es->value = value != NULL ? xstrdup(value) : NULL;
    es->timescale = timescale;
    p->streams[p->nstreams++] = es;
    if (out != NULL)
        *out = es;
    return 0;
}

int
model_event_add(struct model_evstream *es, uint32_t id, uint64_t t, uint64_t d, const char *payload,
                const char *regions)
{
    struct model_event *e;
    uint32_t at;
    int rc;

    if (d > MODEL_TIME_MAX || t > MODEL_TIME_MAX - d || !model_time_ok(t + d, es->timescale) ||
        !model_ok_text(payload, MODEL_MAX_PAYLOAD, true) ||
        (regions != NULL && !model_ok_regions(regions)))
        return ERR_INVAL;
    rc = model_grow((void **)&es->events, &es->cap, es->nevents, MODEL_MAX_EVENTS,
                    sizeof(*es->events));
    if (rc != 0)
        return rc;
    /* Events mostly arrive in order: search from the end. */
    for (at = es->nevents; at > 0 && es->events[at - 1].t > t; at--)
        ;
    memmove(&es->events[at + 1], &es->events[at], (es->nevents - at) * sizeof(*es->events));
    es->nevents++;
    e = &es->events[at];
    e->id = id;
    e->t = t;
    e->d = d;
    e->payload = xstrdup(payload);
    e->regions = regions != NULL ? xstrdup(regions) : NULL;
    return 0;
}

bool
model_event_visible(const struct model_event *ev, const char *region)
{
    const char *q;

    if (ev->regions == NULL)
        return true;
    if (region == NULL || strlen(region) != 2)
        return false;
    for (q = ev->regions; q[0] != '\0'; q += q[2] == ',' ? 3 : 2)
        if (q[0] == region[0] && q[1] == region[1])
            return true;
    return false;
}

int
model_cue_add(struct model_period *p, uint32_t id, uint32_t timescale, uint64_t t, uint64_t d)
{
    uint32_t at;
    int rc;

    if (timescale == 0 || d == 0 || d > MODEL_TIME_MAX || t > MODEL_TIME_MAX - d ||
        !model_time_ok(t + d, timescale))
        return ERR_INVAL;
    rc = model_grow((void **)&p->cues, &p->capcues, p->ncues, MODEL_MAX_CUES, sizeof(*p->cues));
    if (rc != 0)
        return rc;
    for (at = p->ncues; at > 0 && p->cues[at - 1].t > t; at--)
        ;
    memmove(&p->cues[at + 1], &p->cues[at], (p->ncues - at) * sizeof(*p->cues));
    p->ncues++;
    p->cues[at] = (struct model_cue){.id = id, .timescale = timescale, .t = t, .d = d};
    return 0;
}

int
model_scene_add(struct model *m, uint64_t start_ms, uint64_t duration_ms, double engagement)
{
    const struct model_scene *last;
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    if (duration_ms == 0 || start_ms > MODEL_SECONDS_MAX * 1000 ||
        duration_ms > MODEL_SECONDS_MAX * 1000 || !(engagement >= 0.0 && engagement <= 1.0))
        return ERR_INVAL;
    last = m->nscenes > 0 ? &m->scenes[m->nscenes - 1] : NULL;
    if (last != NULL && start_ms < last->start_ms + last->duration_ms)
        return ERR_INVAL;
    rc = model_grow((void **)&m->scenes, &m->capscenes, m->nscenes, MODEL_MAX_SCENES,
                    sizeof(*m->scenes));
    if (rc != 0)
        return rc;
    m->scenes[m->nscenes++] = (struct model_scene){
        .start_ms = start_ms, .duration_ms = duration_ms, .engagement = engagement};
    return 0;
}

/* ---- timelines ---- */

static uint64_t
model_run_end(const struct model_run *run)
{
    return run->t + run->d * ((uint64_t)run->r + 1);
}

uint64_t
model_timeline_end(const struct model_timeline *tl)
{
    return tl->nruns == 0 ? tl->pto : model_run_end(&tl->runs[tl->nruns - 1]);
}

uint64_t
model_timeline_first_number(const struct model_timeline *tl)
{
    return tl->nruns == 0 ? tl->next_number : tl->runs[0].num;
}

int
model_timeline_add(struct model_timeline *tl, uint64_t t, uint64_t d, uint32_t count)
{
    struct model_run *last;
    int rc;

    if (d == 0 || count == 0 || d > MODEL_TIME_MAX / count || t > MODEL_TIME_MAX - d * count ||
        !model_time_ok(t + d * count, tl->timescale))
        return ERR_INVAL;
    if (count > MODEL_MAX_SEGMENTS - tl->nsegs || tl->next_number > MODEL_TIME_MAX - count)
        return ERR_LIMIT;
    last = tl->nruns > 0 ? &tl->runs[tl->nruns - 1] : NULL;
    if (last != NULL && t < model_run_end(last))
        return ERR_INVAL;
    if (last != NULL && t == model_run_end(last) && d == last->d) {
        last->r += count;
    } else {
        rc = model_grow((void **)&tl->runs, &tl->cap, tl->nruns, MODEL_MAX_RUNS, sizeof(*tl->runs));
        if (rc != 0)
            return rc;
        tl->runs[tl->nruns++] =
            (struct model_run){.t = t, .d = d, .num = tl->next_number, .r = count - 1};
    }
    tl->next_number += count;
    tl->nsegs += count;
    return 0;
}

int
model_segment_add(struct model *m, struct model_aset *s, uint64_t t, uint64_t d)
{
    uint64_t ms;
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    rc = model_timeline_add(&s->tl, t, d, 1);
    if (rc != 0)
        return rc;
    ms = model_ms_ceil(d, s->tl.timescale);
    if (ms > m->max_seg_ms)
        m->max_seg_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    return 0;
}

/* Index of the last run starting at or before t, or -1 when t is before them all. */
static long
model_timeline_search(const struct model_timeline *tl, uint64_t t)
{
    long lo = 0, hi = (long)tl->nruns - 1, found = -1;

    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;

        if (tl->runs[mid].t <= t) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static void
model_seg_at(const struct model_run *run, uint64_t k, struct model_seg *out)
{
    out->t = run->t + k * run->d;
    out->d = run->d;
    out->number = run->num + k;
}

int
model_timeline_find(const struct model_timeline *tl, uint64_t t, struct model_seg *out)
{
    long i = model_timeline_search(tl, t);
    uint64_t k;

    if (i < 0)
        return ERR_NOTFOUND;
    k = (t - tl->runs[i].t) / tl->runs[i].d;
    if (k > tl->runs[i].r)
        return ERR_NOTFOUND; /* in a gap, or past the end */
    model_seg_at(&tl->runs[i], k, out);
    return 0;
}

size_t
model_timeline_next(const struct model_timeline *tl, uint64_t t, struct model_seg *out, size_t n)
{
    long i = model_timeline_search(tl, t);
    uint64_t k = 0;
    size_t got = 0;

    if (i < 0) {
        i = 0;
    } else {
        k = (t - tl->runs[i].t) / tl->runs[i].d + 1;
        if (k > tl->runs[i].r) {
            i++;
            k = 0;
        }
    }
    for (; got < n && i < (long)tl->nruns; i++, k = 0)
        for (; got < n && k <= tl->runs[i].r; k++)
            model_seg_at(&tl->runs[i], k, &out[got++]);
    return got;
}

uint64_t
model_timeline_trim(struct model_timeline *tl, uint64_t min_end)
{
    uint32_t drop = 0;
    uint64_t removed = 0;

    while (drop < tl->nruns && model_run_end(&tl->runs[drop]) <= min_end)
        removed += (uint64_t)tl->runs[drop++].r + 1;
    if (drop < tl->nruns && tl->runs[drop].t < min_end) {
        struct model_run *run = &tl->runs[drop];
        uint64_t k = (min_end - run->t) / run->d; /* whole segments before min_end */

        assert(k <= run->r);
        run->t += k * run->d;
        run->num += k;
        run->r -= (uint32_t)k;
        removed += k;
    }
    if (drop > 0) {
        memmove(tl->runs, tl->runs + drop, (tl->nruns - drop) * sizeof(*tl->runs));
        tl->nruns -= drop;
    }
    tl->nsegs -= removed;
    return removed;
}

/* Presentation time (ms) where s's last segment ends; the period start when empty. */
static uint64_t
model_aset_end_ms(const struct model_period *p, const struct model_aset *s)
{
    if (s->tl.nruns == 0)
        return p->start_ms;
    return model_media_to_ms(p, &s->tl, model_timeline_end(&s->tl));
}

/* Where period p ends in ms: its duration, else its latest segment end. */
static uint64_t
model_period_end_ms(const struct model_period *p)
{
    uint64_t end = p->start_ms;
    uint32_t i;

    if (p->duration_ms > 0)
        return p->start_ms + p->duration_ms;
    for (i = 0; i < p->nsets; i++) {
        uint64_t e = model_aset_end_ms(p, p->sets[i]);

        if (e > end)
            end = e;
    }
    return end;
}

uint64_t
model_end_ms(const struct model *m)
{
    uint64_t end = 0;
    uint32_t i;

    if (m->duration_ms > 0)
        return m->duration_ms;
    for (i = 0; i < m->nperiods; i++) {
        uint64_t e = model_period_end_ms(m->periods[i]);

        if (e > end)
            end = e;
    }
    return end;
}

/* Media time in timescale ts at presentation time ms of period p (0 before it). */
static uint64_t
model_ms_to_media(const struct model_period *p, uint64_t ms, uint32_t ts)
{
    uint64_t base = model_period_media_start(p, ts);

    if (ms <= p->start_ms)
        return base;
    return base + model_ts_convert(ms - p->start_ms, 1000, ts);
}

static void
model_period_trim(struct model_period *p, uint64_t min_ms)
{
    uint32_t i, j, keep;

    for (i = 0; i < p->nsets; i++) {
        struct model_timeline *tl = &p->sets[i]->tl;

        (void)model_timeline_trim(tl, model_ms_to_media(p, min_ms, tl->timescale));
    }
    for (i = 0; i < p->nstreams; i++) {
        struct model_evstream *es = p->streams[i];
        uint64_t min_t = model_ms_to_media(p, min_ms, es->timescale);

        for (j = 0, keep = 0; j < es->nevents; j++) {
            if (es->events[j].t + es->events[j].d <= min_t)
                model_event_clear(&es->events[j]);
            else
                es->events[keep++] = es->events[j];
        }
        es->nevents = keep;
    }
    for (j = 0, keep = 0; j < p->ncues; j++)
        if (p->cues[j].t + p->cues[j].d > model_ms_to_media(p, min_ms, p->cues[j].timescale))
            p->cues[keep++] = p->cues[j];
    p->ncues = keep;
}

void
model_trim_dvr(struct model *m)
{
    uint64_t edge = 0, min_ms;
    uint32_t i, drop = 0;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    if (m->type != MODEL_DYNAMIC || m->tsbd_ms == 0)
        return;
    for (i = 0; i < m->nperiods; i++) {
        uint32_t j;

        for (j = 0; j < m->periods[i]->nsets; j++) {
            uint64_t e = model_aset_end_ms(m->periods[i], m->periods[i]->sets[j]);

            if (e > edge)
                edge = e;
        }
    }
    if (edge <= m->tsbd_ms)
        return;
    min_ms = edge - m->tsbd_ms;
    for (i = 0; i < m->nperiods; i++)
        if (m->periods[i]->start_ms < min_ms)
            model_period_trim(m->periods[i], min_ms);
    /* A leading period ends where the next one starts. */
    while (drop + 1 < m->nperiods && m->periods[drop + 1]->start_ms <= min_ms)
        model_period_free(m->periods[drop++]);
    if (drop > 0) {
        memmove(m->periods, m->periods + drop, (m->nperiods - drop) * sizeof(*m->periods));
        m->nperiods -= drop;
        m->disc_seq += drop;
    }
}

/* ---- lookups ---- */

struct model_period *
model_period_find(const struct model *m, const char *id)
{
    uint32_t i;

    for (i = 0; i < m->nperiods; i++)
        if (strcmp(m->periods[i]->id, id) == 0)
            return m->periods[i];
    return NULL;
}

struct model_aset *
model_aset_find(const struct model_period *p, uint32_t id)
{
    uint32_t i;

    for (i = 0; i < p->nsets; i++)
        if (p->sets[i]->id == id)
            return p->sets[i];
    return NULL;
}

struct model_rep *
model_rep_find(const struct model_period *p, const char *id, struct model_aset **pset)
{
    uint32_t i, j;

    for (i = 0; i < p->nsets; i++) {
        for (j = 0; j < p->sets[i]->nreps; j++) {
            if (strcmp(p->sets[i]->reps[j]->id, id) == 0) {
                if (pset != NULL)
                    *pset = p->sets[i];
                return p->sets[i]->reps[j];
            }
        }
    }
    return NULL;
}

/* ---- invariants ---- */

struct model_verr {
    char *err;
    size_t errsz;
};

static int PRINTFLIKE(3, 4) model_fail(struct model_verr *v, int rc, const char *fmt, ...)
{
    va_list ap;

    if (v->errsz > 0) {
        va_start(ap, fmt);
        (void)vsnprintf(v->err, v->errsz, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int
model_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* True when the n ids at stride apart from first are all different. */
static bool
model_ids_unique(const void *first, size_t stride, uint32_t n)
{
    uint32_t *ids, i;
    bool ok = true;

    if (n < 2)
        return true;
    ids = xmalloc(n * sizeof(*ids));
    for (i = 0; i < n; i++)
        memcpy(&ids[i], (const char *)first + (size_t)i * stride, sizeof(*ids));
    qsort(ids, n, sizeof(*ids), model_cmp_u32);
    for (i = 1; i < n && ok; i++)
        ok = ids[i] != ids[i - 1];
    xfree(ids);
    return ok;
}

static int
model_validate_timeline(const struct model *m, const struct model_timeline *tl,
                        struct model_verr *v, const char *where)
{
    uint64_t segs = 0, end = 0;
    uint32_t i;

    if (tl->timescale == 0 || !model_time_ok(tl->pto, tl->timescale))
        return model_fail(v, ERR_PROTO, "%s: bad timescale or pto", where);
    if (tl->nruns > MODEL_MAX_RUNS || tl->nruns > tl->cap)
        return model_fail(v, ERR_LIMIT, "%s: too many runs", where);
    for (i = 0; i < tl->nruns; i++) {
        const struct model_run *run = &tl->runs[i];
        uint64_t count = (uint64_t)run->r + 1;

        if (run->d == 0 || run->d > MODEL_TIME_MAX / count ||
            run->t > MODEL_TIME_MAX - run->d * count ||
            !model_time_ok(model_run_end(run), tl->timescale))
            return model_fail(v, ERR_PROTO, "%s: run %u out of range", where, i);
        if (i > 0 && run->t < end)
            return model_fail(v, ERR_PROTO, "%s: run %u overlaps the previous one", where, i);
        if (i > 0 && run->t == end && run->d == tl->runs[i - 1].d)
            return model_fail(v, ERR_PROTO, "%s: run %u not merged", where, i);
        if (i > 0 && run->num != tl->runs[i - 1].num + tl->runs[i - 1].r + 1)
            return model_fail(v, ERR_PROTO, "%s: run %u misnumbered", where, i);
        if (model_ms_ceil(run->d, tl->timescale) > m->max_seg_ms)
            return model_fail(v, ERR_PROTO, "%s: run %u longer than max_segment_ms", where, i);
        segs += count;
        end = model_run_end(run);
    }
    if (segs != tl->nsegs || segs > MODEL_MAX_SEGMENTS)
        return model_fail(v, ERR_LIMIT, "%s: segment count", where);
    if (tl->next_number > MODEL_TIME_MAX ||
        (tl->nruns > 0 && tl->next_number != tl->runs[0].num + segs))
        return model_fail(v, ERR_PROTO, "%s: next_number", where);
    return 0;
}

static int
model_validate_aset(const struct model *m, const struct model_period *p, const struct model_aset *s,
                    struct model_verr *v, const char *where)
{
    uint32_t i, j, k;
    int rc;

    if (s->content != MODEL_VIDEO && s->content != MODEL_AUDIO && s->content != MODEL_TEXT)
        return model_fail(v, ERR_PROTO, "%s: bad content type", where);
    if (!model_ok_mime(s->mime) || !model_ok_family(s->family) ||
        (s->lang != NULL && !model_ok_lang(s->lang)))
        return model_fail(v, ERR_PROTO, "%s: bad mime, family or lang", where);
    if (!model_ok_tmpl(s->init_tmpl, false) || !model_ok_tmpl(s->media_tmpl, true))
        return model_fail(v, ERR_PROTO, "%s: bad template", where);
    rc = model_validate_timeline(m, &s->tl, v, where);
    if (rc != 0)
        return rc;
    if (s->nreps == 0 || s->nreps > MODEL_MAX_REPS)
        return model_fail(v, ERR_PROTO, "%s: needs 1..%d representations", where, MODEL_MAX_REPS);
    for (i = 0; i < s->nreps; i++) {
        const struct model_rep *r = s->reps[i];

        if (!model_ok_id(r->id) || !model_ok_codecs(r->codecs) || r->bandwidth == 0)
            return model_fail(v, ERR_PROTO, "%s: rep %u: bad id, codecs or bandwidth", where, i);
        if ((r->fr_num == 0) != (r->fr_den == 0))
            return model_fail(v, ERR_PROTO, "%s: rep %s: bad frame rate", where, r->id);
        /* Representation ids are unique in the whole period (DASH 5.3.5.2). */
        for (j = 0; j < p->nsets; j++)
            for (k = 0; k < p->sets[j]->nreps; k++)
                if (p->sets[j]->reps[k] != r && strcmp(p->sets[j]->reps[k]->id, r->id) == 0)
                    return model_fail(v, ERR_PROTO, "%s: rep %s: duplicate id", where, r->id);
    }
    return 0;
}

static int
model_validate_period(const struct model *m, uint32_t pi, struct model_verr *v)
{
    const struct model_period *p = m->periods[pi];
    char where[96];
    uint32_t i, j;
    int rc;

    if (!model_ok_id(p->id))
        return model_fail(v, ERR_PROTO, "periods[%u]: bad id", pi);
    if (p->start_ms > MODEL_SECONDS_MAX * 1000 || p->duration_ms > MODEL_SECONDS_MAX * 1000)
        return model_fail(v, ERR_PROTO, "periods[%u]: start or duration out of range", pi);
    for (i = 0; i < pi; i++)
        if (strcmp(m->periods[i]->id, p->id) == 0)
            return model_fail(v, ERR_PROTO, "periods[%u]: duplicate id", pi);
    if (pi + 1 < m->nperiods &&
        (m->periods[pi + 1]->start_ms < p->start_ms ||
         (p->duration_ms > 0 && m->periods[pi + 1]->start_ms < p->start_ms + p->duration_ms)))
        return model_fail(v, ERR_PROTO, "periods[%u]: overlaps the next period", pi);
    if (p->nsets > MODEL_MAX_SETS || p->nstreams > MODEL_MAX_EVSTREAMS || p->ncues > MODEL_MAX_CUES)
        return model_fail(v, ERR_LIMIT, "periods[%u]: too many sets, streams or cues", pi);
    for (i = 0; i < p->nsets; i++) {
        const struct model_aset *prev =
            pi > 0 ? model_aset_find(m->periods[pi - 1], p->sets[i]->id) : NULL;

        for (j = 0; j < i; j++)
            if (p->sets[j]->id == p->sets[i]->id)
                return model_fail(v, ERR_PROTO, "periods[%u].sets[%u]: duplicate id", pi, i);
        /* Numbers go on across periods, so HLS media sequences never go back. */
        if (prev != NULL && model_timeline_first_number(&p->sets[i]->tl) < prev->tl.next_number)
            return model_fail(v, ERR_PROTO,
                              "periods[%u].sets[%u]: numbers restart below the previous period's",
                              pi, i);
        (void)snprintf(where, sizeof(where), "periods[%u].sets[%u]", pi, i);
        rc = model_validate_aset(m, p, p->sets[i], v, where);
        if (rc != 0)
            return rc;
    }
    for (i = 0; i < p->nstreams; i++) {
        const struct model_evstream *es = p->streams[i];

        if (!model_ok_uri(es->scheme) ||
            (es->value != NULL && !model_ok_text(es->value, MODEL_MAX_STR, true)) ||
            es->timescale == 0 || es->nevents > MODEL_MAX_EVENTS)
            return model_fail(v, ERR_PROTO, "periods[%u].event_streams[%u]: bad stream", pi, i);
        for (j = 0; j < es->nevents; j++) {
            const struct model_event *e = &es->events[j];

            if (e->d > MODEL_TIME_MAX || e->t > MODEL_TIME_MAX - e->d ||
                !model_time_ok(e->t + e->d, es->timescale) ||
                !model_ok_text(e->payload, MODEL_MAX_PAYLOAD, true) ||
                (e->regions != NULL && !model_ok_regions(e->regions)) ||
                (j > 0 && e->t < es->events[j - 1].t))
                return model_fail(v, ERR_PROTO, "periods[%u].event_streams[%u].events[%u]: bad", pi,
                                  i, j);
        }
        if (es->nevents > 0 &&
            !model_ids_unique(&es->events[0].id, sizeof(es->events[0]), es->nevents))
            return model_fail(v, ERR_PROTO, "periods[%u].event_streams[%u]: duplicate event id", pi,
                              i);
    }
    for (i = 0; i < p->ncues; i++) {
        const struct model_cue *c = &p->cues[i];

        if (c->timescale == 0 || c->d == 0 || c->d > MODEL_TIME_MAX ||
            c->t > MODEL_TIME_MAX - c->d || !model_time_ok(c->t + c->d, c->timescale) ||
            (i > 0 && c->t < p->cues[i - 1].t))
            return model_fail(v, ERR_PROTO, "periods[%u].cues[%u]: bad cue", pi, i);
    }
    if (p->ncues > 0 && !model_ids_unique(&p->cues[0].id, sizeof(p->cues[0]), p->ncues))
        return model_fail(v, ERR_PROTO, "periods[%u]: duplicate cue id", pi);
    return 0;
}

int
model_validate(const struct model *m, char *err, size_t errsz)
{
    struct model_verr v = {err, errsz};
    uint32_t i;
    int rc;

    if (errsz > 0)
        err[0] = '\0';
    if (m == NULL || m->magic != MODEL_MAGIC)
        return model_fail(&v, ERR_PROTO, "not a model");
    if (m->type != MODEL_STATIC && m->type != MODEL_DYNAMIC)
        return model_fail(&v, ERR_PROTO, "bad type");
    if (m->name != NULL && !model_ok_text(m->name, MODEL_MAX_STR, true))
        return model_fail(&v, ERR_PROTO, "bad name");
    if (m->ast_ms > MODEL_DATE_MAX || m->publish_ms > MODEL_DATE_MAX)
        return model_fail(&v, ERR_PROTO, "availability start or publish time out of range");
    if (m->duration_ms > MODEL_SECONDS_MAX * 1000)
        return model_fail(&v, ERR_PROTO, "duration out of range");
    if ((m->utc == MODEL_UTC_NONE) != (m->utc_url == NULL) ||
        (m->utc != MODEL_UTC_NONE && m->utc != MODEL_UTC_HTTP_ISO &&
         m->utc != MODEL_UTC_HTTP_XSDATE) ||
        (m->utc_url != NULL && !model_ok_uri(m->utc_url)))
        return model_fail(&v, ERR_PROTO, "bad utc timing");
    if (m->disc_seq > MODEL_TIME_MAX)
        return model_fail(&v, ERR_PROTO, "discontinuity sequence out of range");
    if (m->nperiods > MODEL_MAX_PERIODS || m->nscenes > MODEL_MAX_SCENES)
        return model_fail(&v, ERR_LIMIT, "too many periods or scenes");
    for (i = 0; i < m->nperiods; i++) {
        rc = model_validate_period(m, i, &v);
        if (rc != 0)
            return rc;
    }
    for (i = 0; i < m->nscenes; i++) {
        const struct model_scene *s = &m->scenes[i];

        if (s->duration_ms == 0 || s->start_ms > MODEL_SECONDS_MAX * 1000 ||
            s->duration_ms > MODEL_SECONDS_MAX * 1000 ||
            !(s->engagement >= 0.0 && s->engagement <= 1.0) ||
            (i > 0 && s->start_ms < m->scenes[i - 1].start_ms + m->scenes[i - 1].duration_ms))
            return model_fail(&v, ERR_PROTO, "scenes[%u]: bad or overlapping scene", i);
    }
    return 0;
}

void
model_check(const struct model *m)
{
    char err[160];
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    rc = model_validate(m, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "lvl=crit mod=model ev=check_failed err=%s why=\"%s\"\n", err_name(rc),
                err);
    assert(rc == 0);
}
