/*
 * flv.c -- FLV tag headers, codec configuration records, writer, reader.
 *
 * The reader owns one body buffer, grown geometrically (bounded by
 * max_tag) and used only when a body arrives in pieces; bodies that arrive
 * whole are lent from the caller's bytes. The SPS is decoded by
 * shared/media/h264.c, the one H.264 parser, and the AudioSpecificConfig
 * is read through its bit reader (shared/media/bits.c). Not here: file
 * I/O (the journal module writes and fsyncs), libavformat.
 */
#include <stdint.h>
#include <string.h>

#include "flv.h"
#include "../media/bits.h"
#include "../media/h264.h"
#include "../err.h"
#include "../mem.h"
#include "../compat.h"

static uint32_t
flv_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t
flv_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | flv_be24(p + 1);
}

static void
flv_put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void
flv_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    flv_put24(p + 1, v);
}

/* SI24: a signed 24-bit big-endian integer. */
static int32_t
flv_si24(const uint8_t *p)
{
    uint32_t v = flv_be24(p);

    return (int32_t)(v ^ 0x800000U) - 0x800000;
}

/* ---- tag body headers ---- */

int
flv_audio_parse(const uint8_t *p, size_t len, struct flv_audio *a)
{
    memset(a, 0, sizeof(*a));
    if (len < 1)
        return ERR_PROTO;
    a->format = p[0] >> 4;
    a->hdr_len = 1;
    if (a->format == FLV_SOUND_EX_HEADER) {
        /* E-RTMP v2: SoundFormat 9, AudioPacketType in the low nibble, then a FourCC. */
        a->enhanced = true;
        a->packet_type = p[0] & 0x0f;
        if (a->packet_type == 7) /* ModEx: modifiers precede the real packet type */
            return 0;
        if (len < 5)
            return ERR_PROTO;
        a->fourcc = flv_be32(p + 1);
        a->hdr_len = 5;
        a->seq_header = a->packet_type == 0;
        return 0;
    }
    a->rate = (p[0] >> 2) & 3;
    a->bits = (p[0] & 2) ? 16 : 8;
    a->channels = (p[0] & 1) ? 2 : 1;
    if (a->format == FLV_SOUND_AAC) {
        /* SPEC: FLV 10.1 E.4.2.1 -- AACPacketType: 0 AudioSpecificConfig, 1 raw. */
        if (len < 2)
            return ERR_PROTO;
        a->packet_type = p[1];
        if (a->packet_type > 1)
            return ERR_PROTO;
        a->seq_header = a->packet_type == 0;
        a->hdr_len = 2;
    }
    return 0;
}

int
flv_video_parse(const uint8_t *p, size_t len, struct flv_video *v)
{
    memset(v, 0, sizeof(*v));
    if (len < 1)
        return ERR_PROTO;
    v->hdr_len = 1;
    if (p[0] & 0x80) {
        /* E-RTMP v1: IsExHeader, FrameType (3 bits), VideoPacketType (4 bits), FourCC. */
        v->enhanced = true;
        v->frame_type = (p[0] >> 4) & 7;
        v->packet_type = p[0] & 0x0f;
        v->keyframe = v->frame_type == FLV_FRAME_KEY;
        if (v->packet_type == FLV_EX_MOD_EX || v->packet_type == FLV_EX_MULTITRACK)
            return 0; /* reported only: their layout is not walked here */
        if (v->frame_type == FLV_FRAME_COMMAND && v->packet_type != FLV_EX_METADATA)
            return 0;
        if (len < 5)
            return ERR_PROTO;
        v->fourcc = flv_be32(p + 1);
        v->hdr_len = 5;
        v->seq_header = v->packet_type == FLV_EX_SEQUENCE_START;
        if (v->packet_type == FLV_EX_CODED_FRAMES &&
            (v->fourcc == FLV_FOURCC('a', 'v', 'c', '1') ||
             v->fourcc == FLV_FOURCC('h', 'v', 'c', '1'))) {
            if (len < 8)
                return ERR_PROTO;
            v->cts = flv_si24(p + 5);
            v->hdr_len = 8;
        }
        return 0;
    }
    v->frame_type = p[0] >> 4;
    v->codec_id = p[0] & 0x0f;
    v->keyframe = v->frame_type == FLV_FRAME_KEY;
    if (v->frame_type == 0 || v->frame_type > FLV_FRAME_COMMAND)
        return ERR_PROTO;
    if (v->codec_id == FLV_CODEC_AVC || v->codec_id == FLV_CODEC_HEVC_LEGACY) {
        /* SPEC: FLV 10.1 E.4.3.1 -- AVCPacketType, CompositionTime (SI24). */
        if (v->frame_type == FLV_FRAME_COMMAND)
            return 0;
        if (len < 5)
            return ERR_PROTO;
        v->packet_type = p[1];
        if (v->packet_type > 2)
            return ERR_PROTO;
        v->cts = flv_si24(p + 2);
        v->seq_header = v->packet_type == 0;
        v->hdr_len = 5;
    }
    return 0;
}

