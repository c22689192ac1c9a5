/*
 * test_pkg.c -- the passthrough CMAF packager and its record parsers.
 *
 * The group set-up has the real ffmpeg make a 7 s FLV (640x360 at 30 fps,
 * H.264 with a 2 s GOP and B-frames, AAC 44.1 kHz mono) in a temp dir, and
 * reads its tags back with libavformat's FLV demuxer into memory: the
 * sequence headers and every frame with its ms timestamps, exactly what
 * the RTMP ingest will push. Tests feed that to pkg, keep every output,
 * check the cut rules and the timeline, write init + segments to files and
 * have ffmpeg decode them (zero errors), and package twice to compare the
 * sha256 of every output. The origin's sources are compiled in here (they
 * are not part of cascade_shared).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "unit.h"
#include "../../origin/pkg.c"
#include "../../origin/pkg_cfg.c"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "mem.h"
#include "compat.h"

/* ------------------------------------------------------------------ input */

struct in_frame {
    enum pkg_track track;
    int64_t dts_ms;
    int32_t cts_ms;
    int key;
    uint8_t *data; /* owned */
    size_t len;
};

struct input {
    uint8_t *avcc; /* owned: AVCDecoderConfigurationRecord */
    size_t avcc_len;
    uint8_t *asc; /* owned: AudioSpecificConfig */
    size_t asc_len;
    struct in_frame *f; /* owned */
    size_t n, cap;
    size_t nvideo, naudio, nkey;
};

static char tmpdir[64];
static struct input in360;

static void
input_free(struct input *in)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        xfree(in->f[i].data);
    xfree(in->f);
    xfree(in->avcc);
    xfree(in->asc);
    memset(in, 0, sizeof(*in));
}

/* Reads an FLV the way the ingest will see it: ms timestamps, AVCC, raw AAC. */
static int
input_read_flv(const char *path, struct input *in)
{
    AVFormatContext *ic = NULL;
    AVPacket *pkt;
    AVCodecParameters *par;
    struct in_frame *fr;
    unsigned i;

    memset(in, 0, sizeof(*in));
    if (avformat_open_input(&ic, path, NULL, NULL) < 0)
        return -1;
    pkt = av_packet_alloc();
    while (av_read_frame(ic, pkt) >= 0) {
        par = ic->streams[pkt->stream_index]->codecpar;
        if (in->n == in->cap) {
            in->cap = in->cap ? in->cap * 2 : 512;
            in->f = xrealloc(in->f, in->cap * sizeof(*in->f));
        }
        fr = &in->f[in->n++];
        fr->track = par->codec_type == AVMEDIA_TYPE_VIDEO ? PKG_VIDEO : PKG_AUDIO;
        fr->dts_ms = pkt->dts;
        fr->cts_ms = (int32_t)(pkt->pts - pkt->dts);
        fr->key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        fr->data = xmalloc((size_t)pkt->size);
        memcpy(fr->data, pkt->data, (size_t)pkt->size);
        fr->len = (size_t)pkt->size;
        if (fr->track == PKG_VIDEO) {
            in->nvideo++;
            in->nkey += fr->key != 0;
        } else {
            in->naudio++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    for (i = 0; i < ic->nb_streams; i++) {
        par = ic->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->extradata_size > 0) {
            in->avcc_len = (size_t)par->extradata_size;
            in->avcc = xmalloc(in->avcc_len);
            memcpy(in->avcc, par->extradata, in->avcc_len);
        } else if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->extradata_size > 0) {
            in->asc_len = (size_t)par->extradata_size;
            in->asc = xmalloc(in->asc_len);
            memcpy(in->asc, par->extradata, in->asc_len);
        }
    }
    avformat_close_input(&ic);
    return in->avcc != NULL && in->asc != NULL && in->nvideo > 0 && in->naudio > 0 ? 0 : -1;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
group_setup(void **state)
{
    char cmd[1024], path[128];

    (void)state;
    pkg_global_init();
    (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/cascade-pkg-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    (void)snprintf(path, sizeof(path), "%s/in.flv", tmpdir);
    (void)snprintf(cmd, sizeof(cmd),
                   "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi "
                   "-i testsrc2=size=640x360:rate=30 -f lavfi -i sine -t 7 -c:v libx264 "
                   "-g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -f flv %s",
                   path);
    if (system(cmd) != 0)
        return -1;
    return input_read_flv(path, &in360);
}

static int
group_teardown(void **state)
{
    (void)state;
    input_free(&in360);
    if (getenv("CASCADE_KEEP_TMP") == NULL)
        (void)nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ------------------------------------------------------------------ output */

struct out_rec {
    struct pkg_out o; /* data points into buf */
    uint8_t *buf;     /* owned */
    uint8_t sha[32];
};

struct outs {
    struct out_rec *r; /* owned */
    size_t n, cap;
    int fail_at; /* callback returns ERR_STORE on this output (1-based); 0 never */
};

static int
outs_cb(void *arg, const struct pkg_out *o)
{
    struct outs *os = arg;
    struct out_rec *r;
    unsigned int shalen = 0;

    if (os->n == os->cap) {
        os->cap = os->cap ? os->cap * 2 : 64;
        os->r = xrealloc(os->r, os->cap * sizeof(*os->r));
    }
    r = &os->r[os->n++];
    r->o = *o;
    r->buf = xmalloc(o->len);
    memcpy(r->buf, o->data, o->len);
    r->o.data = r->buf;
    assert_int_equal(1, EVP_Digest(o->data, o->len, r->sha, &shalen, EVP_sha256(), NULL));
    assert_int_equal(32, shalen);
    if (os->fail_at != 0 && (size_t)os->fail_at == os->n)
        return ERR_STORE;
    return 0;
}

static void
outs_free(struct outs *os)
{
    size_t i;

    for (i = 0; i < os->n; i++)
        xfree(os->r[i].buf);
    xfree(os->r);
    memset(os, 0, sizeof(*os));
}

/* Outputs of one kind and track, in order, into idx (at most max). */
static size_t
outs_select(const struct outs *os, enum pkg_out_kind kind, enum pkg_track track, size_t *idx,
            size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < os->n && n < max; i++)
        if (os->r[i].o.kind == kind && os->r[i].o.track == track)
            idx[n++] = i;
    return n;
}

static void
configure(struct pkg *p, const struct input *in)
{
    struct pkg_video_cfg vc = {
        .codec = PKG_CODEC_H264, .record = in->avcc, .record_len = in->avcc_len};
    struct pkg_audio_cfg ac = {.codec = PKG_CODEC_AAC, .asc = in->asc, .asc_len = in->asc_len};

    assert_int_equal(0, pkg_config_video(p, &vc, 0));
    assert_int_equal(0, pkg_config_audio(p, &ac, 0));
}

static int
push(struct pkg *p, const struct in_frame *fr, int64_t shift_ms)
{
    struct pkg_frame f = {.dts_ms = fr->dts_ms + shift_ms,
                          .cts_ms = fr->cts_ms,
                          .key = fr->key,
                          .data = fr->data,
                          .len = fr->len};

    return pkg_push(p, fr->track, &f);
}

/* Packages frames [from, to) of in, flushing at the end. */
static void
package(const struct input *in, struct outs *os, uint32_t target_ms)
{
    struct pkg_params pp = {.target_ms = target_ms, .stream = "test"};
    struct pkg *p;
    size_t i;

    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, os));
    configure(p, in);
    for (i = 0; i < in->n; i++)
        assert_int_equal(0, push(p, &in->f[i], 0));
    assert_int_equal(0, pkg_flush(p));
    pkg_check(p);
    pkg_free(&p);
    assert_null(p);
}

