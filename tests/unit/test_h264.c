/*
 * test_h264.c -- the bit reader (exp-Golomb codes, emulation prevention)
 * and the SPS parser: SPS units libx264 wrote, and SPS units built field
 * by field here for what encoders rarely emit (4:4:4 with scaling lists,
 * monochrome, interlaced, odd crops, VUI variants, every range check).
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "err.h"
#include "media/bits.h"
#include "media/h264.h"
#include "compat.h"

static size_t
unhex(const char *h, uint8_t *out)
{
    size_t n = 0;

    while (h[0] && h[1]) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

/* ---- a bit writer to build RBSPs ---- */

struct bw {
    uint8_t b[2048];
    size_t bit;
};

static void
bw_u(struct bw *w, uint64_t v, unsigned n)
{
    while (n-- > 0) {
        assert_true(w->bit / 8 < sizeof(w->b));
        if ((v >> n) & 1)
            w->b[w->bit / 8] |= (uint8_t)(0x80u >> (w->bit % 8));
        w->bit++;
    }
}

static void
bw_ue(struct bw *w, uint64_t v)
{
    uint64_t x = v + 1;
    unsigned n = 0;

    while ((x >> n) > 1)
        n++;
    bw_u(w, 0, n);
    bw_u(w, x, n + 1);
}

static void
bw_se(struct bw *w, int64_t v)
{
    bw_ue(w, v > 0 ? (uint64_t)(2 * v - 1) : (uint64_t)(-2 * v));
}

/* rbsp_trailing_bits, then the NAL unit: header 0x67 and emulation prevention. */
static size_t
bw_nal(struct bw *w, uint8_t *out, size_t cap)
{
    size_t i, n = 0, rbsp;
    unsigned zeros = 0;

    bw_u(w, 1, 1);
    while (w->bit % 8)
        bw_u(w, 0, 1);
    rbsp = w->bit / 8;
    out[n++] = 0x67;
    for (i = 0; i < rbsp; i++) {
        if (zeros >= 2 && w->b[i] <= 3) {
            assert_true(n < cap);
            out[n++] = 0x03;
            zeros = 0;
        }
        assert_true(n < cap);
        out[n++] = w->b[i];
        zeros = w->b[i] == 0 ? zeros + 1 : 0;
    }
    return n;
}

struct sps_fields {
    uint8_t profile, level;
    uint32_t chroma;   /* coded only by high profiles */
    uint32_t separate; /* chroma 3 only */
    uint32_t depth_luma, depth_chroma;
    int scaling;        /* 0 none; 1 every list coded with a few deltas */
    int64_t bad_delta;  /* when nonzero: the first delta of the first list */
    uint32_t max_frame; /* log2_max_frame_num_minus4 */
    uint32_t poc_type, poc_lsb, poc_cycle;
    uint32_t w_mbs, h_units; /* minus1 */
    uint32_t frame_mbs_only;
    uint32_t crop, crop_l, crop_r, crop_t, crop_b;
    int vui; /* 0 none; 1 timing; 2 all before timing too; 3 cut inside timing */
    uint32_t tick, scale;
    uint32_t sps_id;
};

