/*
 * live.c -- per-stream live state: journal first, then the packager, then
 * segment files, the manifest model and the manifests (live.h).
 *
 * A struct live_stream exists from a stream's first publish (or recovery)
 * to the process's end. A run holds a packager and two models of the
 * same presentation: `lm`, the live one, trimmed to the DVR window, and
 * `rm`, the whole run (with live.keep_recording), which becomes the
 * static MPD when the run ends. Both grow by the same segments. Segment
 * files are written under live/{stream}/ with a hidden temporary and a
 * rename; the manifests are rendered once every configured track has a
 * segment, then after every segment, into memory (live_mem.h: a new file
 * per manifest per cut cost more CPU than the rest of the ingest); the
 * static ones of an ended run are written as files.
 *
 * Times: the packager is told each session's base (pkg_set_offset), so
 * every segment's t is on the stream's timeline, in the track's timescale
 * (90 kHz video, the sample rate for audio); a period starting at S ms has
 * its sets' pto at S in their timescales, so presentation time = media
 * time, and a reconnect leaves a plain gap in the same timeline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "live.h"
#include "err.h"
#include "ladder_sup.h"
#include "live_mem.h"
#include "fault.h"
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "media/model.h"
#include "origin_http.h"
#include "pkg.h"
#include "proto/flv.h"
#include "streams.h"
#include "compat.h"

#define LIVE_PATH_MAX 4096
#define LIVE_REP_MAX 32
#define LIVE_PEND_MAX 32 /* passthrough video segments waiting for the encoded rungs */
#define LIVE_RECENT 8    /* encoded segment times remembered per rung */
#define LIVE_BACKFILL_MAX 512
#define LIVE_APEND 8       /* encoded audio segments waiting per rung */
#define LIVE_ALADDER_SET 3 /* the encoded audio rungs' adaptation set */
#define LIVE_VIDEO_SET 1
#define LIVE_AUDIO_SET 2
#define LIVE_VIDEO_BW 1000000 /* until segments say better */
#define LIVE_AUDIO_BW 128000
#define LIVE_SWEEP_MS 60000
#define LIVE_RECOVER_MAX 4096 /* journal files of one run */

enum live_state {
    LIVE_S_IDLE = 0,   /* no run: never published here, or the last run ended */
    LIVE_S_PUBLISHING, /* a publisher is attached */
    LIVE_S_GRACE,      /* the publisher left; the run waits for it */
};

/* A segment file that may have to be deleted when it leaves the DVR window. */
struct live_file {
    char rep[LIVE_REP_MAX];
    uint64_t t;
    uint64_t end_ms;
};

/* One encoded rung of the running ladder. */
struct live_rung {
    char rep[LIVE_REP_MAX]; /* "v{gen}-{rung id}" */
    char codecs[24];
    uint32_t width, height, kbps;
    bool has_init;
    uint8_t *last; /* owned: the latest real media segment (the filler's source) */
    size_t last_len;
    int64_t recent[LIVE_RECENT]; /* t of the latest real segments, a ring */
    size_t last_t_len[LIVE_RECENT];
    unsigned nrecent;
};

/* An encoded audio segment waiting for the other audio rungs (owned bytes). */
struct live_aseg {
    int64_t t, d;
    uint8_t *data;
    size_t len;
};

/* One encoded audio rung: its own adaptation set and timeline (docs/ladder.md). */
struct live_arung {
    char rep[LIVE_REP_MAX]; /* "a{video gen}-{rung id}" */
    char codecs[24];
    uint32_t kbps, sample_rate, channels;
    bool has_init;
    uint8_t *last; /* owned: the latest committed real segment (the filler's source) */
    size_t last_len;
    struct live_aseg pend[LIVE_APEND];
    unsigned npend;
};

/* A passthrough video segment written but not yet in the model: it waits for the rungs. */
struct live_pend {
    int64_t t, d;
    size_t len;
    uint32_t gen, timescale, samples;
    uint64_t due_ms; /* monotonic: commit by then, with fillers for the missing rungs */
};

struct live {
    unsigned magic;
#define LIVE_MAGIC 0x6c697665U
    struct event_base *base;       /* borrowed */
    struct live_conf conf;         /* data_dir owned (copied) */
    struct streams *streams;       /* borrowed */
    struct journal_syncer *syncer; /* owned */
    struct live_stream *head;
    unsigned count;
    struct event *sweep_ev; /* owned: journal retention */
    char *jroot;            /* owned: data.dir/journal */
    struct metric *segments, *bytes, *publishing, *pkg_errors, *unsupported, *recovered,
        *runs_ended, *write_errors, *journal_lost, *fillers, *afillers, *late, *backfilled,
        *init_changed;
};

struct live_stream {
    unsigned magic;
#define LIVE_STREAM_MAGIC 0x6c737472U
    struct live *l; /* borrowed */
    struct live_stream *next;
    char name[STREAMS_NAME_MAX + 1];
    char *jdir; /* owned: data.dir/journal/{name} */
    char *ldir; /* owned: data.dir/live/{name} */
    uint64_t ast_ms;
    enum live_state state;
    bool replaying;
    bool journal_lost;               /* appends failed: the session goes on unjournaled */
    struct journal *j;               /* owned while publishing */
    struct pkg *pkg;                 /* owned during a run */
    struct model *lm;                /* owned during a run: live, trimmed */
    struct model *rm;                /* owned during a run with keep_recording: whole run */
    uint64_t base_ms;                /* the session's start on the timeline */
    uint64_t end_ms;                 /* end of the latest segment on the timeline */
    uint64_t prev_end_ms;            /* end of earlier runs */
    bool prev_end_known;             /* prev_end_ms is set (else read model.json first) */
    uint32_t period_gen[PKG_TRACKS]; /* configuration generation of the current period */
    bool period_has[PKG_TRACKS];     /* the current period has that track's set */
    bool configured[PKG_TRACKS];     /* the packager has the track */
    uint32_t nperiods_made;
    bool manifests_on;                 /* every configured track has a segment */
    char *master;                      /* owned: master.m3u8 as last written, NULL before */
    uint64_t track_end_ms[PKG_TRACKS]; /* end of each track's latest segment */
    struct event *flush_ev;            /* owned: writes manifests a lagging track did not */
    struct event *grace_ev;            /* owned */
    struct live_file *files; /* owned: FIFO of segment files, when not keeping the recording */
    size_t nfiles, files_head, files_cap;
    struct ladder_sup *sup; /* owned during a run with a ladder */
    uint32_t sup_gen;       /* the video generation it encodes */
    struct live_rung rungs[LADDER_MAX_VIDEO];
    unsigned nrungs;
    struct live_pend pend[LIVE_PEND_MAX];
    unsigned npend;
    int64_t committed_t; /* t of the last video segment in the model; -1 none */
    bool v0_hidden;      /* the current period does not offer the passthrough (disclaimer) */
    struct live_arung arungs[LADDER_MAX_AUDIO];
    unsigned narungs;
    uint8_t *acfg; /* owned: the session's AAC sequence header tag body */
    size_t acfg_len;
    int64_t aend;        /* end of the encoded audio set's timeline; -1 before its first segment */
    uint32_t atimescale; /* its timescale (the source's sample rate) */
    struct event *commit_ev; /* owned: a pending segment's deadline */
};

static uint64_t
live_now_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_REALTIME, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *
live_path_dup(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *p = xmalloc(n);

    (void)snprintf(p, n, "%s/%s%s%s", a, b, c[0] ? "/" : "", c);
    return p;
}

static void
live_rep_id(enum pkg_track track, uint32_t gen, char *out, size_t outsz)
{
    (void)snprintf(out, outsz, "%c%" PRIu32, track == PKG_VIDEO ? 'v' : 'a', gen);
}

/* ---- files ---- */

/*
 * Buffered journal tags reach the file (live_conf.journal_buffer): called
 * by the ingest after each batch it read, and before any segment is
 * written, so nothing on disk is ever derived from a tag the journal lacks.
 */
static void
live_journal_flush(struct live_stream *ls)
{
    if (ls->j == NULL || ls->journal_lost || journal_pending(ls->j) == 0)
        return;
    if (journal_flush(ls->j) != 0) {
        ls->journal_lost = true;
        metric_inc(ls->l->journal_lost);
    }
}

/*
 * Puts tmp in place of path. A file being replaced is swapped out with
 * RENAME_EXCHANGE and then unlinked: readers see the old or the new file,
 * never none, and ext4 does not force the new file's data to disk as it
 * does on a rename over an existing file (auto_da_alloc) -- durability is
 * the journal's job, not the manifests'.
 */
static int
live_rename(const char *tmp, const char *path, bool replace)
{
    if (replace) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
            if (unlink(tmp) != 0)
                XXX_HANDLE(errno); /* the next write truncates it */
            return 0;
        }
        if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
            return -errno;
    }
    return rename(tmp, path) == 0 ? 0 : -errno;
}

/*
 * Writes dir/name through dir/.name.tmp and a rename (replace: the file
 * usually exists already). 0 or -errno (logged, counted).
 */
static int
live_write_file(struct live_stream *ls, const char *dir, const char *name, const void *data,
                size_t len, bool replace)
{
    char path[LIVE_PATH_MAX], tmp[LIVE_PATH_MAX];
    const uint8_t *p = data;
    size_t left = len;
    int fd, rc = 0;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp))
        return ERR_LIMIT;
    fd = FAULT("live.write") ? (errno = ENOSPC, -1)
                             : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    while (left > 0) {
        ssize_t w = write(fd, p, left);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    (void)close(fd);
    if (rc == 0)
        rc = live_rename(tmp, path, replace);
    if (rc != 0)
        (void)unlink(tmp);
out:
    if (rc != 0) {
        metric_inc(ls->l->write_errors);
        LOG_RL(LOG_ERR, "live", "write_failed", 5, "stream=%s file=%s err=%s", ls->name, path,
               err_name(rc));
    }
    return rc;
}

/*
 * Publishes a rendered manifest dir/name: into memory while the run is
 * live (live_mem.h), as a file when disk (an ended run's static ones).
 */