/* Writes init + the segments of one track as one file; returns its path in path. */
static void
write_track(const struct outs *os, enum pkg_track track, uint32_t gen, const char *name, char *path,
            size_t pathsz)
{
    FILE *f;
    size_t i;

    (void)snprintf(path, pathsz, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (i = 0; i < os->n; i++) {
        if (os->r[i].o.track != track || os->r[i].o.gen != gen)
            continue;
        assert_int_equal(os->r[i].o.len, fwrite(os->r[i].buf, 1, os->r[i].o.len, f));
    }
    assert_int_equal(0, fclose(f));
}

/* ffmpeg decodes path with no error output; returns the number of frames decoded. */
static long
decode_frames(const char *path)
{
    char cmd[1024], err[2048], out[256];
    FILE *f;
    size_t n;
    long frames = -1;

    (void)snprintf(cmd, sizeof(cmd),
                   "ffmpeg -nostdin -v error -i %s -f null - 2>%s.err && "
                   "ffprobe -v error -count_frames -show_entries stream=nb_read_frames "
                   "-of default=nw=1:nk=1 %s >%s.cnt 2>>%s.err",
                   path, path, path, path, path);
    assert_int_equal(0, system(cmd));
    (void)snprintf(cmd, sizeof(cmd), "%s.err", path);
    f = fopen(cmd, "r");
    assert_non_null(f);
    n = fread(err, 1, sizeof(err) - 1, f);
    err[n] = '\0';
    (void)fclose(f);
    if (n != 0)
        (void)fprintf(stderr, "decode errors for %s:\n%s\n", path, err);
    assert_int_equal(0, n);
    (void)snprintf(cmd, sizeof(cmd), "%s.cnt", path);
    f = fopen(cmd, "r");
    assert_non_null(f);
    if (fgets(out, sizeof(out), f) != NULL)
        frames = strtol(out, NULL, 10);
    (void)fclose(f);
    return frames;
}

/* ------------------------------------------------------------------ tests */

/* Every video segment starts with a keyframe and spans one 2 s GOP; t is continuous. */
static void
test_segments_follow_gops(void **state)
{
    int64_t live = mem_live();
    struct outs os = {0};
    size_t vi[64] = {0}, ai[64] = {0}, inits[4], nv, na, i;
    const struct pkg_out *o;

    (void)state;
    package(&in360, &os, 2000);
    assert_int_equal(1, outs_select(&os, PKG_OUT_INIT, PKG_VIDEO, inits, 4));
    assert_int_equal(1, outs_select(&os, PKG_OUT_INIT, PKG_AUDIO, inits, 4));
    nv = outs_select(&os, PKG_OUT_SEGMENT, PKG_VIDEO, vi, 64);
    na = outs_select(&os, PKG_OUT_SEGMENT, PKG_AUDIO, ai, 64);
    /* 7 s with a keyframe every 2 s: 0-2, 2-4, 4-6, 6-7 */
    assert_int_equal(in360.nkey, nv);
    assert_int_equal(nv, na);
    for (i = 0; i < nv; i++) {
        o = &os.r[vi[i]].o;
        assert_int_equal(PKG_VIDEO_TIMESCALE, o->timescale);
        assert_int_equal(1, o->sap_type);
        assert_int_equal(o->t, o->ept);
        if (i + 1 < nv) {
            assert_int_equal(2000 * 90, o->d);
            assert_int_equal(60, o->samples);
            assert_int_equal(o->t + o->d, os.r[vi[i + 1]].o.t);
        }
    }
    /* The first keyframe is at 0 ms with a 67 ms composition offset: t is its pts. */
    assert_int_equal(67 * 90, os.r[vi[0]].o.t);
    for (i = 0; i < na; i++) {
        o = &os.r[ai[i]].o;
        assert_int_equal(44100, o->timescale);
        if (i + 1 < na) {
            assert_int_equal(o->t + o->d, os.r[ai[i + 1]].o.t);
            assert_int_equal(0, o->d % 1024);
            /* the audio boundary is the AAC frame boundary nearest the video cut */
            {
                int64_t cut = os.r[vi[i + 1]].o.t;
                int64_t next = os.r[ai[i + 1]].o.t;
                pkg_i128 diff2 = ((pkg_i128)next * 90000 - (pkg_i128)cut * 44100) * 2;

                assert_true(diff2 <= (pkg_i128)1024 * 90000);
                assert_true(diff2 > -(pkg_i128)1024 * 90000);
            }
        }
    }
    outs_free(&os);
    UNIT_END(live);
}

/* init + segments of each track decode with ffmpeg without a single error. */
static void
test_segments_decode(void **state)
{
    int64_t live = mem_live();
    struct outs os = {0};
    char path[256];

    (void)state;
    package(&in360, &os, 2000);
    write_track(&os, PKG_VIDEO, 0, "video.mp4", path, sizeof(path));
    assert_int_equal((long)in360.nvideo, decode_frames(path));
    write_track(&os, PKG_AUDIO, 0, "audio.mp4", path, sizeof(path));
    assert_int_equal((long)in360.naudio, decode_frames(path));
    outs_free(&os);
    UNIT_END(live);
}

/* The same input twice gives the same outputs, byte for byte. */
static void
test_deterministic(void **state)
{
    int64_t live = mem_live();
    struct outs a = {0}, b = {0};
    size_t i;

    (void)state;
    package(&in360, &a, 2000);
    package(&in360, &b, 2000);
    assert_int_equal(a.n, b.n);
    for (i = 0; i < a.n; i++) {
        assert_int_equal(a.r[i].o.kind, b.r[i].o.kind);
        assert_int_equal(a.r[i].o.track, b.r[i].o.track);
        assert_int_equal(a.r[i].o.t, b.r[i].o.t);
        assert_int_equal(a.r[i].o.d, b.r[i].o.d);
        assert_memory_equal(a.r[i].sha, b.r[i].sha, 32);
    }
    outs_free(&a);
    outs_free(&b);
    UNIT_END(live);
}

/* Packages frames [0, n) of in into an existing pkg. */
static void
push_range(struct pkg *p, const struct input *in, size_t from, size_t to, int64_t shift_ms)
{
    size_t i;

    for (i = from; i < to; i++)
        assert_int_equal(0, push(p, &in->f[i], shift_ms));
}

/* Index of the first frame of in with a video dts at or after ms. */
static size_t
frame_at(const struct input *in, int64_t ms)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        if (in->f[i].track == PKG_VIDEO && in->f[i].dts_ms >= ms)
            return i;
    return in->n;
}

