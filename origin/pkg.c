/*
 * pkg.c -- passthrough CMAF packaging through libavformat's mp4 muxer.
 *
 * Each track (representation) owns one mp4 muxer writing through a custom
 * write-only AVIOContext into a growable memory buffer: the header becomes
 * the init segment, and every fragment the muxer is told to flush becomes
 * one media segment. The muxer never decides where to cut or what time a
 * fragment has: this file does, and it checks the tfdt of every fragment
 * the muxer wrote against the time it meant.
 *
 * Video frames are held back one frame, so each frame's duration is the
 * distance to the next one's decode time and the segment ends exactly where
 * the next keyframe begins. Audio frames wait in a queue until the video
 * has shown whether a cut falls before them (see pkg_audio_pump()). Video
 * decode times are shifted by the first keyframe's composition offset, so
 * a segment's tfdt is its keyframe's presentation time (trun version 1,
 * negative composition offsets, no edit list).
 *
 * Also here, because they are libavformat too: the fragmented-MP4 reader
 * (struct pkg_fmp4: a transcoder's rendition re-muxed through the same
 * track machinery, its mov demuxer reading a queue of whole fragments
 * through a read-only AVIOContext) and the keyframe index of a file.
 *
 * Ownership: struct pkg owns its tracks; a track owns its muxer, its
 * AVIOContext (and the av_malloc'd buffer in it), its held frame and audio
 * queue. A struct pkg_fmp4 owns a struct pkg, its demuxer and its queues.
 * The caller's frame and config bytes are borrowed for the call and copied
 * when kept. Not here: record parsing (pkg_cfg.c), files (caller).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "pkg.h"
#include "pkg_cfg.h"
#include "compat.h"

/* The AVIO write callback's buffer became const in libavformat 61. */
#if defined(FF_API_AVIO_WRITE_NONCONST) && !FF_API_AVIO_WRITE_NONCONST
#define PKG_AVIO_CONST const
#else
#define PKG_AVIO_CONST
#endif

#define PKG_AVIO_BUF_SIZE 65536
#define PKG_MAX_SEGMENT_DEFAULT (64u << 20)
/* Audio frames that may wait for the video before they are committed anyway. */
#define PKG_AQ_MAX 1024
/* Video cuts the audio has not reached yet; older ones are dropped (they are empty). */
#define PKG_CUTS_MAX 32
/* A cut is taken at a keyframe this close to the target (1/10 of it), so ms rounding
 * in the input never turns a 2 s GOP into a 4 s segment. */
#define PKG_CUT_SLACK_DIV 10
/* Samples in one fragment of a transcoder's fMP4 (10 min of 1024-sample audio at 96 kHz). */
#define PKG_FMP4_FRAG_MAX 60000u

/* SPEC: ISO/IEC 14496-12 8.16.2 -- 'styp': major 'cmfs' (CMAF segment, ISO/IEC 23000-19
 * 7.2), minor 0, compatible 'cmfs' 'cmff' 'msdh' (ISO/IEC 23009-1 6.3.4.2). */
/* clang-format off */
static const uint8_t pkg_styp[28] = {
    0, 0, 0, 28, 's', 't', 'y', 'p',  /* size, type */
    'c', 'm', 'f', 's', 0, 0, 0, 0,   /* major_brand, minor_version */
    'c', 'm', 'f', 's', 'c', 'm', 'f', 'f', 'm', 's', 'd', 'h', /* compatible_brands */
};
/* clang-format on */

struct pkg_buf {
    uint8_t *p; /* owned (xmalloc) */
    size_t len;
    size_t cap;
};

/* A frame kept between pushes: the held video frame or a queued audio frame. */
struct pkg_sample {
    int64_t dts; /* track timescale */
    int64_t pts;
    uint8_t key;
    uint8_t idr;
    struct pkg_buf data;
};

struct pkg_trk {
    enum pkg_track kind;
    int configured;
    struct pkg *pkg; /* borrowed: the owner, for the AVIO callback */
    int failed;      /* libavformat failed mid-way: the track only returns ERR_MEDIA now */
    uint32_t gen;
    uint32_t timescale;
    uint32_t width, height, fps_num, fps_den;
    uint8_t channels;
    uint8_t *record; /* owned: the configuration bytes as given */
    size_t record_len;
    struct pkg_cfg_avc avc;
    struct pkg_cfg_aac aac;

    AVFormatContext *mux; /* owned */
    AVIOContext *pb;      /* owned, with its av_malloc'd buffer */
    AVPacket *pkt;        /* owned, reused for every write */
    struct pkg_buf out;   /* muxer output not yet handed to the callback */

    /* the segment being built */
    int seg_open;
    uint32_t seg_samples;
    int64_t seg_t;    /* decode time of its first sample */
    int64_t seg_ept;  /* earliest presentation time so far */
    int64_t seg_end;  /* decode time + duration of the last sample written */
    size_t seg_bytes; /* sample bytes in it, the held frame included */
    uint8_t seg_sap;

    /* the timeline */
    int have_in; /* a frame was accepted since pkg_new() */
    int have_end;
    int64_t last_in_ms; /* its input decode time, after the offset */
    int64_t end;        /* end of the last segment emitted (timescale) */

    /* video */
    int shift_set;
    int has_held;
    int64_t shift; /* the muxer's first composition offset: added to every decode time */
    int64_t last_dur;
    struct pkg_sample held;

    /* audio */
    struct pkg_sample *aq; /* owned: ring of PKG_AQ_MAX, allocated with the config */
    size_t aq_head, aq_len;
    int have_next;
    int64_t next_s; /* where the next frame starts on the sample clock */

    struct pkg_stats stats;
};

struct pkg {
    unsigned magic;
#define PKG_MAGIC 0x706b6731U
    char *stream; /* owned: for log lines */
    uint32_t target_ms;
    uint32_t max_segment;
    pkg_out_cb *cb;
    void *cb_arg;
    int busy;  /* a call is running: the callback must not re-enter */
    int cb_rc; /* first callback error of the running call */

    int64_t offset_ms;
    int in_session; /* frames were accepted since pkg_new() or pkg_flush() */

    /* Video cut times (90 kHz) the audio has not passed yet, oldest first. */
    int64_t cuts[PKG_CUTS_MAX];
    size_t ncuts;
    int have_progress;
    int64_t progress; /* decode time of the newest video frame accepted */

    struct pkg_trk trk[PKG_TRACKS];
};

static const char *const pkg_track_names[PKG_TRACKS] = {"video", "audio"};

typedef __int128 pkg_i128;

/* ------------------------------------------------------------------ buffers */

