/*
 * model_json.c -- model.json: the model as JSON, written by the origin and
 * read by edges from the network.
 *
 * The only file of the model that includes <jansson.h>. The writer builds a
 * jansson tree and dumps it compact and ASCII-only straight into the
 * caller's capped buffer. The reader is strict and bounded, because its
 * input is whatever an upstream sent: a size cap before parsing, duplicate
 * keys refused, every object checked for unknown keys, every value for its
 * type and range, arrays for their MODEL_MAX_* counts, event payloads for
 * depth and size; the model it builds goes through model_validate() before
 * it is returned. Errors name the field ("periods[0].sets[1].timescale:
 * must be an integer in 1..4294967295"). The format is documented, with an
 * example, in docs/manifest-model.md; MODEL_JSON_VERSION changes whenever
 * a reader of the previous version could misread the new one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "model.h"
#include "model_int.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

/* Compact, ASCII only (payloads end up in XML), doubles that survive a round trip. */
#define MODEL_JSON_DUMP_FLAGS                                                                      \
    (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* ---- writer ---- */

static const char *
model_json_content_name(enum model_content c)
{
    return c == MODEL_VIDEO ? "video" : c == MODEL_AUDIO ? "audio" : "text";
}

static json_t *
model_json_u64_new(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *
model_json_write_rep(const struct model_rep *r)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "codecs", json_string(r->codecs));
    json_object_set_new(o, "bandwidth", model_json_u64_new(r->bandwidth));
    if (r->avg_bandwidth > 0)
        json_object_set_new(o, "avg_bandwidth", model_json_u64_new(r->avg_bandwidth));
    if (r->width > 0)
        json_object_set_new(o, "width", model_json_u64_new(r->width));
    if (r->height > 0)
        json_object_set_new(o, "height", model_json_u64_new(r->height));
    if (r->fr_num > 0 && r->fr_den == 1)
        json_object_set_new(o, "frame_rate", json_sprintf("%u", r->fr_num));
    else if (r->fr_num > 0)
        json_object_set_new(o, "frame_rate", json_sprintf("%u/%u", r->fr_num, r->fr_den));
    if (r->sample_rate > 0)
        json_object_set_new(o, "sample_rate", model_json_u64_new(r->sample_rate));
    if (r->channels > 0)
        json_object_set_new(o, "channels", model_json_u64_new(r->channels));
    return o;
}

static json_t *
model_json_write_aset(const struct model_aset *s)
{
    json_t *o = json_object(), *tl = json_array(), *reps = json_array();
    uint32_t i;

    json_object_set_new(o, "id", model_json_u64_new(s->id));
    json_object_set_new(o, "content", json_string(model_json_content_name(s->content)));
    json_object_set_new(o, "mime", json_string(s->mime));
    json_object_set_new(o, "family", json_string(s->family));
    if (s->lang != NULL)
        json_object_set_new(o, "lang", json_string(s->lang));
    json_object_set_new(o, "segment_alignment", json_boolean(s->segment_alignment));
    if (s->selection_priority != 0)
        json_object_set_new(o, "selection_priority", model_json_u64_new(s->selection_priority));
    json_object_set_new(o, "timescale", model_json_u64_new(s->tl.timescale));
    json_object_set_new(o, "pto", model_json_u64_new(s->tl.pto));
    json_object_set_new(o, "init", json_string(s->init_tmpl));
    json_object_set_new(o, "media", json_string(s->media_tmpl));
    json_object_set_new(o, "start_number", model_json_u64_new(model_timeline_first_number(&s->tl)));
    for (i = 0; i < s->tl.nruns; i++) {
        const struct model_run *run = &s->tl.runs[i];

        json_array_append_new(
            tl, json_pack("[IIi]", (json_int_t)run->t, (json_int_t)run->d, (int)run->r));
    }
    json_object_set_new(o, "timeline", tl);
    for (i = 0; i < s->nreps; i++)
        json_array_append_new(reps, model_json_write_rep(s->reps[i]));
    json_object_set_new(o, "reps", reps);
    return o;
}