static int
live_write_buf(struct live_stream *ls, const char *dir, const char *name, struct buf *b, int rc,
               bool disk)
{
    char path[LIVE_PATH_MAX] = "";

    if (rc == 0)
        rc = buf_status(b);
    if (rc == 0 && !disk && snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        rc = ERR_LIMIT;
    if (rc == 0 && disk)
        rc = live_write_file(ls, dir, name, b->p, b->len, true);
    else if (rc == 0)
        live_mem_put(path, b->p, b->len);
    else
        LOG_RL(LOG_ERR, "live", "manifest_failed", 5, "stream=%s file=%s err=%s", ls->name, name,
               err_name(rc));
    buf_reset(b);
    return rc;
}

/* Forgets the stream's manifests in memory (its files, if any, are served instead). */
static void
live_forget_mem(struct live_stream *ls)
{
    char prefix[LIVE_PATH_MAX];

    if (snprintf(prefix, sizeof(prefix), "%s/", ls->ldir) < (int)sizeof(prefix))
        live_mem_drop_under(prefix);
}

/*
 * The static presentation of an ended run: periods moved so the first one
 * starts at 0 (their ptos keep the media times, so names do not change).
 */
static void
live_model_make_static(struct model *m)
{
    uint64_t first;
    uint32_t i;

    m->type = MODEL_STATIC;
    m->ended = true;
    m->publish_ms = live_now_ms();
    if (m->nperiods == 0)
        return;
    first = m->periods[0]->start_ms;
    for (i = 0; i < m->nperiods; i++)
        m->periods[i]->start_ms -= first;
}

/*
 * Renders every manifest of m: media playlists, master, MPD, model.json;
 * into memory while live, as files when disk (live_write_buf).
 */
static void
live_write_manifests(struct live_stream *ls, struct model *m, bool disk)
{
    char dir[LIVE_PATH_MAX];
    struct buf b;
    uint32_t i, j, k;

    if (m->nperiods == 0)
        return;
    buf_init(&b, MODEL_OUT_MAX);
    m->publish_ms = live_now_ms();
    DASSERT(model_validate(m, NULL, 0) == 0);
    for (i = 0; i < m->nperiods; i++) {
        const struct model_period *p = m->periods[i];

        for (j = 0; j < p->nsets; j++)
            for (k = 0; k < p->sets[j]->nreps; k++) {
                const char *id = p->sets[j]->reps[k]->id;

                if (i + 1 < m->nperiods && model_rep_find(m->periods[m->nperiods - 1], id, NULL))
                    continue; /* written with the last period that has it */
                if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, id) >= (int)sizeof(dir))
                    continue;
                (void)live_write_buf(ls, dir, "media.m3u8", &b, model_hls_media_write(m, id, &b),
                                     disk);
            }
    }
    /* The multivariant playlist changes rarely (a new rendition, a new peak rate). */
    if (model_hls_master_write(m, NULL, &b) == 0 && buf_status(&b) == 0 &&
        (disk || ls->master == NULL || strcmp(ls->master, b.p) != 0)) {
        char *text = xstrdup(b.p);

        if (live_write_buf(ls, ls->ldir, "master.m3u8", &b, 0, disk) == 0) {
            xfree(ls->master);
            ls->master = text;
        } else {
            xfree(text);
        }
    }
    buf_reset(&b);
    (void)live_write_buf(ls, ls->ldir, "manifest.mpd", &b, model_mpd_write(m, NULL, &b), disk);
    (void)live_write_buf(ls, ls->ldir, "model.json", &b, model_json_write(m, &b), disk);
    buf_free(&b);
}

/* ---- the model ---- */

static struct model *
live_model_new(struct live_stream *ls)
{
    struct model *m = model_new();
    const struct live_conf *c = &ls->l->conf;

    AZ(model_set_name(m, ls->name));
    m->type = MODEL_DYNAMIC;
    m->ast_ms = ls->ast_ms;
    m->min_update_ms = c->segment_ms;
    m->tsbd_ms = c->dvr_window_ms;
    m->delay_ms = c->delay_ms;
    m->min_buffer_ms = c->segment_ms;
    AZ(model_set_utc(m, MODEL_UTC_HTTP_ISO, "/time"));
    return m;
}

static int
live_model_period(struct live_stream *ls, struct model *m, uint64_t start_ms, const char *id)
{
    (void)ls;
    if (m->nperiods > 0 && m->periods[m->nperiods - 1]->start_ms > start_ms)
        start_ms = m->periods[m->nperiods - 1]->start_ms;
    return model_period_add(m, id, start_ms, NULL);
}

/* Opens a new period at start_ms in both models (a run's start, a new configuration). */
static int
live_new_period(struct live_stream *ls, uint64_t start_ms)
{
    char id[32];
    int rc;

    (void)snprintf(id, sizeof(id), "p%" PRIu64, start_ms);
    if (model_period_find(ls->lm, id) != NULL) /* same start: a second one right after */
        (void)snprintf(id, sizeof(id), "p%" PRIu64 "-%" PRIu32, start_ms, ls->nperiods_made);
    rc = live_model_period(ls, ls->lm, start_ms, id);
    if (rc == 0 && ls->rm != NULL)
        rc = live_model_period(ls, ls->rm, start_ms, id);
    if (rc != 0)
        return rc;
    ls->nperiods_made++;
    memset(ls->period_has, 0, sizeof(ls->period_has));
    ls->manifests_on = false;
    return 0;
}

/* The set of track in m's last period, made (with its representation) when missing. */
static int
live_model_set(struct live_stream *ls, struct model *m, enum pkg_track track,
               const struct pkg_out *out, struct model_aset **ps)
{
    struct model_period *p = m->periods[m->nperiods - 1];
    uint32_t sid = track == PKG_VIDEO ? LIVE_VIDEO_SET : LIVE_AUDIO_SET;
    struct model_aset *s = model_aset_find(p, sid);
    struct pkg_rep_info info;
    struct model_rep *r;
    char rep[LIVE_REP_MAX];
    uint64_t next = 0;
    int rc;

    if (s != NULL) {
        *ps = s;
        return 0;
    }
    /* Numbers carry on from the same set in the previous period. */
    if (m->nperiods > 1) {
        struct model_aset *prev = model_aset_find(m->periods[m->nperiods - 2], sid);

        if (prev != NULL)
            next = prev->tl.next_number;
    }
    pkg_rep_info(ls->pkg, track, &info);
    rc = model_aset_add(p, sid, track == PKG_VIDEO ? MODEL_VIDEO : MODEL_AUDIO,
                        track == PKG_VIDEO ? "video/mp4" : "audio/mp4",
                        track == PKG_VIDEO ? "avc" : "aac", out->timescale, &s);
    if (rc != 0)
        return rc;
    s->tl.pto = model_ts_convert(p->start_ms, 1000, out->timescale);
    if (s->tl.pto > (uint64_t)out->t)
        s->tl.pto = (uint64_t)out->t;
    s->tl.next_number = next;
    live_rep_id(track, out->gen, rep, sizeof(rep));
    /* A disclaimer is set: the encoded rungs, which draw it, stand in for the passthrough. */
    if (track == PKG_VIDEO && ls->v0_hidden) {
        *ps = s;
        return 0;
    }
    rc = model_rep_add(s, rep, info.codecs, track == PKG_VIDEO ? LIVE_VIDEO_BW : LIVE_AUDIO_BW, &r);
    if (rc != 0)
        return rc;
    if (track == PKG_VIDEO) {
        r->width = info.width;
        r->height = info.height;
        r->fr_num = info.fps_num;
        r->fr_den = info.fps_num != 0 ? info.fps_den : 0;
    } else {
        r->sample_rate = info.sample_rate;
        r->channels = info.channels;
    }
    *ps = s;
    return 0;
}

static int
live_model_add(struct live_stream *ls, struct model *m, const struct pkg_out *out)
{
    struct model_aset *s;
    uint64_t bps;
    int rc;

    rc = live_model_set(ls, m, out->track, out, &s);
    if (rc != 0)
        return rc;
    rc = model_segment_add(m, s, (uint64_t)out->t, (uint64_t)out->d);
    if (rc != 0)
        return rc;
    /* Peak bandwidth: what a segment needs to arrive in its own duration. */
    bps = out->d > 0 ? (uint64_t)out->len * 8u * out->timescale / (uint64_t)out->d : 0;
    if (bps > UINT32_MAX)
        bps = UINT32_MAX;
    if (s->nreps > 0 && bps > s->reps[0]->bandwidth && !(out->track == PKG_VIDEO && ls->v0_hidden))
        s->reps[0]->bandwidth = (uint32_t)bps;
    return 0;
}

/* ---- expiring files (without keep_recording) ---- */

static void
live_files_push(struct live_stream *ls, const char *rep, uint64_t t, uint64_t end_ms)
{
    struct live_file *f;

    if (ls->nfiles == ls->files_cap) {
        size_t cap = ls->files_cap ? ls->files_cap * 2 : 64, i;
        struct live_file *nf = xcalloc(cap, sizeof(*nf));

        for (i = 0; i < ls->nfiles; i++)
            nf[i] = ls->files[(ls->files_head + i) % ls->files_cap];
        xfree(ls->files);
        ls->files = nf;
        ls->files_cap = cap;
        ls->files_head = 0;
    }
    f = &ls->files[(ls->files_head + ls->nfiles) % ls->files_cap];
    (void)snprintf(f->rep, sizeof(f->rep), "%s", rep);
    f->t = t;
    f->end_ms = end_ms;
    ls->nfiles++;
}

/*
 * Deletes segment files that left the DVR window long enough ago.
 * SPEC: RFC 8216 6.2.2 -- a segment removed from a playlist stays
 * available for its duration plus the longest playlist that held it (the
 * DVR window); we wait one more window and two target durations for
 * players and edges that are behind.
 */
static void
live_files_expire(struct live_stream *ls)
{
    const struct live_conf *c = &ls->l->conf;
    char path[LIVE_PATH_MAX];
    uint64_t horizon, keep;

    keep = 2 * (uint64_t)c->dvr_window_ms + 2 * (uint64_t)c->segment_ms;
    if (c->dvr_window_ms == 0 || ls->end_ms < keep)
        return;
    horizon = ls->end_ms - keep;
    while (ls->nfiles > 0) {
        struct live_file *f = &ls->files[ls->files_head];

        if (f->end_ms > horizon)
            break;
        if (snprintf(path, sizeof(path), "%s/%s/%" PRIu64 ".m4s", ls->ldir, f->rep, f->t) <
                (int)sizeof(path) &&
            unlink(path) != 0 && errno != ENOENT)
            LOG_RL(LOG_WARN, "live", "unlink_failed", 5, "stream=%s file=%s err=%s", ls->name, path,
                   err_name(-errno));
        ls->files_head = (ls->files_head + 1) % ls->files_cap;
        ls->nfiles--;
    }
}

/* ---- the packager's output ---- */

static int
live_on_init(struct live_stream *ls, const struct pkg_out *out)
{
    char rep[LIVE_REP_MAX], dir[LIVE_PATH_MAX];
    int rc;

    live_rep_id(out->track, out->gen, rep, sizeof(rep));
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, rep) >= (int)sizeof(dir))
        return 0;
    live_journal_flush(ls);
    rc = journal_mkdirs(dir);
    if (rc == 0)
        rc = live_write_file(ls, dir, "init.mp4", out->data, out->len, true);
    XXX_HANDLE(rc); /* logged and counted: the stream goes on */
    ls->configured[out->track] = true;
    return 0;
}