/* ---- codec configuration records ---- */

int
flv_h264_sps_parse(const uint8_t *p, size_t len, struct flv_h264_sps *s)
{
    struct h264_sps sps;

    memset(s, 0, sizeof(*s));
    if (h264_sps_parse(p, len, &sps) != 0)
        return ERR_PROTO;
    /* Wider or taller than FLV's onMetaData could describe: not a stream we take. */
    if (sps.width > 65535 || sps.height > 65535)
        return ERR_PROTO;
    s->profile_idc = sps.profile_idc;
    s->constraints = sps.constraints;
    s->level_idc = sps.level_idc;
    s->chroma_format_idc = sps.chroma_format_idc;
    s->bit_depth_luma = sps.bit_depth_luma;
    s->width = (uint32_t)sps.width;
    s->height = (uint32_t)sps.height;
    s->frame_mbs_only = sps.frame_mbs_only;
    return 0;
}

int
flv_avc_config_parse(const uint8_t *p, size_t len, struct flv_avc_config *c)
{
    size_t off = 6;
    uint32_t i, n, l;

    memset(c, 0, sizeof(*c));
    /* SPEC: ISO/IEC 14496-15 5.3.3.1.2 */
    if (len < 7 || p[0] != 1)
        return ERR_PROTO;
    c->profile = p[1];
    c->compat = p[2];
    c->level = p[3];
    c->nal_length_size = (uint8_t)((p[4] & 3) + 1);
    if (c->nal_length_size == 3)
        return ERR_PROTO;
    n = p[5] & 0x1f;
    if (n > FLV_AVC_MAX_PS)
        return ERR_PROTO;
    for (i = 0; i < n; i++) {
        if (len - off < 2)
            return ERR_PROTO;
        l = (uint32_t)p[off] << 8 | p[off + 1];
        off += 2;
        if (l == 0 || len - off < l)
            return ERR_PROTO;
        c->sps[i].off = (uint32_t)off;
        c->sps[i].len = l;
        off += l;
    }
    c->nsps = (uint8_t)n;
    if (len - off < 1)
        return ERR_PROTO;
    n = p[off++];
    if (n > FLV_AVC_MAX_PS)
        return ERR_PROTO;
    for (i = 0; i < n; i++) {
        if (len - off < 2)
            return ERR_PROTO;
        l = (uint32_t)p[off] << 8 | p[off + 1];
        off += 2;
        if (l == 0 || len - off < l)
            return ERR_PROTO;
        c->pps[i].off = (uint32_t)off;
        c->pps[i].len = l;
        off += l;
    }
    c->npps = (uint8_t)n;
    /* High-profile extension fields may follow; nothing here needs them. */
    if (c->nsps > 0 && flv_h264_sps_parse(p + c->sps[0].off, c->sps[0].len, &c->sps_info) == 0)
        c->has_sps_info = true;
    return 0;
}

static const uint32_t flv_aac_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                           22050, 16000, 12000, 11025, 8000,  7350};

static uint32_t
flv_aac_object_type(struct bits *b)
{
    uint32_t t = bits_u(b, 5);

    return t == 31 ? 32 + bits_u(b, 6) : t;
}