/* Frames of a track among in->f[from, to). */
static size_t
count_track(const struct input *in, enum pkg_track track, size_t from, size_t to)
{
    size_t i, n = 0;

    for (i = from; i < to; i++)
        n += in->f[i].track == track;
    return n;
}

/* Segments of a track and generation. */
static size_t
count_segs(const struct outs *os, enum pkg_track track, uint32_t gen)
{
    size_t i, n = 0;

    for (i = 0; i < os->n; i++)
        n += os->r[i].o.kind == PKG_OUT_SEGMENT && os->r[i].o.track == track &&
             os->r[i].o.gen == gen;
    return n;
}

/* t grows and segments never overlap; returns the number of gaps. */
static int
timeline_gaps(const struct outs *os, enum pkg_track track, uint32_t gen)
{
    const struct pkg_out *prev = NULL, *o;
    size_t i;
    int gaps = 0;

    for (i = 0; i < os->n; i++) {
        o = &os->r[i].o;
        if (o->kind != PKG_OUT_SEGMENT || o->track != track || o->gen != gen)
            continue;
        assert_true(o->d > 0);
        if (prev != NULL) {
            assert_true(o->t >= prev->t + prev->d);
            gaps += o->t > prev->t + prev->d;
        }
        prev = o;
    }
    return gaps;
}

/* Packages in's frames in the order of their dts plus skew_ms for audio. */
static void
package_skewed(const struct input *in, struct outs *os, int64_t skew_ms)
{
    struct pkg_params pp = {.stream = "test"};
    struct pkg *p;
    size_t *order = xmalloc(in->n * sizeof(*order)), i, j, k;

    /* insertion sort by (dts + skew, original index): stable, small n */
    for (i = 0; i < in->n; i++) {
        int64_t key = in->f[i].dts_ms + (in->f[i].track == PKG_AUDIO ? skew_ms : 0);

        for (j = i; j > 0; j--) {
            k = order[j - 1];
            if (in->f[k].dts_ms + (in->f[k].track == PKG_AUDIO ? skew_ms : 0) <= key)
                break;
            order[j] = k;
        }
        order[j] = i;
    }
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, os));
    configure(p, in);
    for (i = 0; i < in->n; i++)
        assert_int_equal(0, push(p, &in->f[order[i]], 0));
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);
    xfree(order);
}

/* Audio arriving 700 ms early or late against the video changes no byte of any segment. */
static void
test_interleaving_independent(void **state)
{
    int64_t live = mem_live();
    static const int64_t skews[] = {-700, 700};
    struct outs a = {0}, b;
    size_t i, j, k, ia[64], ib[64], na, nb;
    int tr;

    (void)state;
    package(&in360, &a, 2000);
    for (i = 0; i < ARRAY_SIZE(skews); i++) {
        memset(&b, 0, sizeof(b));
        package_skewed(&in360, &b, skews[i]);
        assert_int_equal(a.n, b.n);
        for (tr = PKG_VIDEO; tr <= PKG_AUDIO; tr++) {
            for (k = PKG_OUT_INIT; k <= PKG_OUT_SEGMENT; k++) {
                na = outs_select(&a, (enum pkg_out_kind)k, (enum pkg_track)tr, ia, 64);
                nb = outs_select(&b, (enum pkg_out_kind)k, (enum pkg_track)tr, ib, 64);
                assert_int_equal(na, nb);
                for (j = 0; j < na; j++)
                    assert_memory_equal(a.r[ia[j]].sha, b.r[ib[j]].sha, 32);
            }
        }
        outs_free(&b);
    }
    outs_free(&a);
    UNIT_END(live);
}

/*
 * A publisher disconnects and reconnects with its clock back at 0: the
 * caller offsets the new session past the old one's end, the repeated
 * sequence headers change nothing, and the timeline continues after a gap.
 */
static void
test_reconnect_continues_timeline(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    size_t half = frame_at(&in360, 3000), inits[4], segs[64] = {0}, n, i;
    int64_t end;
    char path[256];

    (void)state;
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    configure(p, &in360);
    push_range(p, &in360, 0, half, 0);
    assert_int_equal(ERR_INVAL, pkg_set_offset(p, 1000)); /* mid-session */
    assert_int_equal(0, pkg_flush(p));
    end = pkg_end_ms(p);
    assert_true(end >= 3000 && end < 3200);
    /* reconnect: same sequence headers, 1.5 s later, timestamps from 0 again */
    configure(p, &in360);
    assert_int_equal(0, pkg_set_offset(p, end + 1500));
    push_range(p, &in360, 0, in360.n, 0);
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);

    assert_int_equal(1, outs_select(&os, PKG_OUT_INIT, PKG_VIDEO, inits, 4));
    assert_int_equal(1, outs_select(&os, PKG_OUT_INIT, PKG_AUDIO, inits, 4));
    assert_int_equal(1, timeline_gaps(&os, PKG_VIDEO, 0));
    assert_int_equal(1, timeline_gaps(&os, PKG_AUDIO, 0));
    n = outs_select(&os, PKG_OUT_SEGMENT, PKG_VIDEO, segs, 64);
    /* 0-2, 2-3 (flushed), then the 7 s again: 4 more */
    assert_int_equal(2 + in360.nkey, n);
    assert_int_equal((end + 1500) * 90 + INT64_C(67) * 90, os.r[segs[2]].o.t);
    for (i = 0; i < n; i++)
        assert_int_equal(1, os.r[segs[i]].o.sap_type);
    write_track(&os, PKG_VIDEO, 0, "reconnect-v.mp4", path, sizeof(path));
    assert_int_equal((long)(count_track(&in360, PKG_VIDEO, 0, half) + in360.nvideo),
                     decode_frames(path));
    write_track(&os, PKG_AUDIO, 0, "reconnect-a.mp4", path, sizeof(path));
    assert_int_equal((long)(count_track(&in360, PKG_AUDIO, 0, half) + in360.naudio),
                     decode_frames(path));
    outs_free(&os);
    UNIT_END(live);
}

/*
 * A sequence header with the same bytes changes nothing; a different one
 * is refused, or with PKG_CFG_REPLACE ends the running segment and starts
 * generation 1 with its own init segment, on the same timeline.
 */