static bool
live_tracks_ready(const struct live_stream *ls)
{
    int t;

    for (t = 0; t < PKG_TRACKS; t++)
        if (ls->configured[t] && !ls->period_has[t])
            return false;
    return true;
}

static void
live_manifests_now(struct live_stream *ls)
{
    evtimer_del(ls->flush_ev);
    if (ls->manifests_on && !ls->replaying && ls->lm != NULL)
        live_write_manifests(ls, ls->lm, false);
}

static void
live_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct live_stream *ls;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    live_manifests_now(ls);
}

/*
 * A segment was added. Video and audio are cut at the same media times,
 * but their segments complete a few frames apart: the manifests are
 * rewritten once both tracks are level (within half a segment), or after
 * half a segment (at most 1 s) if one of them lags, so each cut costs one
 * set of manifest writes, not one per track.
 */
static void
live_manifests_kick(struct live_stream *ls)
{
    uint64_t lo = UINT64_MAX, hi = 0, half = ls->l->conf.segment_ms / 2;
    struct timeval tv;
    int t;

    if (!ls->manifests_on || ls->replaying)
        return;
    for (t = 0; t < PKG_TRACKS; t++) {
        if (!ls->configured[t])
            continue;
        if (ls->track_end_ms[t] < lo)
            lo = ls->track_end_ms[t];
        if (ls->track_end_ms[t] > hi)
            hi = ls->track_end_ms[t];
    }
    if (lo == UINT64_MAX || hi - lo <= half) {
        live_manifests_now(ls);
        return;
    }
    if (evtimer_pending(ls->flush_ev, NULL))
        return;
    if (half > 1000)
        half = 1000;
    tv.tv_sec = (time_t)(half / 1000);
    tv.tv_usec = (suseconds_t)(half % 1000) * 1000;
    AZ(evtimer_add(ls->flush_ev, &tv));
}

static void live_seg_model(struct live_stream *ls, const struct pkg_out *out, const char *rep);
static void live_aladder_out(struct live_stream *ls, unsigned i, const struct pkg_out *out,
                             const struct pkg_rep_info *info);
static void live_aladder_commit(struct live_stream *ls, int64_t until);
static int64_t live_aladder_nominal(const struct live_stream *ls);

/* ---- the ladder: encoded rungs beside the passthrough ---- */

/*
 * SPEC: ISO/IEC 14496-12 8.8.12 -- rewrites the baseMediaDecodeTime of the
 * (single) traf of a styp/moof/mdat segment to t. 0, or ERR_PROTO for
 * bytes that are not one of our segments.
 */
static int
live_ladder_patch_tfdt(uint8_t *p, size_t len, uint64_t t)
{
    size_t o = 0, end = len;
    int depth = 0;

    while (o + 8 <= end) {
        uint32_t sz =
            (uint32_t)p[o] << 24 | (uint32_t)p[o + 1] << 16 | (uint32_t)p[o + 2] << 8 | p[o + 3];

        if (sz < 8 || sz > end - o)
            return ERR_PROTO;
        if (memcmp(p + o + 4, "moof", 4) == 0 || memcmp(p + o + 4, "traf", 4) == 0) {
            if (++depth > 2)
                return ERR_PROTO;
            end = o + sz;
            o += 8;
            continue;
        }
        if (memcmp(p + o + 4, "tfdt", 4) == 0) {
            int i;

            if (sz >= 20 && p[o + 8] == 1) {
                for (i = 0; i < 8; i++)
                    p[o + 12 + i] = (uint8_t)(t >> (56 - 8 * i));
                return 0;
            }
            if (sz >= 16 && p[o + 8] == 0 && t <= UINT32_MAX) {
                for (i = 0; i < 4; i++)
                    p[o + 12 + i] = (uint8_t)(t >> (24 - 8 * i));
                return 0;
            }
            return ERR_PROTO;
        }
        o += sz;
    }
    return ERR_PROTO;
}

static bool
live_ladder_has(const struct live_rung *r, int64_t t, size_t *len)
{
    unsigned i;

    for (i = 0; i < LIVE_RECENT && i < r->nrecent; i++)
        if (r->recent[i] == t) {
            if (len != NULL)
                *len = r->last_t_len[i];
            return true;
        }
    return false;
}

/*
 * Writes rung r's segment at t as a copy of its latest real segment moved
 * to t: failover content for a time the worker did not encode (it was
 * down, restarting or late). Same init, so a player on that rung decodes
 * on; the picture repeats the last encoded segment. 0 or an error.
 */
static int
live_ladder_filler(struct live_stream *ls, struct live_rung *r, int64_t t)
{
    char dir[LIVE_PATH_MAX], name[32];
    uint8_t *copy;
    int rc;

    if (r->last == NULL)
        return ERR_NOTFOUND;
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, r->rep) >= (int)sizeof(dir))
        return ERR_LIMIT;
    copy = xmalloc(r->last_len);
    memcpy(copy, r->last, r->last_len);
    rc = live_ladder_patch_tfdt(copy, r->last_len, (uint64_t)t);
    (void)snprintf(name, sizeof(name), "%" PRId64 ".m4s", t);
    if (rc == 0)
        rc = live_write_file(ls, dir, name, copy, r->last_len, false);
    xfree(copy);
    if (rc == 0)
        metric_inc(ls->l->fillers);
    return rc;
}

/* The video set of m's last period, NULL before the passthrough made it. */
static struct model_aset *
live_ladder_set(struct model *m)
{
    if (m == NULL || m->nperiods == 0)
        return NULL;
    return model_aset_find(m->periods[m->nperiods - 1], LIVE_VIDEO_SET);
}

/*
 * Puts rung r into the video set of m (when it is not there yet). The set's
 * earlier segments get fillers made from the segment at t, so every
 * segment the MPD lists exists in every representation.
 */
static int
live_ladder_rep_add(struct live_stream *ls, struct model *m, struct live_rung *r, int64_t t,
                    const struct model_rep *pass)
{
    struct model_aset *s = live_ladder_set(m);
    struct model_rep *mr;
    uint32_t i, k;
    unsigned n = 0;
    int rc;

    if (s == NULL)
        return ERR_NOTFOUND;
    if (model_rep_find(m->periods[m->nperiods - 1], r->rep, NULL) != NULL)
        return 0;
    if (s->tl.nsegs > LIVE_BACKFILL_MAX)
        return ERR_LIMIT;
    for (i = 0; i < s->tl.nruns; i++)
        for (k = 0; k <= s->tl.runs[i].r; k++) {
            int64_t bt = (int64_t)(s->tl.runs[i].t + k * s->tl.runs[i].d);
            char path[LIVE_PATH_MAX];
            struct stat st;

            if (bt == t ||
                snprintf(path, sizeof(path), "%s/%s/%" PRId64 ".m4s", ls->ldir, r->rep, bt) >=
                    (int)sizeof(path) ||
                stat(path, &st) == 0)
                continue;
            if (live_ladder_filler(ls, r, bt) == 0)
                n++;
        }
    if (n > 0) {
        metric_add(ls->l->backfilled, n);
        LOG(LOG_INFO, "ladder", "backfilled", "stream=%s rep=%s segments=%u", ls->name, r->rep, n);
    }
    rc = model_rep_add(s, r->rep, r->codecs, r->kbps * 1000u, &mr);
    if (rc != 0)
        return rc;
    mr->width = r->width;
    mr->height = r->height;
    if (pass != NULL) {
        mr->fr_num = pass->fr_num;
        mr->fr_den = pass->fr_den;
    }
    return 0;
}

static void
live_ladder_bw(struct model *m, const char *rep, size_t len, int64_t d, uint32_t timescale)
{
    struct model_rep *mr;
    uint64_t bps;

    if (m == NULL || m->nperiods == 0 || d <= 0)
        return;
    mr = model_rep_find(m->periods[m->nperiods - 1], rep, NULL);
    if (mr == NULL)
        return;
    bps = (uint64_t)len * 8u * timescale / (uint64_t)d;
    if (bps > UINT32_MAX)
        bps = UINT32_MAX;
    if (bps > mr->bandwidth)
        mr->bandwidth = (uint32_t)bps;
}

/*
 * The frame rate of a segment of n frames lasting d ticks: an integer or an
 * NTSC rate (N * 1000/1001) when within 0.1 %, else n * timescale / d.
 * Leaves *num at 0 for segments too short to tell.
 */
static void
live_ladder_fps(uint32_t n, int64_t d, uint32_t timescale, uint32_t *num, uint32_t *den)
{
    double fps, k;

    *num = *den = 0;
    if (n < 10 || d <= 0 || (uint64_t)d < timescale / 2)
        return;
    fps = (double)n * timescale / (double)d;
    k = (double)(uint32_t)(fps + 0.5);
    if (k > 0 && k <= 300 && fps > k * 0.999 && fps < k * 1.001) {
        *num = (uint32_t)k;
        *den = 1;
        return;
    }
    k = (double)(uint32_t)(fps * 1001 / 1000 + 0.5);
    if (k > 0 && k <= 300 && fps * 1001 / 1000 > k * 0.999 && fps * 1001 / 1000 < k * 1.001) {
        *num = (uint32_t)k * 1000;
        *den = 1001;
    }
}

/* Gives every video representation of m's last period without a frame rate this one. */
static void
live_ladder_fps_fill(struct model *m, uint32_t num, uint32_t den)
{
    struct model_aset *s = live_ladder_set(m);
    uint32_t i;

    if (s == NULL || num == 0)
        return;
    for (i = 0; i < s->nreps; i++)
        if (s->reps[i]->fr_num == 0) {
            s->reps[i]->fr_num = num;
            s->reps[i]->fr_den = den;
        }
}

/*
 * While the stream has a disclaimer, the passthrough (which cannot carry
 * it) is not offered: from the first segment that every rung has, encoded
 * by a worker that draws the text, a new period lists the encoded rungs
 * only. Cleared, a new period offers the passthrough again. A period is
 * the only way to take a representation away without breaking the players
 * that were on it (docs/ladder.md, "Disclaimers").
 */
