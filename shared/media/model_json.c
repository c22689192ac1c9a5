/*
 * model_json.c -- model.json: the model as JSON, written by the origin and
 * read by edges from the network.
 *
 * The only file of the model that includes <jansson.h>. The writer prints
 * compact, ASCII-only JSON straight into the caller's capped buffer (jansson
 * only re-prints event payloads). The reader is strict and bounded, because its
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

/*
 * The writer prints straight into the caller's buffer, in the byte form
 * jansson gives with MODEL_JSON_DUMP_FLAGS (the reader's parser): keys in
 * this order, no spaces, strings ASCII-only with upper-case \u escapes,
 * reals as %.15g that always read back as reals. It used to build a
 * jansson tree and dump it: the origin renders model.json on every
 * segment cut of every stream, and the tree's mallocs and the dump were a
 * twentieth of the ingest's CPU. Event payloads (rare, arbitrary JSON)
 * still go through jansson, to come out in that same compact form.
 */

static const char *
model_json_content_name(enum model_content c)
{
    return c == MODEL_VIDEO ? "video" : c == MODEL_AUDIO ? "audio" : "text";
}

static void
model_json_u4(struct buf *b, unsigned cp)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[6] = {'\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                 hex[cp & 15]};

    buf_add(b, e, sizeof(e));
}

/* One UTF-8 sequence at p (n bytes left): its code point and length, or 0 if invalid. */
static size_t
model_json_utf8(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len, i;
    unsigned v;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, v = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, v = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, v = p[0] & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3fu);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* SPEC: RFC 8259 7 -- a string; invalid UTF-8 becomes U+FFFD. */
static void
model_json_put_str(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *run = p;
    size_t n = strlen(s);

    buf_putc(b, '"');
    while (n > 0) {
        unsigned cp;
        size_t len;

        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            p++;
            n--;
            continue;
        }
        buf_add(b, run, (size_t)(p - run));
        len = model_json_utf8(p, n, &cp);
        if (len == 0) {
            cp = 0xfffd;
            len = 1;
        }
        switch (cp) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default:
            if (cp >= 0x10000) {
                cp -= 0x10000;
                model_json_u4(b, 0xd800 | (cp >> 10));
                model_json_u4(b, 0xdc00 | (cp & 0x3ff));
            } else {
                model_json_u4(b, cp);
            }
        }
        p += len;
        n -= len;
        run = p;
    }
    buf_add(b, run, (size_t)(p - run));
    buf_putc(b, '"');
}

/* ,"key": -- or "key": first in its object (first is cleared). */
static void
model_json_key(struct buf *b, bool *first, const char *key)
{
    if (!*first)
        buf_putc(b, ',');
    *first = false;
    buf_putc(b, '"');
    buf_puts(b, key);
    buf_puts(b, "\":");
}

static void
model_json_kstr(struct buf *b, bool *first, const char *key, const char *v)
{
    model_json_key(b, first, key);
    model_json_put_str(b, v);
}

static void
model_json_ku64(struct buf *b, bool *first, const char *key, uint64_t v)
{
    model_json_key(b, first, key);
    buf_u64(b, v);
}

static void
model_json_kbool(struct buf *b, bool *first, const char *key, bool v)
{
    model_json_key(b, first, key);
    buf_puts(b, v ? "true" : "false");
}

/* A real as jansson prints it: %.15g, a dot or an exponent always, no '+' or leading 0 in it. */
static void
model_json_real(struct buf *b, double v)
{
    char s[40], *e, *d;
    int n = snprintf(s, sizeof(s) - 2, "%.15g", v);

    if (n <= 0 || (size_t)n >= sizeof(s) - 2) {
        buf_puts(b, "0.0");
        return;
    }
    if (strchr(s, '.') == NULL && strchr(s, 'e') == NULL)
        memcpy(s + n, ".0", 3);
    e = strchr(s, 'e');
    if (e != NULL) {
        e++;
        if (*e == '+')
            memmove(e, e + 1, strlen(e));
        else if (*e == '-')
            e++;
        for (d = e; *d == '0' && d[1] != '\0'; d++)
            ;
        memmove(e, d, strlen(d) + 1);
    }
    buf_puts(b, s);
}