/* NULL when a payload is not a JSON object (a model built by hand). */
static json_t *
model_json_write_evstream(const struct model_evstream *es)
{
    json_t *o = json_object(), *evs = json_array();
    uint32_t i;

    json_object_set_new(o, "scheme", json_string(es->scheme));
    if (es->value != NULL)
        json_object_set_new(o, "value", json_string(es->value));
    json_object_set_new(o, "timescale", model_json_u64_new(es->timescale));
    json_object_set_new(o, "events", evs);
    for (i = 0; i < es->nevents; i++) {
        const struct model_event *e = &es->events[i];
        json_t *ev = json_object(), *payload;

        payload = json_loads(e->payload, 0, NULL);
        json_array_append_new(evs, ev);
        if (!json_is_object(payload)) {
            json_decref(payload);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(ev, "id", model_json_u64_new(e->id));
        json_object_set_new(ev, "t", model_json_u64_new(e->t));
        json_object_set_new(ev, "d", model_json_u64_new(e->d));
        if (e->regions != NULL)
            json_object_set_new(ev, "regions", json_string(e->regions));
        json_object_set_new(ev, "payload", payload);
    }
    return o;
}

static json_t *
model_json_write_period(const struct model_period *p)
{
    json_t *o = json_object(), *sets = json_array(), *streams = json_array(), *cues = json_array();
    uint32_t i;

    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "start_ms", model_json_u64_new(p->start_ms));
    json_object_set_new(o, "duration_ms", model_json_u64_new(p->duration_ms));
    json_object_set_new(o, "sets", sets);
    json_object_set_new(o, "event_streams", streams);
    json_object_set_new(o, "cues", cues);
    for (i = 0; i < p->nsets; i++)
        json_array_append_new(sets, model_json_write_aset(p->sets[i]));
    for (i = 0; i < p->nstreams; i++) {
        json_t *es = model_json_write_evstream(p->streams[i]);

        if (es == NULL) {
            json_decref(o);
            return NULL;
        }
        json_array_append_new(streams, es);
    }
    for (i = 0; i < p->ncues; i++) {
        const struct model_cue *c = &p->cues[i];

        json_array_append_new(cues, json_pack("{sIsIsIsI}", "id", (json_int_t)c->id, "timescale",
                                              (json_int_t)c->timescale, "t", (json_int_t)c->t, "d",
                                              (json_int_t)c->d));
    }
    return o;
}

static json_t *
model_json_write_model(const struct model *m)
{
    json_t *o = json_object(), *periods = json_array(), *scenes = json_array();
    uint32_t i;

    json_object_set_new(o, "version", json_integer(MODEL_JSON_VERSION));
    if (m->name != NULL)
        json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "type", json_string(m->type == MODEL_DYNAMIC ? "dynamic" : "static"));
    json_object_set_new(o, "ended", json_boolean(m->ended));
    json_object_set_new(o, "availability_start_ms", model_json_u64_new(m->ast_ms));
    json_object_set_new(o, "publish_ms", model_json_u64_new(m->publish_ms));
    json_object_set_new(o, "min_update_ms", model_json_u64_new(m->min_update_ms));
    json_object_set_new(o, "dvr_window_ms", model_json_u64_new(m->tsbd_ms));
    json_object_set_new(o, "presentation_delay_ms", model_json_u64_new(m->delay_ms));
    json_object_set_new(o, "max_segment_ms", model_json_u64_new(m->max_seg_ms));
    json_object_set_new(o, "min_buffer_ms", model_json_u64_new(m->min_buffer_ms));
    json_object_set_new(o, "duration_ms", model_json_u64_new(m->duration_ms));
    if (m->utc != MODEL_UTC_NONE)
        json_object_set_new(o, "utc_timing",
                            json_pack("{ssss}", "scheme",
                                      m->utc == MODEL_UTC_HTTP_ISO ? "http-iso" : "http-xsdate",
                                      "url", m->utc_url));
    json_object_set_new(o, "discontinuity_seq", model_json_u64_new(m->disc_seq));
    json_object_set_new(o, "periods", periods);
    json_object_set_new(o, "scenes", scenes);
    for (i = 0; i < m->nperiods; i++) {
        json_t *p = model_json_write_period(m->periods[i]);

        if (p == NULL) {
            json_decref(o);
            return NULL;
        }
        json_array_append_new(periods, p);
    }
    for (i = 0; i < m->nscenes; i++)
        json_array_append_new(scenes,
                              json_pack("{sIsIsf}", "start_ms", (json_int_t)m->scenes[i].start_ms,
                                        "duration_ms", (json_int_t)m->scenes[i].duration_ms,
                                        "engagement", m->scenes[i].engagement));
    return o;
}

static int
model_json_dump_cb(const char *p, size_t n, void *arg)
{
    struct buf *b = arg;

    buf_add(b, p, n);
    return buf_status(b) == 0 ? 0 : -1;
}