static void
live_ladder_v0_switch(struct live_stream *ls, const struct live_pend *pd)
{
    char text[STREAMS_DISCLAIMER_MAX + 1];
    uint64_t key_ms = 0, t_ms;
    bool want;
    unsigned i;
    int rc;

    if (ls->sup == NULL || ls->nrungs == 0 || pd->gen != ls->sup_gen || pd->timescale == 0 ||
        !ls->period_has[PKG_VIDEO])
        return;
    want = streams_disclaimer(ls->l->streams, ls->name, text, sizeof(text)) == 0 && text[0] != '\0';
    if (want == ls->v0_hidden)
        return;
    t_ms = model_ts_convert((uint64_t)pd->t, pd->timescale, 1000);
    if (want) {
        if (!ladder_sup_overlay(ls->sup, &key_ms) || t_ms + 1 < key_ms)
            return;
        for (i = 0; i < ls->nrungs; i++)
            if (!live_ladder_has(&ls->rungs[i], pd->t, NULL))
                return;
    }
    ls->v0_hidden = want;
    rc = live_new_period(ls, t_ms);
    LOG(rc == 0 ? LOG_INFO : LOG_ERR, "ladder", "passthrough",
        "stream=%s offered=%d t=%" PRId64 " err=%s", ls->name, !want, pd->t, err_name(rc));
}

/* Commits the oldest pending segment: fillers for the rungs that miss it, then the models. */
static void
live_ladder_commit_one(struct live_stream *ls)
{
    struct live_pend pd = ls->pend[0];
    struct pkg_out out;
    char rep[LIVE_REP_MAX];
    const struct model_rep *pass = NULL;
    uint32_t fr_num, fr_den;
    unsigned i;

    memmove(ls->pend, ls->pend + 1, (ls->npend - 1) * sizeof(ls->pend[0]));
    ls->npend--;
    memset(&out, 0, sizeof(out));
    out.kind = PKG_OUT_SEGMENT;
    out.track = PKG_VIDEO;
    out.gen = pd.gen;
    out.timescale = pd.timescale;
    out.t = pd.t;
    out.d = pd.d;
    out.ept = pd.t;
    out.len = pd.len;
    live_rep_id(PKG_VIDEO, pd.gen, rep, sizeof(rep));
    live_ladder_v0_switch(ls, &pd);
    live_seg_model(ls, &out, rep);
    ls->committed_t = pd.t;
    if (pd.gen != ls->sup_gen || ls->lm == NULL || ls->lm->nperiods == 0)
        return;
    pass = model_rep_find(ls->lm->periods[ls->lm->nperiods - 1], rep, NULL);
    for (i = 0; i < ls->nrungs; i++) {
        struct live_rung *r = &ls->rungs[i];
        size_t len = r->last_len;
        bool real = live_ladder_has(r, pd.t, &len);
        bool listed = model_rep_find(ls->lm->periods[ls->lm->nperiods - 1], r->rep, NULL) != NULL;

        if (!real) {
            if (!listed)
                continue; /* not started yet: it joins with its first real segment */
            if (live_ladder_filler(ls, r, pd.t) != 0) {
                LOG_RL(LOG_ERR, "ladder", "filler_failed", 5, "stream=%s rep=%s t=%" PRId64,
                       ls->name, r->rep, pd.t);
                continue;
            }
            LOG_RL(LOG_INFO, "ladder", "filler", 5, "stream=%s rep=%s t=%" PRId64, ls->name, r->rep,
                   pd.t);
        } else if (!listed) {
            int rc = live_ladder_rep_add(ls, ls->lm, r, pd.t, pass);

            if (rc == 0 && ls->rm != NULL)
                rc = live_ladder_rep_add(ls, ls->rm, r, pd.t, pass);
            if (rc != 0) {
                LOG_RL(LOG_WARN, "ladder", "rep_add_failed", 5, "stream=%s rep=%s err=%s", ls->name,
                       r->rep, err_name(rc));
                continue;
            }
            LOG(LOG_INFO, "ladder", "rep_added", "stream=%s rep=%s t=%" PRId64, ls->name, r->rep,
                pd.t);
        }
        live_ladder_bw(ls->lm, r->rep, len, pd.d, pd.timescale);
        live_ladder_bw(ls->rm, r->rep, len, pd.d, pd.timescale);
    }
    /* The encoded audio may lag the video by one of its segments; past that, copies. */
    if (ls->atimescale != 0 && pd.timescale != 0)
        live_aladder_commit(ls, (int64_t)((uint64_t)(pd.t + pd.d) * ls->atimescale / pd.timescale) -
                                    live_aladder_nominal(ls));
    /* FLV does not say the frame rate; the segments do (every rung keeps the source's). */
    live_ladder_fps(pd.samples, pd.d, pd.timescale, &fr_num, &fr_den);
    live_ladder_fps_fill(ls->lm, fr_num, fr_den);
    live_ladder_fps_fill(ls->rm, fr_num, fr_den);
    live_manifests_kick(ls);
}

static uint64_t
live_mono_ms(void)
{
    struct timespec ts;

    AZ(clock_gettime(CLOCK_MONOTONIC, &ts));
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Commits pending segments in order: each once every rung that is being
 * encoded has it, or at its deadline (force: all of them now).
 */
static void
live_ladder_commit(struct live_stream *ls, bool force)
{
    uint64_t now = live_mono_ms();

    while (ls->npend > 0) {
        struct live_pend *pd = &ls->pend[0];
        bool ready = true;
        unsigned i;

        for (i = 0; i < ls->nrungs && !force && now < pd->due_ms; i++)
            if (!live_ladder_has(&ls->rungs[i], pd->t, NULL) && pd->gen == ls->sup_gen &&
                ls->sup != NULL && ladder_sup_rung_live(ls->sup, i))
                ready = false;
        if (!ready) {
            struct timeval tv;
            uint64_t wait = pd->due_ms - now;

            tv.tv_sec = (time_t)(wait / 1000);
            tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
            AZ(evtimer_add(ls->commit_ev, &tv));
            return;
        }
        live_ladder_commit_one(ls);
    }
    evtimer_del(ls->commit_ev);
}

static void
live_ladder_commit_cb(evutil_socket_t fd, short what, void *arg)
{
    struct live_stream *ls;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    live_ladder_commit(ls, false);
}

static void
live_ladder_pend(struct live_stream *ls, const struct pkg_out *out)
{
    struct live_pend *pd;

    if (ls->npend == LIVE_PEND_MAX)
        live_ladder_commit_one(ls);
    pd = &ls->pend[ls->npend++];
    pd->t = out->t;
    pd->d = out->d;
    pd->len = out->len;
    pd->samples = out->samples;
    pd->gen = out->gen;
    pd->timescale = out->timescale;
    pd->due_ms = live_mono_ms() + ls->l->conf.ladder_wait_ms;
    live_ladder_commit(ls, false);
}

/* The supervisor's outputs: init and media segments of rung i. */
static void
live_ladder_out(void *arg, unsigned i, const struct pkg_out *out, const struct pkg_rep_info *info)
{
    struct live_stream *ls;
    struct live_rung *r;
    char dir[LIVE_PATH_MAX], name[32];
    unsigned slot;

    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    if (out->track == PKG_AUDIO) {
        live_aladder_out(ls, i, out, info);
        return;
    }
    if (i >= ls->nrungs)
        return;
    r = &ls->rungs[i];
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, r->rep) >= (int)sizeof(dir))
        return;
    if (out->kind == PKG_OUT_INIT) {
        if (info != NULL) {
            (void)snprintf(r->codecs, sizeof(r->codecs), "%s", info->codecs);
            if (info->width != 0) {
                r->width = info->width;
                r->height = info->height;
            }
        }
        if (r->has_init) {
            char path[LIVE_PATH_MAX];
            struct stat st;

            /* A restarted worker must give the same init: players keep the one they have. */
            if (snprintf(path, sizeof(path), "%s/init.mp4", dir) < (int)sizeof(path) &&
                stat(path, &st) == 0 && (size_t)st.st_size != out->len) {
                metric_inc(ls->l->init_changed);
                LOG(LOG_WARN, "ladder", "init_changed", "stream=%s rep=%s", ls->name, r->rep);
            }
        }
        if (journal_mkdirs(dir) == 0 &&
            live_write_file(ls, dir, "init.mp4", out->data, out->len, true) == 0)
            r->has_init = true;
        return;
    }
    if (out->t < 0 || out->d <= 0 || !r->has_init)
        return;
    /* Already committed (with a filler): segments never change once listed. */
    if (ls->committed_t >= 0 && out->t <= ls->committed_t) {
        metric_inc(ls->l->late);
        LOG_RL(LOG_INFO, "ladder", "late_segment", 5, "stream=%s rep=%s t=%" PRId64, ls->name,
               r->rep, out->t);
        return;
    }
    (void)snprintf(name, sizeof(name), "%" PRId64 ".m4s", out->t);
    if (live_write_file(ls, dir, name, out->data, out->len, false) != 0)
        return;
    metric_inc(ls->l->segments);
    metric_add(ls->l->bytes, out->len);
    r->last = xrealloc(r->last, out->len);
    memcpy(r->last, out->data, out->len);
    r->last_len = out->len;
    slot = r->nrecent++ % LIVE_RECENT;
    r->recent[slot] = out->t;
    r->last_t_len[slot] = out->len;
    if (ls->rm == NULL)
        live_files_push(ls, r->rep, (uint64_t)out->t, ls->end_ms);
    live_ladder_commit(ls, false);
}

/* ---- the encoded audio rungs: their own adaptation set and timeline ---- */

/*
 * The duration of an encoded audio segment: the worker cuts after the
 * first whole AAC frame (1024 samples) at or past the segment duration.
 */
static int64_t
live_aladder_nominal(const struct live_stream *ls)
{
    uint64_t frames =
        ((uint64_t)ls->l->conf.segment_ms * ls->atimescale + 1024u * 1000u - 1) / (1024u * 1000u);

    return (int64_t)(frames * 1024u);
}

/* Writes bytes (a segment of rung r) as r's segment at t, tfdt moved to t. */
static int
live_aladder_write(struct live_stream *ls, const struct live_arung *r, const uint8_t *data,
                   size_t len, int64_t t, bool patch)
{
    char dir[LIVE_PATH_MAX], name[32];
    uint8_t *copy;
    int rc = 0;

    if (data == NULL || len == 0)
        return ERR_NOTFOUND;
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, r->rep) >= (int)sizeof(dir))
        return ERR_LIMIT;
    copy = xmalloc(len);
    memcpy(copy, data, len);
    if (patch)
        rc = live_ladder_patch_tfdt(copy, len, (uint64_t)t);
    (void)snprintf(name, sizeof(name), "%" PRId64 ".m4s", t);
    if (rc == 0)
        rc = live_write_file(ls, dir, name, copy, len, false);
    xfree(copy);
    if (rc == 0 && patch)
        metric_inc(ls->l->afillers);
    return rc;
}