static uint32_t
flv_aac_rate(struct bits *b)
{
    uint32_t idx = bits_u(b, 4);

    if (idx == 15)
        return bits_u(b, 24);
    if (idx >= 13) {
        b->overrun = true; /* a reserved index: fails the config like a short one */
        return 0;
    }
    return flv_aac_rates[idx];
}

int
flv_aac_config_parse(const uint8_t *p, size_t len, struct flv_aac_config *c)
{
    struct bits b;
    uint32_t aot;

    memset(c, 0, sizeof(*c));
    if (len < 2)
        return ERR_PROTO;
    bits_init(&b, p, len, false); /* an ASC is not an RBSP */
    aot = flv_aac_object_type(&b);
    c->sample_rate = flv_aac_rate(&b);
    c->channel_config = (uint8_t)bits_u(&b, 4);
    /* SPEC: ISO/IEC 14496-3 1.6.2.1 -- explicit SBR/PS signalling. */
    if (aot == 5 || aot == 29) {
        c->sbr = true;
        c->ps = aot == 29;
        c->ext_sample_rate = flv_aac_rate(&b);
        aot = flv_aac_object_type(&b);
    }
    if (b.overrun || aot == 0 || aot > 95 || c->sample_rate == 0 || c->channel_config > 7)
        return ERR_PROTO;
    c->object_type = (uint8_t)aot;
    return 0;
}

/* ---- writer ---- */

size_t
flv_write_file_header(uint8_t out[FLV_FILE_HEADER_SIZE + FLV_PREV_SIZE], uint8_t flags)
{
    out[0] = 'F';
    out[1] = 'L';
    out[2] = 'V';
    out[3] = 1;
    out[4] = flags & (FLV_FLAG_AUDIO | FLV_FLAG_VIDEO);
    flv_put32(out + 5, FLV_FILE_HEADER_SIZE);
    flv_put32(out + 9, 0); /* PreviousTagSize0 */
    return FLV_FILE_HEADER_SIZE + FLV_PREV_SIZE;
}

int
flv_write_tag_header(uint8_t out[FLV_TAG_HEADER_SIZE], uint8_t type, uint32_t size, uint32_t ts)
{
    if ((type != FLV_TAG_AUDIO && type != FLV_TAG_VIDEO && type != FLV_TAG_SCRIPT) ||
        size > FLV_TAG_DATA_MAX)
        return ERR_INVAL;
    out[0] = type;
    flv_put24(out + 1, size);
    flv_put24(out + 4, ts & 0xffffff);
    out[7] = (uint8_t)(ts >> 24); /* TimestampExtended: the upper 8 bits */
    flv_put24(out + 8, 0);        /* StreamID, always 0 */
    return 0;
}

void
flv_write_tag_trailer(uint8_t out[FLV_PREV_SIZE], uint32_t size)
{
    flv_put32(out, FLV_TAG_HEADER_SIZE + size);
}

long
flv_write_tag(uint8_t *out, size_t cap, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
    int rc;

    if (len > FLV_TAG_DATA_MAX)
        return ERR_INVAL;
    if (cap < FLV_TAG_HEADER_SIZE + len + FLV_PREV_SIZE)
        return ERR_LIMIT;
    rc = flv_write_tag_header(out, type, (uint32_t)len, ts);
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy(out + FLV_TAG_HEADER_SIZE, data, len);
    flv_write_tag_trailer(out + FLV_TAG_HEADER_SIZE + len, (uint32_t)len);
    return (long)(FLV_TAG_HEADER_SIZE + len + FLV_PREV_SIZE);
}

/* ---- reader ---- */

#define FLV_READER_BUF_MIN 65536
#define FLV_MAX_HEADER_SKIP 4096

void
flv_reader_init(struct flv_reader *r, bool with_header, uint32_t max_tag)
{
    memset(r, 0, sizeof(*r));
    r->magic = FLV_READER_MAGIC;
    r->state = with_header ? FLV_R_FILE_HEADER : FLV_R_TAG_HEADER;
    r->max_tag = (max_tag == 0 || max_tag > FLV_TAG_DATA_MAX) ? FLV_TAG_DATA_MAX : max_tag;
}

void
flv_reader_fini(struct flv_reader *r)
{
    CHECK_OBJ_NOTNULL(r, FLV_READER_MAGIC);
    xfree(r->buf);
    r->buf = NULL;
    r->magic = 0;
}

