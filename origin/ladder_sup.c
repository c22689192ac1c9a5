/*
 * ladder_sup.c -- one stream's transcoder, kept alive (ladder_sup.h).
 *
 * States: WAIT (want a worker: it starts at the next keyframe), RUNNING,
 * BACKOFF (the worker died: a timer brings us back to WAIT), IDLE (the
 * session ended), OFF (no rungs: too small a source, or refused a worker).
 * A struct ladder_sup owns its worker and one pkg_fmp4 reader per rung of
 * the running worker.
 *
 * Timeline: the worker is fed the session's tags with their own
 * timestamps, starting at a keyframe K; the mp4 muxer moves its output so
 * the first decode time is 0, and with B-frames off in the encoded rungs
 * the first presentation time is 0 too. So output time 0 is K's
 * presentation time, base + dts(K) + cts(K) on the stream's timeline, and
 * that (in 90 kHz ticks) is each reader's offset. Keyframes are forced at
 * every segment duration after K (ffmpeg counts -force_key_frames from the
 * first frame), which are the source's keyframes when the source keeps the
 * same cadence: segment N of every rung starts where the passthrough's does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/event.h>

#include "ladder_sup.h"
#include "err.h"
#include "ladder_worker.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "compat.h"

#define LADDER_SUP_TICK_MS 250
#define LADDER_SUP_TERM_GRACE_MS 1000
#define LADDER_SUP_HEALTHY_MS 30000   /* running this long resets the backoff */
#define LADDER_SUP_GOP_MAX (8u << 20) /* a longer GOP is not kept: restarts wait for a keyframe */
#define LADDER_SUP_GOP_ENTRY 9
#define LADDER_SUP_SLOW_TICKS 8 /* consecutive ticks behind before dropping a rung */
#define LADDER_SUP_ARGV_MAX 512
#define LADDER_SUP_ARGBUF (16u << 10)
#define LADDER_SUP_AAC_PRIMING 1024 /* samples: ffmpeg's aac encoder's initial padding */

enum ladder_sup_state {
    LADDER_SUP_OFF = 0,
    LADDER_SUP_WAIT,
    LADDER_SUP_RUNNING,
    LADDER_SUP_BACKOFF,
    LADDER_SUP_IDLE,
};

struct ladder_sup_reader {
    struct ladder_sup *s; /* borrowed: the owner */
    unsigned rung;        /* video: index in picks; audio: index in the ladder's audio */
    bool audio;
    bool dead;          /* failed: its output is ignored */
    struct pkg_fmp4 *f; /* owned; NULL once failed */
};

struct ladder_sup {
    unsigned magic;
#define LADDER_SUP_MAGIC 0x6c737570U
    struct event_base *base; /* borrowed */
    struct ladder_sup_conf conf;
    char name[64];
    char disclaimer[LADDER_SUP_DISCLAIMER_MAX];
    ladder_sup_out_fn *fn;
    void *arg;
    enum ladder_sup_state state;
    struct ladder_pick picks[LADDER_MAX_VIDEO];
    unsigned npicks;
    unsigned top; /* rungs dropped from the top (slow worker) */
    uint8_t *cfg; /* owned: the AVC sequence header tag body */
    size_t cfg_len;
    struct ladder_worker *w; /* owned while RUNNING */
    struct ladder_sup_reader readers[LADDER_MAX_VIDEO + LADDER_MAX_AUDIO];
    unsigned nreaders; /* video readers first, then naudio audio ones */
    uint8_t *acfg;     /* owned: the AAC sequence header tag body, NULL without audio */
    size_t acfg_len;
    uint32_t asr;         /* the source's sample rate (the encoded rungs keep it) */
    unsigned naudio;      /* audio outputs of the running worker */
    bool audio_fed;       /* the running worker has had its first audio tag */
    int64_t audio_offset; /* ticks: where its audio output time 0 is on the timeline */
    bool counted;         /* holds one of the process's worker slots */
    bool stop_requested;
    bool restart_now; /* the exit was ours (slow): no backoff */
    uint32_t backoff_ms;
    uint64_t started_ms;    /* monotonic */
    uint64_t last_adv_ms;   /* progress last advanced (monotonic) */
    int64_t last_out_us;    /* out_time_us last seen */
    uint64_t fed_first_dts; /* session dts of the first tag fed */
    uint64_t fed_last_dts;
    uint64_t fed_since_adv; /* tags fed since progress last advanced */
    bool progressed;        /* the worker reported output time */
    uint64_t term_sent_ms;  /* SIGTERM sent (hang), 0 none */
    unsigned slow_ticks;
    uint64_t keeping_up_ms;     /* since when the lag has been under one segment (0: not) */
    struct event *tick_ev;      /* owned: hang and lag checks */
    struct event *restart_ev;   /* owned: backoff timer */
    struct event *reap_ev;      /* owned: frees a worker outside its callback */
    struct ladder_worker *dead; /* owned: a worker whose exit callback ran */
    unsigned fails;             /* crashes in a row (a healthy run resets it) */
    bool run_overlay;           /* the running worker draws the disclaimer */
    uint64_t run_key_ms;        /* where its output begins on the timeline */
    /*
     * The session's tags since its latest video keyframe (the GOP in
     * progress), so a restarted worker starts at that keyframe at once and
     * catches up faster than real time instead of waiting for the next one.
     * Entries: type (1 byte), dts ms (4), length (4), the tag body.
     */
    uint8_t *gop;
    size_t gop_len, gop_cap;
    bool gop_valid; /* starts at a keyframe and is complete */
    uint32_t gop_dts;
    int32_t gop_cts;
    uint64_t gop_base_ms;
};