static void
model_json_write_rep(struct buf *b, const struct model_rep *r)
{
    bool f = true;

    buf_putc(b, '{');
    model_json_kstr(b, &f, "id", r->id);
    model_json_kstr(b, &f, "codecs", r->codecs);
    model_json_ku64(b, &f, "bandwidth", r->bandwidth);
    if (r->avg_bandwidth > 0)
        model_json_ku64(b, &f, "avg_bandwidth", r->avg_bandwidth);
    if (r->width > 0)
        model_json_ku64(b, &f, "width", r->width);
    if (r->height > 0)
        model_json_ku64(b, &f, "height", r->height);
    if (r->fr_num > 0) {
        model_json_key(b, &f, "frame_rate");
        buf_putc(b, '"');
        model_put_frame_rate(b, r);
        buf_putc(b, '"');
    }
    if (r->sample_rate > 0)
        model_json_ku64(b, &f, "sample_rate", r->sample_rate);
    if (r->channels > 0)
        model_json_ku64(b, &f, "channels", r->channels);
    buf_putc(b, '}');
}

static void
model_json_write_aset(struct buf *b, const struct model_aset *s)
{
    bool f = true;
    uint32_t i;

    buf_putc(b, '{');
    model_json_ku64(b, &f, "id", s->id);
    model_json_kstr(b, &f, "content", model_json_content_name(s->content));
    model_json_kstr(b, &f, "mime", s->mime);
    model_json_kstr(b, &f, "family", s->family);
    if (s->lang != NULL)
        model_json_kstr(b, &f, "lang", s->lang);
    model_json_kbool(b, &f, "segment_alignment", s->segment_alignment);
    if (s->selection_priority != 0)
        model_json_ku64(b, &f, "selection_priority", s->selection_priority);
    model_json_ku64(b, &f, "timescale", s->tl.timescale);
    model_json_ku64(b, &f, "pto", s->tl.pto);
    model_json_kstr(b, &f, "init", s->init_tmpl);
    model_json_kstr(b, &f, "media", s->media_tmpl);
    model_json_ku64(b, &f, "start_number", model_timeline_first_number(&s->tl));
    model_json_key(b, &f, "timeline");
    buf_putc(b, '[');
    for (i = 0; i < s->tl.nruns; i++) {
        const struct model_run *run = &s->tl.runs[i];

        buf_puts(b, i == 0 ? "[" : ",[");
        buf_u64(b, run->t);
        buf_putc(b, ',');
        buf_u64(b, run->d);
        buf_putc(b, ',');
        buf_u64(b, run->r);
        buf_putc(b, ']');
    }
    buf_putc(b, ']');
    model_json_key(b, &f, "reps");
    buf_putc(b, '[');
    for (i = 0; i < s->nreps; i++) {
        if (i > 0)
            buf_putc(b, ',');
        model_json_write_rep(b, s->reps[i]);
    }
    buf_puts(b, "]}");
}

/* ERR_INVAL when a payload is not a JSON object (a model built by hand). */
static int
model_json_write_evstream(struct buf *b, const struct model_evstream *es)
{
    bool f = true;
    uint32_t i;

    buf_putc(b, '{');
    model_json_kstr(b, &f, "scheme", es->scheme);
    if (es->value != NULL)
        model_json_kstr(b, &f, "value", es->value);
    model_json_ku64(b, &f, "timescale", es->timescale);
    model_json_key(b, &f, "events");
    buf_putc(b, '[');
    for (i = 0; i < es->nevents; i++) {
        const struct model_event *e = &es->events[i];
        json_t *payload = json_loads(e->payload, 0, NULL);
        char *text;
        bool ef = true;

        if (!json_is_object(payload)) {
            json_decref(payload);
            return ERR_INVAL;
        }
        text = json_dumps(payload, MODEL_JSON_DUMP_FLAGS);
        json_decref(payload);
        if (text == NULL)
            return ERR_INVAL;
        if (i > 0)
            buf_putc(b, ',');
        buf_putc(b, '{');
        model_json_ku64(b, &ef, "id", e->id);
        model_json_ku64(b, &ef, "t", e->t);
        model_json_ku64(b, &ef, "d", e->d);
        if (e->regions != NULL)
            model_json_kstr(b, &ef, "regions", e->regions);
        model_json_key(b, &ef, "payload");
        buf_puts(b, text);
        buf_putc(b, '}');
        free(text); /* jansson's allocator */
    }
    buf_puts(b, "]}");
    return 0;
}