static long
flv_reader_fail(struct flv_reader *r, int rc)
{
    r->state = FLV_R_FAILED;
    r->error = rc;
    return rc;
}

/* Collects up to want bytes into r->hdr; true once it holds them. */
static bool
flv_reader_collect(struct flv_reader *r, const uint8_t *p, size_t len, size_t *off, uint32_t want)
{
    while (r->hdr_got < want && *off < len)
        r->hdr[r->hdr_got++] = p[(*off)++];
    return r->hdr_got == want;
}

static void
flv_reader_deliver(struct flv_reader *r, struct flv_tag *tag, const uint8_t *data)
{
    tag->type = r->type;
    tag->ts = r->ts;
    tag->size = r->size;
    tag->data = data;
    tag->offset = r->tag_off;
    r->tags++;
    r->good_off = r->off;
    r->state = FLV_R_TAG_HEADER;
    r->hdr_got = 0;
    r->got = 0;
}

/* A complete tag header in r->hdr: validate before anything changes. */
static int
flv_reader_tag_header(struct flv_reader *r)
{
    const uint8_t *h = r->hdr;
    uint8_t type = h[0];

    /* SPEC: FLV 10.1 E.4.1 -- 2 reserved bits, Filter (encrypted), TagType; StreamID 0. */
    if (type != FLV_TAG_AUDIO && type != FLV_TAG_VIDEO && type != FLV_TAG_SCRIPT)
        return ERR_PROTO;
    if (flv_be24(h + 8) != 0)
        return ERR_PROTO;
    if (flv_be24(h + 1) > r->max_tag)
        return ERR_LIMIT;
    r->type = type;
    r->size = flv_be24(h + 1);
    r->ts = flv_be24(h + 4) | (uint32_t)h[7] << 24;
    return 0;
}

long
flv_reader_parse(struct flv_reader *r, const uint8_t *p, size_t len, struct flv_tag *tag)
{
    size_t off = 0;
    uint32_t n;
    int rc;

    CHECK_OBJ_NOTNULL(r, FLV_READER_MAGIC);
    if (r->state == FLV_R_FAILED)
        return r->error;
    while (off < len) {
        switch (r->state) {
        case FLV_R_FILE_HEADER:
            if (!flv_reader_collect(r, p, len, &off, FLV_FILE_HEADER_SIZE))
                break;
            /* SPEC: FLV 10.1 E.2 -- "FLV", version 1, DataOffset >= 9. */
            if (memcmp(r->hdr, "FLV", 3) != 0 || r->hdr[3] != 1 ||
                flv_be32(r->hdr + 5) < FLV_FILE_HEADER_SIZE ||
                flv_be32(r->hdr + 5) > FLV_FILE_HEADER_SIZE + FLV_MAX_HEADER_SKIP) {
                r->hdr_got = 0;
                return flv_reader_fail(r, ERR_PROTO);
            }
            r->flags = r->hdr[4];
            r->skip = flv_be32(r->hdr + 5) - FLV_FILE_HEADER_SIZE;
            r->hdr_got = 0;
            r->state = r->skip > 0 ? FLV_R_HEADER_SKIP : FLV_R_PREV0;
            r->off += FLV_FILE_HEADER_SIZE;
            break;
        case FLV_R_HEADER_SKIP:
            n = r->skip;
            if (n > len - off)
                n = (uint32_t)(len - off);
            r->skip -= n;
            off += n;
            r->off += n;
            if (r->skip == 0)
                r->state = FLV_R_PREV0;
            break;
        case FLV_R_PREV0:
            if (!flv_reader_collect(r, p, len, &off, FLV_PREV_SIZE))
                break;
            if (flv_be32(r->hdr) != 0) {
                r->hdr_got = 0;
                return flv_reader_fail(r, ERR_PROTO);
            }
            r->hdr_got = 0;
            r->off += FLV_PREV_SIZE;
            r->good_off = r->off;
            r->state = FLV_R_TAG_HEADER;
            break;
        case FLV_R_TAG_HEADER:
            if (!flv_reader_collect(r, p, len, &off, FLV_TAG_HEADER_SIZE))
                break;
            rc = flv_reader_tag_header(r);
            if (rc != 0) {
                r->hdr_got = 0;
                return flv_reader_fail(r, rc);
            }
            r->tag_off = r->off;
            r->off += FLV_TAG_HEADER_SIZE;
            r->hdr_got = 0;
            r->got = 0;
            /* Body and trailer all here: lend them from p. */
            if (len - off >= (size_t)r->size + FLV_PREV_SIZE) {
                if (flv_be32(p + off + r->size) != FLV_TAG_HEADER_SIZE + r->size)
                    return flv_reader_fail(r, ERR_PROTO);
                r->off += r->size + FLV_PREV_SIZE;
                flv_reader_deliver(r, tag, p + off);
                return (long)(off + r->size + FLV_PREV_SIZE);
            }
            if (r->size > r->cap) {
                uint64_t cap = (uint64_t)r->cap * 2;
                if (cap < FLV_READER_BUF_MIN)
                    cap = FLV_READER_BUF_MIN;
                if (cap < r->size)
                    cap = r->size;
                if (cap > r->max_tag)
                    cap = r->max_tag;
                xfree(r->buf);
                r->buf = xmalloc((size_t)cap);
                r->cap = (uint32_t)cap;
            }
            r->state = r->size > 0 ? FLV_R_TAG_DATA : FLV_R_PREV;
            break;
        case FLV_R_TAG_DATA:
            n = r->size - r->got;
            if (n > len - off)
                n = (uint32_t)(len - off);
            memcpy(r->buf + r->got, p + off, n);
            r->got += n;
            off += n;
            r->off += n;
            if (r->got == r->size)
                r->state = FLV_R_PREV;
            break;
        case FLV_R_PREV:
            if (!flv_reader_collect(r, p, len, &off, FLV_PREV_SIZE))
                break;
            if (flv_be32(r->hdr) != FLV_TAG_HEADER_SIZE + r->size) {
                r->hdr_got = 0;
                return flv_reader_fail(r, ERR_PROTO);
            }
            r->off += FLV_PREV_SIZE;
            flv_reader_deliver(r, tag, r->size > 0 ? r->buf : p);
            return (long)off;
        default:
            assert(0);
        }
    }
    return ERR_AGAIN;
}

