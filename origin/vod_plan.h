/*
 * vod_plan.h -- the map step's pure parts: reading the scene-cut pass's
 * output, scoring scenes, classing a video as engaging, and cutting it
 * into chunks (docs/vod.md "Map").
 *
 * The scene-cut pass is ffmpeg's select filter printing every frame's
 * scene score ("frame:N pts:P pts_time:T" then "lavfi.scene_score=S");
 * vod_scan reads that text incrementally. vod_scenes turns the scores into
 * scenes (a cut is a frame whose score reaches the threshold) with an
 * engagement score each, and says whether the video is engaging.
 * vod_plan_chunks() picks chunk starts among the keyframes: at scene cuts
 * for an engaging video, uniformly otherwise.
 *
 * Pure: no I/O, no clock. vod_scan does not allocate; vod_scenes owns its
 * array. Not here: running ffmpeg or reading keyframes (vod.c, pkg.c).
 */
#ifndef CASCADE_VOD_PLAN_H
#define CASCADE_VOD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

#define VOD_SCAN_LINE_MAX 256
#define VOD_SCENE_MIN_MS 500 /* cuts closer than this to the last one are ignored */
#define VOD_SCENES_MAX 4096  /* MODEL_MAX_SCENES: later cuts are merged into the last scene */

/* One frame's scene score: t_ms its presentation time, score 0..1. */
typedef void vod_scan_cb(void *arg, int64_t t_ms, double score);

struct vod_scan {
    char line[VOD_SCAN_LINE_MAX];
    size_t len;
    bool skipping;   /* the current line is too long: ignored */
    bool have_t;     /* a frame line was read and its score not yet */
    int64_t t_ms;    /* that frame's time */
    uint64_t frames; /* scores given out */
};

void vod_scan_init(struct vod_scan *s);
/*
 * Feeds text; calls cb once per frame with a score. Lines it does not know
 * are skipped (ffmpeg may print others). Returns len, or ERR_PROTO for a
 * frame or score line whose number does not parse or is out of range.
 */
long vod_scan_feed(struct vod_scan *s, const uint8_t *p, size_t len, vod_scan_cb *cb,
                   void *arg) WARN_UNUSED;
void vod_scan_check(const struct vod_scan *s);

/* Thresholds, in thousandths (the config keys vod.scene_threshold, ...). */
struct vod_scene_params {
    uint32_t cut_milli;       /* a frame with score >= this starts a scene (300 = 0.3) */
    uint32_t engaging_cuts;   /* cuts per minute at which a video is engaging */
    uint32_t engaging_motion; /* mean frame score (thousandths) at which a video is engaging */
};

struct vod_scene {
    int64_t start_ms;
    int64_t dur_ms;
    double cut;        /* score of the cut that starts it; 0 for the first scene */
    double motion;     /* mean score of its other frames */
    double engagement; /* 0..1, see vod_scenes_finish() */
};

struct vod_scenes {
    struct vod_scene *v; /* owned */
    size_t n, cap;
    uint64_t frames;
    double sum;       /* of all frames' scores but the cuts */
    double scene_sum; /* of the current scene's frames but its first */
    uint64_t scene_frames;
    /* results of vod_scenes_finish() */
    uint32_t cuts;
    double cuts_per_min;
    double mean_motion;
    bool engaging;
};

void vod_scenes_init(struct vod_scenes *sc);
void vod_scenes_free(struct vod_scenes *sc);
/* One frame, in time order. */
void vod_scenes_frame(struct vod_scenes *sc, const struct vod_scene_params *p, int64_t t_ms,
                      double score);
/*
 * Closes the last scene at dur_ms and scores: a scene's engagement is
 * 0.5 * min(1, cut) + 0.5 * min(1, motion / (2 * engaging_motion)); the
 * video is engaging when cuts per minute >= engaging_cuts or the mean
 * motion >= engaging_motion.
 */
void vod_scenes_finish(struct vod_scenes *sc, const struct vod_scene_params *p, int64_t dur_ms);

struct vod_plan_params {
    uint32_t seg_ms;   /* segment duration */
    uint32_t chunk_ms; /* uniform chunk length (a whole number of segments) */
    uint32_t min_ms;   /* scene-cut chunks: shortest */
    uint32_t max_ms;   /* scene-cut chunks: longest */
    uint32_t tol_ms;   /* a keyframe this close to a cut (or a uniform mark) counts as on it */
};

/*
 * Chunk starts as indices into key_ms[0..nkeys) (ascending keyframe times,
 * key_ms[0] the start), written to out[0..cap); returns the number of
 * chunks (>= 1), or ERR_INVAL for no keyframes or bad parameters.
 * Uniform: each next start is the first keyframe at or after start +
 * chunk_ms - tol_ms. Engaging: the first keyframe within tol_ms of a cut
 * that lies in [start + min_ms, start + max_ms]; when there is none, the
 * uniform rule, capped at max_ms when a keyframe allows. A last chunk
 * shorter than min_ms (or than half a uniform chunk) joins the one before.
 */
int vod_plan_chunks(const int64_t *key_ms, size_t nkeys, int64_t dur_ms, const int64_t *cuts_ms,
                    size_t ncuts, bool engaging, const struct vod_plan_params *p, size_t *out,
                    size_t cap) WARN_UNUSED;

#endif
