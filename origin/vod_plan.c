/*
 * vod_plan.c -- scene-pass reading, scene scoring and chunk planning
 * (vod_plan.h). Pure.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vod_plan.h"
#include "vod_int.h"
#include "media/model.h"
#include "err.h"
#include "mem.h"
#include "proto/hex.h"
#include "compat.h"

void
vod_scan_init(struct vod_scan *s)
{
    memset(s, 0, sizeof(*s));
}

void
vod_scan_check(const struct vod_scan *s)
{
    assert(s->len < VOD_SCAN_LINE_MAX);
    assert(!s->skipping || s->len == 0);
    assert(!s->have_t || s->t_ms >= 0);
}

/* A decimal number "123", "0.0416667" or "-1.5" spanning all of p[0..n): into *v. */
static bool
vod_scan_number(const char *p, size_t n, double *v)
{
    char buf[48];
    char *end;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || buf[i] == '-'))
            return false;
    *v = strtod(buf, &end);
    return end == buf + n && isfinite(*v);
}

static int
vod_scan_line(struct vod_scan *s, const char *l, size_t n, vod_scan_cb *cb, void *arg)
{
    static const char score_key[] = "lavfi.scene_score=";
    const char *pt;
    double v;
    size_t k;

    if (n >= 6 && memcmp(l, "frame:", 6) == 0) {
        pt = memmem(l, n, "pts_time:", 9);
        if (pt == NULL)
            return ERR_PROTO;
        pt += 9;
        k = (size_t)(l + n - pt);
        while (k > 0 && (pt[k - 1] == ' ' || pt[k - 1] == '\r'))
            k--;
        if (!vod_scan_number(pt, k, &v) || v < 0 || v > 1e9)
            return ERR_PROTO;
        s->t_ms = (int64_t)llround(v * 1000.0);
        s->have_t = true;
        return 0;
    }
    k = sizeof(score_key) - 1;
    if (n >= k && memcmp(l, score_key, k) == 0) {
        size_t m = n - k;

        while (m > 0 && (l[k + m - 1] == ' ' || l[k + m - 1] == '\r'))
            m--;
        if (!vod_scan_number(l + k, m, &v) || v < 0 || v > 1)
            return ERR_PROTO;
        if (s->have_t) {
            s->have_t = false;
            s->frames++;
            cb(arg, s->t_ms, v);
        }
    }
    return 0;
}

long
vod_scan_feed(struct vod_scan *s, const uint8_t *p, size_t len, vod_scan_cb *cb, void *arg)
{
    size_t i;
    int rc;

    for (i = 0; i < len; i++) {
        char c = (char)p[i];

        if (c == '\n') {
            if (!s->skipping) {
                rc = vod_scan_line(s, s->line, s->len, cb, arg);
                if (rc != 0)
                    return rc;
            }
            s->len = 0;
            s->skipping = false;
            continue;
        }
        if (s->skipping)
            continue;
        if (s->len == VOD_SCAN_LINE_MAX - 1) {
            s->len = 0;
            s->skipping = true;
            continue;
        }
        s->line[s->len++] = c;
    }
    return (long)len;
}

void
vod_scenes_init(struct vod_scenes *sc)
{
    memset(sc, 0, sizeof(*sc));
}

void
vod_scenes_free(struct vod_scenes *sc)
{
    xfree(sc->v);
    memset(sc, 0, sizeof(*sc));
}

static void
vod_scenes_close(struct vod_scenes *sc)
{
    struct vod_scene *last;

    if (sc->n == 0)
        return;
    last = &sc->v[sc->n - 1];
    last->motion = sc->scene_frames > 0 ? sc->scene_sum / (double)sc->scene_frames : 0;
}