static void
test_config_change(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    struct pkg_rep_info ri;
    uint8_t rec[256];
    struct pkg_video_cfg vc = {.codec = PKG_CODEC_H264, .record = rec};
    size_t mid = frame_at(&in360, 3000), key2 = frame_at(&in360, 4000), n0;
    char path[256];

    (void)state;
    assert_true(in360.avcc_len <= sizeof(rec));
    memcpy(rec, in360.avcc, in360.avcc_len);
    vc.record_len = in360.avcc_len;
    rec[3] = 0x29; /* another level: a different configuration */
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    configure(p, &in360);
    push_range(p, &in360, 0, mid, 0);
    n0 = os.n;
    configure(p, &in360);
    assert_int_equal(n0, os.n);
    assert_int_equal(ERR_EXISTS, pkg_config_video(p, &vc, 0));
    assert_int_equal(n0, os.n);
    pkg_rep_info(p, PKG_VIDEO, &ri);
    assert_int_equal(0, ri.gen);
    assert_string_equal("avc1.64001e", ri.codecs);
    assert_int_equal(640, ri.width);
    assert_int_equal(360, ri.height);

    assert_int_equal(0, pkg_config_video(p, &vc, PKG_CFG_REPLACE));
    pkg_rep_info(p, PKG_VIDEO, &ri);
    assert_int_equal(1, ri.gen);
    assert_string_equal("avc1.640029", ri.codecs);
    /* gen 0's open segment came out first, then gen 1's init */
    assert_int_equal(PKG_OUT_SEGMENT, os.r[os.n - 2].o.kind);
    assert_int_equal(0, os.r[os.n - 2].o.gen);
    assert_int_equal(PKG_OUT_INIT, os.r[os.n - 1].o.kind);
    assert_int_equal(1, os.r[os.n - 1].o.gen);
    push_range(p, &in360, mid, in360.n, 0);
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);

    /* gen 1 starts at the next keyframe (4.067 s); the frames before it were dropped */
    assert_int_equal(2, count_segs(&os, PKG_VIDEO, 0));
    assert_int_equal(2, count_segs(&os, PKG_VIDEO, 1));
    for (n0 = 0; n0 < os.n && !(os.r[n0].o.kind == PKG_OUT_SEGMENT && os.r[n0].o.gen == 1); n0++)
        ;
    assert_true(n0 < os.n);
    assert_int_equal(in360.f[key2].dts_ms * 90 + INT64_C(67) * 90, os.r[n0].o.t);
    assert_int_equal(0, timeline_gaps(&os, PKG_VIDEO, 1));
    assert_int_equal(0, timeline_gaps(&os, PKG_AUDIO, 0));
    /* the audio is cut on the AAC frame nearest to where gen 1 starts */
    {
        size_t ai[64] = {0}, na = outs_select(&os, PKG_OUT_SEGMENT, PKG_AUDIO, ai, 64), k;
        int found = 0;

        for (k = 1; k < na; k++) {
            pkg_i128 diff2 =
                ((pkg_i128)os.r[ai[k]].o.t * 90000 - (pkg_i128)os.r[n0].o.t * 44100) * 2;

            found += diff2 <= (pkg_i128)1024 * 90000 && diff2 > -(pkg_i128)1024 * 90000;
        }
        assert_int_equal(1, found);
    }
    write_track(&os, PKG_VIDEO, 1, "gen1-v.mp4", path, sizeof(path));
    assert_int_equal((long)count_track(&in360, PKG_VIDEO, key2, in360.n), decode_frames(path));
    write_track(&os, PKG_VIDEO, 0, "gen0-v.mp4", path, sizeof(path));
    assert_int_equal((long)count_track(&in360, PKG_VIDEO, 0, mid), decode_frames(path));
    outs_free(&os);
    UNIT_END(live);
}

/* Bad input gets a clear error, leaves the packager usable, and never crashes. */
static void
test_bad_input(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    struct pkg_stats st;
    static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04};
    static const uint8_t adts[] = {0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc, 0x21};
    static const uint8_t bad_avcc[] = {0x00, 0x00, 0x00, 0x09, 0x65, 0x88};
    struct pkg_video_cfg vc = {
        .codec = PKG_CODEC_H264, .record = garbage, .record_len = sizeof(garbage)};
    struct pkg_audio_cfg ac = {.codec = PKG_CODEC_AAC, .asc = garbage, .asc_len = sizeof(garbage)};
    struct pkg_frame f = {.dts_ms = 0, .data = in360.f[0].data, .len = in360.f[0].len, .key = 1};
    size_t i, nv = 0;
    int rc;

    (void)state;
    assert_int_equal(ERR_INVAL, pkg_new(&p, &(struct pkg_params){.target_ms = 50}, outs_cb, &os));
    assert_null(p);
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    /* frames before any configuration */
    assert_int_equal(ERR_PROTO, pkg_push(p, PKG_VIDEO, &f));
    assert_int_equal(ERR_PROTO, pkg_push(p, PKG_AUDIO, &f));
    /* garbage, empty and truncated configuration records */
    assert_int_equal(ERR_MEDIA, pkg_config_video(p, &vc, 0));
    vc.record_len = 0;
    assert_int_equal(ERR_MEDIA, pkg_config_video(p, &vc, 0));
    vc.record = in360.avcc;
    vc.record_len = 12; /* into the SPS */
    assert_int_equal(ERR_MEDIA, pkg_config_video(p, &vc, 0));
    vc.codec = PKG_CODEC_AAC;
    assert_int_equal(ERR_INVAL, pkg_config_video(p, &vc, 0));
    assert_int_equal(ERR_MEDIA, pkg_config_audio(p, &ac, 0));
    ac.asc_len = 1;
    assert_int_equal(ERR_MEDIA, pkg_config_audio(p, &ac, 0));
    assert_int_equal(0, os.n);
    assert_int_equal(ERR_PROTO, pkg_push(p, PKG_VIDEO, &f)); /* still unconfigured */

    configure(p, &in360);
    assert_int_equal(2, os.n);
    /* a garbage record on a configured track leaves it as it was */
    vc.codec = PKG_CODEC_H264;
    vc.record = garbage;
    vc.record_len = sizeof(garbage);
    assert_int_equal(ERR_MEDIA, pkg_config_video(p, &vc, PKG_CFG_REPLACE));
    /* frame-level errors, each leaving the packager as it was */
    f.data = bad_avcc;
    f.len = sizeof(bad_avcc);
    assert_int_equal(ERR_MEDIA, pkg_push(p, PKG_VIDEO, &f));
    f.data = adts;
    f.len = sizeof(adts);
    assert_int_equal(ERR_MEDIA, pkg_push(p, PKG_AUDIO, &f));
    f.data = in360.f[0].data;
    f.len = 0;
    assert_int_equal(ERR_MEDIA, pkg_push(p, PKG_VIDEO, &f));
    f.len = PKG_FRAME_MAX + 1;
    assert_int_equal(ERR_LIMIT, pkg_push(p, PKG_VIDEO, &f));
    f.len = in360.f[0].len;
    f.cts_ms = -40;
    assert_int_equal(ERR_PROTO, pkg_push(p, PKG_VIDEO, &f));
    f.cts_ms = 0;
    f.dts_ms = -1;
    assert_int_equal(ERR_INVAL, pkg_push(p, PKG_VIDEO, &f));
    f.dts_ms = PKG_MS_MAX;
    assert_int_equal(ERR_INVAL, pkg_push(p, PKG_VIDEO, &f));
    assert_int_equal(ERR_INVAL, pkg_push(p, (enum pkg_track)7, &f));
    assert_int_equal(ERR_INVAL, pkg_push(p, PKG_VIDEO, NULL));

    /* the real stream, with every 50th frame repeated (a dts that does not grow) */
    for (i = 0; i < in360.n; i++) {
        assert_int_equal(0, push(p, &in360.f[i], 0));
        if (i % 50 == 49) {
            rc = push(p, &in360.f[i], 0);
            assert_int_equal(ERR_PROTO, rc);
            nv += in360.f[i].track == PKG_VIDEO;
        }
    }
    assert_int_equal(0, pkg_flush(p));
    pkg_stats(p, PKG_VIDEO, &st);
    assert_int_equal(in360.nvideo, st.frames);
    /* before configuration 2, then bad framing, empty, too big, cts, dts < 0, dts too big, NULL */
    assert_int_equal(nv + 9, st.rejected);
    assert_int_equal(in360.nkey, st.segments);
    pkg_check(p);
    pkg_free(&p);
    assert_int_equal(0, timeline_gaps(&os, PKG_VIDEO, 0));
    assert_int_equal(0, timeline_gaps(&os, PKG_AUDIO, 0));
    outs_free(&os);
    UNIT_END(live);
}

