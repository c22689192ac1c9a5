/*
 * h264.c -- the sequence parameter set parser.
 *
 * Reads the RBSP in place through struct bits (emulation prevention is
 * dropped as bytes load) and tests the overrun flag once, after the
 * cropping fields: every value read past the end is 0, which no range
 * check below rejects, so a truncated SPS always ends in that one test.
 * Nothing allocates. Not here: the record the SPS travels in (flv.c,
 * origin/pkg_cfg.c).
 */
#include <string.h>

#include "h264.h"
#include "bits.h"
#include "../err.h"
#include "../compat.h"

/* SPEC: H.264 7.3.2.1.1 -- the profiles whose SPS codes chroma_format_idc and the rest. */
static bool
h264_sps_high_profile(uint8_t profile)
{
    switch (profile) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
        return true;
    default:
        return false;
    }
}

/* SPEC: H.264 7.3.2.1.1.1 -- a scaling list is skipped, never kept. */
static void
h264_sps_skip_scaling_list(struct bits *b, unsigned size)
{
    int32_t last = 8, next = 8, delta;
    unsigned j;

    for (j = 0; j < size && !b->overrun; j++) {
        if (next != 0) {
            delta = bits_se(b);
            if (delta < -128 || delta > 127) {
                b->overrun = true;
                return;
            }
            next = (last + delta + 256) % 256;
        }
        if (next != 0)
            last = next;
    }
}

/* chroma_format_idc .. the scaling matrix; 0 or ERR_MEDIA. */
static int
h264_sps_high(struct bits *b, struct h264_sps *s)
{
    uint32_t v, i, n;

    v = bits_ue(b);
    if (v > 3)
        return ERR_MEDIA;
    s->chroma_format_idc = (uint8_t)v;
    if (v == 3)
        s->separate_colour_plane = bits_u(b, 1) != 0;
    v = bits_ue(b); /* bit_depth_luma_minus8 */
    if (v > 6)
        return ERR_MEDIA;
    s->bit_depth_luma = (uint8_t)(8 + v);
    v = bits_ue(b); /* bit_depth_chroma_minus8 */
    if (v > 6)
        return ERR_MEDIA;
    s->bit_depth_chroma = (uint8_t)(8 + v);
    (void)bits_u(b, 1); /* qpprime_y_zero_transform_bypass_flag */
    s->scaling_matrix = bits_u(b, 1) != 0;
    if (s->scaling_matrix) {
        n = s->chroma_format_idc != 3 ? 8 : 12;
        for (i = 0; i < n && !b->overrun; i++)
            if (bits_u(b, 1)) /* seq_scaling_list_present_flag[i] */
                h264_sps_skip_scaling_list(b, i < 6 ? 16 : 64);
    }
    return 0;
}

/* pic_order_cnt_type and what it brings; 0 or ERR_MEDIA. */
static int
h264_sps_poc(struct bits *b)
{
    uint32_t poc_type, i, n;

    poc_type = bits_ue(b);
    if (poc_type == 0) {
        if (bits_ue(b) > 12) /* log2_max_pic_order_cnt_lsb_minus4 */
            return ERR_MEDIA;
    } else if (poc_type == 1) {
        (void)bits_u(b, 1); /* delta_pic_order_always_zero_flag */
        (void)bits_se(b);   /* offset_for_non_ref_pic */
        (void)bits_se(b);   /* offset_for_top_to_bottom_field */
        n = bits_ue(b);     /* num_ref_frames_in_pic_order_cnt_cycle */
        if (n > 255)
            return ERR_MEDIA;
        for (i = 0; i < n && !b->overrun; i++)
            (void)bits_se(b); /* offset_for_ref_frame[i] */
    } else if (poc_type != 2) {
        return ERR_MEDIA;
    }
    return 0;
}

/*
 * SPEC: H.264 E.1.1 -- vui_parameters() up to the timing info; the rest
 * (HRD, bitstream restriction) is not needed. Never fails the SPS.
 */
static void
h264_sps_vui(struct bits *b, struct h264_sps *s)
{
    uint32_t tick, scale;
    bool fixed;

    if (!bits_u(b, 1)) /* vui_parameters_present_flag */
        return;
    if (bits_u(b, 1) && bits_u(b, 8) == 255) /* aspect_ratio_info, Extended_SAR */
        (void)bits_u(b, 32);                 /* sar_width, sar_height */
    if (bits_u(b, 1))                        /* overscan_info_present_flag */
        (void)bits_u(b, 1);
    if (bits_u(b, 1)) {     /* video_signal_type_present_flag */
        (void)bits_u(b, 4); /* video_format, video_full_range_flag */
        if (bits_u(b, 1))   /* colour_description_present_flag */
            (void)bits_u(b, 24);
    }
    if (bits_u(b, 1)) { /* chroma_loc_info_present_flag */
        if (bits_ue(b) > 5 || bits_ue(b) > 5)
            return;
    }
    if (!bits_u(b, 1)) /* timing_info_present_flag */
        return;
    tick = bits_u(b, 32);
    scale = bits_u(b, 32);
    fixed = bits_u(b, 1) != 0;
    /* SPEC: H.264 E.2.1 -- both shall be greater than 0. */
    if (b->overrun || tick == 0 || scale == 0)
        return;
    s->timing = true;
    s->num_units_in_tick = tick;
    s->time_scale = scale;
    s->fixed_frame_rate = fixed;
}