void
vod_scenes_frame(struct vod_scenes *sc, const struct vod_scene_params *p, int64_t t_ms,
                 double score)
{
    bool cut = sc->frames > 0 && score * 1000.0 >= (double)p->cut_milli;
    struct vod_scene *s;

    sc->frames++;
    if (sc->n == 0) {
        sc->cap = 64;
        sc->v = xcalloc(sc->cap, sizeof(*sc->v));
        sc->v[0].start_ms = 0;
        sc->n = 1;
    }
    /* A "cut" right after a cut is the same change settling (flashes,
     * noisy sources): a scene lasts at least VOD_SCENE_MIN_MS. */
    if (cut && sc->n < VOD_SCENES_MAX && t_ms >= sc->v[sc->n - 1].start_ms + VOD_SCENE_MIN_MS) {
        vod_scenes_close(sc);
        sc->v[sc->n - 1].dur_ms = t_ms - sc->v[sc->n - 1].start_ms;
        if (sc->n == sc->cap) {
            sc->cap *= 2;
            sc->v = xrealloc(sc->v, sc->cap * sizeof(*sc->v));
        }
        s = &sc->v[sc->n++];
        memset(s, 0, sizeof(*s));
        s->start_ms = t_ms;
        s->cut = score;
        sc->cuts++;
        sc->scene_sum = 0;
        sc->scene_frames = 0;
        return;
    }
    sc->sum += score;
    sc->scene_sum += score;
    sc->scene_frames++;
}

void
vod_scenes_finish(struct vod_scenes *sc, const struct vod_scene_params *p, int64_t dur_ms)
{
    double ref = 2.0 * (double)(p->engaging_motion ? p->engaging_motion : 1) / 1000.0;
    uint64_t calm = sc->frames - sc->cuts;

    if (sc->n == 0) {
        sc->cap = 1;
        sc->v = xcalloc(1, sizeof(*sc->v));
        sc->n = 1;
    }
    vod_scenes_close(sc);
    if (dur_ms < sc->v[sc->n - 1].start_ms + 1)
        dur_ms = sc->v[sc->n - 1].start_ms + 1;
    sc->v[sc->n - 1].dur_ms = dur_ms - sc->v[sc->n - 1].start_ms;
    for (size_t i = 0; i < sc->n; i++) {
        struct vod_scene *s = &sc->v[i];

        s->engagement = 0.5 * fmin(1.0, s->cut) + 0.5 * fmin(1.0, s->motion / ref);
    }
    sc->cuts_per_min = dur_ms > 0 ? (double)sc->cuts * 60000.0 / (double)dur_ms : 0;
    sc->mean_motion = calm > 0 ? sc->sum / (double)calm : 0;
    sc->engaging = sc->cuts_per_min >= (double)p->engaging_cuts ||
                   sc->mean_motion * 1000.0 >= (double)p->engaging_motion;
}

/* First keyframe index > after with key_ms >= t, or nkeys. */
static size_t
vod_plan_key_at(const int64_t *key_ms, size_t nkeys, size_t after, int64_t t)
{
    size_t i;

    for (i = after + 1; i < nkeys; i++)
        if (key_ms[i] >= t)
            return i;
    return nkeys;
}

/* The uniform next start after key index cur, or nkeys. */
static size_t
vod_plan_uniform(const int64_t *key_ms, size_t nkeys, size_t cur, const struct vod_plan_params *p)
{
    return vod_plan_key_at(key_ms, nkeys, cur,
                           key_ms[cur] + (int64_t)p->chunk_ms - (int64_t)p->tol_ms);
}

/* The first keyframe on a cut within [min, max] of key index cur, or nkeys. */
static size_t
vod_plan_at_cut(const int64_t *key_ms, size_t nkeys, size_t cur, const int64_t *cuts, size_t ncuts,
                const struct vod_plan_params *p)
{
    int64_t lo = key_ms[cur] + (int64_t)p->min_ms, hi = key_ms[cur] + (int64_t)p->max_ms;

    for (size_t c = 0; c < ncuts; c++) {
        if (cuts[c] + (int64_t)p->tol_ms < lo)
            continue;
        if (cuts[c] - (int64_t)p->tol_ms > hi)
            break;
        for (size_t i = cur + 1; i < nkeys; i++) {
            if (key_ms[i] > cuts[c] + (int64_t)p->tol_ms)
                break;
            if (llabs(key_ms[i] - cuts[c]) <= (int64_t)p->tol_ms && key_ms[i] >= lo &&
                key_ms[i] <= hi)
                return i;
        }
    }
    return nkeys;
}