/* Video that starts mid-GOP is dropped up to the first keyframe. */
static void
test_drop_until_keyframe(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    struct pkg_stats st;
    size_t from = frame_at(&in360, 1000), key = frame_at(&in360, 2000), idx[8] = {0};

    (void)state;
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    configure(p, &in360);
    push_range(p, &in360, from, in360.n, 0);
    assert_int_equal(0, pkg_flush(p));
    pkg_stats(p, PKG_VIDEO, &st);
    assert_int_equal(count_track(&in360, PKG_VIDEO, from, key), st.dropped);
    assert_int_equal(in360.nkey - 1, outs_select(&os, PKG_OUT_SEGMENT, PKG_VIDEO, idx, 8));
    assert_int_equal(in360.f[key].dts_ms * 90 + INT64_C(67) * 90, os.r[idx[0]].o.t);
    pkg_free(&p);
    outs_free(&os);
    UNIT_END(live);
}

/* Without video the audio cuts itself on the AAC frame nearest the target. */
static void
test_audio_only(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.target_ms = 1000, .stream = "test"};
    struct pkg_audio_cfg ac = {.codec = PKG_CODEC_AAC, .asc = in360.asc, .asc_len = in360.asc_len};
    struct outs os = {0};
    struct pkg *p;
    size_t idx[16] = {0}, n, i;
    char path[256];

    (void)state;
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    assert_int_equal(0, pkg_config_audio(p, &ac, 0));
    for (i = 0; i < in360.n; i++)
        if (in360.f[i].track == PKG_AUDIO)
            assert_int_equal(0, push(p, &in360.f[i], 0));
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);
    n = outs_select(&os, PKG_OUT_SEGMENT, PKG_AUDIO, idx, 16);
    assert_int_equal((in360.naudio + 42) / 43, n);
    /* 1 s at 44.1 kHz is 43.07 frames: 43 */
    for (i = 0; i + 1 < n; i++)
        assert_int_equal(43 * 1024, os.r[idx[i]].o.d);
    assert_int_equal(0, timeline_gaps(&os, PKG_AUDIO, 0));
    write_track(&os, PKG_AUDIO, 0, "alone-a.mp4", path, sizeof(path));
    assert_int_equal((long)in360.naudio, decode_frames(path));
    outs_free(&os);
    UNIT_END(live);
}

/* A video track that never sends frames does not hold the audio back forever. */
static void
test_video_stalled(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    size_t idx[16] = {0}, n, i, before;

    (void)state;
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    configure(p, &in360);
    before = os.n;
    for (i = 0; i < in360.n; i++)
        if (in360.f[i].track == PKG_AUDIO)
            assert_int_equal(0, push(p, &in360.f[i], 0));
    /* 7 s of audio: 4 s may wait for the video, the first 2 s segment is out */
    assert_true(os.n > before);
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);
    n = outs_select(&os, PKG_OUT_SEGMENT, PKG_AUDIO, idx, 16);
    assert_int_equal(4, n);
    /* 2 s at 44.1 kHz is 86.13 frames: 86 */
    for (i = 0; i + 1 < n; i++)
        assert_int_equal(86 * 1024, os.r[idx[i]].o.d);
    outs_free(&os);
    UNIT_END(live);
}

/* A failing callback fails the call that produced the output; nothing else breaks. */
static void
test_callback_error(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {.fail_at = 3};
    struct pkg *p;
    size_t i;
    int rc, failed = 0;

    (void)state;
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    configure(p, &in360);
    for (i = 0; i < in360.n; i++) {
        rc = push(p, &in360.f[i], 0);
        assert_true(rc == 0 || rc == ERR_STORE);
        failed += rc == ERR_STORE;
    }
    assert_int_equal(1, failed);
    assert_int_equal(0, pkg_flush(p));
    pkg_free(&p);
    assert_int_equal(0, timeline_gaps(&os, PKG_VIDEO, 0));
    outs_free(&os);
    UNIT_END(live);
}