int
model_json_write(const struct model *m, struct buf *out)
{
    json_t *root;
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    DASSERT(model_validate(m, NULL, 0) == 0);
    root = model_json_write_model(m);
    if (root == NULL)
        return ERR_INVAL; /* an event payload is not a JSON object */
    rc = json_dump_callback(root, model_json_dump_cb, out, MODEL_JSON_DUMP_FLAGS);
    json_decref(root);
    if (rc != 0)
        return buf_status(out) != 0 ? buf_status(out) : ERR_INVAL;
    buf_putc(out, '\n');
    return buf_status(out);
}

/* ---- reader ---- */

struct model_json_ctx {
    char path[160]; /* where we are: "periods[0].sets[1]" */
    size_t plen;
    char *err;
    size_t errsz;
};

static int PRINTFLIKE(3, 4) model_json_fail(struct model_json_ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (c->errsz == 0)
        return rc;
    if (c->plen > 0)
        n = snprintf(c->err, c->errsz, "%s: ", c->path);
    if (n >= 0 && (size_t)n < c->errsz) {
        va_start(ap, fmt);
        (void)vsnprintf(c->err + n, c->errsz - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Appends ".key" (or "[i]" when key is NULL) to the path; returns the old length. */
static size_t
model_json_push(struct model_json_ctx *c, const char *key, size_t i)
{
    size_t old = c->plen;
    int n;

    if (key != NULL)
        n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen > 0 ? "." : "",
                     key);
    else
        n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen +=
            (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - c->plen - 1;
    return old;
}

static void
model_json_pop(struct model_json_ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* o must be an object whose keys are all in allowed (NULL-terminated). */
static int
model_json_object(struct model_json_ctx *c, const json_t *o, const char *const *allowed)
{
    const char *key;
    json_t *v;

    if (!json_is_object(o))
        return model_json_fail(c, ERR_PROTO, "must be an object");
    json_object_foreach((json_t *)o, key, v)
    {
        const char *const *a;

        (void)v;
        for (a = allowed; *a != NULL && strcmp(*a, key) != 0; a++)
            ;
        if (*a == NULL) {
            char shown[40];

            (void)snprintf(shown, sizeof(shown), "%s", key);
            return model_json_fail(c, ERR_PROTO, "unknown key \"%s\"", shown);
        }
    }
    return 0;
}

/* An integer in [min, max]; absent is an error when required, else *out is 0. */
static int
model_json_uint(struct model_json_ctx *c, const json_t *o, const char *key, bool required,
                uint64_t min, uint64_t max, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    json_int_t x;
    size_t old;
    int rc = 0;

    *out = 0;
    old = model_json_push(c, key, 0);
    if (v == NULL) {
        if (required)
            rc = model_json_fail(c, ERR_PROTO, "missing");
        goto out;
    }
    x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!json_is_integer(v) || x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
        rc = model_json_fail(c, ERR_PROTO, "must be an integer in %llu..%llu",
                             (unsigned long long)min, (unsigned long long)max);
        goto out;
    }
    *out = (uint64_t)x;
out:
    model_json_pop(c, old);
    return rc;
}

static int
model_json_u32(struct model_json_ctx *c, const json_t *o, const char *key, bool required,
               uint32_t min, uint32_t *out)
{
    uint64_t v;
    int rc = model_json_uint(c, o, key, required, min, UINT32_MAX, &v);

    *out = (uint32_t)v;
    return rc;
}

static int
model_json_bool(struct model_json_ctx *c, const json_t *o, const char *key, bool *out)
{
    const json_t *v = json_object_get(o, key);
    size_t old;
    int rc = 0;

    *out = false;
    if (v == NULL)
        return 0;
    old = model_json_push(c, key, 0);
    if (!json_is_boolean(v))
        rc = model_json_fail(c, ERR_PROTO, "must be true or false");
    else
        *out = json_is_true(v);
    model_json_pop(c, old);
    return rc;
}

/* A string (borrowed from the tree), NULL when absent and not required. */
static int
model_json_str(struct model_json_ctx *c, const json_t *o, const char *key, bool required,
               const char **out)
{
    const json_t *v = json_object_get(o, key);
    size_t old;
    int rc = 0;

    *out = NULL;
    old = model_json_push(c, key, 0);
    if (v == NULL) {
        if (required)
            rc = model_json_fail(c, ERR_PROTO, "missing");
    } else if (!json_is_string(v)) {
        rc = model_json_fail(c, ERR_PROTO, "must be a string");
    } else if (json_string_length(v) > MODEL_MAX_STR) {
        rc = model_json_fail(c, ERR_LIMIT, "longer than %d bytes", MODEL_MAX_STR);
    } else {
        *out = json_string_value(v);
    }
    model_json_pop(c, old);
    return rc;
}

/* The array under key, with at most max elements (absent: an empty array). */
static int
model_json_array(struct model_json_ctx *c, const json_t *o, const char *key, bool required,
                 size_t max, const json_t **out)
{
    const json_t *v = json_object_get(o, key);
    size_t old;
    int rc = 0;

    *out = NULL;
    old = model_json_push(c, key, 0);
    if (v == NULL) {
        if (required)
            rc = model_json_fail(c, ERR_PROTO, "missing");
    } else if (!json_is_array(v)) {
        rc = model_json_fail(c, ERR_PROTO, "must be an array");
    } else if (json_array_size(v) > max) {
        rc = model_json_fail(c, ERR_LIMIT, "more than %zu elements", max);
    } else {
        *out = v;
    }
    model_json_pop(c, old);
    return rc;
}

/* Maps an _add failure to a message naming what was refused. */
static int
model_json_added(struct model_json_ctx *c, int rc, const char *what)
{
    if (rc == 0)
        return 0;
    if (rc == ERR_EXISTS)
        return model_json_fail(c, ERR_PROTO, "duplicate id");
    if (rc == ERR_LIMIT)
        return model_json_fail(c, ERR_LIMIT, "too many elements");
    return model_json_fail(c, ERR_PROTO, "invalid %s", what);
}

/* Objects and arrays nest at most depth levels in v. */
static bool
model_json_depth_ok(const json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;

    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth == 0)
        return false;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, x)
        {
            if (!model_json_depth_ok(x, depth - 1))
                return false;
        }
        return true;
    }
    json_array_foreach(v, i, x)
    {
        if (!model_json_depth_ok(x, depth - 1))
            return false;
    }
    return true;
}