/* The encoded audio set of m's last period, made when missing. */
static int
live_aladder_set(struct live_stream *ls, struct model *m, int64_t t, struct model_aset **ps)
{
    struct model_period *p;
    struct model_aset *s;
    int rc;

    if (m == NULL || m->nperiods == 0)
        return ERR_NOTFOUND;
    p = m->periods[m->nperiods - 1];
    s = model_aset_find(p, LIVE_ALADDER_SET);
    if (s == NULL) {
        struct model_aset *pass = model_aset_find(p, LIVE_AUDIO_SET);

        rc = model_aset_add(p, LIVE_ALADDER_SET, MODEL_AUDIO, "audio/mp4", "aac", ls->atimescale,
                            &s);
        if (rc != 0)
            return rc;
        /* Same language as the passthrough audio: the same track, other bit rates. */
        if (pass != NULL && pass->lang != NULL && model_aset_set_lang(s, pass->lang) != 0)
            return ERR_INVAL;
        s->tl.pto = model_ts_convert(p->start_ms, 1000, ls->atimescale);
        if (s->tl.pto > (uint64_t)t)
            s->tl.pto = (uint64_t)t;
        /* Numbers carry on from the same set in the previous period. */
        if (m->nperiods > 1) {
            struct model_aset *prev =
                model_aset_find(m->periods[m->nperiods - 2], LIVE_ALADDER_SET);

            if (prev != NULL)
                s->tl.next_number = prev->tl.next_number;
        }
    }
    *ps = s;
    return 0;
}

/* Rung r into set s of m (when it is not there yet), with fillers for the set's earlier segments.
 */
static int
live_aladder_rep(struct live_stream *ls, struct model *m, struct model_aset *s,
                 struct live_arung *r, const uint8_t *data, size_t len)
{
    struct model_rep *mr;
    uint32_t i, k;
    int rc;

    if (model_rep_find(m->periods[m->nperiods - 1], r->rep, NULL) != NULL)
        return 0;
    if (s->tl.nsegs > LIVE_BACKFILL_MAX)
        return ERR_LIMIT;
    for (i = 0; i < s->tl.nruns; i++)
        for (k = 0; k <= s->tl.runs[i].r; k++) {
            int64_t bt = (int64_t)(s->tl.runs[i].t + k * s->tl.runs[i].d);

            if (live_aladder_write(ls, r, data, len, bt, true) == 0)
                metric_inc(ls->l->backfilled);
        }
    rc = model_rep_add(s, r->rep, r->codecs, r->kbps * 1000u, &mr);
    if (rc != 0)
        return rc;
    mr->sample_rate = r->sample_rate;
    mr->channels = r->channels;
    if (m == ls->lm)
        LOG(LOG_INFO, "ladder", "rep_added", "stream=%s rep=%s", ls->name, r->rep);
    return 0;
}

/* Adds the segment (t, d) of every audio rung that has bytes for it to m. */
static int
live_aladder_model(struct live_stream *ls, struct model *m, int64_t t, int64_t d,
                   const uint8_t *const *data, const size_t *len)
{
    struct model_aset *s, *pass;
    unsigned i;
    int rc;

    rc = live_aladder_set(ls, m, t, &s);
    if (rc != 0)
        return rc;
    /*
     * Players pick one audio set at start and stay in it: the passthrough,
     * whose segments never wait for a worker, first (dash.js honours
     * selectionPriority; the HLS master already lists a0 as the default).
     */
    pass = model_aset_find(m->periods[m->nperiods - 1], LIVE_AUDIO_SET);
    if (pass != NULL)
        pass->selection_priority = 2;
    for (i = 0; i < ls->narungs; i++) {
        if (data[i] == NULL)
            continue;
        rc = live_aladder_rep(ls, m, s, &ls->arungs[i], data[i], len[i]);
        if (rc != 0)
            return rc;
        live_ladder_bw(m, ls->arungs[i].rep, len[i], d, ls->atimescale);
    }
    return model_segment_add(m, s, (uint64_t)t, (uint64_t)d);
}

/*
 * Commits the encoded audio segment (t, d): each rung's real one when it
 * has it, else a failover copy of its latest (a rung that never produced
 * one is left out). A gap from the set's end to t is filled with copies.
 */
static void
live_aladder_commit_at(struct live_stream *ls, int64_t t, int64_t d)
{
    const uint8_t *data[LADDER_MAX_AUDIO];
    size_t len[LADDER_MAX_AUDIO];
    uint8_t *own[LADDER_MAX_AUDIO];
    bool any = false;
    unsigned i;
    int rc;

    /* A restarted worker cuts elsewhere: copies up to its first segment. */
    while (ls->aend >= 0 && t > ls->aend) {
        int64_t fd = t - ls->aend;

        if (fd > live_aladder_nominal(ls))
            fd = live_aladder_nominal(ls);
        if (fd < (int64_t)ls->atimescale / 50)
            break; /* under a frame: a gap players step over */
        live_aladder_commit_at(ls, ls->aend, fd);
    }
    for (i = 0; i < ls->narungs; i++) {
        struct live_arung *r = &ls->arungs[i];

        data[i] = NULL;
        own[i] = NULL;
        len[i] = 0;
        while (r->npend > 0 && r->pend[0].t < t) {
            metric_inc(ls->l->late);
            xfree(r->pend[0].data);
            memmove(r->pend, r->pend + 1, --r->npend * sizeof(r->pend[0]));
        }
        if (r->npend > 0 && r->pend[0].t == t) {
            own[i] = r->pend[0].data;
            len[i] = r->pend[0].len;
            memmove(r->pend, r->pend + 1, --r->npend * sizeof(r->pend[0]));
            if (live_aladder_write(ls, r, own[i], len[i], t, false) == 0)
                data[i] = own[i];
        } else if (r->last != NULL &&
                   live_aladder_write(ls, r, r->last, r->last_len, t, true) == 0) {
            data[i] = r->last;
            len[i] = r->last_len;
            LOG_RL(LOG_INFO, "ladder", "filler", 5, "stream=%s rep=%s t=%" PRId64, ls->name, r->rep,
                   t);
        }
        any = any || data[i] != NULL;
    }
    if (any) {
        rc = live_aladder_model(ls, ls->lm, t, d, data, len);
        if (rc == 0 && ls->rm != NULL)
            rc = live_aladder_model(ls, ls->rm, t, d, data, len);
        if (rc != 0)
            LOG_RL(LOG_WARN, "ladder", "audio_model_failed", 5, "stream=%s t=%" PRId64 " err=%s",
                   ls->name, t, err_name(rc));
        for (i = 0; i < ls->narungs && ls->rm == NULL; i++)
            if (data[i] != NULL)
                live_files_push(ls, ls->arungs[i].rep, (uint64_t)t,
                                (uint64_t)((t + d) * 1000 / ls->atimescale));
        ls->aend = t + d;
        live_manifests_kick(ls);
    }
    for (i = 0; i < ls->narungs; i++)
        if (own[i] != NULL) {
            /* A worker's short last fragment (it was stopped) is no copy to repeat. */
            if (data[i] != NULL && 2 * d >= live_aladder_nominal(ls)) {
                xfree(ls->arungs[i].last);
                ls->arungs[i].last = own[i];
                ls->arungs[i].last_len = len[i];
            } else {
                xfree(own[i]);
            }
        }
}

/* The oldest waiting encoded audio segment, if any: 0, or ERR_NOTFOUND. */
static int
live_aladder_head(const struct live_stream *ls, int64_t *t, int64_t *d)
{
    unsigned i;
    int rc = ERR_NOTFOUND;

    for (i = 0; i < ls->narungs; i++)
        if (ls->arungs[i].npend > 0 && (rc != 0 || ls->arungs[i].pend[0].t < *t)) {
            *t = ls->arungs[i].pend[0].t;
            *d = ls->arungs[i].pend[0].d;
            rc = 0;
        }
    return rc;
}

/*
 * Commits waiting audio segments that every live rung has (the rungs of one
 * worker cut at the same times); with until >= 0, also everything up to
 * there, with failover copies where a rung has nothing.
 */
static void
live_aladder_commit(struct live_stream *ls, int64_t until)
{
    for (;;) {
        int64_t t = 0, d = 0;
        bool ready = true;
        unsigned i;

        if (live_aladder_head(ls, &t, &d) == 0) {
            for (i = 0; i < ls->narungs; i++)
                if (ls->sup != NULL && ladder_sup_audio_live(ls->sup, i) &&
                    (ls->arungs[i].npend == 0 || ls->arungs[i].pend[0].t != t))
                    ready = false;
            if (ready || t + d <= until || (ls->aend >= 0 && t < ls->aend)) {
                live_aladder_commit_at(ls, t, d);
                continue;
            }
        }
        /* Nothing (more) from the worker: copies while the set lags until. */
        if (ls->aend < 0 || ls->aend + live_aladder_nominal(ls) > until)
            return;
        live_aladder_commit_at(ls, ls->aend, live_aladder_nominal(ls));
    }
}

/* The supervisor's audio outputs: init and media segments of audio rung i. */
static void
live_aladder_out(struct live_stream *ls, unsigned i, const struct pkg_out *out,
                 const struct pkg_rep_info *info)
{
    struct live_arung *r;
    struct live_aseg *as;
    char dir[LIVE_PATH_MAX];

    if (i >= ls->narungs)
        return;
    r = &ls->arungs[i];
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, r->rep) >= (int)sizeof(dir))
        return;
    if (out->kind == PKG_OUT_INIT) {
        if (info != NULL) {
            (void)snprintf(r->codecs, sizeof(r->codecs), "%s", info->codecs);
            r->sample_rate = info->sample_rate;
            r->channels = info->channels;
        }
        if (ls->atimescale != 0 && ls->atimescale != out->timescale) {
            LOG(LOG_WARN, "ladder", "audio_timescale", "stream=%s rep=%s", ls->name, r->rep);
            return;
        }
        ls->atimescale = out->timescale;
        if (journal_mkdirs(dir) == 0 &&
            live_write_file(ls, dir, "init.mp4", out->data, out->len, true) == 0)
            r->has_init = true;
        return;
    }
    if (out->t < 0 || out->d <= 0 || !r->has_init || out->timescale != ls->atimescale)
        return;
    if (ls->aend >= 0 && out->t < ls->aend) {
        metric_inc(ls->l->late);
        LOG_RL(LOG_INFO, "ladder", "late_segment", 5, "stream=%s rep=%s t=%" PRId64, ls->name,
               r->rep, out->t);
        return;
    }
    if (r->npend == LIVE_APEND)
        live_aladder_commit_at(ls, r->pend[0].t, r->pend[0].d);
    as = &r->pend[r->npend++];
    as->t = out->t;
    as->d = out->d;
    as->len = out->len;
    as->data = xmalloc(out->len);
    memcpy(as->data, out->data, out->len);
    metric_inc(ls->l->segments);
    metric_add(ls->l->bytes, out->len);
    live_aladder_commit(ls, -1);
}

