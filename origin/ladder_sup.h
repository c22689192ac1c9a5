/*
 * ladder_sup.h -- the supervisor of one live stream's transcoder: it runs
 * an ffmpeg worker (ladder_worker.h) that encodes the stream's video into
 * the ladder's rungs, feeds it the stream's FLV video tags, repackages
 * what comes back (pkg_fmp4_*) onto the stream's timeline, and keeps the
 * worker alive.
 *
 * Supervision: a worker that exits is restarted with exponential backoff;
 * one that makes no progress for two segment durations while being fed is
 * a hang (SIGTERM, then SIGKILL a second later); one that falls behind
 * real time by more than two segments is slow, and its top rung is
 * dropped (the worker restarts without it), and put back once the worker
 * has kept up for ladder.restore. Each restart begins at the
 * next source keyframe, so its output continues the same timeline.
 * A bounded number of workers run at once in the process; a stream past
 * that stays passthrough (logged, counted).
 *
 * Threads: the ingest thread (live.c's event base) only.
 * Not here: files, manifests, fillers (live.c); the ladder (shared/media/ladder.h).
 */
#ifndef CASCADE_LADDER_SUP_H
#define CASCADE_LADDER_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"
#include "media/ladder.h"
#include "pkg.h"

struct event_base;
struct ladder_sup;

#define LADDER_SUP_DISCLAIMER_MAX 256

struct ladder_sup_conf {
    const struct ladder *ladder; /* borrowed for the life of the supervisor */
    const char *ffmpeg;          /* borrowed: the program, looked up in PATH */
    uint32_t segment_ms;         /* keyframe cadence and the hang unit */
    int nice;                    /* the worker's niceness */
    unsigned threads;            /* ffmpeg -threads per encoder; 0 = ffmpeg's choice */
    unsigned max_workers;        /* in the whole process */
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t restore_ms; /* a dropped rung comes back after the worker kept up this long; 0 never */
    const char *disclaimer; /* borrowed for ladder_sup_new() only; NULL or "" = none */
};

/* Each init and media segment of a rung, on the stream's timeline (90 kHz for
 * video, the sample rate for audio); info (codecs, size) with the init
 * segments, NULL with media segments. out->track says which kind of rung:
 * rung indexes the picks (video) or the ladder's audio rungs (audio). */
typedef void ladder_sup_out_fn(void *arg, unsigned rung, const struct pkg_out *out,
                               const struct pkg_rep_info *info);

/*
 * A supervisor for stream name; nothing runs until the video is
 * configured and a keyframe arrives.
 */
void ladder_sup_new(struct event_base *base, const struct ladder_sup_conf *conf, const char *name,
                    ladder_sup_out_fn *fn, void *arg, struct ladder_sup **out);
/* Stops the worker (SIGKILL) and frees everything; no callback runs. */
void ladder_sup_free(struct ladder_sup **ps);

/*
 * The source's video configuration: the FLV video tag body of the AVC
 * sequence header and the coded size. Fits the ladder to the size (never
 * upscaling). Returns the number of rungs (0: the source is too small or
 * the stream was refused a worker -- passthrough only).
 */
unsigned ladder_sup_video_config(struct ladder_sup *s, const uint8_t *tag, size_t len,
                                 uint32_t width, uint32_t height);
/*
 * One video tag (FLV body) of the session: dts_ms on the session's clock,
 * base_ms where the session starts on the stream's timeline, cts_ms its
 * composition offset, key for a keyframe.
 */
void ladder_sup_video_tag(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                          int32_t cts_ms, bool key, uint64_t base_ms);
/*
 * The source's audio configuration: the FLV audio tag body of the AAC
 * sequence header and its sample rate. From the next worker start on, the
 * worker also encodes the ladder's audio rungs (a running worker without
 * them, or with another configuration, is restarted). Returns the number
 * of audio rungs (0: the ladder has none).
 */
unsigned ladder_sup_audio_config(struct ladder_sup *s, const uint8_t *tag, size_t len,
                                 uint32_t sample_rate);
/* One audio tag (FLV body) of the session, clocks as for ladder_sup_video_tag(). */
void ladder_sup_audio_tag(struct ladder_sup *s, const uint8_t *tag, size_t len, uint32_t dts_ms,
                          uint64_t base_ms);
/* The audio rungs this stream encodes once its audio is configured (the ladder's audio lines). */
unsigned ladder_sup_audio_rungs(const struct ladder_sup *s);
/* Audio rung i (index in the ladder's audio) is being produced now. */
bool ladder_sup_audio_live(const struct ladder_sup *s, unsigned rung);

/* The publisher left: the worker gets end of input, flushes and exits; restarts wait for
 * the next session's keyframe. */
void ladder_sup_session_end(struct ladder_sup *s);

/*
 * The text burned into every rung (NULL or "": none). A change restarts a
 * running worker at the next keyframe with the new overlay.
 */
void ladder_sup_set_disclaimer(struct ladder_sup *s, const char *text);

/*
 * The running worker draws the disclaimer into every rung, from key_ms on
 * (the stream's timeline, ms). False when no worker runs or it draws none.
 */
bool ladder_sup_overlay(const struct ladder_sup *s, uint64_t *key_ms);

/* The rungs this stream encodes (fixed for the supervisor's life). */
unsigned ladder_sup_rungs(const struct ladder_sup *s, const struct ladder_pick **picks);
/* The rung is being produced now: a worker runs, has made progress, and the rung is not dropped. */
bool ladder_sup_rung_live(const struct ladder_sup *s, unsigned rung);

#endif