static size_t
sps_build(const struct sps_fields *f, uint8_t *out, size_t cap)
{
    struct bw w;
    unsigned i, j;

    memset(&w, 0, sizeof(w));
    bw_u(&w, f->profile, 8);
    bw_u(&w, 0, 8);
    bw_u(&w, f->level, 8);
    bw_ue(&w, f->sps_id);
    if (f->profile == 100 || f->profile == 122 || f->profile == 244) {
        bw_ue(&w, f->chroma);
        if (f->chroma == 3)
            bw_u(&w, f->separate, 1);
        bw_ue(&w, f->depth_luma);
        bw_ue(&w, f->depth_chroma);
        bw_u(&w, 0, 1);
        bw_u(&w, f->scaling != 0, 1);
        for (i = 0; f->scaling && i < (f->chroma != 3 ? 8u : 12u); i++) {
            bw_u(&w, 1, 1); /* list present */
            if (i == 0 && f->bad_delta != 0) {
                int64_t last = (8 + f->bad_delta + 256) % 256;

                bw_se(&w, f->bad_delta);
                if (f->bad_delta >= -128 && f->bad_delta <= 127 && last != 0)
                    bw_se(&w, 256 - last <= 127 ? 256 - last : -last); /* back to 0: the end */
                continue;
            }
            /* a few deltas, then 0 -> next == 0 ends the list early */
            for (j = 0; j < 3; j++)
                bw_se(&w, j == 1 ? -5 : 7);
            bw_se(&w, -(8 + 7 - 5 + 7)); /* lands on 0 (mod 256) */
        }
    }
    bw_ue(&w, f->max_frame);
    bw_ue(&w, f->poc_type);
    if (f->poc_type == 0) {
        bw_ue(&w, f->poc_lsb);
    } else if (f->poc_type == 1) {
        bw_u(&w, 0, 1);
        bw_se(&w, -3);
        bw_se(&w, 2);
        bw_ue(&w, f->poc_cycle);
        for (i = 0; i < f->poc_cycle && i < 300; i++)
            bw_se(&w, (int64_t)i - 5);
    }
    bw_ue(&w, 4); /* max_num_ref_frames */
    bw_u(&w, 0, 1);
    bw_ue(&w, f->w_mbs);
    bw_ue(&w, f->h_units);
    bw_u(&w, f->frame_mbs_only, 1);
    if (!f->frame_mbs_only)
        bw_u(&w, 1, 1);
    bw_u(&w, 1, 1);
    bw_u(&w, f->crop, 1);
    if (f->crop) {
        bw_ue(&w, f->crop_l);
        bw_ue(&w, f->crop_r);
        bw_ue(&w, f->crop_t);
        bw_ue(&w, f->crop_b);
    }
    bw_u(&w, f->vui != 0, 1);
    if (f->vui) {
        bw_u(&w, f->vui == 2, 1); /* aspect_ratio_info_present_flag */
        if (f->vui == 2) {
            bw_u(&w, 255, 8); /* Extended_SAR */
            bw_u(&w, 4, 16);
            bw_u(&w, 3, 16);
        }
        bw_u(&w, f->vui == 2, 1); /* overscan_info_present_flag */
        if (f->vui == 2)
            bw_u(&w, 1, 1);
        bw_u(&w, f->vui == 2, 1); /* video_signal_type_present_flag */
        if (f->vui == 2) {
            bw_u(&w, 5, 3);
            bw_u(&w, 0, 1);
            bw_u(&w, 1, 1);
            bw_u(&w, 0x010101, 24);
        }
        bw_u(&w, f->vui == 2, 1); /* chroma_loc_info_present_flag */
        if (f->vui == 2) {
            bw_ue(&w, 2);
            bw_ue(&w, 2);
        }
        bw_u(&w, 1, 1); /* timing_info_present_flag */
        bw_u(&w, f->tick, 32);
        if (f->vui == 3)
            return bw_nal(&w, out, cap) - 1; /* no time_scale, and the trailing byte gone */
        bw_u(&w, f->scale, 32);
        bw_u(&w, 1, 1);
    }
    return bw_nal(&w, out, cap);
}

static const struct sps_fields sps_base = {
    .profile = 66,
    .level = 30,
    .chroma = 1,
    .w_mbs = 79,
    .h_units = 44,
    .frame_mbs_only = 1,
};

/* ---- the bit reader ---- */

static void
test_bits_exp_golomb(void **state)
{
    struct bits b;
    struct bw w;
    static const uint32_t ue[] = {0, 1, 2, 3, 6, 7, 254, 255, 65535, 0x7fffffffu, 0xfffffffeu};
    static const int32_t se[] = {0, 1, -1, 2, -2, 127, -128, INT32_MAX, -INT32_MAX};
    /* 32 leading zeros: a value past 2^32 - 2 */
    static const uint8_t too_long[] = {0, 0, 0, 0, 0x80, 0, 0, 0, 0};
    size_t i;
    int64_t live = mem_live();

    (void)state;
    memset(&w, 0, sizeof(w));
    for (i = 0; i < ARRAY_SIZE(ue); i++)
        bw_ue(&w, ue[i]);
    for (i = 0; i < ARRAY_SIZE(se); i++)
        bw_se(&w, se[i]);
    bits_init(&b, w.b, (w.bit + 7) / 8, false);
    for (i = 0; i < ARRAY_SIZE(ue); i++)
        assert_int_equal(ue[i], bits_ue(&b));
    for (i = 0; i < ARRAY_SIZE(se); i++)
        assert_int_equal(se[i], bits_se(&b));
    assert_false(b.overrun);
    bits_check(&b);

    bits_init(&b, too_long, sizeof(too_long), false);
    assert_int_equal(0, bits_ue(&b));
    assert_true(b.overrun);
    /* 31 zeros is the longest code: 2^32 - 2 with all ones after the marker */
    memset(&w, 0, sizeof(w));
    bw_u(&w, 1, 32);
    bw_u(&w, 0x7fffffff, 31);
    bits_init(&b, w.b, 8, false);
    assert_int_equal(0xfffffffeu, bits_ue(&b));
    assert_false(b.overrun);

    /* Cut short inside the code, and inside its value bits. */
    bits_init(&b, (const uint8_t *)"\x00", 1, false);
    assert_int_equal(0, bits_ue(&b));
    assert_true(b.overrun);
    bits_init(&b, (const uint8_t *)"\x01", 1, false); /* 7 zeros, the marker, no value bits */
    (void)bits_ue(&b);
    assert_true(b.overrun);
    /* The flag is sticky and reads are 0 from then on. */
    assert_int_equal(0, bits_u(&b, 8));
    assert_true(b.overrun);
    bits_check(&b);

    /* Fixed-width reads up to 32 bits, across bytes. */
    bits_init(&b, (const uint8_t *)"\xde\xad\xbe\xef\x5a", 5, false);
    assert_int_equal(0xd, bits_u(&b, 4));
    assert_int_equal(0xeadbeef5, bits_u(&b, 32));
    assert_int_equal(0xa, bits_u(&b, 4));
    assert_int_equal(0, bits_u(&b, 0));
    assert_false(b.overrun);
    assert_int_equal(0, bits_u(&b, 1));
    assert_true(b.overrun);
    UNIT_END(live);
}