/* Frees the audio rungs' state (the set's timeline begins again with the next worker). */
static void
live_aladder_clear(struct live_stream *ls)
{
    unsigned i, k;

    for (i = 0; i < ls->narungs; i++) {
        for (k = 0; k < ls->arungs[i].npend; k++)
            xfree(ls->arungs[i].pend[k].data);
        xfree(ls->arungs[i].last);
    }
    memset(ls->arungs, 0, sizeof(ls->arungs));
    ls->narungs = 0;
    ls->aend = -1;
    ls->atimescale = 0;
}

/* At each keyframe: the stream's disclaimer (the streams API may have changed it). */
static void
live_ladder_disclaimer(struct live_stream *ls)
{
    char text[STREAMS_DISCLAIMER_MAX + 1];

    if (streams_disclaimer(ls->l->streams, ls->name, text, sizeof(text)) != 0)
        text[0] = '\0';
    ladder_sup_set_disclaimer(ls->sup, text);
}

/* Commits what waits and stops the ladder of the run (or of an old video generation). */
static void
live_ladder_stop(struct live_stream *ls)
{
    unsigned i;

    int64_t t = 0, d = 0;

    live_ladder_commit(ls, true);
    while (live_aladder_head(ls, &t, &d) == 0)
        live_aladder_commit_at(ls, t, d);
    live_aladder_clear(ls);
    ladder_sup_free(&ls->sup);
    for (i = 0; i < ls->nrungs; i++)
        xfree(ls->rungs[i].last);
    memset(ls->rungs, 0, sizeof(ls->rungs));
    ls->nrungs = 0;
}

/* The video was configured (generation gen): a supervisor for it, with its rungs. */
static void
live_ladder_configure(struct live_stream *ls, const uint8_t *tag, size_t len)
{
    const struct live_conf *c = &ls->l->conf;
    char text[STREAMS_DISCLAIMER_MAX + 1];
    const struct ladder_pick *picks;
    struct ladder_sup_conf sc;
    struct pkg_rep_info info;
    unsigned i, n;

    if (c->ladder == NULL || ls->replaying || ls->pkg == NULL)
        return;
    pkg_rep_info(ls->pkg, PKG_VIDEO, &info);
    if (!info.configured)
        return;
    if (ls->sup != NULL && ls->sup_gen == info.gen)
        return;
    live_ladder_stop(ls);
    memset(&sc, 0, sizeof(sc));
    sc.ladder = c->ladder;
    sc.ffmpeg = c->ffmpeg;
    sc.segment_ms = c->segment_ms;
    sc.nice = c->ladder_nice;
    sc.threads = c->ladder_threads;
    sc.max_workers = c->ladder_max_workers;
    sc.backoff_min_ms = c->ladder_backoff_min_ms;
    sc.backoff_max_ms = c->ladder_backoff_max_ms;
    sc.restore_ms = c->ladder_restore_ms;
    sc.disclaimer =
        streams_disclaimer(ls->l->streams, ls->name, text, sizeof(text)) == 0 ? text : NULL;
    ladder_sup_new(ls->l->base, &sc, ls->name, live_ladder_out, ls, &ls->sup);
    ls->sup_gen = info.gen;
    n = ladder_sup_video_config(ls->sup, tag, len, info.width, info.height);
    (void)ladder_sup_rungs(ls->sup, &picks);
    for (i = 0; i < n; i++) {
        struct live_rung *r = &ls->rungs[i];

        (void)snprintf(r->rep, sizeof(r->rep), "v%" PRIu32 "-%s", info.gen, picks[i].rung->id);
        r->width = picks[i].width;
        r->height = picks[i].height;
        r->kbps = picks[i].rung->kbps;
        (void)snprintf(r->codecs, sizeof(r->codecs), "avc1.64001f");
    }
    ls->nrungs = n;
    for (i = 0; i < c->ladder->n_audio && n > 0; i++) {
        struct live_arung *r = &ls->arungs[i];

        (void)snprintf(r->rep, sizeof(r->rep), "a%" PRIu32 "-%s", info.gen, c->ladder->audio[i].id);
        r->kbps = c->ladder->audio[i].kbps;
        (void)snprintf(r->codecs, sizeof(r->codecs), "mp4a.40.2");
        ls->narungs = i + 1;
    }
    if (ls->acfg != NULL && n > 0) {
        pkg_rep_info(ls->pkg, PKG_AUDIO, &info);
        if (info.configured)
            (void)ladder_sup_audio_config(ls->sup, ls->acfg, ls->acfg_len, info.sample_rate);
    }
}

/* The AAC sequence header: kept for the next supervisor, and given to the running one. */
static void
live_ladder_audio_config(struct live_stream *ls, const uint8_t *tag, size_t len)
{
    struct pkg_rep_info info;

    if (ls->l->conf.ladder == NULL)
        return;
    xfree(ls->acfg);
    ls->acfg = xmalloc(len);
    memcpy(ls->acfg, tag, len);
    ls->acfg_len = len;
    pkg_rep_info(ls->pkg, PKG_AUDIO, &info);
    if (ls->sup != NULL && ls->nrungs > 0 && info.configured)
        (void)ladder_sup_audio_config(ls->sup, tag, len, info.sample_rate);
}

static int
live_on_segment(struct live_stream *ls, const struct pkg_out *out)
{
    char rep[LIVE_REP_MAX], dir[LIVE_PATH_MAX], name[32];

    if (out->t < 0 || out->d <= 0 || !model_time_ok((uint64_t)(out->t + out->d), out->timescale))
        return 0;
    live_rep_id(out->track, out->gen, rep, sizeof(rep));
    if (snprintf(dir, sizeof(dir), "%s/%s", ls->ldir, rep) >= (int)sizeof(dir))
        return 0;
    (void)snprintf(name, sizeof(name), "%" PRId64 ".m4s", out->t);
    live_journal_flush(ls);
    if (live_write_file(ls, dir, name, out->data, out->len, false) != 0)
        return 0; /* not in the model either: a listed segment must exist */
    metric_inc(ls->l->segments);
    metric_add(ls->l->bytes, out->len);
    if (out->track == PKG_VIDEO && ls->sup != NULL && ls->nrungs > 0) {
        live_ladder_pend(ls, out);
        return 0;
    }
    live_seg_model(ls, out, rep);
    return 0;
}

/* A written segment joins the models; the manifests follow. */
static void
live_seg_model(struct live_stream *ls, const struct pkg_out *out, const char *rep)
{
    uint64_t end_ms;
    int rc;

    /* A new configuration is a new representation, so a new period. */
    if (ls->period_has[out->track] && out->gen != ls->period_gen[out->track]) {
        rc = live_new_period(ls, model_ts_convert((uint64_t)out->t, out->timescale, 1000));
        if (rc != 0)
            LOG(LOG_ERR, "live", "period_failed", "stream=%s err=%s", ls->name, err_name(rc));
    }
    rc = live_model_add(ls, ls->lm, out);
    if (rc == 0 && ls->rm != NULL)
        rc = live_model_add(ls, ls->rm, out);
    if (rc != 0) {
        LOG_RL(LOG_ERR, "live", "model_failed", 5, "stream=%s rep=%s t=%" PRId64 " err=%s",
               ls->name, rep, out->t, err_name(rc));
        return;
    }
    ls->period_has[out->track] = true;
    ls->period_gen[out->track] = out->gen;
    end_ms = (uint64_t)((out->t + out->d) * 1000 + out->timescale - 1) / out->timescale;
    if (end_ms > ls->end_ms)
        ls->end_ms = end_ms;
    model_trim_dvr(ls->lm);
    if (ls->rm == NULL) {
        live_files_push(ls, rep, (uint64_t)out->t, end_ms);
        live_files_expire(ls);
    }
    ls->track_end_ms[out->track] = end_ms;
    if (!ls->manifests_on && live_tracks_ready(ls))
        ls->manifests_on = true;
    live_manifests_kick(ls);
}

static int
live_pkg_cb(void *arg, const struct pkg_out *out)
{
    struct live_stream *ls;

    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    if (out->kind == PKG_OUT_INIT)
        return live_on_init(ls, out);
    return live_on_segment(ls, out);
}

/* ---- tags -> packager ---- */

static int
live_package_video(struct live_stream *ls, int64_t dts, const uint8_t *data, size_t len)
{
    struct flv_video v;
    int rc;

    rc = flv_video_parse(data, len, &v);
    if (rc != 0)
        return ERR_MEDIA;
    if (v.enhanced || v.codec_id != FLV_CODEC_AVC) {
        metric_inc(ls->l->unsupported);
        LOG_RL(LOG_WARN, "live", "unsupported_video", 2, "stream=%s codec=%u fourcc=%08x", ls->name,
               v.codec_id, v.fourcc);
        return ERR_MEDIA;
    }
    if (v.packet_type == 0) {
        struct pkg_video_cfg cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.codec = PKG_CODEC_H264;
        cfg.record = data + v.hdr_len;
        cfg.record_len = len - v.hdr_len;
        rc = pkg_config_video(ls->pkg, &cfg, PKG_CFG_REPLACE);
        if (rc == 0)
            live_ladder_configure(ls, data, len);
        return rc;
    }
    if (v.packet_type == 1 && len > v.hdr_len) {
        struct pkg_frame f;

        if (ls->sup != NULL && !ls->replaying && v.frame_type == FLV_FRAME_KEY)
            live_ladder_disclaimer(ls);
        if (ls->sup != NULL && !ls->replaying)
            ladder_sup_video_tag(ls->sup, data, len, (uint32_t)dts, v.cts,
                                 v.frame_type == FLV_FRAME_KEY, ls->base_ms);

        f.dts_ms = dts;
        f.cts_ms = v.cts;
        f.key = v.frame_type == FLV_FRAME_KEY;
        f.data = data + v.hdr_len;
        f.len = len - v.hdr_len;
        return pkg_push(ls->pkg, PKG_VIDEO, &f);
    }
    return 0; /* end of sequence, command frames */
}

static int
live_package_audio(struct live_stream *ls, int64_t dts, const uint8_t *data, size_t len)
{
    struct flv_audio a;
    int rc;

    rc = flv_audio_parse(data, len, &a);
    if (rc != 0)
        return ERR_MEDIA;
    if (a.enhanced || a.format != FLV_SOUND_AAC) {
        metric_inc(ls->l->unsupported);
        LOG_RL(LOG_WARN, "live", "unsupported_audio", 2, "stream=%s format=%u", ls->name, a.format);
        return ERR_MEDIA;
    }
    if (a.packet_type == 0) {
        struct pkg_audio_cfg cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.codec = PKG_CODEC_AAC;
        cfg.asc = data + a.hdr_len;
        cfg.asc_len = len - a.hdr_len;
        cfg.channels = a.channels;
        rc = pkg_config_audio(ls->pkg, &cfg, PKG_CFG_REPLACE);
        if (rc == 0 && !ls->replaying)
            live_ladder_audio_config(ls, data, len);
        return rc;
    }
    if (len > a.hdr_len) {
        struct pkg_frame f;

        if (ls->sup != NULL && !ls->replaying)
            ladder_sup_audio_tag(ls->sup, data, len, (uint32_t)dts, ls->base_ms);

        memset(&f, 0, sizeof(f));
        f.dts_ms = dts;
        f.data = data + a.hdr_len;
        f.len = len - a.hdr_len;
        return pkg_push(ls->pkg, PKG_AUDIO, &f);
    }
    return 0;
}

