/*
 * pkg.h -- the passthrough CMAF packager: one live stream's H.264 and AAC
 * frames, as FLV carries them, in; per-representation init segments and
 * media segments (fragmented MP4 bytes in memory) out.
 *
 * The ingest configures each track from its sequence header, then pushes
 * frames in the order they arrived. The packager cuts the video at the
 * first keyframe at or after the target duration, cuts the audio at the
 * same media times (rounded to whole AAC frames), and hands each init
 * segment and each finished media segment to the caller's callback. The
 * same input always gives the same names (t) and the same bytes; see
 * docs/packaging.md for the box layout, timescales and cut rules.
 *
 * A struct pkg is used by one thread at a time. Its callback runs inside
 * pkg_push(), pkg_flush() and pkg_config_*(), and must not call back into
 * the same struct pkg.
 *
 * This is the only module that includes libavformat: AVERROR codes are
 * translated and logged here (mod=pkg) and never travel up. Not here: FLV
 * tag parsing (shared/proto/flv.c), writing files, numbering in manifests
 * (live_window.c), record parsing (pkg_cfg.c).
 */
#ifndef CASCADE_PKG_H
#define CASCADE_PKG_H

#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

enum pkg_track {
    PKG_VIDEO = 0,
    PKG_AUDIO = 1,
};
#define PKG_TRACKS 2

enum pkg_codec {
    PKG_CODEC_H264 = 1, /* config: AVCDecoderConfigurationRecord */
    PKG_CODEC_AAC = 2,  /* config: AudioSpecificConfig */
    /* PKG_CODEC_HEVC: HEVCDecoderConfigurationRecord, Enhanced RTMP (later) */
};

/* Timescales (ticks per second): video is fixed, audio is its sample rate. */
#define PKG_VIDEO_TIMESCALE 90000
#define PKG_TARGET_MS_DEFAULT 2000
/* Input timestamps (after the offset) must stay below this: ~278 years. */
#define PKG_MS_MAX (INT64_C(1) << 43)
/* A frame bigger than this is ERR_LIMIT. */
#define PKG_FRAME_MAX (16u << 20)

struct pkg_params {
    uint32_t target_ms;        /* segment target; 0 = PKG_TARGET_MS_DEFAULT; 100..60000 */
    uint32_t max_segment_size; /* bytes; 0 = 64 MiB. A segment growing past it is ERR_LIMIT */
    const char *stream;        /* borrowed for pkg_new() only: copied, for log lines */
};

enum pkg_out_kind {
    PKG_OUT_INIT = 1,    /* ftyp + moov: once per track and configuration generation */
    PKG_OUT_SEGMENT = 2, /* styp + moof + mdat: one CMAF fragment per segment */
};

/* What the callback is handed. Everything is borrowed until it returns. */
struct pkg_out {
    enum pkg_out_kind kind;
    enum pkg_track track;
    uint32_t gen;       /* configuration generation: 0, +1 per PKG_CFG_REPLACE */
    uint32_t timescale; /* ticks per second of t, d, ept */
    int64_t t;          /* SEGMENT: tfdt baseMediaDecodeTime: the name, {t}.m4s */
    int64_t d;          /* SEGMENT: sum of the sample durations; t + d is the next t */
    int64_t ept;        /* SEGMENT: earliest presentation time (== t unless the
                         * first keyframe's composition offset differs from the
                         * track's first one) */
    uint32_t samples;   /* SEGMENT: frames in it */
    uint8_t sap_type;   /* SEGMENT: 1 (IDR, or audio), 3 (keyframe without IDR) */
    const uint8_t *data;
    size_t len;
};

/*
 * Called once per output, in production order (a track's outputs are in
 * time order; video and audio interleave as their cuts complete). A
 * negative return is passed up from the pkg call that produced the output;
 * the output is gone either way.
 */
typedef int pkg_out_cb(void *arg, const struct pkg_out *out);

struct pkg;

/*
 * A packager for one stream. target_ms out of range is ERR_INVAL (and
 * *pp stays NULL). Nothing is produced until a track is configured.
 */
int pkg_new(struct pkg **pp, const struct pkg_params *params, pkg_out_cb *cb,
            void *cb_arg) WARN_UNUSED;
/* Frees without flushing (call pkg_flush() first to get the last segments). */
void pkg_free(struct pkg **pp);