/* Reads 1..10 decimal digits at s into *v; returns the byte after them, or NULL. */
static const char *
model_json_digits(const char *s, uint64_t *v)
{
    size_t n = 0;

    *v = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 11)
        *v = *v * 10 + (uint64_t)(s[n++] - '0');
    return n == 0 || n > 10 ? NULL : s + n;
}

static int
model_json_read_rep(struct model_json_ctx *c, struct model_aset *s, const json_t *o)
{
    static const char *const keys[] = {"id",       "codecs", "bandwidth",  "avg_bandwidth",
                                       "width",    "height", "frame_rate", "sample_rate",
                                       "channels", NULL};
    const char *id, *codecs, *fr;
    struct model_rep *r;
    uint32_t bw;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_str(c, o, "id", true, &id)) != 0 ||
        (rc = model_json_str(c, o, "codecs", true, &codecs)) != 0 ||
        (rc = model_json_u32(c, o, "bandwidth", true, 1, &bw)) != 0)
        return rc;
    if ((rc = model_json_added(c, model_rep_add(s, id, codecs, bw, &r), "id or codecs")) != 0)
        return rc;
    if ((rc = model_json_u32(c, o, "avg_bandwidth", false, 0, &r->avg_bandwidth)) != 0 ||
        (rc = model_json_u32(c, o, "width", false, 0, &r->width)) != 0 ||
        (rc = model_json_u32(c, o, "height", false, 0, &r->height)) != 0 ||
        (rc = model_json_u32(c, o, "sample_rate", false, 0, &r->sample_rate)) != 0 ||
        (rc = model_json_u32(c, o, "channels", false, 0, &r->channels)) != 0 ||
        (rc = model_json_str(c, o, "frame_rate", false, &fr)) != 0)
        return rc;
    if (fr != NULL) {
        size_t old = model_json_push(c, "frame_rate", 0);
        uint64_t num, den = 1;
        const char *q = model_json_digits(fr, &num);

        /* "30" or "30000/1001", as DASH's FrameRateType. */
        if (q != NULL && *q == '/')
            q = model_json_digits(q + 1, &den);
        if (q == NULL || *q != '\0' || num == 0 || den == 0 || num > UINT32_MAX || den > UINT32_MAX)
            return model_json_fail(c, ERR_PROTO,
                                   "must be \"N\" or \"N/D\" with N, D in 1..4294967295");
        model_json_pop(c, old);
        r->fr_num = (uint32_t)num;
        r->fr_den = (uint32_t)den;
    }
    return 0;
}