/* One tag of the current session into the packager. Errors are counted, never fatal. */
static int
live_package(struct live_stream *ls, uint8_t type, int64_t dts, const uint8_t *data, size_t len)
{
    int rc = 0;

    if (type == FLV_TAG_VIDEO)
        rc = live_package_video(ls, dts, data, len);
    else if (type == FLV_TAG_AUDIO)
        rc = live_package_audio(ls, dts, data, len);
    if (rc != 0) {
        metric_inc(ls->l->pkg_errors);
        LOG_RL(LOG_INFO, "live", "package_failed", 5, "stream=%s type=%u dts=%" PRId64 " err=%s",
               ls->name, type, dts, err_name(rc));
    }
    return rc;
}

/* ---- runs and sessions ---- */

static void live_grace_cb(evutil_socket_t fd, short what, void *arg);

static struct live_stream *
live_stream_find(struct live *l, const char *name)
{
    struct live_stream *ls;

    for (ls = l->head; ls != NULL; ls = ls->next)
        if (strcmp(ls->name, name) == 0)
            return ls;
    return NULL;
}

/* End of a model's timeline in ms, whatever its period starts say. */
static uint64_t
live_model_media_end_ms(const struct model *m)
{
    uint64_t end = 0, e;
    uint32_t i, j;

    for (i = 0; i < m->nperiods; i++)
        for (j = 0; j < m->periods[i]->nsets; j++) {
            const struct model_timeline *tl = &m->periods[i]->sets[j]->tl;

            e = (model_timeline_end(tl) * 1000 + tl->timescale - 1) / tl->timescale;
            if (e > end)
                end = e;
        }
    return end;
}

static bool
live_model_has_segments(const struct model *m)
{
    uint32_t i, j;

    for (i = 0; i < m->nperiods; i++)
        for (j = 0; j < m->periods[i]->nsets; j++)
            if (m->periods[i]->sets[j]->tl.nsegs > 0)
                return true;
    return false;
}

/* The end of what an earlier process published for this stream (its model.json). */
static uint64_t
live_read_prev_end(struct live_stream *ls)
{
    char path[LIVE_PATH_MAX], err[128];
    struct model *m = NULL;
    struct stat st;
    uint64_t end = 0;
    char *text;
    ssize_t n;
    int fd;

    if (snprintf(path, sizeof(path), "%s/model.json", ls->ldir) >= (int)sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (off_t)MODEL_JSON_MAX) {
        (void)close(fd);
        return 0;
    }
    text = xmalloc((size_t)st.st_size);
    n = read(fd, text, (size_t)st.st_size);
    (void)close(fd);
    if (n == st.st_size && model_json_read(text, (size_t)n, &m, err, sizeof(err)) == 0) {
        end = live_model_media_end_ms(m);
        model_free(&m);
    }
    xfree(text);
    return end;
}

static struct live_stream *
live_stream_new(struct live *l, const char *name)
{
    struct live_stream *ls = xcalloc(1, sizeof(*ls));

    ls->magic = LIVE_STREAM_MAGIC;
    ls->l = l;
    (void)snprintf(ls->name, sizeof(ls->name), "%s", name);
    ls->jdir = live_path_dup(l->jroot, name, "");
    ls->ldir = live_path_dup(l->conf.data_dir, "live", name);
    ls->grace_ev = evtimer_new(l->base, live_grace_cb, ls);
    AN(ls->grace_ev);
    ls->flush_ev = evtimer_new(l->base, live_flush_cb, ls);
    AN(ls->flush_ev);
    ls->commit_ev = evtimer_new(l->base, live_ladder_commit_cb, ls);
    AN(ls->commit_ev);
    ls->committed_t = -1;
    ls->aend = -1;
    ls->next = l->head;
    l->head = ls;
    l->count++;
    return ls;
}

static void
live_stream_free(struct live_stream *ls)
{
    live_forget_mem(ls);
    journal_close(&ls->j);
    live_ladder_stop(ls);
    xfree(ls->acfg);
    event_free(ls->commit_ev);
    pkg_free(&ls->pkg);
    model_free(&ls->lm);
    model_free(&ls->rm);
    event_free(ls->grace_ev);
    event_free(ls->flush_ev);
    xfree(ls->master);
    xfree(ls->files);
    xfree(ls->jdir);
    xfree(ls->ldir);
    FREE_OBJ(ls);
}

/* Starts a run at base_ms: a packager, the models, their first period. */
static int
live_run_start(struct live_stream *ls, uint64_t base_ms)
{
    struct pkg_params pp;
    int rc;

    assert(ls->pkg == NULL && ls->lm == NULL);
    memset(&pp, 0, sizeof(pp));
    pp.target_ms = ls->l->conf.segment_ms;
    pp.stream = ls->name;
    rc = pkg_new(&ls->pkg, &pp, live_pkg_cb, ls);
    if (rc != 0)
        return rc;
    ls->lm = live_model_new(ls);
    if (ls->l->conf.keep_recording)
        ls->rm = live_model_new(ls);
    memset(ls->configured, 0, sizeof(ls->configured));
    memset(ls->period_gen, 0, sizeof(ls->period_gen));
    memset(ls->track_end_ms, 0, sizeof(ls->track_end_ms));
    ls->nperiods_made = 0;
    ls->committed_t = -1;
    ls->npend = 0;
    ls->v0_hidden = false;
    ls->nfiles = 0;
    ls->files_head = 0;
    ls->end_ms = base_ms;
    rc = journal_mkdirs(ls->ldir);
    if (rc == 0)
        rc = live_new_period(ls, base_ms);
    if (rc != 0) {
        pkg_free(&ls->pkg);
        model_free(&ls->lm);
        model_free(&ls->rm);
    }
    return rc;
}

/* Ends the run: last segments, the static MPD, the journal sealed. */
static void
live_run_end(struct live_stream *ls)
{
    struct model *m;
    int rc;

    if (ls->pkg == NULL)
        return;
    rc = pkg_flush(ls->pkg);
    XXX_HANDLE(rc);
    live_ladder_stop(ls);
    evtimer_del(ls->flush_ev);
    m = ls->rm != NULL ? ls->rm : ls->lm;
    live_model_make_static(m);
    if (live_model_has_segments(m)) /* a run without segments leaves what was there */
        live_write_manifests(ls, m, true);
    /* The files take over from the live manifests in memory. */
    live_forget_mem(ls);
    rc = journal_seal(ls->jdir, ls->l->conf.journal_retention_ms > 0);
    if (rc != 0)
        LOG(LOG_ERR, "live", "seal_failed", "stream=%s err=%s", ls->name, err_name(rc));
    ls->prev_end_ms = ls->end_ms;
    ls->prev_end_known = true;
    pkg_free(&ls->pkg);
    model_free(&ls->lm);
    model_free(&ls->rm);
    ls->state = LIVE_S_IDLE;
    metric_inc(ls->l->runs_ended);
    LOG(LOG_INFO, "live", "run_ended", "stream=%s end_ms=%" PRIu64, ls->name, ls->end_ms);
}

static void
live_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct live_stream *ls;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    if (ls->state == LIVE_S_GRACE)
        live_run_end(ls);
}

static void
live_grace_arm(struct live_stream *ls)
{
    struct timeval tv;

    tv.tv_sec = ls->l->conf.grace_ms / 1000;
    tv.tv_usec = (long)(ls->l->conf.grace_ms % 1000) * 1000;
    ls->state = LIVE_S_GRACE;
    AZ(evtimer_add(ls->grace_ev, &tv));
}

/* Flushes the session's last segments (a gap follows) and refreshes the manifests. */
static void
live_session_end(struct live_stream *ls)
{
    int rc;

    rc = pkg_flush(ls->pkg);
    if (rc != 0)
        LOG(LOG_WARN, "live", "flush_failed", "stream=%s err=%s", ls->name, err_name(rc));
    if (ls->sup != NULL)
        ladder_sup_session_end(ls->sup);
    live_manifests_now(ls);
}

/* Reads stream.meta; with create, a stream never published gets ast = now (*created). */
static int
live_stream_load_meta(struct live_stream *ls, bool create, bool *created)
{
    int rc;

    rc = journal_meta_read(ls->jdir, &ls->ast_ms);
    if (rc == ERR_NOTFOUND && create) {
        ls->ast_ms = live_now_ms();
        rc = journal_meta_write(ls->jdir, ls->ast_ms);
        if (rc == 0 && created != NULL)
            *created = true;
    }
    return rc;
}

int
live_publish_begin(struct live *l, const char *name, struct live_stream **out)
{
    struct live_stream *ls;
    uint64_t now, base;
    bool first = false;
    int rc;

    CHECK_OBJ_NOTNULL(l, LIVE_MAGIC);
    rc = streams_live_begin(l->streams, name);
    if (rc != 0)
        return rc;
    ls = live_stream_find(l, name);
    if (ls == NULL)
        ls = live_stream_new(l, name);
    assert(ls->state != LIVE_S_PUBLISHING);
    if (ls->ast_ms == 0) {
        rc = live_stream_load_meta(ls, true, &first);
        if (rc != 0) {
            LOG(LOG_ERR, "live", "meta_failed", "stream=%s err=%s", name, err_name(rc));
            goto out_unlive;
        }
    }
    if (!ls->prev_end_known) {
        ls->prev_end_ms = live_read_prev_end(ls);
        ls->prev_end_known = true;
    }
    now = live_now_ms();
    /* The very first session starts the timeline at 0: its names are the
     * same wherever and whenever the same input is published. */
    base = now > ls->ast_ms && !first ? now - ls->ast_ms : 0;
    if (ls->state == LIVE_S_GRACE) {
        evtimer_del(ls->grace_ev);
        if (base < ls->end_ms)
            base = ls->end_ms;
    } else {
        if (base < ls->prev_end_ms)
            base = ls->prev_end_ms;
        rc = live_run_start(ls, base);
        if (rc != 0) {
            LOG(LOG_ERR, "live", "run_failed", "stream=%s err=%s", name, err_name(rc));
            goto out_unlive;
        }
    }
    rc = journal_open(l->syncer, ls->jdir, base, &ls->j);
    if (rc == ERR_EXISTS) {
        base++; /* a session that lasted less than a millisecond */
        rc = journal_open(l->syncer, ls->jdir, base, &ls->j);
    }
    if (rc == 0)
        journal_buffer(ls->j, l->conf.journal_buffer);
    if (rc == 0)
        rc = pkg_set_offset(ls->pkg, (int64_t)base);
    if (rc != 0) {
        journal_close(&ls->j);
        LOG(LOG_ERR, "live", "session_failed", "stream=%s err=%s", name, err_name(rc));
        if (ls->state == LIVE_S_GRACE)
            live_grace_arm(ls);
        else
            live_run_end(ls);
        goto out_unlive;
    }
    ls->base_ms = base;
    ls->journal_lost = false;
    ls->state = LIVE_S_PUBLISHING;
    metric_gauge_add(l->publishing, 1);
    LOG(LOG_INFO, "live", "session_start", "stream=%s base_ms=%" PRIu64 " ast_ms=%" PRIu64, name,
        base, ls->ast_ms);
    *out = ls;
    return 0;

out_unlive:
    streams_live_end(l->streams, name);
    return rc;
}