/* A libavformat failure fails its track; configuring again reopens it. */
static void
test_faults(void **state)
{
    int64_t live = mem_live();
    struct pkg_params pp = {.stream = "test"};
    struct outs os = {0};
    struct pkg *p;
    struct pkg_video_cfg vc = {
        .codec = PKG_CODEC_H264, .record = in360.avcc, .record_len = in360.avcc_len};
    size_t i, idx[16];
    int rc;

    (void)state;
    if (!fault_enabled())
        skip();
    fault_reset();
    assert_int_equal(0, pkg_new(&p, &pp, outs_cb, &os));
    assert_int_equal(0, fault_arm("pkg.mux_open", 1, false));
    assert_int_equal(ERR_MEDIA, pkg_config_video(p, &vc, 0));
    assert_int_equal(ERR_PROTO, push(p, &in360.f[0], 0));
    assert_int_equal(0, pkg_config_video(p, &vc, 0));
    assert_int_equal(0, fault_arm("pkg.mux_write", 20, false));
    rc = 0;
    for (i = 0; i < in360.n && rc == 0; i++)
        if (in360.f[i].track == PKG_VIDEO)
            rc = push(p, &in360.f[i], 0);
    assert_int_equal(ERR_MEDIA, rc);
    assert_int_equal(ERR_MEDIA, push(p, &in360.f[frame_at(&in360, 3000)], 0));
    /* the same record reopens the failed track as generation 1 */
    assert_int_equal(0, pkg_config_video(p, &vc, 0));
    assert_int_equal(0, fault_arm("pkg.mux_flush", 1, false));
    rc = 0;
    for (; i < in360.n && rc == 0; i++)
        if (in360.f[i].track == PKG_VIDEO)
            rc = push(p, &in360.f[i], 0);
    assert_int_equal(ERR_MEDIA, rc);
    assert_int_equal(0, pkg_flush(p));
    pkg_check(p);
    pkg_free(&p);
    assert_int_equal(2, outs_select(&os, PKG_OUT_INIT, PKG_VIDEO, idx, 16));
    fault_reset();
    outs_free(&os);
    UNIT_END(live);
}

/* The keyframe index of the FLV: 67 ms, then every 2 s. */
static void
test_index_file(void **state)
{
    int64_t live = mem_live();
    struct pkg_index ix;
    char path[256];
    size_t i;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/in.flv", tmpdir);
    assert_int_equal(0, pkg_index_file(path, &ix));
    assert_int_equal(1, ix.tb_num);
    assert_int_equal(1000, ix.tb_den);
    assert_int_equal(in360.nkey, ix.n);
    assert_int_equal(in360.nvideo, ix.frames);
    for (i = 0; i < ix.n; i++)
        assert_int_equal(67 + 2000 * (int64_t)i, ix.key_pts[i]);
    assert_true(ix.end_pts >= 7000 && ix.end_pts <= 7100);
    pkg_index_free(&ix);
    assert_null(ix.key_pts);
    (void)snprintf(path, sizeof(path), "%s/nonexistent.mp4", tmpdir);
    assert_int_equal(ERR_NOTFOUND, pkg_index_file(path, &ix));
    (void)snprintf(path, sizeof(path), "%s/in.flv.txt", tmpdir);
    {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_true(fputs("not a media file\n", f) >= 0);
        (void)fclose(f);
    }
    assert_int_equal(ERR_MEDIA, pkg_index_file(path, &ix));
    UNIT_END(live);
}