static int
model_json_read_timeline(struct model_json_ctx *c, struct model_timeline *tl, const json_t *runs)
{
    const json_t *run;
    size_t i;

    json_array_foreach(runs, i, run)
    {
        json_int_t v[3];
        size_t k, old = model_json_push(c, NULL, i);
        int rc;

        if (!json_is_array(run) || json_array_size(run) != 3)
            return model_json_fail(c, ERR_PROTO, "must be [t, d, r]");
        for (k = 0; k < 3; k++) {
            const json_t *x = json_array_get(run, k);

            v[k] = json_is_integer(x) ? json_integer_value(x) : -1;
            if (v[k] < 0 || (uint64_t)v[k] > MODEL_TIME_MAX)
                return model_json_fail(c, ERR_PROTO, "must be [t, d, r] of integers in 0..2^53-1");
        }
        if (v[2] >= MODEL_MAX_SEGMENTS)
            return model_json_fail(c, ERR_LIMIT, "more than %d segments", MODEL_MAX_SEGMENTS);
        rc = model_timeline_add(tl, (uint64_t)v[0], (uint64_t)v[1], (uint32_t)v[2] + 1);
        if (rc == ERR_LIMIT)
            return model_json_fail(c, rc, "more than %d runs or %d segments", MODEL_MAX_RUNS,
                                   MODEL_MAX_SEGMENTS);
        if (rc != 0)
            return model_json_fail(c, ERR_PROTO, "zero duration, overlap or time out of range");
        model_json_pop(c, old);
    }
    return 0;
}