struct pkg_video_cfg {
    enum pkg_codec codec;  /* PKG_CODEC_H264 */
    const uint8_t *record; /* borrowed for the call: AVCDecoderConfigurationRecord */
    size_t record_len;
    uint32_t width, height;    /* 0 = the SPS's cropped size */
    uint32_t fps_num, fps_den; /* 0 = unknown; only used for a lone last frame's duration */
};

struct pkg_audio_cfg {
    enum pkg_codec codec; /* PKG_CODEC_AAC */
    const uint8_t *asc;   /* borrowed for the call: AudioSpecificConfig */
    size_t asc_len;
    uint32_t sample_rate; /* ignored: the AudioSpecificConfig's rate is used */
    uint8_t channels;     /* used only when the ASC's channelConfiguration is 0 */
};

/* Accept a changed configuration as a new generation instead of ERR_EXISTS. */
#define PKG_CFG_REPLACE 1u

/*
 * Configures a track from its sequence header. The first call emits the
 * track's init segment. Calling again with the same bytes (an encoder that
 * reconnects or repeats its sequence header) changes nothing. A different
 * configuration is ERR_EXISTS, with the track unchanged, unless flags has
 * PKG_CFG_REPLACE: then the track's open segment is finished, gen is
 * incremented and a new init segment is emitted (the caller names it as a
 * new representation). Other errors: ERR_MEDIA for a record that does not
 * parse (the track keeps its previous configuration, or stays
 * unconfigured), ERR_INVAL for a wrong codec or arguments, or the
 * callback's error. A track failed by libavformat is reopened by the next
 * configuration, same bytes or not, as a new generation.
 */
int pkg_config_video(struct pkg *p, const struct pkg_video_cfg *cfg, unsigned flags) WARN_UNUSED;
int pkg_config_audio(struct pkg *p, const struct pkg_audio_cfg *cfg, unsigned flags) WARN_UNUSED;

struct pkg_frame {
    int64_t dts_ms;      /* decode time, ms: FLV's timestamp, extended past 32 bits */
    int32_t cts_ms;      /* composition offset, ms (FLV's SI24); 0 for audio */
    int key;             /* FLV frame type 1 (video); ignored for audio */
    const uint8_t *data; /* borrowed for the call: AVCC length-prefixed NAL units,
                          * or one raw AAC access unit */
    size_t len;
};

/*
 * Pushes one frame. Errors leave the packager as it was, so the caller may
 * drop the frame and go on: ERR_PROTO for a frame on an unconfigured track,
 * a decode time that does not increase (after the offset) or a negative
 * composition offset, ERR_MEDIA for AVCC framing that does not add up, an
 * empty frame or ADTS-framed AAC, ERR_LIMIT for a frame over PKG_FRAME_MAX
 * or a segment over max_segment_size, ERR_INVAL for bad arguments or a
 * time past PKG_MS_MAX; or the callback's error. The exception: when
 * libavformat itself fails (logged), the track is failed and returns
 * ERR_MEDIA until it is configured again. Video frames before the first
 * keyframe of a session are dropped (counted in pkg_stats), since a
 * segment must start with one.
 */
int pkg_push(struct pkg *p, enum pkg_track track, const struct pkg_frame *f) WARN_UNUSED;

/*
 * Ends the current segments of both tracks (stream end, disconnect): the
 * last video frame lasts as long as the one before it. Afterwards the next
 * session may start over in time once pkg_set_offset() says where.
 */
int pkg_flush(struct pkg *p) WARN_UNUSED;

/*
 * Adds offset_ms to every timestamp pushed from now on, so a reconnecting
 * publisher whose clock restarts at 0 continues the same timeline. Only
 * between sessions (before the first frame or after pkg_flush()): else
 * ERR_INVAL. Times must still not go back: offset = pkg_end_ms() + gap -
 * (first dts of the new session) continues after a gap.
 */
int pkg_set_offset(struct pkg *p, int64_t offset_ms) WARN_UNUSED;
/* End of the timeline so far, in ms on the offset timeline (input ms + offset), rounded up;
 * 0 when nothing was segmented yet. */
int64_t pkg_end_ms(const struct pkg *p);

struct pkg_rep_info {
    int configured;
    enum pkg_codec codec;
    uint32_t gen;
    uint32_t timescale;
    char codecs[24];           /* RFC 6381: "avc1.64001f", "mp4a.40.2" */
    uint32_t width, height;    /* video */
    uint32_t fps_num, fps_den; /* video, 0 when unknown */
    uint32_t sample_rate;      /* audio */
    uint8_t channels;          /* audio */
};
/* What the manifest needs to describe a representation. */
void pkg_rep_info(const struct pkg *p, enum pkg_track track, struct pkg_rep_info *out);