static struct {
    bool init;
    unsigned running;
    struct metric *starts, *restarts, *crashes, *hangs, *slow, *restored, *refused, *running_g,
        *segments, *asegments, *lag_ms, *speed, *input_dropped, *reader_errors;
} ladder_sup_g;

static void
ladder_sup_metrics_init(void)
{
    if (ladder_sup_g.init)
        return;
    ladder_sup_g.init = true;
    ladder_sup_g.starts =
        metrics_counter("origin.ladder.worker_starts", "Transcoder workers started.");
    ladder_sup_g.restarts = metrics_counter("origin.ladder.worker_restarts",
                                            "Workers started again after one died or was stopped.");
    ladder_sup_g.crashes = metrics_counter("origin.ladder.worker_crashes",
                                           "Workers that exited or died without being asked to.");
    ladder_sup_g.hangs =
        metrics_counter("origin.ladder.worker_hangs",
                        "Workers killed after two segment durations without progress.");
    ladder_sup_g.slow = metrics_counter(
        "origin.ladder.rungs_dropped", "Top rungs dropped because a worker fell behind real time.");
    ladder_sup_g.restored = metrics_counter("origin.ladder.rungs_restored",
                                            "Dropped rungs put back after their worker kept up.");
    ladder_sup_g.refused = metrics_counter(
        "origin.ladder.refused", "Streams left passthrough-only: ladder.max_workers were running.");
    ladder_sup_g.running_g = metrics_gauge("origin.ladder.workers", "Transcoder workers running.");
    ladder_sup_g.segments =
        metrics_counter("origin.ladder.segments", "Encoded video segments repackaged.");
    ladder_sup_g.asegments =
        metrics_counter("origin.ladder.audio_segments", "Encoded audio segments repackaged.");
    ladder_sup_g.lag_ms =
        metrics_gauge("origin.ladder.lag_ms",
                      "Largest lag of a worker's output behind its input, ms (last tick).");
    ladder_sup_g.speed = metrics_gauge("origin.ladder.speed_permille",
                                       "Encoding speed of the last reporting worker, x1000.");
    ladder_sup_g.input_dropped = metrics_counter(
        "origin.ladder.input_dropped", "Tags not fed to a worker whose input queue was full.");
    ladder_sup_g.reader_errors = metrics_counter("origin.ladder.reader_errors",
                                                 "Worker outputs that could not be repackaged.");
}

static uint64_t
ladder_sup_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the worker's outputs ---- */

static int
ladder_sup_reader_cb(void *arg, const struct pkg_out *out)
{
    struct ladder_sup_reader *r = arg;

    struct pkg_rep_info info;

    if (out->kind == PKG_OUT_SEGMENT) {
        metric_inc(r->audio ? ladder_sup_g.asegments : ladder_sup_g.segments);
        r->s->fn(r->s->arg, r->rung, out, NULL);
        return 0;
    }
    pkg_fmp4_info(r->f, &info);
    r->s->fn(r->s->arg, r->rung, out, &info);
    return 0;
}

static void
ladder_sup_reader_fail(struct ladder_sup *s, struct ladder_sup_reader *r, int rc)
{
    metric_inc(ladder_sup_g.reader_errors);
    LOG(LOG_WARN, "ladder", "reader_failed", "stream=%s rung=%s err=%s", s->name,
        r->audio ? s->conf.ladder->audio[r->rung].id : s->picks[r->rung].rung->id, err_name(rc));
    pkg_fmp4_free(&r->f);
    r->dead = true;
    /* A rung we cannot read is as good as a dead worker. */
    if (s->w != NULL)
        ladder_worker_kill(s->w, SIGKILL);
}

static void
ladder_sup_out_cb(void *arg, unsigned idx, const uint8_t *p, size_t len)
{
    struct ladder_sup *s;
    struct ladder_sup_reader *r;
    int rc;

    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    if (idx >= s->nreaders)
        return;
    r = &s->readers[idx];
    if (r->dead)
        return;
    if (r->f == NULL) {
        /* Audio output before any audio input: it cannot be placed on the timeline. */
        ladder_sup_reader_fail(s, r, ERR_PROTO);
        return;
    }
    rc = pkg_fmp4_feed(r->f, p, len);
    if (rc != 0)
        ladder_sup_reader_fail(s, r, rc);
}

static void
ladder_sup_progress_cb(void *arg, const struct ladder_progress *pr)
{
    struct ladder_sup *s;

    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    if (pr->speed > 0)
        metric_set(ladder_sup_g.speed, (int64_t)(pr->speed * 1000));
    if (pr->out_time_us >= 0 && pr->out_time_us > s->last_out_us) {
        s->last_out_us = pr->out_time_us;
        s->last_adv_ms = ladder_sup_now_ms();
        s->fed_since_adv = 0;
        s->progressed = true;
    }
}

static void
ladder_sup_release_slot(struct ladder_sup *s)
{
    if (!s->counted)
        return;
    s->counted = false;
    assert(ladder_sup_g.running > 0);
    ladder_sup_g.running--;
    metric_gauge_add(ladder_sup_g.running_g, -1);
}