/* Top-level boxes of type `type` in a file. */
static size_t
count_boxes(const uint8_t *p, size_t len, const char *type)
{
    size_t pos = 0, n = 0, size;

    while (len - pos >= 8) {
        size =
            (size_t)p[pos] << 24 | (size_t)p[pos + 1] << 16 | (size_t)p[pos + 2] << 8 | p[pos + 3];
        assert_true(size >= 8 && size <= len - pos);
        n += memcmp(p + pos + 4, type, 4) == 0;
        pos += size;
    }
    return n;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(0, fseek(f, 0, SEEK_END));
    n = ftell(f);
    assert_true(n > 0);
    assert_int_equal(0, fseek(f, 0, SEEK_SET));
    buf = xmalloc((size_t)n);
    assert_int_equal(n, fread(buf, 1, (size_t)n, f));
    (void)fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Feeds a whole file in pieces of `chunk` bytes (0: at once) and ends it. */
static void
fmp4_run(const uint8_t *p, size_t len, size_t chunk, const struct pkg_fmp4_params *fp,
         struct outs *os)
{
    struct pkg_fmp4 *f;
    size_t pos, n;

    assert_int_equal(0, pkg_fmp4_new(&f, fp, outs_cb, os));
    for (pos = 0; pos < len; pos += n) {
        n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
        assert_int_equal(0, pkg_fmp4_feed(f, p + pos, n));
    }
    assert_int_equal(0, pkg_fmp4_end(f));
    pkg_fmp4_free(&f);
    assert_null(f);
}

/*
 * A transcoder's fragmented MP4 (ffmpeg, one track per pipe) comes out as
 * the same kind of init + segments, one per input fragment, in whatever
 * pieces it arrives, identical bytes either way.
 */
static void
test_fmp4_repackage(void **state)
{
    int64_t live = mem_live();
    struct pkg_fmp4_params vp = {.track = PKG_VIDEO, .stream = "test"};
    struct pkg_fmp4_params ap = {.track = PKG_AUDIO, .stream = "test"};
    struct outs a = {0}, b = {0}, c = {0}, au = {0};
    char cmd[1024], vpath[256], apath[256], path[256];
    uint8_t *vbuf, *abuf;
    size_t vlen, alen, nfrag, idx[64] = {0}, n, i;
    struct pkg_rep_info ri;

    (void)state;
    (void)snprintf(vpath, sizeof(vpath), "%s/rung-v.mp4", tmpdir);
    (void)snprintf(apath, sizeof(apath), "%s/rung-a.mp4", tmpdir);
    (void)snprintf(
        cmd, sizeof(cmd),
        "ffmpeg -nostdin -hide_banner -loglevel error -y -i %s/in.flv "
        "-map 0:v -c:v libx264 -s 320x180 -g 60 -keyint_min 60 -sc_threshold 0 "
        "-video_track_timescale 90000 -movflags +frag_keyframe+empty_moov+default_base_moof "
        "-f mp4 %s -map 0:a -c:a aac -frag_duration 2000000 "
        "-movflags +empty_moov+default_base_moof -f mp4 %s",
        tmpdir, vpath, apath);
    assert_int_equal(0, system(cmd));
    vbuf = read_file(vpath, &vlen);
    abuf = read_file(apath, &alen);
    nfrag = count_boxes(vbuf, vlen, "moof");
    assert_true(nfrag >= 3);

    fmp4_run(vbuf, vlen, 0, &vp, &a);
    fmp4_run(vbuf, vlen, 777, &vp, &b);
    assert_int_equal(a.n, b.n);
    for (i = 0; i < a.n; i++)
        assert_memory_equal(a.r[i].sha, b.r[i].sha, 32);
    assert_int_equal(1, outs_select(&a, PKG_OUT_INIT, PKG_VIDEO, idx, 64));
    n = outs_select(&a, PKG_OUT_SEGMENT, PKG_VIDEO, idx, 64);
    assert_int_equal(nfrag, n);
    for (i = 0; i < n; i++) {
        assert_int_equal(90000, a.r[idx[i]].o.timescale);
        assert_int_equal(1, a.r[idx[i]].o.sap_type);
        assert_int_equal(a.r[idx[i]].o.t, a.r[idx[i]].o.ept);
        if (i + 1 < n) {
            assert_int_equal(180000, a.r[idx[i]].o.d);
            assert_int_equal(a.r[idx[i]].o.t + a.r[idx[i]].o.d, a.r[idx[i + 1]].o.t);
        }
    }
    write_track(&a, PKG_VIDEO, 0, "rung-v-out.mp4", path, sizeof(path));
    assert_int_equal(decode_frames(vpath), decode_frames(path));

    /* an offset moves every t and nothing else in the names */
    vp.offset = 900000;
    fmp4_run(vbuf, vlen, 4096, &vp, &c);
    assert_int_equal(a.n, c.n);
    for (i = 0; i < n; i++)
        assert_int_equal(a.r[idx[i]].o.t + 900000, c.r[idx[i]].o.t);

    /* without default-base-is-moof: data offsets count from the start of the stream */
    {
        struct outs d = {0};
        uint8_t *dbuf;
        size_t dlen;

        (void)snprintf(path, sizeof(path), "%s/rung-v-abs.mp4", tmpdir);
        (void)snprintf(cmd, sizeof(cmd),
                       "ffmpeg -nostdin -hide_banner -loglevel error -y -i %s -c copy "
                       "-movflags +frag_keyframe+empty_moov -f mp4 %s",
                       vpath, path);
        assert_int_equal(0, system(cmd));
        dbuf = read_file(path, &dlen);
        assert_int_equal(0, count_boxes(dbuf, dlen, "sidx"));
        vp.offset = 0;
        fmp4_run(dbuf, dlen, 333, &vp, &d);
        assert_int_equal(a.n, d.n);
        for (i = 0; i < n; i++) {
            assert_int_equal(a.r[idx[i]].o.t, d.r[idx[i]].o.t);
            assert_int_equal(a.r[idx[i]].o.d, d.r[idx[i]].o.d);
        }
        xfree(dbuf);
        outs_free(&d);
    }

    fmp4_run(abuf, alen, 1000, &ap, &au);
    n = outs_select(&au, PKG_OUT_SEGMENT, PKG_AUDIO, idx, 64);
    assert_int_equal(count_boxes(abuf, alen, "moof"), n);
    assert_int_equal(0, timeline_gaps(&au, PKG_AUDIO, 0));
    write_track(&au, PKG_AUDIO, 0, "rung-a-out.mp4", path, sizeof(path));
    assert_int_equal(decode_frames(apath), decode_frames(path));
    {
        struct pkg_fmp4 *f;

        assert_int_equal(0, pkg_fmp4_new(&f, &ap, outs_cb, &au));
        assert_int_equal(0, pkg_fmp4_feed(f, abuf, alen));
        pkg_fmp4_info(f, &ri);
        assert_string_equal("mp4a.40.2", ri.codecs);
        assert_int_equal(44100, ri.timescale);
        assert_true(pkg_fmp4_end_time(f) > 0);
        pkg_fmp4_free(&f);
    }
    xfree(vbuf);
    xfree(abuf);
    outs_free(&a);
    outs_free(&b);
    outs_free(&c);
    outs_free(&au);
    UNIT_END(live);
}

/* Broken byte streams fail the reader with a clear error. */
static void
test_fmp4_bad_input(void **state)
{
    int64_t live = mem_live();
    struct pkg_fmp4_params vp = {.track = PKG_VIDEO, .stream = "test"};
    struct pkg_fmp4_params ap = {.track = PKG_AUDIO, .stream = "test"};
    struct outs os = {0};
    struct pkg_fmp4 *f;
    char cmd[768], path[256];
    uint8_t *buf, zero[8] = {0, 0, 0, 0, 'f', 'r', 'e', 'e'};
    size_t len;

    (void)state;
    assert_int_equal(ERR_INVAL,
                     pkg_fmp4_new(&f, &(struct pkg_fmp4_params){.track = 9}, outs_cb, &os));
    /* a box of size 0 ("to the end of the file") has no end on a pipe */
    assert_int_equal(0, pkg_fmp4_new(&f, &vp, outs_cb, &os));
    assert_int_equal(ERR_PROTO, pkg_fmp4_feed(f, zero, sizeof(zero)));
    assert_int_equal(ERR_MEDIA, pkg_fmp4_feed(f, zero, sizeof(zero))); /* failed for good */
    pkg_fmp4_free(&f);

    /* a plain (not fragmented) MP4: mdat without moof */
    (void)snprintf(path, sizeof(path), "%s/plain.mp4", tmpdir);
    (void)snprintf(cmd, sizeof(cmd),
                   "ffmpeg -nostdin -hide_banner -loglevel error -y -i %s/in.flv -t 1 -c copy "
                   "-movflags +faststart -f mp4 %s",
                   tmpdir, path);
    assert_int_equal(0, system(cmd));
    buf = read_file(path, &len);
    assert_int_equal(0, pkg_fmp4_new(&f, &vp, outs_cb, &os));
    assert_int_equal(ERR_PROTO, pkg_fmp4_feed(f, buf, len));
    pkg_fmp4_free(&f);
    xfree(buf);

    /* the video rendition fed as audio; then a stream cut short */
    (void)snprintf(path, sizeof(path), "%s/rung-v.mp4", tmpdir);
    buf = read_file(path, &len);
    assert_int_equal(0, pkg_fmp4_new(&f, &ap, outs_cb, &os));
    assert_int_equal(ERR_MEDIA, pkg_fmp4_feed(f, buf, len));
    pkg_fmp4_free(&f);
    assert_int_equal(0, pkg_fmp4_new(&f, &vp, outs_cb, &os));
    assert_int_equal(0, pkg_fmp4_feed(f, buf, len - 100));
    assert_int_equal(ERR_PROTO, pkg_fmp4_end(f));
    pkg_fmp4_free(&f);
    /* a box bigger than allowed */
    vp.max_box = 1000;
    assert_int_equal(0, pkg_fmp4_new(&f, &vp, outs_cb, &os));
    assert_int_equal(ERR_LIMIT, pkg_fmp4_feed(f, buf, len));
    pkg_fmp4_free(&f);
    xfree(buf);
    outs_free(&os);
    UNIT_END(live);
}

static void
hex_decode(const char *hex, uint8_t *out, size_t *len)
{
    size_t i, n = strlen(hex) / 2;

    for (i = 0; i < n; i++) {
        unsigned v;

        assert_int_equal(1, sscanf(hex + 2 * i, "%2x", &v));
        out[i] = (uint8_t)v;
    }
    *len = n;
}

/* SPS sizes from x264 streams: cropping, 4:4:4, 4:2:2, monochrome, interlaced. */
static void
test_cfg_sps(void **state)
{
    static const struct {
        const char *hex;
        uint32_t w, h;
        uint8_t chroma;
    } v[] = {
        {"67640028acd940780227e5c044000003000400000300c83c60c658", 1920, 1080, 1},
        {"6742c01fd9005005bb011000000300100000030320f1832480", 1280, 720, 1},
        {"67f4000d919b282c12d808800000030080000019078a14cb", 352, 288, 3},
        {"6764001eacd940a03db011000003000100000300320f162d96", 640, 480, 1},
        {"6764001eacd940b424d8088000000300800000190f8a14cb", 720, 576, 1},
        {"677a001ebcd940d83de6f011000003000100000300320f162d96", 854, 480, 2},
        {"6764000af365109b016c800000030080000019078912cb", 64, 64, 0},
    };
    struct pkg_cfg_avc avc;
    uint8_t buf[64];
    size_t i, len;
    uint32_t w = 0, h = 0;
    uint8_t chroma = 0;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(v); i++) {
        hex_decode(v[i].hex, buf, &len);
        assert_int_equal(0, pkg_cfg_sps_size(buf, len, &w, &h, &chroma));
        assert_int_equal(v[i].w, w);
        assert_int_equal(v[i].h, h);
        assert_int_equal(v[i].chroma, chroma);
        /* a truncation fails cleanly, or still reaches the cropping fields */
        while (--len > 0) {
            uint32_t w2 = 0, h2 = 0;
            int rc = pkg_cfg_sps_size(buf, len, &w2, &h2, &chroma);

            assert_true(rc == ERR_MEDIA || (rc == 0 && w2 == w && h2 == h));
        }
    }
    assert_int_equal(0, pkg_cfg_avc_parse(in360.avcc, in360.avcc_len, &avc));
    assert_int_equal(640, avc.width);
    assert_int_equal(360, avc.height);
    assert_int_equal(4, avc.nal_len_size);
    assert_int_equal(1, avc.nb_sps);
    assert_int_equal(1, avc.nb_pps);
    /* every cut before the end of the PPS fails; the high-profile tail is optional */
    {
        const uint8_t *r = in360.avcc;
        size_t sps_len = (size_t)r[6] << 8 | r[7], pps_at = 8 + sps_len + 1;
        size_t end = pps_at + 2 + ((size_t)r[pps_at] << 8 | r[pps_at + 1]);

        assert_true(end < in360.avcc_len);
        for (len = 0; len < end; len++)
            assert_int_equal(ERR_MEDIA, pkg_cfg_avc_parse(r, len, &avc));
        assert_int_equal(0, pkg_cfg_avc_parse(r, end, &avc));
    }
    memcpy(buf, in360.avcc, in360.avcc_len);
    buf[4] = 0xfe; /* 3-byte NAL lengths */
    assert_int_equal(ERR_MEDIA, pkg_cfg_avc_parse(buf, in360.avcc_len, &avc));
    memcpy(buf, in360.avcc, in360.avcc_len);
    buf[0] = 2; /* version */
    assert_int_equal(ERR_MEDIA, pkg_cfg_avc_parse(buf, in360.avcc_len, &avc));
}