/* SPEC: H.264 7.4.2.1.1 -- the cropped size, in units of Table 6-1's subsampling. */
static int
h264_sps_size(struct h264_sps *s)
{
    uint64_t w, h, cux, cuy;
    uint64_t fields = s->frame_mbs_only ? 1 : 2;

    if (s->chroma_format_idc == 0 || s->separate_colour_plane) {
        cux = 1;
        cuy = fields;
    } else {
        cux = s->chroma_format_idc == 3 ? 1 : 2;
        cuy = (s->chroma_format_idc == 1 ? 2 : 1) * fields;
    }
    w = (uint64_t)s->width_mbs * 16;
    h = (uint64_t)s->height_map_units * 16 * fields;
    if (cux * ((uint64_t)s->crop_left + s->crop_right) >= w ||
        cuy * ((uint64_t)s->crop_top + s->crop_bottom) >= h)
        return ERR_MEDIA;
    s->width = w - cux * ((uint64_t)s->crop_left + s->crop_right);
    s->height = h - cuy * ((uint64_t)s->crop_top + s->crop_bottom);
    return 0;
}

int
h264_sps_parse(const uint8_t *p, size_t len, struct h264_sps *s)
{
    struct bits b;
    uint32_t v;
    int rc;

    memset(s, 0, sizeof(*s));
    /* the header byte, profile, constraints, level, and at least one ue(v) */
    if (len < 5 || (p[0] & 0x1f) != H264_NAL_SPS)
        return ERR_MEDIA;
    /* SPEC: H.264 7.3.1 -- emulation prevention covers every byte after the header. */
    bits_init(&b, p + 1, len - 1, true);
    s->profile_idc = (uint8_t)bits_u(&b, 8);
    s->constraints = (uint8_t)bits_u(&b, 8);
    s->level_idc = (uint8_t)bits_u(&b, 8);
    s->chroma_format_idc = 1;
    s->bit_depth_luma = 8;
    s->bit_depth_chroma = 8;
    v = bits_ue(&b);
    if (v > 31)
        return ERR_MEDIA;
    s->sps_id = (uint8_t)v;
    if (h264_sps_high_profile(s->profile_idc)) {
        rc = h264_sps_high(&b, s);
        if (rc != 0)
            return rc;
    }
    if (bits_ue(&b) > 12) /* log2_max_frame_num_minus4 */
        return ERR_MEDIA;
    rc = h264_sps_poc(&b);
    if (rc != 0)
        return rc;
    (void)bits_ue(&b);   /* max_num_ref_frames */
    (void)bits_u(&b, 1); /* gaps_in_frame_num_value_allowed_flag */
    s->width_mbs = bits_ue(&b) + 1;
    s->height_map_units = bits_ue(&b) + 1;
    s->frame_mbs_only = bits_u(&b, 1) != 0;
    if (!s->frame_mbs_only)
        (void)bits_u(&b, 1); /* mb_adaptive_frame_field_flag */
    (void)bits_u(&b, 1);     /* direct_8x8_inference_flag */
    s->cropping = bits_u(&b, 1) != 0;
    if (s->cropping) {
        s->crop_left = bits_ue(&b);
        s->crop_right = bits_ue(&b);
        s->crop_top = bits_ue(&b);
        s->crop_bottom = bits_ue(&b);
    }
    if (b.overrun)
        return ERR_MEDIA;
    rc = h264_sps_size(s);
    if (rc != 0)
        return rc;
    h264_sps_vui(&b, s);
    h264_sps_check(s);
    return 0;
}

void
h264_sps_check(const struct h264_sps *s)
{
    assert(s->sps_id <= 31);
    assert(s->chroma_format_idc <= 3);
    assert(!s->separate_colour_plane || s->chroma_format_idc == 3);
    assert(s->bit_depth_luma >= 8 && s->bit_depth_luma <= 14);
    assert(s->bit_depth_chroma >= 8 && s->bit_depth_chroma <= 14);
    assert(s->width_mbs >= 1 && s->height_map_units >= 1);
    assert(s->width > 0 && s->width <= (uint64_t)s->width_mbs * 16);
    assert(s->height > 0 && s->height <= (uint64_t)s->height_map_units * 32);
    assert(s->cropping || (s->crop_left | s->crop_right | s->crop_top | s->crop_bottom) == 0);
    assert(!s->timing || (s->num_units_in_tick > 0 && s->time_scale > 0));
}