static void
ladder_sup_readers_end(struct ladder_sup *s)
{
    unsigned i;

    for (i = 0; i < s->nreaders; i++) {
        if (s->readers[i].f != NULL) {
            int rc = pkg_fmp4_end(s->readers[i].f);

            if (rc != 0 && rc != ERR_PROTO)
                LOG(LOG_INFO, "ladder", "reader_end", "stream=%s err=%s", s->name, err_name(rc));
        }
        pkg_fmp4_free(&s->readers[i].f);
    }
    s->nreaders = 0;
}

static void
ladder_sup_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_sup *s;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    ladder_worker_free(&s->dead);
}

static void
ladder_sup_exited_cb(void *arg, int status)
{
    struct ladder_sup *s;
    struct timeval tv;
    bool crash;

    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    assert(s->dead == NULL);
    s->dead = s->w; /* freed from a zero timeout: we are inside its callback */
    s->w = NULL;
    event_active(s->reap_ev, EV_TIMEOUT, 0);
    ladder_sup_readers_end(s);
    ladder_sup_release_slot(s);
    crash = !s->stop_requested && s->term_sent_ms == 0 && !s->restart_now;
    if (crash)
        metric_inc(ladder_sup_g.crashes);
    LOG(crash ? LOG_WARN : LOG_INFO, "ladder", crash ? "worker_crashed" : "worker_stopped",
        "stream=%s status=%d signal=%d", s->name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    s->term_sent_ms = 0;
    if (s->stop_requested || s->state == LADDER_SUP_IDLE) {
        s->state = LADDER_SUP_IDLE;
        return;
    }
    s->state = LADDER_SUP_BACKOFF;
    if (s->restart_now) {
        /* Ours (slow, restore, disclaimer): again at once, from the GOP in progress. */
        s->restart_now = false;
        event_active(s->restart_ev, EV_TIMEOUT, 0);
        return;
    }
    if (ladder_sup_now_ms() - s->started_ms > LADDER_SUP_HEALTHY_MS) {
        s->backoff_ms = s->conf.backoff_min_ms;
        s->fails = 0;
    }
    /* The first crash after a healthy run restarts at once; then the backoff doubles. */
    if (s->fails++ == 0) {
        event_active(s->restart_ev, EV_TIMEOUT, 0);
        LOG(LOG_INFO, "ladder", "restart_scheduled", "stream=%s backoff_ms=0", s->name);
        return;
    }
    tv.tv_sec = s->backoff_ms / 1000;
    tv.tv_usec = (suseconds_t)(s->backoff_ms % 1000) * 1000;
    AZ(evtimer_add(s->restart_ev, &tv));
    LOG(LOG_INFO, "ladder", "restart_scheduled", "stream=%s backoff_ms=%" PRIu32, s->name,
        s->backoff_ms);
    s->backoff_ms =
        s->backoff_ms * 2 > s->conf.backoff_max_ms ? s->conf.backoff_max_ms : s->backoff_ms * 2;
}

static void ladder_sup_replay(struct ladder_sup *s);

static void
ladder_sup_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_sup *s;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    if (s->state != LADDER_SUP_BACKOFF)
        return;
    s->state = LADDER_SUP_WAIT;
    ladder_sup_replay(s);
}

/* ---- hang and lag ---- */

static void
ladder_sup_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ladder_sup *s;
    uint64_t now = ladder_sup_now_ms(), hang_ms, fed_ms, lag;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(s, arg, LADDER_SUP_MAGIC);
    if (s->state != LADDER_SUP_RUNNING || s->w == NULL)
        return;
    if (s->term_sent_ms != 0) {
        if (now - s->term_sent_ms >= LADDER_SUP_TERM_GRACE_MS) {
            LOG(LOG_WARN, "ladder", "worker_sigkill", "stream=%s pid=%d", s->name,
                (int)ladder_worker_pid(s->w));
            ladder_worker_kill(s->w, SIGKILL);
            ladder_worker_kill(s->w, SIGCONT);
        }
        return;
    }
    /* SPEC (issue 5): no progress for two segment durations while fed is a hang. */
    hang_ms = 2 * (uint64_t)s->conf.segment_ms;
    if (s->fed_since_adv > 0 && now - s->last_adv_ms > hang_ms) {
        metric_inc(ladder_sup_g.hangs);
        LOG(LOG_WARN, "ladder", "worker_hang", "stream=%s pid=%d silent_ms=%" PRIu64, s->name,
            (int)ladder_worker_pid(s->w), now - s->last_adv_ms);
        s->term_sent_ms = now;
        ladder_worker_kill(s->w, SIGTERM);
        return;
    }
    if (!s->progressed)
        return;
    fed_ms = s->fed_last_dts - s->fed_first_dts;
    lag =
        fed_ms > (uint64_t)(s->last_out_us / 1000) ? fed_ms - (uint64_t)(s->last_out_us / 1000) : 0;
    metric_set(ladder_sup_g.lag_ms, (int64_t)lag);
    /* Behind by more than two segments and a second: slower than real time. */
    if (lag > 2 * (uint64_t)s->conf.segment_ms + 1000)
        s->slow_ticks++;
    else
        s->slow_ticks = 0;
    if (lag <= s->conf.segment_ms) {
        if (s->keeping_up_ms == 0)
            s->keeping_up_ms = now;
    } else {
        s->keeping_up_ms = 0;
    }
    /* Kept up with a rung less for restore_ms: put the top rung back. */
    if (s->top > 0 && s->conf.restore_ms > 0 && s->keeping_up_ms != 0 &&
        now - s->keeping_up_ms >= s->conf.restore_ms) {
        s->top--;
        metric_inc(ladder_sup_g.restored);
        LOG(LOG_INFO, "ladder", "rung_restored", "stream=%s rung=%s", s->name,
            s->picks[s->top].rung->id);
        s->restart_now = true;
        ladder_worker_kill(s->w, SIGKILL);
        return;
    }
    if (s->slow_ticks >= LADDER_SUP_SLOW_TICKS && s->npicks - s->top > 1) {
        s->top++;
        s->slow_ticks = 0;
        metric_inc(ladder_sup_g.slow);
        LOG(LOG_WARN, "ladder", "rung_dropped", "stream=%s rung=%s lag_ms=%" PRIu64, s->name,
            s->picks[s->top - 1].rung->id, lag);
        s->restart_now = true;
        ladder_worker_kill(s->w, SIGKILL);
    }
}