static void
test_bits_emulation_prevention(void **state)
{
    struct bits b;
    int64_t live = mem_live();

    (void)state;
    /* 00 00 03 01: the 03 is dropped. */
    bits_init(&b, (const uint8_t *)"\x00\x00\x03\x01", 4, true);
    assert_int_equal(0x000001, bits_u(&b, 24));
    assert_false(b.overrun);
    /* 00 00 03 03: only the first 03 goes, the zero count restarts. */
    bits_init(&b, (const uint8_t *)"\x00\x00\x03\x03\x00\x00\x03\x00", 8, true);
    assert_int_equal(0x00000300, bits_u(&b, 32));
    assert_int_equal(0, bits_u(&b, 8));
    assert_false(b.overrun);
    /* Without epb the bytes are read as they are. */
    bits_init(&b, (const uint8_t *)"\x00\x00\x03\x01", 4, false);
    assert_int_equal(0x00000301, bits_u(&b, 32));
    /* A trailing 00 00 03 (cabac_zero_word padding): dropped, then the end. */
    bits_init(&b, (const uint8_t *)"\x00\x00\x03", 3, true);
    assert_int_equal(0, bits_u(&b, 16));
    assert_false(b.overrun);
    assert_int_equal(0, bits_u(&b, 1));
    assert_true(b.overrun);
    /* One zero before 03 is not a pattern; neither is 00 03 00 03. */
    bits_init(&b, (const uint8_t *)"\x00\x03\x00\x03", 4, true);
    assert_int_equal(0x00030003, bits_u(&b, 32));
    /* An exp-Golomb code running through an escape. */
    bits_init(&b, (const uint8_t *)"\x00\x00\x03\x01\x80\x00", 6, true);
    assert_int_equal(0, bits_u(&b, 7));
    assert_int_equal((1u << 16) - 1 + 0x8000, bits_ue(&b)); /* 16 zeros, marker, 0x8000 */
    assert_false(b.overrun);
    bits_check(&b);
    UNIT_END(live);
}

/* ---- the SPS ---- */

static void
test_sps_x264(void **state)
{
    /* SPS NAL units libx264 wrote (ffmpeg -f h264), VUI timing included. */
    static const struct {
        const char *hex;
        uint8_t profile, level, chroma, depth;
        uint32_t w, h, tick, scale;
    } v[] = {
        /* -profile high, 1920x1080 at 30000/1001: 1088 cropped by 8 */
        {"67640028acd940780227e5c04400000fa40003a9803c60c658", 100, 40, 1, 8, 1920, 1080, 1001,
         60000},
        /* -profile high444 -pix_fmt yuv444p, 1280x720 at 25 */
        {"67f4001f919b280a00b76022000003000200000300641e30632c", 244, 31, 3, 8, 1280, 720, 1, 50},
        /* -profile high422 -pix_fmt yuv422p, 640x360 at 50: 368 cropped by 8 in 4:2:2 units */
        {"677a001fbcd940a02ff89c0440000003004000001903c60c6580", 122, 31, 2, 8, 640, 360, 1, 100},
        /* constrained baseline 64x48 at 10 */
        {"6742c00ada11ec0440000003004000000503c489a8", 66, 10, 1, 8, 64, 48, 1, 20},
    };
    struct h264_sps s;
    uint8_t b[64];
    size_t i, n, k;
    int64_t live = mem_live();

    (void)state;
    for (i = 0; i < ARRAY_SIZE(v); i++) {
        n = unhex(v[i].hex, b);
        assert_int_equal(0, h264_sps_parse(b, n, &s));
        assert_int_equal(v[i].profile, s.profile_idc);
        assert_int_equal(v[i].level, s.level_idc);
        assert_int_equal(v[i].chroma, s.chroma_format_idc);
        assert_int_equal(v[i].depth, s.bit_depth_luma);
        assert_int_equal(v[i].w, s.width);
        assert_int_equal(v[i].h, s.height);
        assert_true(s.frame_mbs_only);
        assert_true(s.timing);
        assert_int_equal(v[i].tick, s.num_units_in_tick);
        assert_int_equal(v[i].scale, s.time_scale);
        h264_sps_check(&s);
        /* Cut before the cropping fields: refused, never read past the end. */
        for (k = 0; k < 7; k++)
            assert_int_equal(ERR_MEDIA, h264_sps_parse(b, k, &s));
    }
    UNIT_END(live);
}