static int
model_json_write_period(struct buf *b, const struct model_period *p)
{
    bool f = true;
    uint32_t i;
    int rc;

    buf_putc(b, '{');
    model_json_kstr(b, &f, "id", p->id);
    model_json_ku64(b, &f, "start_ms", p->start_ms);
    model_json_ku64(b, &f, "duration_ms", p->duration_ms);
    model_json_key(b, &f, "sets");
    buf_putc(b, '[');
    for (i = 0; i < p->nsets; i++) {
        if (i > 0)
            buf_putc(b, ',');
        model_json_write_aset(b, p->sets[i]);
    }
    buf_putc(b, ']');
    model_json_key(b, &f, "event_streams");
    buf_putc(b, '[');
    for (i = 0; i < p->nstreams; i++) {
        if (i > 0)
            buf_putc(b, ',');
        if ((rc = model_json_write_evstream(b, p->streams[i])) != 0)
            return rc;
    }
    buf_putc(b, ']');
    model_json_key(b, &f, "cues");
    buf_putc(b, '[');
    for (i = 0; i < p->ncues; i++) {
        const struct model_cue *c = &p->cues[i];
        bool cf = true;

        buf_puts(b, i > 0 ? ",{" : "{");
        model_json_ku64(b, &cf, "id", c->id);
        model_json_ku64(b, &cf, "timescale", c->timescale);
        model_json_ku64(b, &cf, "t", c->t);
        model_json_ku64(b, &cf, "d", c->d);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
    return 0;
}

static int
model_json_write_model(struct buf *b, const struct model *m)
{
    bool f = true;
    uint32_t i;
    int rc;

    buf_putc(b, '{');
    model_json_ku64(b, &f, "version", MODEL_JSON_VERSION);
    if (m->name != NULL)
        model_json_kstr(b, &f, "name", m->name);
    model_json_kstr(b, &f, "type", m->type == MODEL_DYNAMIC ? "dynamic" : "static");
    model_json_kbool(b, &f, "ended", m->ended);
    model_json_ku64(b, &f, "availability_start_ms", m->ast_ms);
    model_json_ku64(b, &f, "publish_ms", m->publish_ms);
    model_json_ku64(b, &f, "min_update_ms", m->min_update_ms);
    model_json_ku64(b, &f, "dvr_window_ms", m->tsbd_ms);
    model_json_ku64(b, &f, "presentation_delay_ms", m->delay_ms);
    model_json_ku64(b, &f, "max_segment_ms", m->max_seg_ms);
    model_json_ku64(b, &f, "min_buffer_ms", m->min_buffer_ms);
    model_json_ku64(b, &f, "duration_ms", m->duration_ms);
    if (m->utc != MODEL_UTC_NONE) {
        bool uf = true;

        model_json_key(b, &f, "utc_timing");
        buf_putc(b, '{');
        model_json_kstr(b, &uf, "scheme",
                        m->utc == MODEL_UTC_HTTP_ISO ? "http-iso" : "http-xsdate");
        model_json_kstr(b, &uf, "url", m->utc_url);
        buf_putc(b, '}');
    }
    model_json_ku64(b, &f, "discontinuity_seq", m->disc_seq);
    model_json_key(b, &f, "periods");
    buf_putc(b, '[');
    for (i = 0; i < m->nperiods; i++) {
        if (i > 0)
            buf_putc(b, ',');
        if ((rc = model_json_write_period(b, m->periods[i])) != 0)
            return rc;
    }
    buf_putc(b, ']');
    model_json_key(b, &f, "scenes");
    buf_putc(b, '[');
    for (i = 0; i < m->nscenes; i++) {
        bool sf = true;

        buf_puts(b, i > 0 ? ",{" : "{");
        model_json_ku64(b, &sf, "start_ms", m->scenes[i].start_ms);
        model_json_ku64(b, &sf, "duration_ms", m->scenes[i].duration_ms);
        model_json_key(b, &sf, "engagement");
        model_json_real(b, m->scenes[i].engagement);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
    return 0;
}

int
model_json_write(const struct model *m, struct buf *out)
{
    size_t start;
    int rc;

    CHECK_OBJ_NOTNULL(m, MODEL_MAGIC);
    DASSERT(model_validate(m, NULL, 0) == 0);
    start = out->len;
    rc = model_json_write_model(out, m);
    if (rc != 0) {
        /* Nothing half-written stays behind. */
        out->len = start;
        if (out->p != NULL)
            out->p[start] = '\0';
        return rc;
    }
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