int
live_publish_tag(struct live_stream *ls, uint8_t type, int64_t dts_ms, const uint8_t *data,
                 size_t len)
{
    int rc;

    CHECK_OBJ_NOTNULL(ls, LIVE_STREAM_MAGIC);
    assert(ls->state == LIVE_S_PUBLISHING);
    if (dts_ms < 0)
        dts_ms = 0;
    /* The journal first: whatever fails after, the tag is on its way to disk. */
    if (!ls->journal_lost) {
        rc = journal_append(ls->j, type, (uint32_t)dts_ms, data, len);
        if (rc != 0) {
            ls->journal_lost = true;
            metric_inc(ls->l->journal_lost);
        }
    }
    return live_package(ls, type, (int64_t)(uint32_t)dts_ms, data, len);
}

void
live_publish_flush(struct live_stream *ls)
{
    CHECK_OBJ_NOTNULL(ls, LIVE_STREAM_MAGIC);
    assert(ls->state == LIVE_S_PUBLISHING);
    live_journal_flush(ls);
}

void
live_publish_end(struct live_stream *ls)
{
    CHECK_OBJ_NOTNULL(ls, LIVE_STREAM_MAGIC);
    assert(ls->state == LIVE_S_PUBLISHING);
    journal_close(&ls->j);
    live_session_end(ls);
    metric_gauge_add(ls->l->publishing, -1);
    streams_live_end(ls->l->streams, ls->name);
    live_grace_arm(ls);
    LOG(LOG_INFO, "live", "session_end", "stream=%s end_ms=%" PRIu64 " grace_ms=%" PRIu32, ls->name,
        ls->end_ms, ls->l->conf.grace_ms);
}

/* ---- recovery ---- */

static int
live_replay_tag(void *arg, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
    struct live_stream *ls;

    CAST_OBJ_NOTNULL(ls, arg, LIVE_STREAM_MAGIC);
    (void)live_package(ls, type, (int64_t)ts, data, len);
    return 0;
}

/* Replays the unsealed journal files of one stream; 1 when recovered, 0 when nothing to do. */
static int
live_recover_stream(struct live *l, const char *name)
{
    char path[LIVE_PATH_MAX];
    struct live_stream *ls;
    uint64_t *bases;
    long n, i, tags = 0;
    int rc;

    bases = xcalloc(LIVE_RECOVER_MAX, sizeof(*bases));
    if (snprintf(path, sizeof(path), "%s/%s", l->jroot, name) >= (int)sizeof(path))
        goto out_free;
    n = journal_list(path, bases, LIVE_RECOVER_MAX);
    if (n <= 0)
        goto out_free; /* the last run ended: nothing to replay */
    if (n > LIVE_RECOVER_MAX)
        n = LIVE_RECOVER_MAX; /* XXX_HANDLE: a run of more sessions loses the rest */
    ls = live_stream_new(l, name);
    rc = live_stream_load_meta(ls, false, NULL);
    if (rc != 0) {
        LOG(LOG_ERR, "live", "recover_failed", "stream=%s err=%s", name, err_name(rc));
        n = 0;
        goto out;
    }
    rc = live_run_start(ls, bases[0]);
    if (rc != 0) {
        LOG(LOG_ERR, "live", "recover_failed", "stream=%s err=%s", name, err_name(rc));
        n = 0;
        goto out;
    }
    ls->replaying = true;
    for (i = 0; i < n; i++) {
        long got;

        if (snprintf(path, sizeof(path), "%s/%0*" PRIu64 ".flv", ls->jdir, JOURNAL_NAME_DIGITS,
                     bases[i]) >= (int)sizeof(path))
            continue;
        if (pkg_set_offset(ls->pkg, (int64_t)bases[i]) != 0)
            LOG(LOG_WARN, "live", "recover_offset", "stream=%s base_ms=%" PRIu64, name, bases[i]);
        got = journal_replay(path, live_replay_tag, ls);
        if (got < 0)
            LOG(LOG_WARN, "live", "replay_failed", "stream=%s file=%s err=%s", name, path,
                err_name((int)got));
        else
            tags += got;
        live_session_end(ls);
    }
    ls->replaying = false;
    if (ls->manifests_on)
        live_write_manifests(ls, ls->lm, false);
    metric_inc(l->recovered);
    LOG(LOG_INFO, "live", "recovered", "stream=%s sessions=%ld tags=%ld end_ms=%" PRIu64, name, n,
        tags, ls->end_ms);
    /* Its publisher may come back; if not, the run ends as any other. */
    live_grace_arm(ls);
out:
    xfree(bases);
    return n > 0 ? 1 : 0;
out_free:
    xfree(bases);
    return 0;
}

int
live_recover(struct live *l)
{
    struct dirent *de;
    int recovered = 0;
    DIR *d;

    CHECK_OBJ_NOTNULL(l, LIVE_MAGIC);
    d = opendir(l->jroot);
    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d)) != NULL) {
        if (!origin_http_name_ok(de->d_name, strlen(de->d_name)) ||
            live_stream_find(l, de->d_name) != NULL)
            continue;
        recovered += live_recover_stream(l, de->d_name);
    }
    (void)closedir(d);
    return recovered;
}

/* ---- the whole ---- */

static void
live_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct live *l;
    unsigned n;

    (void)fd;
    (void)what;
    CAST_OBJ_NOTNULL(l, arg, LIVE_MAGIC);
    n = journal_sweep(l->jroot, l->conf.journal_retention_ms, live_now_ms());
    if (n > 0)
        LOG(LOG_INFO, "live", "journal_swept", "conn=0 files=%u", n);
}

int
live_new(struct event_base *base, const struct live_conf *c, struct streams *st, struct live **out)
{
    static const struct timeval sweep = {LIVE_SWEEP_MS / 1000, 0};
    struct live *l;
    int rc;

    l = xcalloc(1, sizeof(*l));
    l->magic = LIVE_MAGIC;
    l->base = base;
    l->conf = *c;
    l->conf.data_dir = xstrdup(c->data_dir);
    l->conf.ffmpeg = xstrdup(c->ffmpeg != NULL ? c->ffmpeg : "ffmpeg");
    l->streams = st;
    l->jroot = live_path_dup(c->data_dir, "journal", "");
    rc = journal_mkdirs(l->jroot);
    if (rc == 0) {
        char *lroot = live_path_dup(c->data_dir, "live", "");

        journal_topdir(l->jroot);
        if (journal_mkdirs(lroot) == 0)
            journal_topdir(lroot);
        xfree(lroot);
        rc = journal_syncer_start(c->journal_sync_ms, &l->syncer);
    }
    if (rc != 0) {
        xfree(l->jroot);
        xfree((void *)(uintptr_t)l->conf.data_dir);
        xfree((void *)(uintptr_t)l->conf.ffmpeg);
        FREE_OBJ(l);
        return rc;
    }
    l->sweep_ev = event_new(base, -1, EV_PERSIST, live_sweep_cb, l);
    AN(l->sweep_ev);
    AZ(event_add(l->sweep_ev, &sweep));
    l->segments = metrics_counter("origin.live.segments", "Media segments written.");
    l->bytes = metrics_counter("origin.live.segment_bytes", "Bytes of media segments written.");
    l->publishing = metrics_gauge("origin.live.publishing", "Streams with a publisher now.");
    l->pkg_errors = metrics_counter("origin.live.package_errors",
                                    "Tags the packager refused (the journal still has them).");
    l->unsupported = metrics_counter("origin.live.unsupported",
                                     "Tags of codecs other than H.264 and AAC, dropped.");
    l->recovered =
        metrics_counter("origin.live.recovered", "Streams whose journal was replayed at start-up.");
    l->runs_ended =
        metrics_counter("origin.live.runs_ended", "Runs that ended (static MPD written).");
    l->write_errors = metrics_counter("origin.live.write_errors",
                                      "Segment or manifest files that could not be written.");
    l->journal_lost =
        metrics_counter("origin.live.journal_lost", "Sessions that went on without their journal.");
    l->fillers =
        metrics_counter("origin.ladder.fillers",
                        "Encoded segments written as failover copies (the worker missed them).");
    l->afillers = metrics_counter("origin.ladder.audio_fillers",
                                  "Failover copies written for encoded audio segments.");
    l->late = metrics_counter("origin.ladder.late_segments",
                              "Encoded segments that came after their time was committed.");
    l->backfilled =
        metrics_counter("origin.ladder.backfilled",
                        "Failover copies written for a rung that joined a period late.");
    l->init_changed = metrics_counter("origin.ladder.init_changed",
                                      "Restarted workers whose init segment differed from before.");
    live_sweep_cb(-1, 0, l);
    *out = l;
    return 0;
}

void
live_free(struct live **pl)
{
    struct live *l = *pl;
    struct live_stream *ls;

    if (l == NULL)
        return;
    CHECK_OBJ(l, LIVE_MAGIC);
    while ((ls = l->head) != NULL) {
        l->head = ls->next;
        if (ls->state == LIVE_S_PUBLISHING)
            live_publish_end(ls);
        live_stream_free(ls);
    }
    event_free(l->sweep_ev);
    journal_syncer_stop(&l->syncer);
    xfree(l->jroot);
    xfree((void *)(uintptr_t)l->conf.data_dir);
    xfree((void *)(uintptr_t)l->conf.ffmpeg);
    FREE_OBJ(l);
    *pl = NULL;
}

unsigned
live_count(const struct live *l)
{
    CHECK_OBJ_NOTNULL(l, LIVE_MAGIC);
    return l->count;
}