static void
pkg_buf_reserve(struct pkg_buf *b, size_t n)
{
    size_t cap;

    if (b->cap - b->len >= n)
        return;
    cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        assert(cap <= SIZE_MAX / 2);
        cap *= 2;
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void
pkg_buf_append(struct pkg_buf *b, const uint8_t *d, size_t n)
{
    if (n == 0)
        return;
    pkg_buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void
pkg_buf_set(struct pkg_buf *b, const uint8_t *d, size_t n)
{
    b->len = 0;
    pkg_buf_append(b, d, n);
}

static void
pkg_buf_free(struct pkg_buf *b)
{
    xfree(b->p);
    memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------ libav glue */

/* Logs a libavformat failure once, with its text, and maps it to ERR_MEDIA. */
static int
pkg_av_fail(const struct pkg_trk *t, const char *what, int averr)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];

    if (av_strerror(averr, msg, sizeof(msg)) != 0)
        (void)snprintf(msg, sizeof(msg), "averror %d", averr);
    LOG(LOG_ERR, "pkg", "libav_failed", "stream=%s track=%s call=%s err=\"%s\"", t->pkg->stream,
        pkg_track_names[t->kind], what, msg);
    return ERR_MEDIA;
}

static int
pkg_avio_write(void *opaque, PKG_AVIO_CONST uint8_t *buf, int size)
{
    struct pkg_trk *t = opaque;

    CHECK_OBJ_NOTNULL(t->pkg, PKG_MAGIC);
    if (size < 0)
        return AVERROR(EINVAL);
    pkg_buf_append(&t->out, buf, (size_t)size);
    return size;
}

static void
pkg_mux_close(struct pkg_trk *t)
{
    if (t->mux != NULL) {
        avformat_free_context(t->mux);
        t->mux = NULL;
    }
    if (t->pb != NULL) {
        av_freep(&t->pb->buffer);
        avio_context_free(&t->pb);
    }
    av_packet_free(&t->pkt);
    t->out.len = 0;
}

static int
pkg_mux_fill_params(struct pkg_trk *t, AVStream *st)
{
    AVCodecParameters *par = st->codecpar;

    par->extradata = av_mallocz(t->record_len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (par->extradata == NULL)
        return AVERROR(ENOMEM);
    memcpy(par->extradata, t->record, t->record_len);
    par->extradata_size = (int)t->record_len;
    if (t->kind == PKG_VIDEO) {
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = AV_CODEC_ID_H264;
        par->width = (int)t->width;
        par->height = (int)t->height;
        if (t->fps_num != 0 && t->fps_den != 0)
            st->avg_frame_rate = (AVRational){(int)t->fps_num, (int)t->fps_den};
    } else {
        par->codec_type = AVMEDIA_TYPE_AUDIO;
        par->codec_id = AV_CODEC_ID_AAC;
        par->sample_rate = (int)t->aac.sample_rate;
        par->frame_size = (int)t->aac.frame_len;
        av_channel_layout_default(&par->ch_layout, t->channels);
    }
    st->time_base = (AVRational){1, (int)t->timescale};
    return 0;
}

/*
 * Opens the track's muxer and writes the header into t->out (the init
 * segment). 0 or ERR_MEDIA (logged).
 */
static int
pkg_mux_open(struct pkg_trk *t)
{
    AVDictionary *opts = NULL;
    AVStream *st;
    uint8_t *iobuf;
    char ts[16];
    int rc;

    assert(t->mux == NULL);
    t->out.len = 0;
    if (FAULT("pkg.mux_open"))
        return pkg_av_fail(t, "fault", AVERROR(ENOMEM));
    rc = avformat_alloc_output_context2(&t->mux, NULL, "mp4", NULL);
    if (rc < 0)
        return pkg_av_fail(t, "avformat_alloc_output_context2", rc);
    /* No version strings in the boxes, and timestamps exactly as given. */
    t->mux->flags |= AVFMT_FLAG_BITEXACT | AVFMT_FLAG_CUSTOM_IO;
    t->mux->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    iobuf = av_malloc(PKG_AVIO_BUF_SIZE);
    if (iobuf == NULL) {
        rc = AVERROR(ENOMEM);
        goto out_fail;
    }
    t->pb = avio_alloc_context(iobuf, PKG_AVIO_BUF_SIZE, 1, t, NULL, pkg_avio_write, NULL);
    if (t->pb == NULL) {
        av_free(iobuf);
        rc = AVERROR(ENOMEM);
        goto out_fail;
    }
    t->pb->seekable = 0;
    t->mux->pb = t->pb;
    t->pkt = av_packet_alloc();
    st = avformat_new_stream(t->mux, NULL);
    if (t->pkt == NULL || st == NULL) {
        rc = AVERROR(ENOMEM);
        goto out_fail;
    }
    rc = pkg_mux_fill_params(t, st);
    if (rc < 0)
        goto out_fail;
    /*
     * frag_custom: fragments only when we flush; empty_moov + default_base_moof +
     * cmaf: CMAF header and fragments; negative_cts_offsets + no edit list: the
     * muxer adds the first packet's composition offset to every decode time
     * (trun version 1), so presentation times stay as given; frag_discont
     * (set again before each segment): the fragment's tfdt is its first
     * packet's (shifted) decode time, not a running sum of durations.
     */
    av_dict_set(&opts, "movflags",
                "+frag_custom+empty_moov+default_base_moof+cmaf+negative_cts_offsets"
                "+skip_sidx+skip_trailer+frag_discont",
                0);
    av_dict_set(&opts, "use_editlist", "0", 0);
    av_dict_set(&opts, "write_tmcd", "0", 0);
    if (t->kind == PKG_VIDEO) {
        (void)snprintf(ts, sizeof(ts), "%u", (unsigned)t->timescale);
        av_dict_set(&opts, "video_track_timescale", ts, 0);
    }
    rc = avformat_write_header(t->mux, &opts);
    av_dict_free(&opts);
    if (rc < 0)
        goto out_fail;
    if (st->time_base.num != 1 || st->time_base.den != (int)t->timescale) {
        LOG(LOG_ERR, "pkg", "timescale_mismatch", "stream=%s track=%s want=%u got=%d/%d",
            t->pkg->stream, pkg_track_names[t->kind], (unsigned)t->timescale, st->time_base.num,
            st->time_base.den);
        pkg_mux_close(t);
        return ERR_MEDIA;
    }
    avio_flush(t->pb);
    if (t->pb->error < 0) {
        rc = t->pb->error;
        goto out_fail;
    }
    return 0;

out_fail:
    av_dict_free(&opts);
    rc = pkg_av_fail(t, "mux_open", rc);
    pkg_mux_close(t);
    return rc;
}

/* ------------------------------------------------------------------ boxes */

static uint32_t
pkg_rb32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Finds the first box of type `type` among the boxes in [p, p+len), and
 * returns its payload through *body and *blen. 0 or ERR_NOTFOUND (or ERR_MEDIA
 * for sizes that do not add up).
 */
static int
pkg_box_find(const uint8_t *p, size_t len, const char *type, const uint8_t **body, size_t *blen)
{
    size_t pos = 0, size;

    while (len - pos >= 8) {
        size = pkg_rb32(p + pos);
        if (size < 8 || size > len - pos)
            return ERR_MEDIA;
        if (memcmp(p + pos + 4, type, 4) == 0) {
            *body = p + pos + 8;
            *blen = size - 8;
            return 0;
        }
        pos += size;
    }
    return ERR_NOTFOUND;
}

/* The baseMediaDecodeTime in the first moof/traf/tfdt of a fragment. */
static int
pkg_frag_tfdt(const uint8_t *p, size_t len, int64_t *tfdt)
{
    const uint8_t *b;
    size_t n;
    uint64_t v;

    if (pkg_box_find(p, len, "moof", &b, &n) != 0 || pkg_box_find(b, n, "traf", &b, &n) != 0 ||
        pkg_box_find(b, n, "tfdt", &b, &n) != 0 || n < 8)
        return ERR_MEDIA;
    /* SPEC: ISO/IEC 14496-12 8.8.12 -- version 1 has a 64-bit time. */
    if (b[0] == 1 && n >= 12)
        v = (uint64_t)pkg_rb32(b + 4) << 32 | pkg_rb32(b + 8);
    else if (b[0] == 0)
        v = pkg_rb32(b + 4);
    else
        return ERR_MEDIA;
    if (v > INT64_MAX)
        return ERR_MEDIA;
    *tfdt = (int64_t)v;
    return 0;
}

/* ------------------------------------------------------------------ output */

static void
pkg_emit(struct pkg *p, const struct pkg_out *o)
{
    int rc;

    rc = p->cb(p->cb_arg, o);
    if (rc < 0 && p->cb_rc == 0)
        p->cb_rc = rc;
}

static void
pkg_emit_init(struct pkg_trk *t)
{
    struct pkg_out o;

    memset(&o, 0, sizeof(o));
    o.kind = PKG_OUT_INIT;
    o.track = t->kind;
    o.gen = t->gen;
    o.timescale = t->timescale;
    o.data = t->out.p;
    o.len = t->out.len;
    pkg_emit(t->pkg, &o);
    t->out.len = 0;
}

/* Writes one sample to the muxer. 0 or ERR_MEDIA (the track is then failed). */
static int
pkg_mux_write(struct pkg_trk *t, const struct pkg_sample *s, int64_t duration)
{
    AVPacket *pkt = t->pkt;
    int rc;

    assert(t->seg_open && duration > 0);
    if (t->seg_samples == 0) {
        /* SPEC: ISO/IEC 14496-12 8.8.12 -- tfdt is the segment's t, whatever came before. */
        rc = av_opt_set(t->mux->priv_data, "movflags", "+frag_discont", 0);
        if (rc < 0) {
            t->failed = 1;
            return pkg_av_fail(t, "av_opt_set", rc);
        }
    }
    av_packet_unref(pkt);
    pkt->data = s->data.p;
    pkt->size = (int)s->data.len;
    pkt->stream_index = 0;
    /* The muxer adds the shift back (negative_cts_offsets); audio from FLV has none. */
    pkt->dts = s->dts - t->shift;
    pkt->pts = s->pts;
    pkt->duration = duration;
    pkt->flags = s->key ? AV_PKT_FLAG_KEY : 0;
    rc = FAULT("pkg.mux_write") ? AVERROR(ENOMEM) : av_write_frame(t->mux, pkt);
    pkt->data = NULL;
    pkt->size = 0;
    if (rc < 0) {
        t->failed = 1;
        return pkg_av_fail(t, "av_write_frame", rc);
    }
    t->seg_end = s->dts + duration;
    t->seg_samples++;
    return 0;
}

/*
 * Ends the open segment: flushes the muxer's fragment and hands styp +
 * moof + mdat to the callback. 0 or ERR_MEDIA (the track is then failed).
 */
static int
pkg_seg_finish(struct pkg_trk *t)
{
    struct pkg *p = t->pkg;
    struct pkg_out o;
    int64_t tfdt = -1;
    int rc;

    assert(t->seg_open && t->seg_samples > 0);
    t->out.len = 0;
    pkg_buf_append(&t->out, pkg_styp, sizeof(pkg_styp));
    rc = FAULT("pkg.mux_flush") ? AVERROR(EIO) : av_write_frame(t->mux, NULL);
    if (rc >= 0) {
        avio_flush(t->pb);
        rc = t->pb->error;
    }
    if (rc < 0) {
        t->failed = 1;
        return pkg_av_fail(t, "flush_fragment", rc);
    }
    rc = pkg_frag_tfdt(t->out.p + sizeof(pkg_styp), t->out.len - sizeof(pkg_styp), &tfdt);
    if (rc != 0 || tfdt != t->seg_t) {
        LOG(LOG_ERR, "pkg", "tfdt_mismatch", "stream=%s track=%s want=%" PRId64 " got=%" PRId64,
            p->stream, pkg_track_names[t->kind], t->seg_t, tfdt);
        t->failed = 1;
        return ERR_MEDIA;
    }
    memset(&o, 0, sizeof(o));
    o.kind = PKG_OUT_SEGMENT;
    o.track = t->kind;
    o.gen = t->gen;
    o.timescale = t->timescale;
    o.t = t->seg_t;
    o.d = t->seg_end - t->seg_t;
    o.ept = t->seg_ept;
    o.samples = t->seg_samples;
    o.sap_type = t->seg_sap;
    o.data = t->out.p;
    o.len = t->out.len;
    t->stats.segments++;
    t->stats.bytes += t->out.len;
    t->seg_open = 0;
    t->seg_samples = 0;
    t->seg_bytes = 0;
    t->have_end = 1;
    t->end = t->seg_end;
    pkg_emit(p, &o);
    t->out.len = 0;
    return 0;
}

static void
pkg_seg_open(struct pkg_trk *t, const struct pkg_sample *s)
{
    assert(!t->seg_open);
    t->seg_open = 1;
    t->seg_t = s->dts;
    t->seg_ept = s->pts;
    t->seg_end = s->dts;
    t->seg_samples = 0;
    t->seg_bytes = 0;
    if (t->kind == PKG_VIDEO)
        t->seg_sap = s->idr ? 1 : 3;
    else
        t->seg_sap = 1;
}

/* ------------------------------------------------------------------ audio */

/*
 * Where the midpoint of the audio frame starting at s (samples) lies
 * against time c (90 kHz ticks): <0 before, 0 on it, >0 after. Exact: both
 * sides are scaled to 2 * 90000 * rate. A cut at c falls before the first
 * frame whose midpoint is at or after c, i.e. on the frame boundary
 * nearest to c, and on the earlier one when c is exactly between two.
 */
static int
pkg_audio_mid_cmp(const struct pkg_trk *a, int64_t s, int64_t c)
{
    pkg_i128 lhs = ((pkg_i128)2 * s + a->aac.frame_len) * PKG_VIDEO_TIMESCALE;
    pkg_i128 rhs = (pkg_i128)2 * c * a->timescale;

    return lhs < rhs ? -1 : lhs > rhs;
}

static struct pkg_sample *
pkg_aq_front(struct pkg_trk *a)
{
    assert(a->aq_len > 0);
    return &a->aq[a->aq_head];
}

static void
pkg_aq_pop(struct pkg_trk *a)
{
    assert(a->aq_len > 0);
    a->aq_head = (a->aq_head + 1) % PKG_AQ_MAX;
    a->aq_len--;
}

/* Muxes the front audio frame into the open segment (opening one). */
static int
pkg_audio_commit(struct pkg_trk *a)
{
    struct pkg_sample *s = pkg_aq_front(a);
    int rc;

    if (!a->seg_open)
        pkg_seg_open(a, s);
    rc = pkg_mux_write(a, s, a->aac.frame_len);
    if (rc != 0)
        return rc;
    a->seg_bytes += s->data.len;
    pkg_aq_pop(a);
    return 0;
}

/*
 * Moves queued audio frames into segments as far as the video allows.
 *
 * With a video track, a frame is committed once the video's decode time
 * has reached its midpoint (any later cut falls after it), after the cuts
 * at or before it have ended the audio segment. A video that lags the
 * audio by more than twice the target (or PKG_AQ_MAX frames) does not hold
 * the audio back: the oldest frames are committed anyway and cut on their
 * own target, as without a video track, where the audio cuts on the frame
 * boundary nearest the target. `all` commits everything (flush); frames
 * past the video's end are cut alone too.
 */
static int
pkg_audio_pump(struct pkg *p, int all)
{
    struct pkg_trk *a = &p->trk[PKG_AUDIO];
    int follow = p->trk[PKG_VIDEO].configured, alone, ahead;
    int64_t span = (int64_t)p->target_ms * a->timescale / 1000;
    int64_t target = span - a->aac.frame_len / 2;
    const struct pkg_sample *s, *back;
    int rc;

    if (!a->configured || a->failed)
        return 0;
    while (a->aq_len > 0) {
        s = pkg_aq_front(a);
        alone = !follow;
        if (follow) {
            while (p->ncuts > 0 && pkg_audio_mid_cmp(a, s->dts, p->cuts[0]) >= 0) {
                if (a->seg_open && a->seg_samples > 0) {
                    rc = pkg_seg_finish(a);
                    if (rc != 0)
                        return rc;
                }
                memmove(p->cuts, p->cuts + 1, (p->ncuts - 1) * sizeof(p->cuts[0]));
                p->ncuts--;
            }
            back = &a->aq[(a->aq_head + a->aq_len - 1) % PKG_AQ_MAX];
            ahead = !p->have_progress || pkg_audio_mid_cmp(a, s->dts, p->progress) > 0;
            alone = a->aq_len == PKG_AQ_MAX || back->dts - s->dts > 2 * span;
            if (!all && !alone && ahead)
                break;
            alone = alone || ahead; /* committed past the video's end */
        }
        if (alone && a->seg_open && s->dts - a->seg_t >= target) {
            rc = pkg_seg_finish(a);
            if (rc != 0)
                return rc;
        }
        rc = pkg_audio_commit(a);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ config */

static void
pkg_trk_reset_timeline(struct pkg_trk *t)
{
    size_t i;

    t->seg_open = 0;
    t->seg_samples = 0;
    t->seg_bytes = 0;
    t->has_held = 0;
    for (i = 0; i < t->aq_len; i++)
        t->aq[(t->aq_head + i) % PKG_AQ_MAX].data.len = 0;
    t->aq_head = 0;
    t->aq_len = 0;
}

/* Installs a parsed configuration: opens the muxer and emits the init segment. */
static int
pkg_trk_install(struct pkg_trk *t, const uint8_t *rec, size_t len)
{
    int rc;

    xfree(t->record);
    t->record = xmalloc(len);
    memcpy(t->record, rec, len);
    t->record_len = len;
    pkg_mux_close(t);
    t->shift_set = 0; /* a new muxer takes its own first composition offset */
    rc = pkg_mux_open(t);
    if (rc != 0) {
        t->configured = 0;
        return rc;
    }
    t->configured = 1;
    t->failed = 0;
    LOG(LOG_INFO, "pkg", "config", "stream=%s track=%s gen=%u timescale=%u size=%zu",
        t->pkg->stream, pkg_track_names[t->kind], (unsigned)t->gen, (unsigned)t->timescale,
        t->out.len);
    pkg_emit_init(t);
    return 0;
}

/*
 * The common path of a (re)configuration once the record parsed: the same
 * bytes change nothing; different ones are ERR_EXISTS or a new generation.
 * *same is set when nothing needs installing.
 */
static int
pkg_config_compare(struct pkg_trk *t, const uint8_t *rec, size_t len, uint32_t w, uint32_t h,
                   unsigned flags, int *same)
{
    struct pkg *p = t->pkg;
    int rc;

    *same = 0;
    if (!t->configured)
        return 0; /* the first configuration (or the first since a failed one) */
    if (!t->failed && t->record_len == len && memcmp(t->record, rec, len) == 0 &&
        (t->kind != PKG_VIDEO || (t->width == w && t->height == h))) {
        *same = 1;
        return 0;
    }
    if (!t->failed && !(flags & PKG_CFG_REPLACE)) {
        LOG_RL(LOG_INFO, "pkg", "config_changed", 5, "stream=%s track=%s gen=%u", p->stream,
               pkg_track_names[t->kind], (unsigned)t->gen);
        return ERR_EXISTS;
    }
    /* A new generation (or a failed track reopened): finish what the old one has. */
    if (!t->failed) {
        if (t->kind == PKG_VIDEO && t->has_held) {
            rc = pkg_mux_write(t, &t->held, t->last_dur > 0 ? t->last_dur : 1);
            if (rc != 0)
                return rc;
            t->has_held = 0;
        }
        if (t->kind == PKG_AUDIO) {
            rc = pkg_audio_pump(p, 1);
            if (rc != 0)
                return rc;
        }
        if (t->seg_open && t->seg_samples > 0) {
            rc = pkg_seg_finish(t);
            if (rc != 0)
                return rc;
        }
    }
    pkg_trk_reset_timeline(t);
    t->gen++;
    return 0;
}

static void
pkg_call_begin(struct pkg *p)
{
    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    assert(!p->busy); /* the callback re-entered */
    DASSERT((pkg_check(p), 1));
    p->busy = 1;
    p->cb_rc = 0;
}

static int
pkg_call_end(struct pkg *p, int rc)
{
    p->busy = 0;
    DASSERT((pkg_check(p), 1));
    if (rc == 0 && p->cb_rc != 0)
        rc = p->cb_rc;
    return rc;
}

int
pkg_config_video(struct pkg *p, const struct pkg_video_cfg *cfg, unsigned flags)
{
    struct pkg_trk *t;
    struct pkg_cfg_avc avc;
    uint32_t w, h;
    int rc, same;

    pkg_call_begin(p);
    t = &p->trk[PKG_VIDEO];
    if (cfg == NULL || cfg->codec != PKG_CODEC_H264 || cfg->record == NULL ||
        (flags & ~PKG_CFG_REPLACE) != 0 || cfg->width > 16384 || cfg->height > 16384) {
        rc = ERR_INVAL;
        goto out;
    }
    rc = pkg_cfg_avc_parse(cfg->record, cfg->record_len, &avc);
    if (rc != 0) {
        LOG_RL(LOG_INFO, "pkg", "bad_config", 5, "stream=%s track=video len=%zu err=%s", p->stream,
               cfg->record_len, err_name(rc));
        rc = rc == ERR_LIMIT ? ERR_LIMIT : ERR_MEDIA;
        goto out;
    }
    w = cfg->width != 0 ? cfg->width : avc.width;
    h = cfg->height != 0 ? cfg->height : avc.height;
    rc = pkg_config_compare(t, cfg->record, cfg->record_len, w, h, flags, &same);
    if (rc != 0 || same)
        goto out;
    t->avc = avc;
    t->width = w;
    t->height = h;
    t->fps_num = cfg->fps_den != 0 ? cfg->fps_num : 0;
    t->fps_den = cfg->fps_num != 0 ? cfg->fps_den : 0;
    t->timescale = PKG_VIDEO_TIMESCALE;
    rc = pkg_trk_install(t, cfg->record, cfg->record_len);
out:
    return pkg_call_end(p, rc);
}

int
pkg_config_audio(struct pkg *p, const struct pkg_audio_cfg *cfg, unsigned flags)
{
    struct pkg_trk *t;
    struct pkg_cfg_aac aac;
    int rc, same;

    pkg_call_begin(p);
    t = &p->trk[PKG_AUDIO];
    if (cfg == NULL || cfg->codec != PKG_CODEC_AAC || cfg->asc == NULL ||
        (flags & ~PKG_CFG_REPLACE) != 0) {
        rc = ERR_INVAL;
        goto out;
    }
    rc = pkg_cfg_aac_parse(cfg->asc, cfg->asc_len, &aac);
    if (rc == 0 && aac.channels == 0 && cfg->channels == 0)
        rc = ERR_MEDIA; /* a program_config_element and no channel count from the caller */
    if (rc != 0) {
        LOG_RL(LOG_INFO, "pkg", "bad_config", 5, "stream=%s track=audio len=%zu err=%s", p->stream,
               cfg->asc_len, err_name(rc));
        rc = rc == ERR_LIMIT ? ERR_LIMIT : ERR_MEDIA;
        goto out;
    }
    rc = pkg_config_compare(t, cfg->asc, cfg->asc_len, 0, 0, flags, &same);
    if (rc != 0 || same)
        goto out;
    if (t->have_end && t->timescale != aac.sample_rate) {
        /* A new rate: the timeline's end moves to the new clock, rounded up. */
        t->end = (int64_t)(((pkg_i128)t->end * aac.sample_rate + t->timescale - 1) / t->timescale);
        t->have_next = 0;
    }
    t->aac = aac;
    t->channels = aac.channels != 0 ? aac.channels : cfg->channels;
    t->timescale = aac.sample_rate;
    if (t->aq == NULL)
        t->aq = xcalloc(PKG_AQ_MAX, sizeof(*t->aq));
    rc = pkg_trk_install(t, cfg->asc, cfg->asc_len);
out:
    return pkg_call_end(p, rc);
}

/* ------------------------------------------------------------------ frames */

static int
pkg_push_video(struct pkg *p, const struct pkg_frame *f, int64_t ms)
{
    struct pkg_trk *v = &p->trk[PKG_VIDEO];
    int64_t target = (int64_t)p->target_ms * 90;
    int64_t shift, dts, pts;
    int idr = 0, rc, cut;

    if (pkg_cfg_avcc_scan(f->data, f->len, v->avc.nal_len_size, &idr) < 0)
        return ERR_MEDIA;
    if (f->cts_ms < 0)
        return ERR_PROTO; /* presented before decoded: no muxer takes that */
    shift = v->shift_set ? v->shift : (int64_t)f->cts_ms * 90;
    dts = ms * 90 + shift;
    pts = (ms + f->cts_ms) * 90;
    if (!v->seg_open && !f->key) {
        v->have_in = 1;
        v->last_in_ms = ms;
        v->stats.dropped++;
        LOG_RL(LOG_DEBUG, "pkg", "drop_before_key", 2, "stream=%s dts_ms=%" PRId64, p->stream, ms);
        return 0;
    }
    if (v->have_end && dts < v->end) {
        /*
         * Back into time already segmented. Less than a frame back is the
         * guessed duration of the frame that ended the last segment
         * (pkg_flush(), PKG_CFG_REPLACE) being too long: start at the end,
         * which shortens this frame. More is a clock going back.
         */
        if (v->seg_open || v->end - dts >= (v->last_dur > 0 ? v->last_dur : 3600))
            return ERR_PROTO;
        dts = v->end;
        /* Presented no earlier than decoded; the muxer's first frame keeps pts - dts == shift. */
        if (!v->shift_set || pts < dts - shift)
            pts = v->shift_set ? dts - shift : dts;
    }
    if (v->has_held && dts <= v->held.dts)
        return ERR_PROTO; /* behind a frame moved forward by the clamp above */
    cut = f->key && v->seg_open && dts - v->seg_t >= target - target / PKG_CUT_SLACK_DIV;
    if (!cut && v->seg_open && v->seg_bytes + f->len > p->max_segment)
        return ERR_LIMIT;
    /* Accepted: from here on the frame is part of the timeline. */
    v->shift_set = 1;
    v->shift = shift;
    v->have_in = 1;
    v->last_in_ms = ms;
    if (v->has_held) {
        v->last_dur = dts - v->held.dts;
        rc = pkg_mux_write(v, &v->held, v->last_dur);
        if (rc != 0)
            return rc;
        v->has_held = 0;
    }
    if (cut) {
        rc = pkg_seg_finish(v);
        if (rc != 0)
            return rc;
    }
    /*
     * The audio cuts where the video does: at every cut, and where the video
     * starts again under a running audio segment (a new generation). Not at
     * a session's first keyframe, which would split off a sliver of audio.
     */
    if (p->trk[PKG_AUDIO].configured && (cut || (!v->seg_open && p->trk[PKG_AUDIO].seg_open))) {
        if (p->ncuts == PKG_CUTS_MAX) {
            memmove(p->cuts, p->cuts + 1, (PKG_CUTS_MAX - 1) * sizeof(p->cuts[0]));
            p->ncuts--;
        }
        p->cuts[p->ncuts++] = dts;
    }
    v->held.dts = dts;
    v->held.pts = pts;
    v->held.key = f->key != 0;
    v->held.idr = (uint8_t)idr;
    pkg_buf_set(&v->held.data, f->data, f->len);
    v->has_held = 1;
    if (!v->seg_open)
        pkg_seg_open(v, &v->held);
    if (pts < v->seg_ept)
        v->seg_ept = pts;
    v->seg_bytes += f->len;
    p->have_progress = 1;
    p->progress = dts;
    /* An audio failure fails the audio track (and its next push), not this frame. */
    (void)pkg_audio_pump(p, 0);
    return 0;
}

static int
pkg_push_audio(struct pkg *p, const struct pkg_frame *f, int64_t ms)
{
    struct pkg_trk *a = &p->trk[PKG_AUDIO];
    struct pkg_sample *s;
    int64_t s_in, start;
    int rc;

    /* SPEC: ISO/IEC 14496-14 -- raw access units; an ADTS header means the
     * publisher did not strip it, and the muxer would refuse it mid-segment. */
    if (f->len >= 2 && f->data[0] == 0xff && (f->data[1] & 0xf0) == 0xf0)
        return ERR_MEDIA;
    /* Round half up to the sample clock: ms * rate / 1000. */
    s_in = (int64_t)(((pkg_i128)ms * a->timescale * 2 + 1000) / 2000);
    start = s_in;
    if (a->have_next && s_in < a->next_s + a->aac.frame_len / 2)
        start = a->next_s; /* within half a frame, or early: keep the clock exact */
    if (a->have_end && start < a->end)
        return ERR_PROTO;
    if (a->aq_len == PKG_AQ_MAX) {
        /* The video lags too far: pkg_audio_pump() commits the oldest frame alone. */
        rc = pkg_audio_pump(p, 0);
        if (rc != 0)
            return rc;
        assert(a->aq_len < PKG_AQ_MAX);
    }
    if (a->have_next && start != a->next_s) {
        a->stats.audio_resyncs++;
        LOG_RL(LOG_INFO, "pkg", "audio_gap", 2, "stream=%s samples=%" PRId64, p->stream,
               start - a->next_s);
    }
    a->have_in = 1;
    a->last_in_ms = ms;
    s = &a->aq[(a->aq_head + a->aq_len) % PKG_AQ_MAX];
    s->dts = start;
    s->pts = start;
    s->key = 1;
    s->idr = 1;
    pkg_buf_set(&s->data, f->data, f->len);
    a->aq_len++;
    a->have_next = 1;
    a->next_s = start + a->aac.frame_len;
    return pkg_audio_pump(p, 0);
}

int
pkg_push(struct pkg *p, enum pkg_track track, const struct pkg_frame *f)
{
    struct pkg_trk *t;
    uint64_t dropped;
    int64_t ms;
    int rc;

    pkg_call_begin(p);
    if ((track != PKG_VIDEO && track != PKG_AUDIO) || f == NULL || f->data == NULL) {
        rc = ERR_INVAL;
        goto out_reject;
    }
    t = &p->trk[track];
    if (!t->configured) {
        rc = ERR_PROTO;
        goto out_reject;
    }
    if (t->failed) {
        rc = ERR_MEDIA;
        goto out_reject;
    }
    if (f->len == 0 || f->len > PKG_FRAME_MAX) {
        rc = f->len == 0 ? ERR_MEDIA : ERR_LIMIT;
        goto out_reject;
    }
    if (f->dts_ms < 0 || f->dts_ms >= PKG_MS_MAX || p->offset_ms >= PKG_MS_MAX - f->dts_ms ||
        f->cts_ms <= -(1 << 23) || f->cts_ms >= (1 << 23)) {
        rc = ERR_INVAL;
        goto out_reject;
    }
    ms = f->dts_ms + p->offset_ms;
    if (ms < 0) {
        rc = ERR_INVAL;
        goto out_reject;
    }
    if (t->have_in && ms <= t->last_in_ms) {
        LOG_RL(LOG_INFO, "pkg", "dts_not_increasing", 2,
               "stream=%s track=%s dts_ms=%" PRId64 " last_ms=%" PRId64, p->stream,
               pkg_track_names[track], ms, t->last_in_ms);
        rc = ERR_PROTO;
        goto out_reject;
    }
    dropped = t->stats.dropped;
    rc = track == PKG_VIDEO ? pkg_push_video(p, f, ms) : pkg_push_audio(p, f, ms);
    if (rc != 0 && !t->failed)
        goto out_reject;
    if (rc == 0 && dropped == t->stats.dropped) {
        t->stats.frames++;
        p->in_session = 1;
    }
    return pkg_call_end(p, rc);

out_reject:
    if (track == PKG_VIDEO || track == PKG_AUDIO)
        p->trk[track].stats.rejected++;
    return pkg_call_end(p, rc);
}

static int
pkg_flush_video(struct pkg_trk *v)
{
    int64_t dur;
    int rc;

    if (!v->configured || v->failed || !v->has_held)
        return 0;
    /* The last frame lasts as long as the one before it, else one nominal frame. */
    dur = v->last_dur;
    if (dur <= 0 && v->fps_num != 0)
        dur = (int64_t)PKG_VIDEO_TIMESCALE * v->fps_den / v->fps_num;
    if (dur <= 0)
        dur = PKG_VIDEO_TIMESCALE / 30;
    rc = pkg_mux_write(v, &v->held, dur);
    if (rc != 0)
        return rc;
    v->has_held = 0;
    return pkg_seg_finish(v);
}

int
pkg_flush(struct pkg *p)
{
    struct pkg_trk *a;
    int rc, rc2 = 0;

    pkg_call_begin(p);
    a = &p->trk[PKG_AUDIO];
    rc = pkg_flush_video(&p->trk[PKG_VIDEO]);
    if (a->configured && !a->failed) {
        rc2 = pkg_audio_pump(p, 1);
        if (rc2 == 0 && a->seg_open && a->seg_samples > 0)
            rc2 = pkg_seg_finish(a);
    }
    p->ncuts = 0;
    p->have_progress = 0;
    p->in_session = 0;
    return pkg_call_end(p, rc != 0 ? rc : rc2);
}

int
pkg_set_offset(struct pkg *p, int64_t offset_ms)
{
    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    if (p->in_session || offset_ms <= -PKG_MS_MAX || offset_ms >= PKG_MS_MAX)
        return ERR_INVAL;
    p->offset_ms = offset_ms;
    /* A new session's clock may restart below the last one's input times. */
    p->trk[PKG_VIDEO].have_in = 0;
    p->trk[PKG_AUDIO].have_in = 0;
    return 0;
}

int64_t
pkg_end_ms(const struct pkg *p)
{
    const struct pkg_trk *v, *a;
    int64_t end = 0, e;

    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    v = &p->trk[PKG_VIDEO];
    a = &p->trk[PKG_AUDIO];
    if (v->have_end) {
        e = v->end - v->shift; /* back to input time */
        e = (e + 89) / 90;
        end = e > end ? e : end;
    }
    if (a->have_end && a->timescale != 0) {
        e = (int64_t)(((pkg_i128)a->end * 1000 + a->timescale - 1) / a->timescale);
        end = e > end ? e : end;
    }
    return end;
}

/* ------------------------------------------------------------------ lifetime */

int
pkg_new(struct pkg **pp, const struct pkg_params *params, pkg_out_cb *cb, void *cb_arg)
{
    struct pkg *p;
    uint32_t target;
    int i;

    *pp = NULL;
    if (params == NULL || cb == NULL)
        return ERR_INVAL;
    target = params->target_ms != 0 ? params->target_ms : PKG_TARGET_MS_DEFAULT;
    if (target < 100 || target > 60000)
        return ERR_INVAL;
    p = xcalloc(1, sizeof(*p));
    p->magic = PKG_MAGIC;
    p->stream = xstrdup(params->stream != NULL ? params->stream : "-");
    p->target_ms = target;
    p->max_segment =
        params->max_segment_size != 0 ? params->max_segment_size : PKG_MAX_SEGMENT_DEFAULT;
    p->cb = cb;
    p->cb_arg = cb_arg;
    for (i = 0; i < PKG_TRACKS; i++) {
        p->trk[i].kind = (enum pkg_track)i;
        p->trk[i].pkg = p;
    }
    *pp = p;
    return 0;
}

void
pkg_free(struct pkg **pp)
{
    struct pkg *p = *pp;
    struct pkg_trk *t;
    size_t i;
    int k;

    if (p == NULL)
        return;
    CHECK_OBJ(p, PKG_MAGIC);
    assert(!p->busy);
    for (k = 0; k < PKG_TRACKS; k++) {
        t = &p->trk[k];
        pkg_mux_close(t);
        pkg_buf_free(&t->out);
        pkg_buf_free(&t->held.data);
        if (t->aq != NULL) {
            for (i = 0; i < PKG_AQ_MAX; i++)
                pkg_buf_free(&t->aq[i].data);
            xfree(t->aq);
        }
        xfree(t->record);
    }
    xfree(p->stream);
    FREE_OBJ(p);
    *pp = NULL;
}

/* ------------------------------------------------------------------ info */

void
pkg_rep_info(const struct pkg *p, enum pkg_track track, struct pkg_rep_info *out)
{
    const struct pkg_trk *t;

    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    assert(track == PKG_VIDEO || track == PKG_AUDIO);
    t = &p->trk[track];
    memset(out, 0, sizeof(*out));
    out->configured = t->configured;
    if (!t->configured)
        return;
    out->gen = t->gen;
    out->timescale = t->timescale;
    if (track == PKG_VIDEO) {
        out->codec = PKG_CODEC_H264;
        (void)snprintf(out->codecs, sizeof(out->codecs), "%s", t->avc.codecs);
        out->width = t->width;
        out->height = t->height;
        out->fps_num = t->fps_num;
        out->fps_den = t->fps_den;
    } else {
        out->codec = PKG_CODEC_AAC;
        (void)snprintf(out->codecs, sizeof(out->codecs), "%s", t->aac.codecs);
        out->sample_rate = t->aac.sample_rate;
        out->channels = t->channels;
    }
}

void
pkg_stats(const struct pkg *p, enum pkg_track track, struct pkg_stats *out)
{
    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    assert(track == PKG_VIDEO || track == PKG_AUDIO);
    *out = p->trk[track].stats;
}

void
pkg_check(const struct pkg *p)
{
    const struct pkg_trk *t;
    size_t i;
    int k;

    CHECK_OBJ_NOTNULL(p, PKG_MAGIC);
    assert(p->target_ms >= 100 && p->target_ms <= 60000);
    assert(p->ncuts <= PKG_CUTS_MAX);
    for (i = 1; i < p->ncuts; i++)
        assert(p->cuts[i - 1] < p->cuts[i]);
    for (k = 0; k < PKG_TRACKS; k++) {
        t = &p->trk[k];
        assert(t->pkg == p && t->kind == (enum pkg_track)k);
        assert(!t->configured || t->mux != NULL);
        assert(!t->seg_open || t->configured);
        assert(!t->has_held || (t->seg_open && k == PKG_VIDEO));
        assert(t->aq_len <= PKG_AQ_MAX && t->aq_head < PKG_AQ_MAX);
        assert(t->aq_len == 0 || k == PKG_AUDIO);
        if (t->seg_open) {
            assert(t->seg_end >= t->seg_t);
            assert(t->seg_ept >= 0);
        }
        if (t->have_end && t->seg_open)
            assert(t->seg_t >= t->end);
        for (i = 1; i < t->aq_len; i++)
            assert(t->aq[(t->aq_head + i - 1) % PKG_AQ_MAX].dts <
                   t->aq[(t->aq_head + i) % PKG_AQ_MAX].dts);
    }
}

/* ------------------------------------------------------------------ av_log */

static void
pkg_av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    int print_prefix = 1; /* per line, not static: packagers may run on several threads */
    char line[512], clean[512];
    size_t n;

    if (level > AV_LOG_WARNING)
        return;
    if (av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix) < 0)
        return;
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_sanitize(clean, sizeof(clean), line, n);
    LOG_RL(level <= AV_LOG_ERROR ? LOG_INFO : LOG_DEBUG, "libav", "message", 10, "conn=0 msg=%s",
           clean);
}

void
pkg_global_init(void)
{
    av_log_set_callback(pkg_av_log_cb);
}

/* ------------------------------------------------------------------ fMP4 in */

struct pkg_fmp4 {
    unsigned magic;
#define PKG_FMP4_MAGIC 0x706b6634U
    struct pkg *pkg; /* owned: its track `kind` is the output */
    enum pkg_track kind;
    int64_t offset;
    size_t max_box;
    struct pkg_buf in; /* owned: bytes fed, not yet a whole top-level box */
    struct pkg_buf dq; /* owned: whole boxes queued for the demuxer */
    size_t dq_pos;     /* the demuxer's next byte in dq */
    int have_ftyp, have_moov;
    int in_frag;           /* a moof was queued; its mdat comes next */
    uint32_t frag_samples; /* samples the queued moof announces */
    uint32_t *durs;        /* owned: their durations, from the moof; durs_cap slots */
    size_t durs_cap;
    uint32_t trex_dur;    /* the moov's default sample duration */
    AVFormatContext *dmx; /* owned */
    AVIOContext *dpb;     /* owned, with its av_malloc'd buffer */
    AVPacket **pkts;      /* owned: the fragment's packets (each owned), npkts_cap slots */
    size_t npkts_cap;
    int failed; /* the demuxer lost its place: only ERR_MEDIA from now on */
};

static uint64_t
pkg_rb64(const uint8_t *p)
{
    return (uint64_t)pkg_rb32(p) << 32 | pkg_rb32(p + 4);
}

/* The payload of the only child box `type` of [p, p+len); NULL when absent or repeated. */
static const uint8_t *
pkg_box_only(const uint8_t *p, size_t len, const char *type, size_t *blen)
{
    const uint8_t *found = NULL;
    size_t pos = 0, size;

    while (len - pos >= 8) {
        size = pkg_rb32(p + pos);
        if (size < 8 || size > len - pos)
            return NULL;
        if (memcmp(p + pos + 4, type, 4) == 0) {
            if (found != NULL)
                return NULL;
            found = p + pos + 8;
            *blen = size - 8;
        }
        pos += size;
    }
    return found;
}

/* SPEC: ISO/IEC 14496-12 8.8.3 -- trex default_sample_duration, from moov/mvex/trex. */
static uint32_t
pkg_fmp4_trex_duration(const uint8_t *moov, size_t len)
{
    const uint8_t *b;
    size_t n;

    b = pkg_box_only(moov, len, "mvex", &n);
    if (b != NULL)
        b = pkg_box_only(b, n, "trex", &n);
    return b != NULL && n >= 16 ? pkg_rb32(b + 12) : 0;
}

/*
 * Reads the sample durations of a moof's only traf (SPEC: ISO/IEC
 * 14496-12 8.8.7 tfhd, 8.8.8 trun): per sample if the trun has them, else
 * tfhd's default, else trex's. Fills f->durs and f->frag_samples. 0 or
 * ERR_MEDIA (no or two trafs, sizes that do not add up, a zero duration).
 */
static int
pkg_fmp4_moof_parse(struct pkg_fmp4 *f, const uint8_t *p, size_t len)
{
    const uint8_t *traf, *tfhd, *b;
    size_t traf_len, n, pos, size, need;
    uint32_t tf_flags, fl, count, def, i, k = 0;

    traf = pkg_box_only(p, len, "traf", &traf_len);
    tfhd = traf != NULL ? pkg_box_only(traf, traf_len, "tfhd", &n) : NULL;
    if (tfhd == NULL || n < 8)
        return ERR_MEDIA;
    tf_flags = pkg_rb32(tfhd) & 0xffffffu;
    pos = 8 + ((tf_flags & 0x1) ? 8 : 0) + ((tf_flags & 0x2) ? 4 : 0);
    def = f->trex_dur;
    if (tf_flags & 0x8) {
        if (n < pos + 4)
            return ERR_MEDIA;
        def = pkg_rb32(tfhd + pos);
    }
    for (pos = 0; traf_len - pos >= 8; pos += size) {
        size = pkg_rb32(traf + pos);
        if (size < 8 || size > traf_len - pos)
            return ERR_MEDIA;
        if (memcmp(traf + pos + 4, "trun", 4) != 0)
            continue;
        b = traf + pos + 8;
        n = size - 8;
        if (n < 8)
            return ERR_MEDIA;
        fl = pkg_rb32(b) & 0xffffffu;
        count = pkg_rb32(b + 4);
        b += 8 + ((fl & 0x1) ? 4 : 0) + ((fl & 0x4) ? 4 : 0);
        need = (size_t)4 * (((fl & 0x100) != 0) + ((fl & 0x200) != 0) + ((fl & 0x400) != 0) +
                            ((fl & 0x800) != 0));
        if ((size_t)(b - (traf + pos + 8)) > n || count > PKG_FMP4_FRAG_MAX - k ||
            (need != 0 && count > (n - (size_t)(b - (traf + pos + 8))) / need))
            return ERR_MEDIA;
        if (f->durs_cap < k + count) {
            f->durs_cap = k + count;
            f->durs = xrealloc(f->durs, f->durs_cap * sizeof(*f->durs));
        }
        for (i = 0; i < count; i++, b += need) {
            f->durs[k] = (fl & 0x100) ? pkg_rb32(b) : def;
            if (f->durs[k++] == 0)
                return ERR_MEDIA;
        }
    }
    if (k == 0)
        return ERR_MEDIA;
    f->frag_samples = k;
    return 0;
}

static int
pkg_fmp4_read(void *opaque, uint8_t *buf, int size)
{
    struct pkg_fmp4 *f = opaque;
    size_t n;

    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    n = f->dq.len - f->dq_pos;
    if (n == 0)
        return AVERROR_EOF; /* never while a fragment is being read: it is all queued */
    if (size > 0 && n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, f->dq.p + f->dq_pos, n);
    f->dq_pos += n;
    return (int)n;
}

/* Describes the output track from the demuxed stream and emits its init segment. */
static int
pkg_fmp4_config(struct pkg_fmp4 *f, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    struct pkg_trk *t = &f->pkg->trk[f->kind];
    int rc;

    if (st->time_base.num != 1 || st->time_base.den <= 0 || par->extradata_size <= 0)
        return ERR_MEDIA;
    if (f->kind == PKG_VIDEO) {
        if (par->codec_id != AV_CODEC_ID_H264 ||
            pkg_cfg_avc_parse(par->extradata, (size_t)par->extradata_size, &t->avc) != 0)
            return ERR_MEDIA;
        t->width = par->width > 0 ? (uint32_t)par->width : t->avc.width;
        t->height = par->height > 0 ? (uint32_t)par->height : t->avc.height;
    } else {
        if (par->codec_id != AV_CODEC_ID_AAC ||
            pkg_cfg_aac_parse(par->extradata, (size_t)par->extradata_size, &t->aac) != 0)
            return ERR_MEDIA;
        t->channels = t->aac.channels != 0 ? t->aac.channels : (uint8_t)par->ch_layout.nb_channels;
        /* The muxer's audio timescale is the sample rate: the input's must be too. */
        if (t->channels == 0 || (uint32_t)st->time_base.den != t->aac.sample_rate)
            return ERR_MEDIA;
    }
    t->timescale = (uint32_t)st->time_base.den;
    rc = pkg_trk_install(t, par->extradata, (size_t)par->extradata_size);
    return rc;
}

/* Opens the demuxer on the queued init segment and first fragment. */
static int
pkg_fmp4_open(struct pkg_fmp4 *f)
{
    const AVInputFormat *ifmt;
    uint8_t *iobuf;
    int rc;

    ifmt = av_find_input_format("mp4");
    f->dmx = avformat_alloc_context();
    iobuf = av_malloc(PKG_AVIO_BUF_SIZE);
    if (ifmt == NULL || f->dmx == NULL || iobuf == NULL) {
        av_free(iobuf);
        return ERR_MEDIA;
    }
    f->dpb = avio_alloc_context(iobuf, PKG_AVIO_BUF_SIZE, 0, f, pkg_fmp4_read, NULL, NULL);
    if (f->dpb == NULL) {
        av_free(iobuf);
        return ERR_MEDIA;
    }
    f->dpb->seekable = 0;
    f->dmx->pb = f->dpb;
    f->dmx->flags |= AVFMT_FLAG_CUSTOM_IO;
    rc = avformat_open_input(&f->dmx, NULL, ifmt, NULL); /* frees dmx on failure */
    if (rc < 0)
        return pkg_av_fail(&f->pkg->trk[f->kind], "avformat_open_input", rc);
    if (f->dmx->nb_streams != 1 ||
        f->dmx->streams[0]->codecpar->codec_type !=
            (f->kind == PKG_VIDEO ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO))
        return ERR_MEDIA;
    return pkg_fmp4_config(f, f->dmx->streams[0]);
}

/*
 * Muxes sample i of the fragment's demuxed packets. Decode times are the
 * first packet's (the tfdt) plus the durations the moof gives, which are
 * exact where the demuxer's packet durations are not; the composition
 * offset is the packet's. *dts carries the decode time from sample to
 * sample. *skip is set for a fragment that cannot be a segment (not
 * starting with a keyframe, or back in time).
 */
static int
pkg_fmp4_sample(struct pkg_fmp4 *f, uint32_t i, int64_t *dts, int *skip)
{
    struct pkg_trk *t = &f->pkg->trk[f->kind];
    const AVPacket *pkt = f->pkts[i];
    struct pkg_sample s;
    int idr = 0, rc;

    if (pkt->dts == AV_NOPTS_VALUE || pkt->pts == AV_NOPTS_VALUE || pkt->size <= 0 ||
        pkt->pts < pkt->dts || pkt->dts > PKG_MS_MAX * 1000)
        return ERR_MEDIA;
    if (i == 0)
        *dts = pkt->dts + f->offset;
    if (!t->shift_set) {
        t->shift = pkt->pts - pkt->dts; /* what the muxer will take */
        t->shift_set = 1;
    }
    memset(&s, 0, sizeof(s));
    s.dts = *dts + t->shift;
    s.pts = *dts + (pkt->pts - pkt->dts);
    s.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    s.data.p = pkt->data; /* borrowed: never freed through s */
    s.data.len = (size_t)pkt->size;
    if (i == 0) {
        if ((f->kind == PKG_VIDEO && !s.key) || s.dts < 0 || (t->have_end && s.dts < t->end)) {
            *skip = 1;
            return 0;
        }
        if (f->kind == PKG_VIDEO &&
            pkg_cfg_avcc_scan(s.data.p, s.data.len, t->avc.nal_len_size, &idr) < 0)
            return ERR_MEDIA;
        s.idr = (uint8_t)(f->kind == PKG_AUDIO || idr);
        pkg_seg_open(t, &s);
    }
    if (s.pts < t->seg_ept)
        t->seg_ept = s.pts;
    t->seg_bytes += s.data.len;
    if (t->seg_bytes > f->pkg->max_segment)
        return ERR_LIMIT;
    rc = pkg_mux_write(t, &s, f->durs[i]);
    if (rc == 0)
        t->stats.frames++;
    *dts += f->durs[i];
    return rc;
}

/* The queued moof + mdat are complete: read their samples, emit one segment. */
static int
pkg_fmp4_fragment(struct pkg_fmp4 *f)
{
    struct pkg_trk *t = &f->pkg->trk[f->kind];
    uint32_t i, n = f->frag_samples;
    int64_t dts = 0;
    int rc = 0, skip = 0;

    if (f->dmx == NULL) {
        rc = pkg_fmp4_open(f);
        if (rc != 0)
            return rc;
    }
    if (f->npkts_cap < n) {
        f->pkts = xrealloc(f->pkts, n * sizeof(AVPacket *));
        for (i = (uint32_t)f->npkts_cap; i < n; i++) {
            f->pkts[i] = av_packet_alloc();
            AN(f->pkts[i]);
        }
        f->npkts_cap = n;
    }
    /* The whole fragment is queued, so the demuxer reads it without waiting. */
    for (i = 0; i < n && rc == 0; i++) {
        rc = av_read_frame(f->dmx, f->pkts[i]);
        if (rc < 0)
            rc = pkg_av_fail(t, "av_read_frame", rc);
        else if (f->pkts[i]->stream_index != 0)
            rc = ERR_MEDIA;
    }
    for (i = 0; i < n && rc == 0 && !skip; i++)
        rc = pkg_fmp4_sample(f, i, &dts, &skip);
    if (skip)
        t->stats.dropped += n;
    if (rc == 0 && t->seg_open && t->seg_samples > 0)
        rc = pkg_seg_finish(t);
    t->seg_open = 0;
    for (i = 0; i < n; i++)
        av_packet_unref(f->pkts[i]);
    /* What the demuxer has read is gone from the queue. */
    memmove(f->dq.p, f->dq.p + f->dq_pos, f->dq.len - f->dq_pos);
    f->dq.len -= f->dq_pos;
    f->dq_pos = 0;
    return rc;
}

static int
pkg_fmp4_box(struct pkg_fmp4 *f, const uint8_t *box, size_t size, size_t hdr)
{
    const char *type = (const char *)box + 4;
    int rc;

    if (memcmp(type, "ftyp", 4) == 0) {
        if (f->have_ftyp || f->have_moov)
            return ERR_PROTO;
        f->have_ftyp = 1;
    } else if (memcmp(type, "moov", 4) == 0) {
        if (f->have_moov)
            return ERR_PROTO; /* a new init: the caller starts a new reader */
        f->have_moov = 1;
        f->trex_dur = pkg_fmp4_trex_duration(box + hdr, size - hdr);
    } else if (memcmp(type, "moof", 4) == 0) {
        if (!f->have_moov || f->in_frag)
            return ERR_PROTO;
        rc = pkg_fmp4_moof_parse(f, box + hdr, size - hdr);
        if (rc != 0)
            return rc;
        f->in_frag = 1;
    } else if (memcmp(type, "mdat", 4) == 0) {
        if (!f->in_frag)
            return ERR_PROTO; /* not fragmented */
        pkg_buf_append(&f->dq, box, size);
        f->in_frag = 0;
        return pkg_fmp4_fragment(f);
    }
    /* Everything goes to the demuxer, styp, sidx, free... too: a tfhd's
     * base_data_offset counts bytes from the start of the stream. */
    pkg_buf_append(&f->dq, box, size);
    return 0;
}

int
pkg_fmp4_new(struct pkg_fmp4 **pp, const struct pkg_fmp4_params *params, pkg_out_cb *cb,
             void *cb_arg)
{
    struct pkg_params pp2 = {0};
    struct pkg_fmp4 *f;
    int rc;

    *pp = NULL;
    if (params == NULL || (params->track != PKG_VIDEO && params->track != PKG_AUDIO) ||
        params->offset < 0 || params->offset >= INT64_MAX / 4)
        return ERR_INVAL;
    f = xcalloc(1, sizeof(*f));
    f->magic = PKG_FMP4_MAGIC;
    pp2.stream = params->stream;
    pp2.max_segment_size = params->max_box;
    rc = pkg_new(&f->pkg, &pp2, cb, cb_arg);
    if (rc != 0) {
        FREE_OBJ(f);
        return rc;
    }
    f->kind = params->track;
    f->offset = params->offset;
    f->max_box = params->max_box != 0 ? params->max_box : PKG_MAX_SEGMENT_DEFAULT;
    *pp = f;
    return 0;
}

int
pkg_fmp4_feed(struct pkg_fmp4 *f, const uint8_t *p, size_t len)
{
    size_t pos = 0, hdr;
    uint64_t size;
    int rc = 0;

    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    if (f->failed)
        return ERR_MEDIA;
    if (p == NULL && len > 0)
        return ERR_INVAL;
    pkg_call_begin(f->pkg);
    pkg_buf_append(&f->in, p, len);
    while (rc == 0 && f->in.len - pos >= 8) {
        const uint8_t *b = f->in.p + pos;

        size = pkg_rb32(b);
        hdr = 8;
        if (size == 1) {
            if (f->in.len - pos < 16)
                break;
            size = pkg_rb64(b + 8);
            hdr = 16;
        }
        /* SPEC: ISO/IEC 14496-12 4.2 -- size 0 runs to the end of the file: a pipe has none. */
        if (size < hdr)
            rc = ERR_PROTO;
        else if (size > f->max_box)
            rc = ERR_LIMIT;
        else if (f->in.len - pos < size)
            break;
        else
            rc = pkg_fmp4_box(f, b, (size_t)size, hdr);
        if (rc == 0)
            pos += (size_t)size;
    }
    memmove(f->in.p, f->in.p + pos, f->in.len - pos);
    f->in.len -= pos;
    if (rc != 0) {
        /* The byte stream lost its framing, or the demuxer its place. */
        f->failed = 1;
        LOG_RL(LOG_INFO, "pkg", "fmp4_failed", 2, "stream=%s track=%s err=%s", f->pkg->stream,
               pkg_track_names[f->kind], err_name(rc));
    }
    return pkg_call_end(f->pkg, rc);
}

int
pkg_fmp4_end(struct pkg_fmp4 *f)
{
    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    if (f->failed)
        return ERR_MEDIA;
    return f->in.len != 0 || f->in_frag ? ERR_PROTO : 0;
}

void
pkg_fmp4_info(const struct pkg_fmp4 *f, struct pkg_rep_info *out)
{
    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    pkg_rep_info(f->pkg, f->kind, out);
}

void
pkg_fmp4_stats(const struct pkg_fmp4 *f, struct pkg_stats *out)
{
    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    pkg_stats(f->pkg, f->kind, out);
}

int64_t
pkg_fmp4_end_time(const struct pkg_fmp4 *f)
{
    const struct pkg_trk *t;

    CHECK_OBJ_NOTNULL(f, PKG_FMP4_MAGIC);
    t = &f->pkg->trk[f->kind];
    return t->have_end ? t->end : 0;
}

void
pkg_fmp4_free(struct pkg_fmp4 **pp)
{
    struct pkg_fmp4 *f = *pp;
    size_t i;

    if (f == NULL)
        return;
    CHECK_OBJ(f, PKG_FMP4_MAGIC);
    avformat_close_input(&f->dmx);
    if (f->dpb != NULL) {
        av_freep(&f->dpb->buffer);
        avio_context_free(&f->dpb);
    }
    for (i = 0; i < f->npkts_cap; i++)
        av_packet_free(&f->pkts[i]);
    xfree(f->pkts);
    xfree(f->durs);
    pkg_buf_free(&f->in);
    pkg_buf_free(&f->dq);
    pkg_free(&f->pkg);
    FREE_OBJ(f);
    *pp = NULL;
}

/* ------------------------------------------------------------------ index */

/*
 * Reads every packet, keeping the keyframe times of the first video stream
 * (which may only appear while reading: FLV creates its streams on their
 * first tag). Other streams are discarded once seen.
 */
static int
pkg_index_read(AVFormatContext *ic, struct pkg_index *out)
{
    AVPacket *pkt;
    AVStream *st;
    size_t cap = 0;
    int64_t pts, end;
    int vi = -1, rc;

    pkt = av_packet_alloc();
    if (pkt == NULL)
        return ERR_MEDIA;
    for (;;) {
        rc = av_read_frame(ic, pkt);
        if (rc < 0) {
            rc = rc == AVERROR_EOF ? 0 : ERR_MEDIA;
            break;
        }
        st = ic->streams[pkt->stream_index];
        if (vi < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) && st->time_base.num > 0 &&
            st->time_base.den > 0) {
            vi = pkt->stream_index;
            out->tb_num = (uint32_t)st->time_base.num;
            out->tb_den = (uint32_t)st->time_base.den;
        }
        if (pkt->stream_index != vi) {
            st->discard = AVDISCARD_ALL;
            av_packet_unref(pkt);
            continue;
        }
        pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        out->frames++;
        if (pts != AV_NOPTS_VALUE) {
            end = pts + (pkt->duration > 0 ? pkt->duration : 0);
            if (end > out->end_pts)
                out->end_pts = end;
        }
        /* Keep ascending: a keyframe presented before the last one is out of order. */
        if ((pkt->flags & AV_PKT_FLAG_KEY) && pts != AV_NOPTS_VALUE &&
            (out->n == 0 || pts > out->key_pts[out->n - 1])) {
            if (out->n == 10000000) {
                rc = ERR_LIMIT;
                av_packet_unref(pkt);
                break;
            }
            if (out->n == cap) {
                cap = cap ? cap * 2 : 256;
                out->key_pts = xrealloc(out->key_pts, cap * sizeof(*out->key_pts));
            }
            out->key_pts[out->n++] = pts;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (rc == 0 && vi < 0)
        rc = ERR_MEDIA;
    return rc;
}

int
pkg_index_file(const char *path, struct pkg_index *out)
{
    AVFormatContext *ic = NULL;
    char msg[AV_ERROR_MAX_STRING_SIZE];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = avformat_open_input(&ic, path, NULL, NULL);
    if (rc < 0) {
        if (av_strerror(rc, msg, sizeof(msg)) != 0)
            (void)snprintf(msg, sizeof(msg), "averror %d", rc);
        LOG(LOG_INFO, "pkg", "index_open_failed", "conn=0 err=\"%s\"", msg);
        return rc == AVERROR(ENOENT) ? ERR_NOTFOUND : ERR_MEDIA;
    }
    rc = pkg_index_read(ic, out);
    avformat_close_input(&ic);
    if (rc != 0)
        pkg_index_free(out);
    return rc;
}

void
pkg_index_free(struct pkg_index *ix)
{
    xfree(ix->key_pts);
    memset(ix, 0, sizeof(*ix));
}