int
flv_reader_finish(const struct flv_reader *r)
{
    CHECK_OBJ_NOTNULL(r, FLV_READER_MAGIC);
    if (r->state == FLV_R_FAILED)
        return r->error;
    if (r->state == FLV_R_TAG_HEADER && r->hdr_got == 0 && r->good_off == r->off)
        return 0;
    return ERR_AGAIN;
}

void
flv_reader_check(const struct flv_reader *r)
{
    CHECK_OBJ_NOTNULL(r, FLV_READER_MAGIC);
    assert(r->max_tag <= FLV_TAG_DATA_MAX);
    assert(r->good_off <= r->off);
    assert((r->buf == NULL) == (r->cap == 0));
    assert(r->cap <= r->max_tag);
    switch (r->state) {
    case FLV_R_FILE_HEADER:
        assert(r->hdr_got < FLV_FILE_HEADER_SIZE);
        assert(r->off == 0);
        break;
    case FLV_R_HEADER_SKIP:
        assert(r->skip > 0 && r->skip <= FLV_MAX_HEADER_SKIP);
        assert(r->hdr_got == 0);
        break;
    case FLV_R_PREV0:
        assert(r->hdr_got < FLV_PREV_SIZE);
        break;
    case FLV_R_TAG_HEADER:
        assert(r->hdr_got < FLV_TAG_HEADER_SIZE);
        assert(r->good_off == r->off);
        break;
    case FLV_R_TAG_DATA:
        assert(r->got < r->size);
        assert(r->size <= r->cap && r->size <= r->max_tag);
        assert(r->off == r->tag_off + FLV_TAG_HEADER_SIZE + r->got);
        break;
    case FLV_R_PREV:
        assert(r->got == r->size);
        assert(r->hdr_got < FLV_PREV_SIZE);
        assert(r->size == 0 || r->size <= r->cap);
        break;
    case FLV_R_FAILED:
        assert(r->error < 0);
        break;
    default:
        assert(0);
    }
}