/* ---- starting a worker ---- */

/* Only characters that need no escaping in a drawtext text='...' value. */
static void
ladder_sup_disclaimer_set(struct ladder_sup *s, const char *text)
{
    size_t i, n = 0;

    s->disclaimer[0] = '\0';
    if (text == NULL)
        return;
    for (i = 0; text[i] != '\0' && n + 1 < sizeof(s->disclaimer); i++) {
        char c = text[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr(" .,!?()-+/#@&_", c) != NULL)
            s->disclaimer[n++] = c;
    }
    s->disclaimer[n] = '\0';
}

struct ladder_sup_argv {
    const char *argv[LADDER_SUP_ARGV_MAX];
    unsigned n;
    char buf[LADDER_SUP_ARGBUF];
    size_t used;
    bool full;
};

static const char *ladder_sup_strf(struct ladder_sup_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
ladder_sup_strf(struct ladder_sup_argv *a, const char *fmt, ...)
{
    va_list ap;
    int w;
    char *p = a->buf + a->used;

    if (a->full || a->used >= sizeof(a->buf)) {
        a->full = true;
        return "";
    }
    va_start(ap, fmt);
    w = vsnprintf(p, sizeof(a->buf) - a->used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(a->buf) - a->used) {
        a->full = true;
        return "";
    }
    a->used += (size_t)w + 1;
    return p;
}

static void
ladder_sup_arg(struct ladder_sup_argv *a, const char *v)
{
    if (a->n + 1 >= LADDER_SUP_ARGV_MAX) {
        a->full = true;
        return;
    }
    a->argv[a->n++] = v;
    a->argv[a->n] = NULL;
}

/* The whole command line: one input, one output per rung from s->top on. */
static int
ladder_sup_build_argv(struct ladder_sup *s, struct ladder_sup_argv *a)
{
    unsigned i, j;

    memset(a, 0, sizeof(*a));
    static const char *const head[] = {"-hide_banner",
                                       "-nostdin",
                                       "-loglevel",
                                       "error",
                                       "-nostats",
                                       "-progress",
                                       "pipe:3",
                                       "-stats_period",
                                       "0.5",
                                       "-copyts",
                                       "-probesize",
                                       "65536",
                                       "-analyzeduration",
                                       "0",
                                       "-f",
                                       "flv",
                                       "-i",
                                       "pipe:0"};
    ladder_sup_arg(a, s->conf.ffmpeg);
    for (i = 0; i < ARRAY_SIZE(head); i++)
        ladder_sup_arg(a, head[i]);
    for (i = s->top; i < s->npicks; i++) {
        const char *vargv[64];
        char *vbuf = a->buf + a->used;
        int n;

        if (a->used >= sizeof(a->buf))
            return ERR_LIMIT;
        n = ladder_video_args(s->conf.ladder, &s->picks[i], s->conf.segment_ms, vbuf,
                              sizeof(a->buf) - a->used, vargv, ARRAY_SIZE(vargv));
        if (n < 0)
            return n;
        /* The argument strings live in a->buf: account for them. */
        for (j = 0; j < (unsigned)n; j++)
            a->used += strlen(vargv[j]) + 1;
        ladder_sup_arg(a, "-map");
        ladder_sup_arg(a, "0:v:0");
        for (j = 0; j < (unsigned)n; j++) {
            if (j > 0 && strcmp(vargv[j - 1], "-vf") == 0 && s->disclaimer[0] != '\0') {
                /* Drawn on the source, before scaling, so it reads the same on every rung. */
                ladder_sup_arg(a, ladder_sup_strf(a,
                                                  "drawtext=text='%s':x=(w-text_w)/2:y=h-2*text_h:"
                                                  "fontsize=h/24:fontcolor=white:box=1:"
                                                  "boxcolor=black@0.5,%s",
                                                  s->disclaimer, vargv[j]));
                continue;
            }
            ladder_sup_arg(a, vargv[j]);
        }
        /* B-frames off: output decode time 0 is the first frame's presentation (see top). */
        ladder_sup_arg(a, "-bf");
        ladder_sup_arg(a, "0");
        ladder_sup_arg(a, "-enc_time_base:v");
        ladder_sup_arg(a, "-1");
        ladder_sup_arg(a, "-fps_mode:v");
        ladder_sup_arg(a, "passthrough");
        if (s->conf.threads > 0) {
            ladder_sup_arg(a, "-threads");
            ladder_sup_arg(a, ladder_sup_strf(a, "%u", s->conf.threads));
        }
        ladder_sup_arg(a, "-an");
        ladder_sup_arg(a, "-f");
        ladder_sup_arg(a, "mp4");
        ladder_sup_arg(a, "-movflags");
        ladder_sup_arg(a, "frag_keyframe+empty_moov+default_base_moof");
        ladder_sup_arg(a, "-video_track_timescale");
        ladder_sup_arg(a, "90000");
        ladder_sup_arg(a, ladder_sup_strf(a, "pipe:%u", LADDER_WORKER_FIRST_OUT_FD + (i - s->top)));
    }
    /*
     * The audio rungs: AAC at the source's sample rate, one fragment per
     * segment duration (-frag_duration: an audio-only mp4 has no keyframes
     * to cut at), so every rung cuts after the same number of frames.
     */
    for (i = 0; i < s->naudio; i++) {
        const char *aargv[16];
        char *abuf = a->buf + a->used;
        int n;

        if (a->used >= sizeof(a->buf))
            return ERR_LIMIT;
        n = ladder_audio_args(&s->conf.ladder->audio[i], abuf, sizeof(a->buf) - a->used, aargv,
                              ARRAY_SIZE(aargv));
        if (n < 0)
            return n;
        for (j = 0; j < (unsigned)n; j++)
            a->used += strlen(aargv[j]) + 1;
        ladder_sup_arg(a, "-map");
        ladder_sup_arg(a, "0:a:0");
        for (j = 0; j < (unsigned)n; j++)
            ladder_sup_arg(a, aargv[j]);
        ladder_sup_arg(a, "-vn");
        ladder_sup_arg(a, "-f");
        ladder_sup_arg(a, "mp4");
        ladder_sup_arg(a, "-movflags");
        ladder_sup_arg(a, "frag_keyframe+empty_moov+default_base_moof");
        ladder_sup_arg(a, "-frag_duration");
        ladder_sup_arg(a, ladder_sup_strf(a, "%" PRIu64, (uint64_t)s->conf.segment_ms * 1000u));
        ladder_sup_arg(a, ladder_sup_strf(a, "pipe:%u",
                                          LADDER_WORKER_FIRST_OUT_FD + (s->npicks - s->top) + i));
    }
    return a->full ? ERR_LIMIT : 0;
}

static void
ladder_sup_put_tag(uint8_t *h, uint8_t type, size_t len, uint32_t ts)
{
    h[0] = type;
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    h[4] = (uint8_t)(ts >> 16);
    h[5] = (uint8_t)(ts >> 8);
    h[6] = (uint8_t)ts;
    h[7] = (uint8_t)(ts >> 24);
    h[8] = h[9] = h[10] = 0;
}

/* One FLV tag (8 audio, 9 video) into the worker's input (header, body, PreviousTagSize). */
static int
ladder_sup_feed(struct ladder_sup *s, uint8_t type, const uint8_t *body, size_t len, uint32_t ts)
{
    uint8_t h[11], t[4];
    uint32_t total = (uint32_t)len + 11;
    int rc;

    if (len >= (1u << 24))
        return ERR_LIMIT;
    ladder_sup_put_tag(h, type, len, ts);
    t[0] = (uint8_t)(total >> 24);
    t[1] = (uint8_t)(total >> 16);
    t[2] = (uint8_t)(total >> 8);
    t[3] = (uint8_t)total;
    if (ladder_worker_pending(s->w) + len + 15 > LADDER_WORKER_INPUT_MAX)
        return ERR_LIMIT;
    rc = ladder_worker_write(s->w, h, sizeof(h));
    if (rc == 0)
        rc = ladder_worker_write(s->w, body, len);
    if (rc == 0)
        rc = ladder_worker_write(s->w, t, sizeof(t));
    return rc;
}

static void
ladder_sup_start(struct ladder_sup *s, uint32_t dts_ms, int32_t cts_ms, uint64_t base_ms)
{
    uint8_t flv_head[13] = {'F', 'L', 'V', 1, 1, 0, 0, 0, 9, 0, 0, 0, 0};
    struct ladder_worker_params wp;
    struct ladder_worker_cbs cbs;
    struct ladder_sup_argv *a;
    uint64_t key_ms;
    unsigned i;
    int rc;

    if (ladder_sup_g.running >= s->conf.max_workers) {
        metric_inc(ladder_sup_g.refused);
        LOG(LOG_WARN, "ladder", "refused", "stream=%s reason=max_workers max_workers=%u", s->name,
            s->conf.max_workers);
        s->state = LADDER_SUP_OFF;
        return;
    }
    s->naudio = s->acfg != NULL ? s->conf.ladder->n_audio : 0;
    a = xcalloc(1, sizeof(*a));
    rc = ladder_sup_build_argv(s, a);
    if (rc != 0) {
        LOG(LOG_ERR, "ladder", "argv_failed", "stream=%s err=%s", s->name, err_name(rc));
        s->state = LADDER_SUP_OFF;
        xfree(a);
        return;
    }
    memset(&wp, 0, sizeof(wp));
    wp.argv = a->argv;
    wp.nout = s->npicks - s->top + s->naudio;
    wp.nice = s->conf.nice;
    wp.stream = s->name;
    memset(&cbs, 0, sizeof(cbs));
    cbs.out = ladder_sup_out_cb;
    cbs.progress = ladder_sup_progress_cb;
    cbs.exited = ladder_sup_exited_cb;
    cbs.arg = s;
    rc = ladder_worker_start(s->base, &wp, &cbs, &s->w);
    xfree(a);
    if (rc != 0) {
        LOG(LOG_ERR, "ladder", "spawn_failed", "stream=%s err=%s", s->name, err_name(rc));
        s->state = LADDER_SUP_OFF;
        return;
    }
    metric_inc(ladder_sup_g.starts);
    if (s->started_ms != 0)
        metric_inc(ladder_sup_g.restarts);
    s->counted = true;
    ladder_sup_g.running++;
    metric_gauge_add(ladder_sup_g.running_g, 1);
    /* Output time 0 is the keyframe's presentation time on the stream's timeline. */
    key_ms = base_ms + dts_ms + (uint64_t)(cts_ms > 0 ? cts_ms : 0);
    s->run_overlay = s->disclaimer[0] != '\0';
    s->run_key_ms = key_ms;
    memset(s->readers, 0, sizeof(s->readers));
    for (i = 0; i < s->naudio; i++) {
        /* Made at the first audio tag fed, which says where their time 0 is. */
        struct ladder_sup_reader *r = &s->readers[s->npicks - s->top + i];

        r->s = s;
        r->rung = i;
        r->audio = true;
    }
    s->audio_fed = false;
    for (i = 0; i < s->npicks - s->top; i++) {
        struct pkg_fmp4_params fp;
        struct ladder_sup_reader *r = &s->readers[i];

        memset(&fp, 0, sizeof(fp));
        fp.track = PKG_VIDEO;
        fp.offset = (int64_t)key_ms * (PKG_VIDEO_TIMESCALE / 1000);
        fp.stream = s->name;
        r->s = s;
        r->rung = s->top + i;
        rc = pkg_fmp4_new(&r->f, &fp, ladder_sup_reader_cb, r);
        if (rc != 0)
            r->f = NULL;
    }
    s->nreaders = wp.nout;
    s->state = LADDER_SUP_RUNNING;
    s->started_ms = ladder_sup_now_ms();
    s->last_adv_ms = s->started_ms;
    s->last_out_us = -1;
    s->progressed = false;
    s->fed_first_dts = dts_ms;
    s->fed_last_dts = dts_ms;
    s->fed_since_adv = 0;
    s->slow_ticks = 0;
    s->keeping_up_ms = 0;
    s->term_sent_ms = 0;
    s->stop_requested = false;
    if (s->naudio > 0)
        flv_head[4] = 5; /* SPEC: FLV 1.0 E.2 -- TypeFlagsAudio | TypeFlagsVideo */
    /* Both sequence headers first, so the demuxer has both streams at once. */
    if (ladder_worker_write(s->w, flv_head, sizeof(flv_head)) != 0 ||
        ladder_sup_feed(s, 9, s->cfg, s->cfg_len, dts_ms) != 0 ||
        (s->naudio > 0 && ladder_sup_feed(s, 8, s->acfg, s->acfg_len, dts_ms) != 0))
        ladder_worker_kill(s->w, SIGKILL);
    LOG(LOG_INFO, "ladder", "started", "stream=%s rungs=%u audio_rungs=%u top=%s key_ms=%" PRIu64,
        s->name, s->npicks - s->top, s->naudio, s->picks[s->top].rung->id, key_ms);
}

/* ---- the API ---- */

void
ladder_sup_new(struct event_base *base, const struct ladder_sup_conf *conf, const char *name,
               ladder_sup_out_fn *fn, void *arg, struct ladder_sup **out)
{
    static const struct timeval tick = {0, LADDER_SUP_TICK_MS * 1000};
    struct ladder_sup *s = xcalloc(1, sizeof(*s));

    ladder_sup_metrics_init();
    s->magic = LADDER_SUP_MAGIC;
    s->base = base;
    s->conf = *conf;
    s->conf.disclaimer = NULL;
    ladder_sup_disclaimer_set(s, conf->disclaimer);
    (void)snprintf(s->name, sizeof(s->name), "%s", name);
    s->fn = fn;
    s->arg = arg;
    s->backoff_ms = conf->backoff_min_ms;
    s->tick_ev = event_new(base, -1, EV_PERSIST, ladder_sup_tick_cb, s);
    AN(s->tick_ev);
    AZ(event_add(s->tick_ev, &tick));
    s->restart_ev = evtimer_new(base, ladder_sup_restart_cb, s);
    AN(s->restart_ev);
    s->reap_ev = evtimer_new(base, ladder_sup_reap_cb, s);
    AN(s->reap_ev);
    *out = s;
}

void
ladder_sup_free(struct ladder_sup **ps)
{
    struct ladder_sup *s = *ps;
    unsigned i;

    if (s == NULL)
        return;
    CHECK_OBJ(s, LADDER_SUP_MAGIC);
    ladder_worker_free(&s->w);
    ladder_worker_free(&s->dead);
    for (i = 0; i < s->nreaders; i++)
        pkg_fmp4_free(&s->readers[i].f);
    ladder_sup_release_slot(s);
    event_free(s->tick_ev);
    event_free(s->restart_ev);
    event_free(s->reap_ev);
    xfree(s->cfg);
    xfree(s->acfg);
    xfree(s->gop);
    FREE_OBJ(s);
    *ps = NULL;
}

unsigned
ladder_sup_video_config(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t width,
                        uint32_t height)
{
    int n;

    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    if (s->cfg != NULL) {
        if (s->cfg_len == len && memcmp(s->cfg, tag, len) == 0)
            return s->npicks;
        /* The caller makes a new supervisor for a new configuration. */
        return s->npicks;
    }
    s->cfg = xmalloc(len);
    memcpy(s->cfg, tag, len);
    s->cfg_len = len;
    n = ladder_select(s->conf.ladder, width, height, s->picks, LADDER_MAX_VIDEO);
    if (n <= 0) {
        LOG(LOG_WARN, "ladder", "no_rungs", "stream=%s width=%" PRIu32 " height=%" PRIu32, s->name,
            width, height);
        s->state = LADDER_SUP_OFF;
        return 0;
    }
    s->npicks = (unsigned)n;
    s->state = LADDER_SUP_WAIT;
    LOG(LOG_INFO, "ladder", "fitted",
        "stream=%s width=%" PRIu32 " height=%" PRIu32 " rungs=%u top=%s", s->name, width, height,
        s->npicks, s->picks[0].rung->id);
    return s->npicks;
}

/* A video tag into the worker (starting one at a keyframe when one is wanted). */
static void
ladder_sup_video_in(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                    int32_t cts_ms, bool key, uint64_t base_ms)
{
    if (s->state == LADDER_SUP_IDLE)
        s->state = LADDER_SUP_WAIT; /* a new session */
    if (s->state == LADDER_SUP_WAIT && key && s->w == NULL) {
        /* A dead worker waiting for its deferred free: not in its callback here. */
        ladder_worker_free(&s->dead);
        ladder_sup_start(s, dts_ms, cts_ms, base_ms);
    }
    if (s->state != LADDER_SUP_RUNNING || s->w == NULL || s->stop_requested)
        return;
    if (ladder_sup_feed(s, 9, tag, len, dts_ms) != 0) {
        metric_inc(ladder_sup_g.input_dropped);
        return;
    }
    s->fed_last_dts = dts_ms;
    s->fed_since_adv++;
}

static void
ladder_sup_audio_in(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                    uint64_t base_ms)
{
    unsigned i, first = s->npicks - s->top;
    int64_t off;

    if (s->state != LADDER_SUP_RUNNING || s->w == NULL || s->stop_requested || s->naudio == 0)
        return;
    if (!s->audio_fed) {
        if (dts_ms < s->fed_first_dts)
            return; /* before the keyframe the worker started at */
        /*
         * The encoder's first packet is its priming frame, one frame before
         * the first input sample, and the mp4 muxer puts that packet at 0.
         */
        off = (int64_t)((base_ms + dts_ms) * s->asr / 1000u) - LADDER_SUP_AAC_PRIMING;
        s->audio_offset = off > 0 ? off : 0;
        for (i = 0; i < s->naudio; i++) {
            struct pkg_fmp4_params fp;
            struct ladder_sup_reader *r = &s->readers[first + i];

            memset(&fp, 0, sizeof(fp));
            fp.track = PKG_AUDIO;
            fp.offset = s->audio_offset;
            fp.stream = s->name;
            if (pkg_fmp4_new(&r->f, &fp, ladder_sup_reader_cb, r) != 0) {
                r->f = NULL;
                r->dead = true;
            }
        }
        s->audio_fed = true;
    }
    if (ladder_sup_feed(s, 8, tag, len, dts_ms) != 0)
        metric_inc(ladder_sup_g.input_dropped);
}

/* Appends a tag to the GOP in progress (a keyframe begins a new one). */
static void
ladder_sup_gop_add(struct ladder_sup *s, uint8_t type, const uint8_t *tag, size_t len,
                   uint32_t dts_ms)
{
    size_t need = LADDER_SUP_GOP_ENTRY + len;
    uint8_t *p;

    if (!s->gop_valid)
        return;
    if (s->gop_len + need > LADDER_SUP_GOP_MAX) {
        s->gop_valid = false;
        s->gop_len = 0;
        return;
    }
    if (s->gop_len + need > s->gop_cap) {
        size_t cap = s->gop_cap != 0 ? s->gop_cap : (64u << 10);

        while (cap < s->gop_len + need)
            cap *= 2;
        s->gop = xrealloc(s->gop, cap);
        s->gop_cap = cap;
    }
    p = s->gop + s->gop_len;
    p[0] = type;
    memcpy(p + 1, &dts_ms, 4);
    memcpy(p + 5, &(uint32_t){(uint32_t)len}, 4);
    memcpy(p + LADDER_SUP_GOP_ENTRY, tag, len);
    s->gop_len += need;
}

/*
 * A worker wanted now: started at the GOP in progress, fed what the
 * session sent since its keyframe at once; without one (a GOP too long,
 * no keyframe yet), the next keyframe starts it.
 */
static void
ladder_sup_replay(struct ladder_sup *s)
{
    size_t o = 0;

    if (!s->gop_valid || s->gop_len == 0 || s->w != NULL)
        return;
    ladder_worker_free(&s->dead);
    while (o + LADDER_SUP_GOP_ENTRY <= s->gop_len) {
        const uint8_t *p = s->gop + o;
        uint32_t dts, len;

        memcpy(&dts, p + 1, 4);
        memcpy(&len, p + 5, 4);
        if (p[0] == 9)
            ladder_sup_video_in(s, p + LADDER_SUP_GOP_ENTRY, len, dts, o == 0 ? s->gop_cts : 0,
                                o == 0, s->gop_base_ms);
        else
            ladder_sup_audio_in(s, p + LADDER_SUP_GOP_ENTRY, len, dts, s->gop_base_ms);
        o += LADDER_SUP_GOP_ENTRY + len;
    }
    LOG(LOG_INFO, "ladder", "replayed", "stream=%s key_dts=%" PRIu32 " bytes=%zu", s->name,
        s->gop_dts, s->gop_len);
}

void
ladder_sup_video_tag(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                     int32_t cts_ms, bool key, uint64_t base_ms)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    if (key) {
        s->gop_valid = true;
        s->gop_len = 0;
        s->gop_dts = dts_ms;
        s->gop_cts = cts_ms;
        s->gop_base_ms = base_ms;
    }
    ladder_sup_gop_add(s, 9, tag, len, dts_ms);
    ladder_sup_video_in(s, tag, len, dts_ms, cts_ms, key, base_ms);
}

