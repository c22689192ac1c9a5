/*
 * h264.h -- the H.264 sequence parameter set, decoded as far as the frame
 * size, plus the VUI timing when it is there (SPEC: ITU-T H.264 7.3.2.1.1,
 * E.1.1).
 *
 * Pure: no I/O, no allocation; the fuzzer links it alone (fuzz_h264.c).
 * One parser for every caller: the FLV codec records (shared/proto/flv.c)
 * and the packager's configuration checks (origin/pkg_cfg.c) both decode
 * through it and apply their own size limits to what it reports. It
 * describes, it never judges a size as too large for a caller. Not here:
 * the AVCDecoderConfigurationRecord around the SPS, PPS, slices.
 */
#ifndef CASCADE_H264_H
#define CASCADE_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

/* SPEC: H.264 7.4.1.2 -- nal_unit_type of a sequence parameter set. */
#define H264_NAL_SPS 7

struct h264_sps {
    uint8_t profile_idc;
    uint8_t constraints; /* constraint_set0..5 flags and the reserved bits, as coded */
    uint8_t level_idc;
    uint8_t sps_id;            /* 0..31 */
    uint8_t chroma_format_idc; /* 0..3; 1 (4:2:0) unless a high profile codes it */
    bool separate_colour_plane;
    uint8_t bit_depth_luma;    /* 8..14 */
    uint8_t bit_depth_chroma;  /* 8..14 */
    bool scaling_matrix;       /* seq_scaling_matrix_present_flag (the lists are skipped) */
    uint32_t width_mbs;        /* pic_width_in_mbs_minus1 + 1 */
    uint32_t height_map_units; /* pic_height_in_map_units_minus1 + 1 */
    bool frame_mbs_only;
    bool cropping;                          /* frame_cropping_flag */
    uint32_t crop_left, crop_right;         /* in crop units (CropUnitX) */
    uint32_t crop_top, crop_bottom;         /* in crop units (CropUnitY) */
    uint64_t width, height;                 /* the cropped frame in luma samples, > 0 */
    bool timing;                            /* VUI timing_info_present_flag, and read whole */
    uint32_t num_units_in_tick, time_scale; /* both > 0 when timing */
    bool fixed_frame_rate;
};

/*
 * Decodes an SPS NAL unit p[0..len) (its one-byte header included,
 * emulation-prevention bytes still in). 0, or ERR_MEDIA when it is not an
 * SPS, is cut short before the cropping fields, or codes a value out of
 * range (seq_parameter_set_id > 31, chroma_format_idc > 3, bit depths
 * over 14, log2 fields over 16, pic_order_cnt_type > 2, a scaling list
 * delta outside -128..127, more than 255 reference frames in a POC cycle,
 * a crop that leaves no picture). The forbidden_zero_bit is not checked.
 * The VUI is optional: one that is cut short or malformed only leaves
 * s->timing false. Each ue(v) may take up to 32 bits, so width_mbs and
 * height_map_units may be very large: callers cap them.
 */
int h264_sps_parse(const uint8_t *p, size_t len, struct h264_sps *s) WARN_UNUSED;

/* Asserts the invariants of a parsed SPS (fuzzers call it after a success). */
void h264_sps_check(const struct h264_sps *s);

#endif