static void
test_sps_built(void **state)
{
    struct sps_fields f;
    struct h264_sps s;
    uint8_t b[2048];
    size_t n;
    int64_t live = mem_live();

    (void)state;
    /* Baseline, no crop, no VUI: 1280x720. */
    f = sps_base;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(1280, s.width);
    assert_int_equal(720, s.height);
    assert_false(s.cropping);
    assert_false(s.timing);
    assert_int_equal(80, s.width_mbs);
    assert_int_equal(45, s.height_map_units);

    /* High 4:4:4, separate planes off, 10-bit, every scaling list coded
     * (12 of them): crop units are 1x1. */
    f = sps_base;
    f.profile = 244;
    f.chroma = 3;
    f.depth_luma = 2;
    f.depth_chroma = 2;
    f.scaling = 1;
    f.crop = 1;
    f.crop_l = 3;
    f.crop_r = 5;
    f.crop_t = 1;
    f.crop_b = 7;
    f.sps_id = 31;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_true(s.scaling_matrix);
    assert_int_equal(3, s.chroma_format_idc);
    assert_int_equal(10, s.bit_depth_luma);
    assert_int_equal(10, s.bit_depth_chroma);
    assert_int_equal(31, s.sps_id);
    assert_int_equal(1280 - 8, s.width);
    assert_int_equal(720 - 8, s.height);
    /* The same with separate colour planes: ChromaArrayType 0, units 1x1. */
    f.separate = 1;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_true(s.separate_colour_plane);
    assert_int_equal(1280 - 8, s.width);
    assert_int_equal(720 - 8, s.height);

    /* Monochrome, interlaced (frame_mbs_only 0): height doubles, crop unit 1x2. */
    f = sps_base;
    f.profile = 100;
    f.chroma = 0;
    f.frame_mbs_only = 0;
    f.h_units = 33; /* 34 map units of 32 lines */
    f.crop = 1;
    f.crop_r = 1;
    f.crop_b = 4;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_false(s.frame_mbs_only);
    assert_int_equal(1280 - 1, s.width);
    assert_int_equal(34 * 32 - 2 * 4, s.height);
    /* 4:2:0 interlaced: units 2x4. */
    f.chroma = 1;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(1280 - 2, s.width);
    assert_int_equal(34 * 32 - 4 * 4, s.height);
    /* 4:2:2 progressive: units 2x1. */
    f.chroma = 2;
    f.frame_mbs_only = 1;
    f.h_units = 44;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(1280 - 2, s.width);
    assert_int_equal(720 - 4, s.height);

    /* POC type 1 with a cycle, then type 2. */
    f = sps_base;
    f.poc_type = 1;
    f.poc_cycle = 255;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(1280, s.width);
    f.poc_type = 2;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    UNIT_END(live);
}

static void
test_sps_vui(void **state)
{
    struct sps_fields f;
    struct h264_sps s;
    uint8_t b[2048];
    size_t n;
    int64_t live = mem_live();

    (void)state;
    /* Timing alone. */
    f = sps_base;
    f.vui = 1;
    f.tick = 1001;
    f.scale = 60000;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_true(s.timing);
    assert_int_equal(1001, s.num_units_in_tick);
    assert_int_equal(60000, s.time_scale);
    assert_true(s.fixed_frame_rate);
    /* Behind an Extended_SAR, overscan, video signal with colour, chroma location. */
    f.vui = 2;
    f.tick = 0xffffffffu;
    f.scale = 0x80000000u;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_true(s.timing);
    assert_int_equal(0xffffffffu, s.num_units_in_tick);
    assert_int_equal(0x80000000u, s.time_scale);
    assert_int_equal(1280, s.width);
    /* A zero tick is no timing; the SPS still parses. */
    f.tick = 0;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_false(s.timing);
    /* A VUI cut short inside the timing info: no timing, the size stands. */
    f.vui = 3;
    f.tick = 1;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_false(s.timing);
    assert_int_equal(720, s.height);
    UNIT_END(live);
}

