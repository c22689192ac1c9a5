/*
 * ladder.c -- the ladder definition, its file parser, rung selection and
 * the aligned encoder options. See ladder.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../err.h"
#include "ladder.h"

#include "../compat.h"

void
ladder_default(struct ladder *l)
{
    static const struct ladder_video v[] = {
        {"1080p", 1080, 5000}, {"720p", 720, 3000}, {"480p", 480, 1200},
        {"360p", 360, 700},    {"240p", 240, 300},
    };
    static const struct ladder_audio a[] = {{"aac128", 128}, {"aac64", 64}};

    memset(l, 0, sizeof(*l));
    memcpy(l->video, v, sizeof(v));
    l->n_video = sizeof(v) / sizeof(v[0]);
    memcpy(l->audio, a, sizeof(a));
    l->n_audio = sizeof(a) / sizeof(a[0]);
    (void)snprintf(l->preset, sizeof(l->preset), "veryfast");
}

/* ---- the file parser ---- */

static bool
ladder_id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= LADDER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A decimal in [lo, hi], digits only. */
static bool
ladder_num(const char *s, size_t n, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool
ladder_id_taken(const struct ladder *l, const char *s, size_t n)
{
    for (unsigned i = 0; i < l->n_video; i++)
        if (strlen(l->video[i].id) == n && memcmp(l->video[i].id, s, n) == 0)
            return true;
    for (unsigned i = 0; i < l->n_audio; i++)
        if (strlen(l->audio[i].id) == n && memcmp(l->audio[i].id, s, n) == 0)
            return true;
    return false;
}

#define LADDER_MAX_WORDS 5

/* One line, comment stripped, split on blanks. */
static int
ladder_line(struct ladder *l, const char *p, size_t n)
{
    const char *w[LADDER_MAX_WORDS];
    size_t wn[LADDER_MAX_WORDS];
    unsigned nw = 0;
    size_t i = 0;

    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
            i++;
        if (i == n)
            break;
        if (nw == LADDER_MAX_WORDS)
            return ERR_CONF;
        w[nw] = p + i;
        while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            i++;
        wn[nw] = (size_t)(p + i - w[nw]);
        nw++;
    }
    if (nw == 0)
        return 0;

    if (wn[0] == 5 && memcmp(w[0], "video", 5) == 0) {
        struct ladder_video *v;
        uint32_t h, k;

        if (nw != 4 || !ladder_id_ok(w[1], wn[1]) || ladder_id_taken(l, w[1], wn[1]) ||
            !ladder_num(w[2], wn[2], LADDER_MIN_HEIGHT, LADDER_MAX_HEIGHT, &h) ||
            !ladder_num(w[3], wn[3], 1, LADDER_MAX_KBPS, &k))
            return ERR_CONF;
        if (l->n_video == LADDER_MAX_VIDEO)
            return ERR_LIMIT;
        if (l->n_video > 0 && l->video[l->n_video - 1].height <= h)
            return ERR_CONF; /* tallest first, no two of one height */
        v = &l->video[l->n_video++];
        memcpy(v->id, w[1], wn[1]);
        v->id[wn[1]] = '\0';
        v->height = h;
        v->kbps = k;
        return 0;
    }
    if (wn[0] == 5 && memcmp(w[0], "audio", 5) == 0) {
        struct ladder_audio *a;
        uint32_t k;

        if (nw != 3 || !ladder_id_ok(w[1], wn[1]) || ladder_id_taken(l, w[1], wn[1]) ||
            !ladder_num(w[2], wn[2], 8, 512, &k))
            return ERR_CONF;
        if (l->n_audio == LADDER_MAX_AUDIO)
            return ERR_LIMIT;
        a = &l->audio[l->n_audio++];
        memcpy(a->id, w[1], wn[1]);
        a->id[wn[1]] = '\0';
        a->kbps = k;
        return 0;
    }
    if (wn[0] == 6 && memcmp(w[0], "preset", 6) == 0) {
        static const char *const ok[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                         "medium",    "slow",      "slower",   "veryslow"};
        if (nw != 2)
            return ERR_CONF;
        for (size_t j = 0; j < sizeof(ok) / sizeof(ok[0]); j++) {
            if (strlen(ok[j]) == wn[1] && memcmp(ok[j], w[1], wn[1]) == 0) {
                (void)snprintf(l->preset, sizeof(l->preset), "%s", ok[j]);
                return 0;
            }
        }
        return ERR_CONF;
    }
    return ERR_CONF;
}