static int
model_json_read_aset(struct model_json_ctx *c, struct model_period *p, const json_t *o)
{
    static const char *const keys[] = {"id",
                                       "content",
                                       "mime",
                                       "family",
                                       "lang",
                                       "segment_alignment",
                                       "timescale",
                                       "pto",
                                       "init",
                                       "media",
                                       "start_number",
                                       "timeline",
                                       "reps",
                                       "selection_priority",
                                       NULL};
    static const char *const contents[] = {"video", "audio", "text"};
    const char *content, *mime, *family, *lang, *init, *media;
    const json_t *runs, *reps, *r;
    struct model_aset *s;
    uint32_t id, ts, ct = 0;
    uint64_t pto, start;
    size_t i;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_u32(c, o, "id", true, 0, &id)) != 0 ||
        (rc = model_json_str(c, o, "content", true, &content)) != 0 ||
        (rc = model_json_str(c, o, "mime", true, &mime)) != 0 ||
        (rc = model_json_str(c, o, "family", true, &family)) != 0 ||
        (rc = model_json_str(c, o, "lang", false, &lang)) != 0 ||
        (rc = model_json_u32(c, o, "timescale", true, 1, &ts)) != 0 ||
        (rc = model_json_uint(c, o, "pto", false, 0, MODEL_TIME_MAX, &pto)) != 0 ||
        (rc = model_json_str(c, o, "init", true, &init)) != 0 ||
        (rc = model_json_str(c, o, "media", true, &media)) != 0 ||
        (rc = model_json_uint(c, o, "start_number", false, 0, MODEL_TIME_MAX, &start)) != 0 ||
        (rc = model_json_array(c, o, "timeline", true, MODEL_MAX_RUNS, &runs)) != 0 ||
        (rc = model_json_array(c, o, "reps", true, MODEL_MAX_REPS, &reps)) != 0)
        return rc;
    for (i = 0; i < ARRAY_SIZE(contents); i++)
        if (strcmp(content, contents[i]) == 0)
            ct = (uint32_t)i + 1; /* MODEL_VIDEO, MODEL_AUDIO, MODEL_TEXT */
    if (ct == 0)
        return model_json_fail(c, ERR_PROTO, "content must be \"video\", \"audio\" or \"text\"");
    rc = model_aset_add(p, id, (enum model_content)ct, mime, family, ts, &s);
    if ((rc = model_json_added(c, rc, "mime or family")) != 0)
        return rc;
    if ((rc = model_json_bool(c, o, "segment_alignment", &s->segment_alignment)) != 0 ||
        (rc = model_json_u32(c, o, "selection_priority", false, 0, &s->selection_priority)) != 0)
        return rc;
    if (model_aset_set_lang(s, lang) != 0)
        return model_json_fail(c, ERR_PROTO, "invalid lang");
    if (model_aset_set_templates(s, init, media) != 0)
        return model_json_fail(c, ERR_PROTO, "invalid init or media template");
    if (!model_time_ok(pto, ts))
        return model_json_fail(c, ERR_PROTO, "pto out of range");
    s->tl.pto = pto;
    s->tl.next_number = start;
    {
        size_t old = model_json_push(c, "timeline", 0);

        if ((rc = model_json_read_timeline(c, &s->tl, runs)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    json_array_foreach(reps, i, r)
    {
        size_t old = model_json_push(c, "reps", 0);

        (void)model_json_push(c, NULL, i);
        if ((rc = model_json_read_rep(c, s, r)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    return 0;
}

static int
model_json_read_event(struct model_json_ctx *c, struct model_evstream *es, const json_t *o)
{
    static const char *const keys[] = {"id", "t", "d", "regions", "payload", NULL};
    char text[MODEL_MAX_PAYLOAD + 1];
    const char *regions;
    const json_t *payload;
    uint64_t t, d;
    uint32_t id;
    size_t n;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_u32(c, o, "id", true, 0, &id)) != 0 ||
        (rc = model_json_uint(c, o, "t", true, 0, MODEL_TIME_MAX, &t)) != 0 ||
        (rc = model_json_uint(c, o, "d", false, 0, MODEL_TIME_MAX, &d)) != 0 ||
        (rc = model_json_str(c, o, "regions", false, &regions)) != 0)
        return rc;
    /* The writer sorts; demanding order keeps a hostile input from costing O(n^2). */
    if (es->nevents > 0 && t < es->events[es->nevents - 1].t)
        return model_json_fail(c, ERR_PROTO, "events must be in time order");
    payload = json_object_get(o, "payload");
    if (!json_is_object(payload))
        return model_json_fail(c, ERR_PROTO, "payload must be an object");
    if (!model_json_depth_ok(payload, MODEL_JSON_MAX_DEPTH))
        return model_json_fail(c, ERR_LIMIT, "payload nests deeper than %d", MODEL_JSON_MAX_DEPTH);
    n = json_dumpb(payload, text, sizeof(text), MODEL_JSON_DUMP_FLAGS);
    if (n == 0 || n > MODEL_MAX_PAYLOAD)
        return model_json_fail(c, ERR_LIMIT, "payload longer than %d bytes", MODEL_MAX_PAYLOAD);
    text[n] = '\0';
    return model_json_added(c, model_event_add(es, id, t, d, text, regions),
                            "time, regions or payload");
}

static int
model_json_read_evstream(struct model_json_ctx *c, struct model_period *p, const json_t *o)
{
    static const char *const keys[] = {"scheme", "value", "timescale", "events", NULL};
    const char *scheme, *value;
    const json_t *events, *e;
    struct model_evstream *es;
    uint32_t ts;
    size_t i;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_str(c, o, "scheme", true, &scheme)) != 0 ||
        (rc = model_json_str(c, o, "value", false, &value)) != 0 ||
        (rc = model_json_u32(c, o, "timescale", true, 1, &ts)) != 0 ||
        (rc = model_json_array(c, o, "events", true, MODEL_MAX_EVENTS, &events)) != 0)
        return rc;
    rc = model_evstream_add(p, scheme, value, ts, &es);
    if ((rc = model_json_added(c, rc, "scheme or value")) != 0)
        return rc;
    json_array_foreach(events, i, e)
    {
        size_t old = model_json_push(c, "events", 0);

        (void)model_json_push(c, NULL, i);
        if ((rc = model_json_read_event(c, es, e)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    return 0;
}

static int
model_json_read_cue(struct model_json_ctx *c, struct model_period *p, const json_t *o)
{
    static const char *const keys[] = {"id", "timescale", "t", "d", NULL};
    uint32_t id, ts;
    uint64_t t, d;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_u32(c, o, "id", true, 0, &id)) != 0 ||
        (rc = model_json_u32(c, o, "timescale", true, 1, &ts)) != 0 ||
        (rc = model_json_uint(c, o, "t", true, 0, MODEL_TIME_MAX, &t)) != 0 ||
        (rc = model_json_uint(c, o, "d", true, 1, MODEL_TIME_MAX, &d)) != 0)
        return rc;
    if (p->ncues > 0 && t < p->cues[p->ncues - 1].t)
        return model_json_fail(c, ERR_PROTO, "cues must be in time order");
    return model_json_added(c, model_cue_add(p, id, ts, t, d), "time");
}

/* Reads each element of the array under key with fn. */
static int
model_json_each(struct model_json_ctx *c, const json_t *arr, const char *key,
                struct model_period *p,
                int (*fn)(struct model_json_ctx *, struct model_period *, const json_t *))
{
    const json_t *v;
    size_t i;
    int rc;

    json_array_foreach(arr, i, v)
    {
        size_t old = model_json_push(c, key, 0);

        (void)model_json_push(c, NULL, i);
        if ((rc = fn(c, p, v)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    return 0;
}

static int
model_json_read_period(struct model_json_ctx *c, struct model *m, const json_t *o)
{
    static const char *const keys[] = {"id",   "start_ms", "duration_ms", "sets", "event_streams",
                                       "cues", NULL};
    const json_t *sets, *streams, *cues;
    struct model_period *p;
    const char *id;
    uint64_t start, dur;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_str(c, o, "id", true, &id)) != 0 ||
        (rc = model_json_uint(c, o, "start_ms", true, 0, MODEL_SECONDS_MAX * 1000, &start)) != 0 ||
        (rc = model_json_uint(c, o, "duration_ms", false, 0, MODEL_SECONDS_MAX * 1000, &dur)) !=
            0 ||
        (rc = model_json_array(c, o, "sets", true, MODEL_MAX_SETS, &sets)) != 0 ||
        (rc = model_json_array(c, o, "event_streams", false, MODEL_MAX_EVSTREAMS, &streams)) != 0 ||
        (rc = model_json_array(c, o, "cues", false, MODEL_MAX_CUES, &cues)) != 0)
        return rc;
    rc = model_period_add(m, id, start, &p);
    if (rc == ERR_INVAL)
        return model_json_fail(c, ERR_PROTO, "invalid id or start before the previous period");
    if ((rc = model_json_added(c, rc, "id")) != 0)
        return rc;
    p->duration_ms = dur;
    if ((rc = model_json_each(c, sets, "sets", p, model_json_read_aset)) != 0 ||
        (rc = model_json_each(c, streams, "event_streams", p, model_json_read_evstream)) != 0 ||
        (rc = model_json_each(c, cues, "cues", p, model_json_read_cue)) != 0)
        return rc;
    return 0;
}

static int
model_json_read_scene(struct model_json_ctx *c, struct model *m, const json_t *o)
{
    static const char *const keys[] = {"start_ms", "duration_ms", "engagement", NULL};
    const json_t *e;
    uint64_t start, dur;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_uint(c, o, "start_ms", true, 0, MODEL_SECONDS_MAX * 1000, &start)) != 0 ||
        (rc = model_json_uint(c, o, "duration_ms", true, 1, MODEL_SECONDS_MAX * 1000, &dur)) != 0)
        return rc;
    e = json_object_get(o, "engagement");
    if (!json_is_number(e) || !(json_number_value(e) >= 0.0 && json_number_value(e) <= 1.0))
        return model_json_fail(c, ERR_PROTO, "engagement must be a number in 0..1");
    if (model_scene_add(m, start, dur, json_number_value(e)) != 0)
        return model_json_fail(c, ERR_PROTO, "scene overlaps the previous one");
    return 0;
}

static int
model_json_read_utc(struct model_json_ctx *c, struct model *m, const json_t *o)
{
    static const char *const keys[] = {"scheme", "url", NULL};
    const char *scheme, *url;
    enum model_utc utc;
    int rc;

    if ((rc = model_json_object(c, o, keys)) != 0 ||
        (rc = model_json_str(c, o, "scheme", true, &scheme)) != 0 ||
        (rc = model_json_str(c, o, "url", true, &url)) != 0)
        return rc;
    if (strcmp(scheme, "http-iso") == 0)
        utc = MODEL_UTC_HTTP_ISO;
    else if (strcmp(scheme, "http-xsdate") == 0)
        utc = MODEL_UTC_HTTP_XSDATE;
    else
        return model_json_fail(c, ERR_PROTO, "scheme must be \"http-iso\" or \"http-xsdate\"");
    if (model_set_utc(m, utc, url) != 0)
        return model_json_fail(c, ERR_PROTO, "invalid url");
    return 0;
}

static int
model_json_read_scalars(struct model_json_ctx *c, struct model *m, const json_t *o)
{
    const char *name, *type;
    uint64_t version;
    int rc;

    if ((rc = model_json_uint(c, o, "version", true, 0, UINT32_MAX, &version)) != 0)
        return rc;
    if (version != MODEL_JSON_VERSION)
        return model_json_fail(c, ERR_PROTO, "unsupported version %llu (this reader knows %d)",
                               (unsigned long long)version, MODEL_JSON_VERSION);
    if ((rc = model_json_str(c, o, "name", false, &name)) != 0 ||
        (rc = model_json_str(c, o, "type", true, &type)) != 0 ||
        (rc = model_json_bool(c, o, "ended", &m->ended)) != 0 ||
        (rc = model_json_uint(c, o, "availability_start_ms", false, 0, MODEL_DATE_MAX,
                              &m->ast_ms)) != 0 ||
        (rc = model_json_uint(c, o, "publish_ms", false, 0, MODEL_DATE_MAX, &m->publish_ms)) != 0 ||
        (rc = model_json_u32(c, o, "min_update_ms", false, 0, &m->min_update_ms)) != 0 ||
        (rc = model_json_u32(c, o, "dvr_window_ms", false, 0, &m->tsbd_ms)) != 0 ||
        (rc = model_json_u32(c, o, "presentation_delay_ms", false, 0, &m->delay_ms)) != 0 ||
        (rc = model_json_u32(c, o, "max_segment_ms", false, 0, &m->max_seg_ms)) != 0 ||
        (rc = model_json_u32(c, o, "min_buffer_ms", false, 0, &m->min_buffer_ms)) != 0 ||
        (rc = model_json_uint(c, o, "duration_ms", false, 0, MODEL_SECONDS_MAX * 1000,
                              &m->duration_ms)) != 0 ||
        (rc = model_json_uint(c, o, "discontinuity_seq", false, 0, MODEL_TIME_MAX, &m->disc_seq)) !=
            0)
        return rc;
    if (strcmp(type, "static") == 0)
        m->type = MODEL_STATIC;
    else if (strcmp(type, "dynamic") == 0)
        m->type = MODEL_DYNAMIC;
    else
        return model_json_fail(c, ERR_PROTO, "type must be \"static\" or \"dynamic\"");
    if (name != NULL && model_set_name(m, name) != 0)
        return model_json_fail(c, ERR_PROTO, "invalid name");
    return 0;
}

static int
model_json_read_model(struct model_json_ctx *c, struct model *m, const json_t *root)
{
    static const char *const keys[] = {"version",
                                       "name",
                                       "type",
                                       "ended",
                                       "availability_start_ms",
                                       "publish_ms",
                                       "min_update_ms",
                                       "dvr_window_ms",
                                       "presentation_delay_ms",
                                       "max_segment_ms",
                                       "min_buffer_ms",
                                       "duration_ms",
                                       "utc_timing",
                                       "discontinuity_seq",
                                       "periods",
                                       "scenes",
                                       NULL};
    const json_t *periods, *scenes, *v;
    size_t i;
    int rc;

    if ((rc = model_json_object(c, root, keys)) != 0 ||
        (rc = model_json_read_scalars(c, m, root)) != 0 ||
        (rc = model_json_array(c, root, "periods", true, MODEL_MAX_PERIODS, &periods)) != 0 ||
        (rc = model_json_array(c, root, "scenes", false, MODEL_MAX_SCENES, &scenes)) != 0)
        return rc;
    v = json_object_get(root, "utc_timing");
    if (v != NULL) {
        size_t old = model_json_push(c, "utc_timing", 0);

        if ((rc = model_json_read_utc(c, m, v)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    json_array_foreach(periods, i, v)
    {
        size_t old = model_json_push(c, "periods", 0);

        (void)model_json_push(c, NULL, i);
        if ((rc = model_json_read_period(c, m, v)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    json_array_foreach(scenes, i, v)
    {
        size_t old = model_json_push(c, "scenes", 0);

        (void)model_json_push(c, NULL, i);
        if ((rc = model_json_read_scene(c, m, v)) != 0)
            return rc;
        model_json_pop(c, old);
    }
    return 0;
}

int
model_json_read(const char *p, size_t len, struct model **out, char *err, size_t errsz)
{
    struct model_json_ctx c = {.err = err, .errsz = errsz};
    json_error_t jerr;
    json_t *root;
    struct model *m;
    int rc;

    *out = NULL;
    if (errsz > 0)
        err[0] = '\0';
    if (len > MODEL_JSON_MAX)
        return model_json_fail(&c, ERR_LIMIT, "input longer than %u bytes", MODEL_JSON_MAX);
    root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return model_json_fail(&c, ERR_PROTO, "json: %s at line %d column %d", jerr.text, jerr.line,
                               jerr.column);
    m = model_new();
    rc = model_json_read_model(&c, m, root);
    json_decref(root);
    if (rc == 0)
        rc = model_validate(m, err, errsz);
    if (rc != 0) {
        model_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}
