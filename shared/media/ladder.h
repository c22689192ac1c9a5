/*
 * ladder.h -- the transcode ladder: which renditions a source is encoded
 * into, and the encoder options that keep them aligned.
 *
 * One definition serves live (one ffmpeg worker per stream, ladder.c's
 * options on each output) and VOD (chunk workers): a list of video rungs
 * (an id, a height, a bit rate) and audio rungs (an id, a bit rate), read
 * from a ladder file or taken from the default. ladder_select() fits the
 * rungs to a source: never upscale, and the floor rung always present for
 * a source at least that tall. ladder_video_args() writes the ffmpeg
 * options that make every rendition's keyframes fall on the same fixed
 * cadence (closed GOP, no scene-cut keyframes), which is what lets segment
 * N of every rendition cover the same media time.
 *
 * Pure: no I/O, no allocation; the parser is fuzzed (fuzz_ladder.c).
 * Not here: running ffmpeg (origin), packaging (pkg.c).
 *
 * Ladder file syntax, one directive per line, '#' starts a comment:
 *   video ID HEIGHT KBPS     a video rung, e.g. "video 720p 720 3000"
 *   audio ID KBPS            an AAC rung, e.g. "audio aac128 128"
 *   preset NAME              x264 preset (default veryfast)
 * Ids are [A-Za-z0-9_-]{1,15} and unique; video rungs are listed from the
 * tallest to the shortest and the last one is the floor rung.
 */
#ifndef CASCADE_LADDER_H
#define CASCADE_LADDER_H

#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

#define LADDER_MAX_VIDEO 8
#define LADDER_MAX_AUDIO 4
#define LADDER_ID_MAX 16     /* with the NUL */
#define LADDER_MIN_HEIGHT 64 /* a rung shorter than this is rejected */
#define LADDER_MAX_HEIGHT 4320
#define LADDER_MAX_KBPS 100000
#define LADDER_FILE_MAX (64u << 10)

struct ladder_video {
    char id[LADDER_ID_MAX];
    uint32_t height;
    uint32_t kbps;
};

struct ladder_audio {
    char id[LADDER_ID_MAX];
    uint32_t kbps;
};

struct ladder {
    unsigned n_video;
    unsigned n_audio;
    struct ladder_video video[LADDER_MAX_VIDEO];
    struct ladder_audio audio[LADDER_MAX_AUDIO];
    char preset[LADDER_ID_MAX];
};

/* A video rung fitted to a source: the size to encode at. */
struct ladder_pick {
    const struct ladder_video *rung; /* borrowed from the struct ladder */
    uint32_t width;                  /* even, keeps the source's aspect */
    uint32_t height;                 /* even */
};

/*
 * The default ladder: 1080p 5000, 720p 3000, 480p 1200, 360p 700, 240p 300
 * (floor), AAC 128 and 64 kbit/s, preset veryfast.
 */
void ladder_default(struct ladder *l);

/*
 * Parses a ladder file. On failure returns ERR_CONF (bad syntax, a bad
 * value, a duplicate id, rungs out of order, no video rung) or ERR_LIMIT
 * (too many rungs, file too long), with *err_line set to the 1-based line
 * at fault (0 for the whole file) when err_line is not NULL.
 */
int ladder_parse(struct ladder *l, const char *text, size_t len, unsigned *err_line) WARN_UNUSED;

/* Checks the invariants ladder_parse() establishes (tests, fuzzers). */
int ladder_check(const struct ladder *l) WARN_UNUSED;

/*
 * Fits the video rungs to a src_w x src_h source: every rung no taller than
 * the source, tallest first; a source shorter than the floor rung gets the
 * floor rung at the source's own (even) size. Widths keep the source's
 * aspect ratio, rounded to even. Returns the number of picks written
 * (at most cap), or ERR_INVAL for a source of zero or absurd size.
 */
int ladder_select(const struct ladder *l, uint32_t src_w, uint32_t src_h, struct ladder_pick *out,
                  unsigned cap) WARN_UNUSED;

/*
 * Writes the ffmpeg output options that encode one video rung with
 * keyframes on a fixed cadence of gop_ms (closed GOP, scene-cut keyframes
 * off, B-frames allowed inside the GOP): "-c:v libx264 -preset P -b:v K
 * -maxrate ... -bufsize ... -vf scale=W:H -force_key_frames ... ". The
 * strings are written into buf, NUL-separated, and argv[] points into it.
 * Returns argc, or ERR_LIMIT when buf or argv is too small.
 */
int ladder_video_args(const struct ladder *l, const struct ladder_pick *p, uint32_t gop_ms,
                      char *buf, size_t bufsz, const char **argv, unsigned argv_cap) WARN_UNUSED;

/* The same for one audio rung: "-c:a aac -b:a Kk -ac 2". */
int ladder_audio_args(const struct ladder_audio *a, char *buf, size_t bufsz, const char **argv,
                      unsigned argv_cap) WARN_UNUSED;

#endif