static void
test_cfg_aac(void **state)
{
    static const struct {
        const char *hex;
        int rc;
        uint8_t aot, channels;
        uint32_t rate, frame;
        const char *codecs;
    } v[] = {
        {"1210", 0, 2, 2, 44100, 1024, "mp4a.40.2"},
        {"1208", 0, 2, 1, 44100, 1024, "mp4a.40.2"},
        {"1780562208", 0, 2, 1, 44100, 1024, "mp4a.40.2"},
        {"2b118800", 0, 5, 2, 48000, 2048, "mp4a.40.5"},
        {"eb098800", 0, 29, 1, 48000, 2048, "mp4a.40.29"},
        {"1194", 0, 2, 2, 48000, 960, "mp4a.40.2"},
        {"1200", 0, 2, 0, 44100, 1024, "mp4a.40.2"},
        {"f94840", ERR_MEDIA, 0, 0, 0, 0, NULL},
        {"1690", ERR_MEDIA, 0, 0, 0, 0, NULL},
        {"1240", ERR_MEDIA, 0, 0, 0, 0, NULL},
        {"2a130800", ERR_MEDIA, 0, 0, 0, 0, NULL},
        {"12", ERR_MEDIA, 0, 0, 0, 0, NULL},
        {"", ERR_MEDIA, 0, 0, 0, 0, NULL},
    };
    struct pkg_cfg_aac aac;
    uint8_t buf[16];
    size_t i, len;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(v); i++) {
        hex_decode(v[i].hex, buf, &len);
        assert_int_equal(v[i].rc, pkg_cfg_aac_parse(buf, len, &aac));
        if (v[i].rc != 0)
            continue;
        assert_int_equal(v[i].aot, aac.aot);
        assert_int_equal(v[i].channels, aac.channels);
        assert_int_equal(v[i].rate, aac.sample_rate);
        assert_int_equal(v[i].frame, aac.frame_len);
        assert_string_equal(v[i].codecs, aac.codecs);
    }
}

static void
test_cfg_avcc_scan(void **state)
{
    static const uint8_t ok[] = {0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 0x88, 0x84};
    static const uint8_t zero[] = {0, 0, 0, 0, 0x65};
    static const uint8_t over[] = {0, 0, 0, 9, 0x65, 0x88};
    static const uint8_t tail[] = {0, 0, 0, 1, 0x41, 0, 0};
    static const uint8_t two[] = {0, 1, 0x41, 0, 2, 0x41, 0x9a};
    int idr;

    (void)state;
    assert_int_equal(2, pkg_cfg_avcc_scan(ok, sizeof(ok), 4, &idr));
    assert_int_equal(1, idr);
    assert_int_equal(ERR_MEDIA, pkg_cfg_avcc_scan(zero, sizeof(zero), 4, &idr));
    assert_int_equal(ERR_MEDIA, pkg_cfg_avcc_scan(over, sizeof(over), 4, &idr));
    assert_int_equal(ERR_MEDIA, pkg_cfg_avcc_scan(tail, sizeof(tail), 4, &idr));
    assert_int_equal(ERR_MEDIA, pkg_cfg_avcc_scan(ok, 0, 4, &idr));
    assert_int_equal(2, pkg_cfg_avcc_scan(two, sizeof(two), 2, &idr));
    assert_int_equal(0, idr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments_follow_gops),
        cmocka_unit_test(test_segments_decode),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_interleaving_independent),
        cmocka_unit_test(test_reconnect_continues_timeline),
        cmocka_unit_test(test_config_change),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_drop_until_keyframe),
        cmocka_unit_test(test_audio_only),
        cmocka_unit_test(test_video_stalled),
        cmocka_unit_test(test_callback_error),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_index_file),
        cmocka_unit_test(test_fmp4_repackage),
        cmocka_unit_test(test_fmp4_bad_input),
        cmocka_unit_test(test_cfg_sps),
        cmocka_unit_test(test_cfg_aac),
        cmocka_unit_test(test_cfg_avcc_scan),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
