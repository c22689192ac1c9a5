/*
 * flv.h -- FLV tag helpers for RTMP ingest and the per-stream journal
 * (SPEC: Adobe FLV and F4V File Format Specification 10.1, annex E;
 * Enhanced RTMP v1/v2 for the ex-headers; ISO/IEC 14496-15 5.3.3.1 for
 * the AVCDecoderConfigurationRecord; ISO/IEC 14496-3 1.6.2.1 for the
 * AudioSpecificConfig; ITU-T H.264 7.3.2.1.1 for the SPS).
 *
 * Four parts, all pure:
 *   - tag body headers: what an RTMP audio/video message starts with
 *     (these bodies are FLV tag bodies, byte for byte);
 *   - codec configuration records: AVC (with width/height from the SPS)
 *     and AAC;
 *   - a writer: the file header, tag headers and PreviousTagSize fields,
 *     into caller buffers, so a journal can writev() header, payload and
 *     trailer without copying the payload;
 *   - an incremental reader for journal replay that hands out whole tags
 *     and stops cleanly at a torn final tag.
 * Enhanced RTMP (FourCC hvc1/av01/vp09, Opus, ...) is parsed and reported,
 * nothing more. Not here: demuxing codec data, packaging (libavformat).
 */
#ifndef CASCADE_FLV_H
#define CASCADE_FLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../miniobj.h"

#define FLV_FOURCC(a, b, c, d)                                                                     \
    ((uint32_t)(uint8_t)(a) << 24 | (uint32_t)(uint8_t)(b) << 16 | (uint32_t)(uint8_t)(c) << 8 |   \
     (uint32_t)(uint8_t)(d))

enum flv_tag_type {
    FLV_TAG_AUDIO = 8,
    FLV_TAG_VIDEO = 9,
    FLV_TAG_SCRIPT = 18,
};

/* ---- audio tag body header (SPEC: FLV 10.1 E.4.2.1; E-RTMP v2 for format 9) ---- */

enum flv_sound_format {
    FLV_SOUND_PCM = 0,
    FLV_SOUND_ADPCM = 1,
    FLV_SOUND_MP3 = 2,
    FLV_SOUND_PCM_LE = 3,
    FLV_SOUND_NELLYMOSER_16K = 4,
    FLV_SOUND_NELLYMOSER_8K = 5,
    FLV_SOUND_NELLYMOSER = 6,
    FLV_SOUND_G711_ALAW = 7,
    FLV_SOUND_G711_MULAW = 8,
    FLV_SOUND_EX_HEADER = 9, /* Enhanced RTMP: a FourCC follows */
    FLV_SOUND_AAC = 10,
    FLV_SOUND_SPEEX = 11,
    FLV_SOUND_MP3_8K = 14,
    FLV_SOUND_DEVICE = 15,
};

struct flv_audio {
    uint8_t format;      /* enum flv_sound_format */
    uint8_t rate;        /* 0 5.5 kHz, 1 11 kHz, 2 22 kHz, 3 44 kHz (legacy formats) */
    uint8_t bits;        /* 8 or 16 */
    uint8_t channels;    /* 1 or 2 (legacy); AAC takes its own from the ASC */
    bool enhanced;       /* format 9 */
    uint32_t fourcc;     /* enhanced: 'mp4a', 'Opus', 'fLaC', 'ac-3', 'ec-3', '.mp3' */
    uint8_t packet_type; /* AAC: 0 sequence header, 1 raw; enhanced: AudioPacketType */
    bool seq_header;     /* a codec configuration, not media */
    uint32_t hdr_len;    /* bytes before the codec payload */
};

/* 0, or ERR_PROTO when the body is too short for its header. */
int flv_audio_parse(const uint8_t *p, size_t len, struct flv_audio *a) WARN_UNUSED;

/* ---- video tag body header (SPEC: FLV 10.1 E.4.3.1; E-RTMP v1 ex-header) ---- */

enum flv_video_codec {
    FLV_CODEC_H263 = 2,
    FLV_CODEC_SCREEN = 3,
    FLV_CODEC_VP6 = 4,
    FLV_CODEC_VP6A = 5,
    FLV_CODEC_SCREEN2 = 6,
    FLV_CODEC_AVC = 7,
    FLV_CODEC_HEVC_LEGACY = 12, /* the pre-E-RTMP convention some encoders use */
};