int
ladder_parse(struct ladder *l, const char *text, size_t len, unsigned *err_line)
{
    unsigned line = 0;
    size_t i = 0;

    memset(l, 0, sizeof(*l));
    (void)snprintf(l->preset, sizeof(l->preset), "veryfast");
    if (err_line != NULL)
        *err_line = 0;
    if (len > LADDER_FILE_MAX)
        return ERR_LIMIT;
    while (i < len) {
        size_t start = i, end;
        int rc;

        line++;
        while (i < len && text[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* the '\n' */
        for (size_t j = start; j < end; j++) {
            if (text[j] == '#' || text[j] == '\0') {
                if (text[j] == '\0') {
                    if (err_line != NULL)
                        *err_line = line;
                    return ERR_CONF;
                }
                end = j;
                break;
            }
        }
        rc = ladder_line(l, text + start, end - start);
        if (rc != 0) {
            if (err_line != NULL)
                *err_line = line;
            return rc;
        }
    }
    if (l->n_video == 0)
        return ERR_CONF;
    return 0;
}

int
ladder_check(const struct ladder *l)
{
    if (l->n_video == 0 || l->n_video > LADDER_MAX_VIDEO || l->n_audio > LADDER_MAX_AUDIO)
        return ERR_INVAL;
    for (unsigned i = 0; i < l->n_video; i++) {
        const struct ladder_video *v = &l->video[i];
        if (!ladder_id_ok(v->id, strnlen(v->id, LADDER_ID_MAX)) || v->height < LADDER_MIN_HEIGHT ||
            v->height > LADDER_MAX_HEIGHT || v->kbps == 0 || v->kbps > LADDER_MAX_KBPS ||
            (i > 0 && l->video[i - 1].height <= v->height))
            return ERR_INVAL;
    }
    for (unsigned i = 0; i < l->n_audio; i++)
        if (!ladder_id_ok(l->audio[i].id, strnlen(l->audio[i].id, LADDER_ID_MAX)) ||
            l->audio[i].kbps < 8 || l->audio[i].kbps > 512)
            return ERR_INVAL;
    if (strnlen(l->preset, LADDER_ID_MAX) == 0 ||
        strnlen(l->preset, LADDER_ID_MAX) >= LADDER_ID_MAX)
        return ERR_INVAL;
    return 0;
}

/* ---- fitting to a source ---- */

static uint32_t
ladder_even(uint64_t v)
{
    v &= ~(uint64_t)1;
    return v < 2 ? 2 : (uint32_t)v;
}

int
ladder_select(const struct ladder *l, uint32_t src_w, uint32_t src_h, struct ladder_pick *out,
              unsigned cap)
{
    unsigned n = 0;

    if (src_w < 2 || src_h < 2 || src_w > 16384 || src_h > 16384)
        return ERR_INVAL;
    for (unsigned i = 0; i < l->n_video && n < cap; i++) {
        const struct ladder_video *v = &l->video[i];
        uint32_t h = v->height;

        if (h > src_h) {
            if (i + 1 < l->n_video || n > 0)
                continue;
            h = src_h; /* floor rung on a tiny source: its own size */
        }
        out[n].rung = v;
        out[n].height = ladder_even(h);
        /* width = src_w * h / src_h, to the nearest even integer */
        out[n].width = ladder_even(2 * (((uint64_t)src_w * h + src_h) / (2 * (uint64_t)src_h)));
        n++;
    }
    return (int)n;
}

/* ---- encoder options ---- */

struct ladder_argv {
    char *buf;
    size_t bufsz, used;
    const char **argv;
    unsigned cap, n;
    bool full;
};

static void ladder_arg(struct ladder_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ladder_arg(struct ladder_argv *a, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (a->full)
        return;
    if (a->n == a->cap || a->used >= a->bufsz) {
        a->full = true;
        return;
    }
    va_start(ap, fmt);
    w = vsnprintf(a->buf + a->used, a->bufsz - a->used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= a->bufsz - a->used) {
        a->full = true;
        return;
    }
    a->argv[a->n++] = a->buf + a->used;
    a->used += (size_t)w + 1;
}

int
ladder_video_args(const struct ladder *l, const struct ladder_pick *p, uint32_t gop_ms, char *buf,
                  size_t bufsz, const char **argv, unsigned argv_cap)
{
    struct ladder_argv a = {.buf = buf, .bufsz = bufsz, .argv = argv, .cap = argv_cap};
    uint32_t k = p->rung->kbps;

    if (gop_ms == 0)
        return ERR_INVAL;
    ladder_arg(&a, "-c:v");
    ladder_arg(&a, "libx264");
    ladder_arg(&a, "-preset");
    ladder_arg(&a, "%s", l->preset);
    ladder_arg(&a, "-profile:v");
    ladder_arg(&a, "%s", p->height <= 360 ? "main" : "high");
    ladder_arg(&a, "-pix_fmt");
    ladder_arg(&a, "yuv420p");
    ladder_arg(&a, "-b:v");
    ladder_arg(&a, "%" PRIu32 "k", k);
    ladder_arg(&a, "-maxrate");
    ladder_arg(&a, "%" PRIu32 "k", k + k / 10);
    ladder_arg(&a, "-bufsize");
    ladder_arg(&a, "%" PRIu32 "k", 2 * k);
    ladder_arg(&a, "-vf");
    ladder_arg(&a, "scale=%" PRIu32 ":%" PRIu32, p->width, p->height);
    /* SPEC: keyframes at n * gop on the output clock, closed GOPs and no
     * scene-cut keyframes, so every rung cuts at the same media times. */
    ladder_arg(&a, "-force_key_frames");
    ladder_arg(&a, "expr:gte(t,n_forced*%" PRIu32 ".%03" PRIu32 ")", gop_ms / 1000, gop_ms % 1000);
    ladder_arg(&a, "-sc_threshold");
    ladder_arg(&a, "0");
    ladder_arg(&a, "-flags");
    ladder_arg(&a, "+cgop");
    ladder_arg(&a, "-x264-params");
    ladder_arg(&a, "scenecut=0:open_gop=0");
    return a.full ? ERR_LIMIT : (int)a.n;
}

int
ladder_audio_args(const struct ladder_audio *au, char *buf, size_t bufsz, const char **argv,
                  unsigned argv_cap)
{
    struct ladder_argv a = {.buf = buf, .bufsz = bufsz, .argv = argv, .cap = argv_cap};

    ladder_arg(&a, "-c:a");
    ladder_arg(&a, "aac");
    ladder_arg(&a, "-b:a");
    ladder_arg(&a, "%" PRIu32 "k", au->kbps);
    ladder_arg(&a, "-ac");
    ladder_arg(&a, "2");
    return a.full ? ERR_LIMIT : (int)a.n;
}
