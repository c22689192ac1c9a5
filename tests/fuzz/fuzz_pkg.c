/*
 * fuzz_pkg.c -- the packager driven by a hostile publisher.
 *
 * The input is a script of operations, each an opcode byte and its
 * arguments: push a video frame (dts step, composition offset, key flag,
 * well-framed or raw AVCC bytes), push an audio frame, flush, set an
 * offset, (re)configure either track with a good, a mutated or a raw
 * record, with or without PKG_CFG_REPLACE. After every operation
 * pkg_check() must hold; every output must be well-formed (an init first
 * in each generation, segments with d > 0 and a t that never goes back
 * into an earlier segment of the same track). At the end nothing may be
 * left allocated. pkg.c and pkg_cfg.c are compiled in for coverage.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../origin/pkg.c"
#include "../../origin/pkg_cfg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 640x360 High profile record and a mono 44.1 kHz AAC-LC config, from x264 and ffmpeg. */
static const uint8_t fz_avcc[] = {
    0x01, 0x64, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0,
    0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16,
    0x2d, 0x96, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0, 0xfd, 0xf8, 0xf8, 0x00,
};
static const uint8_t fz_ascs[][5] = {
    {0x12, 0x08},
    {0x12, 0x10},
    {0x11, 0x90},
    {0x2b, 0x11, 0x88, 0x00},
    {0x11, 0x94},
    {0x12, 0x00},
    {0x17, 0x80, 0x56, 0x22, 0x08},
};

struct fz_state {
    const uint8_t *p; /* the script, borrowed */
    size_t len, pos;
    int64_t dts[PKG_TRACKS];
    int inited[PKG_TRACKS];
    uint32_t gen[PKG_TRACKS];
    int have_end[PKG_TRACKS];
    int64_t end[PKG_TRACKS];
    uint32_t end_ts[PKG_TRACKS];
};

/* Every failure is one of the documented codes. */
static void
fz_rc(int rc)
{
    assert(rc == 0 || rc == ERR_PROTO || rc == ERR_MEDIA || rc == ERR_LIMIT || rc == ERR_INVAL ||
           rc == ERR_EXISTS);
}

static uint8_t
fz_byte(struct fz_state *s)
{
    return s->pos < s->len ? s->p[s->pos++] : 0;
}

static int
fz_out(void *arg, const struct pkg_out *o)
{
    struct fz_state *s = arg;

    assert(o->track == PKG_VIDEO || o->track == PKG_AUDIO);
    assert(o->data != NULL && o->len > 8);
    if (getenv("FUZZ_PKG_VERBOSE") != NULL)
        (void)fprintf(stderr, "out kind=%d track=%d gen=%u t=%" PRId64 " d=%" PRId64 " len=%zu\n",
                      o->kind, o->track, (unsigned)o->gen, o->t, o->d, o->len);
    if (o->kind == PKG_OUT_INIT) {
        assert(!s->inited[o->track] || o->gen > s->gen[o->track]);
        s->inited[o->track] = 1;
        s->gen[o->track] = o->gen;
        return 0;
    }
    assert(o->kind == PKG_OUT_SEGMENT);
    assert(s->inited[o->track] && o->gen == s->gen[o->track]);
    assert(o->d > 0 && o->samples > 0 && o->t >= 0);
    assert(o->sap_type == 1 || o->sap_type == 3);
    assert(memcmp(o->data + 4, "styp", 4) == 0);
    /* Never back into time already segmented (checked while the timescale holds). */
    if (s->have_end[o->track] && o->timescale == s->end_ts[o->track])
        assert(o->t >= s->end[o->track]);
    s->have_end[o->track] = 1;
    s->end[o->track] = o->t + o->d;
    s->end_ts[o->track] = o->timescale;
    return 0;
}

static void
fz_push_video(struct pkg *p, struct fz_state *s)
{
    uint8_t buf[300], step = fz_byte(s), cts = fz_byte(s), fl = fz_byte(s), n = fz_byte(s);
    struct pkg_frame f = {0};
    size_t i, len;

    s->dts[PKG_VIDEO] += step == 255 ? 65000 : (int64_t)step - 2;
    f.dts_ms = s->dts[PKG_VIDEO];
    f.cts_ms = cts < 128 ? (int32_t)cts : (int32_t)cts - 256; /* a signed byte */
    f.key = fl & 1;
    if (fl & 2) {
        /* raw bytes from the script */
        len = n <= s->len - s->pos ? n : s->len - s->pos;
        memcpy(buf, s->p + s->pos, len);
        s->pos += len;
    } else {
        /* one well-framed NAL unit: IDR or non-IDR slice */
        len = (size_t)n + 5;
        buf[0] = buf[1] = buf[2] = 0;
        buf[3] = (uint8_t)(n + 1);
        buf[4] = f.key ? 0x65 : 0x41;
        for (i = 5; i < len; i++)
            buf[i] = (uint8_t)(i * 37);
    }
    f.data = buf;
    f.len = len;
    fz_rc(pkg_push(p, PKG_VIDEO, &f));
}