enum flv_frame_type {
    FLV_FRAME_KEY = 1,
    FLV_FRAME_INTER = 2,
    FLV_FRAME_DISPOSABLE = 3,
    FLV_FRAME_GENERATED_KEY = 4,
    FLV_FRAME_COMMAND = 5, /* video info / command frame: no media */
};

/* E-RTMP VideoPacketType */
enum flv_ex_packet {
    FLV_EX_SEQUENCE_START = 0,
    FLV_EX_CODED_FRAMES = 1,
    FLV_EX_SEQUENCE_END = 2,
    FLV_EX_CODED_FRAMES_X = 3, /* no composition time: it is 0 */
    FLV_EX_METADATA = 4,
    FLV_EX_MPEG2TS_SEQUENCE_START = 5,
    FLV_EX_MULTITRACK = 6,
    FLV_EX_MOD_EX = 7,
};

struct flv_video {
    uint8_t frame_type; /* enum flv_frame_type */
    uint8_t codec_id;   /* legacy codec id; 0 when enhanced */
    bool enhanced;
    uint32_t fourcc;     /* enhanced: 'avc1', 'hvc1', 'av01', 'vp09' */
    uint8_t packet_type; /* AVC: 0 sequence header, 1 NALUs, 2 end; enhanced: enum flv_ex_packet */
    int32_t cts;         /* composition time offset, ms (AVC/HEVC) */
    bool keyframe;
    bool seq_header;  /* a decoder configuration record, not media */
    uint32_t hdr_len; /* bytes before the codec payload */
};

int flv_video_parse(const uint8_t *p, size_t len, struct flv_video *v) WARN_UNUSED;

/* ---- codec configuration records ---- */

#define FLV_AVC_MAX_PS 8

struct flv_span {
    uint32_t off; /* into the record */
    uint32_t len;
};

struct flv_h264_sps {
    uint8_t profile_idc;
    uint8_t constraints;
    uint8_t level_idc;
    uint8_t chroma_format_idc; /* 1 (4:2:0) unless the profile says otherwise */
    uint8_t bit_depth_luma;
    uint32_t width; /* after cropping */
    uint32_t height;
    bool frame_mbs_only;
};

struct flv_avc_config {
    uint8_t profile;         /* AVCProfileIndication */
    uint8_t compat;          /* profile_compatibility */
    uint8_t level;           /* AVCLevelIndication */
    uint8_t nal_length_size; /* 1, 2 or 4 */
    uint8_t nsps, npps;
    struct flv_span sps[FLV_AVC_MAX_PS];
    struct flv_span pps[FLV_AVC_MAX_PS];
    bool has_sps_info; /* the first SPS parsed: sps_info is valid */
    struct flv_h264_sps sps_info;
};

/*
 * Parses an AVCDecoderConfigurationRecord (the payload after the 5-byte
 * video header of an AVC sequence header). 0, or ERR_PROTO when malformed
 * (a version other than 1, a length past the end, a NAL length size of 3,
 * more than FLV_AVC_MAX_PS parameter sets). An SPS that cannot be decoded
 * leaves has_sps_info false without failing the record.
 */
int flv_avc_config_parse(const uint8_t *p, size_t len, struct flv_avc_config *c) WARN_UNUSED;

/*
 * Decodes an H.264 SPS NAL unit (with its NAL header byte) through
 * h264_sps_parse(). 0, or ERR_PROTO when that fails or the cropped frame
 * is wider or taller than 65535.
 */
int flv_h264_sps_parse(const uint8_t *p, size_t len, struct flv_h264_sps *s) WARN_UNUSED;

struct flv_aac_config {
    uint8_t object_type;      /* 2 LC, 5 SBR (HE-AAC), 29 PS (HE-AACv2), ... after escapes */
    uint32_t sample_rate;     /* of the core */
    uint8_t channel_config;   /* 0 = in the PCE, 1..7 */
    bool sbr;                 /* explicit hierarchical SBR (object type 5 or 29) */
    bool ps;                  /* object type 29 */
    uint32_t ext_sample_rate; /* SBR output rate, when sbr */
};

/* Parses an AudioSpecificConfig (after the 2-byte AAC header). 0 or ERR_PROTO. */
int flv_aac_config_parse(const uint8_t *p, size_t len, struct flv_aac_config *c) WARN_UNUSED;

/* ---- writer ---- */