unsigned
ladder_sup_audio_config(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t sample_rate)
{
    bool running;

    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    if (s->conf.ladder->n_audio == 0 || sample_rate == 0)
        return 0;
    if (s->acfg != NULL && s->acfg_len == len && memcmp(s->acfg, tag, len) == 0)
        return s->conf.ladder->n_audio;
    xfree(s->acfg);
    s->acfg = xmalloc(len);
    memcpy(s->acfg, tag, len);
    s->acfg_len = len;
    s->asr = sample_rate;
    running = s->state == LADDER_SUP_RUNNING && s->w != NULL && !s->stop_requested;
    LOG(LOG_INFO, "ladder", "audio_config", "stream=%s sample_rate=%" PRIu32 " restart=%d", s->name,
        sample_rate, running);
    /* The audio outputs are in the worker's command line: start it again with them. */
    if (running) {
        s->restart_now = true;
        ladder_worker_kill(s->w, SIGKILL);
    }
    return s->conf.ladder->n_audio;
}

void
ladder_sup_audio_tag(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                     uint64_t base_ms)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    ladder_sup_gop_add(s, 8, tag, len, dts_ms);
    ladder_sup_audio_in(s, tag, len, dts_ms, base_ms);
}

bool
ladder_sup_overlay(const struct ladder_sup *s, uint64_t *key_ms)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    if (s->state != LADDER_SUP_RUNNING || s->w == NULL || !s->run_overlay)
        return false;
    *key_ms = s->run_key_ms;
    return true;
}