int
vod_plan_chunks(const int64_t *key_ms, size_t nkeys, int64_t dur_ms, const int64_t *cuts_ms,
                size_t ncuts, bool engaging, const struct vod_plan_params *p, size_t *out,
                size_t cap)
{
    size_t n = 0, cur = 0, next;
    int64_t tail_min;

    if (nkeys == 0 || cap == 0 || p->chunk_ms == 0 || p->seg_ms == 0 ||
        (engaging && (p->min_ms == 0 || p->max_ms < p->min_ms)))
        return ERR_INVAL;
    out[n++] = 0;
    for (;;) {
        next = nkeys;
        if (engaging) {
            next = vod_plan_at_cut(key_ms, nkeys, cur, cuts_ms, ncuts, p);
            if (next == nkeys) {
                next = vod_plan_uniform(key_ms, nkeys, cur, p);
                if (next < nkeys && key_ms[next] - key_ms[cur] > (int64_t)p->max_ms) {
                    /* Cap at max_ms when a keyframe allows it. */
                    size_t k =
                        vod_plan_key_at(key_ms, nkeys, cur, key_ms[cur] + (int64_t)p->max_ms + 1);
                    if (k > cur + 1)
                        next = k - 1;
                }
            }
        } else {
            next = vod_plan_uniform(key_ms, nkeys, cur, p);
        }
        if (next >= nkeys || n == cap)
            break;
        out[n++] = next;
        cur = next;
    }
    tail_min = engaging ? (int64_t)p->min_ms : (int64_t)p->chunk_ms / 2;
    if (n > 1 && dur_ms - key_ms[out[n - 1]] < tail_min)
        n--;
    return (int)n;
}

/* ---- query strings and devices ---- */

int
vod_query_get(const char *q, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);

    if (outsz == 0)
        return ERR_LIMIT;
    out[0] = '\0';
    if (q == NULL)
        return 0;
    while (*q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);

        if (len > nlen && memcmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t o = 0;

            for (size_t i = nlen + 1; i < len; i++) {
                char c = q[i];

                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi, lo;

                    if (i + 2 >= len)
                        return ERR_PROTO;
                    hi = hex_digit((unsigned char)q[i + 1]);
                    lo = hex_digit((unsigned char)q[i + 2]);
                    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return ERR_PROTO;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                }
                if (o + 1 >= outsz)
                    return ERR_LIMIT;
                out[o++] = c;
            }
            out[o] = '\0';
            return (int)o;
        }
        if (amp == NULL)
            break;
        q = amp + 1;
    }
    return 0;
}

void
vod_device_classify(const char *a, struct vod_device *d)
{
    memset(d, 0, sizeof(*d));
    if (strstr(a, "SMART-TV") != NULL || strstr(a, "SmartTV") != NULL ||
        strstr(a, "Tizen") != NULL || strstr(a, "Web0S") != NULL || strstr(a, "AppleTV") != NULL ||
        strstr(a, "CrKey") != NULL) {
        d->kind = "tv";
        d->max_height = 0;
        d->hevc = true;
    } else if (strstr(a, "iPhone") != NULL ||
               (strstr(a, "Android") != NULL && strstr(a, "Mobile") != NULL)) {
        d->kind = "phone";
        d->max_height = 720;
    } else if (strstr(a, "iPad") != NULL || strstr(a, "Android") != NULL) {
        d->kind = "tablet";
        d->max_height = 1080;
    } else {
        d->kind = "desktop";
        d->max_height = 1080;
    }
    if (strstr(a, "Safari") != NULL && strstr(a, "Chrome") == NULL)
        d->hevc = true;
}

const struct model_rep *
vod_device_pick(const struct model_aset *s, const struct vod_device *d)
{
    const struct model_rep *best = NULL, *low = NULL;

    for (uint32_t i = 0; i < s->nreps; i++) {
        const struct model_rep *r = s->reps[i];

        if (strncmp(r->codecs, "hvc1", 4) == 0 && !d->hevc)
            continue;
        if (low == NULL || r->height < low->height)
            low = r;
        if ((d->max_height == 0 || r->height <= d->max_height) &&
            (best == NULL || r->height > best->height))
            best = r;
    }
    if (best != NULL)
        return best;
    return low != NULL ? low : s->reps[0];
}