struct pkg_stats {
    uint64_t frames;   /* frames accepted */
    uint64_t dropped;  /* video frames dropped before a keyframe */
    uint64_t rejected; /* pushes that returned an error */
    uint64_t segments;
    uint64_t bytes;         /* segment bytes emitted */
    uint64_t audio_resyncs; /* audio gaps: the sample clock jumped to the input's time */
};
void pkg_stats(const struct pkg *p, enum pkg_track track, struct pkg_stats *out);

/* Invariants (asserts); called on entry of every pkg call in debug builds. */
void pkg_check(const struct pkg *p);

/*
 * Routes libav* log lines into our log (mod=libav, rate limited, at
 * debug/info). Process-wide; call once at start-up.
 */
void pkg_global_init(void);

/*
 * Repackaging a fragmented MP4 byte stream with one H.264 or AAC track (a
 * transcoder rendition arriving over a pipe) into the same outputs: one
 * init segment, then one media segment per input fragment (moof + mdat),
 * re-timed and re-muxed exactly like the passthrough (styp, tfdt = t, one
 * fragment per segment). Times keep the input track's timescale plus
 * `offset` ticks (a restarted transcoder continues the timeline), and t
 * is the first sample's decode time shifted by its composition offset,
 * as in pkg_push(). A video fragment that does not start with a keyframe,
 * or starts back in time, is dropped (counted in `dropped`).
 *
 * Bytes may be fed in any pieces. The demuxer (libavformat's mov, over a
 * read-only AVIOContext on a queue) only runs once a whole fragment is
 * queued, so it never waits for input. Framing errors (a box of size 0 or
 * too big, a second moov, mdat without moof, two tracks) fail the reader:
 * the caller starts a new one on the next transcoder run.
 */
struct pkg_fmp4;

struct pkg_fmp4_params {
    enum pkg_track track; /* the kind of the stream's only track */
    int64_t offset;       /* ticks of the input's timescale added to every time, >= 0 */
    uint32_t max_box;     /* largest top-level box, also the segment cap; 0 = 64 MiB */
    const char *stream;   /* borrowed for pkg_fmp4_new() only */
};

int pkg_fmp4_new(struct pkg_fmp4 **pp, const struct pkg_fmp4_params *params, pkg_out_cb *cb,
                 void *cb_arg) WARN_UNUSED;
/*
 * Feeds bytes; outputs are emitted from inside. 0; ERR_PROTO or ERR_LIMIT
 * for broken framing, ERR_MEDIA for a stream that does not demux or is not
 * one H.264/AAC track (all three fail the reader for good); the callback's
 * error.
 */
int pkg_fmp4_feed(struct pkg_fmp4 *f, const uint8_t *p, size_t len) WARN_UNUSED;
/* End of input: ERR_PROTO when it stopped inside a box or fragment. */
int pkg_fmp4_end(struct pkg_fmp4 *f) WARN_UNUSED;
void pkg_fmp4_info(const struct pkg_fmp4 *f, struct pkg_rep_info *out);
void pkg_fmp4_stats(const struct pkg_fmp4 *f, struct pkg_stats *out);
/* End of the last segment emitted (ticks); 0 before the first. */
int64_t pkg_fmp4_end_time(const struct pkg_fmp4 *f);
void pkg_fmp4_free(struct pkg_fmp4 **pp);

/*
 * Keyframe index of a media file for VOD chunking (libavformat reads
 * packets; nothing is decoded). Times are the first video stream's
 * presentation times in its own time base (tb_num/tb_den).
 */
struct pkg_index {
    uint32_t tb_num, tb_den;
    size_t n;         /* keyframes */
    int64_t *key_pts; /* owned: n keyframe times, ascending */
    int64_t end_pts;  /* end of the last video frame */
    uint64_t frames;  /* video packets read */
};
/*
 * 0; ERR_NOTFOUND when the file cannot be opened, ERR_MEDIA when it has no
 * video stream or does not demux; ERR_LIMIT past 10^7 keyframes.
 */
int pkg_index_file(const char *path, struct pkg_index *out) WARN_UNUSED;
void pkg_index_free(struct pkg_index *ix);

#endif
