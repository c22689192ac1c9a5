/*
 * pkg_cfg.h -- the codec configuration records the packager is handed:
 * H.264's AVCDecoderConfigurationRecord (and the SPS inside it), AAC's
 * AudioSpecificConfig, and the AVCC (length-prefixed) framing of H.264
 * access units.
 *
 * Pure: no libavformat, no I/O, no allocation; every length is checked
 * before it is used, so the fuzzer links these alone (fuzz_pkg_cfg.c).
 * They validate and describe, they never rewrite: the packager passes the
 * record bytes through unchanged as the sample entry's extradata. Not
 * here: muxing (pkg.c), FLV tag parsing (shared/proto/flv.c).
 */
#ifndef CASCADE_PKG_CFG_H
#define CASCADE_PKG_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "miniobj.h"

/* A record longer than this is ERR_LIMIT (real ones are well under 1 KiB). */
#define PKG_CFG_RECORD_MAX 65536
/* "avc1.64001f", "mp4a.40.29": RFC 6381 codecs parameter, NUL included. */
#define PKG_CFG_CODECS_MAX 24

struct pkg_cfg_avc {
    uint8_t profile;                 /* AVCProfileIndication */
    uint8_t compat;                  /* profile_compatibility */
    uint8_t level;                   /* AVCLevelIndication */
    uint8_t nal_len_size;            /* 1, 2 or 4 */
    uint8_t nb_sps, nb_pps;          /* both >= 1 */
    uint8_t chroma_format;           /* 0..3, from the first SPS */
    uint32_t width, height;          /* the first SPS's cropped frame size, > 0 */
    char codecs[PKG_CFG_CODECS_MAX]; /* "avc1.PPCCLL", lower-case hex */
};

/* MPEG-4 Audio Object Types we package (SPEC: ISO/IEC 14496-3 1.5.1.1). */
enum {
    PKG_CFG_AOT_AAC_MAIN = 1,
    PKG_CFG_AOT_AAC_LC = 2,
    PKG_CFG_AOT_AAC_SSR = 3,
    PKG_CFG_AOT_AAC_LTP = 4,
    PKG_CFG_AOT_SBR = 5,
    PKG_CFG_AOT_AAC_SCALABLE = 6,
    PKG_CFG_AOT_PS = 29,
};

struct pkg_cfg_aac {
    uint8_t aot;            /* the signalled object type: 2, or 5/29 for HE-AAC */
    uint8_t core_aot;       /* the AAC core's object type (== aot without SBR/PS) */
    uint8_t channel_config; /* 0 = program_config_element (channels unknown here) */
    uint8_t channels;       /* 0 only when channel_config is 0 */
    uint32_t sample_rate;   /* the output rate: the SBR rate for HE-AAC */
    uint32_t frame_len;     /* samples per access unit at sample_rate: 960, 1024, 1920, 2048 */
    char codecs[PKG_CFG_CODECS_MAX]; /* "mp4a.40.2" */
};

/*
 * Parses an AVCDecoderConfigurationRecord (SPEC: ISO/IEC 14496-15 5.3.3.1)
 * and the first SPS in it (SPEC: ITU-T H.264 7.3.2.1.1) for the frame size.
 * 0, ERR_LIMIT when len > PKG_CFG_RECORD_MAX, or ERR_MEDIA for anything
 * malformed: wrong version, a 3-byte NAL length, no SPS or PPS, a
 * parameter set running past the end, an SPS whose fields are out of range.
 * Trailing bytes after the PPS list (the high-profile extension) are allowed.
 */
int pkg_cfg_avc_parse(const uint8_t *p, size_t len, struct pkg_cfg_avc *out) WARN_UNUSED;

/*
 * Parses an SPS NAL unit (header byte included, emulation prevention still
 * in) for the cropped frame size, through h264_sps_parse() (shared/media/
 * h264.h). 0, or ERR_MEDIA when that fails, the forbidden_zero_bit is set,
 * or a side is over 1024 macroblocks (map units).
 */
int pkg_cfg_sps_size(const uint8_t *nal, size_t len, uint32_t *width, uint32_t *height,
                     uint8_t *chroma_format) WARN_UNUSED;

/*
 * Parses an AudioSpecificConfig (SPEC: ISO/IEC 14496-3 1.6.2.1) as far as
 * the GASpecificConfig's frameLengthFlag. 0, or ERR_MEDIA for an object
 * type other than AAC Main/LC/SSR/LTP/Scalable (optionally inside SBR/PS),
 * a reserved sampling-frequency index, a zero rate or a reserved channel
 * configuration.
 */
int pkg_cfg_aac_parse(const uint8_t *p, size_t len, struct pkg_cfg_aac *out) WARN_UNUSED;

/*
 * Walks one H.264 access unit in AVCC form (each NAL unit prefixed by its
 * big-endian length of nal_len_size bytes). Returns the number of NAL
 * units (> 0), or ERR_MEDIA when a length runs past the end, a NAL unit is
 * empty, or the unit holds none. *has_idr is set when a NAL unit of type 5
 * (IDR slice) is present.
 */
int pkg_cfg_avcc_scan(const uint8_t *p, size_t len, unsigned nal_len_size,
                      int *has_idr) WARN_UNUSED;

/* Invariants of a parsed description (asserts; fuzzers call it after a success). */
void pkg_cfg_avc_check(const struct pkg_cfg_avc *a);
void pkg_cfg_aac_check(const struct pkg_cfg_aac *a);

#endif