unsigned
ladder_sup_audio_rungs(const struct ladder_sup *s)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    return s->acfg != NULL ? s->conf.ladder->n_audio : 0;
}

bool
ladder_sup_audio_live(const struct ladder_sup *s, unsigned rung)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    return s->state == LADDER_SUP_RUNNING && s->w != NULL && s->term_sent_ms == 0 &&
           rung < s->naudio && s->readers[s->npicks - s->top + rung].f != NULL;
}

void
ladder_sup_session_end(struct ladder_sup *s)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    evtimer_del(s->restart_ev);
    s->gop_valid = false;
    s->gop_len = 0;
    if (s->w != NULL) {
        s->stop_requested = true;
        ladder_worker_close_input(s->w);
    }
    if (s->state != LADDER_SUP_OFF)
        s->state = s->w != NULL ? LADDER_SUP_RUNNING : LADDER_SUP_IDLE;
}

void
ladder_sup_set_disclaimer(struct ladder_sup *s, const char *text)
{
    char old[LADDER_SUP_DISCLAIMER_MAX];

    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    memcpy(old, s->disclaimer, sizeof(old));
    ladder_sup_disclaimer_set(s, text);
    if (strcmp(old, s->disclaimer) == 0)
        return;
    LOG(LOG_INFO, "ladder", "disclaimer", "stream=%s set=%d", s->name, s->disclaimer[0] != '\0');
    /* The overlay is in the worker's command line: start it again with the new one. */
    if (s->state == LADDER_SUP_RUNNING && s->w != NULL && !s->stop_requested) {
        s->restart_now = true;
        ladder_worker_kill(s->w, SIGKILL);
    }
}

unsigned
ladder_sup_rungs(const struct ladder_sup *s, const struct ladder_pick **picks)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    if (picks != NULL)
        *picks = s->picks;
    return s->npicks;
}

bool
ladder_sup_rung_live(const struct ladder_sup *s, unsigned rung)
{
    CHECK_OBJ_NOTNULL(s, LADDER_SUP_MAGIC);
    return s->state == LADDER_SUP_RUNNING && s->w != NULL && s->term_sent_ms == 0 &&
           rung >= s->top && rung < s->npicks && s->readers[rung - s->top].f != NULL;
}