static void
fz_push_audio(struct pkg *p, struct fz_state *s)
{
    uint8_t buf[256], step = fz_byte(s), n = fz_byte(s);
    struct pkg_frame f = {0};
    size_t i;

    s->dts[PKG_AUDIO] += step == 255 ? 65000 : (int64_t)step - 2;
    f.dts_ms = s->dts[PKG_AUDIO];
    for (i = 0; i < n; i++)
        buf[i] = (uint8_t)(0x21 + i);
    if (n > 0 && (step & 0x80))
        buf[0] = 0xff; /* looks like ADTS */
    f.data = buf;
    f.len = n;
    fz_rc(pkg_push(p, PKG_AUDIO, &f));
}

static void
fz_config(struct pkg *p, struct fz_state *s, unsigned op)
{
    uint8_t rec[sizeof(fz_avcc)], a = fz_byte(s), b = fz_byte(s);
    struct pkg_video_cfg vc = {
        .codec = PKG_CODEC_H264, .record = rec, .record_len = sizeof(fz_avcc)};
    struct pkg_audio_cfg ac = {.codec = PKG_CODEC_AAC, .channels = b & 7};
    unsigned flags = (a & 0x80) ? PKG_CFG_REPLACE : 0;
    size_t len;

    memcpy(rec, fz_avcc, sizeof(rec));
    switch (op) {
    case 4: /* the good record, maybe with a byte changed, maybe cut */
        if (a & 0x40)
            rec[b % sizeof(rec)] ^= (uint8_t)(a | 1);
        if (a & 0x20)
            vc.record_len = b % sizeof(rec);
        vc.width = (a & 0x10) ? b : 0;
        vc.height = (a & 0x10) ? a : 0;
        fz_rc(pkg_config_video(p, &vc, flags));
        break;
    case 5: /* raw bytes */
        len = b <= s->len - s->pos ? b : s->len - s->pos;
        vc.record = s->p + s->pos;
        vc.record_len = len;
        s->pos += len;
        fz_rc(pkg_config_video(p, &vc, flags));
        break;
    case 6:
        ac.asc = fz_ascs[(a & 0x3f) % ARRAY_SIZE(fz_ascs)];
        ac.asc_len = sizeof(fz_ascs[0]);
        fz_rc(pkg_config_audio(p, &ac, flags));
        break;
    default:
        len = b <= s->len - s->pos ? b : s->len - s->pos;
        ac.asc = s->p + s->pos;
        ac.asc_len = len;
        s->pos += len;
        fz_rc(pkg_config_audio(p, &ac, flags));
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct pkg_params pp = {.target_ms = 500, .max_segment_size = 1 << 16, .stream = "fz"};
    struct fz_state s;
    struct pkg *p;
    int64_t live = mem_live();
    unsigned op, steps = 0;

    if (!quiet) {
        log_set_level(LOG_CRIT);
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }
    memset(&s, 0, sizeof(s));
    s.p = data;
    s.len = size;
    if (pkg_new(&p, &pp, fz_out, &s) != 0)
        abort();
    while (s.pos < s.len && steps++ < 2000) {
        op = fz_byte(&s);
        switch (op % 10) {
        case 0:
        case 1:
        case 2:
            fz_push_video(p, &s);
            break;
        case 3:
            fz_push_audio(p, &s);
            break;
        case 8:
            fz_rc(pkg_flush(p));
            break;
        case 9:
            if (pkg_set_offset(p, (int64_t)fz_byte(&s) * 1000 - 20000) == 0) {
                s.dts[PKG_VIDEO] = 0;
                s.dts[PKG_AUDIO] = 0;
            }
            break;
        default:
            fz_config(p, &s, op % 10);
            break;
        }
        pkg_check(p);
    }
    fz_rc(pkg_flush(p));
    pkg_check(p);
    pkg_free(&p);
    assert(mem_live() == live);
    return 0;
}