static void
test_sps_errors(void **state)
{
    struct sps_fields f;
    struct h264_sps s;
    uint8_t b[2048];
    size_t n;
    int64_t live = mem_live();

    (void)state;
#define SPS_REFUSED(field, value)                                                                  \
    do {                                                                                           \
        f = sps_base;                                                                              \
        f.profile = 100;                                                                           \
        f.field = (value);                                                                         \
        n = sps_build(&f, b, sizeof(b));                                                           \
        assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));                                     \
    } while (0)
    SPS_REFUSED(sps_id, 32);
    SPS_REFUSED(chroma, 4);
    SPS_REFUSED(chroma, 256); /* not truncated to 0 */
    SPS_REFUSED(depth_luma, 7);
    SPS_REFUSED(depth_chroma, 7);
    SPS_REFUSED(max_frame, 13);
    SPS_REFUSED(poc_lsb, 13);
    SPS_REFUSED(poc_type, 3);
    f = sps_base;
    f.poc_type = 1;
    f.poc_cycle = 256;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    /* Scaling list deltas outside -128..127. */
    f = sps_base;
    f.profile = 100;
    f.scaling = 1;
    f.bad_delta = 128;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    f.bad_delta = -129;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    f.bad_delta = 127;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    /* A crop that leaves nothing (1280 wide is 640 units of 2). */
    f = sps_base;
    f.crop = 1;
    f.crop_l = 320;
    f.crop_r = 320;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    f.crop_r = 319;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(2, s.width);
    f.crop_l = 0;
    f.crop_r = 0;
    f.crop_b = 360;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    /* Huge sizes are reported, not judged: callers cap them. */
    f = sps_base;
    f.w_mbs = 0xfffffffeu;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(0xffffffffu, s.width_mbs);
    assert_int_equal((uint64_t)0xffffffffu * 16, s.width);
    /* Not an SPS, too short, cut before the cropping flag. */
    f = sps_base;
    n = sps_build(&f, b, sizeof(b));
    b[0] = 0x68;
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n, &s));
    b[0] = 0x67;
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, 4, &s));
    assert_int_equal(ERR_MEDIA, h264_sps_parse(b, n - 2, &s));
    /* The forbidden_zero_bit is the caller's business. */
    b[0] = 0xe7;
    assert_int_equal(0, h264_sps_parse(b, n, &s));
#undef SPS_REFUSED
    UNIT_END(live);
}

static void
test_sps_emulation_prevention(void **state)
{
    /* level_idc 0 and a constraint byte of 0 make the header bytes part of
     * an escape: 00 00 03 must be undone there too (H.264 7.3.1). */
    struct sps_fields f;
    struct h264_sps s;
    uint8_t b[2048];
    size_t n;
    int64_t live = mem_live();

    (void)state;
    f = sps_base;
    f.level = 0;
    f.sps_id = 0; /* first RBSP bits after the level: 1 (ue 0), so 00 00 then >= 0x80 */
    f.w_mbs = 0;  /* 16 wide */
    f.h_units = 0;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(0, s.level_idc);
    assert_int_equal(16, s.width);
    assert_int_equal(16, s.height);
    /* profile 0 (none), constraints 0, level 3: the escape sits in the header. */
    f.profile = 0;
    f.level = 3;
    n = sps_build(&f, b, sizeof(b));
    assert_int_equal(0x03, b[3]); /* the inserted emulation-prevention byte */
    assert_int_equal(0, h264_sps_parse(b, n, &s));
    assert_int_equal(0, s.profile_idc);
    assert_int_equal(3, s.level_idc);
    assert_int_equal(16, s.width);
    UNIT_END(live);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits_exp_golomb),
        cmocka_unit_test(test_bits_emulation_prevention),
        cmocka_unit_test(test_sps_x264),
        cmocka_unit_test(test_sps_built),
        cmocka_unit_test(test_sps_vui),
        cmocka_unit_test(test_sps_errors),
        cmocka_unit_test(test_sps_emulation_prevention),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