#define FLV_FILE_HEADER_SIZE 9
#define FLV_TAG_HEADER_SIZE 11
#define FLV_PREV_SIZE 4
#define FLV_TAG_DATA_MAX 0xffffffU
#define FLV_FLAG_AUDIO 0x04
#define FLV_FLAG_VIDEO 0x01

/* The 9-byte file header plus PreviousTagSize0: always 13 bytes. */
size_t flv_write_file_header(uint8_t out[FLV_FILE_HEADER_SIZE + FLV_PREV_SIZE], uint8_t flags);

/*
 * An 11-byte tag header for a body of size bytes at ts ms (32-bit: the
 * low 24 bits, then the extension byte). 0, or ERR_INVAL for an unknown
 * type or size > 2^24-1.
 */
int flv_write_tag_header(uint8_t out[FLV_TAG_HEADER_SIZE], uint8_t type, uint32_t size,
                         uint32_t ts) WARN_UNUSED;

/* The PreviousTagSize that follows a tag with a body of size bytes. */
void flv_write_tag_trailer(uint8_t out[FLV_PREV_SIZE], uint32_t size);

/* Header, body and trailer in one buffer; bytes written, ERR_INVAL or ERR_LIMIT (cap). */
long flv_write_tag(uint8_t *out, size_t cap, uint8_t type, uint32_t ts, const uint8_t *data,
                   size_t len) WARN_UNUSED;

/* ---- reader ---- */

enum flv_reader_state {
    FLV_R_FILE_HEADER = 0, /* the 9 header bytes */
    FLV_R_HEADER_SKIP,     /* bytes between the header and its data offset */
    FLV_R_PREV0,           /* PreviousTagSize0 */
    FLV_R_TAG_HEADER,
    FLV_R_TAG_DATA, /* copying a body that arrived in pieces */
    FLV_R_PREV,     /* the PreviousTagSize after a copied body */
    FLV_R_FAILED,
};

struct flv_tag {
    uint8_t type; /* enum flv_tag_type */
    uint32_t ts;  /* ms, 32-bit */
    uint32_t size;
    const uint8_t *data; /* borrowed: from the caller's p or the reader, until the next parse */
    uint64_t offset;     /* file offset of the tag header */
};

struct flv_reader {
    unsigned magic;
#define FLV_READER_MAGIC 0x666c7672U
    enum flv_reader_state state;
    int error;
    uint32_t max_tag; /* body size cap */
    uint8_t flags;    /* from the file header */
    uint8_t hdr[FLV_TAG_HEADER_SIZE];
    uint32_t hdr_got;
    uint32_t skip; /* FLV_R_HEADER_SKIP: bytes left */
    uint8_t type;  /* the tag being read */
    uint32_t size, ts;
    uint64_t tag_off;
    uint32_t got; /* body bytes copied */
    uint8_t *buf; /* owned; capacity cap */
    uint32_t cap;
    uint64_t off;      /* bytes consumed */
    uint64_t good_off; /* end of the last whole tag (its PreviousTagSize included) */
    uint64_t tags;     /* whole tags delivered */
};

/*
 * with_header: the input starts with the FLV file header (a journal or a
 * file); false for a bare sequence of tags, each followed by its
 * PreviousTagSize. max_tag 0 means FLV_TAG_DATA_MAX.
 */
void flv_reader_init(struct flv_reader *r, bool with_header, uint32_t max_tag);
void flv_reader_fini(struct flv_reader *r);

/*
 * Consumes p[0..len) until one tag is whole (its PreviousTagSize checked).
 * Returns bytes consumed (> 0) with *tag filled; ERR_AGAIN when all of len
 * was consumed without finishing a tag; ERR_PROTO (bad signature, version,
 * tag type, stream id, PreviousTagSize) or ERR_LIMIT (tag over max_tag).
 * Errors are sticky and commit nothing of the failing header: r->good_off
 * stays at the end of the last whole tag, which is where a damaged journal
 * should be cut. A body that arrives whole in p is lent from p, no copy.
 */
long flv_reader_parse(struct flv_reader *r, const uint8_t *p, size_t len,
                      struct flv_tag *tag) WARN_UNUSED;

/*
 * The input ended. 0 when it ended on a tag boundary; ERR_AGAIN when it
 * ended inside a tag (a torn final tag: cut at r->good_off); the sticky
 * error when the reader had failed.
 */
int flv_reader_finish(const struct flv_reader *r) WARN_UNUSED;

void flv_reader_check(const struct flv_reader *r);

#endif
